// Checks of the emulator itself, through the same driver calls JCuda makes: shuffles, barriers, the checks
// that must fail a launch, and both tensor-core instructions against plain products. build.sh compiles this
// with blocks.cpp, tensor_cores.cpp and driver.cpp into a program and runs it; a failed check fails the build.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_emulator.h"
#include "kernel_registry.h"

extern "C" {
int cuModuleLoadData(void** module, const void* image);
int cuModuleGetFunction(void** function, void* module, const char* name);
int cuLaunchKernel(void* function, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY,
                   unsigned blockZ, unsigned sharedBytes, void* stream, void** params, void** extra);
int cuStreamSynchronize(void* stream);
int cuMemAlloc_v2(uint64_t* address, size_t bytes);
int cuMemFree_v2(uint64_t address);
int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t bytes);
int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t bytes);
}

// ---- kernels --------------------------------------------------------------------------------------------

extern "C" void shuffles(int* out) {
    int lane = threadIdx.x & 31;
    int base = (threadIdx.x >> 5) * 128;
    out[base + lane] = __shfl_xor_sync(0xffffffffu, lane * 10, 5);
    out[base + 32 + lane] = __shfl_up_sync(0xffffffffu, lane * 10, 3);
    out[base + 64 + lane] = __shfl_down_sync(0xffffffffu, lane * 10, 3);
    out[base + 96 + lane] = __shfl_sync(0xffffffffu, lane * 10, 7);
}

// Each thread stores salt + its index, then reads the value of thread (index + step) % 64;
// with_barrier = 0 leaves out the barrier between. The salt differs per launch.
extern "C" void neighbours(int* out, int step, int salt, int with_barrier) {
    __shared__ int values[64];
    LADON_EMULATED_SHARED(values);
    values[threadIdx.x] = salt + (int)threadIdx.x;
    if (with_barrier) __syncthreads();
    out[threadIdx.x] = values[(threadIdx.x + step) % 64];
}

extern "C" void writes_past_end(float* out, int n) {
    if (threadIdx.x == 0) out[n + 10] = 1.0f;  // 40 bytes past the end, inside the guard
}

// Half of a warp at the block barrier, the other half at a shuffle: neither can open.
extern "C" void split_warp() {
    if ((threadIdx.x & 31) < 16) __syncthreads();
    else (void)__shfl_xor_sync(0xffffffffu, 1, 1);
}

