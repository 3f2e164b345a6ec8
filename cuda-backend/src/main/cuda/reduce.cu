// Reductions over rows and columns, and the cumulative sum.
//
// The host (ReduceKernels.java) brings every reduction into one of two layouts:
//   rows:    x contiguous [rows, n], each output reduces one row of n consecutive elements;
//   columns: x contiguous [R, C] reduced over R (sums over leading dims, e.g. bias gradients), read
//            coalesced: consecutive threads own consecutive columns.
// Any other reduction is permuted into the row layout first.
//
// Rows are reduced by a warp each when short (n <= 1024: all 32 lanes busy, no block barrier), by a
// whole block each when long, and by several blocks each when there are too few rows to fill the GPU
// (a long single-row sum): those blocks write partial states that reduce_finish combines.
//
// A reduction state carries what any op needs: the value v (double for floating inputs, exact int64 for
// integers), the scaled exp-sum s of logsumexp and the position idx of argmax/argmin. States combine
// associatively, and ties in argmax/argmin are broken by position, so the tree order of a parallel
// reduction cannot change an index. NaN propagates as on the CPU: max/min/logsumexp of a row holding
// NaN is NaN, and argmax/argmin point at the first NaN.
#include "ladon.cuh"

// ReduceOp ordinals (OpCodesTest checks the order).
enum ReduceCode { R_SUM = 0, R_MEAN = 1, R_MAX = 2, R_MIN = 3, R_LOGSUMEXP = 4, R_ARGMAX = 5, R_ARGMIN = 6 };

#define NO_INDEX 0x7fffffffffffffffLL

template <typename T> struct AccOf { typedef double type; };
template <> struct AccOf<int> { typedef i64 type; };
template <> struct AccOf<i64> { typedef i64 type; };
template <> struct AccOf<u8> { typedef i64 type; };

template <typename A> struct RState {
    A v;
    double s;
    i64 idx;
};

template <typename A> __device__ __forceinline__ A lowest();
template <> __device__ __forceinline__ double lowest<double>() { return -__longlong_as_double(0x7ff0000000000000LL); }
template <> __device__ __forceinline__ i64 lowest<i64>() { return (i64)0x8000000000000000ULL; }
template <typename A> __device__ __forceinline__ A highest();
template <> __device__ __forceinline__ double highest<double>() { return __longlong_as_double(0x7ff0000000000000LL); }
template <> __device__ __forceinline__ i64 highest<i64>() { return 0x7fffffffffffffffLL; }

__device__ __forceinline__ bool is_nan(double v) { return v != v; }
__device__ __forceinline__ bool is_nan(i64) { return false; }
__device__ __forceinline__ i64 to_bits(double v) { return __double_as_longlong(v); }
__device__ __forceinline__ i64 to_bits(i64 v) { return v; }
template <typename A> __device__ __forceinline__ A from_bits(i64 b);
template <> __device__ __forceinline__ double from_bits<double>(i64 b) { return __longlong_as_double(b); }
template <> __device__ __forceinline__ i64 from_bits<i64>(i64 b) { return b; }

// Accumulator to output element: exact for ints (saturating into int32), rounded for floats.
template <typename T> __device__ __forceinline__ T narrow(double v) { return from_double<T>(v); }
template <typename T> __device__ __forceinline__ T narrow(i64 v);
template <> __device__ __forceinline__ float narrow<float>(i64 v) { return (float)v; }
template <> __device__ __forceinline__ double narrow<double>(i64 v) { return (double)v; }
template <> __device__ __forceinline__ int narrow<int>(i64 v) {
    return v > 2147483647LL ? 2147483647 : (v < -2147483648LL ? (int)0x80000000 : (int)v);
}
template <> __device__ __forceinline__ i64 narrow<i64>(i64 v) { return v; }
template <> __device__ __forceinline__ u8 narrow<u8>(i64 v) { return v != 0; }

template <typename A> __device__ __forceinline__ RState<A> r_init(int op) {
    RState<A> st;
    st.s = 0.0;
    st.idx = NO_INDEX;
    st.v = (op == R_MAX || op == R_ARGMAX || op == R_LOGSUMEXP) ? lowest<A>()
         : (op == R_MIN || op == R_ARGMIN) ? highest<A>() : A(0);
    return st;
}

// Whether candidate b should replace a as the argmax/argmin: NaN first, then the better value, then the
// lower position.
template <typename A> __device__ __forceinline__ bool arg_better(int op, const RState<A>& b, const RState<A>& a) {
    if (b.idx == NO_INDEX) return false;
    if (a.idx == NO_INDEX) return true;
    bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) return (an && bn) ? b.idx < a.idx : bn;
    if (b.v == a.v) return b.idx < a.idx;
    return op == R_ARGMAX ? b.v > a.v : b.v < a.v;
}

