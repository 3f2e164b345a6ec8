// Elementwise kernels: fill, copy (with dtype casts), unary and binary maps, where.
//
// Every kernel walks a Layout (ladon.cuh): the coalesced shape and each operand's strides, so strided
// views, transposes and stride-0 broadcast views are read in place without a copy. One grid-stride loop
// per kernel; the op is a runtime code (uniform across the grid, so the switch costs a few instructions
// against a memory-bound loop) instead of one kernel per op, which keeps the PTX small.
//
// Arithmetic follows the CPU backend: float32 maps compute in float (CUDA's accurate, non-fast-math
// functions), float64 in double, integer ADD/SUB/MUL/MAX/MIN exactly in integers, integer DIV and POW
// through double with Java's truncating, saturating conversion.
#include "ladon.cuh"

// Op codes: the ordinals of dev.ladon.tensor.backend.UnaryOp and BinaryOp (OpCodesTest checks the order).
enum UnaryCode {
    UNARY_NEG = 0, UNARY_ABS = 1, UNARY_EXP = 2, UNARY_LOG = 3, UNARY_SQRT = 4, UNARY_RSQRT = 5,
    UNARY_TANH = 6, UNARY_SIGMOID = 7, UNARY_RELU = 8, UNARY_GELU = 9, UNARY_SILU = 10, UNARY_SIN = 11,
    UNARY_COS = 12, UNARY_POW = 13, UNARY_SQUARE = 14, UNARY_RECIPROCAL = 15, UNARY_SIGN = 16,
    UNARY_GELU_DERIVATIVE = 17
};

enum BinaryCode {
    BINARY_ADD = 0, BINARY_SUB = 1, BINARY_MUL = 2, BINARY_DIV = 3, BINARY_POW = 4, BINARY_MAXIMUM = 5,
    BINARY_MINIMUM = 6, BINARY_EQ = 7, BINARY_NE = 8, BINARY_LT = 9, BINARY_LE = 10, BINARY_GT = 11,
    BINARY_GE = 12
};

// ---- fill and copy -----------------------------------------------------------------------------------

template <typename T>
__device__ void fill_kernel(T* dst, Layout L, double value) {
    T v = from_double<T>(value);
    LADON_GRID_LOOP(i, L.numel) {
        int off[1];
        layout_offsets<1>(L, (int)i, off);
        dst[off[0]] = v;
    }
}

// Casts as the CPU backend's copy makes them: from a float through double (Java's rules: truncation toward
// zero, saturation, NaN to 0); from an integer or bool as integers, so int64 -> int32 keeps the low 32 bits
// and int64 -> float32 rounds once. Same-dtype copies are exact.
template <typename T> struct is_integer_type { static const bool value = false; };
template <> struct is_integer_type<int> { static const bool value = true; };
template <> struct is_integer_type<i64> { static const bool value = true; };
template <> struct is_integer_type<u8> { static const bool value = true; };

template <typename S, typename D>
__device__ __forceinline__ D convert(S v) {
    if constexpr (is_integer_type<S>::value) {
        i64 w = (i64)v;
        if constexpr (sizeof(D) == 1) {
            return w != 0 ? 1 : 0;  // bool
        } else {
            return (D)w;  // to int: the low bits; to float or double: one rounding
        }
    } else {
        return from_double<D>(to_double<S>(v));
    }
}

template <typename S, typename D>
__device__ void copy_kernel(D* dst, const S* src, Layout L) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[2];
        layout_offsets<2>(L, (int)i, off);
        dst[off[0]] = convert<S, D>(src[off[1]]);
    }
}

template <typename T>
__device__ void copy_same_kernel(T* dst, const T* src, Layout L) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[2];
        layout_offsets<2>(L, (int)i, off);
        dst[off[0]] = src[off[1]];
    }
}

// ---- unary -------------------------------------------------------------------------------------------

