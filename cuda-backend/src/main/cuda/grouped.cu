// The mixture-of-experts grouped matmul: out[p] = gate[p] (x[row[p]] @ weight[expert[p]]) for each
// (row, expert) pair p, with x [N, Din], weight [E, Din, Dout] (both contiguous here), and its backward.
// Work is proportional to the number of pairs P, whatever the number of experts E.
//
// All three products are register-blocked tiles of 64 x 64 outputs, 256 threads of 4 x 4 each, their
// operands staged in shared memory 32 deep along the sum, a warp's lanes laid out 8 column chunks x 4 rows
// so that each vector load of a row is one shared-memory wavefront (as in attention.cu):
//   forward     out tile: 64 pairs x 64 output columns, summing over Din;
//   backward x  tile: 64 pairs x 64 input features, summing over Dout, dx[row[p]] += gate[p] (dOut[p] . w[e]
//               rows), added with atomicAdd because pairs may share a row;
//   backward w  tile: 64 input features x 64 output columns of one expert at a time, summing over a run of
//               256 pairs: rank-one updates gate[p] x[row[p]]^T dOut[p] in registers, flushed with
//               atomicAdd when the expert changes and at the end of the run.
// The kernels walk the pairs in an order grouped by expert, order[q] being the q-th pair: the routers list
// pairs token by token (consecutive pairs have different experts), so GroupedMatmulKernels first makes
// that order with a counting sort on the GPU (grouped_count, grouped_offsets, grouped_scatter; within an
// expert the order is whatever the atomics give). Forward and backward x stage a tile of weights when the
// tile's valid pairs share one expert, which then holds for all tiles but those at expert boundaries; a
// tile that mixes experts reads each pair's weights from global memory instead. Backward w's runs then
// change expert only at those boundaries, so its atomics stay few. Float atomics make the last bits of dx
// and dweight vary with scheduling; out does not depend on the order. dgate is computed on the host side
// from a second, ungated forward and a row-wise dot product (GroupedMatmulKernels.java).
//
// Row and expert indices are checked; a bad pair is reported through the IndexError record and
// contributes nothing (its output row is 0).
#include "ladon.cuh"

#define GROUPED_ROW_OP 5     // IndexErrors.Op.GROUPED_MATMUL_ROW
#define GROUPED_EXPERT_OP 6  // IndexErrors.Op.GROUPED_MATMUL_EXPERT
#define TILE 64         // outputs per tile side
#define DEPTH 32        // the sum's chunk staged at a time
#define RUN_PAIRS 256   // pairs one backward-w block sums over

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

// A thread's 4 x 4 block of a 64 x 64 tile: rows tile_row(0) .. + 3 and columns tile_col0() .. + 3, four
// consecutive of each, so that both operands come in one vector load per step of the sum (the row operand
// is staged transposed). Warp w takes the 8 column chunks (w % 2) 8 + lane % 8 and the 4 row chunks
// (w / 2) 4 + lane / 8.
__device__ __forceinline__ int tile_col0() { return ((threadIdx.x / 32 % 2) * 8 + threadIdx.x % 8) * 4; }
__device__ __forceinline__ int tile_row(int j) { return ((threadIdx.x / 32 / 2) * 4 + threadIdx.x % 32 / 8) * 4 + j; }

// The tile's pairs order[q0 .. q0 + TILE): their indices (-1 past P), rows and experts (-1 for a pair past
// P or a bad one, reported to err when given), and the expert all valid pairs share (-1 when there is
// none, -2 when they differ). Ends with a barrier.
template <typename I>
__device__ __forceinline__ int tile_pairs(int* pairs, int* rows, int* experts, int* shared, const int* order,
                                          const I* row, const I* expert, i64 q0, int P, int N, int E,
                                          IndexError* err) {
    const int tid = threadIdx.x;
    if (tid < TILE) {
        i64 q = q0 + tid;
        int p = q < P ? order[q] : -1, r = -1, e = -1;
        if (p >= 0 && !valid_pair(row, expert, p, N, E, r, e, err)) r = e = -1;
        pairs[tid] = p;
        rows[tid] = r;
        experts[tid] = e;
    }
    __syncthreads();
    if (tid == 0) {
        int one = -1;
        for (int i = 0; i < TILE && one != -2; i++) {
            int e = experts[i];
            if (e >= 0) one = one == -1 ? e : (one == e ? one : -2);
        }
        *shared = one;
    }
    __syncthreads();
    return *shared;
}

