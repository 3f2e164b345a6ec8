package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The plain references the GPU attention and grouped matmul are checked against are themselves checked
 * here, on the CPU: forwards against compositions of ordinary tensor ops, backwards against central
 * differences in float64.
 */
class ReferencesTest {
    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), DType.FLOAT64, Device.CPU, shape);
    }

    /** Attention composed from matmul, a mask and softmax; rel added as q . rel[h, j - i + Tq - 1]. */
    private static Tensor composedAttention(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        int tq = q.size(2);
        int tk = k.size(2);
        Tensor scores = q.matmul(k.mT());
        if (rel != null) {
            double[] extra = new double[q.size(0) * q.size(1) * tq * tk];
            for (int b = 0; b < q.size(0); b++) {
                for (int h = 0; h < q.size(1); h++) {
                    for (int i = 0; i < tq; i++) {
                        for (int j = 0; j <= i + tk - tq && j < tk; j++) {
                            Tensor qi = q.select(0, b).select(0, h).select(0, i);
                            Tensor rr = rel.select(0, h).select(0, j - i + tq - 1);
                            extra[((b * q.size(1) + h) * tq + i) * tk + j] = qi.mul(rr).sum().item();
                        }
                    }
                }
            }
            scores = scores.add(Tensor.of(extra, q.size(0), q.size(1), tq, tk));
        }
        scores = scores.mul(scale);
        if (causal) {
            // masked where j - i > tk - tq
            Tensor mask = Tensor.ones(DType.FLOAT64, Device.CPU, tq, tk).triu(tk - tq + 1).gt(0);
            scores = scores.maskedFill(mask, Double.NEGATIVE_INFINITY);
        }
        return scores.softmax(-1).matmul(v);
    }

    @Test
    void attentionReferenceMatchesTheComposition() {
        for (boolean causal : new boolean[] {false, true}) {
            Tensor q = randn(1, 2, 2, 4, 3);
            Tensor k = randn(2, 2, 2, 6, 3);
            Tensor v = randn(3, 2, 2, 6, 5);
            Tensor rel = causal ? randn(4, 2, 6, 3) : null;
            Tensor[] r = References.attention(q, k, v, rel, 0.7, causal);
            assertThat(r[0].allClose(composedAttention(q, k, v, rel, 0.7, causal), 1e-12, 1e-12)).as("causal %s", causal)
                    .isTrue();
        }
    }

    /** d sum(f(x) * g) / dx by central differences, x float64. */
    private static double[] numericGradient(Tensor x, Function<Tensor, Tensor> f, Tensor g) {
        double[] base = x.toDoubleArray();
        double[] grad = new double[base.length];
        double h = 1e-6;
        for (int i = 0; i < base.length; i++) {
            double[] plus = base.clone();
            double[] minus = base.clone();
            plus[i] += h;
            minus[i] -= h;
            double fp = f.apply(Tensor.of(plus, x.shape())).mul(g).sum().item();
            double fm = f.apply(Tensor.of(minus, x.shape())).mul(g).sum().item();
            grad[i] = (fp - fm) / (2 * h);
        }
        return grad;
    }

    private static void assertGradient(String what, Tensor analytic, double[] numeric) {
        double[] a = analytic.toDoubleArray();
        assertThat(a).hasSize(numeric.length);
        for (int i = 0; i < a.length; i++) {
            assertThat(a[i]).as("%s element %d", what, i).isCloseTo(numeric[i], org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void attentionBackwardReferenceMatchesCentralDifferences() {
        Tensor q = randn(11, 1, 2, 3, 4);
        Tensor k = randn(12, 1, 2, 5, 4);
        Tensor v = randn(13, 1, 2, 5, 2);
        Tensor rel = randn(14, 2, 5, 4);
        Tensor g = randn(15, 1, 2, 3, 2);
        double scale = 0.5;
        Tensor[] grads = References.attentionBackward(g, q, k, v, rel, scale, true);
        assertGradient("dq", grads[0], numericGradient(q, x -> References.attention(x, k, v, rel, scale, true)[0], g));
        assertGradient("dk", grads[1], numericGradient(k, x -> References.attention(q, x, v, rel, scale, true)[0], g));
        assertGradient("dv", grads[2], numericGradient(v, x -> References.attention(q, k, x, rel, scale, true)[0], g));
        assertGradient("drel", grads[3], numericGradient(rel, x -> References.attention(q, k, v, x, scale, true)[0], g));
    }

    @Test
    void groupedMatmulReferenceMatchesPerPairMatmulsAndCentralDifferences() {
        Tensor x = randn(21, 4, 3);
        Tensor w = randn(22, 3, 3, 2);
        Tensor row = Tensor.of(new long[] {0, 3, 3, 1, 2});
        Tensor expert = Tensor.of(new long[] {2, 0, 1, 1, 2});
        Tensor gate = randn(23, 5);
        Tensor out = References.groupedMatmul(x, w, row, expert, gate);
        for (int p = 0; p < 5; p++) {
            Tensor expected = x.select(0, (int) row.get(p)).matmul(w.select(0, (int) expert.get(p))).mul(gate.get(p));
            assertThat(out.select(0, p).allClose(expected, 1e-12, 1e-12)).as("pair %d", p).isTrue();
        }
        Tensor g = randn(24, 5, 2);
        Tensor[] grads = References.groupedMatmulBackward(g, x, w, row, expert, gate);
        assertGradient("dx", grads[0], numericGradient(x, t -> References.groupedMatmul(t, w, row, expert, gate), g));
        assertGradient("dweight", grads[1], numericGradient(w, t -> References.groupedMatmul(x, t, row, expert, gate), g));
        assertGradient("dgate", grads[2], numericGradient(gate, t -> References.groupedMatmul(x, w, row, expert, t), g));
    }
}
