package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.LongBinaryOperator;
import org.junit.jupiter.api.Test;

/**
 * int64 values past 2^53 (where a double no longer holds every integer) survive every op exactly. Each op
 * runs on values such as 2^53 + 1, 2^60 + 7, Long.MAX_VALUE - 3 and large negatives, on non-contiguous
 * views and with broadcasting, and is compared with a plain loop over Java longs.
 */
class Int64ExactnessTest {
    private static final long[] SPECIAL = {
        (1L << 53) + 1, (1L << 60) + 7, Long.MAX_VALUE - 3, -(1L << 62) - 5, Long.MIN_VALUE + 2, 1L << 62,
        -(1L << 53) - 3, 0, 1, -1,
    };

    /** Special values first, then random longs of magnitude 2^51 to 2^63. */
    private static long[] bigValues(Random rng, int n) {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = i < SPECIAL.length ? SPECIAL[i] : rng.nextLong() >> rng.nextInt(12);
        }
        return v;
    }

    /** A [rows, cols] int64 view with these row-major values whose layout is transposed (column-major). */
    private static Tensor transposedView(long[] values, int rows, int cols) {
        long[] columnMajor = new long[values.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                columnMajor[c * rows + r] = values[r * cols + c];
            }
        }
        Tensor t = Tensor.of(columnMajor, cols, rows).mT();
        assertThat(t.isContiguous()).isFalse();
        return t;
    }

    /** A [rows, cols] int64 view with these row-major values taking every other row of a larger tensor. */
    private static Tensor everyOtherRow(long[] values, int rows, int cols) {
        long[] big = new long[2 * rows * cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(values, r * cols, big, 2 * r * cols, cols);
        }
        Tensor t = Tensor.of(big, 2 * rows, cols).slice(0, 0, 2 * rows, 2);
        assertThat(t.isContiguous()).isFalse();
        return t;
    }

    // ---- binary ops -----------------------------------------------------------------------------

    record BinaryCase(String name, BiFunction<Tensor, Tensor, Tensor> op, LongBinaryOperator reference, boolean compare) {
    }

    private static final List<BinaryCase> BINARY = List.of(
            new BinaryCase("add", Tensor::add, (a, b) -> a + b, false),
            new BinaryCase("sub", Tensor::sub, (a, b) -> a - b, false),
            new BinaryCase("mul", Tensor::mul, (a, b) -> a * b, false),
            new BinaryCase("maximum", Tensor::maximum, Math::max, false),
            new BinaryCase("minimum", Tensor::minimum, Math::min, false),
            new BinaryCase("eq", Tensor::eq, (a, b) -> a == b ? 1 : 0, true),
            new BinaryCase("ne", Tensor::ne, (a, b) -> a != b ? 1 : 0, true),
            new BinaryCase("lt", Tensor::lt, (a, b) -> a < b ? 1 : 0, true),
            new BinaryCase("le", Tensor::le, (a, b) -> a <= b ? 1 : 0, true),
            new BinaryCase("gt", Tensor::gt, (a, b) -> a > b ? 1 : 0, true),
            new BinaryCase("ge", Tensor::ge, (a, b) -> a >= b ? 1 : 0, true));

    @Test
    void binaryOpsAreExactWithBroadcastingOnStridedViews() {
        Random rng = new Random(1);
        // a: [3, 1, 4] (transposed storage); b: [5, 4] (every other row), b[j] = a[j % 3] + (j - 2), so
        // that comparisons meet neighbours one apart, which a double past 2^53 cannot tell apart.
        long[] av = bigValues(rng, 12);
        long[] bv = new long[20];
        for (int j = 0; j < 5; j++) {
            for (int k = 0; k < 4; k++) {
                bv[j * 4 + k] = av[(j % 3) * 4 + k] + (j - 2);
            }
        }
        Tensor a = transposedView(av, 3, 4).unsqueeze(1);
        Tensor b = everyOtherRow(bv, 5, 4);
        int[] shape = {3, 5, 4};
        for (BinaryCase c : BINARY) {
            long[] expected = new long[60];
            for (int i = 0; i < 60; i++) {
                int[] idx = Elements.unravel(i, shape);
                expected[i] = c.reference().applyAsLong(av[idx[0] * 4 + idx[2]], bv[idx[1] * 4 + idx[2]]);
            }
            DType type = c.compare() ? DType.BOOL : DType.INT64;
            Elements.assertExact(c.name() + " a op b", c.op().apply(a, b), type, shape, expected);
        }
    }

    @Test
    void inPlaceOpsAreExactOnATransposedDestination() {
        Random rng = new Random(2);
        long[] dv = bigValues(rng, 12);
        // one row [4] broadcast over the destination's rows; 0 and -1 meet Long.MIN_VALUE + 2 and 1 << 62
        long[] sv = {3, -1, 0, (1L << 31) + 1};
        record InPlace(String name, BiFunction<Tensor, Tensor, Tensor> op, LongBinaryOperator reference) {
        }
        List<InPlace> cases = List.of(
                new InPlace("addInPlace", Tensor::addInPlace, (a, b) -> a + b),
                new InPlace("subInPlace", Tensor::subInPlace, (a, b) -> a - b),
                new InPlace("mulInPlace", Tensor::mulInPlace, (a, b) -> a * b),
                new InPlace("divInPlace", Tensor::divInPlace, Int64ExactnessTest::truncatingQuotient));
        for (InPlace c : cases) {
            Tensor dst = transposedView(dv, 3, 4);
            c.op().apply(dst, Tensor.of(sv, 4));
            long[] expected = new long[12];
            for (int i = 0; i < 12; i++) {
                expected[i] = c.reference().applyAsLong(dv[i], sv[i % 4]);
            }
            Elements.assertExact(c.name(), dst, DType.INT64, new int[] {3, 4}, expected);
        }
    }

    /** divInPlace's documented integer rule: truncate toward zero; x / 0 saturates, 0 / 0 is 0. */
    private static long truncatingQuotient(long a, long b) {
        if (b == 0) {
            return a > 0 ? Long.MAX_VALUE : a < 0 ? Long.MIN_VALUE : 0;
        }
        if (a == Long.MIN_VALUE && b == -1) {
            return Long.MAX_VALUE;
        }
        return a / b;
    }

    @Test
    void integerDivisionTruncatesAndSaturatesAsBefore() {
        Tensor x = Tensor.of(new long[] {Long.MIN_VALUE, -7, 7, 0, (1L << 60) + 7, -(1L << 53) - 3}, 6);
        x.divInPlace(Tensor.of(new long[] {-1, 2, 0, 0, 3, 2}, 6));
        Elements.assertExact("int64 /=", x, DType.INT64, new int[] {6},
                new long[] {Long.MAX_VALUE, -3, Long.MAX_VALUE, 0, ((1L << 60) + 7) / 3, -(1L << 52) - 1});
        Tensor y = Tensor.of(new int[] {Integer.MIN_VALUE, -7, 7, -7, 0}, 5);
        y.divInPlace(Tensor.of(new int[] {-1, 2, 0, 0, 0}, 5));
        Elements.assertExact("int32 /=", y, DType.INT32, new int[] {5},
                new long[] {Integer.MAX_VALUE, -3, Integer.MAX_VALUE, Integer.MIN_VALUE, 0});
    }

    @Test
    void integerArithmeticWrapsOnOverflowLikeJava() {
        Tensor i64 = Tensor.of(new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, 2);
        Elements.assertExact("int64 + 1", i64.add(1), DType.INT64, new int[] {2},
                new long[] {Long.MAX_VALUE + 1, Long.MIN_VALUE + 1});
        Elements.assertExact("int64 neg", i64.neg(), DType.INT64, new int[] {2}, new long[] {-Long.MAX_VALUE, Long.MIN_VALUE});
        Tensor i32 = Tensor.of(new int[] {Integer.MAX_VALUE, 1 << 20}, 2);
        Elements.assertExact("int32 + 1", i32.add(1), DType.INT32, new int[] {2},
                new long[] {Integer.MAX_VALUE + 1, (1 << 20) + 1});
        Elements.assertExact("int32 * int32", i32.mul(i32), DType.INT32, new int[] {2},
                new long[] {Integer.MAX_VALUE * Integer.MAX_VALUE, (1 << 20) * (1 << 20)});
    }

    @Test
    void negAndClampAreExact() {
        Random rng = new Random(3);
        long[] v = bigValues(rng, 12);
        Tensor x = everyOtherRow(v, 3, 4);
        long[] neg = new long[12];
        long[] clamped = new long[12];
        for (int i = 0; i < 12; i++) {
            neg[i] = -v[i];
            clamped[i] = Math.min(Math.max(v[i], -(1L << 60)), 1L << 60);
        }
        Elements.assertExact("neg", x.neg(), DType.INT64, new int[] {3, 4}, neg);
        // 2^60 is a double exactly; values between the bounds pass through untouched
        Elements.assertExact("clamp", x.clamp(-(double) (1L << 60), (double) (1L << 60)), DType.INT64, new int[] {3, 4},
                clamped);
    }

    // ---- scalar operands given as double --------------------------------------------------------

    @Test
    void aDoubleScalarKeepsTheIntegerDtypeAndIsTakenAsTheDoubleHoldsIt() {
        long big = (1L << 60) + 7;
        Tensor x = Tensor.of(new long[] {big, -(1L << 53) - 1, Long.MAX_VALUE - 3}, 3);
        Elements.assertExact("add(2.0)", x.add(2.0), DType.INT64, new int[] {3},
                new long[] {big + 2, -(1L << 53) + 1, Long.MAX_VALUE - 1});
        Elements.assertExact("mul(-3.0)", x.mul(-3.0), DType.INT64, new int[] {3},
                new long[] {big * -3, ((1L << 53) + 1) * 3, (Long.MAX_VALUE - 3) * -3});
        assertThat(x.add(0.5).dtype()).as("a fractional scalar promotes").isEqualTo(DType.FLOAT32);
        // The double literal for 2^53 + 1 is 2^53: that is the operand the op sees.
        Elements.assertExact("add((double) (2^53 + 1))", x.add((double) ((1L << 53) + 1)), DType.INT64, new int[] {3},
                new long[] {big + (1L << 53), -1, Long.MAX_VALUE - 3 + (1L << 53)});
        Elements.assertExact("eq((double) big)", x.eq((double) big), DType.BOOL, new int[] {3}, new long[] {0, 0, 0});
        // An exact int64 operand is given as a tensor.
        Tensor exact = Tensor.of(new long[] {big});
        Elements.assertExact("add(tensor)", x.add(exact), DType.INT64, new int[] {3},
                new long[] {2 * big, big - (1L << 53) - 1, Long.MAX_VALUE - 3 + big});
        Elements.assertExact("eq(tensor)", x.eq(exact), DType.BOOL, new int[] {3}, new long[] {1, 0, 0});
        Tensor y = x.copy();
        y.mulInPlace(2.0);
        Elements.assertExact("mulInPlace(2.0)", y, DType.INT64, new int[] {3},
                new long[] {2 * big, -(1L << 54) - 2, 2 * (Long.MAX_VALUE - 3)});
        assertThatThrownBy(() -> y.mulInPlace(2.75)).as("an in-place op keeps the dtype, so it refuses to round")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mulInPlace")
                .hasMessageContaining("int64");
    }

    @Test
    void aDoubleScalarTheIntegerDtypeCannotHoldPromotesInsteadOfSaturating() {
        Tensor x = Tensor.of(new int[] {3, Integer.MAX_VALUE, Integer.MIN_VALUE}, 3);
        Tensor product = x.mul(1e10);
        assertThat(product.dtype()).isEqualTo(DType.FLOAT32);
        assertThat(product.toDoubleArray()[0]).isEqualTo(3e10, org.assertj.core.data.Offset.offset(3e10 * 1e-6));
        assertThat(x.add(Double.POSITIVE_INFINITY).toDoubleArray()).containsOnly(Double.POSITIVE_INFINITY);
        Elements.assertExact("lt(3e9)", x.lt(3e9), DType.BOOL, new int[] {3}, new long[] {1, 1, 1});
        Elements.assertExact("eq(2^31)", x.eq(2147483648.0), DType.BOOL, new int[] {3}, new long[] {0, 0, 0});
        Elements.assertExact("gt(-1e10)", x.gt(-1e10), DType.BOOL, new int[] {3}, new long[] {1, 1, 1});
        Elements.assertExact("int64 lt(1e19)", Tensor.of(new long[] {Long.MAX_VALUE}, 1).lt(1e19), DType.BOOL,
                new int[] {1}, new long[] {1});
        assertThatThrownBy(() -> Tensor.full(Double.NaN, DType.INT32, Device.CPU, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("full").hasMessageContaining("int32");
        assertThatThrownBy(() -> Tensor.full(1e20, DType.INT32, Device.CPU, 2))
                .hasMessage("full: the value 1.0E20 is outside the int32 range, so a tensor of dtype int32 cannot hold it; "
                        + "use a floating dtype");
        assertThatThrownBy(() -> Tensor.zeros(DType.INT32, 2).fillInPlace(Double.NEGATIVE_INFINITY))
                .hasMessageContaining("fillInPlace").hasMessageContaining("-Infinity");
        assertThat(Tensor.zeros(DType.BOOL, 2).fillInPlace(2).toLongArray()).as("bool: nonzero is true")
                .containsExactly(1, 1);
        assertThatThrownBy(() -> Tensor.zeros(DType.BOOL, 2).mulInPlace(2)).hasMessageContaining("bool");
    }

    @Test
    void inPlaceOpsAndIndexAddsRefuseAFloatOperandOnAnIntegerTensor() {
        Tensor ints = Tensor.of(new int[] {1, 2}, 2);
        assertThatThrownBy(() -> ints.addInPlace(Tensor.full(0.7, 2))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("addInPlace").hasMessageContaining("float32").hasMessageContaining("int32");
        assertThatThrownBy(() -> Tensor.zeros(DType.INT32, 3).scatterAdd(0, Tensor.of(new long[] {1}, 1),
                Tensor.full(0.9, 1))).hasMessageContaining("scatterAdd");
        assertThatThrownBy(() -> Tensor.zeros(DType.INT64, 3).indexAdd(0, Tensor.of(new long[] {1}, 1),
                Tensor.full(0.9, 1))).hasMessageContaining("indexAdd");
        assertThatThrownBy(() -> Tensor.zeros(DType.BOOL, 2).addInPlace(Tensor.of(new int[] {1, 2}, 2)))
                .hasMessageContaining("bool");
        // Within a kind the destination's dtype wins, as before: int64 into int32, float64 into float32.
        Elements.assertExact("int64 into int32", ints.addInPlace(Tensor.of(new long[] {5, 6}, 2)), DType.INT32,
                new int[] {2}, new long[] {6, 8});
        assertThat(Tensor.zeros(2).addInPlace(Tensor.full(0.25, DType.FLOAT64, Device.CPU, 2)).toDoubleArray())
                .containsExactly(0.25, 0.25);
    }

    // ---- where, maskedFill ----------------------------------------------------------------------

    @Test
    void whereAndMaskedFillMoveInt64ValuesExactly() {
        Random rng = new Random(4);
        long[] av = bigValues(rng, 12);
        long[] bv = bigValues(rng, 8);
        boolean[] mask = {true, false, false, true};
        Tensor a = transposedView(av, 3, 4);
        // b: [4] taking elements 1, 3, 5, 7 of bv, broadcast over a's rows
        Tensor b = Tensor.of(bv, 8).slice(0, 1, 8, 2);
        Tensor cond = Tensor.of(mask, 4);
        long[] expected = new long[12];
        long[] filled = new long[12];
        for (int i = 0; i < 12; i++) {
            expected[i] = mask[i % 4] ? av[i] : bv[2 * (i % 4) + 1];
            filled[i] = mask[i % 4] ? -42 : av[i];
        }
        Elements.assertExact("where", Tensor.where(cond, a, b), DType.INT64, new int[] {3, 4}, expected);
        Elements.assertExact("maskedFill", a.maskedFill(cond, -42), DType.INT64, new int[] {3, 4}, filled);
    }

    // ---- gather, scatterAdd, indexAdd -----------------------------------------------------------

    @Test
    void gatherScatterAddAndIndexAddAreExact() {
        Random rng = new Random(6);
        long[] xv = bigValues(rng, 20);
        Tensor x = transposedView(xv, 4, 5);
        long[] iv = new long[12];
        for (int i = 0; i < 12; i++) {
            iv[i] = rng.nextInt(5);
        }
        Tensor index = Tensor.of(iv, 4, 3);
        long[] gathered = new long[12];
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 3; c++) {
                gathered[r * 3 + c] = xv[r * 5 + (int) iv[r * 3 + c]];
            }
        }
        Elements.assertExact("gather dim 1", x.gather(1, index), DType.INT64, new int[] {4, 3}, gathered);

        // Repeated indices along dim 1 add several big values into one place.
        long[] sv = bigValues(new Random(7), 15);
        Tensor src = everyOtherRow(Arrays.copyOf(sv, 12), 4, 3);
        long[] scattered = xv.clone();
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 3; c++) {
                scattered[r * 5 + (int) iv[r * 3 + c]] += sv[r * 3 + c];
            }
        }
        Elements.assertExact("scatterAdd dim 1", x.scatterAdd(1, index, src), DType.INT64, new int[] {4, 5}, scattered);

        long[] picks = {2, 0, 2};
        Tensor rows = everyOtherRow(sv, 3, 5);
        long[] added = xv.clone();
        for (int j = 0; j < 3; j++) {
            for (int c = 0; c < 5; c++) {
                added[(int) picks[j] * 5 + c] += sv[j * 5 + c];
            }
        }
        Elements.assertExact("indexAdd dim 0", x.indexAdd(0, Tensor.of(picks, 3), rows), DType.INT64, new int[] {4, 5},
                added);
    }

    // ---- reductions and scans -------------------------------------------------------------------

    @Test
    void reductionsAreExact() {
        Random rng = new Random(8);
        // Sums of six values below 2^59 cannot overflow, but lose low bits in a double.
        long[] v = new long[24];
        for (int i = 0; i < 24; i++) {
            v[i] = (rng.nextLong() >> 5) | 1;
        }
        // Row 0: the largest element (2^60 + 8) comes after a neighbour one below it; a double ties them.
        v[1] = (1L << 60) + 7;
        v[4] = (1L << 60) + 8;
        // Row 1: the smallest likewise.
        v[7] = -(1L << 60) - 7;
        v[10] = -(1L << 60) - 8;
        Tensor x = transposedView(v, 4, 6);
        long[] sum = new long[4];
        long[] max = new long[4];
        long[] min = new long[4];
        long[] argmax = new long[4];
        long[] argmin = new long[4];
        long total = 0;
        for (int r = 0; r < 4; r++) {
            max[r] = Long.MIN_VALUE;
            min[r] = Long.MAX_VALUE;
            for (int c = 0; c < 6; c++) {
                long e = v[r * 6 + c];
                sum[r] += e;
                total += e;
                if (e > max[r]) {
                    max[r] = e;
                    argmax[r] = c;
                }
                if (e < min[r]) {
                    min[r] = e;
                    argmin[r] = c;
                }
            }
        }
        long[] columnMax = new long[6];
        for (int c = 0; c < 6; c++) {
            columnMax[c] = Long.MIN_VALUE;
            for (int r = 0; r < 4; r++) {
                columnMax[c] = Math.max(columnMax[c], v[r * 6 + c]);
            }
        }
        assertThat(argmax[0]).as("the test's own premise").isEqualTo(4);
        Elements.assertExact("sum(1)", x.sum(1), DType.INT64, new int[] {4}, sum);
        Elements.assertExact("sum()", x.sum(), DType.INT64, new int[] {}, new long[] {total});
        Elements.assertExact("max(1)", x.max(1, false), DType.INT64, new int[] {4}, max);
        Elements.assertExact("min(1)", x.min(1, true), DType.INT64, new int[] {4, 1}, min);
        Elements.assertExact("max(0)", x.max(0, false), DType.INT64, new int[] {6}, columnMax);
        Elements.assertExact("argmax(1)", x.argmax(1, false), DType.INT64, new int[] {4}, argmax);
        Elements.assertExact("argmin(1)", x.argmin(1, false), DType.INT64, new int[] {4}, argmin);
    }

    @Test
    void cumsumAndTopkAreExact() {
        Random rng = new Random(9);
        long[] v = bigValues(rng, 12);
        Tensor x = transposedView(v, 3, 4);
        long[] cumsum = new long[12];
        for (int r = 0; r < 3; r++) {
            long s = 0;
            for (int c = 0; c < 4; c++) {
                s += v[r * 4 + c];
                cumsum[r * 4 + c] = s;
            }
        }
        Elements.assertExact("cumsum(1)", x.cumsum(1), DType.INT64, new int[] {3, 4}, cumsum);
        long[] first = {(1L << 60) + 7, (1L << 60) + 8, (1L << 60) + 6};
        Tensor.TopK top = Tensor.of(first, 3).topk(2, 0, true);
        Elements.assertExact("topk values", top.values(), DType.INT64, new int[] {2}, new long[] {first[1], first[0]});
        Elements.assertExact("topk indices", top.indices(), DType.INT64, new int[] {2}, new long[] {1, 0});
    }

    // ---- conversions and text -------------------------------------------------------------------

    @Test
    void printingOneHotErrorsAndRandintKeepInt64Values() {
        Tensor x = Tensor.of(new long[] {(1L << 53) + 1, Long.MAX_VALUE - 3, Long.MIN_VALUE + 2}, 3);
        assertThat(x.toString()).isEqualTo(
                "tensor([9007199254740993, 9223372036854775804, -9223372036854775806], shape=[3], dtype=int64)");
        assertThat(x.toLongArray()).containsExactly((1L << 53) + 1, Long.MAX_VALUE - 3, Long.MIN_VALUE + 2);
        assertThatThrownBy(() -> Tensor.of(new long[] {1, (1L << 53) + 1}, 2).oneHot(3))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("class 9007199254740993");
        long low = (1L << 60) + 7;
        long[] drawn = Tensor.randint(low, low + 10, new Generator(10), Device.CPU, 200).toLongArray();
        for (long d : drawn) {
            assertThat(d).isBetween(low, low + 9);
        }
        assertThat(drawn).contains(low, low + 9);
    }
}
