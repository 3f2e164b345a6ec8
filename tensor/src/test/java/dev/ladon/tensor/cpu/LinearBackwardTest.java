package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backend;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link FusedOps#linearBackward} on the CPU against the ops it replaces: the input gradient (masked by a
 * ReLU's output in the product's epilogue) and the weight gradient give the same floats as the separate
 * products and ReLU backward; the bias gradient, summed while the weight gradient's product packs g^T,
 * agrees with a float64 sum and does not depend on the thread count.
 */
class LinearBackwardTest {
    private final int threadsBefore = Parallel.numThreads();

    @AfterEach
    void restoreThreads() {
        Parallel.setNumThreads(threadsBefore);
    }

    /**
     * {n, in, out}: one element; partial panels and row blocks; a depth (n) over KC, so the row sums run
     * over two depth blocks, and an input width over one column group, so only the first group's tasks
     * may sum.
     */
    private static final int[][] SHAPES = {{1, 1, 1}, {37, 33, Gemm.NR + 5}, {Gemm.KC + 9, 1100, 2 * Gemm.MC + 3}};

    @Test
    void gradientsAreThoseOfTheSeparateOps() {
        Generator gen = new Generator(21);
        for (int[] shape : SHAPES) {
            int n = shape[0];
            int in = shape[1];
            int out = shape[2];
            Tensor weight = Tensor.randn(gen, DType.FLOAT32, Device.CPU, out, in);
            Tensor rowMajorGrad = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, out);
            Tensor transposedGrad = Tensor.randn(gen, DType.FLOAT32, Device.CPU, out, n).mT();
            Tensor x = withSpecials(Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, in));
            Tensor transposedX = withSpecials(Tensor.randn(gen, DType.FLOAT32, Device.CPU, in, n).mT().contiguous())
                    .mT().contiguous().mT();
            for (Tensor g : new Tensor[] {rowMajorGrad, transposedGrad}) {
                for (Tensor input : new Tensor[] {x, transposedX}) {
                    String what = "n=" + n + " in=" + in + " out=" + out + (g == transposedGrad ? " g^T" : "")
                            + (input == transposedX ? " x^T" : "");
                    FusedOps.LinearGradients plain = FusedOps.linearBackward(g, input, weight, true, true, true, false);
                    FusedOps.LinearGradients relu = FusedOps.linearBackward(g, input, weight, true, false, false, true);
                    assertSameBits(plain.input(), g.matmul(weight), "dx, " + what);
                    assertSameBits(relu.input(), FusedOps.reluBackward(g.matmul(weight), input),
                            "dx through the ReLU, " + what);
                    assertThat(relu.weight()).isNull();
                    assertThat(relu.bias()).isNull();
                    assertSameBits(plain.weight(), g.mT().matmul(input), "dW, " + what);
                    assertCloseToColumnSums(plain.bias(), g, what);
                }
            }
        }
    }

    @Test
    void biasGradientIsTheSameOnOneAndTwoThreads() {
        // Each row block is summed by one task in p order, so the split between threads changes nothing.
        Generator gen = new Generator(22);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, Device.CPU, Gemm.KC + 9, 2 * Gemm.MC + 3);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, Gemm.KC + 9, 1100);
        Tensor w = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2 * Gemm.MC + 3, 1100);
        Parallel.setNumThreads(1);
        FusedOps.LinearGradients one = FusedOps.linearBackward(g, x, w, false, true, true, false);
        Parallel.setNumThreads(2);
        FusedOps.LinearGradients two = FusedOps.linearBackward(g, x, w, false, true, true, false);
        assertSameBits(two.bias(), one.bias(), "");
        assertSameBits(two.weight(), one.weight(), "");
    }

    @Test
    void aBroadcastGradientIsReadThroughItsZeroStrides() {
        // The gradient of sum(linear(x)) reaches the layer as one value expanded to [N, out] (strides 0, 0).
        Generator gen = new Generator(25);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 1, 1).expand(300, 40);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 300, 33);
        Tensor w = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40, 33);
        FusedOps.LinearGradients r = FusedOps.linearBackward(g, x, w, true, true, true, false);
        Tensor dense = g.contiguous();
        assertSameBits(r.input(), dense.matmul(w), "dx");
        assertSameBits(r.weight(), dense.mT().matmul(x), "dW");
        assertCloseToColumnSums(r.bias(), dense, "db");
    }

    @Test
    void biasAloneIsTheColumnSum() {
        Generator gen = new Generator(23);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40, 6);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40, 5);
        Tensor w = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 6, 5);
        FusedOps.LinearGradients r = FusedOps.linearBackward(g, x, w, false, false, true, false);
        assertThat(r.input()).isNull();
        assertThat(r.weight()).isNull();
        assertThat(r.bias().toFloatArray()).containsExactly(g.sum(0).toFloatArray());
    }

    @Test
    void float64MatchesTheDefaultCompositionAndArgumentsAreChecked() {
        Generator gen = new Generator(24);
        Tensor g = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 9, 4);
        Tensor x = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 9, 3);
        Tensor w = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 4, 3);
        FusedOps.LinearGradients r = FusedOps.linearBackward(g, x, w, true, true, true, true);
        assertThat(r.input().toDoubleArray())
                .containsExactly(FusedOps.reluBackward(g.matmul(w), x).toDoubleArray());
        assertThat(r.weight().toDoubleArray()).containsExactly(g.mT().matmul(x).toDoubleArray());
        assertThat(r.bias().toDoubleArray()).containsExactly(g.sum(0).toDoubleArray());
        // The float32 kernel agrees with the backend's default composition.
        Tensor g32 = g.to(DType.FLOAT32);
        Tensor x32 = x.to(DType.FLOAT32);
        Tensor w32 = w.to(DType.FLOAT32);
        // The backend's default method, reached through a proxy that sends every other call to the CPU backend.
        Backend withDefault = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> method.getName().equals("linearBackward")
                        ? InvocationHandler.invokeDefault(proxy, method, args)
                        : method.invoke(CpuBackend.INSTANCE, args));
        Tensor[] composed = withDefault.linearBackward(g32, x32, w32, true, true, true, true);
        FusedOps.LinearGradients fused = FusedOps.linearBackward(g32, x32, w32, true, true, true, true);
        assertSameBits(fused.input(), composed[0], "");
        assertSameBits(fused.weight(), composed[1], "");
        assertCloseToColumnSums(fused.bias(), g32, "float32 against the composition");

        assertThatThrownBy(() -> FusedOps.linearBackward(g, x.narrow(0, 0, 8), w, true, true, true, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("linearBackward")
                .hasMessageContaining("grad [9, 4]").hasMessageContaining("x [8, 3]");
        assertThatThrownBy(() -> FusedOps.linearBackward(g, x, w.to(DType.FLOAT32), true, true, true, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dtypes differ");
    }

    /** Puts a NaN, infinities, signed zeros and a tiny positive value into the first elements of x. */
    private static Tensor withSpecials(Tensor x) {
        float[] v = x.toFloatArray();
        float[] specials = {Float.NaN, -0f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE};
        for (int i = 0; i < Math.min(v.length, specials.length); i++) {
            v[i] = specials[i];
        }
        return Tensor.of(v, x.shape());
    }

    private static void assertCloseToColumnSums(Tensor db, Tensor g, String what) {
        int n = g.size(0);
        int out = g.size(1);
        double[] gv = g.contiguous().toDoubleArray();
        float[] actual = db.toFloatArray();
        assertThat(actual).hasSize(out);
        for (int j = 0; j < out; j++) {
            double sum = 0;
            double magnitude = 0;
            for (int i = 0; i < n; i++) {
                sum += gv[i * out + j];
                magnitude += Math.abs(gv[i * out + j]);
            }
            // Sequential float32 sums in four partial sums: error well under n eps of the magnitude.
            assertThat((double) actual[j]).as("db[%d], %s", j, what)
                    .isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-6 * magnitude + 1e-7));
        }
    }

    /** Same shape and the same floats (any NaN equals any NaN), naming the first element that differs. */
    private static void assertSameBits(Tensor actual, Tensor expected, String what) {
        assertThat(actual.shape()).as(what).containsExactly(expected.shape());
        float[] a = actual.toFloatArray();
        float[] e = expected.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(e[i])) {
                throw new AssertionError(what + ": element " + i + " is " + a[i] + ", expected " + e[i]);
            }
        }
    }
}
