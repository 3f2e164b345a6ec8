// The mixture-of-experts grouped matmul: out[p] = gate[p] (x[row[p]] @ weight[expert[p]]) for each
// (row, expert) pair p, with x [N, Din], weight [E, Din, Dout] (both contiguous here), and its backward.
// Work is proportional to the number of pairs P, whatever the number of experts E.
//
// Forward: a block computes a tile of 16 pairs x 64 output columns. The 16 rows of x are staged through
// shared memory 32 features at a time; the weight rows are read straight from global memory, coalesced
// across the 64 columns. When consecutive pairs share an expert (the usual case when the router sorts
// pairs by expert) the block's 16 pairs read the same weight rows and hit in L1, so the cost approaches
// that of a dense matmul; unsorted pairs stay correct, only slower.
//
// Backward: dx[row[p]] += gate[p] dOut[p] @ weight[expert[p]]^T, one warp per (pair, feature) dot
// product with lanes over the output columns (coalesced), added with atomicAdd because pairs may share a
// row. dweight[e] += gate[p] x[row[p]]^T dOut[p]: a block owns a 16 x 64 tile of (feature, column) for a
// run of 32 consecutive pairs, sums consecutive pairs of one expert in registers and flushes with
// atomicAdd when the expert changes, so sorted pairs cost one atomic per element per run. Float atomics
// make the last bits of dx and dweight vary with scheduling. dgate is computed on the host side from a
// second, ungated forward and a row-wise dot product (GroupedMatmulKernels.java).
//
// Row and expert indices are checked; a bad pair is reported through the IndexError record and
// contributes nothing (its output row is 0).
#include "ladon.cuh"

#define GROUPED_ROW_OP 5     // IndexErrors.Op.GROUPED_MATMUL_ROW
#define GROUPED_EXPERT_OP 6  // IndexErrors.Op.GROUPED_MATMUL_EXPERT
#define PAIRS_PER_BLOCK 16
#define COLS_PER_BLOCK 64
#define K_CHUNK 32

template <typename I>
__device__ __forceinline__ bool valid_pair(const I* row, const I* expert, int p, int N, int E, int& r, int& e,
                                           IndexError* err) {
    i64 rv = (i64)row[p], ev = (i64)expert[p];
    if (rv < 0 || rv >= N) {
        if (err != nullptr) report_index_error(err, GROUPED_ROW_OP, rv, N, 0);
        return false;
    }
    if (ev < 0 || ev >= E) {
        if (err != nullptr) report_index_error(err, GROUPED_EXPERT_OP, ev, E, 0);
        return false;
    }
    r = (int)rv;
    e = (int)ev;
    return true;
}

// blockIdx = (pair tile, column tile): pairs on x, whose grid limit is 2^31 - 1. 256 threads: thread
// (pair pi = tid / 16, column lane nc = tid % 16) computes columns n0 + nc + 16 c, c = 0..3.
template <typename T, typename I>
__device__ void grouped_forward(T* out, const T* x, const T* w, const I* row, const I* expert, const T* gate, int P,
                                int N, int Din, int Dout, int E, IndexError* err) {
    __shared__ int rows[PAIRS_PER_BLOCK], experts[PAIRS_PER_BLOCK];
    __shared__ T Xs[PAIRS_PER_BLOCK][K_CHUNK + 1];
    const int p0 = blockIdx.x * PAIRS_PER_BLOCK, n0 = blockIdx.y * COLS_PER_BLOCK;
    const int tid = threadIdx.x, pi = tid / 16, nc = tid % 16;
    if (tid < PAIRS_PER_BLOCK) {
        int p = p0 + tid, r = -1, e = -1;
        if (p < P && !valid_pair(row, expert, p, N, E, r, e, err)) r = e = -1;
        rows[tid] = r;
        experts[tid] = e;
    }
    T acc[4] = {T(0), T(0), T(0), T(0)};
    for (int k0 = 0; k0 < Din; k0 += K_CHUNK) {
        __syncthreads();
        for (int idx = tid; idx < PAIRS_PER_BLOCK * K_CHUNK; idx += blockDim.x) {
            int pp = idx / K_CHUNK, kk = idx % K_CHUNK;
            int r = rows[pp];
            Xs[pp][kk] = (r >= 0 && k0 + kk < Din) ? x[(i64)r * Din + k0 + kk] : T(0);
        }
        __syncthreads();
        int e = experts[pi];
        if (e < 0) continue;
        int kn = min(K_CHUNK, Din - k0);
        const T* wk = w + ((i64)e * Din + k0) * Dout;
        for (int kk = 0; kk < kn; kk++) {
            T xv = Xs[pi][kk];
#pragma unroll
            for (int c = 0; c < 4; c++) {
                int n = n0 + nc + 16 * c;
                if (n < Dout) acc[c] += xv * wk[(i64)kk * Dout + n];
            }
        }
    }
    int p = p0 + pi;
    if (p >= P) return;
    T g = (gate != nullptr && experts[pi] >= 0) ? gate[p] : T(1);
#pragma unroll
    for (int c = 0; c < 4; c++) {
        int n = n0 + nc + 16 * c;
        if (n < Dout) out[(i64)p * Dout + n] = experts[pi] >= 0 ? g * acc[c] : T(0);
    }
}

