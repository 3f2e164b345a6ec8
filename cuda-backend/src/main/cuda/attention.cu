// Fused scaled-dot-product attention, forward and backward, flash-attention style: queries and keys are
// processed in tiles held in shared memory and the softmax is computed online, so no [Tq, Tk] matrix
// ever exists in global memory (memory is O(T D), not O(T^2)).
//
// Layout and semantics are Backend.attention's: q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv],
// any strides (broadcast views included); score(i, j) = scale (q_i . k_j + q_i . rel[h, j - i + Tq - 1])
// with the optional Transformer-XL term; causal: key j is visible from query i iff j <= i + Tk - Tq.
//
// The Transformer-XL term arrives as products already made: AttentionKernels computes
// R[b, h, i, r] = q_i . rel[h, r] with the GEMM (contiguous [B, H, Tq, Tk]), and the kernels add
// R[b, h, i, j - i + Tq - 1] to the score; rel itself never enters them. Backward, the dQ kernel writes the
// score gradient into the same layout, dR[b, h, i, j - i + Tq - 1] = scale dS_ij, and the GEMM turns it
// into q's share (dR rel) and rel's gradient (the sum over b of dR^T q). Reading rel row by row inside the
// kernels cost a scattered global load per score and feature, and its gradient a pass over B Tq scores
// per relative position.
//
// Tiles: TILE queries x TILE keys (32 for float, 16 for double, whose rows are twice as large), 256
// threads. Each tile step is three small matrix products done by the whole block out of shared memory:
// S = Q K^T (thread per score), the online-softmax update (warp per query row: the new running max,
// the rescale factor of the old accumulator, the row sum), and O = O * rescale + P V (thread per output
// element, the accumulators in registers). Rows are padded by one element so that threads reading
// different rows of K or V hit different banks. Everything runs on CUDA cores; a tensor-core version
// (mma.sync for Q K^T and P V) is the next step for speed.
//
// Backward follows FlashAttention-2: delta_i = dO_i . O_i first; then one kernel per key tile
// accumulates dK and dV over all query tiles, and one kernel per query tile accumulates dQ over all
// key tiles. Each recomputes P = exp(S - logsumexp) from the saved logsumexp instead of storing it, and
// dS = P (dO V^T - delta). Splitting dQ from dK/dV costs a second recomputation of S but needs no atomics,
// so gradients are deterministic.
//
// DMAX (32, 64, 128, 256) is the largest head dim a kernel handles; it sizes the register accumulators.
// The loops over a tile's 32 rows are unrolled 4 times, not fully: full unrolling inside the unrolled
// accumulator loops made the module several MB of PTX and about 14 s of JIT compilation at first use.
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

// scale (q_i . k_j + R[i, j - i + Tq - 1]); qrow and krow are padded rows in shared memory, relScores the
// (b, h) slice of R (unused without the XL term).
template <typename T>
__device__ __forceinline__ T attn_score(const T* qrow, const T* krow, const T* relScores, int i, int j,
                                        const AttnDims& S, T scale) {
    T s = T(0);
    for (int d = 0; d < S.D; d++) s += qrow[d] * krow[d];
    if (S.hasRel) s += relScores[rel_index(S, i, j)];
    return s * scale;
}

// rows [r0, r0 + TILE) of a [*, T, width] operand into a padded tile (pitch width + 1), zeros past `limit`.
template <typename T, int TILE>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int r0, int limit, int width, int st, int sd) {
    int pitch = width + 1;
    for (int e = threadIdx.x; e < TILE * width; e += blockDim.x) {
        int r = e / width, d = e % width;
        dst[r * pitch + d] = (r0 + r < limit) ? src[(r0 + r) * st + d * sd] : T(0);
    }
}

// ---- forward ---------------------------------------------------------------------------------------

template <typename T, int DMAX>
__device__ void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const T* relScores,
                                  const AttnDims& S, const Strides4& qs, const Strides4& ks, const Strides4& vs,
                                  double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    constexpr int ACC = TILE * DMAX / ATTN_THREADS;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    const int pd = S.D + 1, pv = S.Dv + 1, ps = TILE + 1;
    T* Qs = (T*)attention_smem;  // [TILE][pd]
    T* Ks = Qs + TILE * pd;      // [TILE][pd]
    T* Vs = Ks + TILE * pd;      // [TILE][pv]
    T* Ss = Vs + TILE * pv;      // [TILE][ps]: scores, then probabilities
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

    load_tile<T, TILE>(Qs, qb, i0, S.Tq, S.D, qs.t, qs.d);
    for (int r = tid; r < TILE; r += ATTN_THREADS) {
        Ms[r] = neg_inf<T>();
        Ls[r] = T(0);
    }
    T acc[ACC];
