package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Reductions over any set of dims, softmax along any dim (and its backward), cumsum: against double loops. */
class ReductionTest {

    enum Reduction { SUM, MEAN, MAX, MIN, VAR_UNBIASED, VAR_BIASED, LOGSUMEXP }

    /** The reduction of the values of one output element, in double. */
    static double reference(Reduction r, List<Double> v) {
        int n = v.size();
        switch (r) {
            case SUM -> {
                return v.stream().mapToDouble(Double::doubleValue).sum();
            }
            case MEAN -> {
                return v.stream().mapToDouble(Double::doubleValue).sum() / n;
            }
            case MAX -> {
                return v.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
            }
            case MIN -> {
                return v.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
            }
            case VAR_UNBIASED, VAR_BIASED -> {
                double mean = v.stream().mapToDouble(Double::doubleValue).sum() / n;
                double ss = 0;
                for (double x : v) {
                    ss += (x - mean) * (x - mean);
                }
                int denominator = r == Reduction.VAR_UNBIASED ? n - 1 : n;
                return ss / denominator;
            }
            case LOGSUMEXP -> {
                double m = v.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
                double s = 0;
                for (double x : v) {
                    s += Math.exp(x - m);
                }
                return m + Math.log(s);
            }
            default -> throw new AssertionError(r);
        }
    }

    static Tensor apply(Reduction r, Tensor x, int[] dims, boolean keepDim) {
        return switch (r) {
            case SUM -> x.sum(dims, keepDim);
            case MEAN -> x.mean(dims, keepDim);
            case MAX -> x.max(dims, keepDim);
            case MIN -> x.min(dims, keepDim);
            case VAR_UNBIASED -> x.var(dims, 1, keepDim);
            case VAR_BIASED -> x.var(dims, 0, keepDim);
            case LOGSUMEXP -> x.logsumexp(dims, keepDim);
        };
    }

    /** shape without the reduced dims. */
    static int[] withoutDims(int[] shape, boolean[] reduced) {
        return java.util.stream.IntStream.range(0, shape.length).filter(d -> !reduced[d]).map(d -> shape[d]).toArray();
    }