// acc[j][c] += rows[j] cols[c]: one step of a thread's 4 x 4 block, its four row and four column values
// each one vector load from shared memory (16-byte aligned).
template <typename T> __device__ __forceinline__ void add_outer4(T (&acc)[4][4], const T* rows, const T* cols) {
    T r[4], c[4];
    load4(rows, r);
    load4(cols, c);
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int k = 0; k < 4; k++) acc[j][k] += r[j] * c[k];
}

template <typename T> __device__ __forceinline__ void zero16(T (&acc)[4][4]) {
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[j][c] = T(0);
}

// blockIdx = (pair tile, column tile): pairs on x, whose grid limit is 2^31 - 1.
template <typename T, typename I>
__device__ void grouped_forward(T* out, const T* x, const T* w, const I* row, const I* expert, const T* gate,
                                const int* order, int P, int N, int Din, int Dout, int E, IndexError* err) {
    __shared__ int pairs[TILE], rows[TILE], experts[TILE], uniform;
    __shared__ __align__(16) T Xs[DEPTH][TILE + 4];  // [k][pair]: transposed, rows 4 banks apart
    __shared__ __align__(16) T Ws[DEPTH][TILE];      // [k][column] of the tile's one expert
    const int n0 = blockIdx.y * TILE, tid = threadIdx.x, c0 = tile_col0();
    const int one = tile_pairs(pairs, rows, experts, &uniform, order, row, expert, (i64)blockIdx.x * TILE, P, N, E, err);
    T acc[4][4];
    zero16(acc);
    for (int k0 = 0; k0 < Din; k0 += DEPTH) {
        __syncthreads();
        for (int i = tid; i < TILE * DEPTH; i += blockDim.x) {
            int pp = i / DEPTH, kk = i % DEPTH, r = rows[pp];
            Xs[kk][pp] = (r >= 0 && k0 + kk < Din) ? x[(i64)r * Din + k0 + kk] : T(0);
        }
        if (one >= 0) {
            for (int i = tid; i < DEPTH * TILE; i += blockDim.x) {
                int kk = i / TILE, n = i % TILE;
                Ws[kk][n] = (k0 + kk < Din && n0 + n < Dout) ? w[((i64)one * Din + k0 + kk) * Dout + n0 + n] : T(0);
            }
        }
        __syncthreads();
        const int kn = min(DEPTH, Din - k0);
        if (one >= 0) {
#pragma unroll 4
            for (int kk = 0; kk < kn; kk++) {
                add_outer4(acc, &Xs[kk][tile_row(0)], &Ws[kk][c0]);
            }
        } else {
            // Pairs of several experts: each reads its own weights.
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int e = experts[tile_row(j)];
                if (e < 0) continue;
                const T* wk = w + ((i64)e * Din + k0) * Dout + n0 + c0;
                for (int kk = 0; kk < kn; kk++) {
                    T xv = Xs[kk][tile_row(j)];
#pragma unroll
                    for (int c = 0; c < 4; c++) {
                        if (n0 + c0 + c < Dout) acc[j][c] += xv * wk[(i64)kk * Dout + c];
                    }
                }
            }
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int pp = tile_row(j), p = pairs[pp];
        if (p < 0) continue;
        int e = experts[pp];
        T g = (gate != nullptr && e >= 0) ? gate[p] : T(1);
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int n = n0 + c0 + c;
            if (n < Dout) out[(i64)p * Dout + n] = e >= 0 ? g * acc[j][c] : T(0);
        }
    }
}

