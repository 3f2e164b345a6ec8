package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The packed GEMM against a plain triple loop: odd sizes that leave partial micro-tiles on every edge,
 * transposed, sliced and strided operands, broadcast batches, blocks larger than the cache blocking,
 * several threads sharing tasks and packed panels, and several waves. The surefire run with {@code ladon.cpu.vectorBits=128}
 * repeats all of it with narrow vectors.
 */
class GemmTest {
    private static final int[] ODD_SIZES = {1, 7, 33, 129};
    private final int threadsBefore = Parallel.numThreads();

    @AfterEach
    void restoreThreads() {
        Parallel.setNumThreads(threadsBefore);
    }

    @Test
    void float32MatchesTripleLoopOnOddSizes() {
        Generator gen = new Generator(1);
        for (int m : ODD_SIZES) {
            for (int n : ODD_SIZES) {
                for (int k : ODD_SIZES) {
                    Tensor a = Tensor.randn(gen, DType.FLOAT32, Device.CPU, m, k);
                    Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, n);
                    assertMatchesReference(a, b, a.matmul(b), "m=" + m + " n=" + n + " k=" + k);
                }
            }
        }
    }

    @Test
    void float64MatchesTripleLoopOnOddSizes() {
        Generator gen = new Generator(2);
        for (int m : ODD_SIZES) {
            for (int n : ODD_SIZES) {
                for (int k : ODD_SIZES) {
                    Tensor a = Tensor.randn(gen, DType.FLOAT64, Device.CPU, m, k);
                    Tensor b = Tensor.randn(gen, DType.FLOAT64, Device.CPU, k, n);
                    assertMatchesReference(a, b, a.matmul(b), "m=" + m + " n=" + n + " k=" + k);
                }
            }
        }
    }

    @Test
    void transposedOperandsAreReadThroughTheirStrides() {
        Generator gen = new Generator(3);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            int m = 33;
            int n = 129;
            int k = 7;
            Tensor at = Tensor.randn(gen, dtype, Device.CPU, k, m).mT();
            Tensor bt = Tensor.randn(gen, dtype, Device.CPU, n, k).mT();
            Tensor a = Tensor.randn(gen, dtype, Device.CPU, m, k);
            Tensor b = Tensor.randn(gen, dtype, Device.CPU, k, n);
            assertMatchesReference(at, b, at.matmul(b), dtype + " A^T B");
            assertMatchesReference(a, bt, a.matmul(bt), dtype + " A B^T");
            assertMatchesReference(at, bt, at.matmul(bt), dtype + " A^T B^T");
        }
    }

    @Test
    void slicedAndSteppedViewsMultiplyWithoutCopies() {
        Generator gen = new Generator(4);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor bigA = Tensor.randn(gen, dtype, Device.CPU, 70, 40);
            Tensor bigB = Tensor.randn(gen, dtype, Device.CPU, 50, 90);
            // Offsets, row strides wider than the row, and a column step of 2 (no unit stride at all).
            Tensor a = bigA.narrow(0, 3, 33).slice(1, 1, 40, 2); // [33, 20]
            Tensor b = bigB.narrow(0, 5, 20).narrow(1, 2, 65); // [20, 65]
            assertMatchesReference(a, b, a.matmul(b), dtype + " sliced");
            Tensor bStepped = bigB.slice(0, 0, 40, 2).slice(1, 1, 90, 3); // [20, 30]
            assertMatchesReference(a, bStepped, a.matmul(bStepped), dtype + " stepped B");
        }
    }

    @Test
    void batchDimsBroadcastOnEitherSide() {
        Generator gen = new Generator(5);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor a = Tensor.randn(gen, dtype, Device.CPU, 3, 1, 33, 7);
            Tensor b = Tensor.randn(gen, dtype, Device.CPU, 2, 7, 17);
            assertBatchedMatchesReference(a, b, "a [3,1,33,7] @ b [2,7,17]");
            // One weight matrix for the whole batch: the batch folds into A's rows.
            Tensor x = Tensor.randn(gen, dtype, Device.CPU, 4, 9, 33);
            Tensor w = Tensor.randn(gen, dtype, Device.CPU, 33, 12);
            assertBatchedMatchesReference(x, w, "x [4,9,33] @ w [33,12]");
            // The same with a transposed batch of A, whose entries do not follow on: no folding.
            Tensor xt = Tensor.randn(gen, dtype, Device.CPU, 9, 4, 33).transpose(0, 1);
            assertBatchedMatchesReference(xt, w, "x^T [4,9,33] @ w [33,12]");
            // One left matrix shared by a batch of right ones.
            Tensor left = Tensor.randn(gen, dtype, Device.CPU, 7, 5);
            Tensor right = Tensor.randn(gen, dtype, Device.CPU, 3, 5, 33).mT().mT();
            assertBatchedMatchesReference(left, right, "left [7,5] @ right [3,5,33]");
        }
    }

    @Test
    void blocksLargerThanTheCacheBlockingAreSummedWhole() {
        // m > MC, k split into two depth blocks, n wide enough for several column blocks at that depth.
        Generator gen = new Generator(6);
        int m = Gemm.MC + 3;
        int n = 2 * Gemm.NC + Gemm.NR + 1;
        int k = Gemm.KC + 5;
        assertThat(new GemmPlan(1, m, n, k, Gemm.NR).colBlocks).isGreaterThan(1);
        Tensor a = Tensor.randn(gen, DType.FLOAT32, Device.CPU, m, k);
        Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, k).mT();
        assertMatchesReference(a, b, a.matmul(b), "large blocks");
        Tensor at = Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, m).mT();
        assertMatchesReference(at, b, at.matmul(b), "large blocks, A transposed");
    }

    @Test
    void rowMajorBlocksReadInPlaceMatchPackedOnes() {
        // A row-major A whose tasks hold whole panels is read where it lies, not packed. Here its rows are
        // wider than K (a column slice at an offset), K spans two depth blocks, the last column panel is
        // partial, and the last task's rows are not a whole panel (that block is packed): every branch of
        // both paths in one product, checked against the reference and against the same product with A
        // transposed (always packed).
        Generator gen = new Generator(11);
        int m = 2 * Gemm.MC + Gemm.MR + 3;
        int k = Gemm.KC + 9;
        int n = 2 * Gemm.NR + 5;
        Tensor wide = Tensor.randn(gen, DType.FLOAT32, Device.CPU, m, k + 7);
        Tensor a = wide.narrow(1, 5, k);
        Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, n);
        Tensor c = a.matmul(b);
        assertMatchesReference(a, b, c, "row-major A read in place");
        Tensor packed = a.contiguous().mT().contiguous().mT().matmul(b);
        assertThat(packed.toDoubleArray()).as("the packed product adds in the same order")
                .containsExactly(c.toDoubleArray());
    }

    @Test
    void linearEpilogueGivesTheBitsOfTheProductThenBiasThenRelu() {
        // FusedOps.linear finishes each block of the product with the bias add and the ReLU; the separate ops
        // give the same floats. Sizes leave partial panels, a partial row block and (in = KC + 9) two depth
        // blocks (the epilogue must wait for the last); x is also taken transposed (a packed A), the weight is
        // a row slice and the bias a strided view; NaN, infinities and signed zeros go through the ReLU.
        Generator gen = new Generator(12);
        int[][] shapes = {{1, 1, 1}, {37, 33, Gemm.NR + 5}, {2 * Gemm.MC + 3, Gemm.KC + 9, 2 * Gemm.NR}};
        for (int[] shape : shapes) {
            int n = shape[0];
            int in = shape[1];
            int out = shape[2];
            Tensor rowMajor = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, in);
            Tensor transposed = Tensor.randn(gen, DType.FLOAT32, Device.CPU, in, n).mT();
            Tensor weight = Tensor.randn(gen, DType.FLOAT32, Device.CPU, out + 2, in).narrow(0, 1, out);
            Tensor bias = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2 * out).slice(0, 0, 2 * out, 2);
            float[] specials = {Float.NaN, -0f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
            float[] b = bias.toFloatArray();
            for (int j = 0; j < Math.min(out, specials.length); j++) {
                b[j] = specials[j];
            }
            Tensor special = Tensor.of(b, out);
            for (Tensor x : new Tensor[] {rowMajor, transposed}) {
                for (Tensor bi : new Tensor[] {null, bias, special}) {
                    for (boolean relu : new boolean[] {false, true}) {
                        Tensor expected = x.matmul(weight.mT());
                        if (bi != null) {
                            expected.addInPlace(bi);
                        }
                        if (relu) {
                            expected.reluInPlace();
                        }
                        Tensor actual = FusedOps.linear(x, weight, bi, relu);
                        assertThat(actual.shape()).containsExactly(n, out);
                        assertThat(bitsOf(actual)).as("n=%d in=%d out=%d bias=%s relu=%s %s", n, in, out, bi != null,
                                relu, x == transposed ? "x^T" : "x").containsExactly(bitsOf(expected));
                    }
                }
            }
        }
    }

    @Test
    void linearInFloat64ComposesAndChecksItsArguments() {
        Generator gen = new Generator(13);
        Tensor x = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 5, 3);
        Tensor w = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 4, 3);
        Tensor b = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 4);
        double[] y = FusedOps.linear(x, w, b, true).toDoubleArray();
        double[] xv = x.toDoubleArray();
        double[] wv = w.toDoubleArray();
        double[] bv = b.toDoubleArray();
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 4; j++) {
                double sum = bv[j];
                for (int p = 0; p < 3; p++) {
                    sum += xv[i * 3 + p] * wv[j * 3 + p];
                }
                assertThat(y[i * 4 + j]).isCloseTo(Math.max(sum, 0), org.assertj.core.data.Offset.offset(1e-12));
            }
        }
        assertThatThrownBy(() -> FusedOps.linear(x, w.narrow(1, 0, 2), null, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("linear")
                .hasMessageContaining("[5, 3]").hasMessageContaining("[4, 2]");
        assertThatThrownBy(() -> FusedOps.linear(x, w, b.narrow(0, 0, 3), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias [3]");
        assertThatThrownBy(() -> FusedOps.linear(x, w.to(DType.FLOAT32), null, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dtypes differ");
    }

    private static int[] bitsOf(Tensor t) {
        float[] v = t.toFloatArray();
        int[] bits = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            bits[i] = Float.floatToIntBits(v[i]); // one NaN: a NaN's payload is not part of the contract
        }
        return bits;
    }

    @Test
    void shallowProductsPackWiderColumnBlocks() {
        // At depth KC a group is NC columns wide; at a quarter of that depth it may be four times wider, so
        // A is packed once instead of four times. The results must not depend on the width.
        GemmPlan deep = new GemmPlan(1, 64, 4 * Gemm.NC, Gemm.KC, Gemm.NR);
        GemmPlan shallow = new GemmPlan(1, 64, 4 * Gemm.NC, Gemm.KC / 4, Gemm.NR);
        assertThat(deep.colBlocks).isEqualTo(4);
        assertThat(shallow.colBlocks).isEqualTo(1);
        Parallel.setNumThreads(2);
        Generator gen = new Generator(8);
        int m = 2 * Gemm.MC + 5;
        int k = 40;
        int n = (int) ((long) Gemm.KC * Gemm.NC / k) + 3 * Gemm.NR + 3;
        assertThat(new GemmPlan(1, m, n, k, Gemm.NR).colBlocks).isEqualTo(2);
        Tensor at = Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, m).mT();
        Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, n);
        assertMatchesReference(at, b, at.matmul(b), "shallow, wide, A transposed");
    }

    @Test
    void tasksAndPackedPanelsAreSharedBetweenThreads() {
        Parallel.setNumThreads(3);
        Generator gen = new Generator(7);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            // Several row blocks, column blocks and depth blocks: threads pack B panels for each other.
            Tensor a = Tensor.randn(gen, dtype, Device.CPU, Gemm.MC + 5, Gemm.KC + 7);
            Tensor b = Tensor.randn(gen, dtype, Device.CPU, Gemm.KC + 7, Gemm.NC + 9);
            assertMatchesReference(a, b, a.matmul(b), dtype + " blocks on 3 threads");
            Tensor pairA = Tensor.randn(gen, dtype, Device.CPU, 2, 65, 64);
            Tensor pairB = Tensor.randn(gen, dtype, Device.CPU, 2, 64, 70);
            assertBatchedMatchesReference(pairA, pairB, dtype + " batch of 2 on 3 threads");
        }
    }

    @Test
    void batchesWhosePackedPanelsOverflowOneWaveRunInSeveralWaves() {
        Parallel.setNumThreads(2);
        Generator gen = new Generator(8);
        // Each entry's packed B is about k * n floats; this batch needs more than one wave.
        int k = 1024;
        int n = 1024;
        int batch = GemmPlan.WAVE_ELEMENTS / (k * n) + 2;
        Tensor a = Tensor.randn(gen, DType.FLOAT32, Device.CPU, batch, 1, k);
        Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, batch, k, n);
        assertBatchedMatchesReference(a, b, "batch of " + batch + " in waves");
    }

    @Test
    void concurrentProductsFromSeveralCallersAreIndependent() throws Exception {
        Generator gen = new Generator(9);
        Tensor[] as = new Tensor[4];
        Tensor[] bs = new Tensor[4];
        Tensor[] cs = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            as[i] = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40 + i, 70);
            bs[i] = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 70, 90 - i);
        }
        Thread[] callers = new Thread[4];
        for (int i = 0; i < 4; i++) {
            int id = i;
            callers[i] = new Thread(() -> {
                for (int rep = 0; rep < 20; rep++) {
                    cs[id] = as[id].matmul(bs[id]);
                }
            });
            callers[i].start();
        }
        for (Thread t : callers) {
            t.join();
        }
        for (int i = 0; i < 4; i++) {
            assertMatchesReference(as[i], bs[i], cs[i], "caller " + i);
        }
    }

    @Test
    void emptyDimsGiveZerosOrEmpty() {
        Tensor a = Tensor.zeros(3, 0);
        Tensor b = Tensor.zeros(0, 4);
        Tensor c = a.matmul(b);
        assertThat(c.shape()).containsExactly(3, 4);
        assertThat(c.toFloatArray()).containsOnly(0f);
        assertThat(Tensor.zeros(0, 5).matmul(Tensor.zeros(5, 2)).shape()).containsExactly(0, 2);
    }

    // ---- reference --------------------------------------------------------------------------------

    /** Plain triple loop in double over the operands' values (read through the public API). */
    private static double[] reference(double[] a, double[] b, int m, int n, int k) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                double aip = a[i * k + p];
                for (int j = 0; j < n; j++) {
                    c[i * n + j] += aip * b[p * n + j];
                }
            }
        }
        return c;
    }

    /** Sum of |a||b| per output, the scale of the rounding error of a float dot product. */
    private static double[] magnitude(double[] a, double[] b, int m, int n, int k) {
        double[] absA = new double[a.length];
        double[] absB = new double[b.length];
        for (int i = 0; i < a.length; i++) {
            absA[i] = Math.abs(a[i]);
        }
        for (int i = 0; i < b.length; i++) {
            absB[i] = Math.abs(b[i]);
        }
        return reference(absA, absB, m, n, k);
    }

    private static void assertMatchesReference(Tensor a, Tensor b, Tensor c, String what) {
        int m = a.size(0);
        int k = a.size(1);
        int n = b.size(1);
        assertThat(c.shape()).as(what).containsExactly(m, n);
        double[] av = a.toDoubleArray();
        double[] bv = b.toDoubleArray();
        double[] expected = reference(av, bv, m, n, k);
        double[] scale = magnitude(av, bv, m, n, k);
        double[] actual = c.toDoubleArray();
        double eps = c.dtype() == DType.FLOAT32 ? 1e-6 : 1e-14;
        for (int i = 0; i < expected.length; i++) {
            double tolerance = 4 * eps * (scale[i] + 1) * Math.sqrt(k + 1);
            assertThat(Math.abs(actual[i] - expected[i])).as("%s at [%d, %d]", what, i / Math.max(n, 1), i % Math.max(n, 1))
                    .isLessThanOrEqualTo(tolerance);
        }
    }

    /** Checks each batch entry of a.matmul(b) (batch dims broadcast) against the reference. */
    private static void assertBatchedMatchesReference(Tensor a, Tensor b, String what) {
        Tensor c = a.matmul(b);
        int rank = c.dim();
        int[] batchShape = java.util.Arrays.copyOf(c.shape(), rank - 2);
        int batch = c.numel() / (c.size(-2) * c.size(-1));
        Tensor aFull = a.expand(withLast2(batchShape, a.size(-2), a.size(-1)));
        Tensor bFull = b.expand(withLast2(batchShape, b.size(-2), b.size(-1)));
        Tensor a3 = aFull.reshape(batch, a.size(-2), a.size(-1));
        Tensor b3 = bFull.reshape(batch, b.size(-2), b.size(-1));
        Tensor c3 = c.reshape(batch, c.size(-2), c.size(-1));
        for (int bi = 0; bi < batch; bi++) {
            assertMatchesReference(a3.select(0, bi), b3.select(0, bi), c3.select(0, bi), what + " entry " + bi);
        }
    }

    private static int[] withLast2(int[] batchShape, int rows, int cols) {
        int[] s = java.util.Arrays.copyOf(batchShape, batchShape.length + 2);
        s[batchShape.length] = rows;
        s[batchShape.length + 1] = cols;
        return s;
    }
}