// sigmoid without overflow: exp is only taken of a non-positive number.
template <typename T> __device__ __forceinline__ T sigmoid_of(T x) {
    if (x >= T(0)) return T(1) / (T(1) + exp(-x));
    T e = exp(x);
    return e / (T(1) + e);
}

// Java's Math.max/min: NaN wins, and +0.0 is larger than -0.0 (fmax/fmin would drop the NaN).
template <typename T> __device__ __forceinline__ T java_max(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == T(0) && b == T(0)) return signbit(a) ? b : a;
    return a >= b ? a : b;
}

template <typename T> __device__ __forceinline__ T java_min(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == T(0) && b == T(0)) return signbit(a) ? a : b;
    return a <= b ? a : b;
}

template <typename T>
__device__ __forceinline__ T unary_value(int op, T x, double p) {
    const T c = T(0.7978845608028654);  // sqrt(2 / pi)
    const T a = T(0.044715);
    switch (op) {
        case UNARY_NEG: return -x;
        case UNARY_ABS: return fabs(x);
        case UNARY_EXP: return exp(x);
        case UNARY_LOG: return log(x);
        case UNARY_SQRT: return sqrt(x);
        case UNARY_RSQRT: return T(1) / sqrt(x);
        case UNARY_TANH: return tanh(x);
        case UNARY_SIGMOID: return sigmoid_of(x);
        case UNARY_RELU: return java_max(T(0), x);
        case UNARY_GELU: return T(0.5) * x * (T(1) + tanh(c * (x + a * x * x * x)));
        case UNARY_SILU: return x * sigmoid_of(x);
        case UNARY_SIN: return sin(x);
        case UNARY_COS: return cos(x);
        case UNARY_POW: return (T)pow((double)x, p);  // the exponent is a double on the CPU too
        case UNARY_SQUARE: return x * x;
        case UNARY_RECIPROCAL: return T(1) / x;
        case UNARY_SIGN: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);  // keeps NaN and signed zeros
        case UNARY_GELU_DERIVATIVE: {
            T t = tanh(c * (x + a * x * x * x));
            return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c * (T(1) + T(3) * a * x * x);
        }
        default: return x;
    }
}

template <typename T>
__device__ void unary_kernel(T* out, const T* x, Layout L, int op, double p) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[2];
        layout_offsets<2>(L, (int)i, off);
        out[off[0]] = unary_value<T>(op, x[off[1]], p);
    }
}

// ---- binary ------------------------------------------------------------------------------------------

template <typename T> struct IsFloating { static const bool value = false; };
template <> struct IsFloating<float> { static const bool value = true; };
template <> struct IsFloating<double> { static const bool value = true; };

template <typename T>
__device__ __forceinline__ T arithmetic_value(int op, T a, T b) {
    if constexpr (IsFloating<T>::value) {
        switch (op) {
            case BINARY_ADD: return a + b;
            case BINARY_SUB: return a - b;
            case BINARY_MUL: return a * b;
            case BINARY_DIV: return a / b;
            case BINARY_POW: return (T)pow((double)a, (double)b);
            case BINARY_MAXIMUM: return java_max(a, b);
            case BINARY_MINIMUM: return java_min(a, b);
            default: return a;
        }
    } else {
        switch (op) {
            case BINARY_ADD: return a + b;
            case BINARY_SUB: return a - b;
            case BINARY_MUL: return a * b;
            case BINARY_DIV: return from_double<T>((double)a / (double)b);  // x / 0 saturates, as in Java
            case BINARY_POW: return from_double<T>(pow((double)a, (double)b));
            case BINARY_MAXIMUM: return a >= b ? a : b;
            case BINARY_MINIMUM: return a <= b ? a : b;
            default: return a;
        }
    }
}

template <typename T>
__device__ __forceinline__ u8 compare_value(int op, T a, T b) {
    switch (op) {
        case BINARY_EQ: return a == b;
        case BINARY_NE: return a != b;
        case BINARY_LT: return a < b;
        case BINARY_LE: return a <= b;
        case BINARY_GT: return a > b;
        case BINARY_GE: return a >= b;
        default: return 0;
    }
}

