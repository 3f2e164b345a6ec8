// The part of the CUDA driver API that JCudaDriverApi calls, over host memory: a device pointer is the
// address of a host allocation. Launches and copies run when they are queued, one at a time under one lock,
// so the single stream's order holds. build.sh links this with blocks.cpp, tensor_cores.cpp and the kernels
// into a libcuda.so.1, which JCuda's native library loads when LD_LIBRARY_PATH names its folder.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernel_registry.h"
#include "launch.h"

namespace ladon_emu {

namespace {

std::map<std::string, KernelInvoker>& registry() {
    static std::map<std::string, KernelInvoker> kernels;
    return kernels;
}

}  // namespace

KernelRegistration::KernelRegistration(const char* name, KernelInvoker invoker) { registry()[name] = invoker; }

}  // namespace ladon_emu

using namespace ladon_emu;

namespace {

enum : int {
    SUCCESS = 0,
    ERROR_INVALID_VALUE = 1,
    ERROR_OUT_OF_MEMORY = 2,
    ERROR_INVALID_DEVICE = 101,
    ERROR_INVALID_IMAGE = 200,
    ERROR_NOT_FOUND = 500,
    ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    ERROR_LAUNCH_FAILED = 719,
    ERROR_NOT_SUPPORTED = 801,
};

constexpr int FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr size_t STATIC_SHARED_LIMIT = 48 * 1024;
constexpr size_t OPT_IN_SHARED_LIMIT = 227 * 1024;  // an H100's per-block maximum

struct Function {
    std::string name;
    KernelInvoker invoker;
    int max_threads;
    size_t shared_limit = STATIC_SHARED_LIMIT;
    unsigned long long launches = 0;
};

struct Module {
    std::map<std::string, int> entries;  // kernel name -> .maxntid (1024 when the PTX sets none)
    std::map<std::string, Function*> functions;
};

std::mutex driver_lock;
std::map<uint64_t, size_t> allocations;
size_t allocated_bytes = 0;
int context_token, stream_token;

size_t device_bytes() {
    const char* mib = getenv("LADON_EMULATOR_MEMORY_MIB");
    return (mib != nullptr ? strtoull(mib, nullptr, 10) : 4096ull) << 20;
}

// A failed launch is reported by the next call that synchronises, copies, sets or frees memory, or launches,
// and only once (the real driver would keep failing: its context is lost; here the rest of a test run can
// still say what else is wrong). stderr has the details. Called with driver_lock held.
int sticky() { return take_launch_error().empty() ? SUCCESS : ERROR_LAUNCH_FAILED; }

// Fresh memory holds garbage on a GPU; here it holds NaN (every float and double of all-one bytes) and -1,
// so a kernel that reads what nobody wrote gives a result the tests notice.
constexpr unsigned char FRESH_FILL = 0xff;
// Each allocation has GUARD_BYTES of GUARD_FILL before it and after its exact end; a launch that changes
// them wrote outside its operands.
constexpr size_t GUARD_BYTES = 256;
constexpr unsigned char GUARD_FILL = 0xfd;

bool guard_intact(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != GUARD_FILL) return false;
    }
    return true;
}

// The allocations that the pointer parameters of the launch being made point into.
std::vector<uint64_t> launch_allocations;

// Checks the guards of the launch's allocations after a launch of `kernel`, restoring any it overwrote.
void check_guards(const char* kernel) {
    for (uint64_t address : launch_allocations) {
        size_t bytes = allocations[address];
        unsigned char* p = reinterpret_cast<unsigned char*>(address);
        size_t after = ((bytes + 255) & ~(size_t)255) - bytes + GUARD_BYTES;
        bool before_ok = guard_intact(p - GUARD_BYTES, GUARD_BYTES), after_ok = guard_intact(p + bytes, after);
        if (!before_ok || !after_ok) {
            fail_launch("%s wrote %s the %zu-byte allocation at 0x%llx", kernel,
                        before_ok ? "past the end of" : "before the start of", bytes, (unsigned long long)address);
            memset(p - GUARD_BYTES, GUARD_FILL, GUARD_BYTES);
            memset(p + bytes, GUARD_FILL, after);
        }
    }
}

bool is_device_range(uint64_t address, size_t bytes) {
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + it->second;
}

// The allocation holding `address`, or 0.
uint64_t allocation_holding(uint64_t address) {
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return 0;
    --it;
    return address < it->first + it->second ? it->first : 0;
}

