package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The attention op and layers against references built here from plain ops and loops, in float64. */
class AttentionTest {
    private static Tensor randn(Generator gen, int... shape) {
        return Tensor.randn(gen, DType.FLOAT64, Device.CPU, shape);
    }

    private static void assertClose(Tensor actual, Tensor expected, double tol) {
        assertThat(actual.shape()).isEqualTo(expected.shape());
        double[] a = actual.toDoubleArray();
        double[] e = expected.toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            assertThat(a[i]).as("element %d", i).isCloseTo(e[i], Offset.offset(tol));
        }
    }

    /** softmax(scale (q k^T + q rel_shifted^T) + causal mask) v from matmul, indexSelect and softmax. */
    private static Variable composedAttention(Variable q, Variable k, Variable v, Variable rel, double scale) {
        int tq = q.size(2);
        int tk = k.size(2);
        Variable scores = q.matmul(k.mT());
        if (rel != null) {
            // rel row j - i + Tq - 1 for every (i, j); rows of masked pairs are clamped (they are masked anyway).
            long[] rows = new long[tq * tk];
            for (int i = 0; i < tq; i++) {
                for (int j = 0; j < tk; j++) {
                    rows[i * tk + j] = Math.min(tk - 1, j - i + tq - 1);
                }
            }
            Variable shifted = rel.indexSelect(1, Tensor.of(rows, tq * tk)).view(rel.size(0), tq, tk, rel.size(2));
            scores = scores.add(q.unsqueeze(3).mul(shifted.unsqueeze(0)).sum(new int[] {4}, false));
        }
        boolean[] masked = new boolean[tq * tk];
        for (int i = 0; i < tq; i++) {
            for (int j = 0; j < tk; j++) {
                masked[i * tk + j] = j > i + tk - tq;
            }
        }
        return scores.mul(scale).maskedFill(Tensor.of(masked, tq, tk), Double.NEGATIVE_INFINITY).softmax(-1).matmul(v);
    }

    @Test
    void attentionFunctionMatchesTheComposedOpsForwardAndBackward() {
        Generator gen = new Generator(1);
        Tensor q = randn(gen, 2, 3, 4, 5);
        Tensor k = randn(gen, 2, 1, 7, 5);
        Tensor v = randn(gen, 2, 1, 7, 6);
        Tensor rel = randn(gen, 3, 7, 5);
        Tensor w = randn(gen, 2, 3, 4, 6);
        Variable[] fused = {Variable.parameter(q), Variable.parameter(k), Variable.parameter(v), Variable.parameter(rel)};
        Variable[] plain = {Variable.parameter(q.copy()), Variable.parameter(k.copy()), Variable.parameter(v.copy()),
                Variable.parameter(rel.copy())};
        // K and V are shared by the 3 heads through expand; their gradients must sum over heads.
        Variable a = AttentionFunction.attention(fused[0], fused[1].expand(2, 3, 7, 5), fused[2].expand(2, 3, 7, 6),
                fused[3], 0.4, true);
        Variable b = composedAttention(plain[0], plain[1].expand(2, 3, 7, 5), plain[2].expand(2, 3, 7, 6), plain[3], 0.4);
        assertClose(a.data(), b.data(), 1e-12);
        a.mul(Variable.constant(w)).sum().backward();
        b.mul(Variable.constant(w)).sum().backward();
        for (int i = 0; i < 4; i++) {
            assertClose(fused[i].grad(), plain[i].grad(), 1e-11);
        }
    }

    @Test
    void attentionRefusesANonFiniteScale() {
        Variable x = Variable.constant(Tensor.ones(1, 1, 2, 4));
        Variable qkv = Variable.constant(Tensor.ones(1, 2, 12));
        for (double scale : new double[] {Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> AttentionFunction.attention(x, x, x, null, scale, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("AttentionFunction.attention: scale must be finite, got " + scale);
            assertThatThrownBy(() -> AttentionFunction.packed(qkv, 1, 4, null, scale, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("AttentionFunction.packed: scale must be finite, got " + scale);
        }
    }

    @Test
    void rotaryEmbeddingRotatesChannelPairsHalfApart() {
        Generator gen = new Generator(2);
        int dh = 10;
        RotaryEmbedding rope = new RotaryEmbedding(dh, 0.5, 10000);
        assertThat(rope.rotatedChannels()).isEqualTo(4);
        Tensor x = randn(gen, 1, 2, 3, dh);
        double[] xs = x.toDoubleArray();
        double[] out = rope.apply(Variable.constant(x), 5).data().toDoubleArray();
        for (int h = 0; h < 2; h++) {
            for (int t = 0; t < 3; t++) {
                int base = (h * 3 + t) * dh;
                for (int c = 0; c < 2; c++) {
                    double angle = (5 + t) * Math.pow(10000, -2.0 * c / 4);
                    double x1 = xs[base + c];
                    double x2 = xs[base + c + 2];
                    assertThat(out[base + c]).isCloseTo(x1 * Math.cos(angle) - x2 * Math.sin(angle), Offset.offset(1e-12));
                    assertThat(out[base + c + 2]).isCloseTo(x2 * Math.cos(angle) + x1 * Math.sin(angle),
                            Offset.offset(1e-12));
                }
                for (int c = 4; c < dh; c++) {
                    assertThat(out[base + c]).isEqualTo(xs[base + c]);
                }
            }
        }
    }

    @Test
    void rotaryScoresDependOnlyOnTheDistance() {
        Generator gen = new Generator(3);
        RotaryEmbedding rope = new RotaryEmbedding(8, 1.0, 10000);
        Variable q = Variable.constant(randn(gen, 1, 1, 1, 8));
        Variable k = Variable.constant(randn(gen, 1, 1, 1, 8));
        double near = rope.apply(q, 7).mul(rope.apply(k, 4)).sum().item();
        double shifted = rope.apply(q, 107).mul(rope.apply(k, 104)).sum().item();
        double other = rope.apply(q, 7).mul(rope.apply(k, 5)).sum().item();
        assertThat(shifted).isCloseTo(near, Offset.offset(1e-10));
        assertThat(other).isNotCloseTo(near, Offset.offset(1e-6));
    }

    @Test
    void rotaryEmbeddingRefusesABadHeadDimBaseOrOffset() {
        assertThatThrownBy(() -> new RotaryEmbedding(-4, 1.0, 10000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("RotaryEmbedding: headDim must be >= 1, got -4");
        for (double base : new double[] {-1, 0, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> new RotaryEmbedding(4, 1.0, base)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("RotaryEmbedding: base must be finite and > 0, got " + base);
        }
        RotaryEmbedding rope = new RotaryEmbedding(4, 1.0, 10000);
        Variable x = Variable.constant(Tensor.ones(1, 1, 2, 4));
        assertThatThrownBy(() -> rope.apply(x, -3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("RotaryEmbedding.apply: offset must be >= 0, got -3");
    }

    @Test
    void multiHeadAttentionRefusesARopeFractionOutsideZeroToOne() {
        for (double fraction : new double[] {-0.5, Double.NaN, 2.0}) {
            assertThatThrownBy(() -> new MultiHeadAttention(8, 2, 4, fraction))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("MultiHeadAttention: ropeFraction must be in [0, 1] (0 for no RoPE), got " + fraction);
        }
        assertThat(new MultiHeadAttention(8, 2, 4, 0).toString()).doesNotContain("rope");
        assertThat(new MultiHeadAttention(8, 2, 4, 1).toString()).contains("rope=4/4");
    }

    @Test
    void sinusoidalRowsRunFromTheFarthestDistanceToZero() {
        Tensor pe = SinusoidalEncoding.relative(5, 6, DType.FLOAT64, Device.CPU);
        assertThat(pe.select(0, 4).toDoubleArray()).containsExactly(0, 1, 0, 1, 0, 1);
        // Row 0 is distance -4: channel 2m is sin(-4 w_m), 2m + 1 is cos(-4 w_m), w_m = 10000^(-2m/6).
        double w1 = Math.pow(10000, -2.0 / 6);
        assertThat(pe.get(0, 2)).isCloseTo(Math.sin(-4 * w1), Offset.offset(1e-15));
        assertThat(pe.get(0, 3)).isCloseTo(Math.cos(-4 * w1), Offset.offset(1e-15));
        assertThat(pe.get(0, 0)).isCloseTo(Math.sin(-4), Offset.offset(1e-15));
    }

    @Test
    void multiHeadAttentionWithRopeAndMemoryMatchesAComposedReference() {
        Generator gen = new Generator(4);
        MultiHeadAttention mha = new MultiHeadAttention(6, 2, 4, 0.5);
        mha.to(DType.FLOAT64);
        Tensor x = randn(gen, 2, 3, 6);
        Tensor memory = randn(gen, 2, 2, 6);
        Tensor source = Tensor.cat(1, memory, x);
        var p = mha.namedParameters();
        RotaryEmbedding rope = new RotaryEmbedding(4, 0.5, 10000);
        Variable q = heads(x.matmul(p.get("wq.weight").data().mT()), 2);
        Variable k = heads(source.matmul(p.get("wk.weight").data().mT()), 2);
        Variable v = heads(source.matmul(p.get("wv.weight").data().mT()), 2);
        Variable o = composedAttention(rope.apply(q, 2), rope.apply(k, 0), v, null, 0.5);
        Tensor merged = o.data().permute(0, 2, 1, 3).reshape(2, 3, 8);
        Tensor expected = merged.matmul(p.get("wo.weight").data().mT());
        assertClose(mha.forward(Variable.constant(x), Variable.constant(source)).data(), expected, 1e-12);
    }

    @Test
    void selfAttentionOnOneFusedProjectionEqualsTheThreeSeparateProjections() {
        // forward(x, x) takes Q, K and V from one product and attends to its views; forward(x, y) with y a
        // different variable holding the same values takes the three products. The output is the same floats
        // (each element is the same sum); x's gradient sums the three paths in another order.
        Generator gen = new Generator(8);
        MultiHeadAttention mha = new MultiHeadAttention(64, 4, 16, 0.5);
        Tensor xs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 40, 64);
        Tensor upstream = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 40, 64);
        Variable x = Variable.parameter(xs);
        Variable fused = mha.forward(x, x);
        fused.mul(Variable.constant(upstream)).sum().backward();
        var p = mha.namedParameters();
        Tensor wqGrad = p.get("wq.weight").grad();
        Tensor wvGrad = p.get("wv.weight").grad();
        mha.zeroGrad();
        Variable x2 = Variable.parameter(xs);
        Variable separate = mha.forward(x2, x2.view(2, 40, 64));
        separate.mul(Variable.constant(upstream)).sum().backward();
        assertThat(fused.data().toFloatArray()).containsExactly(separate.data().toFloatArray());
        assertThat(x.grad().allClose(x2.grad(), 1e-5, 1e-5)).isTrue();
        assertThat(wqGrad.allClose(p.get("wq.weight").grad(), 1e-5, 1e-5)).isTrue();
        assertThat(wvGrad.allClose(p.get("wv.weight").grad(), 1e-5, 1e-5)).isTrue();
    }

    private static Variable heads(Tensor projected, int heads) {
        int b = projected.size(0);
        int t = projected.size(1);
        return Variable.constant(projected.view(b, t, heads, projected.size(2) / heads).permute(0, 2, 1, 3).contiguous());
    }

    @Test
    void relativeAttentionMatchesTheTransformerXlFormulaWrittenAsLoops() {
        Generator gen = new Generator(5);
        int d = 6;
        int heads = 2;
        int dh = 3;
        int t = 3;
        int tm = 2;
        int tk = t + tm;
        RelativeMultiHeadAttention attn = new RelativeMultiHeadAttention(d, heads, dh);
        attn.to(DType.FLOAT64);
        attn.resetParameters(1.0, gen);
        var p = attn.namedParameters();
        Init.normal(p.get("contentBias"), 0.5, gen);
        Init.normal(p.get("positionBias"), 0.5, gen);
        Init.constant(p.get("scale"), 0.37);
        Tensor x = randn(gen, 1, t, d);
        Tensor source = Tensor.cat(1, randn(gen, 1, tm, d), x);
        double[] q = x.matmul(p.get("wq.weight").data().mT()).toDoubleArray();       // [t, H*dh]
        double[] k = source.matmul(p.get("wk.weight").data().mT()).toDoubleArray();  // [tk, H*dh]
        double[] v = source.matmul(p.get("wv.weight").data().mT()).toDoubleArray();
        double[] wp = p.get("wp.weight").data().toDoubleArray();                     // [H*dh, d]
        double[] u = p.get("contentBias").data().toDoubleArray();
        double[] vb = p.get("positionBias").data().toDoubleArray();
        double[] merged = new double[t * heads * dh];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < t; i++) {
                int queryPos = tm + i;
                double[] a = new double[tk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= queryPos; j++) {
                    int delta = j - queryPos;
                    double s = 0;
                    for (int c = 0; c < dh; c++) {
                        int hc = h * dh + c;
                        // R[Delta] for this head and channel: PE(Delta) . W_P row hc.
                        double r = 0;
                        for (int e = 0; e < d; e++) {
                            double angle = delta * Math.pow(10000, -2.0 * (e / 2) / d);
                            r += (e % 2 == 0 ? Math.sin(angle) : Math.cos(angle)) * wp[hc * d + e];
                        }
                        s += (q[i * heads * dh + hc] + u[hc]) * k[j * heads * dh + hc]
                                + (q[i * heads * dh + hc] + vb[hc]) * r;
                    }
                    a[j] = 0.37 * s;
                    max = Math.max(max, a[j]);
                }
                double sum = 0;
                for (int j = 0; j <= queryPos; j++) {
                    a[j] = Math.exp(a[j] - max);
                    sum += a[j];
                }
                for (int c = 0; c < dh; c++) {
                    double o = 0;
                    for (int j = 0; j <= queryPos; j++) {
                        o += a[j] / sum * v[j * heads * dh + h * dh + c];
                    }
                    merged[i * heads * dh + h * dh + c] = o;
                }
            }
        }
        Tensor expected = Tensor.of(merged, 1, t, heads * dh).matmul(p.get("wo.weight").data().mT());
        Variable y = attn.forward(Variable.constant(x), Variable.constant(source));
        assertClose(y.data(), expected, 1e-12);
    }

    @Test
    void relativeAttentionBiasesAndScaleReceiveGradients() {
        RelativeMultiHeadAttention attn = new RelativeMultiHeadAttention(4, 2, 2);
        Variable x = Variable.constant(Tensor.randn(new Generator(6), DType.FLOAT32, Device.CPU, 2, 3, 4));
        attn.forward(x, x).square().sum().backward();
        for (String name : List.of("contentBias", "positionBias", "scale", "wp.weight")) {
            assertThat(attn.namedParameters().get(name).grad().abs().sum().item()).as(name).isPositive();
        }
    }
}
