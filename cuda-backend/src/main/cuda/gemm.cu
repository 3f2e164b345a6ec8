// Batched matrix products C[z] = A[z] @ B[z] over strided operands: A [M, K] with strides (sAm, sAk),
// B [K, N] with strides (sBk, sBn), so transposed views (a.mT()) are read in place; C is contiguous
// [batch, M, N]. Batch entries are blockIdx.z; their offsets in A and B come from a GemmBatch (the
// batch dims and strides, stride 0 for a broadcast operand).
//
// Grid: x over row tiles of C (up to 2^31 - 1 of them, so M may be any tensor's size), y over column
// tiles (at most 65535: MatmulKernels checks), z over batch entries.
//
// The kernels, chosen on the host by dtype, MatmulPrecision and the operands' layout:
//
// gemm_simt_*: CUDA-core FP32/FP64. A block computes a BM x BN tile of C; each thread a TM x TN
//   sub-tile held in registers (8 x 8 for the 128 x 128 float tile: 64 accumulators, and 8 + 8 operand
//   registers per k step give 64 FMAs per 16 shared-memory loads). The K loop walks BK-wide slices of A
//   and B through shared memory, double-buffered: while the threads multiply slice k out of one buffer,
//   they have already issued the global loads of slice k + 1 into registers, and store them into the
//   other buffer afterwards, so one barrier per slice suffices and load latency hides behind the FMAs.
//   Register staging (rather than cp.async) lets the same code read any strides and zero-fill the edges.
//   A thread's 8 rows are two groups of 4 spaced BM / 2 apart (likewise its columns), so that the
//   threads of a warp read consecutive shared-memory words when they fetch their operands, four at a time.
//   gemm_simt_f32_*_c4: the same for operands in aligned 16-byte chunks (MatmulKernels.chunked), whose
//   global loads take a chunk of four floats per instruction.
//
// gemm_tf32 / gemm_bf16: tensor cores through inline-PTX mma.sync (m16n8k8 TF32, m16n8k16 BF16), FP32
//   accumulation, for operands of any strides. 128 x 128 block tile, 8 warps in a 2 x 4 grid, each warp
//   64 x 32 = 4 x 4 mma tiles. Operands are rounded to TF32/BF16 once, when a slice is stored into shared
//   memory, in the layout the mma fragments want: A row-major and B column-major (k contiguous for both),
//   padded so that the 32 lanes of a fragment load hit 32 different banks. Same register-staged double
//   buffering.
//
// gemm_tf32_XY: TF32 for operands that can be read in 16-byte chunks (X, Y: n for A [M, K] or B [K, N]
//   row-major, t for a transposed view), with a 128 x 256 block tile (8 warps of 64 x 64) and a three-stage
//   cp.async pipeline: slices land in shared memory as they are in global memory, two slices ahead of the
//   one being multiplied, without passing through registers; they are rounded to TF32 as the fragments are
//   read. See the comment above gemm_pipelined.
//
// gemm_bf16s_XY: the same pipeline for BF16, on operands converted to bfloat16 first (gemm_to_bf16, any
//   strides): half the bytes per slice, fragments that need no conversion. See the comment above
//   gemm_to_bf16.
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

// Slices of `depth` along a sum of K terms, for K up to 2^31 - 1 (K + depth - 1 would overflow an int).
__device__ __forceinline__ int slices(int K, int depth) { return (int)(((i64)K + depth - 1) / depth); }

// Moves A, B and C to the block's batch entry, first + blockIdx.z.
template <typename PointerA, typename PointerB, typename PointerC>
__device__ __forceinline__ void to_batch_entry(const GemmBatch& batch, int first, int M, int N, PointerA& A,
                                               PointerB& B, PointerC& C) {
    int z = first + blockIdx.z;
    int offA, offB;
    batch_offsets(batch, z, offA, offB);
    A += offA;
    B += offB;
    C += (i64)z * M * N;
}

// ---- CUDA-core kernel --------------------------------------------------------------------------------

// The chunk of four elements of X [rows, cols] (strides sRow, sCol) that starts at (r, c), along columns
// (alongCols) or along rows; `chunk` is its address. Where it crosses the matrix's edge it is read element
// by element, with zeros outside.
template <typename T>
__device__ __forceinline__ void load_chunk(const T* __restrict__ X, const T* chunk, int r, int c, int rows, int cols,
                                           int sRow, int sCol, bool alongCols, T (&v)[4]) {
    if (alongCols ? r < rows && c + 3 < cols : c < cols && r + 3 < rows) {
        load4(chunk, v);
        return;
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int er = alongCols ? r : r + j, ec = alongCols ? c + j : c;
        v[j] = (er < rows && ec < cols) ? X[(i64)er * sRow + (i64)ec * sCol] : T(0);
    }
}

