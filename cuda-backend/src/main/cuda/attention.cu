// Fused scaled-dot-product attention, forward and backward, flash-attention style: queries and keys are
// processed in tiles held in shared memory and the softmax is computed online, so no matrix of
// probabilities ever exists in global memory (memory is O(T D), not O(T^2)). The Transformer-XL term is
// the exception: its products R and their gradient dR ([Tq, Tk] per batch entry and head, below) are
// made in global memory and live for one call.
//
// Layout and semantics are Backend.attention's: q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv],
// any strides (broadcast views included); score(i, j) = scale (q_i . k_j + q_i . rel[h, j - i + Tq - 1])
// with the optional Transformer-XL term; causal: key j is visible from query i iff j <= i + Tk - Tq.
//
// The Transformer-XL term (causal attention only: AttentionKernels checks) arrives as products already
// made: AttentionKernels computes R[b, h, i, r] = q_i . rel[h, r] with the GEMM (contiguous
// [B, H, Tq, Tk]), and the kernels add R[b, h, i, j - i + Tq - 1] to the score; rel itself never enters
// them. Backward, the dQ kernel writes the score gradient into the same layout,
// dR[b, h, i, j - i + Tq - 1] = scale dS_ij, and the GEMM turns it into q's share (dR rel) and rel's
// gradient (the sum over b of dR^T q). Reading rel row by row inside the kernels cost a scattered global
// load per score and feature, and its gradient a pass over B Tq scores per relative position.
//
// Tiles: TILE queries x TILE keys (32 for float, 16 for double, whose rows are twice as large), 256
// threads. Each tile step is three small matrix products done by the whole block out of shared memory:
// S = Q K^T, the online-softmax update (warp per query row: the new running max, the rescale factor of the
// old accumulator, the row sum), and O = O * rescale + P V, with the accumulators in registers. The
// products are register-blocked so that shared memory is not what limits them (a plain dot product per
// thread loads two operands per multiply-add): in S = Q K^T (TileDots) a thread owns one key and
// SCORES_PER_THREAD queries and reads four features of each per vector load; in P V (TileBlock) a thread
// owns COLS consecutive output features of ROWS queries, so that each key's four features come in one
// vector load and serve ROWS rows.
// The backward's products (dO V^T, dS K, dS^T Q, P^T dO) use the same two routines. Row tiles have a pitch
// of DMAX + 4 elements: 16-byte aligned for the vector loads, and rows 4 banks apart, so that eight threads
// reading eight rows hit 32 different banks. Everything runs on CUDA cores; a tensor-core version
// (mma.sync for Q K^T and P V) is the next step for speed.
//
// Backward follows FlashAttention-2: delta_i = dO_i . O_i first; then one kernel per key tile
// accumulates dK and dV over all query tiles, and one kernel per query tile accumulates dQ over all
// key tiles. Each recomputes P = exp(S - logsumexp) from the saved logsumexp instead of storing it, and
// dS = P (dO V^T - delta). Splitting dQ from dK/dV costs a second recomputation of S but needs no atomics,
// so gradients are deterministic.
//
// DMAX (32, 64, 128, 256) is the largest head dim a kernel handles; it sizes the register accumulators
// and the tiles' pitch. The loops over a tile's rows and features are unrolled a few times, not fully:
// full unrolling inside the unrolled accumulator loops made the module several MB of PTX and about 14 s of
// JIT compilation at first use.
#include "ladon.cuh"

struct AttnDims {
    int B, H, Tq, Tk, D, Dv, causal, hasRel;
};

// Strides in elements along (batch, head, position, feature).
struct Strides4 {
    int b, h, t, d;
};

template <typename T> struct AttnTile { static constexpr int SIZE = 32; };
template <> struct AttnTile<double> { static constexpr int SIZE = 16; };

#define ATTN_THREADS 256

template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double neg_inf<double>() { return -__longlong_as_double(0x7ff0000000000000LL); }

