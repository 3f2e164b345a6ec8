package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class TransformerTest {
    private static TransformerConfig config(TransformerConfig.Positions positions, boolean tied) {
        return new TransformerConfig(11, 8, 2, 4, 2, 12, 0.1, positions, 0.5, FeedForward.Activation.RELU, tied);
    }

    private static TransformerLM model(TransformerConfig.Positions positions, long seed) {
        TransformerLM lm = new TransformerLM(config(positions, false), new Generator(seed));
        lm.to(DType.FLOAT64);
        lm.eval();
        return lm;
    }

    private static Tensor ids(long seed, int b, int t) {
        return Tensor.randint(0, 11, new Generator(seed), Device.CPU, b, t);
    }

    private static void assertClose(Tensor a, Tensor b, double tol) {
        assertThat(a.shape()).isEqualTo(b.shape());
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            assertThat(x[i]).as("element %d", i).isCloseTo(y[i], Offset.offset(tol));
        }
    }

    @Test
    void laterTokensDoNotChangeEarlierLogits() {
        for (TransformerConfig.Positions positions : TransformerConfig.Positions.values()) {
            TransformerLM lm = model(positions, 1);
            long[] a = ids(2, 1, 6).toLongArray();
            long[] b = a.clone();
            b[4] = (b[4] + 1) % 11;
            b[5] = (b[5] + 3) % 11;
            Tensor la = lm.forward(Tensor.of(a, 1, 6)).data();
            Tensor lb = lm.forward(Tensor.of(b, 1, 6)).data();
            assertClose(la.narrow(1, 0, 4), lb.narrow(1, 0, 4), 1e-12);
            assertThat(la.narrow(1, 4, 2).allClose(lb.narrow(1, 4, 2), 0, 1e-6)).as(positions.name()).isFalse();
        }
    }

    @Test
    void aSegmentWithMemoryEqualsTheSecondHalfOfOneLongPass() {
        // The memory of layer l is that layer's input over the previous segment; with it, segment 2 sees
        // exactly what positions T..2T-1 see in a single causal pass over both segments.
        for (TransformerConfig.Positions positions : TransformerConfig.Positions.values()) {
            TransformerLM lm = model(positions, 3);
            Tensor all = ids(4, 2, 8);
            TransformerLM.Output first = lm.forward(all.narrow(1, 0, 4).contiguous(), null);
            TransformerLM.Output second = lm.forward(all.narrow(1, 4, 4).contiguous(), first.memory());
            Tensor full = lm.forward(all).data();
            assertClose(first.logits().data(), full.narrow(1, 0, 4), 1e-11);
            assertClose(second.logits().data(), full.narrow(1, 4, 4), 1e-11);
        }
    }

    @Test
    void memoryIsEachBlocksInputWithoutGradient() {
        TransformerLM lm = model(TransformerConfig.Positions.XL_RELATIVE, 5);
        Tensor x = ids(6, 2, 4);
        TransformerLM.Output out = lm.forward(x, null);
        assertThat(out.memory()).hasSize(2);
        // In eval mode the first block's input is the embedding itself.
        assertClose(out.memory().get(0), lm.embedding().forward(x).data(), 0);
        assertThat(out.memory().get(1).shape()).containsExactly(2, 4, 8);
        TransformerLM.Output next = lm.forward(x, out.memory());
        next.logits().sum().backward();
        assertThat(lm.embedding().weight().grad()).isNotNull();
    }

    @Test
    void tiedEmbeddingsReuseTheTokenMatrixForLogits() {
        TransformerLM tied = new TransformerLM(config(TransformerConfig.Positions.ROPE, true), new Generator(7));
        TransformerLM untied = new TransformerLM(config(TransformerConfig.Positions.ROPE, false), new Generator(7));
        assertThat(untied.parameterCount() - tied.parameterCount()).isEqualTo(8 * 11 + 11);
        assertThat(tied.namedParameters()).doesNotContainKey("output.weight");
        Variable logits = tied.forward(ids(8, 1, 3));
        assertThat(logits.shape()).containsExactly(1, 3, 11);
        new CrossEntropyLoss().forward(logits, ids(9, 1, 3)).backward();
        assertThat(tied.embedding().weight().grad().abs().sum().item()).isPositive();
    }

    @Test
    void parameterCountFollowsTheLayerShapes() {
        int v = 11;
        int d = 8;
        int h = 2;
        int dh = 4;
        int ff = 12;
        long attentionXl = 5L * d * h * dh + 2L * h * dh + 1; // q, k, v, o, W_P; u, v; scale
        long attentionRope = 4L * d * h * dh;
        long feedForward = (long) d * ff + ff + (long) ff * d + d;
        long norms = 2 * 2L * d;
        long outer = (long) v * d + 2L * d + (long) d * v + v; // embedding, final norm, output layer
        assertThat(new TransformerLM(config(TransformerConfig.Positions.XL_RELATIVE, false)).parameterCount())
                .isEqualTo(outer + 2 * (attentionXl + feedForward + norms));
        assertThat(new TransformerLM(config(TransformerConfig.Positions.ROPE, false)).parameterCount())
                .isEqualTo(outer + 2 * (attentionRope + feedForward + norms));
    }

    @Test
    void denseInitFollowsSpecSection5() {
        TransformerConfig c = new TransformerConfig(500, 64, 4, 16, 8, 256, 0, TransformerConfig.Positions.XL_RELATIVE,
                0, FeedForward.Activation.RELU, false);
        TransformerLM lm = new TransformerLM(c, new Generator(10));
        var p = lm.namedParameters();
        double scale = Math.sqrt(2.0 / 8);
        assertThat(std(p.get("blocks.0.attention.wq.weight"))).isCloseTo(scale / 8, Offset.offset(0.1 * scale / 8));
        assertThat(std(p.get("blocks.3.attention.wo.weight"))).isCloseTo(scale / 8, Offset.offset(0.1 * scale / 8));
        assertThat(std(p.get("blocks.1.feedForward.down.weight"))).isCloseTo(scale / 16, Offset.offset(0.1 * scale / 16));
        assertThat(std(p.get("embedding.weight"))).isCloseTo(1 / 8.0, Offset.offset(0.01));
        assertThat(p.get("blocks.0.feedForward.up.bias").data().abs().sum().item()).isZero();
        assertThat(p.get("blocks.2.attention.scale").data().item()).isCloseTo(0.25, Offset.offset(1e-7));
    }

    private static double std(Parameter p) {
        return Math.sqrt(p.data().square().mean().item());
    }

    @Test
    void dropoutIsActiveInTrainingAndOffInEval() {
        TransformerLM lm = new TransformerLM(config(TransformerConfig.Positions.XL_RELATIVE, false), new Generator(11));
        Tensor x = ids(12, 1, 5);
        Tensor a = lm.forward(x).data();
        Tensor b = lm.forward(x).data();
        assertThat(a.allClose(b, 0, 1e-6)).isFalse();
        lm.eval();
        assertThat(lm.forward(x).data().allClose(lm.forward(x).data(), 0, 0)).isTrue();
    }

    @Test
    void blocksAcceptAnyAttentionAndFeedForwardLayer() {
        // A custom feed-forward layer plugged into a block, as mixture-of-experts layers are.
        final class Doubling extends Module implements FeedForwardLayer {
            @Override
            public Variable forward(Variable x) {
                return x.mul(2.0);
            }
        }
        TransformerBlock block = new TransformerBlock(4, new MultiHeadAttention(4, 1, 4, 0), new Doubling(), 0);
        TransformerLM lm = new TransformerLM(config(TransformerConfig.Positions.ROPE, false),
                layer -> new TransformerBlock(8, new MultiHeadAttention(8, 2, 4, 0.5), new Doubling(), 0),
                new Generator(1));
        assertThat(block.namedParameters()).containsKey("attention.wq.weight");
        assertThat(lm.forward(ids(1, 1, 3)).shape()).containsExactly(1, 3, 11);
        assertThat(lm.namedParameters().keySet()).noneMatch(n -> n.contains("feedForward"));
    }
}
