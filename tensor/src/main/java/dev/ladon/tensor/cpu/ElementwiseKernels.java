package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.UnaryOp;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise kernels: unary and binary maps, where, copy and fill, over arbitrary strided operands.
 *
 * <p>Three paths. The float32 fast path streams segments whose inner strides are 1 (or 0 for a broadcast
 * operand) through {@link FloatVector} loops, one loop per op so each lanewise operator is a JIT constant.
 * Integer and bool operands take the integer path: a segment is loaded into a long scratch buffer,
 * computed in long and stored back, so int64 stays exact over its whole range (a double holds integers
 * only up to 2^53). Every other case (float64, float32 with odd strides) takes the floating path: a
 * segment is loaded into a double scratch buffer, computed in double and stored back rounded to the
 * output dtype (except that a float32 unary op with a vector loop computes each element as a lane of
 * that loop would, so a strided view gives the bits of its contiguous copy). Transcendental float32 ops
 * (exp, log, tanh, sigmoid, silu, gelu) use {@link FloatMath}, which gives the same bits in the vector
 * loops, their scalar tails, and before and after the JIT compiles them. The path is chosen once per call,
 * never per element. Comparisons of float32 operands and
 * {@code where} on float32 values have their own float loops (vectorised on unit or broadcast strides),
 * since masks built from activations (relu's backward) are on the hot path of training. All are checked
 * against a plain scalar reference in the tests.
 */
final class ElementwiseKernels {
    static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    /**
     * Byte lanes as many as F's float lanes, so a float comparison mask converts to bool bytes (and back)
     * lane for lane; null when F has fewer than 8 lanes (no byte vector is that short), and then the
     * comparison and where loops run scalar.
     */
    private static final VectorSpecies<Byte> MASK_BYTES = F.length() >= 8
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * F.length())) : null;
    private static final int SCRATCH = 1024;
    private static final double GELU_C = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_A = 0.044715;

    private ElementwiseKernels() {
    }

    // ---- scalar definitions (the reference for both paths) --------------------------------------

    static double unaryScalar(UnaryOp op, double x, double p) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1.0 / Math.sqrt(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> sigmoid(x);
            case RELU -> Math.max(0.0, x);
            case GELU -> (1.0 + Math.tanh(GELU_C * (x + GELU_A * x * x * x))) * (0.5 * x);
            case SILU -> x * sigmoid(x);
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case POW -> pow(x, p);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1.0 / x;
            case SIGN -> Math.signum(x);
            case GELU_DERIVATIVE -> {
                double t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
                yield 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
            }
        };
    }

    /**
     * a^b as C99's pow (and NumPy, PyTorch): 1^b is 1 for every b, NaN included, and (-1)^(+-inf) is 1, where
     * Java's Math.pow gives NaN.
     */
    static double pow(double a, double b) {
        if (a == 1 || (a == -1 && Double.isInfinite(b))) {
            return 1;
        }
        return Math.pow(a, b);
    }

    /** Sigmoid without overflow: exp is only taken of a non-positive number. */
    static double sigmoid(double x) {
        if (x >= 0) {
            return 1.0 / (1.0 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1.0 + e);
    }

    static double binaryScalar(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> pow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
        };
    }

    /**
     * The integer definition of a binary op on values of an int32, int64 or bool tensor: exact, and
     * wrapping on overflow as Java's int and long arithmetic do (int32 results are narrowed on store). DIV
     * and POW give what converting the double result to {@code type} gave before the integer path
     * existed: a quotient truncated toward zero that saturates at the dtype's range.
     */
    static long binaryLong(BinaryOp op, long a, long b, DType type) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> quotient(a, b, type);
            case POW -> type == DType.INT32 ? (int) Math.pow(a, b) : (long) Math.pow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
        };
    }

    /** a / b truncated toward zero; x / 0 and MIN / -1 saturate to the dtype's range and 0 / 0 is 0. */
    static long quotient(long a, long b, DType type) {
        long max = type == DType.INT32 ? Integer.MAX_VALUE : Long.MAX_VALUE;
        long min = type == DType.INT32 ? Integer.MIN_VALUE : Long.MIN_VALUE;
        if (b == 0) {
            return a > 0 ? max : a < 0 ? min : 0;
        }
        if (b == -1 && a == min) {
            return max;
        }
        return a / b;
    }

    // ---- unary ----------------------------------------------------------------------------------

    static Tensor unary(UnaryOp op, Tensor x, double p) {
        Tensor out = CpuBackend.INSTANCE.newOutput(x.dtype(), x.shape());
        StridedLoop loop = StridedLoop.over(x.shape(), out, x);
        // float32 ops with a vector loop compute in float on every layout, so a strided view gives the bits
        // of its contiguous copy.
        boolean f32 = x.dtype() == DType.FLOAT32 && hasFloatUnary(op);
        boolean fast = f32 && loop.innerStride(1) == 1;
        float[] o32 = fast ? floats(out) : null;
        float[] x32 = fast ? floats(x) : null;
        CpuStorage os = storage(out);
        CpuStorage xs = storage(x);
        loop.forEachParallel(() -> {
            double[] buf = new double[SCRATCH];
            return (off, len) -> {
                if (fast) {
                    unaryFloat(op, x32, off[1], o32, off[0], len);
                    return;
                }
                for (int done = 0; done < len; done += SCRATCH) {
                    int n = Math.min(SCRATCH, len - done);
                    xs.load(off[1] + done * loop.innerStride(1), loop.innerStride(1), buf, n);
                    for (int i = 0; i < n; i++) {
                        buf[i] = f32 ? unaryFloatScalar(op, (float) buf[i]) : unaryScalar(op, buf[i], p);
                    }
                    os.store(off[0] + done, 1, buf, n);
                }
            };
        });
        return out;
    }

    private static boolean hasFloatUnary(UnaryOp op) {
        return switch (op) {
            case NEG, ABS, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, RELU, GELU, SILU, SQUARE, RECIPROCAL -> true;
            default -> false;
        };
    }

    /** One explicit loop per op: a lanewise operator that is not a compile-time constant is not intrinsified. */
    private static void unaryFloat(UnaryOp op, float[] x, int xo, float[] out, int oo, int len) {
        int bound = F.loopBound(len);
        int i = 0;
        switch (op) {
            case NEG -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, x, xo + i).neg().intoArray(out, oo + i);
                }
            }
            case ABS -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, x, xo + i).abs().intoArray(out, oo + i);
                }
            }
            case EXP -> i = expLanes(x, xo, out, oo, bound);
            case LOG -> i = logLanes(x, xo, out, oo, bound);
            case SQRT -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, x, xo + i).sqrt().intoArray(out, oo + i);
                }
            }
            case RSQRT -> {
                for (; i < bound; i += F.length()) {
                    FloatVector v = FloatVector.fromArray(F, x, xo + i).sqrt();
                    FloatVector.broadcast(F, 1f).div(v).intoArray(out, oo + i);
                }
            }
            case TANH -> i = tanhLanes(x, xo, out, oo, bound);
            case SIGMOID -> i = sigmoidLanes(x, xo, out, oo, bound);
            case RELU -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, x, xo + i).max(0f).intoArray(out, oo + i);
                }
            }
            case GELU -> i = geluLanes(x, xo, out, oo, bound);
            case SILU -> i = siluLanes(x, xo, out, oo, bound);
            case SQUARE -> {
                for (; i < bound; i += F.length()) {
                    FloatVector v = FloatVector.fromArray(F, x, xo + i);
                    v.mul(v).intoArray(out, oo + i);
                }
            }
            case RECIPROCAL -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.broadcast(F, 1f).div(FloatVector.fromArray(F, x, xo + i)).intoArray(out, oo + i);
                }
            }
            default -> throw new IllegalStateException("no float32 vector loop for " + op);
        }
        for (; i < len; i++) {
            out[oo + i] = unaryFloatScalar(op, x[xo + i]);
        }
    }

    // The ops built on FloatMath have their vector loops in methods of their own. FloatMath's methods are
    // long once their vector operations are inlined; with several of these loops in unaryFloat, a program
    // that used several of the ops got unaryFloat compiled past C2's inlining budget, the FloatMath calls
    // left out of line ran on boxed vectors, and gelu or sigmoid became 2-5x slower.

    private static int expLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatMath.exp(FloatVector.fromArray(F, x, xo + i)).intoArray(out, oo + i);
        }
        return i;
    }

    private static int logLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatMath.log(FloatVector.fromArray(F, x, xo + i)).intoArray(out, oo + i);
        }
        return i;
    }

    private static int tanhLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatMath.tanh(FloatVector.fromArray(F, x, xo + i)).intoArray(out, oo + i);
        }
        return i;
    }

    /** 1 / (1 + exp(-x)): exp overflows to +inf for very negative x and the result is then 0. */
    private static int sigmoidLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            FloatVector.broadcast(F, 1f).div(FloatMath.exp(v.neg()).add(1f)).intoArray(out, oo + i);
        }
        return i;
    }

    private static int geluLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            FloatVector inner = v.mul(v).mul(v).mul((float) GELU_A).add(v).mul((float) GELU_C);
            // x halved before the product, so 2 x (near the top of the float range) does not overflow; halving
            // is exact, so the result is otherwise the same.
            FloatMath.tanh(inner).add(1f).mul(v.mul(0.5f)).intoArray(out, oo + i);
        }
        return i;
    }

    private static int siluLanes(float[] x, int xo, float[] out, int oo, int bound) {
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            v.div(FloatMath.exp(v.neg()).add(1f)).intoArray(out, oo + i);
        }
        return i;
    }

    /**
     * One element of {@link #unaryFloat}'s vector loops: the same float operations as a lane, so the tail
     * after the last full vector (which moves with the row length and the thread split) gives the bits a
     * lane would have given.
     */
    static float unaryFloatScalar(UnaryOp op, float x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> FloatMath.exp(x);
            case LOG -> FloatMath.log(x);
            // The double square root rounded to float is the correctly rounded float square root.
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> 1f / (float) Math.sqrt(x);
            case TANH -> FloatMath.tanh(x);
            case SIGMOID -> 1f / (FloatMath.exp(-x) + 1f);
            case RELU -> Math.max(x, 0f);
            case GELU -> {
                float inner = (x * x * x * (float) GELU_A + x) * (float) GELU_C;
                yield (FloatMath.tanh(inner) + 1f) * (x * 0.5f);
            }
            case SILU -> x / (FloatMath.exp(-x) + 1f);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1f / x;
            default -> throw new IllegalStateException("no float32 loop for " + op);
        };
    }

    // ---- binary ---------------------------------------------------------------------------------

    static Tensor binary(BinaryOp op, Tensor a, Tensor b, DType resultType) {
        Tensor out = CpuBackend.INSTANCE.newOutput(resultType, a.shape());
        apply(op, out, a, b);
        return out;
    }

    static void binaryInPlace(BinaryOp op, Tensor dst, Tensor src) {
        apply(op, dst, dst, src);
    }

    /** out = a op b, where out may alias a (in-place ops). */
    private static void apply(BinaryOp op, Tensor out, Tensor a, Tensor b) {
        StridedLoop loop = StridedLoop.over(out.shape(), out, a, b);
        // The vector path needs unit-stride runs, one of the two inputs may be broadcast along the run.
        boolean f32 = out.dtype() == DType.FLOAT32 && a.dtype() == DType.FLOAT32 && b.dtype() == DType.FLOAT32
                && loop.innerStride(0) == 1
                && (loop.innerStride(1) == 1 && (loop.innerStride(2) == 1 || loop.innerStride(2) == 0)
                        || loop.innerStride(1) == 0 && loop.innerStride(2) == 1)
                && op.ordinal() <= BinaryOp.MINIMUM.ordinal()
                && op != BinaryOp.POW;
        boolean integral = !a.dtype().isFloating();
        DType type = a.dtype();
        CpuStorage os = storage(out);
        CpuStorage as = storage(a);
        CpuStorage bs = storage(b);
        int sa = loop.innerStride(1);
        int sb = loop.innerStride(2);
        int so = loop.innerStride(0);
        if (op.isComparison() && out.dtype() == DType.BOOL && a.dtype() == DType.FLOAT32
                && b.dtype() == DType.FLOAT32) {
            byte[] o8 = os.bools();
            float[] a32 = as.floats();
            float[] b32 = bs.floats();
            loop.forEachParallel(() -> (off, len) -> {
                if (sa == 0 && sb == 1) {
                    // s op x is x mirror(op) s: one vector loop per op then covers both broadcast sides.
                    compareFloat(mirrored(op), b32, off[2], sb, a32, off[1], sa, o8, off[0], so, len);
                } else {
                    compareFloat(op, a32, off[1], sa, b32, off[2], sb, o8, off[0], so, len);
                }
            });
            return;
        }
        loop.forEachParallel(() -> {
            if (f32) {
                return (off, len) -> {
                    if (sa == 0) {
                        scalarOpFloat(op, as.floats()[off[1]], bs.floats(), off[2], os.floats(), off[0], len);
                    } else {
                        binaryFloat(op, as.floats(), off[1], bs.floats(), off[2], sb == 0, os.floats(), off[0], len);
                    }
                };
            }
            if (integral) {
                long[] x = new long[SCRATCH];
                long[] y = new long[SCRATCH];
                return (off, len) -> {
                    for (int done = 0; done < len; done += SCRATCH) {
                        int n = Math.min(SCRATCH, len - done);
                        as.loadLongs(off[1] + done * sa, sa, x, n);
                        bs.loadLongs(off[2] + done * sb, sb, y, n);
                        for (int i = 0; i < n; i++) {
                            x[i] = binaryLong(op, x[i], y[i], type);
                        }
                        os.storeLongs(off[0] + done * so, so, x, n);
                    }
                };
            }
            double[] x = new double[SCRATCH];
            double[] y = new double[SCRATCH];
            return (off, len) -> {
                for (int done = 0; done < len; done += SCRATCH) {
                    int n = Math.min(SCRATCH, len - done);
                    as.load(off[1] + done * sa, sa, x, n);
                    bs.load(off[2] + done * sb, sb, y, n);
                    for (int i = 0; i < n; i++) {
                        x[i] = binaryScalar(op, x[i], y[i]);
                    }
                    os.store(off[0] + done * so, so, x, n);
                }
            };
        });
    }

    /** out = s op b over a run, for a broadcast left operand (bias + x, 1 - x, 1 / x). */
    private static void scalarOpFloat(BinaryOp op, float s, float[] b, int bo, float[] out, int oo, int len) {
        FloatVector vs = FloatVector.broadcast(F, s);
        int bound = F.loopBound(len);
        int i = 0;
        switch (op) {
            case ADD -> {
                for (; i < bound; i += F.length()) {
                    vs.add(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case SUB -> {
                for (; i < bound; i += F.length()) {
                    vs.sub(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MUL -> {
                for (; i < bound; i += F.length()) {
                    vs.mul(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case DIV -> {
                for (; i < bound; i += F.length()) {
                    vs.div(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MAXIMUM -> {
                for (; i < bound; i += F.length()) {
                    vs.max(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MINIMUM -> {
                for (; i < bound; i += F.length()) {
                    vs.min(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            default -> throw new IllegalStateException("no float32 vector loop for " + op);
        }
        for (; i < len; i++) {
            out[oo + i] = (float) binaryScalar(op, s, b[bo + i]);
        }
    }

    private static void binaryFloat(BinaryOp op, float[] a, int ao, float[] b, int bo, boolean bScalar, float[] out,
            int oo, int len) {
        int bound = F.loopBound(len);
        int i = 0;
        if (bScalar) {
            float s = b[bo];
            FloatVector vs = FloatVector.broadcast(F, s);
            switch (op) {
                case ADD -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).add(vs).intoArray(out, oo + i);
                    }
                }
                case SUB -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).sub(vs).intoArray(out, oo + i);
                    }
                }
                case MUL -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).mul(vs).intoArray(out, oo + i);
                    }
                }
                case DIV -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).div(vs).intoArray(out, oo + i);
                    }
                }
                case MAXIMUM -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).max(vs).intoArray(out, oo + i);
                    }
                }
                case MINIMUM -> {
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, a, ao + i).min(vs).intoArray(out, oo + i);
                    }
                }
                default -> throw new IllegalStateException("no float32 vector loop for " + op);
            }
            for (; i < len; i++) {
                out[oo + i] = (float) binaryScalar(op, a[ao + i], s);
            }
            return;
        }
        switch (op) {
            case ADD -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).add(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case SUB -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).sub(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MUL -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).mul(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case DIV -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).div(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MAXIMUM -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).max(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            case MINIMUM -> {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, ao + i).min(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
                }
            }
            default -> throw new IllegalStateException("no float32 vector loop for " + op);
        }
        for (; i < len; i++) {
            out[oo + i] = (float) binaryScalar(op, a[ao + i], b[bo + i]);
        }
    }

    // ---- float comparisons ----------------------------------------------------------------------

    /** The comparison that gives the same answer with its operands swapped (a &lt; b is b &gt; a). */
    private static BinaryOp mirrored(BinaryOp op) {
        return switch (op) {
            case LT -> BinaryOp.GT;
            case LE -> BinaryOp.GE;
            case GT -> BinaryOp.LT;
            case GE -> BinaryOp.LE;
            default -> op;
        };
    }

    /**
     * out[i] = a[i] op b[i] as bool bytes, for float32 operands with any strides. Vectorised when out and a
     * are unit-stride and b is unit-stride or broadcast (stride 0); one loop per op so the comparison is a
     * JIT constant (one shared loop taking the comparison as an argument ran 6-7x slower on 16M elements:
     * the JIT did not treat the argument as a constant). NaN compares as in Java: false for everything but NE.
     */
    private static void compareFloat(BinaryOp op, float[] a, int ao, int sa, float[] b, int bo, int sb, byte[] out,
            int oo, int so, int len) {
        int i = 0;
        if (MASK_BYTES != null && so == 1 && sa == 1 && sb <= 1) {
            int bound = F.loopBound(len);
            if (sb == 0) {
                FloatVector s = FloatVector.broadcast(F, b[bo]);
                switch (op) {
                    case EQ -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.EQ, s), out, oo + i);
                        }
                    }
                    case NE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.NE, s), out, oo + i);
                        }
                    }
                    case LT -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.LT, s), out, oo + i);
                        }
                    }
                    case LE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.LE, s), out, oo + i);
                        }
                    }
                    case GT -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.GT, s), out, oo + i);
                        }
                    }
                    case GE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i).compare(VectorOperators.GE, s), out, oo + i);
                        }
                    }
                    default -> throw new IllegalStateException("not a comparison: " + op);
                }
            } else {
                switch (op) {
                    case EQ -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.EQ, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    case NE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.NE, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    case LT -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.LT, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    case LE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.LE, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    case GT -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.GT, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    case GE -> {
                        for (; i < bound; i += F.length()) {
                            storeMask(FloatVector.fromArray(F, a, ao + i)
                                    .compare(VectorOperators.GE, FloatVector.fromArray(F, b, bo + i)), out, oo + i);
                        }
                    }
                    default -> throw new IllegalStateException("not a comparison: " + op);
                }
            }
        }
        for (; i < len; i++) {
            out[oo + i * so] = (byte) binaryScalar(op, a[ao + i * sa], b[bo + i * sb]);
        }
    }

    /** Set lanes become bool 1, the others 0. */
    private static void storeMask(VectorMask<Float> mask, byte[] out, int offset) {
        ByteVector.zero(MASK_BYTES).blend((byte) 1, mask.cast(MASK_BYTES)).intoArray(out, offset);
    }

    // ---- where, copy, fill ----------------------------------------------------------------------

    /** cond ? a : b; the values move through long scratch for integer dtypes (exact) and double otherwise. */
    static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Tensor out = CpuBackend.INSTANCE.newTensor(a.dtype(), a.shape());
        StridedLoop loop = StridedLoop.over(out.shape(), out, cond, a, b);
        boolean integral = !a.dtype().isFloating();
        CpuStorage os = storage(out);
        byte[] c = storage(cond).bools();
        CpuStorage as = storage(a);
        CpuStorage bs = storage(b);
        int sc = loop.innerStride(1);
        int sa = loop.innerStride(2);
        int sb = loop.innerStride(3);
        if (a.dtype() == DType.FLOAT32) {
            float[] o32 = os.floats();
            byte[] c8 = c;
            float[] a32 = as.floats();
            float[] b32 = bs.floats();
            loop.forEachParallel(() -> (off, len) -> whereFloat(c8, off[1], sc, a32, off[2], sa, b32, off[3], sb, o32,
                    off[0], len));
            return out;
        }
        loop.forEachParallel(() -> {
            if (integral) {
                long[] x = new long[SCRATCH];
                long[] y = new long[SCRATCH];
                return (off, len) -> {
                    for (int done = 0; done < len; done += SCRATCH) {
                        int n = Math.min(SCRATCH, len - done);
                        int c0 = off[1] + done * sc;
                        as.loadLongs(off[2] + done * sa, sa, x, n);
                        bs.loadLongs(off[3] + done * sb, sb, y, n);
                        for (int i = 0; i < n; i++) {
                            x[i] = c[c0 + i * sc] != 0 ? x[i] : y[i];
                        }
                        os.storeLongs(off[0] + done, 1, x, n);
                    }
                };
            }
            double[] x = new double[SCRATCH];
            double[] y = new double[SCRATCH];
            return (off, len) -> {
                for (int done = 0; done < len; done += SCRATCH) {
                    int n = Math.min(SCRATCH, len - done);
                    int c0 = off[1] + done * sc;
                    as.load(off[2] + done * sa, sa, x, n);
                    bs.load(off[3] + done * sb, sb, y, n);
                    for (int i = 0; i < n; i++) {
                        x[i] = c[c0 + i * sc] != 0 ? x[i] : y[i];
                    }
                    os.store(off[0] + done, 1, x, n);
                }
            };
        });
        return out;
    }

    /**
     * ReLU's backward in one pass for float32: grad where output &gt; 0, else 0. The select of
     * {@code where(output > 0, grad, 0)} without the mask in between (that composition reads and writes the
     * activation-sized tensors twice).
     */
    static Tensor reluBackward(Tensor grad, Tensor output) {
        Tensor out = CpuBackend.INSTANCE.newOutput(DType.FLOAT32, grad.shape());
        StridedLoop loop = StridedLoop.over(out.shape(), out, grad, output);
        float[] o = storage(out).floats();
        float[] g = storage(grad).floats();
        float[] y = storage(output).floats();
        int sg = loop.innerStride(1);
        int sy = loop.innerStride(2);
        loop.forEachParallel(() -> (off, len) -> reluBackwardFloat(g, off[1], sg, y, off[2], sy, o, off[0], len));
        return out;
    }

    /** One contiguous run of {@link #reluBackward}; vectorised where grad and output are unit-stride. */
    private static void reluBackwardFloat(float[] g, int go, int sg, float[] y, int yo, int sy, float[] out, int oo,
            int len) {
        int i = 0;
        if (sg == 1 && sy == 1) {
            FloatVector zero = FloatVector.zero(F);
            for (int bound = F.loopBound(len); i < bound; i += F.length()) {
                VectorMask<Float> positive = FloatVector.fromArray(F, y, yo + i).compare(VectorOperators.GT, 0f);
                zero.blend(FloatVector.fromArray(F, g, go + i), positive).intoArray(out, oo + i);
            }
        }
        for (; i < len; i++) {
            out[oo + i] = y[yo + i * sy] > 0f ? g[go + i * sg] : 0f;
        }
    }

    /**
     * out[i] = c[i] != 0 ? a[i] : b[i] into a contiguous run, for float32 values with any strides; vectorised
     * when the condition is unit-stride and each value operand is unit-stride or broadcast.
     */
    private static void whereFloat(byte[] c, int co, int sc, float[] a, int ao, int sa, float[] b, int bo, int sb,
            float[] out, int oo, int len) {
        int i = 0;
        if (MASK_BYTES != null && sc == 1 && sa <= 1 && sb <= 1) {
            int bound = F.loopBound(len);
            if (sa == 1 && sb == 1) {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, b, bo + i).blend(FloatVector.fromArray(F, a, ao + i), conditionMask(c, co + i))
                            .intoArray(out, oo + i);
                }
            } else if (sa == 1) {
                FloatVector vb = FloatVector.broadcast(F, b[bo]);
                for (; i < bound; i += F.length()) {
                    vb.blend(FloatVector.fromArray(F, a, ao + i), conditionMask(c, co + i)).intoArray(out, oo + i);
                }
            } else if (sb == 1) {
                FloatVector va = FloatVector.broadcast(F, a[ao]);
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, b, bo + i).blend(va, conditionMask(c, co + i)).intoArray(out, oo + i);
                }
            } else {
                FloatVector va = FloatVector.broadcast(F, a[ao]);
                FloatVector vb = FloatVector.broadcast(F, b[bo]);
                for (; i < bound; i += F.length()) {
                    vb.blend(va, conditionMask(c, co + i)).intoArray(out, oo + i);
                }
            }
        }
        for (; i < len; i++) {
            out[oo + i] = c[co + i * sc] != 0 ? a[ao + i * sa] : b[bo + i * sb];
        }
    }

    /** The lanes whose bool byte is non-zero, as a float mask. */
    private static VectorMask<Float> conditionMask(byte[] c, int offset) {
        return ByteVector.fromArray(MASK_BYTES, c, offset).compare(VectorOperators.NE, (byte) 0).cast(F);
    }

    /** dst = src elementwise (same shape; src may be broadcast); casts when dtypes differ. */
    static void copy(Tensor dst, Tensor src) {
        StridedLoop loop = StridedLoop.over(dst.shape(), dst, src);
        CpuStorage ds = storage(dst);
        CpuStorage ss = storage(src);
        int sd = loop.innerStride(0);
        int sss = loop.innerStride(1);
        boolean sameType = dst.dtype() == src.dtype();
        // Integers convert as integers: through a double, int64 to int32 would saturate instead of keeping the
        // low 32 bits, and int64 to float32 would round twice (long to double to float).
        boolean fromIntegers = !src.dtype().isFloating();
        boolean toIntegers = !dst.dtype().isFloating();
        boolean toFloat32 = dst.dtype() == DType.FLOAT32;
        loop.forEachParallel(() -> {
            double[] buf = new double[SCRATCH];
            long[] longs = fromIntegers ? new long[SCRATCH] : null;
            return (off, len) -> {
                if (sameType) {
                    copySameType(ss, off[1], sss, ds, off[0], sd, len);
                    return;
                }
                for (int done = 0; done < len; done += SCRATCH) {
                    int n = Math.min(SCRATCH, len - done);
                    if (fromIntegers && toIntegers) {
                        ss.loadLongs(off[1] + done * sss, sss, longs, n);
                        ds.storeLongs(off[0] + done * sd, sd, longs, n);
                    } else if (fromIntegers && toFloat32) {
                        ss.loadLongs(off[1] + done * sss, sss, longs, n);
                        float[] d = ds.floats();
                        int d0 = off[0] + done * sd;
                        for (int i = 0; i < n; i++) {
                            d[d0 + i * sd] = (float) longs[i];
                        }
                    } else {
                        ss.load(off[1] + done * sss, sss, buf, n);
                        ds.store(off[0] + done * sd, sd, buf, n);
                    }
                }
            };
        });
    }

    /** Same-dtype strided copy; exact for int64 (the double path would round past 2^53). */
    private static void copySameType(CpuStorage src, int so, int ss, CpuStorage dst, int d0, int ds, int len) {
        Object s = src.array();
        Object d = dst.array();
        if (ss == 1 && ds == 1) {
            System.arraycopy(s, so, d, d0, len);
            return;
        }
        switch (src.dtype()) {
            case FLOAT32 -> {
                float[] a = (float[]) s;
                float[] b = (float[]) d;
                for (int i = 0; i < len; i++) {
                    b[d0 + i * ds] = a[so + i * ss];
                }
            }
            case FLOAT64 -> {
                double[] a = (double[]) s;
                double[] b = (double[]) d;
                for (int i = 0; i < len; i++) {
                    b[d0 + i * ds] = a[so + i * ss];
                }
            }
            case INT32 -> {
                int[] a = (int[]) s;
                int[] b = (int[]) d;
                for (int i = 0; i < len; i++) {
                    b[d0 + i * ds] = a[so + i * ss];
                }
            }
            case INT64 -> {
                long[] a = (long[]) s;
                long[] b = (long[]) d;
                for (int i = 0; i < len; i++) {
                    b[d0 + i * ds] = a[so + i * ss];
                }
            }
            case BOOL -> {
                byte[] a = (byte[]) s;
                byte[] b = (byte[]) d;
                for (int i = 0; i < len; i++) {
                    b[d0 + i * ds] = a[so + i * ss];
                }
            }
        }
    }

    static void fill(Tensor dst, double value) {
        StridedLoop loop = StridedLoop.over(dst.shape(), dst);
        CpuStorage ds = storage(dst);
        int sd = loop.innerStride(0);
        loop.forEachParallel(() -> {
            double[] buf = new double[SCRATCH];
            java.util.Arrays.fill(buf, value);
            return (off, len) -> {
                for (int done = 0; done < len; done += SCRATCH) {
                    int n = Math.min(SCRATCH, len - done);
                    ds.store(off[0] + done * sd, sd, buf, n);
                }
            };
        });
    }

    // ---- helpers --------------------------------------------------------------------------------

    static CpuStorage storage(Tensor t) {
        return (CpuStorage) t.storage();
    }

    static float[] floats(Tensor t) {
        return ((CpuStorage) t.storage()).floats();
    }
}