template <typename T> __device__ __forceinline__ T warp_max_t(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

template <typename T> __device__ __forceinline__ T warp_sum_t(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ bool attn_visible(const AttnDims& S, int i, int j) {
    return i < S.Tq && j < S.Tk && (!S.causal || j <= i + S.Tk - S.Tq);
}

// Offset of (i, relative position j - i + Tq - 1) in one (b, h) slice of R or dR.
__device__ __forceinline__ i64 rel_index(const AttnDims& S, int i, int j) {
    return (i64)i * S.Tk + (j - i + S.Tq - 1);
}

// Row tiles in shared memory: rows of DMAX + 4 elements (see above).
template <int DMAX> __device__ __forceinline__ constexpr int tile_pitch() { return DMAX + 4; }

__device__ __forceinline__ int round_up4(int n) { return (n + 3) & ~3; }

// Rows [r0, r0 + TILE) of a [*, T, width] operand into a tile, zeros past `limit` rows and past `width`
// up to a multiple of four features (what the vector loads read).
template <typename T, int TILE>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int r0, int limit, int width, int st, int sd,
                                          int pitch) {
    int width4 = round_up4(width);
    for (int e = threadIdx.x; e < TILE * width4; e += blockDim.x) {
        int r = e / width4, d = e % width4;
        dst[r * pitch + d] = (r0 + r < limit && d < width) ? src[(r0 + r) * st + d * sd] : T(0);
    }
}

// Both register-blocked products below lay a warp's 32 lanes out as 8 columns x 4 rows: the eight lanes
// of a row read eight different 16-byte pieces of one operand (128 bytes, one shared-memory wavefront) and
// the four rows read four rows of the other (four pitches apart: different banks, one wavefront), where a
// warp spread along one dim would need four wavefronts for its 32 different pieces.

// A tile of dot products: dots[k] = A[row(k)] . B[col()] over `width4` features (a multiple of four,
// zeros past the real width). Warp w covers the 8 key columns (w % KEY_BLOCKS) 8 + lane % 8 and a block of
// TILE^2 / 64 query rows, lane / 8 + 4 k within it.
template <typename T, int TILE>
struct TileDots {
    static constexpr int SCORES_PER_THREAD = TILE * TILE / ATTN_THREADS;
    static constexpr int KEY_BLOCKS = TILE / 8;
    static constexpr int ROWS_PER_BLOCK = TILE / (ATTN_THREADS / 32 / KEY_BLOCKS);
    static_assert(ROWS_PER_BLOCK == 4 * SCORES_PER_THREAD, "every score of the tile once");
    static __device__ __forceinline__ int col() { return (threadIdx.x / 32 % KEY_BLOCKS) * 8 + threadIdx.x % 8; }
    static __device__ __forceinline__ int row(int k) {
        return threadIdx.x / 32 / KEY_BLOCKS * ROWS_PER_BLOCK + threadIdx.x % 32 / 8 + 4 * k;
    }

    static __device__ __forceinline__ void compute(const T* A, const T* B, int pitch, int width4,
                                                   T (&dots)[SCORES_PER_THREAD]) {
#pragma unroll
        for (int k = 0; k < SCORES_PER_THREAD; k++) dots[k] = T(0);
        const T* b = B + col() * pitch;
#pragma unroll 2
        for (int d = 0; d < width4; d += 4) {
            T bv[4];
            load4(b + d, bv);
#pragma unroll
            for (int k = 0; k < SCORES_PER_THREAD; k++) {
                T av[4];
                load4(A + row(k) * pitch + d, av);
                dots[k] += av[0] * bv[0] + av[1] * bv[1] + av[2] * bv[2] + av[3] * bv[3];
            }
        }
    }
};

// A register block of a TILE x DMAX product: this thread's ROWS rows x COLS consecutive features,
// acc[k][w] for row row(k) and feature col0() + w. Warp w covers the 8 column chunks
// (w % CHUNK_BLOCKS) 8 + lane % 8 and the row groups (w / CHUNK_BLOCKS) 4 + lane / 8; a thread's rows are
// its group plus multiples of ROW_GROUPS.
template <typename T, int TILE, int DMAX>
struct TileBlock {
    static constexpr int PER_THREAD = TILE * DMAX / ATTN_THREADS;
    static constexpr int COLS = PER_THREAD < 4 ? PER_THREAD : 4;
    static constexpr int ROWS = PER_THREAD / COLS;
    static constexpr int CHUNKS = DMAX / COLS;  // column chunks across a row
    static constexpr int CHUNK_BLOCKS = CHUNKS / 8;
    static constexpr int ROW_GROUPS = ATTN_THREADS / CHUNKS;
    static_assert(CHUNKS % 8 == 0 && (ATTN_THREADS / 32) % CHUNK_BLOCKS == 0 && ROWS * ROW_GROUPS == TILE,
                  "warps of 8 chunks x 4 row groups tile the block");
    static __device__ __forceinline__ int col0() {
        return ((threadIdx.x / 32 % CHUNK_BLOCKS) * 8 + threadIdx.x % 8) * COLS;
    }
    static __device__ __forceinline__ int row(int k) {
        return threadIdx.x / 32 / CHUNK_BLOCKS * 4 + threadIdx.x % 32 / 8 + k * ROW_GROUPS;
    }

    // acc[k][w] += sum over m < TILE of W(row k, m) X[m][col0 + w], where W(r, m) is Ws[r * ps + m], or
    // Ws[m * ps + r] when W_TRANSPOSED; X is a row tile. Features from `width` on are not needed: a thread
    // whose chunk starts there skips the sum (whole warps do, past the head dim's last chunk).
    template <bool W_TRANSPOSED>
    static __device__ __forceinline__ void accumulate(T (&acc)[ROWS][COLS], const T* Ws, int ps, const T* X,
                                                      int pitch, int width) {
        const int c0 = col0();
        if (c0 >= width) return;
#pragma unroll 4
        for (int m = 0; m < TILE; m++) {
            T x[COLS];
            if constexpr (COLS == 4) {
                load4(X + m * pitch + c0, x);
            } else {
#pragma unroll
                for (int w = 0; w < COLS; w++) x[w] = X[m * pitch + c0 + w];
            }
#pragma unroll
            for (int k = 0; k < ROWS; k++) {
                T wv = W_TRANSPOSED ? Ws[m * ps + row(k)] : Ws[row(k) * ps + m];
#pragma unroll
                for (int w = 0; w < COLS; w++) acc[k][w] += wv * x[w];
            }
        }
    }
};

// Zeroes a register block.
template <typename T, int ROWS, int COLS>
__device__ __forceinline__ void zero(T (&acc)[ROWS][COLS]) {
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int w = 0; w < COLS; w++) acc[r][w] = T(0);
}