    /** Groups x's values by output element: the reference side of a reduction over {@code reduced} dims. */
    static List<List<Double>> groups(double[] values, int[] shape, boolean[] reduced, int[] keptShape) {
        List<List<Double>> out = new ArrayList<>();
        for (int i = 0; i < Elements.numel(keptShape); i++) {
            out.add(new ArrayList<>());
        }
        for (int i = 0; i < values.length; i++) {
            int[] idx = Elements.unravel(i, shape);
            for (int d = 0; d < shape.length; d++) {
                if (reduced[d]) {
                    idx[d] = 0;
                }
            }
            out.get(Elements.ravel(idx, keptShape)).add(values[i]);
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Reduction.class)
    void reductionOverRandomDimSetsMatchesReference(Reduction r) {
        Random rng = new Random(r.ordinal() + 100);
        for (int trial = 0; trial < 80; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (trial < 8) {
                shape = new int[] {5, 1, 7, 33}; // rows long enough for the vector loops
            }
            DType dtype = trial % 2 == 0 ? DType.FLOAT32 : DType.FLOAT64;
            Layout layout = Layout.values()[rng.nextInt(4)];
            if (trial % 5 == 0) {
                layout = Layout.CONTIGUOUS; // the leading-dims column path needs contiguous float32
            }
            Tensor x = layout.random(rng, dtype, shape, -5, 5);
            boolean[] reduced = new boolean[shape.length];
            List<Integer> dimList = new ArrayList<>();
            for (int d = 0; d < shape.length; d++) {
                if (rng.nextBoolean()) {
                    reduced[d] = true;
                    // mix negative and positive spellings, in random order
                    dimList.add(rng.nextBoolean() ? d : d - shape.length);
                }
            }
            if (dimList.isEmpty()) {
                if (shape.length == 0) {
                    continue;
                }
                reduced[0] = true;
                dimList.add(0);
            }
            java.util.Collections.shuffle(dimList, rng);
            int[] dims = dimList.stream().mapToInt(Integer::intValue).toArray();
            int count = 1;
            int[] kept = shape.clone();
            for (int d = 0; d < shape.length; d++) {
                if (reduced[d]) {
                    count *= shape[d];
                    kept[d] = 1;
                }
            }
            if ((r == Reduction.VAR_UNBIASED && count < 2)) {
                continue;
            }
            List<List<Double>> g = groups(Elements.read(x), shape, reduced, kept);
            double[] expected = g.stream().mapToDouble(v -> reference(r, v)).toArray();
            int[] dropped = withoutDims(shape, reduced);
            double tol = dtype == DType.FLOAT64 ? 1e-12 : 2e-6 * Math.sqrt(count) * 5;
            if (r == Reduction.MAX || r == Reduction.MIN) {
                tol = 0;
            }
            for (boolean keepDim : new boolean[] {true, false}) {
                String what = r + " over " + Arrays.toString(dims) + " of " + Arrays.toString(shape) + " " + layout
                        + " keepDim=" + keepDim;
                Elements.assertClose(what, apply(r, x, dims, keepDim), dtype, keepDim ? kept : dropped, expected, tol);
            }
        }
    }

    @Test
    void reductionsOverAllElementsGiveA0DimTensor() {
        Random rng = new Random(8);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Layout.STRIDED.random(rng, dtype, new int[] {3, 7, 5}, -2, 2);
            List<Double> v = new ArrayList<>();
            for (double e : Elements.read(x)) {
                v.add(e);
            }
            double tol = dtype == DType.FLOAT64 ? 1e-12 : 1e-5;
            Elements.assertClose("sum", x.sum(), dtype, new int[] {}, new double[] {reference(Reduction.SUM, v)}, tol);
            Elements.assertClose("mean", x.mean(), dtype, new int[] {}, new double[] {reference(Reduction.MEAN, v)}, tol);
            Elements.assertClose("max", x.max(), dtype, new int[] {}, new double[] {reference(Reduction.MAX, v)}, 0);
            Elements.assertClose("min", x.min(), dtype, new int[] {}, new double[] {reference(Reduction.MIN, v)}, 0);
        }
        Tensor s = Tensor.scalar(3.5);
        Elements.assertClose("sum of 0-dim", s.sum(), DType.FLOAT32, new int[] {}, new double[] {3.5}, 0);
        Elements.assertClose("max of 0-dim over dim 0", s.max(0, false), DType.FLOAT32, new int[] {}, new double[] {3.5}, 0);
    }