extern "C" void shuffle_after_return(int* out) {
    if ((threadIdx.x & 31) >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}

// One m16n8k8 TF32 product by one warp: A [16, 8] row-major, B [8, 8] row-major, D [16, 8]. Each lane loads
// its fragments as the PTX ISA lays them out: a(row g / g + 8, col t / t + 4), b(row t / t + 4, col g),
// d(row g / g + 8, col 2t, 2t + 1).
extern "C" void mma_tf32(const float* A, const float* B, float* D) {
    int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t a[4], b[2];
    float d[4] = {0, 0, 0, 0};
    float av[4] = {A[g * 8 + t], A[(g + 8) * 8 + t], A[g * 8 + t + 4], A[(g + 8) * 8 + t + 4]};
    float bv[2] = {B[t * 8 + g], B[(t + 4) * 8 + g]};
    for (int i = 0; i < 4; i++) std::memcpy(&a[i], &av[i], 4);
    for (int i = 0; i < 2; i++) std::memcpy(&b[i], &bv[i], 4);
    ladon_emu::mma_m16n8k8_tf32(d, a, b);
    D[g * 8 + 2 * t] = d[0];
    D[g * 8 + 2 * t + 1] = d[1];
    D[(g + 8) * 8 + 2 * t] = d[2];
    D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// One m16n8k16 BF16 product by one warp: A [16, 16] and B [16, 8] row-major (values exact in bf16), D [16, 8].
// Each register holds two bf16, the lower k in the low half: a(row g / g + 8, cols 2t, 2t + 1 / + 8),
// b(rows 2t, 2t + 1 / + 8, col g).
static uint32_t bf16_pair(float low, float high) {
    uint32_t l, h;
    std::memcpy(&l, &low, 4);
    std::memcpy(&h, &high, 4);
    return (l >> 16) | (h & 0xffff0000u);
}

extern "C" void mma_bf16(const float* A, const float* B, float* D) {
    int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t a[4], b[2];
    float d[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        int row = g + 8 * (i % 2), col = 2 * t + 8 * (i / 2);
        a[i] = bf16_pair(A[row * 16 + col], A[row * 16 + col + 1]);
    }
    for (int i = 0; i < 2; i++) {
        int k = 2 * t + 8 * i;
        b[i] = bf16_pair(B[k * 8 + g], B[(k + 1) * 8 + g]);
    }
    ladon_emu::mma_m16n8k16_bf16(d, a, b);
    D[g * 8 + 2 * t] = d[0];
    D[g * 8 + 2 * t + 1] = d[1];
    D[(g + 8) * 8 + 2 * t] = d[2];
    D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// cp.async: each thread copies 16 bytes (reading `source_bytes` of them) into shared memory in two
// committed groups, and records what it sees there before any wait, after waiting for all but the newest
// group, and after waiting for all. out: 3 x 8 floats per thread.
extern "C" void async_copies(const float* in, float* out, int source_bytes, int wait) {
    __shared__ float staged[64][8];
    LADON_EMULATED_SHARED(staged);
    int i = threadIdx.x;
    ladon_emu::async_copy(&staged[i][0], in + 8 * i, 16, 16);
    ladon_emu::async_commit();
    ladon_emu::async_copy(&staged[i][4], in + 8 * i + 4, 16, source_bytes);
    ladon_emu::async_commit();
    for (int k = 0; k < 8; k++) out[24 * i + k] = staged[i][k];
    if (!wait) return;
    ladon_emu::async_wait(1);
    for (int k = 0; k < 8; k++) out[24 * i + 8 + k] = staged[i][k];
    ladon_emu::async_wait(0);
    for (int k = 0; k < 8; k++) out[24 * i + 16 + k] = staged[i][k];
}

static ladon_emu::KernelRegistration r1("shuffles", &ladon_emu::invoker<&shuffles>);
static ladon_emu::KernelRegistration r2("neighbours", &ladon_emu::invoker<&neighbours>);
static ladon_emu::KernelRegistration r3("writes_past_end", &ladon_emu::invoker<&writes_past_end>);
static ladon_emu::KernelRegistration r4("split_warp", &ladon_emu::invoker<&split_warp>);
static ladon_emu::KernelRegistration r5("shuffle_after_return", &ladon_emu::invoker<&shuffle_after_return>);
static ladon_emu::KernelRegistration r6("mma_tf32", &ladon_emu::invoker<&mma_tf32>);
static ladon_emu::KernelRegistration r7("mma_bf16", &ladon_emu::invoker<&mma_bf16>);
static ladon_emu::KernelRegistration r8("async_copies", &ladon_emu::invoker<&async_copies>);

// ---- the checks -------------------------------------------------------------------------------------------

static int failures = 0;

static void expect(bool ok, const std::string& what) {
    if (!ok) {
        fprintf(stderr, "emulator selftest FAILED: %s\n", what.c_str());
        failures++;
    }
}

static void* kernel(const char* name) {
    std::string image = std::string("\n.visible .entry ") + name + "(\n.maxntid 64, 1, 1\n";
    void* module = nullptr;
    void* f = nullptr;
    expect(cuModuleLoadData(&module, image.c_str()) == 0, std::string("load module of ") + name);
    expect(cuModuleGetFunction(&f, module, name) == 0, std::string("find ") + name);
    return f;
}

static uint64_t device_array(size_t bytes) {
    uint64_t p = 0;
    expect(cuMemAlloc_v2(&p, bytes) == 0, "cuMemAlloc");
    return p;
}

static int launch(void* f, unsigned grid, unsigned block, std::vector<void*> params) {
    int r = cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, params.data(), nullptr);
    return r != 0 ? r : cuStreamSynchronize(nullptr);
}

int main() {
    // Shuffles: xor, up (a lane below delta keeps its value), down (likewise at the top), from one lane.
    uint64_t out = device_array(128 * 2 * sizeof(int));
    expect(launch(kernel("shuffles"), 1, 64, {&out}) == 0, "shuffles launch");
    std::vector<int> got(256);
    cuMemcpyDtoH_v2(got.data(), out, got.size() * sizeof(int));
    for (int w = 0; w < 2; w++) {
        for (int lane = 0; lane < 32; lane++) {
            const int* o = got.data() + w * 128;
            expect(o[lane] == (lane ^ 5) * 10, "shfl_xor lane " + std::to_string(lane));
            expect(o[32 + lane] == (lane >= 3 ? lane - 3 : lane) * 10, "shfl_up lane " + std::to_string(lane));
            expect(o[64 + lane] == (lane + 3 < 32 ? lane + 3 : lane) * 10, "shfl_down lane " + std::to_string(lane));
            expect(o[96 + lane] == 70, "shfl lane " + std::to_string(lane));
        }
    }

    // Barriers: with one, every thread sees the value its neighbour stored. Without one, a thread that reads
    // a later thread's value (step 1) or an earlier one's (step 63) sees a stale value in one of two
    // launches, even of a single block: the threads' order alternates from launch to launch.
    uint64_t seen = device_array(64 * sizeof(int));
    void* neighbours_kernel = kernel("neighbours");
    int salt = 0;
    for (int step : {1, 63}) {
        for (int with_barrier = 1; with_barrier >= 0; with_barrier--) {
            bool stale = false;
            for (int launch_pair = 0; launch_pair < 2; launch_pair++) {
                salt += 1000;
                expect(launch(neighbours_kernel, 1, 64, {&seen, &step, &salt, &with_barrier}) == 0, "neighbours");
                std::vector<int> v(64);
                cuMemcpyDtoH_v2(v.data(), seen, v.size() * sizeof(int));
                for (int i = 0; i < 64; i++) stale |= v[i] != salt + (i + step) % 64;
            }
            std::string what = "step " + std::to_string(step) + (with_barrier ? " with" : " without") + " a barrier";
            expect(stale != (with_barrier == 1), what + (with_barrier ? ": every value is fresh" : ": stale values show"));
        }
    }

    // What must fail a launch, each reported once by the next call.
    uint64_t small = device_array(64 * sizeof(float));
    int n = 64;
    expect(launch(kernel("writes_past_end"), 1, 32, {&small, &n}) != 0, "a write into the guard fails");
    expect(cuStreamSynchronize(nullptr) == 0, "the failure is reported once");
    expect(launch(kernel("split_warp"), 1, 32, {}) != 0, "a warp split between two barriers fails");
    expect(launch(kernel("shuffle_after_return"), 1, 32, {&out}) != 0, "a shuffle after lanes returned fails");
    expect(launch(kernel("shuffles"), 1, 48, {&out}) != 0, "a shuffle from a lane the warp lacks fails");
    expect(launch(kernel("shuffles"), 1, 128, {&out}) != 0, "more threads than .maxntid are refused");
    expect(cuLaunchKernel(kernel("shuffles"), 1, 1, 1, 32, 1, 1, 64 * 1024, nullptr, std::vector<void*>{&out}.data(),
                          nullptr) != 0, "dynamic shared memory past 48 KiB without cuFuncSetAttribute is refused");

    // cp.async: a copy lands when its group is waited for, not before; a short source is padded with
    // zeros; a thread that ends with copies it never waited for fails the launch.
    std::vector<float> source(64 * 8), seen_async(64 * 24);
    for (int i = 0; i < 64 * 8; i++) source[i] = (float)i;
    uint64_t din = device_array(source.size() * 4), dseen = device_array(seen_async.size() * 4);
    cuMemcpyHtoD_v2(din, source.data(), source.size() * 4);
    int source_bytes = 8, wait = 1;
    expect(launch(kernel("async_copies"), 1, 64, {&din, &dseen, &source_bytes, &wait}) == 0, "cp.async launch");
    cuMemcpyDtoH_v2(seen_async.data(), dseen, seen_async.size() * 4);
    bool before_wait_unset = true, first_group_only = true, all_landed = true;
    for (int i = 0; i < 64; i++) {
        const float* o = seen_async.data() + 24 * i;
        for (int k = 0; k < 8; k++) {
            before_wait_unset &= std::isnan(o[k]);
            first_group_only &= k < 4 ? o[8 + k] == (float)(8 * i + k) : std::isnan(o[8 + k]);
            all_landed &= o[16 + k] == (k < 6 ? (float)(8 * i + k) : 0.0f);
        }
    }
    expect(before_wait_unset, "cp.async copies have not landed before a wait");
    expect(first_group_only, "cp.async.wait_group 1 completes the older group only");
    expect(all_landed, "cp.async.wait_group 0 completes every group, zero-filling past source_bytes");
    wait = 0;
    expect(launch(kernel("async_copies"), 1, 64, {&din, &dseen, &source_bytes, &wait}) != 0,
           "a thread ending with cp.async copies pending fails the launch");
    cuMemFree_v2(din);
    cuMemFree_v2(dseen);

    // Tensor cores: the emulated m16n8k8 against a plain product of TF32-rounded values.
    std::vector<float> a(16 * 8), b(8 * 8), d(16 * 8);
    for (int i = 0; i < 128; i++) a[i] = std::sin(0.37f * i + 0.1f);
    for (int i = 0; i < 64; i++) b[i] = std::cos(0.23f * i);
    uint64_t da = device_array(a.size() * 4), db = device_array(b.size() * 4), dd = device_array(d.size() * 4);
    cuMemcpyHtoD_v2(da, a.data(), a.size() * 4);
    cuMemcpyHtoD_v2(db, b.data(), b.size() * 4);
    expect(launch(kernel("mma_tf32"), 1, 32, {&da, &db, &dd}) == 0, "mma launch");
    cuMemcpyDtoH_v2(d.data(), dd, d.size() * 4);
    auto tf32 = [](float x) {
        uint32_t u;
        std::memcpy(&u, &x, 4);
        u &= 0xffffe000u;  // the instruction reads the top 19 bits of what the kernel passes
        std::memcpy(&x, &u, 4);
        return x;
    };
    for (int r = 0; r < 16; r++) {
        for (int c = 0; c < 8; c++) {
            double want = 0;
            for (int k = 0; k < 8; k++) want += (double)tf32(a[r * 8 + k]) * tf32(b[k * 8 + c]);
            expect(std::fabs(d[r * 8 + c] - want) <= 1e-5 * (1 + std::fabs(want)),
                   "mma element (" + std::to_string(r) + ", " + std::to_string(c) + ")");
        }
    }
    std::vector<float> a16(16 * 16), b16(16 * 8), d16(16 * 8);
    for (int i = 0; i < 256; i++) a16[i] = (float)(i % 7 - 3) * 0.5f;
    for (int i = 0; i < 128; i++) b16[i] = (float)(i % 5 - 2) * 0.25f;
    uint64_t da16 = device_array(a16.size() * 4), db16 = device_array(b16.size() * 4), dd16 = device_array(d16.size() * 4);
    cuMemcpyHtoD_v2(da16, a16.data(), a16.size() * 4);
    cuMemcpyHtoD_v2(db16, b16.data(), b16.size() * 4);
    expect(launch(kernel("mma_bf16"), 1, 32, {&da16, &db16, &dd16}) == 0, "bf16 mma launch");
    cuMemcpyDtoH_v2(d16.data(), dd16, d16.size() * 4);
    for (int r = 0; r < 16; r++) {
        for (int c = 0; c < 8; c++) {
            double want = 0;
            for (int k = 0; k < 16; k++) want += (double)a16[r * 16 + k] * b16[k * 8 + c];
            expect(d16[r * 8 + c] == (float)want, "bf16 mma element (" + std::to_string(r) + ", " + std::to_string(c) + ")");
        }
    }
    for (uint64_t p : {out, seen, small, da, db, dd, da16, db16, dd16}) cuMemFree_v2(p);

    if (failures == 0) printf("emulator selftest: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