// Writes a register block of rows [r0, r0 + TILE) (rows past `rows` and features past `width` skipped)
// into a contiguous [*, width] output, times `factor`.
template <typename T, typename Block>
__device__ __forceinline__ void store_block(T* dst, const T (&acc)[Block::ROWS][Block::COLS], i64 rowBase, int r0,
                                            int rows, int width, T factor) {
#pragma unroll
    for (int r = 0; r < Block::ROWS; r++) {
        int row = r0 + Block::row(r);
#pragma unroll
        for (int w = 0; w < Block::COLS; w++) {
            int d = Block::col0() + w;
            if (row < rows && d < width) dst[(rowBase + row) * width + d] = acc[r][w] * factor;
        }
    }
}

// ---- forward ---------------------------------------------------------------------------------------

template <typename T, int DMAX>
__device__ void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const T* relScores,
                                  const AttnDims& S, const Strides4& qs, const Strides4& ks, const Strides4& vs,
                                  double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    typedef TileDots<T, TILE> Dots;
    typedef TileBlock<T, TILE, DMAX> Block;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    const int pitch = tile_pitch<DMAX>(), ps = TILE + 1;
    T* Qs = (T*)attention_smem;  // [TILE][pitch]
    T* Ks = Qs + TILE * pitch;   // [TILE][pitch]
    T* Vs = Ks + TILE * pitch;   // [TILE][pitch]
    T* Ss = Vs + TILE * pitch;   // [TILE][ps]: scores, then probabilities
    T* Ms = Ss + TILE * ps;      // running max per query row
    T* Ls = Ms + TILE;           // running sum of exp(s - max)
    T* Cs = Ls + TILE;           // this step's rescale factor exp(old max - new max)

    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * TILE;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const T scale = (T)scaleD;
    const T* qb = q + b * qs.b + h * qs.h;
    const T* kb = k + b * ks.b + h * ks.h;
    const T* vb = v + b * vs.b + h * vs.h;
    const T* rb = relScores + ((i64)b * S.H + h) * S.Tq * S.Tk;
    const int d4 = round_up4(S.D);

    load_tile<T, TILE>(Qs, qb, i0, S.Tq, S.D, qs.t, qs.d, pitch);
    for (int r = tid; r < TILE; r += ATTN_THREADS) {
        Ms[r] = neg_inf<T>();
        Ls[r] = T(0);
    }
    T acc[Block::ROWS][Block::COLS];
    zero(acc);

    // With a causal mask, keys past the last row's horizon are invisible to the whole tile.
    const int kEnd = S.causal ? min(S.Tk, i0 + TILE + S.Tk - S.Tq) : S.Tk;
    for (int j0 = 0; j0 < kEnd; j0 += TILE) {
        __syncthreads();
        load_tile<T, TILE>(Ks, kb, j0, S.Tk, S.D, ks.t, ks.d, pitch);
        load_tile<T, TILE>(Vs, vb, j0, S.Tk, S.Dv, vs.t, vs.d, pitch);
        __syncthreads();
        T dots[Dots::SCORES_PER_THREAD];
        Dots::compute(Qs, Ks, pitch, d4, dots);
#pragma unroll
        for (int n = 0; n < Dots::SCORES_PER_THREAD; n++) {
            int r = Dots::row(n), c = Dots::col();
            int i = i0 + r, j = j0 + c;
            T score = dots[n];
            if (S.hasRel && attn_visible(S, i, j)) score += rb[rel_index(S, i, j)];
            Ss[r * ps + c] = attn_visible(S, i, j) ? score * scale : neg_inf<T>();
        }
        __syncthreads();
        for (int r = warp; r < TILE; r += ATTN_THREADS / 32) {
            T s = lane < TILE ? Ss[r * ps + lane] : neg_inf<T>();
            T mOld = Ms[r];
            T mNew = max(mOld, warp_max_t(s));
            T p = mNew == neg_inf<T>() ? T(0) : exp(s - mNew);
            T corr = mOld == neg_inf<T>() ? T(0) : exp(mOld - mNew);
            T l = warp_sum_t(p);
            if (lane < TILE) Ss[r * ps + lane] = p;
            if (lane == 0) {
                Ms[r] = mNew;
                Ls[r] = Ls[r] * corr + l;
                Cs[r] = corr;
            }
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < Block::ROWS; r++)
#pragma unroll
            for (int w = 0; w < Block::COLS; w++) acc[r][w] *= Cs[Block::row(r)];
        Block::template accumulate<false>(acc, Ss, ps, Vs, pitch, S.Dv);
    }
    __syncthreads();
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
#pragma unroll
    for (int r = 0; r < Block::ROWS; r++) {
        int row = Block::row(r), i = i0 + row;
#pragma unroll
        for (int w = 0; w < Block::COLS; w++) {
            int d = Block::col0() + w;
            if (d < S.Dv && i < S.Tq) out[(rowBase + i) * S.Dv + d] = Ls[row] > T(0) ? acc[r][w] / Ls[row] : T(0);
        }
    }
    for (int r = tid; r < TILE; r += ATTN_THREADS) {
        int i = i0 + r;
        if (i < S.Tq) lse[rowBase + i] = Ls[r] > T(0) ? Ms[r] + log(Ls[r]) : neg_inf<T>();
    }
}

