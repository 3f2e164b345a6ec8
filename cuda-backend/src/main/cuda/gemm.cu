// Batched matrix products C[z] = A[z] @ B[z] over strided operands: A [M, K] with strides (sAm, sAk),
// B [K, N] with strides (sBk, sBn), so transposed views (a.mT()) are read in place; C is contiguous
// [batch, M, N]. Batch entries are blockIdx.z; their offsets in A and B come from a GemmBatch (the
// batch dims and strides, stride 0 for a broadcast operand).
//
// Three kernels, chosen on the host by dtype and MatmulPrecision:
//
// gemm_simt_*: CUDA-core FP32/FP64. A block computes a BM x BN tile of C; each thread a TM x TN
//   sub-tile held in registers (8 x 8 for the 128 x 128 float tile: 64 accumulators, and 8 + 8 operand
//   registers per k step give 64 FMAs per 16 shared-memory loads). The K loop walks BK-wide slices of A
//   and B through shared memory, double-buffered: while the threads multiply slice k out of one buffer,
//   they have already issued the global loads of slice k + 1 into registers, and store them into the
//   other buffer afterwards, so one barrier per slice suffices and load latency hides behind the FMAs.
//   Register staging (rather than cp.async) lets the same code read any strides and zero-fill the edges.
//   A thread's 8 rows are two groups of 4 spaced BM / 2 apart (likewise its columns), so that the
//   threads of a warp read consecutive shared-memory words when they fetch their operands.
//
// gemm_tf32 / gemm_bf16: tensor cores through inline-PTX mma.sync (m16n8k8 TF32, m16n8k16 BF16), FP32
//   accumulation. 128 x 128 block tile, 8 warps in a 2 x 4 grid, each warp 64 x 32 = 4 x 4 mma tiles.
//   Operands are rounded to TF32/BF16 once, when a slice is stored into shared memory, in the layout the
//   mma fragments want: A row-major and B column-major (k contiguous for both), padded so that the 32
//   lanes of a fragment load hit 32 different banks. Same register-staged double buffering.
#include "ladon.cuh"

#define GEMM_MAX_BATCH_DIMS 6

// Batch dims of one launch (row-major over shape) and the strides of A and B along them.
struct GemmBatch {
    int rank;
    int shape[GEMM_MAX_BATCH_DIMS];
    int strideA[GEMM_MAX_BATCH_DIMS];
    int strideB[GEMM_MAX_BATCH_DIMS];
};

__device__ __forceinline__ void batch_offsets(const GemmBatch& g, int z, int& offA, int& offB) {
    offA = 0;
    offB = 0;
#pragma unroll
    for (int d = GEMM_MAX_BATCH_DIMS - 1; d >= 0; d--) {
        if (d < g.rank) {
            int c = z % g.shape[d];
            z /= g.shape[d];
            offA += c * g.strideA[d];
            offB += c * g.strideB[d];
        }
    }
}

// ---- CUDA-core kernel --------------------------------------------------------------------------------

