package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The compacted expert matmul ({@link FusedOps#groupedMatmul}) and its backward against a plain per-pair
 * loop written here, in float32 (the grouped-GEMM path) and float64 (the loop path).
 */
class GroupedMatmulTest {

    /** One random problem: x [n, din], weight [e, din, dout], pairs (row, expert, gate), dL/dout. */
    private record Problem(int n, int din, int dout, int experts, int[] row, int[] expert, double[] x, double[] w,
            double[] gate, double[] gradOut) {

        int pairs() {
            return row.length;
        }

        /** Pairs draw experts only from {@code usable}, so the other experts stay empty. */
        static Problem random(long seed, int n, int din, int dout, int experts, int pairs, int[] usable,
                boolean gated) {
            Random r = new Random(seed);
            int[] row = new int[pairs];
            int[] expert = new int[pairs];
            for (int p = 0; p < pairs; p++) {
                row[p] = r.nextInt(n);
                expert[p] = usable[r.nextInt(usable.length)];
            }
            return new Problem(n, din, dout, experts, row, expert, gaussians(r, n * din),
                    gaussians(r, experts * din * dout), gated ? gaussians(r, pairs) : null,
                    gaussians(r, pairs * dout));
        }

        private static double[] gaussians(Random r, int count) {
            double[] v = new double[count];
            for (int i = 0; i < count; i++) {
                v[i] = r.nextGaussian();
            }
            return v;
        }

        Tensor xTensor(DType t) {
            return Tensor.of(x, n, din).to(t);
        }

        Tensor weightTensor(DType t) {
            return Tensor.of(w, experts, din, dout).to(t);
        }

        Tensor gateTensor(DType t) {
            return gate == null ? null : Tensor.of(gate, pairs()).to(t);
        }

        Tensor gradTensor(DType t) {
            return Tensor.of(gradOut, pairs(), dout).to(t);
        }

        // ---- the reference: one pair at a time ----

        double gateOf(int p) {
            return gate == null ? 1 : gate[p];
        }

        double[] referenceOut() {
            double[] out = new double[pairs() * dout];
            for (int p = 0; p < pairs(); p++) {
                for (int j = 0; j < dout; j++) {
                    double s = 0;
                    for (int i = 0; i < din; i++) {
                        s += x[row[p] * din + i] * w[(expert[p] * din + i) * dout + j];
                    }
                    out[p * dout + j] = gateOf(p) * s;
                }
            }
            return out;
        }

        double[] referenceDx() {
            double[] dx = new double[n * din];
            for (int p = 0; p < pairs(); p++) {
                for (int i = 0; i < din; i++) {
                    for (int j = 0; j < dout; j++) {
                        dx[row[p] * din + i] += gateOf(p) * gradOut[p * dout + j] * w[(expert[p] * din + i) * dout + j];
                    }
                }
            }
            return dx;
        }

        double[] referenceDweight() {
            double[] dw = new double[experts * din * dout];
            for (int p = 0; p < pairs(); p++) {
                for (int i = 0; i < din; i++) {
                    for (int j = 0; j < dout; j++) {
                        dw[(expert[p] * din + i) * dout + j] += gateOf(p) * x[row[p] * din + i] * gradOut[p * dout + j];
                    }
                }
            }
            return dw;
        }

        /** dL/dgate[p] = sum_j gradOut[p, j] * (x[row[p]] @ weight[expert[p]])[j]. */
        double[] referenceDgate() {
            double[] dg = new double[pairs()];
            for (int p = 0; p < pairs(); p++) {
                for (int j = 0; j < dout; j++) {
                    double s = 0;
                    for (int i = 0; i < din; i++) {
                        s += x[row[p] * din + i] * w[(expert[p] * din + i) * dout + j];
                    }
                    dg[p] += gradOut[p * dout + j] * s;
                }
            }
            return dg;
        }
    }

    private static void assertClose(String what, Tensor actual, double[] expected, double tol) {
        double[] a = actual.toDoubleArray();
        assertThat(a.length).as(what + " length").isEqualTo(expected.length);
        for (int i = 0; i < a.length; i++) {
            assertThat(Math.abs(a[i] - expected[i])).as(what + "[" + i + "]: " + a[i] + " vs " + expected[i])
                    .isLessThanOrEqualTo(tol * (1 + Math.abs(expected[i])));
        }
    }

    private static Tensor indexTensor(int[] values, DType t) {
        return Tensor.of(values, values.length).to(t);
    }

    /** Forward and the three backward outputs against the reference. */
    private static void check(Problem pr, DType dtype, DType indexType) {
        double tol = dtype == DType.FLOAT32 ? 2e-5 * Math.sqrt(Math.max(pr.din, pr.dout)) : 1e-12;
        Tensor x = pr.xTensor(dtype);
        Tensor w = pr.weightTensor(dtype);
        Tensor row = indexTensor(pr.row, indexType);
        Tensor expert = indexTensor(pr.expert, indexType);
        Tensor gate = pr.gateTensor(dtype);
        Tensor out = FusedOps.groupedMatmul(x, w, row, expert, gate);
        assertThat(out.shape()).containsExactly(pr.pairs(), pr.dout);
        assertThat(out.dtype()).isEqualTo(dtype);
        assertClose("out", out, pr.referenceOut(), tol);

        Tensor[] grads = FusedOps.groupedMatmulBackward(pr.gradTensor(dtype), x, w, row, expert, gate);
        assertThat(grads[0].shape()).containsExactly(pr.n, pr.din);
        assertThat(grads[1].shape()).containsExactly(pr.experts, pr.din, pr.dout);
        assertClose("dx", grads[0], pr.referenceDx(), tol);
        assertClose("dweight", grads[1], pr.referenceDweight(), tol);
        if (gate == null) {
            assertThat(grads[2]).as("dgate without a gate").isNull();
        } else {
            assertThat(grads[2].shape()).containsExactly(pr.pairs());
            assertClose("dgate", grads[2], pr.referenceDgate(), tol);
        }
    }

    @Test
    void handCheckedPairsPickTheirExpertAndScaleByTheGate() {
        // x rows [1, 2] and [3, 4]; expert 0 is the identity, expert 1 swaps and doubles.
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor w = Tensor.of(new float[] {1, 0, 0, 1, 0, 2, 2, 0}, 2, 2, 2);
        Tensor row = Tensor.of(new int[] {1, 0, 1}, 3);
        Tensor expert = Tensor.of(new int[] {1, 1, 0}, 3);
        Tensor gate = Tensor.of(new float[] {0.5f, 1f, -1f}, 3);
        Tensor out = FusedOps.groupedMatmul(x, w, row, expert, gate);
        assertThat(out.toFloatArray()).containsExactly(4, 3, 4, 2, -3, -4);
    }

    @Test
    void float32MatchesPerPairLoopWithEmptyExpertsAndRepeatedRows() {
        // 8 experts, pairs only use 1, 2 and 6; 3 rows for 40 pairs, so rows repeat, also within one expert.
        Problem pr = Problem.random(1, 3, 13, 7, 8, 40, new int[] {1, 2, 6}, true);
        check(pr, DType.FLOAT32, DType.INT32);
    }

    @Test
    void float64MatchesPerPairLoop() {
        Problem pr = Problem.random(2, 5, 9, 11, 4, 17, new int[] {0, 3, 3, 2}, true);
        check(pr, DType.FLOAT64, DType.INT64);
    }

    @Test
    void withoutGateEveryPairHasGateOne() {
        check(Problem.random(3, 6, 10, 5, 3, 12, new int[] {0, 1, 2}, false), DType.FLOAT32, DType.INT64);
        check(Problem.random(4, 6, 10, 5, 3, 12, new int[] {0, 1, 2}, false), DType.FLOAT64, DType.INT32);
    }

    @Test
    void oddSizesAndLargerGroupsMatch() {
        // Widths that are not multiples of any vector length, and groups large enough to split over threads.
        check(Problem.random(5, 70, 37, 45, 5, 300, new int[] {0, 1, 2, 3, 4}, true), DType.FLOAT32, DType.INT32);
        check(Problem.random(6, 1, 1, 1, 2, 3, new int[] {1}, true), DType.FLOAT32, DType.INT32);
    }

    @Test
    void expertsNoPairNamesGetExactlyZeroWeightGradient() {
        Problem pr = Problem.random(7, 4, 6, 5, 5, 9, new int[] {1, 3}, true);
        Tensor[] grads = FusedOps.groupedMatmulBackward(pr.gradTensor(DType.FLOAT32), pr.xTensor(DType.FLOAT32),
                pr.weightTensor(DType.FLOAT32), indexTensor(pr.row, DType.INT32), indexTensor(pr.expert, DType.INT32),
                pr.gateTensor(DType.FLOAT32));
        for (int e : new int[] {0, 2, 4}) {
            assertThat(grads[1].select(0, e).abs().sum().item()).as("dweight of unused expert " + e).isZero();
        }
        assertThat(grads[1].select(0, 1).abs().sum().item()).isPositive();
    }

    @Test
    void noPairsGivesEmptyOutputAndZeroGradients() {
        Tensor x = Tensor.randn(new Generator(8), DType.FLOAT32, Device.CPU, 3, 4);
        Tensor w = Tensor.randn(new Generator(9), DType.FLOAT32, Device.CPU, 2, 4, 5);
        Tensor none = Tensor.of(new int[0], 0);
        Tensor gate = Tensor.of(new float[0], 0);
        Tensor out = FusedOps.groupedMatmul(x, w, none, none, gate);
        assertThat(out.shape()).containsExactly(0, 5);
        Tensor[] grads = FusedOps.groupedMatmulBackward(Tensor.zeros(0, 5), x, w, none, none, gate);
        assertThat(grads[0].abs().sum().item()).isZero();
        assertThat(grads[1].abs().sum().item()).isZero();
        assertThat(grads[2].shape()).containsExactly(0);
    }

    @Test
    void stridedViewsAreReadThroughTheirStrides() {
        Problem pr = Problem.random(10, 6, 8, 5, 3, 14, new int[] {0, 1, 2}, true);
        // x given as the transpose of a [din, n] tensor, gate as every other element of a longer tensor.
        Tensor x = pr.xTensor(DType.FLOAT32).mT().contiguous().mT();
        double[] spread = new double[2 * pr.pairs()];
        for (int p = 0; p < pr.pairs(); p++) {
            spread[2 * p] = pr.gate[p];
            spread[2 * p + 1] = 99;
        }
        Tensor gate = Tensor.of(spread, pr.pairs(), 2).to(DType.FLOAT32).select(1, 0);
        assertThat(x.isContiguous()).isFalse();
        assertThat(gate.isContiguous()).isFalse();
        Tensor out = FusedOps.groupedMatmul(x, pr.weightTensor(DType.FLOAT32), indexTensor(pr.row, DType.INT32),
                indexTensor(pr.expert, DType.INT32), gate);
        assertClose("out", out, pr.referenceOut(), 1e-4);
    }

    @Test
    void outOfRangeIndicesNameTheOpAndTheIndex() {
        Tensor x = Tensor.zeros(3, 4);
        Tensor w = Tensor.zeros(2, 4, 5);
        Tensor ok = Tensor.of(new int[] {0, 1}, 2);
        assertThatThrownBy(() -> FusedOps.groupedMatmul(x, w, ok, Tensor.of(new int[] {1, 2}, 2), null))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("groupedMatmul")
                .hasMessageContaining("expert[1] = 2")
                .hasMessageContaining("2 experts");
        assertThatThrownBy(() -> FusedOps.groupedMatmul(x, w, Tensor.of(new int[] {-1, 0}, 2), ok, null))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("groupedMatmul")
                .hasMessageContaining("row[0] = -1");
        assertThatThrownBy(() -> FusedOps.groupedMatmulBackward(Tensor.zeros(2, 5), x, w, Tensor.of(new int[] {0, 3}, 2),
                ok, null))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("groupedMatmulBackward")
                .hasMessageContaining("3 rows");
    }

    @Test
    void gradientOfAnotherDtypeIsRejectedAtTheBoundary() {
        Tensor x = Tensor.zeros(3, 4);
        Tensor w = Tensor.zeros(2, 4, 5);
        Tensor idx = Tensor.of(new int[] {0, 1}, 2);
        assertThatThrownBy(() -> FusedOps.groupedMatmulBackward(Tensor.zeros(DType.FLOAT64, 2, 5), x, w, idx, idx,
                null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("groupedMatmulBackward")
                .hasMessageContaining(DType.FLOAT64.toString());
    }
}