// ---- backward --------------------------------------------------------------------------------------

// delta[b, h, i] = dO_i . O_i, one warp per row.
template <typename T>
__device__ void attention_delta(T* delta, const T* dout, const T* out, AttnDims S, Strides4 gs, Strides4 os) {
    int lane = threadIdx.x & 31;
    int warpsPerBlock = blockDim.x >> 5;
    i64 rows = (i64)S.B * S.H * S.Tq;
    for (i64 row = (i64)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); row < rows; row += (i64)gridDim.x * warpsPerBlock) {
        int i = (int)(row % S.Tq);
        int h = (int)((row / S.Tq) % S.H);
        int b = (int)(row / ((i64)S.Tq * S.H));
        const T* g = dout + b * gs.b + h * gs.h + i * gs.t;
        const T* o = out + b * os.b + h * os.h + i * os.t;
        double s = 0.0;
        for (int d = lane; d < S.Dv; d += 32) s += (double)g[d * gs.d] * (double)o[d * os.d];
        s = warp_sum(s);
        if (lane == 0) delta[row] = (T)s;
    }
}

// Shared-memory tiles of both backward kernels: four row tiles, then P and dS, then the rows' logsumexp
// and delta.
template <typename T, int TILE, int DMAX>
struct BackwardTiles {
    T *Qs, *dOs, *Ks, *Vs, *Ps, *dSs, *Ls, *Ds;
    static constexpr int pitch = tile_pitch<DMAX>(), ps = TILE + 1;
    __device__ BackwardTiles(unsigned char* raw) {
        Qs = (T*)raw;
        dOs = Qs + TILE * pitch;
        Ks = dOs + TILE * pitch;
        Vs = Ks + TILE * pitch;
        Ps = Vs + TILE * pitch;
        dSs = Ps + TILE * ps;
        Ls = dSs + TILE * ps;
        Ds = Ls + TILE;
    }