int check_range(const char* call, uint64_t address, size_t bytes) {
    if (bytes == 0 || is_device_range(address, bytes)) return SUCCESS;
    fprintf(stderr, "ladon cuda emulator: %s of %zu bytes at 0x%llx is outside every allocation\n", call, bytes,
            (unsigned long long)address);
    return ERROR_INVALID_VALUE;
}

}  // namespace

void ladon_emu::note_pointer_parameter(const void* p) {
    uint64_t holder = allocation_holding(reinterpret_cast<uint64_t>(p));
    if (holder != 0) launch_allocations.push_back(holder);
}

extern "C" {

int cuInit(unsigned) { return SUCCESS; }

int cuDriverGetVersion(int* version) {
    *version = 12060;
    return SUCCESS;
}

int cuDeviceGetCount(int* count) {
    *count = 1;
    return SUCCESS;
}

int cuDeviceGet(int* device, int ordinal) {
    if (ordinal != 0) return ERROR_INVALID_DEVICE;
    *device = 0;
    return SUCCESS;
}

// The attributes the backend asks for: an H100's shared memory, but 4 multiprocessors, so that the tests'
// small shapes reach the kernels the backend picks for problems that fill a large GPU.
int cuDeviceGetAttribute(int* value, int attribute, int) {
    constexpr int MULTIPROCESSOR_COUNT = 16, MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    switch (attribute) {
        case MULTIPROCESSOR_COUNT: *value = 4; return SUCCESS;
        case MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = (int)OPT_IN_SHARED_LIMIT; return SUCCESS;
        default: return ERROR_NOT_SUPPORTED;
    }
}

int cuDeviceGetName(char* name, int length, int) {
    snprintf(name, (size_t)length, "Ladon CUDA emulator (CPU)");
    return SUCCESS;
}

int cuDevicePrimaryCtxRetain(void** context, int) {
    *context = &context_token;
    return SUCCESS;
}

int cuCtxSetCurrent(void*) { return SUCCESS; }

int cuCtxGetCurrent(void** context) {
    *context = &context_token;
    return SUCCESS;
}

int cuStreamCreate(void** stream, unsigned) {
    *stream = &stream_token;
    return SUCCESS;
}

int cuStreamSynchronize(void*) {
    std::lock_guard<std::mutex> hold(driver_lock);
    return sticky();
}

int cuCtxSynchronize() {
    std::lock_guard<std::mutex> hold(driver_lock);
    return sticky();
}

int cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> hold(driver_lock);
    *total = device_bytes();
    *free = *total - allocated_bytes;
    return SUCCESS;
}

int cuMemAlloc_v2(uint64_t* address, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (bytes == 0) return ERROR_INVALID_VALUE;
    if (bytes > device_bytes() - allocated_bytes) return ERROR_OUT_OF_MEMORY;
    // 256-byte aligned, as device allocations are, with a guard on each side (from the exact end).
    size_t rounded = (bytes + 255) & ~(size_t)255;
    unsigned char* base = static_cast<unsigned char*>(aligned_alloc(256, GUARD_BYTES + rounded + GUARD_BYTES));
    if (base == nullptr) return ERROR_OUT_OF_MEMORY;
    unsigned char* p = base + GUARD_BYTES;
    memset(base, GUARD_FILL, GUARD_BYTES);
    memset(p, FRESH_FILL, bytes);
    memset(p + bytes, GUARD_FILL, rounded - bytes + GUARD_BYTES);
    *address = reinterpret_cast<uint64_t>(p);
    allocations[*address] = bytes;
    allocated_bytes += bytes;
    return SUCCESS;
}

int cuMemFree_v2(uint64_t address) {
    std::lock_guard<std::mutex> hold(driver_lock);
    auto it = allocations.find(address);
    if (it == allocations.end()) return ERROR_INVALID_VALUE;
    allocated_bytes -= it->second;
    allocations.erase(it);
    free(reinterpret_cast<unsigned char*>(address) - GUARD_BYTES);
    return sticky();
}

int cuMemsetD8Async(uint64_t address, unsigned char value, size_t bytes, void*) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemsetD8Async", address, bytes)) return r;
    memset(reinterpret_cast<void*>(address), value, bytes);
    return sticky();
}

int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void*) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyDtoDAsync (destination)", dst, bytes)) return r;
    if (int r = check_range("cuMemcpyDtoDAsync (source)", src, bytes)) return r;
    if (dst < src + bytes && src < dst + bytes) {
        // The driver does not promise a result for overlapping ranges.
        fprintf(stderr, "ladon cuda emulator: cuMemcpyDtoDAsync of %zu bytes between overlapping ranges\n", bytes);
        return ERROR_INVALID_VALUE;
    }
    memcpy(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes);
    return sticky();
}

int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyHtoD", dst, bytes)) return r;
    memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return sticky();
}