// dx[row[p]][k] += gate[p] sum_n dOut[p][n] w[e][k][n]; blockIdx = (pair tile, feature tile). Bad pairs are
// skipped and reported here as in the forward (by the first feature tile), since the backward can be
// called on its own (FusedOps.groupedMatmulBackward).
template <typename T, typename I>
__device__ void grouped_backward_x(T* dx, const T* gout, const T* w, const I* row, const I* expert, const T* gate,
                                   const int* order, int P, int N, int Din, int Dout, int E, IndexError* err) {
    __shared__ int pairs[TILE], rows[TILE], experts[TILE], uniform;
    __shared__ __align__(16) T Gs[DEPTH][TILE + 4];  // [n][pair]: transposed, rows 4 banks apart
    __shared__ __align__(16) T Wt[DEPTH][TILE];      // [n][k]: the tile's one expert, transposed
    const int k0 = blockIdx.y * TILE, tid = threadIdx.x, c0 = tile_col0();
    const int one = tile_pairs(pairs, rows, experts, &uniform, order, row, expert, (i64)blockIdx.x * TILE, P, N, E,
                               blockIdx.y == 0 ? err : (IndexError*)nullptr);
    T acc[4][4];
    zero16(acc);
    for (int n0 = 0; n0 < Dout; n0 += DEPTH) {
        __syncthreads();
        for (int i = tid; i < TILE * DEPTH; i += blockDim.x) {
            int pp = i / DEPTH, nn = i % DEPTH;
            Gs[nn][pp] = (experts[pp] >= 0 && n0 + nn < Dout) ? gout[(i64)pairs[pp] * Dout + n0 + nn] : T(0);
        }
        if (one >= 0) {
            // Consecutive threads take consecutive k: their reads are a row of w apart, but every 128-byte
            // line read serves the next 32 values of n, which the same threads load from L1 next.
            for (int i = tid; i < DEPTH * TILE; i += blockDim.x) {
                int nn = i / TILE, kk = i % TILE;
                Wt[nn][kk] = (k0 + kk < Din && n0 + nn < Dout) ? w[((i64)one * Din + k0 + kk) * Dout + n0 + nn] : T(0);
            }
        }
        __syncthreads();
        const int nk = min(DEPTH, Dout - n0);
        if (one >= 0) {
#pragma unroll 4
            for (int nn = 0; nn < nk; nn++) {
                add_outer4(acc, &Gs[nn][tile_row(0)], &Wt[nn][c0]);
            }
        } else {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int e = experts[tile_row(j)];
                if (e < 0) continue;
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    int k = k0 + c0 + c;
                    if (k >= Din) continue;
                    const T* wk = w + ((i64)e * Din + k) * Dout + n0;
                    T s = T(0);
                    for (int nn = 0; nn < nk; nn++) s += Gs[nn][tile_row(j)] * wk[nn];
                    acc[j][c] += s;
                }
            }
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int pp = tile_row(j), r = rows[pp];
        if (experts[pp] < 0) continue;
        T g = gate != nullptr ? gate[pairs[pp]] : T(1);
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int k = k0 + c0 + c;
            if (k < Din) atomicAdd(dx + (i64)r * Din + k, g * acc[j][c]);
        }
    }
}

// blockIdx = (run of RUN_PAIRS pairs, feature tile, column tile): dw[e][k][n] += gate[p] x[row[p]][k] dOut[p][n]
// over the run, this thread's 4 features tile_row-style and 4 columns, summed in registers while the expert
// stays the same.
template <typename T, typename I>
__device__ void grouped_backward_w(T* dw, const T* x, const T* gout, const I* row, const I* expert, const T* gate,
                                   const int* order, int P, int N, int Din, int Dout, int E) {
    __shared__ int pairs[DEPTH], rows[DEPTH], experts[DEPTH];
    __shared__ __align__(16) T Xs[DEPTH][TILE];    // [pair][k], gated
    __shared__ __align__(16) T Gs[DEPTH][TILE];    // [pair][n]
    const int k0 = blockIdx.y * TILE, n0 = blockIdx.z * TILE, tid = threadIdx.x, c0 = tile_col0();
    // This thread's features: four consecutive ones (tile_row's), so that a pair's come in one vector load.
    const int kq = tile_row(0);
    T acc[4][4];
    zero16(acc);
    int current = -1;
    auto flush = [&]() {
#pragma unroll
        for (int a = 0; a < 4; a++) {
            int k = k0 + kq + a;
#pragma unroll
            for (int c = 0; c < 4; c++) {
                int n = n0 + c0 + c;
                if (k < Din && n < Dout) atomicAdd(dw + ((i64)current * Din + k) * Dout + n, acc[a][c]);
                acc[a][c] = T(0);
            }
        }
    };
    const i64 runStart = (i64)blockIdx.x * RUN_PAIRS, runEnd = min((i64)P, runStart + RUN_PAIRS);
    for (i64 q0 = runStart; q0 < runEnd; q0 += DEPTH) {
        __syncthreads();
        if (tid < DEPTH) {
            i64 q = q0 + tid;
            int p = q < runEnd ? order[q] : -1, r = -1, e = -1;
            if (p < 0 || !valid_pair(row, expert, p, N, E, r, e, (IndexError*)nullptr)) r = e = -1;
            pairs[tid] = p;
            rows[tid] = r;
            experts[tid] = e;
        }
        __syncthreads();
        for (int i = tid; i < DEPTH * TILE; i += blockDim.x) {
            int pp = i / TILE, col = i % TILE, r = rows[pp];
            T g = (r >= 0 && gate != nullptr) ? gate[pairs[pp]] : T(1);
            Xs[pp][col] = (r >= 0 && k0 + col < Din) ? g * x[(i64)r * Din + k0 + col] : T(0);
            Gs[pp][col] = (r >= 0 && n0 + col < Dout) ? gout[(i64)pairs[pp] * Dout + n0 + col] : T(0);
        }
        __syncthreads();
        for (int pp = 0; pp < DEPTH; pp++) {
            int e = experts[pp];  // the same for every thread: the branches below do not diverge
            if (e < 0) continue;
            if (e != current) {
                if (current >= 0) flush();
                current = e;
            }
            add_outer4(acc, &Xs[pp][kq], &Gs[pp][c0]);
        }
    }
    if (current >= 0) flush();
}