    // P and dS of the current (query tile, key tile) pair; relScores is the (b, h) slice of R.
    __device__ void probabilities(const AttnDims& S, int i0, int j0, const T* relScores, T scale) {
        typedef TileDots<T, TILE> Dots;
        T qk[Dots::SCORES_PER_THREAD], dp[Dots::SCORES_PER_THREAD];
        Dots::compute(Qs, Ks, pitch, round_up4(S.D), qk);
        Dots::compute(dOs, Vs, pitch, round_up4(S.Dv), dp);
#pragma unroll
        for (int n = 0; n < Dots::SCORES_PER_THREAD; n++) {
            int r = Dots::row(n), c = Dots::col();
            int i = i0 + r, j = j0 + c;
            T p = T(0), ds = T(0);
            if (attn_visible(S, i, j)) {
                T score = qk[n];
                if (S.hasRel) score += relScores[rel_index(S, i, j)];
                p = exp(score * scale - Ls[r]);
                ds = p * (dp[n] - Ds[r]);
            }
            Ps[r * ps + c] = p;
            dSs[r * ps + c] = ds;
        }
    }

    __device__ void loadQueries(const T* qb, const T* gb, const T* lseRow, const T* deltaRow, int i0, const AttnDims& S,
                                const Strides4& qs, const Strides4& gs) {
        load_tile<T, TILE>(Qs, qb, i0, S.Tq, S.D, qs.t, qs.d, pitch);
        load_tile<T, TILE>(dOs, gb, i0, S.Tq, S.Dv, gs.t, gs.d, pitch);
        for (int r = threadIdx.x; r < TILE; r += blockDim.x) {
            bool in = i0 + r < S.Tq;
            Ls[r] = in ? lseRow[i0 + r] : T(0);
            Ds[r] = in ? deltaRow[i0 + r] : T(0);
        }
    }