    @Test
    void columnSumOfALargeContiguousTensorSplitAcrossThreads() {
        Random rng = new Random(9);
        int[] shape = {50, 601};
        Tensor x = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, shape, -1, 1);
        double[] v = Elements.read(x);
        double[] sums = new double[601];
        for (int i = 0; i < v.length; i++) {
            sums[i % 601] += v[i];
        }
        Elements.assertClose("sum dim 0", x.sum(0), DType.FLOAT32, new int[] {601}, sums, 1e-5);
        double[] means = ElementwiseTest.map(sums, s -> s / 50);
        Elements.assertClose("mean dims [0] keepDim", x.mean(new int[] {0}, true), DType.FLOAT32, new int[] {1, 601},
                means, 1e-5);
    }

    @Test
    void float32SumsOfLongRowsDoNotLoseTheSmallBits() {
        // 2^20 copies of 1 + 2^-10: a float accumulator that reaches 2^15 rounds every further add to 1.0,
        // an error of about 5e-4; the sum must stay as accurate as a few float roundings
        int n = 1 << 20;
        float v = 1 + 0x1p-10f;
        Tensor x = Tensor.full(v, DType.FLOAT32, Device.CPU, n);
        double exact = (double) v * n;
        assertThat(x.sum().item()).as("sum of all").isCloseTo(exact, org.assertj.core.data.Offset.offset(exact * 1e-6));
        assertThat(x.mean().item()).as("mean of all").isCloseTo(v, org.assertj.core.data.Offset.offset(1e-6));
        Tensor columns = x.view(n / 16, 16);
        for (double s : Elements.read(columns.sum(0))) {
            assertThat(s).as("column sum").isCloseTo(exact / 16, org.assertj.core.data.Offset.offset(exact / 16 * 1e-6));
        }
        for (double s : Elements.read(columns.mT().sum(1))) {
            assertThat(s).as("row sum").isCloseTo(exact / 16, org.assertj.core.data.Offset.offset(exact / 16 * 1e-6));
        }
    }

    @Test
    void integerAndBoolReductionsKeepOrWidenTheirType() {
        Tensor i32 = Tensor.of(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Elements.assertExact("int32 sum", i32.sum(1), DType.INT64, new int[] {2}, new long[] {6, 15});
        Elements.assertExact("int32 sum past 2^31", Tensor.of(new int[] {2_000_000_000, 1_000_000_000}, 2).sum(),
                DType.INT64, new int[] {}, new long[] {3_000_000_000L});
        Elements.assertExact("int32 max", i32.max(0, false), DType.INT32, new int[] {3}, new long[] {4, 5, 6});
        Elements.assertClose("int32 mean", i32.mean(0), DType.FLOAT32, new int[] {3}, new double[] {2.5, 3.5, 4.5}, 0);
        Tensor mask = Tensor.of(new boolean[] {true, false, true, true}, 4);
        Elements.assertExact("bool sum", mask.sum(), DType.INT64, new int[] {}, new long[] {3});
        Tensor big = Tensor.of(new long[] {(1L << 40) + 1, 1L << 41}, 2);
        Elements.assertExact("int64 max", big.max(), DType.INT64, new int[] {}, new long[] {1L << 41});
    }

    @Test
    void floatSumsStayWithinAFewRoundingsOfTheExactSum() {
        // 4096 copies of 0.1f: the exact mean is 0.1f itself. Long float running sums drift by tens of ulps.
        float tenth = 0.1f;
        double mean = Tensor.full(tenth, 4096).mean().item();
        assertThat(Math.abs(mean - tenth)).isLessThanOrEqualTo(2 * Math.ulp(tenth));
        // Ones after a large value: a float running sum that holds 1e8 drops each 1 (its ulp is 8).
        Tensor x = Tensor.ones(4096);
        x.narrow(0, 0, 1).fillInPlace(1e8);
        double exact = 1e8 + 4095;
        assertThat(Math.abs(x.sum().item() - exact)).isLessThanOrEqualTo(Math.ulp((float) exact));
    }

    @Test
    void emptyReductionsGiveTheirIdentityOrNaNAndTheRestAreRefused() {
        Tensor empty = Tensor.zeros(3, 0);
        assertThat(empty.sum(1).toDoubleArray()).containsExactly(0, 0, 0);
        assertThat(empty.mean(1).toDoubleArray()).as("0 / 0, as PyTorch").containsOnly(Double.NaN);
        assertThat(Tensor.zeros(DType.INT32, 0).mean().item()).isNaN();
        assertThatThrownBy(() -> empty.max(1, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max: cannot reduce an empty dim 1");
    }

    @Test
    void reducingOverNoDimsKeepsEveryElementOfEveryDtype() {
        // A 0-dim tensor's reductions, and an explicit empty dim list, reduce nothing: the values stay.
        Tensor three = Tensor.scalar(3, DType.INT64, Device.CPU);
        Elements.assertExact("int64 max", three.max(), DType.INT64, new int[] {}, new long[] {3});
        Elements.assertExact("int64 min", three.min(), DType.INT64, new int[] {}, new long[] {3});
        Elements.assertExact("int64 sum", three.sum(), DType.INT64, new int[] {}, new long[] {3});
        Elements.assertExact("bool sum", Tensor.scalar(1, DType.BOOL, Device.CPU).sum(), DType.INT64, new int[] {},
                new long[] {1});
        Elements.assertExact("int64 sum over {}", Tensor.of(new long[] {3, 4}, 2).sum(new int[] {}, false),
                DType.INT64, new int[] {2}, new long[] {3, 4});
        Elements.assertExact("argmax of a 0-dim tensor", three.argmax(0, false), DType.INT64, new int[] {},
                new long[] {0});
    }

    @Test
    void logsumexpHandlesInfinitiesAndLargeValues() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double inf = Double.POSITIVE_INFINITY;
            Tensor x = Elements.tensor(dtype, new int[] {4, 3}, new double[] {
                -inf, -inf, -inf,
                1000, 1000, 1000,
                -inf, 0, 0,
                1, inf, 2});
            Elements.assertClose("logsumexp", x.logsumexp(1), dtype, new int[] {4},
                    new double[] {-inf, 1000 + Math.log(3), Math.log(2), inf}, 1e-6);
        }
    }

    @Test
    void largeReductionsSplitAcrossThreadsMatchReference() {
        Random rng = new Random(12);
        int[] shape = {300, 7, 33};
        ThreadCount.run(3, () -> {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                Tensor x = Layout.TRANSPOSED.random(rng, dtype, shape, -3, 3);
                double[] v = Elements.read(x);
                for (int[] dims : new int[][] {{1}, {2}, {0, 2}}) {
                    boolean[] reduced = new boolean[3];
                    for (int d : dims) {
                        reduced[d] = true;
                    }
                    int[] kept = shape.clone();
                    int count = 1;
                    for (int d : dims) {
                        kept[d] = 1;
                        count *= shape[d];
                    }
                    List<List<Double>> g = groups(v, shape, reduced, kept);
                    double tol = dtype == DType.FLOAT64 ? 1e-11 : 1e-5 * Math.sqrt(count);
                    for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MAX, Reduction.LOGSUMEXP}) {
                        double[] expected = g.stream().mapToDouble(e -> reference(r, e)).toArray();
                        Elements.assertClose(r + " " + Arrays.toString(dims), apply(r, x, dims, true), dtype, kept,
                                expected, r == Reduction.MAX ? 0 : tol);
                    }
                }
                double[] softmax = softmaxReference(v, shape, 1, false);
                Elements.assertClose("softmax dim 1", x.softmax(1), dtype, shape, softmax, 1e-5);
                double[] logSoftmax = softmaxReference(v, shape, 2, true);
                Elements.assertClose("logSoftmax dim 2", x.logSoftmax(2), dtype, shape, logSoftmax, 1e-5);
                double[] cumsum = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    int[] idx = Elements.unravel(i, shape);
                    cumsum[i] = v[i] + (idx[0] > 0 ? cumsum[i - 7 * 33] : 0);
                }
                Elements.assertClose("cumsum dim 0", x.cumsum(0), dtype, shape, cumsum, 1e-5);
            }
        });
    }

    // ---- argmax / argmin ------------------------------------------------------------------------

    @Test
    void argmaxAndArgminReturnTheFirstExtremeAlongAnyDim() {
        Random rng = new Random(10);
        for (int trial = 0; trial < 80; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            DType dtype = new DType[] {DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64}[trial % 4];
            // few distinct values: ties are common, and the first one must win
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -2, 2);
            if (dtype.isFloating()) {
                x = Elements.tensor(dtype, shape, ElementwiseTest.map(Elements.read(x), Math::floor));
            }
            int d = rng.nextInt(shape.length);
            double[] v = Elements.read(x);
            int[] kept = shape.clone();
            kept[d] = 1;
            long[] argmax = new long[Elements.numel(kept)];
            long[] argmin = new long[argmax.length];
            for (int o = 0; o < argmax.length; o++) {
                int[] idx = Elements.unravel(o, kept);
                double best = Double.NEGATIVE_INFINITY;
                double worst = Double.POSITIVE_INFINITY;
                for (int i = 0; i < shape[d]; i++) {
                    idx[d] = i;
                    double e = v[Elements.ravel(idx, shape)];
                    if (e > best) {
                        best = e;
                        argmax[o] = i;
                    }
                    if (e < worst) {
                        worst = e;
                        argmin[o] = i;
                    }
                }
            }
            int[] dropped = java.util.stream.IntStream.range(0, shape.length).filter(k -> k != d).map(k -> shape[k]).toArray();
            Elements.assertExact("argmax", x.argmax(d, true), DType.INT64, kept, argmax);
            Elements.assertExact("argmin", x.argmin(d - shape.length, false), DType.INT64, dropped, argmin);
        }
    }

    @Test
    void maxAndArgmaxPropagateNaN() {
        Tensor x = Tensor.of(new float[] {1, Float.NaN, 3, 2}, 4);
        assertThat(x.max().item()).isNaN();
        assertThat(x.min().item()).isNaN();
        Elements.assertExact("argmax", x.argmax(0, false), DType.INT64, new int[] {}, new long[] {1});
    }

    // ---- softmax --------------------------------------------------------------------------------

    static double[] softmaxReference(double[] v, int[] shape, int dim, boolean log) {
        double[] out = new double[v.length];
        int[] kept = shape.clone();
        kept[dim] = 1;
        for (int o = 0; o < Elements.numel(kept); o++) {
            int[] idx = Elements.unravel(o, kept);
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < shape[dim]; i++) {
                idx[dim] = i;
                m = Math.max(m, v[Elements.ravel(idx, shape)]);
            }
            double s = 0;
            for (int i = 0; i < shape[dim]; i++) {
                idx[dim] = i;
                s += Math.exp(v[Elements.ravel(idx, shape)] - m);
            }
            for (int i = 0; i < shape[dim]; i++) {
                idx[dim] = i;
                int at = Elements.ravel(idx, shape);
                out[at] = log ? v[at] - m - Math.log(s) : Math.exp(v[at] - m) / s;
            }
        }
        return out;
    }

    static Stream<Boolean> logOrNot() {
        return Stream.of(false, true);
    }

    @ParameterizedTest(name = "log={0}")
    @MethodSource("logOrNot")
    void softmaxAlongAnyDimMatchesReference(boolean log) {
        Random rng = new Random(log ? 21 : 20);
        for (int trial = 0; trial < 80; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (trial < 4) {
                shape = new int[] {3, 129};
            }
            if (shape.length == 0) {
                continue;
            }
            DType dtype = trial % 2 == 0 ? DType.FLOAT32 : DType.FLOAT64;
            Layout layout = Layout.values()[rng.nextInt(4)];
            // wide range: without the max shift exp would overflow
            Tensor x = layout.random(rng, dtype, shape, -60, 60);
            int d = rng.nextInt(shape.length);
            int dimArg = rng.nextBoolean() ? d : d - shape.length;
            double[] expected = softmaxReference(Elements.read(x), shape, d, log);
            Tensor y = log ? x.logSoftmax(dimArg) : x.softmax(dimArg);
            Elements.assertClose((log ? "logSoftmax" : "softmax") + " dim " + dimArg + " of " + Arrays.toString(shape) + " "
                    + layout, y, dtype, shape, expected, dtype == DType.FLOAT64 ? 1e-12 : 1e-5);
        }
    }

    @Test
    void softmaxOfA0DimTensorIsOne() {
        Elements.assertClose("softmax", Tensor.scalar(7).softmax(0), DType.FLOAT32, new int[] {}, new double[] {1}, 0);
        Elements.assertClose("logSoftmax", Tensor.scalar(7).logSoftmax(-1), DType.FLOAT32, new int[] {}, new double[] {0},
                0);
    }

    /** dL/dx of L = sum(g * f(x)) by central differences of the float64 forward, one element at a time. */
    static double[] finiteDifferenceOfSoftmax(double[] x, int[] shape, int dim, boolean log, double[] g) {
        double h = 1e-6;
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double[] plus = x.clone();
            double[] minus = x.clone();
            plus[i] += h;
            minus[i] -= h;
            Tensor yp = Tensor.of(plus, shape).softmax(dim);
            Tensor ym = Tensor.of(minus, shape).softmax(dim);
            if (log) {
                yp = Tensor.of(plus, shape).logSoftmax(dim);
                ym = Tensor.of(minus, shape).logSoftmax(dim);
            }
            double[] a = Elements.read(yp);
            double[] b = Elements.read(ym);
            double s = 0;
            for (int k = 0; k < x.length; k++) {
                s += g[k] * (a[k] - b[k]);
            }
            grad[i] = s / (2 * h);
        }
        return grad;
    }

    @ParameterizedTest(name = "log={0}")
    @MethodSource("logOrNot")
    void softmaxBackwardMatchesFiniteDifferencesInFloat64(boolean log) {
        Random rng = new Random(log ? 31 : 30);
        for (int trial = 0; trial < 25; trial++) {
            int[] shape = Layout.randomShape(rng, 3);
            if (shape.length == 0) {
                continue;
            }
            int d = rng.nextInt(shape.length);
            Tensor x = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, shape, -3, 3);
            Tensor g = Layout.values()[rng.nextInt(4)].random(rng, DType.FLOAT64, shape, -1, 1);
            Tensor y = log ? x.logSoftmax(d) : x.softmax(d);
            Tensor dx = x.backend().softmaxBackward(y, g, d, log);
            double[] expected = finiteDifferenceOfSoftmax(Elements.read(x), shape, d, log, Elements.read(g));
            Elements.assertClose("softmaxBackward dim " + d + " of " + Arrays.toString(shape), dx, DType.FLOAT64, shape,
                    expected, 1e-7);
        }
    }

    @Test
    void softmaxBackwardInFloat32MatchesTheAnalyticFormula() {
        Random rng = new Random(32);
        for (int trial = 0; trial < 30; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            int d = rng.nextInt(shape.length);
            boolean log = trial % 2 == 0;
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, DType.FLOAT32, shape, -3, 3);
            Tensor g = Layout.values()[rng.nextInt(4)].random(rng, DType.FLOAT32, shape, -1, 1);
            Tensor y = log ? x.logSoftmax(d) : x.softmax(d);
            double[] yv = Elements.read(y);
            double[] gv = Elements.read(g);
            double[] expected = new double[yv.length];
            int[] kept = shape.clone();
            kept[d] = 1;
            for (int o = 0; o < Elements.numel(kept); o++) {
                int[] idx = Elements.unravel(o, kept);
                double dot = 0;
                for (int i = 0; i < shape[d]; i++) {
                    idx[d] = i;
                    int at = Elements.ravel(idx, shape);
                    dot += log ? gv[at] : gv[at] * yv[at];
                }
                for (int i = 0; i < shape[d]; i++) {
                    idx[d] = i;
                    int at = Elements.ravel(idx, shape);
                    // softmax: y (g - <g, y>); log-softmax: g - softmax * sum(g)
                    expected[at] = log ? gv[at] - Math.exp(yv[at]) * dot : yv[at] * (gv[at] - dot);
                }
            }
            Elements.assertClose("softmaxBackward f32", x.backend().softmaxBackward(y, g, d, log), DType.FLOAT32, shape,
                    expected, 1e-5);
        }
    }

    // ---- cumsum ---------------------------------------------------------------------------------

    @Test
    void cumsumAlongAnyDimMatchesReference() {
        Random rng = new Random(40);
        DType[] types = {DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64, DType.BOOL};
        for (int trial = 0; trial < 80; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            DType dtype = types[trial % types.length];
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, dtype == DType.BOOL ? 0 : -9,
                    dtype == DType.BOOL ? 2 : 9);
            int d = rng.nextInt(shape.length);
            double[] v = Elements.read(x);
            double[] expected = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                int[] idx = Elements.unravel(i, shape);
                double s = 0;
                for (int k = 0; k <= idx[d]; k++) {
                    int[] j = idx.clone();
                    j[d] = k;
                    s += v[Elements.ravel(j, shape)];
                }
                expected[i] = s;
            }
            DType out = dtype.isFloating() ? dtype : DType.INT64;
            Elements.assertClose("cumsum dim " + d, x.cumsum(rng.nextBoolean() ? d : d - shape.length), out, shape,
                    expected, dtype == DType.FLOAT32 ? 1e-5 : 1e-12);
        }
    }
}
