package dev.ladon.tensor;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Tensor.matmul against a triple loop in double: odd sizes that leave vector tails, batch broadcasting,
 * transposed, sliced and expanded operands, 1-D operands, float32 and float64.
 */
class MatmulTest {

    /** C = A B for row-major A [batch, m, k] and B [batch, k, n] given as flat arrays. */
    static double[] reference(double[] a, double[] b, int batch, int m, int k, int n) {
        double[] c = new double[batch * m * n];
        for (int bi = 0; bi < batch; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a[(bi * m + i) * k + p] * b[(bi * k + p) * n + j];
                    }
                    c[(bi * m + i) * n + j] = s;
                }
            }
        }
        return c;
    }

    /** Float32 error grows with the inner size; inputs are in [-1, 1]. */
    static double tolerance(DType dtype, int k) {
        return dtype == DType.FLOAT64 ? 1e-12 * (k + 1) : 2e-6 * (k + 1);
    }

    /** A [rows, cols] operand in a layout, transposed ones stored as [cols, rows] and viewed with mT(). */
    static Tensor operand(Random rng, DType dtype, Layout layout, int... shape) {
        return layout.random(rng, dtype, shape, -1, 1);
    }

    @Test
    void oddSizesMatchReferenceForEveryLayout() {
        Random rng = new Random(1);
        int[] sizes = {1, 7, 33, 129};
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int m : sizes) {
                for (int k : sizes) {
                    for (int n : sizes) {
                        if (m * k * n > 33 * 33 * 129) {
                            continue; // the largest products add time, not coverage
                        }
                        Layout la = Layout.values()[rng.nextInt(4)];
                        Layout lb = Layout.values()[rng.nextInt(4)];
                        Tensor a = operand(rng, dtype, la, m, k);
                        Tensor b = operand(rng, dtype, lb, k, n);
                        double[] expected = reference(Elements.read(a), Elements.read(b), 1, m, k, n);
                        Elements.assertClose("matmul [" + m + "," + k + "]" + la + " @ [" + k + "," + n + "]" + lb,
                                a.matmul(b), dtype, new int[] {m, n}, expected, tolerance(dtype, k));
                    }
                }
            }
        }
    }

    @Test
    void largestOddSizeMatchesReference() {
        Random rng = new Random(2);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor a = operand(rng, dtype, Layout.CONTIGUOUS, 129, 129);
            Tensor b = operand(rng, dtype, Layout.TRANSPOSED, 129, 129);
            double[] expected = reference(Elements.read(a), Elements.read(b), 1, 129, 129, 129);
            Elements.assertClose("129^3", a.matmul(b), dtype, new int[] {129, 129}, expected, tolerance(dtype, 129));
        }
    }

    @Test
    void transposedOperandsAreReadThroughTheirStrides() {
        Random rng = new Random(3);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor at = Layout.CONTIGUOUS.random(rng, dtype, new int[] {33, 7}, -1, 1);
            Tensor bt = Layout.CONTIGUOUS.random(rng, dtype, new int[] {17, 33}, -1, 1);
            Tensor a = at.mT(); // [7, 33]
            Tensor b = bt.mT(); // [33, 17]
            double[] expected = reference(Elements.read(a), Elements.read(b), 1, 7, 33, 17);
            Elements.assertClose("aT @ bT", a.matmul(b), dtype, new int[] {7, 17}, expected, tolerance(dtype, 33));
        }
    }

    @Test
    void batchDimsBroadcast() {
        Random rng = new Random(4);
        int[][][] cases = {
            {{2, 1, 5, 7}, {3, 7, 4}},
            {{5, 7}, {2, 3, 7, 4}},
            {{1, 5, 7}, {4, 7, 1}},
            {{3, 1, 1, 2, 9}, {1, 2, 9, 33}},
            {{4, 33, 1}, {1, 17}},
        };
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int[][] c : cases) {
                for (Layout layout : Layout.values()) {
                    int[] sa = c[0];
                    int[] sb = c[1];
                    Tensor a = layout.random(rng, dtype, sa, -1, 1);
                    Tensor b = Layout.values()[rng.nextInt(4)].random(rng, dtype, sb, -1, 1);
                    int m = sa[sa.length - 2];
                    int k = sa[sa.length - 1];
                    int n = sb[sb.length - 1];
                    int[] batch = Shape.broadcast("test", Arrays.copyOf(sa, sa.length - 2), Arrays.copyOf(sb, sb.length - 2));
                    int count = Elements.numel(batch);
                    // materialise the broadcast operands for the reference
                    double[] av = Elements.read(a.expand(concat(batch, m, k)));
                    double[] bv = Elements.read(b.expand(concat(batch, k, n)));
                    double[] expected = reference(av, bv, count, m, k, n);
                    Elements.assertClose("batched " + Arrays.toString(sa) + " @ " + Arrays.toString(sb) + " " + layout,
                            a.matmul(b), dtype, concat(batch, m, n), expected, tolerance(dtype, k));
                }
            }
        }
    }

    static int[] concat(int[] batch, int... tail) {
        int[] r = Arrays.copyOf(batch, batch.length + tail.length);
        System.arraycopy(tail, 0, r, batch.length, tail.length);
        return r;
    }

    @Test
    void oneDimensionalOperandsFollowNumpy() {
        Random rng = new Random(5);
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor v = Layout.STRIDED.random(rng, dtype, new int[] {7}, -1, 1);
            Tensor w = Layout.CONTIGUOUS.random(rng, dtype, new int[] {7}, -1, 1);
            Tensor mat = Layout.TRANSPOSED.random(rng, dtype, new int[] {7, 5}, -1, 1);
            Tensor batched = Layout.CONTIGUOUS.random(rng, dtype, new int[] {3, 5, 7}, -1, 1);
            double[] vv = Elements.read(v);
            double tol = tolerance(dtype, 7);
            Elements.assertClose("dot", v.matmul(w), dtype, new int[] {}, reference(vv, Elements.read(w), 1, 1, 7, 1), tol);
            Elements.assertClose("vector @ matrix", v.matmul(mat), dtype, new int[] {5},
                    reference(vv, Elements.read(mat), 1, 1, 7, 5), tol);
            Elements.assertClose("batched matrix @ vector", batched.matmul(v), dtype, new int[] {3, 5},
                    reference(Elements.read(batched), concatCopies(vv, 3), 3, 5, 7, 1), tol);
        }
    }

    static double[] concatCopies(double[] v, int copies) {
        double[] r = new double[v.length * copies];
        for (int c = 0; c < copies; c++) {
            System.arraycopy(v, 0, r, c * v.length, v.length);
        }
        return r;
    }

    @Test
    void emptyInnerDimensionGivesZeros() {
        Tensor a = Tensor.zeros(3, 0);
        Tensor b = Tensor.zeros(0, 4);
        Elements.assertClose("k = 0", a.matmul(b), DType.FLOAT32, new int[] {3, 4}, new double[12], 0);
    }

    @Test
    void specialValuesPropagate() {
        // 0 * inf is NaN in IEEE arithmetic; a kernel that skips zero entries of A would return 0
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor a = Elements.tensor(dtype, new int[] {1, 2}, new double[] {0, 1});
            Tensor b = Elements.tensor(dtype, new int[] {2, 1}, new double[] {Double.POSITIVE_INFINITY, 1});
            Elements.assertClose("0 * inf", a.matmul(b), dtype, new int[] {1, 1}, new double[] {Double.NaN}, 0);
        }
    }
}