    __device__ void loadKeys(const T* kb, const T* vb, int j0, const AttnDims& S, const Strides4& ks,
                             const Strides4& vs) {
        load_tile<T, TILE>(Ks, kb, j0, S.Tk, S.D, ks.t, ks.d, pitch);
        load_tile<T, TILE>(Vs, vb, j0, S.Tk, S.Dv, vs.t, vs.d, pitch);
    }
};

// dK = scale sum_i dS_ij q_i and dV = sum_i P_ij dO_i for one key tile; blockIdx = (key tile, h, b).
template <typename T, int DMAX>
__device__ void attention_backward_kv(T* dk, T* dv, const T* q, const T* k, const T* v, const T* relScores,
                                      const T* dout, const T* lse, const T* delta, const AttnDims& S,
                                      const Strides4& qs, const Strides4& ks, const Strides4& vs, const Strides4& gs,
                                      double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    typedef TileBlock<T, TILE, DMAX> Block;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    BackwardTiles<T, TILE, DMAX> t(attention_smem);
    const int b = blockIdx.z, h = blockIdx.y, j0 = blockIdx.x * TILE;
    const T scale = (T)scaleD;
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
    t.loadKeys(k + b * ks.b + h * ks.h, v + b * vs.b + h * vs.h, j0, S, ks, vs);
    // Rows of the blocks are this tile's keys.
    T accK[Block::ROWS][Block::COLS], accV[Block::ROWS][Block::COLS];
    zero(accK);
    zero(accV);
    // Causal: queries before j0 - (Tk - Tq) cannot see any key of this tile.
    int iStart = S.causal ? max(0, j0 - (S.Tk - S.Tq)) / TILE * TILE : 0;
    for (int i0 = iStart; i0 < S.Tq; i0 += TILE) {
        __syncthreads();
        t.loadQueries(q + b * qs.b + h * qs.h, dout + b * gs.b + h * gs.h, lse + rowBase, delta + rowBase, i0, S, qs, gs);
        __syncthreads();
        t.probabilities(S, i0, j0, relScores + rowBase * S.Tk, scale);
        __syncthreads();
        Block::template accumulate<true>(accK, t.dSs, t.ps, t.Qs, t.pitch, S.D);
        Block::template accumulate<true>(accV, t.Ps, t.ps, t.dOs, t.pitch, S.Dv);
    }
    const i64 keyBase = ((i64)b * S.H + h) * S.Tk;
    store_block<T, Block>(dk, accK, keyBase, j0, S.Tk, S.D, scale);
    store_block<T, Block>(dv, accV, keyBase, j0, S.Tk, S.Dv, T(1));
}