// ---- the order by expert: a counting sort ----------------------------------------------------------------

// counts[b] += 1 for each pair's bucket b: its expert, or E for an expert out of range (the kernels above
// report those).
template <typename I>
__device__ void grouped_count(int* counts, const I* expert, int P, int E) {
    LADON_GRID_LOOP(p, P) {
        i64 e = (i64)expert[p];
        atomicAdd(counts + (e >= 0 && e < E ? (int)e : E), 1);
    }
}

// order[cursor[b]++] = p for each pair p of bucket b; cursors start as the buckets' first positions.
template <typename I>
__device__ void grouped_scatter(int* order, int* cursors, const I* expert, int P, int E) {
    LADON_GRID_LOOP(p, P) {
        i64 e = (i64)expert[p];
        order[atomicAdd(cursors + (e >= 0 && e < E ? (int)e : E), 1)] = (int)p;
    }
}

// Counts of the E + 1 buckets to their first positions (an exclusive prefix sum), by the first thread of
// a one-warp launch: E is the number of experts, a few hundred at most in practice.
extern "C" __global__ void grouped_offsets(int* counts, int E) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    int sum = 0;
    for (int b = 0; b <= E; b++) {
        int c = counts[b];
        counts[b] = sum;
        sum += c;
    }
}

#define LADON_GROUPED(S, T, IS, I)                                                                          \
    extern "C" __global__ void grouped_forward_##S##_##IS(T* out, const T* x, const T* w, const I* row,    \
                                                          const I* expert, const T* gate, const int* order, \
                                                          int P, int N, int Din, int Dout, int E,          \
                                                          IndexError* err) {                               \
        grouped_forward<T, I>(out, x, w, row, expert, gate, order, P, N, Din, Dout, E, err);               \
    }                                                                                                      \
    extern "C" __global__ void grouped_backward_x_##S##_##IS(T* dx, const T* gout, const T* w, const I* row, \
                                                             const I* expert, const T* gate,               \
                                                             const int* order, int P, int N, int Din,      \
                                                             int Dout, int E, IndexError* err) {           \
        grouped_backward_x<T, I>(dx, gout, w, row, expert, gate, order, P, N, Din, Dout, E, err);          \
    }                                                                                                      \
    extern "C" __global__ void grouped_backward_w_##S##_##IS(T* dw, const T* x, const T* gout, const I* row, \
                                                             const I* expert, const T* gate,               \
                                                             const int* order, int P, int N, int Din,      \
                                                             int Dout, int E) {                            \
        grouped_backward_w<T, I>(dw, x, gout, row, expert, gate, order, P, N, Din, Dout, E);               \
    }

#define LADON_GROUPED_ORDER(IS, I)                                                                          \
    extern "C" __global__ void grouped_count_##IS(int* counts, const I* expert, int P, int E) {            \
        grouped_count<I>(counts, expert, P, E);                                                            \
    }                                                                                                      \
    extern "C" __global__ void grouped_scatter_##IS(int* order, int* cursors, const I* expert, int P, int E) { \
        grouped_scatter<I>(order, cursors, expert, P, E);                                                  \
    }
LADON_GROUPED_ORDER(i32, int)
LADON_GROUPED_ORDER(i64, i64)
LADON_GROUPED(f32, float, i32, int)
LADON_GROUPED(f32, float, i64, i64)
LADON_GROUPED(f64, double, i32, int)
LADON_GROUPED(f64, double, i64, i64)