// CHUNKED: both operands can be read in aligned chunks of four elements along their unit-stride dim (the
// host checks: MatmulKernels.chunked). A chunk that crosses the edge of the matrix is read element by element.
template <typename T, int BM, int BN, int BK, int TM, int TN, bool CHUNKED>
__device__ __forceinline__ void gemm_simt(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M,
                                          int N, int K, int sAm, int sAk, int sBk, int sBn, const GemmBatch& batch,
                                          int first) {
    constexpr int THREADS_N = BN / TN;
    constexpr int NT = (BM / TM) * THREADS_N;
    // Elements of a slice per thread, loaded one by one or in chunks of four (then only the first
    // BM * BK / 4 threads load A).
    constexpr int A_LOADS = BM * BK / NT, B_LOADS = BK * BN / NT;
    constexpr int A_CHUNKS = BM * BK / 4, B_CHUNKS = BK * BN / 4;
    static_assert(A_CHUNKS <= NT && B_CHUNKS <= NT && A_LOADS <= 4 && B_LOADS <= 4, "one chunk per thread");
    constexpr int GROUPS_M = TM / 4, GROUPS_N = TN / 4;
    // +4 columns: a k-row of the tile then starts 4 banks later, so the k-fastest stores of A land in
    // distinct banks, and rows stay 16-byte aligned for the four-element loads of the inner loop.
    __shared__ __align__(16) T As[2][BK][BM + 4];
    __shared__ __align__(16) T Bs[2][BK][BN + 4];

    to_batch_entry(batch, first, M, N, A, B, C);
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int tid = threadIdx.x;
    const int tx = tid % THREADS_N, ty = tid / THREADS_N;
    // Coalesced global reads: consecutive threads walk the operand's unit-stride dim.
    const bool aKFast = sAk == 1, bNFast = sBn == 1 || sBk != 1;

    // A slice's elements for this thread: A_LOADS single ones, or one chunk of four. A chunk starts at row
    // am and column k0 + ak of A (along k, or along m), and at row k0 + bk and column bn of B.
    T ra[4], rb[4];
    const int am = m0 + (aKFast ? tid / (BK / 4) : (tid % (BM / 4)) * 4);
    const int ak = aKFast ? (tid % (BK / 4)) * 4 : tid / (BM / 4);
    const int bn = n0 + (bNFast ? (tid % (BN / 4)) * 4 : tid / (BK / 4));
    const int bk = bNFast ? tid / (BN / 4) : (tid % (BK / 4)) * 4;
    const T* aChunk = A + (i64)am * sAm + (i64)ak * sAk;
    const T* bChunk = B + (i64)bk * sBk + (i64)bn * sBn;
    auto load = [&](int k0) {
        if constexpr (CHUNKED) {
            if (tid < A_CHUNKS) load_chunk(A, aChunk + (i64)k0 * sAk, am, k0 + ak, M, K, sAm, sAk, aKFast, ra);
        } else {
#pragma unroll
            for (int r = 0; r < A_LOADS; r++) {
                int e = tid + r * NT;
                int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
                int gm = m0 + m, gk = k0 + k;
                ra[r] = (gm < M && gk < K) ? A[gm * sAm + gk * sAk] : T(0);
            }
        }
        if constexpr (CHUNKED) {
            if (tid < B_CHUNKS) load_chunk(B, bChunk + (i64)k0 * sBk, k0 + bk, bn, K, N, sBk, sBn, bNFast, rb);
        } else {
#pragma unroll
            for (int r = 0; r < B_LOADS; r++) {
                int e = tid + r * NT;
                int k = bNFast ? e / BN : e % BK, n = bNFast ? e % BN : e / BK;
                int gk = k0 + k, gn = n0 + n;
                rb[r] = (gk < K && gn < N) ? B[gk * sBk + gn * sBn] : T(0);
            }
        }
    };
    auto store = [&](int buf) {
        if constexpr (CHUNKED) {
            if (tid < A_CHUNKS) {
                if (aKFast) {
                    // Four k of one row: a column of the [k][m] tile.
                    int m = tid / (BK / 4), k = (tid % (BK / 4)) * 4;
#pragma unroll
                    for (int j = 0; j < 4; j++) As[buf][k + j][m] = ra[j];
                } else {
                    store4(&As[buf][tid / (BM / 4)][(tid % (BM / 4)) * 4], ra);
                }
            }
        } else {
#pragma unroll
            for (int r = 0; r < A_LOADS; r++) {
                int e = tid + r * NT;
                int m = aKFast ? e / BK : e % BM, k = aKFast ? e % BK : e / BM;
                As[buf][k][m] = ra[r];
            }
        }
        if constexpr (CHUNKED) {
            if (tid < B_CHUNKS) {
                if (bNFast) {
                    store4(&Bs[buf][tid / (BN / 4)][(tid % (BN / 4)) * 4], rb);
                } else {
                    int n = tid / (BK / 4), k = (tid % (BK / 4)) * 4;
#pragma unroll
                    for (int j = 0; j < 4; j++) Bs[buf][k + j][n] = rb[j];
                }
            }
        } else {
#pragma unroll
            for (int r = 0; r < B_LOADS; r++) {
                int e = tid + r * NT;
                int k = bNFast ? e / BN : e % BK, n = bNFast ? e % BN : e / BK;
                Bs[buf][k][n] = rb[r];
            }
        }
    };

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = T(0);

    const int tiles = slices(K, BK);
    load(0);
    store(0);
    __syncthreads();
    for (int t = 0; t < tiles; t++) {
        const int cur = t & 1;
        if (t + 1 < tiles) load((t + 1) * BK);
#pragma unroll
        for (int k = 0; k < BK; k++) {
            // A thread's rows (and columns) are groups of four consecutive ones: one vector load each.
            T a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < GROUPS_M; i++) {
                T v[4];
                load4(&As[cur][k][i * (BM / GROUPS_M) + ty * 4], v);
#pragma unroll
                for (int q = 0; q < 4; q++) a[i * 4 + q] = v[q];
            }
#pragma unroll
            for (int j = 0; j < GROUPS_N; j++) {
                T v[4];
                load4(&Bs[cur][k][j * (BN / GROUPS_N) + tx * 4], v);
#pragma unroll
                for (int q = 0; q < 4; q++) b[j * 4 + q] = v[q];
            }
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
        i64 m = (i64)m0 + (i / 4) * (BM / GROUPS_M) + ty * 4 + (i % 4);  // 64-bit: m0 may be near 2^31
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

// The 128 x 128 tile for problems that give every SM one, the 64 x 64 tile for smaller ones; _c4 reads
// both operands in chunks of four.
extern "C" __global__ void __launch_bounds__(256, 2)
gemm_simt_f32_128(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 128, 128, 8, 8, 8, false>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

extern "C" __global__ void __launch_bounds__(256, 2)
gemm_simt_f32_128_c4(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 128, 128, 8, 8, 8, true>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f32_64(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 64, 64, 8, 4, 4, false>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f32_64_c4(const float* A, const float* B, float* C, GEMM_PARAMS) {
    gemm_simt<float, 64, 64, 8, 4, 4, true>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
}

// Doubles take twice the registers: a 64 x 64 tile with 4 x 4 per thread.
extern "C" __global__ void __launch_bounds__(256)
gemm_simt_f64_64(const double* A, const double* B, double* C, GEMM_PARAMS) {
    gemm_simt<double, 64, 64, 8, 4, 4, false>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);
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

    to_batch_entry(batch, first, M, N, A, B, C);
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
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

    const int tiles = slices(K, BK);
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
                i64 m = (i64)m0 + warpM * 64 + i * 16 + g + (q >> 1) * 8;
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

// ---- pipelined TF32 kernels --------------------------------------------------------------------------------
//
// Shared memory holds STAGES slices of BK = 32 k, each an A tile and a B tile in the operand's own
// orientation, as 16-byte chunks:
//   k-major (A row-major, B transposed): one row of 32 k (8 chunks) per m or n; chunk c of row r is stored
//     at position c ^ 4 (r & 1);
//   m- or n-major (A transposed, B row-major): one row of BM (or BN) per k; chunk c of row k is stored at
//     c ^ 2 ((k / 4) & 3).
// The swizzles make every fragment load below free of bank conflicts.
//
// Fragments. An mma sums over k, so any assignment of the slice's k to the instruction's k positions is
// right as long as A and B use the same one. Here lane (g, t) (g = lane / 4, t = lane % 4) holds, for each
// group of 16 k, the four k 4t .. 4t + 3 (its "slots"): from a k-major tile that is one 16-byte load. TF32
// runs two k8 steps per group (slots 0, 1 then 2, 3 in the instruction's k positions t and t + 4); the
// BF16 kernels further down use the same slots for one k16 step (slots 0, 1 in one register as the k pair
// 2t, 2t + 1, slots 2, 3 as 2t + 8, 2t + 9).
// Rows and columns may be permuted too, if the output is written back with the same permutation: from an
// m-major tile lane g takes the rows 2g and 2g + 1 (adjacent: one 8-byte load per slot) as the fragment's
// rows g and g + 8; from an n-major tile, the n8 tiles 2p and 2p + 1 of a pair take columns 16p + 2g and
// 16p + 2g + 1 as their column g.

#ifdef __CUDA_ARCH__
__device__ __forceinline__ void cp_async16(void* shared, const void* global, int sourceBytes) {
    unsigned address = (unsigned)__cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(sourceBytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int PENDING> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING));
}
#else
__device__ __forceinline__ void cp_async16(void* shared, const void* global, int sourceBytes) {
    ladon_emu::async_copy(shared, global, 16, sourceBytes);
}
__device__ __forceinline__ void cp_async_commit() { ladon_emu::async_commit(); }
template <int PENDING> __device__ __forceinline__ void cp_async_wait() { ladon_emu::async_wait(PENDING); }
#endif

constexpr int PIPE_BM = 128, PIPE_BN = 256, PIPE_BK = 32, PIPE_STAGES = 3, PIPE_THREADS = 256;
constexpr int PIPE_STAGE_FLOATS = (PIPE_BM + PIPE_BN) * PIPE_BK;

// Float offset of element (row, col) of a tile whose rows are `width` floats, chunks swizzled as above.
__device__ __forceinline__ int kmajor_offset(int row, int k) {
    return row * PIPE_BK + ((((k >> 2) ^ ((row & 1) << 2))) << 2) + (k & 3);
}
__device__ __forceinline__ int xmajor_offset(int k, int x, int width) {
    return k * width + ((((x >> 2) ^ (((k >> 2) & 3) << 1))) << 2) + (x & 3);
}

// Issues the copies of one operand's slice: a ROWS x COLS region (rows along the leading dim of the
// tile's layout) starting at global element (r0, c0) of a matrix with strides (sRow, 1) that is
// rowLimit x colLimit; chunks past the limits are zeros.
template <int ROWS, int COLS, bool KMAJOR>
__device__ __forceinline__ void load_tile(float* tile, const float* __restrict__ X, int sRow, int r0, int c0,
                                          int rowLimit, int colLimit, int tid) {
    constexpr int CHUNKS_PER_ROW = COLS / 4;
#pragma unroll
    for (int e = tid; e < ROWS * CHUNKS_PER_ROW; e += PIPE_THREADS) {
        int row = e / CHUNKS_PER_ROW, col = (e % CHUNKS_PER_ROW) * 4;
        int gr = r0 + row, gc = c0 + col;
        int valid = gr < rowLimit ? min(max(colLimit - gc, 0), 4) : 0;
        const float* source = valid > 0 ? X + (i64)gr * sRow + gc : X;
        float* target = tile + (KMAJOR ? kmajor_offset(row, col) : xmajor_offset(row, col, COLS));
        cp_async16(target, source, valid * 4);
    }
}

// Slot values of lane (g, t) for one row (k-major tile) at k group kg: the four k 4t .. 4t + 3.
__device__ __forceinline__ void kmajor_slots(const float* tile, int row, int kg, int t, float (&v)[4]) {
    float4 q = *reinterpret_cast<const float4*>(tile + kmajor_offset(row, kg * 16 + 4 * t));
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
// Slot values of lane (g, t) for the two adjacent rows x, x + 1 of an x-major tile: lo[s], hi[s].
template <int WIDTH>
__device__ __forceinline__ void xmajor_slots(const float* tile, int x, int kg, int t, float (&lo)[4], float (&hi)[4]) {
#pragma unroll
    for (int s = 0; s < 4; s++) {
        float2 q = *reinterpret_cast<const float2*>(tile + xmajor_offset(kg * 16 + 4 * t + s, x, WIDTH));
        lo[s] = q.x;
        hi[s] = q.y;
    }
}

// The three-stage pipeline of the tensor-core kernels: slices of BK along K are copied into the stages
// with cp.async (load_stage(stage, k0) issues one slice's copies), two slices ahead of the one that
// compute(stage) multiplies; every copy has landed when it returns.
template <typename LoadStage, typename Compute>
__device__ __forceinline__ void run_pipeline(int K, LoadStage& load_stage, Compute compute) {
    constexpr int BK = PIPE_BK, STAGES = PIPE_STAGES;
    const int tiles = slices(K, BK);
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < tiles) load_stage(s, s * BK);
        cp_async_commit();
    }
    for (int kt = 0; kt < tiles; kt++) {
        cp_async_wait<STAGES - 2>();
        // Slice kt has landed for every thread, and every warp is done with slice kt - 1, whose buffer
        // the next copies overwrite.
        __syncthreads();
        if (kt + STAGES - 1 < tiles) load_stage((kt + STAGES - 1) % STAGES, (kt + STAGES - 1) * BK);
        cp_async_commit();
        compute(kt % STAGES);
    }
    cp_async_wait<0>();
}

// Writes a warp's 64 x 64 accumulators. Element q of tile (i, j) is fragment row g + 8 (q / 2), column
// 2t + (q % 2); the row and column permutations of the fragments (see above) are undone here.
template <bool A_T, bool B_T>
__device__ __forceinline__ void store_pipelined_tile(float* __restrict__ C, const float (&acc)[4][8][4], int M, int N,
                                                     int mw, int nw, int g, int t) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) {
                int fr = g + 8 * (q >> 1), fc = 2 * t + (q & 1);
                i64 m = (i64)mw + i * 16 + (A_T ? 2 * g + (q >> 1) : fr);
                int n = nw + (B_T ? j * 8 + fc : (j >> 1) * 16 + 2 * fc + (j & 1));
                if (m < M && n < N) C[(i64)m * N + n] = acc[i][j][q];
            }
}

template <bool A_T, bool B_T>
__device__ __forceinline__ void gemm_pipelined(const float* __restrict__ A, const float* __restrict__ B,
                                               float* __restrict__ C, int M, int N, int K, int sAm, int sAk, int sBk,
                                               int sBn, const GemmBatch& batch, int first) {
    constexpr int BM = PIPE_BM, BN = PIPE_BN, BK = PIPE_BK;
    extern __shared__ __align__(16) unsigned char gemm_smem[];
    float* smem = reinterpret_cast<float*>(gemm_smem);

    to_batch_entry(batch, first, M, N, A, B, C);
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 64;  // 2 x 4 warps, each 64 x 64 of the tile
    const int g = lane >> 2, t = lane & 3;

    auto load_stage = [&](int stage, int k0) {
        float* a = smem + stage * PIPE_STAGE_FLOATS;
        float* b = a + BM * BK;
        if (A_T) load_tile<BK, BM, false>(a, A, sAk, k0, m0, K, M, tid);  // rows k, m contiguous
        else load_tile<BM, BK, true>(a, A, sAm, m0, k0, M, K, tid);       // rows m, k contiguous
        if (B_T) load_tile<BN, BK, true>(b, B, sBn, n0, k0, N, K, tid);   // rows n, k contiguous
        else load_tile<BK, BN, false>(b, B, sBk, k0, n0, K, N, tid);      // rows k, n contiguous
    };

    float acc[4][8][4] = {};  // [m16 tile][n8 tile][fragment element]

    run_pipeline(K, load_stage, [&](int stage) {
        const float* a = smem + stage * PIPE_STAGE_FLOATS;
        const float* b = a + BM * BK;
#pragma unroll
        for (int kg = 0; kg < BK / 16; kg++) {
            // A fragments of the warp's four m16 tiles, rounded once: two k8 steps of four registers each.
            uint32_t af[4][2][4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float lo[4], hi[4];  // fragment rows g and g + 8, four slots
                if (A_T) {
                    xmajor_slots<BM>(a, wm + i * 16 + 2 * g, kg, t, lo, hi);
                } else {
                    kmajor_slots(a, wm + i * 16 + g, kg, t, lo);
                    kmajor_slots(a, wm + i * 16 + g + 8, kg, t, hi);
                }
#pragma unroll
                for (int step = 0; step < 2; step++) {
                    af[i][step][0] = to_tf32(lo[2 * step]);
                    af[i][step][1] = to_tf32(hi[2 * step]);
                    af[i][step][2] = to_tf32(lo[2 * step + 1]);
                    af[i][step][3] = to_tf32(hi[2 * step + 1]);
                }
            }
#pragma unroll
            for (int p = 0; p < 4; p++) {
                // B fragments of the n8 tiles 2p and 2p + 1: column g, four slots each.
                float v0[4], v1[4];
                if (B_T) {
                    kmajor_slots(b, wn + p * 16 + g, kg, t, v0);
                    kmajor_slots(b, wn + p * 16 + 8 + g, kg, t, v1);
                } else {
                    xmajor_slots<BN>(b, wn + p * 16 + 2 * g, kg, t, v0, v1);
                }
                uint32_t bf[2][2][2];  // [tile of the pair][step][register]
#pragma unroll
                for (int step = 0; step < 2; step++) {
                    bf[0][step][0] = to_tf32(v0[2 * step]);
                    bf[0][step][1] = to_tf32(v0[2 * step + 1]);
                    bf[1][step][0] = to_tf32(v1[2 * step]);
                    bf[1][step][1] = to_tf32(v1[2 * step + 1]);
                }
#pragma unroll
                for (int step = 0; step < 2; step++)
#pragma unroll
                    for (int i = 0; i < 4; i++)
#pragma unroll
                        for (int h = 0; h < 2; h++) mma_tf32(acc[i][2 * p + h], af[i][step], bf[h][step]);
            }
        }
    });
    store_pipelined_tile<A_T, B_T>(C, acc, M, N, m0 + wm, n0 + wn, g, t);
}

// Dynamic shared memory: PIPE_STAGES * PIPE_STAGE_FLOATS floats (144 KiB); MatmulKernels.PIPELINED_SHARED_BYTES.
#define GEMM_PIPELINED(NAME, A_T, B_T)                                                                            \
    extern "C" __global__ void __launch_bounds__(PIPE_THREADS)                                                  \
    NAME(const float* A, const float* B, float* C, GEMM_PARAMS) {                                               \
        gemm_pipelined<A_T, B_T>(A, B, C, M, N, K, sAm, sAk, sBk, sBn, batch, first);                            \
    }
GEMM_PIPELINED(gemm_tf32_nn, false, false)
GEMM_PIPELINED(gemm_tf32_nt, false, true)
GEMM_PIPELINED(gemm_tf32_tn, true, false)
GEMM_PIPELINED(gemm_tf32_tt, true, true)

// ---- BF16 from operands converted once ---------------------------------------------------------------------
//
// Read as float32, a BF16 product moves twice the bytes its tensor cores need, and reading float32
// fragments from shared memory takes longer than the mma instructions they feed. So for BF16 the host
// converts each operand once (gemm_to_bf16: round to nearest even, into a contiguous buffer whose rows are
// padded with zeros to a multiple of 8 elements, i.e. 16 bytes), in the operand's own orientation, and
// gemm_bf16s_XY multiplies those: the same 128 x 256 tile, warps and three-stage cp.async pipeline as the
// TF32 kernels above, with half the bytes per slice, and fragments that need no conversion:
//   k-major tile (rows of 32 k = 4 chunks of 8): lane (g, t) reads its four k (4t .. 4t + 3) of a row in one
//     8-byte load, which is two fragment registers as they are; chunk c of row r sits at c ^ 2 ((r / 2) & 1);
//   m- or n-major tile (rows of BM or BN per k): lane (g, t) reads the pair (2g, 2g + 1) at each of its four
//     k in one 4-byte load, and __byte_perm regroups them by row (the same row and column permutations as
//     above); chunk c of row k sits at c ^ 2 ((k / 4) & 3).

// dst[z][r][c] = bf16(src[z's offset + r sRow + c sCol]) for c < cols, 0 up to pitch; blockIdx = (element
// block, batch entry first + y); operand 0 is A, 1 is B (which strides of the GemmBatch apply).
extern "C" __global__ void __launch_bounds__(256)
gemm_to_bf16(uint16_t* dst, const float* src, int rows, int cols, int pitch, int sRow, int sCol, GemmBatch batch,
             int operand, int first) {
    int offA, offB;
    batch_offsets(batch, first + blockIdx.y, offA, offB);
    src += operand == 0 ? offA : offB;
    dst += (i64)blockIdx.y * rows * pitch;
    i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (i64)rows * pitch) return;
    int r = (int)(e / pitch), c = (int)(e % pitch);
    dst[e] = c < cols ? to_bf16(src[(i64)r * sRow + (i64)c * sCol]) : (uint16_t)0;
}