// dQ = scale sum_j dS_ij k_j for one query tile, and with the XL term dR[i, j - i + Tq - 1] = scale dS_ij
// (dR zero-filled by the caller: positions no key reaches stay zero); blockIdx = (query tile, h, b).
template <typename T, int DMAX>
__device__ void attention_backward_q(T* dq, T* dRelScores, const T* q, const T* k, const T* v, const T* relScores,
                                     const T* dout, const T* lse, const T* delta, const AttnDims& S,
                                     const Strides4& qs, const Strides4& ks, const Strides4& vs, const Strides4& gs,
                                     double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    typedef TileBlock<T, TILE, DMAX> Block;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    BackwardTiles<T, TILE, DMAX> t(attention_smem);
    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * TILE, tid = threadIdx.x;
    const T scale = (T)scaleD;
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
    t.loadQueries(q + b * qs.b + h * qs.h, dout + b * gs.b + h * gs.h, lse + rowBase, delta + rowBase, i0, S, qs, gs);
    T acc[Block::ROWS][Block::COLS];
    zero(acc);
    const int kEnd = S.causal ? min(S.Tk, i0 + TILE + S.Tk - S.Tq) : S.Tk;
    for (int j0 = 0; j0 < kEnd; j0 += TILE) {
        __syncthreads();
        t.loadKeys(k + b * ks.b + h * ks.h, v + b * vs.b + h * vs.h, j0, S, ks, vs);
        __syncthreads();
        t.probabilities(S, i0, j0, relScores + rowBase * S.Tk, scale);
        __syncthreads();
        if (S.hasRel) {
            T* dRb = dRelScores + rowBase * S.Tk;
            for (int e = tid; e < TILE * TILE; e += ATTN_THREADS) {
                int r = e / TILE, c = e % TILE;
                int i = i0 + r, j = j0 + c;
                if (attn_visible(S, i, j)) dRb[rel_index(S, i, j)] = t.dSs[r * t.ps + c] * scale;
            }
        }
        Block::template accumulate<false>(acc, t.dSs, t.ps, t.Ks, t.pitch, S.D);
    }
    store_block<T, Block>(dq, acc, rowBase, i0, S.Tq, S.D, scale);
}

#define ATTN_COMMON_PARAMS AttnDims S, Strides4 qs, Strides4 ks, Strides4 vs

// relScores (R) and dRelScores (dR): contiguous [B, H, Tq, Tk]; unused (may be null) without the XL term.
#define LADON_ATTENTION(S_, T, DM)                                                                          \
    extern "C" __global__ void __launch_bounds__(ATTN_THREADS) attention_forward_##S_##_d##DM(               \
        T* out, T* lse, const T* q, const T* k, const T* v, const T* relScores, ATTN_COMMON_PARAMS,         \
        double scale) {                                                                                    \
        attention_forward<T, DM>(out, lse, q, k, v, relScores, S, qs, ks, vs, scale);                      \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(ATTN_THREADS) attention_backward_kv_##S_##_d##DM(           \
        T* dk, T* dv, const T* q, const T* k, const T* v, const T* relScores, const T* dout, const T* lse, \
        const T* delta, ATTN_COMMON_PARAMS, Strides4 gs, double scale) {                                   \
        attention_backward_kv<T, DM>(dk, dv, q, k, v, relScores, dout, lse, delta, S, qs, ks, vs, gs, scale); \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(ATTN_THREADS) attention_backward_q_##S_##_d##DM(            \
        T* dq, T* dRelScores, const T* q, const T* k, const T* v, const T* relScores, const T* dout,       \
        const T* lse, const T* delta, ATTN_COMMON_PARAMS, Strides4 gs, double scale) {                     \
        attention_backward_q<T, DM>(dq, dRelScores, q, k, v, relScores, dout, lse, delta, S, qs, ks, vs, gs, \
                                    scale);                                                                \
    }

#define LADON_ATTENTION_DIMS(S_, T) \
    LADON_ATTENTION(S_, T, 32) LADON_ATTENTION(S_, T, 64) LADON_ATTENTION(S_, T, 128) LADON_ATTENTION(S_, T, 256)
LADON_ATTENTION_DIMS(f32, float)
LADON_ATTENTION_DIMS(f64, double)

extern "C" __global__ void attention_delta_f32(float* delta, const float* dout, const float* out, AttnDims S,
                                               Strides4 gs, Strides4 os) {
    attention_delta<float>(delta, dout, out, S, gs, os);
}

extern "C" __global__ void attention_delta_f64(double* delta, const double* dout, const double* out, AttnDims S,
                                               Strides4 gs, Strides4 os) {
    attention_delta<double>(delta, dout, out, S, gs, os);
}