template <typename T> __device__ __forceinline__ T warp_sum_of(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// One warp per (pair, feature k): dx[row][k] += gate sum_n dOut[p][n] w[e][k][n]. Bad pairs are skipped and
// reported here as in the forward, since the backward can be called on its own (FusedOps.groupedMatmulBackward).
template <typename T, typename I>
__device__ void grouped_backward_x(T* dx, const T* gout, const T* w, const I* row, const I* expert, const T* gate, int P,
                                   int N, int Din, int Dout, int E, IndexError* err) {
    int lane = threadIdx.x & 31;
    int warpsPerBlock = blockDim.x >> 5;
    i64 items = (i64)P * Din;
    for (i64 it = (i64)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); it < items; it += (i64)gridDim.x * warpsPerBlock) {
        int p = (int)(it / Din), k = (int)(it % Din);
        int r, e;
        if (!valid_pair(row, expert, p, N, E, r, e, k == 0 ? err : (IndexError*)nullptr)) continue;
        const T* g = gout + (i64)p * Dout;
        const T* wk = w + ((i64)e * Din + k) * Dout;
        T s = T(0);
        for (int n = lane; n < Dout; n += 32) s += g[n] * wk[n];
        s = warp_sum_of(s);
        if (lane == 0) atomicAdd(dx + (i64)r * Din + k, gate != nullptr ? gate[p] * s : s);
    }
}

#define W_PAIRS 32
#define W_K 16

// blockIdx = (pair run of 32, feature tile of 16, column tile of 64); thread owns (k = tid / 16,
// columns nc + 16 c) of the tile.
template <typename T, typename I>
__device__ void grouped_backward_w(T* dw, const T* x, const T* gout, const I* row, const I* expert, const T* gate,
                                   int P, int N, int Din, int Dout, int E) {
    __shared__ int rows[W_PAIRS], experts[W_PAIRS];
    __shared__ T gates[W_PAIRS];
    const int p0 = blockIdx.x * W_PAIRS, k0 = blockIdx.y * W_K, n0 = blockIdx.z * COLS_PER_BLOCK;
    const int tid = threadIdx.x, kk = tid / 16, nc = tid % 16;
    if (tid < W_PAIRS) {
        int p = p0 + tid, r = -1, e = -1;
        if (p >= P || !valid_pair(row, expert, p, N, E, r, e, (IndexError*)nullptr)) r = e = -1;
        rows[tid] = r;
        experts[tid] = e;
        gates[tid] = (e >= 0 && gate != nullptr) ? gate[p] : T(1);
    }
    __syncthreads();
    const int k = k0 + kk;
    if (k >= Din) return;
    T acc[4] = {T(0), T(0), T(0), T(0)};
    int current = -1;
    for (int pp = 0; pp < W_PAIRS; pp++) {
        int e = experts[pp];
        if (e < 0) continue;
        if (e != current) {
            if (current >= 0) {
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    int n = n0 + nc + 16 * c;
                    if (n < Dout) atomicAdd(dw + ((i64)current * Din + k) * Dout + n, acc[c]);
                    acc[c] = T(0);
                }
            }
            current = e;
        }
        T xv = gates[pp] * x[(i64)rows[pp] * Din + k];
        const T* g = gout + (i64)(p0 + pp) * Dout;
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int n = n0 + nc + 16 * c;
            if (n < Dout) acc[c] += xv * g[n];
        }
    }
    if (current >= 0) {
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int n = n0 + nc + 16 * c;
            if (n < Dout) atomicAdd(dw + ((i64)current * Din + k) * Dout + n, acc[c]);
        }
    }
}

#define LADON_GROUPED(S, T, IS, I)                                                                          \
    extern "C" __global__ void grouped_forward_##S##_##IS(T* out, const T* x, const T* w, const I* row,    \
                                                          const I* expert, const T* gate, int P, int N,    \
                                                          int Din, int Dout, int E, IndexError* err) {     \
        grouped_forward<T, I>(out, x, w, row, expert, gate, P, N, Din, Dout, E, err);                      \
    }                                                                                                      \
    extern "C" __global__ void grouped_backward_x_##S##_##IS(T* dx, const T* gout, const T* w, const I* row, \
                                                             const I* expert, const T* gate, int P, int N, \
                                                             int Din, int Dout, int E, IndexError* err) {  \
        grouped_backward_x<T, I>(dx, gout, w, row, expert, gate, P, N, Din, Dout, E, err);                 \
    }                                                                                                      \
    extern "C" __global__ void grouped_backward_w_##S##_##IS(T* dw, const T* x, const T* gout, const I* row, \
                                                             const I* expert, const T* gate, int P, int N, \
                                                             int Din, int Dout, int E) {                   \
        grouped_backward_w<T, I>(dw, x, gout, row, expert, gate, P, N, Din, Dout, E);                      \
    }
LADON_GROUPED(f32, float, i32, int)
LADON_GROUPED(f32, float, i64, i64)
LADON_GROUPED(f64, double, i32, int)
LADON_GROUPED(f64, double, i64, i64)
