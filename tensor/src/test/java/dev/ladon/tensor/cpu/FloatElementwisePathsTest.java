package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.UnaryOp;
import java.util.function.BiPredicate;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The float32 vector paths of binary ops with a broadcast operand on either side (x + bias, bias - x,
 * 2 / x), of comparisons (bool masks) and of where, against a scalar loop, on row lengths that leave a tail
 * after the last full vector, and of the unary ops built on exp, log and tanh, whose every element must
 * give the bits of the scalar loop. The surefire run with {@code ladon.cpu.vectorBits=128} repeats them
 * with narrow vectors (where comparisons and where take their scalar loops).
 */
class FloatElementwisePathsTest {
    private record Op(String name, BinaryOperator<Tensor> tensors, BinaryOperator<Float> scalars) {
    }

    private static final Op[] OPS = {
        new Op("add", Tensor::add, (p, q) -> p + q),
        new Op("sub", Tensor::sub, (p, q) -> p - q),
        new Op("mul", Tensor::mul, (p, q) -> p * q),
        new Op("div", Tensor::div, (p, q) -> p / q),
        new Op("maximum", Tensor::maximum, Math::max),
        new Op("minimum", Tensor::minimum, Math::min),
    };

    @Test
    void aBroadcastOperandOnEitherSideMatchesAScalarLoop() {
        Generator gen = new Generator(21);
        for (int cols : new int[] {1, 7, 37}) {
            int rows = 5;
            float[] x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * cols).toFloatArray();
            float[] row = Tensor.randn(gen, DType.FLOAT32, Device.CPU, cols).toFloatArray();
            x[0] = Float.NaN; // maximum and minimum propagate NaN like Math.max
            Tensor tx = Tensor.of(x, rows, cols);
            Tensor trow = Tensor.of(row, cols);
            Tensor tscalar = Tensor.of(new float[] {2.5f}, 1);
            for (Op op : OPS) {
                float[] right = op.tensors().apply(tx, trow).toFloatArray();
                float[] left = op.tensors().apply(trow, tx).toFloatArray();
                float[] scalarLeft = op.tensors().apply(tscalar, tx).toFloatArray();
                for (int i = 0; i < rows * cols; i++) {
                    float r = row[i % cols];
                    assertThat(right[i]).as("%s x op row, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(x[i], r));
                    assertThat(left[i]).as("%s row op x, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(r, x[i]));
                    assertThat(scalarLeft[i]).as("%s 2.5 op x, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(2.5f, x[i]));
                }
            }
        }
    }

    private record Unary(UnaryOp op, UnaryOperator<Tensor> tensors) {
    }

    private static final Unary[] TRANSCENDENTAL = {
        new Unary(UnaryOp.EXP, Tensor::exp),
        new Unary(UnaryOp.LOG, Tensor::log),
        new Unary(UnaryOp.TANH, Tensor::tanh),
        new Unary(UnaryOp.SIGMOID, Tensor::sigmoid),
        new Unary(UnaryOp.SILU, Tensor::silu),
        new Unary(UnaryOp.GELU, Tensor::gelu),
    };

    /**
     * exp, log, tanh and the activations built on them give each element the bits of the scalar loop, in a
     * vector lane as in the tail and on a strided view as on a contiguous tensor: where an element falls
     * (which moves with the row length, the vector width and the thread split) does not change its result.
     */
    @Test
    void transcendentalOpsGiveTheScalarBitsInLanesTailsAndStridedViews() {
        Generator gen = new Generator(24);
        for (int cols : new int[] {1, 7, 37, 100}) {
            int rows = 3;
            int n = rows * cols;
            float[] x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).mul(6.0).toFloatArray();
            x[0] = Float.NaN;
            x[n - 1] = -0f;
            Tensor contiguous = Tensor.of(x, rows, cols);
            float[] columnMajor = new float[n];
            for (int i = 0; i < n; i++) {
                columnMajor[(i % cols) * rows + i / cols] = x[i];
            }
            // the same [rows, cols] values read with strides (1, rows)
            Tensor strided = Tensor.of(columnMajor, cols, rows).mT();
            for (Unary u : TRANSCENDENTAL) {
                float[] fast = u.tensors().apply(contiguous).toFloatArray();
                float[] slow = u.tensors().apply(strided).toFloatArray();
                for (int i = 0; i < n; i++) {
                    int expected = Float.floatToRawIntBits(ElementwiseKernels.unaryFloatScalar(u.op(), x[i]));
                    assertThat(Float.floatToRawIntBits(fast[i])).as("%s(%s), cols=%d, i=%d", u.op(), x[i], cols, i)
                            .isEqualTo(expected);
                    assertThat(Float.floatToRawIntBits(slow[i])).as("%s(%s) strided, cols=%d, i=%d", u.op(), x[i], cols,
                            i).isEqualTo(expected);
                }
            }
        }
    }

    private record Comparison(String name, BinaryOperator<Tensor> tensors, BiPredicate<Float, Float> scalars) {
    }

    private static final Comparison[] COMPARISONS = {
        new Comparison("eq", Tensor::eq, (p, q) -> p.floatValue() == q.floatValue()),
        new Comparison("ne", Tensor::ne, (p, q) -> p.floatValue() != q.floatValue()),
        new Comparison("lt", Tensor::lt, (p, q) -> p < q),
        new Comparison("le", Tensor::le, (p, q) -> p <= q),
        new Comparison("gt", Tensor::gt, (p, q) -> p > q),
        new Comparison("ge", Tensor::ge, (p, q) -> p >= q),
    };

    /** Values rounded to halves, so ties (eq, le, ge) occur, with a NaN on either side. */
    private static float[] coarse(Generator gen, int n) {
        float[] v = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
        for (int i = 0; i < n; i++) {
            v[i] = Math.round(v[i] * 2) / 2f;
        }
        return v;
    }

    @Test
    void comparisonsOfFullRowsBroadcastRowsAndScalarsMatchAScalarLoop() {
        Generator gen = new Generator(22);
        for (int cols : new int[] {1, 7, 37, 100}) {
            int rows = 3;
            float[] x = coarse(gen, rows * cols);
            float[] y = coarse(gen, rows * cols);
            float[] row = coarse(gen, cols);
            x[0] = Float.NaN;
            y[rows * cols - 1] = Float.NaN;
            Tensor tx = Tensor.of(x, rows, cols);
            Tensor ty = Tensor.of(y, rows, cols);
            Tensor trow = Tensor.of(row, cols);
            float[] scalar = tx.gt(0.5).to(DType.FLOAT32).toFloatArray();
            for (Comparison c : COMPARISONS) {
                float[] both = c.tensors().apply(tx, ty).to(DType.FLOAT32).toFloatArray();
                float[] right = c.tensors().apply(tx, trow).to(DType.FLOAT32).toFloatArray();
                float[] left = c.tensors().apply(trow, tx).to(DType.FLOAT32).toFloatArray();
                float[] scalarLeft = c.tensors().apply(Tensor.of(new float[] {0.5f}), tx).to(DType.FLOAT32).toFloatArray();
                for (int i = 0; i < rows * cols; i++) {
                    float r = row[i % cols];
                    assertThat(both[i]).as("%s x y, cols=%d, i=%d", c.name(), cols, i)
                            .isEqualTo(c.scalars().test(x[i], y[i]) ? 1f : 0f);
                    assertThat(right[i]).as("%s x row, cols=%d, i=%d", c.name(), cols, i)
                            .isEqualTo(c.scalars().test(x[i], r) ? 1f : 0f);
                    assertThat(left[i]).as("%s row x, cols=%d, i=%d", c.name(), cols, i)
                            .isEqualTo(c.scalars().test(r, x[i]) ? 1f : 0f);
                    assertThat(scalar[i]).as("gt 0.5, cols=%d, i=%d", cols, i).isEqualTo(x[i] > 0.5f ? 1f : 0f);
                    assertThat(scalarLeft[i]).as("%s 0.5 x, cols=%d, i=%d", c.name(), cols, i)
                            .isEqualTo(c.scalars().test(0.5f, x[i]) ? 1f : 0f);
                }
            }
        }
    }

    @Test
    void whereOnFullBroadcastAndStridedOperandsMatchesAScalarLoop() {
        Generator gen = new Generator(23);
        for (int cols : new int[] {1, 7, 37, 100}) {
            int rows = 3;
            int n = rows * cols;
            float[] c = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            float[] x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            float[] y = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            float[] row = Tensor.randn(gen, DType.FLOAT32, Device.CPU, cols).toFloatArray();
            Tensor cond = Tensor.of(c, rows, cols).gt(0.0);
            Tensor tx = Tensor.of(x, rows, cols);
            Tensor ty = Tensor.of(y, rows, cols);
            Tensor trow = Tensor.of(row, cols);
            Tensor s = Tensor.of(new float[] {-7f});
            Tensor t = Tensor.of(new float[] {9f});
            // the condition read along columns of its transpose: strides (1, rows) instead of (cols, 1)
            Tensor condT = Tensor.of(c, cols, rows).gt(0.0).mT();
            float[] both = Tensor.where(cond, tx, ty).toFloatArray();
            float[] rowElse = Tensor.where(cond, tx, trow).toFloatArray();
            float[] scalarElse = Tensor.where(cond, tx, s).toFloatArray();
            float[] scalarThen = Tensor.where(cond, s, ty).toFloatArray();
            float[] scalars = Tensor.where(cond, s, t).toFloatArray();
            float[] strided = Tensor.where(condT, tx, ty.mT().contiguous().mT()).toFloatArray();
            for (int i = 0; i < n; i++) {
                boolean ci = c[i] > 0;
                boolean cti = c[(i % cols) * rows + i / cols] > 0;
                float r = row[i % cols];
                assertThat(both[i]).as("both, cols=%d, i=%d", cols, i).isEqualTo(ci ? x[i] : y[i]);
                assertThat(rowElse[i]).as("row else, cols=%d, i=%d", cols, i).isEqualTo(ci ? x[i] : r);
                assertThat(scalarElse[i]).as("scalar else, cols=%d, i=%d", cols, i).isEqualTo(ci ? x[i] : -7f);
                assertThat(scalarThen[i]).as("scalar then, cols=%d, i=%d", cols, i).isEqualTo(ci ? -7f : y[i]);
                assertThat(scalars[i]).as("scalars, cols=%d, i=%d", cols, i).isEqualTo(ci ? -7f : 9f);
                assertThat(strided[i]).as("strided, cols=%d, i=%d", cols, i).isEqualTo(cti ? x[i] : y[i]);
            }
        }
    }

    @Test
    void reluBackwardPassesTheGradientExactlyWhereTheOutputIsPositive() {
        Generator gen = new Generator(25);
        float[] special = {Float.NaN, -0f, 0f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, 2.5f};
        // 100003 elements split across threads; the others leave tails after the last full vector
        for (int n : new int[] {1, 7, 33, 1000, 100003}) {
            float[] y = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            float[] g = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            for (int i = 0; i < Math.min(n, special.length); i++) {
                y[i] = special[i];
                g[(i + 1) % n] = special[i];
            }
            float[] fused = FusedOps.reluBackward(Tensor.of(g, n), Tensor.of(y, n)).toFloatArray();
            for (int i = 0; i < n; i++) {
                float expected = y[i] > 0f ? g[i] : 0f;
                assertThat(Float.floatToRawIntBits(fused[i])).as("n=%d i=%d y=%s g=%s", n, i, y[i], g[i])
                        .isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
        // strided: output and gradient both read along the columns of their transposes
        int rows = 5;
        int cols = 37;
        float[] y = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * cols).toFloatArray();
        float[] g = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * cols).toFloatArray();
        Tensor yT = Tensor.of(y, cols, rows).mT();
        Tensor gT = Tensor.of(g, cols, rows).mT();
        float[] strided = FusedOps.reluBackward(gT, yT).toFloatArray();
        float[] composed = Tensor.where(yT.gt(0.0), gT, Tensor.zeros(DType.FLOAT32, Device.CPU)).toFloatArray();
        assertThat(strided).containsExactly(composed);
    }
}