#pragma unroll
    for (int a = 0; a < ACC; a++) acc[a] = T(0);

    // With a causal mask, keys past the last row's horizon are invisible to the whole tile.
    const int kEnd = S.causal ? min(S.Tk, i0 + TILE + S.Tk - S.Tq) : S.Tk;
    for (int j0 = 0; j0 < kEnd; j0 += TILE) {
        __syncthreads();
        load_tile<T, TILE>(Ks, kb, j0, S.Tk, S.D, ks.t, ks.d);
        load_tile<T, TILE>(Vs, vb, j0, S.Tk, S.Dv, vs.t, vs.d);
        __syncthreads();
        for (int e = tid; e < TILE * TILE; e += ATTN_THREADS) {
            int r = e / TILE, c = e % TILE;
            int i = i0 + r, j = j0 + c;
            Ss[r * ps + c] = attn_visible(S, i, j) ? attn_score(Qs + r * pd, Ks + c * pd, rb, i, j, S, scale)
                                                   : neg_inf<T>();
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
        for (int a = 0; a < ACC; a++) {
            int e = tid + a * ATTN_THREADS;
            int r = e / DMAX, d = e % DMAX;
            if (d < S.Dv) {
                T o = acc[a] * Cs[r];
#pragma unroll 4
                for (int c = 0; c < TILE; c++) o += Ss[r * ps + c] * Vs[c * pv + d];
                acc[a] = o;
            }
        }
    }
    __syncthreads();
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
#pragma unroll
    for (int a = 0; a < ACC; a++) {
        int e = tid + a * ATTN_THREADS;
        int r = e / DMAX, d = e % DMAX;
        int i = i0 + r;
        if (d < S.Dv && i < S.Tq) out[(rowBase + i) * S.Dv + d] = Ls[r] > T(0) ? acc[a] / Ls[r] : T(0);
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

// Shared-memory tiles of both backward kernels.
template <typename T, int TILE>
struct BackwardTiles {
    T *Qs, *dOs, *Ks, *Vs, *Ps, *dSs, *Ls, *Ds;
    int pd, pv, ps;
    __device__ BackwardTiles(unsigned char* raw, const AttnDims& S) {
        pd = S.D + 1;
        pv = S.Dv + 1;
        ps = TILE + 1;
        Qs = (T*)raw;
        dOs = Qs + TILE * pd;
        Ks = dOs + TILE * pv;
        Vs = Ks + TILE * pd;
        Ps = Vs + TILE * pv;
        dSs = Ps + TILE * ps;
        Ls = dSs + TILE * ps;
        Ds = Ls + TILE;
    }

    // P and dS of the current (query tile, key tile) pair; relScores is the (b, h) slice of R.
    __device__ void probabilities(const AttnDims& S, int i0, int j0, const T* relScores, T scale) {
        for (int e = threadIdx.x; e < TILE * TILE; e += blockDim.x) {
            int r = e / TILE, c = e % TILE;
            int i = i0 + r, j = j0 + c;
            T p = T(0), ds = T(0);
            if (attn_visible(S, i, j)) {
                p = exp(attn_score(Qs + r * pd, Ks + c * pd, relScores, i, j, S, scale) - Ls[r]);
                T dp = T(0);
                for (int d = 0; d < S.Dv; d++) dp += dOs[r * pv + d] * Vs[c * pv + d];
                ds = p * (dp - Ds[r]);
            }
            Ps[r * ps + c] = p;
            dSs[r * ps + c] = ds;
        }
    }

    __device__ void loadQueries(const T* qb, const T* gb, const T* lseRow, const T* deltaRow, int i0, const AttnDims& S,
                                const Strides4& qs, const Strides4& gs) {
        load_tile<T, TILE>(Qs, qb, i0, S.Tq, S.D, qs.t, qs.d);
        load_tile<T, TILE>(dOs, gb, i0, S.Tq, S.Dv, gs.t, gs.d);
        for (int r = threadIdx.x; r < TILE; r += blockDim.x) {
            bool in = i0 + r < S.Tq;
            Ls[r] = in ? lseRow[i0 + r] : T(0);
            Ds[r] = in ? deltaRow[i0 + r] : T(0);
        }
    }

    __device__ void loadKeys(const T* kb, const T* vb, int j0, const AttnDims& S, const Strides4& ks,
                             const Strides4& vs) {
        load_tile<T, TILE>(Ks, kb, j0, S.Tk, S.D, ks.t, ks.d);
        load_tile<T, TILE>(Vs, vb, j0, S.Tk, S.Dv, vs.t, vs.d);
    }
};

// dK = scale sum_i dS_ij q_i and dV = sum_i P_ij dO_i for one key tile; blockIdx = (key tile, h, b).
template <typename T, int DMAX>
__device__ void attention_backward_kv(T* dk, T* dv, const T* q, const T* k, const T* v, const T* relScores,
                                      const T* dout, const T* lse, const T* delta, const AttnDims& S,
                                      const Strides4& qs, const Strides4& ks, const Strides4& vs, const Strides4& gs,
                                      double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    constexpr int ACC = TILE * DMAX / ATTN_THREADS;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    BackwardTiles<T, TILE> t(attention_smem, S);
    const int b = blockIdx.z, h = blockIdx.y, j0 = blockIdx.x * TILE, tid = threadIdx.x;
    const T scale = (T)scaleD;
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
    t.loadKeys(k + b * ks.b + h * ks.h, v + b * vs.b + h * vs.h, j0, S, ks, vs);
    T accK[ACC], accV[ACC];
#pragma unroll
    for (int a = 0; a < ACC; a++) accK[a] = accV[a] = T(0);
    // Causal: queries before j0 - (Tk - Tq) cannot see any key of this tile.
    int iStart = S.causal ? max(0, j0 - (S.Tk - S.Tq)) / TILE * TILE : 0;
    for (int i0 = iStart; i0 < S.Tq; i0 += TILE) {
        __syncthreads();
        t.loadQueries(q + b * qs.b + h * qs.h, dout + b * gs.b + h * gs.h, lse + rowBase, delta + rowBase, i0, S, qs, gs);
        __syncthreads();
        t.probabilities(S, i0, j0, relScores + rowBase * S.Tk, scale);
        __syncthreads();
#pragma unroll
        for (int a = 0; a < ACC; a++) {
            int e = tid + a * ATTN_THREADS;
            int c = e / DMAX, d = e % DMAX;
            T sk = T(0), sv = T(0);
#pragma unroll 4
            for (int r = 0; r < TILE; r++) {
                if (d < S.D) sk += t.dSs[r * t.ps + c] * t.Qs[r * t.pd + d];
                if (d < S.Dv) sv += t.Ps[r * t.ps + c] * t.dOs[r * t.pv + d];
            }
            accK[a] += sk;
            accV[a] += sv;
        }
    }
    const i64 keyBase = ((i64)b * S.H + h) * S.Tk;
#pragma unroll
    for (int a = 0; a < ACC; a++) {
        int e = tid + a * ATTN_THREADS;
        int c = e / DMAX, d = e % DMAX;
        int j = j0 + c;
        if (j >= S.Tk) continue;
        if (d < S.D) dk[(keyBase + j) * S.D + d] = accK[a] * scale;
        if (d < S.Dv) dv[(keyBase + j) * S.Dv + d] = accV[a];
    }
}

// dQ = scale sum_j dS_ij k_j for one query tile, and with the XL term dR[i, j - i + Tq - 1] = scale dS_ij
// (dR zero-filled by the caller: positions no key reaches stay zero); blockIdx = (query tile, h, b).
template <typename T, int DMAX>
__device__ void attention_backward_q(T* dq, T* dRelScores, const T* q, const T* k, const T* v, const T* relScores,
                                     const T* dout, const T* lse, const T* delta, const AttnDims& S,
                                     const Strides4& qs, const Strides4& ks, const Strides4& vs, const Strides4& gs,
                                     double scaleD) {
    constexpr int TILE = AttnTile<T>::SIZE;
    constexpr int ACC = TILE * DMAX / ATTN_THREADS;
    extern __shared__ __align__(16) unsigned char attention_smem[];
    BackwardTiles<T, TILE> t(attention_smem, S);
    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * TILE, tid = threadIdx.x;
    const T scale = (T)scaleD;
    const i64 rowBase = ((i64)b * S.H + h) * S.Tq;
    t.loadQueries(q + b * qs.b + h * qs.h, dout + b * gs.b + h * gs.h, lse + rowBase, delta + rowBase, i0, S, qs, gs);
    T acc[ACC];
#pragma unroll
    for (int a = 0; a < ACC; a++) acc[a] = T(0);
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
#pragma unroll
        for (int a = 0; a < ACC; a++) {
            int e = tid + a * ATTN_THREADS;
            int r = e / DMAX, d = e % DMAX;
            if (d >= S.D) continue;
            T s = T(0);
#pragma unroll 4
            for (int c = 0; c < TILE; c++) s += t.dSs[r * t.ps + c] * t.Ks[c * t.pd + d];
            acc[a] += s;
        }
    }
#pragma unroll
    for (int a = 0; a < ACC; a++) {
        int e = tid + a * ATTN_THREADS;
        int r = e / DMAX, d = e % DMAX;
        int i = i0 + r;
        if (d < S.D && i < S.Tq) dq[(rowBase + i) * S.D + d] = acc[a] * scale;
    }
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
