package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Unary and binary maps, comparisons, where, in-place ops: each against a scalar loop in double. */
class ElementwiseTest {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /** A unary op, its definition in double, and an input range where it is finite. */
    record UnaryCase(String name, Function<Tensor, Tensor> op, DoubleUnaryOperator reference, double lo, double hi) {
        @Override
        public String toString() {
            return name;
        }
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    }

    static List<UnaryCase> unaryCases() {
        return List.of(
                new UnaryCase("neg", Tensor::neg, x -> -x, -5, 5),
                new UnaryCase("abs", Tensor::abs, Math::abs, -5, 5),
                new UnaryCase("exp", Tensor::exp, Math::exp, -6, 6),
                new UnaryCase("log", Tensor::log, Math::log, 0.01, 20),
                new UnaryCase("sqrt", Tensor::sqrt, Math::sqrt, 0, 20),
                new UnaryCase("rsqrt", Tensor::rsqrt, x -> 1 / Math.sqrt(x), 0.05, 20),
                new UnaryCase("tanh", Tensor::tanh, Math::tanh, -6, 6),
                new UnaryCase("sigmoid", Tensor::sigmoid, x -> 1 / (1 + Math.exp(-x)), -30, 30),
                new UnaryCase("relu", Tensor::relu, x -> x > 0 ? x : 0, -3, 3),
                new UnaryCase("gelu", Tensor::gelu, ElementwiseTest::gelu, -6, 6),
                new UnaryCase("geluDerivative", Tensor::geluDerivative,
                        x -> (gelu(x + 1e-5) - gelu(x - 1e-5)) / 2e-5, -6, 6),
                new UnaryCase("silu", Tensor::silu, x -> x / (1 + Math.exp(-x)), -30, 30),
                new UnaryCase("sin", Tensor::sin, Math::sin, -10, 10),
                new UnaryCase("cos", Tensor::cos, Math::cos, -10, 10),
                new UnaryCase("pow(2.5)", t -> t.pow(2.5), x -> Math.pow(x, 2.5), 0, 4),
                new UnaryCase("pow(3)", t -> t.pow(3), x -> x * x * x, -3, 3),
                new UnaryCase("pow(-1.5)", t -> t.pow(-1.5), x -> Math.pow(x, -1.5), 0.1, 4),
                new UnaryCase("square", Tensor::square, x -> x * x, -5, 5),
                new UnaryCase("reciprocal", Tensor::reciprocal, x -> 1 / x, 0.1, 5),
                new UnaryCase("sign", Tensor::sign, Math::signum, -3, 3));
    }

    static Stream<Arguments> unaryOnEveryLayout() {
        List<Arguments> args = new ArrayList<>();
        for (UnaryCase c : unaryCases()) {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                for (Layout layout : Layout.values()) {
                    args.add(Arguments.of(c, dtype, layout));
                }
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("unaryOnEveryLayout")
    void unaryOpMatchesScalarReference(UnaryCase c, DType dtype, Layout layout) {
        Random rng = new Random(c.name().hashCode() * 31L + dtype.ordinal() * 7L + layout.ordinal());
        List<int[]> shapes = new ArrayList<>(List.of(new int[] {33}, new int[] {129}, new int[] {}, new int[] {3, 1, 17}));
        for (int i = 0; i < 3; i++) {
            shapes.add(Layout.randomShape(rng, 4));
        }
        // finite differences of gelu lose about 1e-10 to cancellation
        double tol = c.name().equals("geluDerivative") && dtype == DType.FLOAT64 ? 1e-8 : Elements.tolerance(dtype);
        for (int[] shape : shapes) {
            Tensor x = layout.random(rng, dtype, shape, c.lo(), c.hi());
            double[] in = Elements.read(x);
            double[] expected = new double[in.length];
            for (int i = 0; i < in.length; i++) {
                expected[i] = c.reference().applyAsDouble(in[i]);
            }
            Elements.assertClose(c.name() + " " + layout, c.op().apply(x), dtype, shape, expected, tol);
        }
    }

    @Test
    void signOfZeroIsZeroAndNaNStaysNaN() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Elements.tensor(dtype, new int[] {5}, new double[] {-2, -0.0, 0, 3, Double.NaN});
            Elements.assertClose("sign", x.sign(), dtype, new int[] {5}, new double[] {-1, 0, 0, 1, Double.NaN}, 0);
        }
    }