#ifdef __CUDA_ARCH__
__device__ __forceinline__ uint32_t byte_perm(uint32_t a, uint32_t b, uint32_t selector) {
    return __byte_perm(a, b, selector);
}
#else
// __byte_perm for the selectors used here: byte i of the result is byte (selector >> 4 i) & 7 of b:a.
__device__ __forceinline__ uint32_t byte_perm(uint32_t a, uint32_t b, uint32_t selector) {
    uint64_t both = ((uint64_t)b << 32) | a;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) r |= (uint32_t)((both >> (8 * ((selector >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}
#endif
// Low halves of a and b (a's in the low half of the result), and high halves.
__device__ __forceinline__ uint32_t low_halves(uint32_t a, uint32_t b) { return byte_perm(a, b, 0x5410); }
__device__ __forceinline__ uint32_t high_halves(uint32_t a, uint32_t b) { return byte_perm(a, b, 0x7632); }

constexpr int BF16S_STAGE_HALVES = (PIPE_BM + PIPE_BN) * PIPE_BK;

__device__ __forceinline__ int kmajor_offset_bf16(int row, int k) {
    return row * PIPE_BK + ((((k >> 3) ^ (((row >> 1) & 1) << 1))) << 3) + (k & 7);
}
__device__ __forceinline__ int xmajor_offset_bf16(int k, int x, int width) {
    return k * width + ((((x >> 3) ^ (((k >> 2) & 3) << 1))) << 3) + (x & 7);
}

// Copies of one converted operand's slice: ROWS x COLS of a buffer of rows `pitch` apart (a multiple of 8),
// starting at (r0, c0); chunks of rows past rowLimit or past the pitch are zeros.
template <int ROWS, int COLS, bool KMAJOR>
__device__ __forceinline__ void load_tile_bf16(uint16_t* tile, const uint16_t* __restrict__ X, int pitch, int r0,
                                               int c0, int rowLimit, int tid) {
    constexpr int CHUNKS_PER_ROW = COLS / 8;
#pragma unroll
    for (int e = tid; e < ROWS * CHUNKS_PER_ROW; e += PIPE_THREADS) {
        int row = e / CHUNKS_PER_ROW, col = (e % CHUNKS_PER_ROW) * 8;
        int gr = r0 + row, gc = c0 + col;
        bool valid = gr < rowLimit && gc < pitch;
        const uint16_t* source = valid ? X + (i64)gr * pitch + gc : X;
        uint16_t* target = tile + (KMAJOR ? kmajor_offset_bf16(row, col) : xmajor_offset_bf16(row, col, COLS));
        cp_async16(target, source, valid ? 16 : 0);
    }
}

// Lane (g, t)'s four k of one row of a k-major tile at k group kg: registers (k 4t, 4t + 1), (4t + 2, 4t + 3).
__device__ __forceinline__ void kmajor_pairs(const uint16_t* tile, int row, int kg, int t, uint32_t (&r)[2]) {
    uint2 q = *reinterpret_cast<const uint2*>(tile + kmajor_offset_bf16(row, kg * 16 + 4 * t));
    r[0] = q.x;
    r[1] = q.y;
}
// Lane (g, t)'s four k of the two adjacent rows x, x + 1 of an x-major tile, regrouped by row: lo for row x,
// hi for row x + 1, each as registers (k 4t, 4t + 1), (4t + 2, 4t + 3).
template <int WIDTH>
__device__ __forceinline__ void xmajor_pairs(const uint16_t* tile, int x, int kg, int t, uint32_t (&lo)[2],
                                             uint32_t (&hi)[2]) {
    uint32_t w[4];  // w[s]: rows x (low half) and x + 1 (high half) at k 4t + s
#pragma unroll
    for (int s = 0; s < 4; s++) w[s] = *reinterpret_cast<const uint32_t*>(tile + xmajor_offset_bf16(kg * 16 + 4 * t + s, x, WIDTH));
    lo[0] = low_halves(w[0], w[1]);
    lo[1] = low_halves(w[2], w[3]);
    hi[0] = high_halves(w[0], w[1]);
    hi[1] = high_halves(w[2], w[3]);
}

// C[first + z] = A[z] @ B[z] from converted operands: A rows `lda` apart (M rows of K, or with A_T K rows
// of M), B rows `ldb` apart (K rows of N, or with B_T N rows of K); entry z of each follows the previous,
// unless the operand is broadcast over the batch (aBatched or bBatched 0: one entry for all).
template <bool A_T, bool B_T>
__device__ __forceinline__ void gemm_bf16_stored(const uint16_t* __restrict__ A, const uint16_t* __restrict__ B,
                                                 float* __restrict__ C, int M, int N, int K, int lda, int ldb,
                                                 int aBatched, int bBatched, int first) {
    constexpr int BM = PIPE_BM, BN = PIPE_BN, BK = PIPE_BK;
    extern __shared__ __align__(16) unsigned char gemm_smem[];
    uint16_t* smem = reinterpret_cast<uint16_t*>(gemm_smem);
    const int z = blockIdx.z;
    A += (i64)z * aBatched * (A_T ? K : M) * lda;
    B += (i64)z * bBatched * (B_T ? N : K) * ldb;
    C += (i64)(first + z) * M * N;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 64;
    const int g = lane >> 2, t = lane & 3;

    auto load_stage = [&](int stage, int k0) {
        uint16_t* a = smem + stage * BF16S_STAGE_HALVES;
        uint16_t* b = a + BM * BK;
        if (A_T) load_tile_bf16<BK, BM, false>(a, A, lda, k0, m0, K, tid);
        else load_tile_bf16<BM, BK, true>(a, A, lda, m0, k0, M, tid);
        if (B_T) load_tile_bf16<BN, BK, true>(b, B, ldb, n0, k0, N, tid);
        else load_tile_bf16<BK, BN, false>(b, B, ldb, k0, n0, K, tid);
    };

    float acc[4][8][4] = {};
    run_pipeline(K, load_stage, [&](int stage) {
        const uint16_t* a = smem + stage * BF16S_STAGE_HALVES;
        const uint16_t* b = a + BM * BK;
#pragma unroll
        for (int kg = 0; kg < BK / 16; kg++) {
            uint32_t af[4][4];  // m16k16 fragments: rows g (0, 2) and g + 8 (1, 3), k pairs (0, 1) then (2, 3)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                uint32_t lo[2], hi[2];
                if (A_T) {
                    xmajor_pairs<BM>(a, wm + i * 16 + 2 * g, kg, t, lo, hi);
                } else {
                    kmajor_pairs(a, wm + i * 16 + g, kg, t, lo);
                    kmajor_pairs(a, wm + i * 16 + g + 8, kg, t, hi);
                }
                af[i][0] = lo[0];
                af[i][1] = hi[0];
                af[i][2] = lo[1];
                af[i][3] = hi[1];
            }
#pragma unroll
            for (int p = 0; p < 4; p++) {
                uint32_t b0[2], b1[2];
                if (B_T) {
                    kmajor_pairs(b, wn + p * 16 + g, kg, t, b0);
                    kmajor_pairs(b, wn + p * 16 + 8 + g, kg, t, b1);
                } else {
                    xmajor_pairs<BN>(b, wn + p * 16 + 2 * g, kg, t, b0, b1);
                }
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    mma_bf16(acc[i][2 * p], af[i], b0);
                    mma_bf16(acc[i][2 * p + 1], af[i], b1);
                }
            }
        }
    });
    store_pipelined_tile<A_T, B_T>(C, acc, M, N, m0 + wm, n0 + wn, g, t);
}

// Dynamic shared memory: PIPE_STAGES * BF16S_STAGE_HALVES halves (72 KiB); MatmulKernels.BF16_STORED_SHARED_BYTES.
#define GEMM_BF16_STORED(NAME, A_T, B_T)                                                                          \
    extern "C" __global__ void __launch_bounds__(PIPE_THREADS)                                                  \
    NAME(const uint16_t* A, const uint16_t* B, float* C, int M, int N, int K, int lda, int ldb, int aBatched,  \
         int bBatched, int first) {                                                                             \
        gemm_bf16_stored<A_T, B_T>(A, B, C, M, N, K, lda, ldb, aBatched, bBatched, first);                      \
    }
GEMM_BF16_STORED(gemm_bf16s_nn, false, false)
GEMM_BF16_STORED(gemm_bf16s_nt, false, true)
GEMM_BF16_STORED(gemm_bf16s_tn, true, false)
GEMM_BF16_STORED(gemm_bf16s_tt, true, true)