template <typename A> __device__ __forceinline__ RState<A> r_combine(int op, RState<A> a, const RState<A>& b) {
    switch (op) {
        case R_SUM:
        case R_MEAN:
            a.v += b.v;
            return a;
        case R_MAX:
            if (is_nan(a.v)) return a;
            if (is_nan(b.v)) return b;
            return b.v > a.v ? b : a;
        case R_MIN:
            if (is_nan(a.v)) return a;
            if (is_nan(b.v)) return b;
            return b.v < a.v ? b : a;
        case R_LOGSUMEXP: {
            // (m, s) stands for s * exp(m); rescale both sides to the larger m (an online logsumexp).
            if (is_nan(a.v)) return a;
            if (is_nan(b.v)) return b;
            A m = a.v > b.v ? a.v : b.v;
            if (m == lowest<A>()) return a;                  // both empty or all -inf
            if (m == highest<A>()) { a.v = m; a.s = 1.0; return a; }  // +inf dominates
            a.s = a.s * exp((double)(a.v - m)) + b.s * exp((double)(b.v - m));
            a.v = m;
            return a;
        }
        default:
            return arg_better(op, b, a) ? b : a;
    }
}

template <typename A> __device__ __forceinline__ RState<A> r_single(A x, i64 i) {
    RState<A> st;
    st.v = x;
    st.s = 1.0;
    st.idx = i;
    return st;
}

template <typename A> __device__ __forceinline__ RState<A> warp_reduce_state(int op, RState<A> st) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        RState<A> other;
        other.v = __shfl_xor_sync(0xffffffffu, st.v, o);
        other.s = __shfl_xor_sync(0xffffffffu, st.s, o);
        other.idx = __shfl_xor_sync(0xffffffffu, st.idx, o);
        st = r_combine(op, st, other);
    }
    return st;
}

// Block-wide combine; the result is valid in thread 0.
template <typename A> __device__ RState<A> block_reduce_state(int op, RState<A> st) {
    __shared__ RState<A> partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    st = warp_reduce_state(op, st);
    __syncthreads();
    if (lane == 0) partial[warp] = st;
    __syncthreads();
    if (warp == 0) {
        st = lane < (int)(blockDim.x >> 5) ? partial[lane] : r_init<A>(op);
        st = warp_reduce_state(op, st);
    }
    return st;
}

template <typename T, typename A>
__device__ __forceinline__ void r_store(int op, void* out, int row, const RState<A>& st, int n) {
    if (op == R_ARGMAX || op == R_ARGMIN) {
        ((i64*)out)[row] = st.idx == NO_INDEX ? 0 : st.idx;
        return;
    }
    T* o = (T*)out;
    if (op == R_MEAN) {
        o[row] = from_double<T>((double)st.v / n);
    } else if (op == R_LOGSUMEXP) {
        double m = (double)st.v;
        bool special = m != m || m == lowest<double>() || m == highest<double>();
        o[row] = from_double<T>(special ? m : m + log(st.s));
    } else {
        o[row] = narrow<T>(st.v);
    }
}

// One warp per row; for rows of at most about a thousand elements.
template <typename T>
__device__ void reduce_rows_warp(void* out, const T* x, int rows, int n, int op) {
    typedef typename AccOf<T>::type A;
    int lane = threadIdx.x & 31;
    int warpsPerBlock = blockDim.x >> 5;
    for (int row = blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); row < rows; row += gridDim.x * warpsPerBlock) {
        const T* r = x + (i64)row * n;
        RState<A> st = r_init<A>(op);
        for (int j = lane; j < n; j += 32) st = r_combine(op, st, r_single<A>((A)r[j], j));
        st = warp_reduce_state(op, st);
        if (lane == 0) r_store<T, A>(op, out, row, st, n);
    }
}

// gridDim.x blocks ("chunks") per row, rows strided over gridDim.y. With one chunk the block stores the
// result; with several, each stores its state in scratch[(row * chunks + chunk) * 3 + {0, 1, 2}].
template <typename T>
__device__ void reduce_rows_block(void* out, const T* x, int rows, int n, int op, i64* scratch) {
    typedef typename AccOf<T>::type A;
    int chunks = gridDim.x;
    int chunk = blockIdx.x;
    int len = (n + chunks - 1) / chunks;
    int start = chunk * len;
    int end = min(n, start + len);
    for (int row = blockIdx.y; row < rows; row += gridDim.y) {
        const T* r = x + (i64)row * n;
        RState<A> st = r_init<A>(op);
        for (int j = start + threadIdx.x; j < end; j += blockDim.x) st = r_combine(op, st, r_single<A>((A)r[j], j));
        st = block_reduce_state(op, st);
        if (threadIdx.x == 0) {
            if (chunks == 1) {
                r_store<T, A>(op, out, row, st, n);
            } else {
                i64* s = scratch + ((i64)row * chunks + chunk) * 3;
                s[0] = to_bits(st.v);
                s[1] = __double_as_longlong(st.s);
                s[2] = st.idx;
            }
        }
    }
}