// out may be a itself (binaryInPlace): each element is read before it is written, by the same thread.
template <typename T>
__device__ void binary_kernel(T* out, const T* a, const T* b, Layout L, int op) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[3];
        layout_offsets<3>(L, (int)i, off);
        out[off[0]] = arithmetic_value<T>(op, a[off[1]], b[off[2]]);
    }
}

template <typename T>
__device__ void compare_kernel(u8* out, const T* a, const T* b, Layout L, int op) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[3];
        layout_offsets<3>(L, (int)i, off);
        out[off[0]] = compare_value<T>(op, a[off[1]], b[off[2]]);
    }
}

template <typename T>
__device__ void where_kernel(T* out, const u8* cond, const T* a, const T* b, Layout L) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[4];
        layout_offsets<4>(L, (int)i, off);
        out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
    }
}

// ---- entry points: <kernel>_<dtype>, dtype suffixes f32 f64 i32 i64 u8 (bool) -------------------------

#define LADON_FOR_EACH_TYPE(X) X(f32, float) X(f64, double) X(i32, int) X(i64, i64) X(u8, u8)

#define LADON_PER_TYPE(S, T)                                                                                \
    extern "C" __global__ void fill_##S(T* dst, Layout L, double value) { fill_kernel<T>(dst, L, value); } \
    extern "C" __global__ void copy_##S##_##S(T* dst, const T* src, Layout L) {                            \
        copy_same_kernel<T>(dst, src, L);                                                                  \
    }                                                                                                      \
    extern "C" __global__ void binary_##S(T* out, const T* a, const T* b, Layout L, int op) {              \
        binary_kernel<T>(out, a, b, L, op);                                                                \
    }                                                                                                      \
    extern "C" __global__ void compare_##S(u8* out, const T* a, const T* b, Layout L, int op) {            \
        compare_kernel<T>(out, a, b, L, op);                                                               \
    }                                                                                                      \
    extern "C" __global__ void where_##S(T* out, const u8* cond, const T* a, const T* b, Layout L) {       \
        where_kernel<T>(out, cond, a, b, L);                                                               \
    }
LADON_FOR_EACH_TYPE(LADON_PER_TYPE)

#define LADON_UNARY(S, T)                                                                                  \
    extern "C" __global__ void unary_##S(T* out, const T* x, Layout L, int op, double p) {                \
        unary_kernel<T>(out, x, L, op, p);                                                                 \
    }
LADON_UNARY(f32, float)
LADON_UNARY(f64, double)

// Casts between distinct dtypes: every ordered pair.
#define LADON_CAST(SS, ST, DS, DT)                                                                         \
    extern "C" __global__ void copy_##SS##_##DS(DT* dst, const ST* src, Layout L) {                        \
        copy_kernel<ST, DT>(dst, src, L);                                                                  \
    }
LADON_CAST(f32, float, f64, double) LADON_CAST(f32, float, i32, int) LADON_CAST(f32, float, i64, i64) LADON_CAST(f32, float, u8, u8)
LADON_CAST(f64, double, f32, float) LADON_CAST(f64, double, i32, int) LADON_CAST(f64, double, i64, i64) LADON_CAST(f64, double, u8, u8)
LADON_CAST(i32, int, f32, float) LADON_CAST(i32, int, f64, double) LADON_CAST(i32, int, i64, i64) LADON_CAST(i32, int, u8, u8)
LADON_CAST(i64, i64, f32, float) LADON_CAST(i64, i64, f64, double) LADON_CAST(i64, i64, i32, int) LADON_CAST(i64, i64, u8, u8)
LADON_CAST(u8, u8, f32, float) LADON_CAST(u8, u8, f64, double) LADON_CAST(u8, u8, i32, int) LADON_CAST(u8, u8, i64, i64)
