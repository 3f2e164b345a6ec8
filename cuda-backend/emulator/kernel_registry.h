// How build.sh registers each kernel of a PTX module with the emulator's driver: a KernelInvoker unpacks
// cuLaunchKernel's parameter array into the kernel's C++ parameter types and runs the kernel over the grid.
#pragma once
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ladon_emu {

typedef void (*KernelInvoker)(void** params);

struct KernelRegistration {
    KernelRegistration(const char* name, KernelInvoker invoker);
};

// Runs body(context) once per thread of every block of the launch being made.
void run_grid(void (*body)(void*), void* context);

// Records a pointer parameter of the launch being made: after the launch, the driver checks the guards of
// the allocations its pointer parameters point into (checking every live allocation after every launch
// would cost more than most kernels).
void note_pointer_parameter(const void* p);

template <typename T> void note_if_pointer(const T& value) {
    if constexpr (std::is_pointer_v<T>) note_pointer_parameter(static_cast<const void*>(value));
}

template <typename... A, std::size_t... I>
void invoke_with(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    // Each parameter is copied out of the array once, as the driver does at launch.
    struct Call {
        void (*kernel)(A...);
        std::tuple<std::remove_cv_t<A>...> args;
    } call{kernel, {*static_cast<std::remove_cv_t<A>*>(params[I])...}};
    (note_if_pointer(std::get<I>(call.args)), ...);
    run_grid([](void* c) {
        Call* call = static_cast<Call*>(c);
        call->kernel(std::get<I>(call->args)...);
    }, &call);
}

template <typename... A> void invoke(void (*kernel)(A...), void** params) {
    invoke_with(kernel, params, std::index_sequence_for<A...>{});
}

template <auto Kernel> void invoker(void** params) { invoke(Kernel, params); }

}  // namespace ladon_emu