// Combines the chunk states of reduce_rows_block; one warp per row.
template <typename T>
__device__ void reduce_finish(void* out, const i64* scratch, int rows, int chunks, int n, int op) {
    typedef typename AccOf<T>::type A;
    int lane = threadIdx.x & 31;
    int warpsPerBlock = blockDim.x >> 5;
    for (int row = blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); row < rows; row += gridDim.x * warpsPerBlock) {
        RState<A> st = r_init<A>(op);
        for (int c = lane; c < chunks; c += 32) {
            const i64* s = scratch + ((i64)row * chunks + c) * 3;
            RState<A> part;
            part.v = from_bits<A>(s[0]);
            part.s = __longlong_as_double(s[1]);
            part.idx = s[2];
            st = r_combine(op, st, part);
        }
        st = warp_reduce_state(op, st);
        if (lane == 0) r_store<T, A>(op, out, row, st, n);
    }
}

// Column sums of contiguous x [R, C] (floating types). Grid (ceil(C / blockDim), splits): split s sums
// rows [s R / splits, (s + 1) R / splits). With one split the result is stored; otherwise partial[s][c].
template <typename T>
__device__ void reduce_cols(T* out, const T* x, int R, int C, int mean, double* partial) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    int splits = gridDim.y;
    int r0 = (int)((i64)R * blockIdx.y / splits);
    int r1 = (int)((i64)R * (blockIdx.y + 1) / splits);
    double s = 0.0;
    for (int r = r0; r < r1; r++) s += (double)x[(i64)r * C + c];
    if (splits == 1) {
        out[c] = from_double<T>(mean ? s / R : s);
    } else {
        partial[(i64)blockIdx.y * C + c] = s;
    }
}

template <typename T>
__device__ void reduce_cols_finish(T* out, const double* partial, int R, int C, int splits, int mean) {
    LADON_GRID_LOOP(c, C) {
        double s = 0.0;
        for (int p = 0; p < splits; p++) s += partial[(i64)p * C + c];
        out[c] = from_double<T>(mean ? s / R : s);
    }
}

// Inclusive prefix sums of contiguous rows [rows, n], one warp per row: 32 elements at a time are scanned
// with shuffles (Hillis-Steele within the warp) and offset by the running total of the earlier ones.
template <typename T>
__device__ void cumsum_rows(T* out, const T* x, int rows, int n) {
    typedef typename AccOf<T>::type A;
    int lane = threadIdx.x & 31;
    int warpsPerBlock = blockDim.x >> 5;
    for (int row = blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); row < rows; row += gridDim.x * warpsPerBlock) {
        const T* r = x + (i64)row * n;
        T* o = out + (i64)row * n;
        A carry = 0;
        for (int base = 0; base < n; base += 32) {
            int j = base + lane;
            A v = j < n ? (A)r[j] : A(0);
#pragma unroll
            for (int d = 1; d < 32; d <<= 1) {
                A t = __shfl_up_sync(0xffffffffu, v, d);
                if (lane >= d) v += t;
            }
            v += carry;
            if (j < n) o[j] = narrow<T>(v);
            carry = __shfl_sync(0xffffffffu, v, 31);
        }
    }
}

#define LADON_REDUCE(S, T)                                                                                  \
    extern "C" __global__ void reduce_rows_warp_##S(void* out, const T* x, int rows, int n, int op) {      \
        reduce_rows_warp<T>(out, x, rows, n, op);                                                          \
    }                                                                                                      \
    extern "C" __global__ void reduce_rows_block_##S(void* out, const T* x, int rows, int n, int op,       \
                                                     i64* scratch) {                                       \
        reduce_rows_block<T>(out, x, rows, n, op, scratch);                                                \
    }                                                                                                      \
    extern "C" __global__ void reduce_finish_##S(void* out, const i64* scratch, int rows, int chunks,      \
                                                 int n, int op) {                                          \
        reduce_finish<T>(out, scratch, rows, chunks, n, op);                                               \
    }                                                                                                      \
    extern "C" __global__ void cumsum_##S(T* out, const T* x, int rows, int n) { cumsum_rows<T>(out, x, rows, n); }
LADON_REDUCE(f32, float)
LADON_REDUCE(f64, double)
LADON_REDUCE(i32, int)
LADON_REDUCE(i64, i64)
LADON_REDUCE(u8, u8)

#define LADON_COLS(S, T)                                                                                    \
    extern "C" __global__ void reduce_cols_##S(T* out, const T* x, int R, int C, int mean, double* partial) { \
        reduce_cols<T>(out, x, R, C, mean, partial);                                                       \
    }                                                                                                      \
    extern "C" __global__ void reduce_cols_finish_##S(T* out, const double* partial, int R, int C,         \
                                                      int splits, int mean) {                              \
        reduce_cols_finish<T>(out, partial, R, C, splits, mean);                                           \
    }
LADON_COLS(f32, float)
LADON_COLS(f64, double)