    @Test
    void sigmoidAndSiluStayFiniteForLargeInputs() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double[] in = new double[40];
            for (int i = 0; i < in.length; i++) {
                in[i] = i % 2 == 0 ? -200 - i : 200 + i;
            }
            Tensor x = Elements.tensor(dtype, new int[] {40}, in);
            for (double v : Elements.read(x.sigmoid())) {
                assertThat(v).isBetween(0.0, 1.0);
            }
            double[] silu = Elements.read(x.silu());
            for (int i = 0; i < in.length; i++) {
                assertThat(silu[i]).isCloseTo(in[i] > 0 ? in[i] : 0.0, org.assertj.core.data.Offset.offset(1e-3));
            }
        }
    }

    @Test
    void largeStridedOperandsSplitAcrossThreadsMatchReference() {
        // 98905 elements: three chunks of the 32768-element grain, the later ones starting mid-row
        int[] shape = {5, 131, 151};
        Random rng = new Random(11);
        ThreadCount.run(3, () -> {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                for (Layout layout : new Layout[] {Layout.TRANSPOSED, Layout.STRIDED, Layout.CONTIGUOUS}) {
                    Tensor x = layout.random(rng, dtype, shape, -4, 4);
                    Tensor y = Layout.TRANSPOSED.random(rng, dtype, shape, -4, 4);
                    double[] a = Elements.read(x);
                    double[] b = Elements.read(y);
                    double tol = Elements.tolerance(dtype);
                    Elements.assertClose("exp " + layout, x.exp(), dtype, shape, map(a, Math::exp), tol);
                    double[] product = new double[a.length];
                    double[] larger = new double[a.length];
                    for (int i = 0; i < a.length; i++) {
                        product[i] = a[i] * b[i];
                        larger[i] = a[i] > b[i] ? a[i] : b[i];
                    }
                    Elements.assertClose("mul " + layout, x.mul(y), dtype, shape, product, tol);
                    Elements.assertClose("where " + layout, Tensor.where(x.gt(y), x, y), dtype, shape, larger, 0);
                    Elements.assertClose("contiguous " + layout, x.contiguous(), dtype, shape, a, 0);
                    DType other = dtype == DType.FLOAT32 ? DType.FLOAT64 : DType.FLOAT32;
                    Elements.assertClose("cast " + layout, x.to(other), other, shape, a, Elements.tolerance(other));
                    Tensor dst = Tensor.zeros(dtype, shape[2], shape[1], shape[0]).permute(2, 1, 0);
                    Elements.assertClose("copyFrom " + layout, dst.copyFrom(x), dtype, shape, a, 0);
                }
            }
        });
    }

    // ---- binary ---------------------------------------------------------------------------------

    record BinaryCase(String name, BiFunction<Tensor, Tensor, Tensor> op, DoubleBinaryOperator reference, double aLo,
            double aHi, double bLo, double bHi) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final java.util.Set<String> COMMUTATIVE = java.util.Set.of("add", "mul", "maximum", "minimum");

    static Stream<BinaryCase> binaryCases() {
        return Stream.of(
                new BinaryCase("add", Tensor::add, Double::sum, -5, 5, -5, 5),
                new BinaryCase("sub", Tensor::sub, (a, b) -> a - b, -5, 5, -5, 5),
                new BinaryCase("mul", Tensor::mul, (a, b) -> a * b, -5, 5, -5, 5),
                new BinaryCase("div", Tensor::div, (a, b) -> a / b, -5, 5, 0.5, 4),
                new BinaryCase("pow", Tensor::pow, Math::pow, 0.1, 3, -2, 2),
                new BinaryCase("maximum", Tensor::maximum, Math::max, -5, 5, -5, 5),
                new BinaryCase("minimum", Tensor::minimum, Math::min, -5, 5, -5, 5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("binaryCases")
    void binaryOpBroadcastsOverRandomShapesAndLayouts(BinaryCase c) {
        Random rng = new Random(c.name().hashCode());
        DType[][] dtypes = {{DType.FLOAT32, DType.FLOAT32}, {DType.FLOAT64, DType.FLOAT64}, {DType.FLOAT32, DType.FLOAT64}};
        for (int trial = 0; trial < 60; trial++) {
            int[] out = Layout.randomShape(rng, 4);
            int[] sa = Layout.broadcastableTo(rng, out);
            int[] sb = Layout.broadcastableTo(rng, out);
            int[] expectedShape = Shape.broadcast("test", sa, sb);
            DType[] dt = dtypes[trial % dtypes.length];
            Layout la = Layout.values()[rng.nextInt(4)];
            Layout lb = Layout.values()[rng.nextInt(4)];
            Tensor a = la.random(rng, dt[0], sa, c.aLo(), c.aHi());
            Tensor b = lb.random(rng, dt[1], sb, c.bLo(), c.bHi());
            double[] av = Elements.read(a);
            double[] bv = Elements.read(b);
            double[] expected = new double[Elements.numel(expectedShape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, expectedShape);
                expected[i] = c.reference().applyAsDouble(av[broadcastIndex(idx, sa)], bv[broadcastIndex(idx, sb)]);
            }
            DType result = DType.resultType(dt[0], sa.length == 0, dt[1], sb.length == 0);
            String what = c.name() + " " + java.util.Arrays.toString(sa) + " " + la + " with "
                    + java.util.Arrays.toString(sb) + " " + lb;
            Elements.assertClose(what, c.op().apply(a, b), result, expectedShape, expected, Elements.tolerance(result));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("binaryCases")
    void binaryOpOnLongContiguousRowsAndScalarsMatchesReference(BinaryCase c) {
        // Long rows exercise the vector loops and their tails; a 0-dim operand the broadcast-scalar loop.
        Random rng = new Random(c.name().hashCode() + 1);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int n : new int[] {1, 7, 16, 33, 129}) {
                for (int[] sb : new int[][] {{n}, {}, {1}}) {
                    Tensor a = Layout.CONTIGUOUS.random(rng, dtype, new int[] {n}, c.aLo(), c.aHi());
                    Tensor b = Layout.CONTIGUOUS.random(rng, dtype, sb, c.bLo(), c.bHi());
                    double[] av = Elements.read(a);
                    double[] bv = Elements.read(b);
                    double[] expected = new double[n];
                    for (int i = 0; i < n; i++) {
                        expected[i] = c.reference().applyAsDouble(av[i], bv[bv.length == 1 ? 0 : i]);
                    }
                    Elements.assertClose(c.name(), c.op().apply(a, b), dtype, new int[] {n}, expected,
                            Elements.tolerance(dtype));
                    if (COMMUTATIVE.contains(c.name())) {
                        // the broadcast operand on the left takes the general path instead of the scalar loop
                        Elements.assertClose(c.name() + " swapped", c.op().apply(b, a), dtype, new int[] {n}, expected,
                                Elements.tolerance(dtype));
                    }
                }
            }
        }
    }

    static int broadcastIndex(int[] outIndex, int[] shape) {
        int lead = outIndex.length - shape.length;
        int flat = 0;
        for (int d = 0; d < shape.length; d++) {
            flat = flat * shape[d] + (shape[d] == 1 ? 0 : outIndex[d + lead]);
        }
        return flat;
    }

    @Test
    void scalarOverloadsMatchTensorOps() {
        Random rng = new Random(3);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Layout.STRIDED.random(rng, dtype, new int[] {4, 9}, -3, 3);
            double[] v = Elements.read(x);
            int[] s = {4, 9};
            Elements.assertClose("add", x.add(1.5), dtype, s, map(v, a -> a + 1.5), Elements.tolerance(dtype));
            Elements.assertClose("sub", x.sub(1.5), dtype, s, map(v, a -> a - 1.5), Elements.tolerance(dtype));
            Elements.assertClose("mul", x.mul(-2), dtype, s, map(v, a -> a * -2), Elements.tolerance(dtype));
            Elements.assertClose("div", x.div(4), dtype, s, map(v, a -> a / 4), Elements.tolerance(dtype));
            Elements.assertClose("clamp", x.clamp(-1, 0.5), dtype, s, map(v, a -> Math.min(0.5, Math.max(-1, a))),
                    Elements.tolerance(dtype));
        }
    }

    static double[] map(double[] v, DoubleUnaryOperator f) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = f.applyAsDouble(v[i]);
        }
        return r;
    }

    @Test
    void maximumAndMinimumPropagateNaN() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double[] a = new double[20];
            double[] b = new double[20];
            for (int i = 0; i < 20; i++) {
                a[i] = i % 3 == 0 ? Double.NaN : i;
                b[i] = i % 4 == 0 ? Double.NaN : -i;
            }
            Tensor ta = Elements.tensor(dtype, new int[] {20}, a);
            Tensor tb = Elements.tensor(dtype, new int[] {20}, b);
            double[] max = new double[20];
            double[] min = new double[20];
            for (int i = 0; i < 20; i++) {
                max[i] = Math.max(a[i], b[i]);
                min[i] = Math.min(a[i], b[i]);
            }
            Elements.assertClose("maximum", ta.maximum(tb), dtype, new int[] {20}, max, 0);
            Elements.assertClose("minimum", ta.minimum(tb), dtype, new int[] {20}, min, 0);
        }
    }

    // ---- integer and bool arithmetic --------------------------------------------------------------

    @Test
    void integerArithmeticPromotesLikePyTorch() {
        Tensor i32 = Tensor.of(new int[] {1, -2, 7}, 3);
        Tensor i64 = Tensor.of(new long[] {10, 20, 30}, 3);
        Tensor bools = Tensor.of(new boolean[] {true, false, true}, 3);
        Elements.assertExact("int32 + int64", i32.add(i64), DType.INT64, new int[] {3}, new long[] {11, 18, 37});
        Elements.assertExact("int32 * 3", i32.mul(3), DType.INT32, new int[] {3}, new long[] {3, -6, 21});
        Elements.assertExact("int32 neg", i32.neg(), DType.INT32, new int[] {3}, new long[] {-1, 2, -7});
        Elements.assertExact("bool + bool", bools.add(bools), DType.INT64, new int[] {3}, new long[] {2, 0, 2});
        Elements.assertClose("int32 + 0.5", i32.add(0.5), DType.FLOAT32, new int[] {3}, new double[] {1.5, -1.5, 7.5}, 0);
        Elements.assertClose("int32 / int32", i32.div(Tensor.of(new int[] {2, 4, 7}, 3)), DType.FLOAT32, new int[] {3},
                new double[] {0.5, -0.5, 1}, 0);
        Elements.assertClose("int64 / 4", i64.div(4), DType.FLOAT32, new int[] {3}, new double[] {2.5, 5, 7.5}, 0);
        Elements.assertClose("int32 + float64", i32.add(Tensor.of(new double[] {0.25}, 1)), DType.FLOAT64,
                new int[] {3}, new double[] {1.25, -1.75, 7.25}, 0);
        Elements.assertClose("int pow", i32.pow(Tensor.of(new int[] {2}, 1)), DType.FLOAT32, new int[] {3},
                new double[] {1, 4, 49}, 0);
    }

    @Test
    void int64ArithmeticIsExactBeyondDoublePrecision() {
        long big = (1L << 60) + 3;
        Tensor x = Tensor.of(new long[] {big, -big}, 2);
        Elements.assertExact("copy", x.copy(), DType.INT64, new int[] {2}, new long[] {big, -big});
        Elements.assertExact("transposed copy", x.unsqueeze(1).mT().contiguous(), DType.INT64, new int[] {1, 2},
                new long[] {big, -big});
    }

    // ---- comparisons, where, maskedFill -----------------------------------------------------------

    record CompareCase(String name, BiFunction<Tensor, Tensor, Tensor> op, DoubleBinaryOperator reference) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<CompareCase> comparisons() {
        return Stream.of(
                new CompareCase("eq", Tensor::eq, (a, b) -> a == b ? 1 : 0),
                new CompareCase("ne", Tensor::ne, (a, b) -> a != b ? 1 : 0),
                new CompareCase("lt", Tensor::lt, (a, b) -> a < b ? 1 : 0),
                new CompareCase("le", Tensor::le, (a, b) -> a <= b ? 1 : 0),
                new CompareCase("gt", Tensor::gt, (a, b) -> a > b ? 1 : 0),
                new CompareCase("ge", Tensor::ge, (a, b) -> a >= b ? 1 : 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("comparisons")
    void comparisonGivesABoolMaskWithBroadcasting(CompareCase c) {
        Random rng = new Random(c.name().hashCode());
        DType[] types = {DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64};
        for (int trial = 0; trial < 40; trial++) {
            int[] out = Layout.randomShape(rng, 3);
            int[] sa = Layout.broadcastableTo(rng, out);
            int[] sb = Layout.broadcastableTo(rng, out);
            int[] shape = Shape.broadcast("test", sa, sb);
            // small integer values so that ties (eq, le, ge) actually occur
            Tensor a = Layout.values()[rng.nextInt(4)].random(rng, types[rng.nextInt(4)], sa, -2, 3);
            Tensor b = Layout.values()[rng.nextInt(4)].random(rng, types[rng.nextInt(4)], sb, -2, 3);
            if (a.dtype().isFloating()) {
                a = Elements.tensor(a.dtype(), sa, map(Elements.read(a), Math::floor));
            }
            double[] av = Elements.read(a);
            double[] bv = Elements.read(b);
            long[] expected = new long[Elements.numel(shape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, shape);
                expected[i] = (long) c.reference().applyAsDouble(av[broadcastIndex(idx, sa)], bv[broadcastIndex(idx, sb)]);
            }
            Elements.assertExact(c.name(), c.op().apply(a, b), DType.BOOL, shape, expected);
        }
    }

    @Test
    void comparisonWithScalarAndNaN() {
        Tensor x = Tensor.of(new float[] {1, 2, Float.NaN, 4}, 4);
        Elements.assertExact("lt 2", x.lt(2), DType.BOOL, new int[] {4}, new long[] {1, 0, 0, 0});
        Elements.assertExact("ge 2", x.ge(2), DType.BOOL, new int[] {4}, new long[] {0, 1, 0, 1});
        Elements.assertExact("ne 2", x.ne(2), DType.BOOL, new int[] {4}, new long[] {1, 0, 1, 1});
        Elements.assertExact("eq self", x.eq(x), DType.BOOL, new int[] {4}, new long[] {1, 1, 0, 1});
    }

    @Test
    void aZeroDimOperandDecidesTheTypeOnlyWhenItIsOfAHigherKind() {
        Tensor f32 = Tensor.ones(3);
        Tensor f64Scalar = Tensor.scalar(2, DType.FLOAT64, Device.CPU);
        assertThat(f32.mul(f64Scalar).dtype()).as("float32 x float64 0-dim").isEqualTo(DType.FLOAT32);
        assertThat(f64Scalar.mul(f32).dtype()).isEqualTo(DType.FLOAT32);
        assertThat(Tensor.of(new long[] {1, 2}, 2).add(Tensor.scalar(0.5)).dtype()).as("int64 + float32 0-dim")
                .isEqualTo(DType.FLOAT32);
        assertThat(Tensor.of(new int[] {1, 2}, 2).add(Tensor.scalar(7, DType.INT64, Device.CPU)).dtype())
                .as("int32 + int64 0-dim").isEqualTo(DType.INT32);
        assertThat(f32.mul(Tensor.full(2, DType.FLOAT64, Device.CPU, 1)).dtype()).as("a [1] tensor has a dim")
                .isEqualTo(DType.FLOAT64);
        assertThat(Tensor.scalar(1).add(f64Scalar).dtype()).as("two 0-dim operands").isEqualTo(DType.FLOAT64);
    }

    @Test
    void whereBroadcastsConditionAndBothBranches() {
        Random rng = new Random(5);
        for (int trial = 0; trial < 40; trial++) {
            int[] out = Layout.randomShape(rng, 4);
            int[] sc = Layout.broadcastableTo(rng, out);
            int[] sa = Layout.broadcastableTo(rng, out);
            int[] sb = Layout.broadcastableTo(rng, out);
            int[] shape = Shape.broadcast("t", Shape.broadcast("t", sc, sa), sb);
            Tensor cond = Layout.values()[rng.nextInt(4)].random(rng, DType.BOOL, sc, 0, 2);
            DType ta = trial % 2 == 0 ? DType.FLOAT32 : DType.INT64;
            Tensor a = Layout.values()[rng.nextInt(4)].random(rng, ta, sa, -9, 9);
            Tensor b = Layout.values()[rng.nextInt(4)].random(rng, DType.FLOAT64, sb, -9, 9);
            double[] cv = Elements.read(cond);
            double[] av = Elements.read(a);
            double[] bv = Elements.read(b);
            double[] expected = new double[Elements.numel(shape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, shape);
                expected[i] = cv[broadcastIndex(idx, sc)] != 0 ? av[broadcastIndex(idx, sa)] : bv[broadcastIndex(idx, sb)];
            }
            DType result = DType.resultType(ta, sa.length == 0, DType.FLOAT64, sb.length == 0);
            // A float64 0-dim b beside a float32 a is rounded to float32.
            Elements.assertClose("where", Tensor.where(cond, a, b), result, shape, expected, Elements.tolerance(result));
        }
    }

    @Test
    void maskedFillReplacesMaskedElementsAndKeepsDtype() {
        Random rng = new Random(6);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.INT64}) {
            Tensor x = Layout.TRANSPOSED.random(rng, dtype, new int[] {3, 5}, -9, 9);
            Tensor mask = Layout.CONTIGUOUS.random(rng, DType.BOOL, new int[] {1, 5}, 0, 2);
            double[] xv = Elements.read(x);
            double[] mv = Elements.read(mask);
            double[] expected = new double[15];
            for (int i = 0; i < 15; i++) {
                expected[i] = mv[i % 5] != 0 ? -7 : xv[i];
            }
            Elements.assertClose("maskedFill", x.maskedFill(mask, -7), dtype, new int[] {3, 5}, expected, 0);
        }
        Tensor neg = Tensor.of(new float[] {1, 2}, 2).maskedFill(Tensor.of(new boolean[] {false, true}, 2),
                Double.NEGATIVE_INFINITY);
        assertThat(Elements.read(neg)).containsExactly(1, Double.NEGATIVE_INFINITY);
    }

    @Test
    void logicalNotInvertsAMask() {
        Tensor m = Tensor.of(new boolean[] {true, false, false}, 3);
        Elements.assertExact("not", m.logicalNot(), DType.BOOL, new int[] {3}, new long[] {0, 1, 1});
    }

    // ---- in place -------------------------------------------------------------------------------

    record InPlaceCase(String name, BiFunction<Tensor, Tensor, Tensor> op, DoubleBinaryOperator reference) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<InPlaceCase> inPlaceCases() {
        return Stream.of(
                new InPlaceCase("addInPlace", Tensor::addInPlace, Double::sum),
                new InPlaceCase("subInPlace", Tensor::subInPlace, (a, b) -> a - b),
                new InPlaceCase("mulInPlace", Tensor::mulInPlace, (a, b) -> a * b),
                new InPlaceCase("divInPlace", Tensor::divInPlace, (a, b) -> a / b),
                new InPlaceCase("copyFrom", Tensor::copyFrom, (a, b) -> b));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("inPlaceCases")
    void inPlaceOpWritesOnlyTheViewAndBumpsTheVersionOnce(InPlaceCase c) {
        Random rng = new Random(c.name().hashCode());
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int trial = 0; trial < 20; trial++) {
                // the destination is a strided window into a larger tensor; the rest must stay untouched
                int[] shape = Layout.randomShape(rng, 3);
                int[] big = new int[shape.length];
                for (int d = 0; d < shape.length; d++) {
                    big[d] = shape[d] + 2;
                }
                Tensor whole = Layout.CONTIGUOUS.random(rng, dtype, big, -3, 3);
                Tensor dst = whole;
                for (int d = 0; d < shape.length; d++) {
                    dst = dst.narrow(d, 1, shape[d]);
                }
                if (shape.length >= 2 && trial % 2 == 0) {
                    dst = dst.transpose(0, shape.length - 1);
                }
                int[] dstShape = dst.shape();
                int[] srcShape = Layout.broadcastableTo(rng, dstShape);
                Tensor src = Layout.values()[rng.nextInt(4)].random(rng, trial % 3 == 0 ? DType.FLOAT64 : dtype, srcShape,
                        0.5, 3);
                double[] before = Elements.read(whole);
                double[] dv = Elements.read(dst);
                double[] sv = Elements.read(src);
                double[] expectedWhole = before.clone();
                for (int i = 0; i < dv.length; i++) {
                    int[] idx = Elements.unravel(i, dstShape);
                    double v = c.reference().applyAsDouble(dv[i], sv[broadcastIndex(idx, srcShape)]);
                    expectedWhole[Elements.storageIndex(dst, idx) - whole.offset()] = dtype == DType.FLOAT32 ? (float) v : v;
                }
                int version = whole.version();
                Tensor returned = c.op().apply(dst, src);
                assertThat(returned).isSameAs(dst);
                assertThat(whole.version()).as("version bump").isEqualTo(version + 1);
                assertThat(dst.version()).isEqualTo(version + 1);
                Elements.assertClose(c.name(), whole, dtype, big, expectedWhole, Elements.tolerance(dtype));
            }
        }
    }

    @Test
    void scalarInPlaceOpsAndFillsBumpTheVersion() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor col = x.select(1, 1);
        int v0 = x.version();
        col.mulInPlace(10);
        assertThat(x.version()).isEqualTo(v0 + 1);
        assertThat(Elements.read(x)).containsExactly(1, 20, 3, 4, 50, 6);
        x.mT().select(0, 2).fillInPlace(-1);
        assertThat(x.version()).isEqualTo(v0 + 2);
        assertThat(Elements.read(x)).containsExactly(1, 20, -1, 4, 50, -1);
        x.narrow(0, 1, 1).zeroInPlace();
        assertThat(x.version()).isEqualTo(v0 + 3);
        assertThat(Elements.read(x)).containsExactly(1, 20, -1, 0, 0, 0);
    }

    @Test
    void outOfPlaceOpsLeaveTheVersionAlone() {
        Tensor x = Tensor.of(new float[] {1, 2, 3}, 3);
        int v0 = x.version();
        x.add(x).exp().sum();
        x.view(3).reshape(1, 3).contiguous();
        assertThat(x.version()).isEqualTo(v0);
    }

    @Test
    void copyFromCastsAndBroadcasts() {
        Tensor dst = Tensor.zeros(DType.INT32, 2, 3);
        dst.copyFrom(Tensor.of(new double[] {1.9, -2.7, 3}, 3));
        Elements.assertExact("copyFrom", dst, DType.INT32, new int[] {2, 3}, new long[] {1, -2, 3, 1, -2, 3});
    }

    @Test
    void inPlaceOpIntoAnExpandedTensorIsRejected() {
        Tensor base = Tensor.zeros(1, 3);
        Tensor expanded = base.expand(4, 3);
        assertThatThrownBy(() -> expanded.addInPlace(Tensor.ones(4, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("addInPlace")
                .hasMessageContaining("[4, 3]");
        assertThatThrownBy(() -> expanded.copyFrom(Tensor.ones(4, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("copyFrom");
        assertThat(Elements.read(base)).containsOnly(0.0);
    }

    @Test
    void reluInPlaceWritesTheValuesOfReluAndBumpsTheVersion() {
        float[] values = new float[4099];
        Random r = new Random(5);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian();
        }
        values[0] = Float.NaN;
        values[1] = -0.0f;
        values[2] = Float.NEGATIVE_INFINITY;
        values[3] = Float.POSITIVE_INFINITY;
        values[4098] = Float.NaN; // in the scalar tail
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Tensor.of(values, values.length).to(dtype);
            Tensor expected = x.relu();
            int version = x.storage().version();
            assertThat(x.reluInPlace().toDoubleArray()).as(dtype.toString()).containsExactly(expected.toDoubleArray());
            assertThat(x.storage().version()).isEqualTo(version + 1);
        }
        Tensor strided = Tensor.of(values, 4099).narrow(0, 0, 4096).view(64, 64).transpose(0, 1);
        Tensor expected = strided.relu();
        assertThat(strided.reluInPlace().toDoubleArray()).containsExactly(expected.toDoubleArray());
        assertThatThrownBy(() -> Tensor.ones(3).expand(4, 3).reluInPlace()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reluInPlace");
    }
}
