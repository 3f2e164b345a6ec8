// The CUDA C dialect of src/main/cuda, compiled for the CPU by g++ (build.sh force-includes this header
// before each kernel file).
//
// Each thread of a block runs as a fiber; __syncthreads and the warp shuffles are points where a fiber
// waits until its block or warp has arrived (blocks.cpp schedules them). Blocks run one after another and
// launches one at a time, so shared memory is a `static` variable, and the atomics need no locking: a
// fiber is never interrupted between two of its own instructions.
//
// What this checks: the kernels' arithmetic and indexing, the launch geometry the host chooses, where the
// pointer parameters point (not their sizes: an int passed for a 64-bit parameter goes unnoticed), barrier
// placement (threads run in varying orders between barriers, so a read that lacks one sees an old value)
// and the tensor-core fragments (tensor_cores.cpp). What it cannot check: speed, memory ordering between
// blocks, and rounding that differs on the GPU (fused multiply-adds, fast intrinsics).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ladon_emu {

struct uint3 {
    unsigned x, y, z;
};

// The running fiber's coordinates; blocks.cpp sets them before it resumes a fiber. Plain globals, not
// thread_local: the driver runs one launch at a time (and thread_local costs a call per access in a
// shared library).
extern uint3 thread_index;
extern uint3 block_index;
extern uint3 block_dim;
extern uint3 grid_dim;

void sync_block();
void sync_warp();
// The running warp's exchange area for its next exchange: 64 bytes per lane. Two areas take turns, so a
// lane that has passed the exchange's barrier may start the next exchange while others still read this one.
unsigned char* warp_exchange();
unsigned char* dynamic_shared();

// Counts the blocks run; a __shared__ variable is filled when it is first reached in a new block.
extern unsigned long long blocks_started;

class SharedVariable {
  public:
    SharedVariable(void* address, size_t bytes) : address_(address), bytes_(bytes) {}

    void fill_once_per_block() {
        if (filled_in_ != blocks_started) {
            std::memset(address_, 0xff, bytes_);
            filled_in_ = blocks_started;
        }
    }

  private:
    void* address_;
    size_t bytes_;
    unsigned long long filled_in_ = 0;
};

// False (after failing the launch) unless the shuffle names the whole warp and `source` is one of its lanes.
bool check_shuffle(unsigned mask, int source);

template <typename T> T shuffle_from(unsigned mask, T v, int source) {
    static_assert(sizeof(T) <= 64, "shuffled values fit a lane's exchange slot");
    unsigned char* slots = warp_exchange();
    std::memcpy(slots + 64 * (thread_index.x & 31), &v, sizeof(T));
    sync_warp();
    if (!check_shuffle(mask, source)) return v;
    T r;
    std::memcpy(&r, slots + 64 * source, sizeof(T));
    return r;
}

template <typename T> T bits_as(const void* p) {
    T r;
    std::memcpy(&r, p, sizeof(T));
    return r;
}

// cp.async: the running thread's copy of `bytes` bytes (16 at most) from global memory, of which the
// first `source_bytes` are read and the rest are zeros. The copy is held back until the thread waits for
// its group, so a kernel that reads the destination before cp.async.wait_group (and the barrier after it)
// reads what was there before, as it might on a GPU.
void async_copy(void* destination, const void* source, int bytes, int source_bytes);
// cp.async.commit_group: the thread's copies since its last commit form a group.
void async_commit();
// cp.async.wait_group: completes the thread's committed groups except the newest `pending` ones.
void async_wait(int pending);

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
uint32_t tf32_round(float f);

}  // namespace ladon_emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
// build.sh puts this after each __shared__ declaration: the first thread of a block to reach it fills the
// variable with NaN bytes, the garbage a GPU's shared memory starts with (otherwise it would hold what the
// previous block left, which can hide a missing initialisation or barrier).
#define LADON_EMULATED_SHARED(name) \
    static ::ladon_emu::SharedVariable name##_emulated(&(name), sizeof(name)); \
    name##_emulated.fill_once_per_block()
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict

// CUDA's vector types, as far as the kernels use them, aligned to their size, so that a misaligned vector
// access is as wrong here as on the GPU (the kernels check alignment before they use them).
struct __attribute__((aligned(8))) uint2 {
    unsigned x, y;
};
struct __attribute__((aligned(8))) float2 {
    float x, y;
};
struct __attribute__((aligned(16))) float4 {
    float x, y, z, w;
};
struct __attribute__((aligned(16))) double2 {
    double x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }

#define threadIdx (::ladon_emu::thread_index)
#define blockIdx (::ladon_emu::block_index)
#define blockDim (::ladon_emu::block_dim)
#define gridDim (::ladon_emu::grid_dim)

// build.sh rewrites `extern __shared__ ... name[];` into a pointer initialised from this.
#define LADON_EMULATED_DYNAMIC_SHARED() (::ladon_emu::dynamic_shared())

inline void __syncthreads() { ::ladon_emu::sync_block(); }

template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    return ::ladon_emu::shuffle_from(mask, v, (int)(threadIdx.x & 31) ^ lane_mask);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta) {
    int lane = (int)(threadIdx.x & 31);
    return ::ladon_emu::shuffle_from(mask, v, lane >= (int)delta ? lane - (int)delta : lane);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta) {
    int lane = (int)(threadIdx.x & 31);
    return ::ladon_emu::shuffle_from(mask, v, lane + (int)delta < 32 ? lane + (int)delta : lane);
}
template <typename T> inline T __shfl_sync(unsigned mask, T v, int source) {
    return ::ladon_emu::shuffle_from(mask, v, source & 31);
}

// ---- atomics: a fiber runs uninterrupted, so a plain read-modify-write is atomic ------------------------

template <typename T> inline T atomicAdd(T* p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
inline unsigned atomicOr(unsigned* p, unsigned v) {
    unsigned old = *p;
    *p = old | v;
    return old;
}
template <typename T> inline T atomicCAS(T* p, T expected, T desired) {
    T old = *p;
    if (old == expected) *p = desired;
    return old;
}

// ---- CUDA's device math that the host library lacks or spells differently ------------------------------

inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int min(int a, int b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }

inline float __int_as_float(int v) { return ::ladon_emu::bits_as<float>(&v); }
inline int __float_as_int(float v) { return ::ladon_emu::bits_as<int>(&v); }
inline unsigned __float_as_uint(float v) { return ::ladon_emu::bits_as<unsigned>(&v); }
inline float __uint_as_float(unsigned v) { return ::ladon_emu::bits_as<float>(&v); }
inline double __longlong_as_double(long long v) { return ::ladon_emu::bits_as<double>(&v); }
inline long long __double_as_longlong(double v) { return ::ladon_emu::bits_as<long long>(&v); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
// The _rn operations exist to keep nvcc from fusing them into FMAs; build.sh compiles with
// -ffp-contract=off, so the plain operators round the same way.
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;