template <typename T, int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void gemm_simt(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M,
                                          int N, int K, int sAm, int sAk, int sBk, int sBn, const GemmBatch& batch,
                                          int first) {
    constexpr int THREADS_N = BN / TN;
    constexpr int NT = (BM / TM) * THREADS_N;
    constexpr int A_LOADS = BM * BK / NT;
    constexpr int B_LOADS = BK * BN / NT;
    constexpr int GROUPS_M = TM / 4, GROUPS_N = TN / 4;
    // +4 columns: a k-row of the tile then starts 4 banks later, so the k-fastest stores of A land in
    // distinct banks, and rows stay 16-byte aligned.
    __shared__ T As[2][BK][BM + 4];
    __shared__ T Bs[2][BK][BN + 4];

    int z = first + blockIdx.z;
    int offA, offB;
    batch_offsets(batch, z, offA, offB);
    A += offA;
    B += offB;
    C += (i64)z * M * N;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int tid = threadIdx.x;
    const int tx = tid % THREADS_N, ty = tid / THREADS_N;
    // Coalesced global reads: consecutive threads walk the operand's unit-stride dim.
    const bool aKFast = sAk == 1, bNFast = sBn == 1 || sBk != 1;

    T ra[A_LOADS], rb[B_LOADS];
    auto load = [&](int k0) {
#pragma unroll
        for (int r = 0; r < A_LOADS; r++) {
            int e = tid + r * NT;
            int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
            int gm = m0 + m, gk = k0 + k;
            ra[r] = (gm < M && gk < K) ? A[gm * sAm + gk * sAk] : T(0);
        }
#pragma unroll
        for (int r = 0; r < B_LOADS; r++) {
            int e = tid + r * NT;
            int k = bNFast ? e / BN : e % BK, n = bNFast ? e % BN : e / BK;
            int gk = k0 + k, gn = n0 + n;
            rb[r] = (gk < K && gn < N) ? B[gk * sBk + gn * sBn] : T(0);
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int r = 0; r < A_LOADS; r++) {
            int e = tid + r * NT;
            int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
            As[buf][k][m] = ra[r];
        }
#pragma unroll
        for (int r = 0; r < B_LOADS; r++) {
            int e = tid + r * NT;
            int k = bNFast ? e / BN : e % BK, n = bNFast ? e % BN : e / BK;
            Bs[buf][k][n] = rb[r];
        }
    };

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = T(0);

    const int tiles = (K + BK - 1) / BK;
    load(0);
    store(0);
    __syncthreads();
    for (int t = 0; t < tiles; t++) {
        const int cur = t & 1;
        if (t + 1 < tiles) load((t + 1) * BK);
#pragma unroll
        for (int k = 0; k < BK; k++) {
            T a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; i++) a[i] = As[cur][k][(i / 4) * (BM / GROUPS_M) + ty * 4 + (i % 4)];
#pragma unroll
            for (int j = 0; j < TN; j++) b[j] = Bs[cur][k][(j / 4) * (BN / GROUPS_N) + tx * 4 + (j % 4)];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TN; j++) acc[i][j] += a[i] * b[j];
        }
        if (t + 1 < tiles) store(cur ^ 1);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; i++) {
        int m = m0 + (i / 4) * (BM / GROUPS_M) + ty * 4 + (i % 4);
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            int n = n0 + (j / 4) * (BN / GROUPS_N) + tx * 4 + (j % 4);
            if (n < N) C[(i64)m * N + n] = acc[i][j];
        }
    }
}

#define GEMM_PARAMS                                                                                         \
    int M, int N, int K, int sAm, int sAk, int sBk, int sBn, GemmBatch batch, int first

extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f32_128(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 128, 128, 8, 8, 8>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

// For problems too small to give every SM a 128 x 128 tile.
extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f32_64(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 64, 64, 8, 4, 4>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

// Doubles take twice the registers: a 64 x 64 tile with 4 x 4 per thread.
extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f64_64(const double* A, const double* B, double* C, GEMM_PARAMS) {
    gemm_simt<double, 64, 64, 8, 4, 4>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

// ---- tensor-core kernels ---------------------------------------------------------------------------

// float -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
__device__ __forceinline__ uint16_t to_bf16(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#ifdef __CUDA_ARCH__
__device__ __forceinline__ uint32_t to_tf32(float f) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
// Compiled for the CPU by the emulator (cuda-backend/emulator), which computes the same instructions.
__device__ __forceinline__ uint32_t to_tf32(float f) { return ladon_emu::tf32_round(f); }
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    ladon_emu::mma_m16n8k8_tf32(d, a, b);
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    ladon_emu::mma_m16n8k16_bf16(d, a, b);
}
#endif

// Element type stored in shared memory and its packing: TF32 keeps one 32-bit word per element, BF16
// packs two elements (consecutive k) per word, which is what one fragment register holds.
template <bool BF16> struct TensorCoreTile;
template <> struct TensorCoreTile<false> {
    typedef uint32_t Elem;
    static constexpr int BK = 16;   // two k8 steps per slice
    static constexpr int KSTEP = 8;
    static constexpr int PAD = 4;   // row pitch 20 words: fragment lanes g * 20 + t hit distinct banks
    static __device__ __forceinline__ Elem convert(float f) { return to_tf32(f); }
};
template <> struct TensorCoreTile<true> {
    typedef uint16_t Elem;
    static constexpr int BK = 32;   // two k16 steps per slice
    static constexpr int KSTEP = 16;
    static constexpr int PAD = 8;   // row pitch 40 halves = 20 words, as above
    static __device__ __forceinline__ Elem convert(float f) { return to_bf16(f); }
};

template <bool BF16>
__device__ __forceinline__ void gemm_tensor_core(const float* __restrict__ A, const float* __restrict__ B,
                                                 float* __restrict__ C, int M, int N, int K, int sAm, int sAk,
                                                 int sBk, int sBn, const GemmBatch& batch, int first) {
    typedef TensorCoreTile<BF16> Tile;
    typedef typename Tile::Elem Elem;
    constexpr int BM = 128, BN = 128, BK = Tile::BK, NT = 256;
    constexpr int PITCH = BK + Tile::PAD;
    constexpr int A_LOADS = BM * BK / NT, B_LOADS = BK * BN / NT;
    __shared__ __align__(16) Elem As[2][BM][PITCH];  // [m][k]
    __shared__ __align__(16) Elem Bs[2][BN][PITCH];  // [n][k]: B column-major, as the mma's B fragment wants

    int z = first + blockIdx.z;
    int offA, offB;
    batch_offsets(batch, z, offA, offB);
    A += offA;
    B += offB;
    C += (i64)z * M * N;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warpM = warp / 4, warpN = warp % 4;  // 2 x 4 warps, each 64 x 32 of the tile
    const int g = lane >> 2, t = lane & 3;         // the mma fragment's group and thread-in-group
    const bool aKFast = sAk == 1, bKFast = sBk == 1 && sBn != 1;

    float ra[A_LOADS], rb[B_LOADS];
    auto load = [&](int k0) {
#pragma unroll
        for (int r = 0; r < A_LOADS; r++) {
            int e = tid + r * NT;
            int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
            int gm = m0 + m, gk = k0 + k;
            ra[r] = (gm < M && gk < K) ? A[gm * sAm + gk * sAk] : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < B_LOADS; r++) {
            int e = tid + r * NT;
            int k = bKFast ? e % BK : e / BN, n = bKFast ? e / BK : e % BN;
            int gk = k0 + k, gn = n0 + n;
            rb[r] = (gk < K && gn < N) ? B[gk * sBk + gn * sBn] : 0.0f;
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int r = 0; r < A_LOADS; r++) {
            int e = tid + r * NT;
            int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
            As[buf][m][k] = Tile::convert(ra[r]);
        }
#pragma unroll
        for (int r = 0; r < B_LOADS; r++) {
            int e = tid + r * NT;
            int k = bKFast ? e % BK : e / BN, n = bKFast ? e / BK : e % BN;
            Bs[buf][n][k] = Tile::convert(rb[r]);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;

    const int tiles = (K + BK - 1) / BK;
    load(0);
    store(0);
    __syncthreads();
    for (int s = 0; s < tiles; s++) {
        const int cur = s & 1;
        if (s + 1 < tiles) load((s + 1) * BK);
#pragma unroll
        for (int ks = 0; ks < BK; ks += Tile::KSTEP) {
            uint32_t a[4][4], b[4][2];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int r = warpM * 64 + i * 16 + g;
                if (BF16) {
                    // One 32-bit word = the bf16 pair (k, k + 1) at k = ks + 2t (and + 8).
                    const Elem* row0 = &As[cur][r][ks + 2 * t];
                    const Elem* row8 = &As[cur][r + 8][ks + 2 * t];
                    a[i][0] = *(const uint32_t*)row0;
                    a[i][1] = *(const uint32_t*)row8;
                    a[i][2] = *(const uint32_t*)(row0 + 8);
                    a[i][3] = *(const uint32_t*)(row8 + 8);
                } else {
                    a[i][0] = As[cur][r][ks + t];
                    a[i][1] = As[cur][r + 8][ks + t];
                    a[i][2] = As[cur][r][ks + t + 4];
                    a[i][3] = As[cur][r + 8][ks + t + 4];
                }
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int c = warpN * 32 + j * 8 + g;
                if (BF16) {
                    const Elem* col = &Bs[cur][c][ks + 2 * t];
                    b[j][0] = *(const uint32_t*)col;
                    b[j][1] = *(const uint32_t*)(col + 8);
                } else {
                    b[j][0] = Bs[cur][c][ks + t];
                    b[j][1] = Bs[cur][c][ks + t + 4];
                }
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    if (BF16) mma_bf16(acc[i][j], a[i], b[j]);
                    else mma_tf32(acc[i][j], a[i], b[j]);
                }
        }
        if (s + 1 < tiles) store(cur ^ 1);
        __syncthreads();
    }
    // Accumulator fragment: element q of tile (i, j) is row g + 8 (q / 2), column 2t + (q % 2).
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) {
                int m = m0 + warpM * 64 + i * 16 + g + (q >> 1) * 8;
                int n = n0 + warpN * 32 + j * 8 + 2 * t + (q & 1);
                if (m < M && n < N) C[(i64)m * N + n] = acc[i][j][q];
            }
}

// One block of 8 warps per SM: ptxas needs about 165 (TF32) and 225 (BF16) registers per thread
// for the 64 accumulators, the staged slice and the fragments; capping at 128 for two blocks per SM
// made it spill (measured with ptxas -v for sm_90). A tuning point once timings can be taken.
extern "C" __global__ void __launch_bounds__(256)
gemm_tf32(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_tensor_core<false>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_bf16(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_tensor_core<true>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}