int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyDtoH", src, bytes)) return r;
    memcpy(dst, reinterpret_cast<void*>(src), bytes);
    return sticky();
}

// Records the module's kernels and their .maxntid from the PTX text.
int cuModuleLoadData(void** module, const void* image) {
    std::lock_guard<std::mutex> hold(driver_lock);
    const char* ptx = static_cast<const char*>(image);
    Module* m = new Module();
    const char* entry = "\n.visible .entry ";
    for (const char* p = strstr(ptx, entry); p != nullptr; p = strstr(p + 1, entry)) {
        const char* name = p + strlen(entry);
        const char* end = strchr(name, '(');
        if (end == nullptr) return ERROR_INVALID_IMAGE;
        std::string kernel(name, end);
        int max_threads = 1024;
        const char* next = strstr(end, entry);
        const char* bound = strstr(end, ".maxntid ");
        if (bound != nullptr && (next == nullptr || bound < next)) max_threads = atoi(bound + strlen(".maxntid "));
        m->entries[kernel] = max_threads;
    }
    if (m->entries.empty()) {
        delete m;
        return ERROR_INVALID_IMAGE;
    }
    *module = m;
    return SUCCESS;
}

int cuModuleGetFunction(void** function, void* module, const char* name) {
    std::lock_guard<std::mutex> hold(driver_lock);
    Module* m = static_cast<Module*>(module);
    auto entry = m->entries.find(name);
    if (entry == m->entries.end()) return ERROR_NOT_FOUND;
    auto kernel = registry().find(name);
    if (kernel == registry().end()) {
        fprintf(stderr, "ladon cuda emulator: the PTX has kernel %s but the emulator was not built with it "
                        "(run cuda-backend/emulator/build.sh again)\n", name);
        return ERROR_NOT_FOUND;
    }
    Function*& f = m->functions[name];
    if (f == nullptr) f = new Function{name, kernel->second, entry->second};
    *function = f;
    return SUCCESS;
}

int cuFuncSetAttribute(void* function, int attribute, int value) {
    std::lock_guard<std::mutex> hold(driver_lock);
    Function* f = static_cast<Function*>(function);
    if (attribute != FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) return ERROR_NOT_SUPPORTED;
    if (value < 0 || (size_t)value > OPT_IN_SHARED_LIMIT) return ERROR_INVALID_VALUE;
    f->shared_limit = (size_t)value > STATIC_SHARED_LIMIT ? (size_t)value : STATIC_SHARED_LIMIT;
    return SUCCESS;
}

int cuLaunchKernel(void* function, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY,
                   unsigned blockZ, unsigned sharedBytes, void*, void** params, void** extra) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = sticky()) return r;
    Function* f = static_cast<Function*>(function);
    if (extra != nullptr) return ERROR_NOT_SUPPORTED;  // params may be null for a kernel without any
    if (gridX == 0 || gridY == 0 || gridZ == 0 || gridX > 0x7fffffffu || gridY > 65535 || gridZ > 65535) {
        fprintf(stderr, "ladon cuda emulator: %s launched with grid %u x %u x %u\n", f->name.c_str(), gridX, gridY,
                gridZ);
        return ERROR_INVALID_VALUE;
    }
    if (blockY != 1 || blockZ != 1 || blockX == 0 || blockX > (unsigned)f->max_threads) {
        fprintf(stderr, "ladon cuda emulator: %s launched with block %u x %u x %u (at most %d threads)\n",
                f->name.c_str(), blockX, blockY, blockZ, f->max_threads);
        return blockX > (unsigned)f->max_threads ? ERROR_LAUNCH_OUT_OF_RESOURCES : ERROR_INVALID_VALUE;
    }
    if (sharedBytes > f->shared_limit) {
        fprintf(stderr, "ladon cuda emulator: %s asks for %u bytes of dynamic shared memory, above its limit %zu\n",
                f->name.c_str(), sharedBytes, f->shared_limit);
        return ERROR_INVALID_VALUE;
    }
    current_launch = Launch{f->name.c_str(), uint3{gridX, gridY, gridZ}, uint3{blockX, 1, 1}, sharedBytes,
                            f->launches++};
    launch_allocations.clear();
    f->invoker(params);
    check_guards(f->name.c_str());
    return SUCCESS;
}

int cuGetErrorName(int error, const char** name) {
    *name = error == SUCCESS ? "CUDA_SUCCESS" : "CUDA_ERROR (emulated)";
    return SUCCESS;
}

int cuGetErrorString(int error, const char** text) { return cuGetErrorName(error, text); }

}  // extern "C"
