package dev.ladon.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.moe.accounting.ParameterCount;
import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MoeLanguageModelTest {
    private static final int VOCAB = 11;

    /** A catalogue configuration shrunk to test size (2 layers, d = 16). */
    private static ModelConfig tiny(String name) {
        ModelConfig c = ModelConfig.named(name);
        ModelConfig.Builder b = c.toBuilder().layers(2).dModel(16).dHead(8).vocabSize(VOCAB).context(4).dropout(0);
        if (c.variant().expertFeedForward()) {
            b.sigmaMoe(4, 8, 2);
        } else {
            b.dFF(24);
        }
        return b.build();
    }

    private static Tensor ids(long seed, int b, int t) {
        long[] v = new long[b * t];
        java.util.Random r = new java.util.Random(seed);
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(VOCAB);
        }
        return Tensor.of(v, b, t);
    }

    @Test
    void everyVariantRunsForwardAndBackwardWithExpectedParameterCount() {
        for (String name : List.of("switchhead-small", "moa-small", "switchall-small", "switchhead-47m-v",
                "switchhead-47m-qo", "switchhead-47m-vok", "switchhead-47m-qkvo")) {
            ModelConfig config = tiny(name);
            MoeLanguageModel model = LanguageModels.build(config, new Generator(1));
            assertThat(model.parameterCount()).as(name + " parameters").isEqualTo(ParameterCount.of(config).total());
            Tensor in = ids(2, 2, 4);
            Variable logits = model.forward(in);
            assertThat(logits.shape()).containsExactly(2, 4, VOCAB);
            Variable loss = Functional.crossEntropy(logits.reshape(8, VOCAB), ids(3, 2, 4).reshape(8), -100, 0)
                    .add(model.auxLoss());
            loss.backward();
            for (Map.Entry<String, Parameter> p : model.namedParameters().entrySet()) {
                assertThat(p.getValue().grad()).as(name + " gradient of " + p.getKey()).isNotNull();
            }
        }
    }

    @Test
    void auxLossCollectsMoaAndSigmaMoeRegularisers() {
        MoeLanguageModel moa = LanguageModels.build(tiny("moa-small"), new Generator(4));
        moa.forward(ids(5, 1, 4));
        assertThat(moa.auxLoss().item()).as("MoA switch + z loss").isGreaterThan(0);
        MoeLanguageModel switchHead = LanguageModels.build(tiny("switchhead-small"), new Generator(4));
        switchHead.forward(ids(5, 1, 4));
        assertThat(switchHead.auxLoss().item()).as("SwitchHead has no regulariser").isEqualTo(0.0);
    }

    @Test
    void secondSegmentAttendsToTheMemoryOfTheFirst() {
        MoeLanguageModel model = LanguageModels.build(tiny("switchhead-small"), new Generator(6));
        model.to(DType.FLOAT64);
        model.eval();
        assertThat(model.usesMemory()).isTrue();
        Tensor first = ids(7, 1, 4);
        Tensor second = ids(8, 1, 4);
        var out1 = model.forward(first, null);
        var out2 = model.forward(second, out1.memory());
        // The same second segment after a different first segment: only the memory differs.
        var other = model.forward(ids(9, 1, 4), null);
        var out2b = model.forward(second, other.memory());
        double diff = SwitchHeadAttentionTest.maxAbsDiff(out2.logits().data(), out2b.logits().data());
        assertThat(diff).as("second block sees the memory").isGreaterThan(1e-9);
    }

    @Test
    void usageStatisticsCountEverySelection() {
        MoeLanguageModel model = LanguageModels.build(tiny("switchall-small"), new Generator(10));
        Map<String, ExpertUsage> usage = model.trackUsage();
        model.forward(ids(11, 2, 4));
        ModelConfig c = model.config();
        assertThat(usage).containsKeys("layer 0 attention", "layer 0 feedForward", "layer 1 attention");
        long[][] dest = usage.get("layer 0 attention").counts("destination");
        for (long[] head : dest) {
            assertThat(java.util.Arrays.stream(head).sum()).isEqualTo(2L * 4 * c.activeExperts());
        }
        long[][] ff = usage.get("layer 1 feedForward").counts("feedForward");
        assertThat(java.util.Arrays.stream(ff[0]).sum()).isEqualTo(2L * 4 * 2);
        long[][][] co = usage.get("layer 0 attention").coSelection("destination");
        int k = c.activeExperts();
        for (long[][] head : co) {
            long pairs = 0;
            for (int e1 = 0; e1 < head.length; e1++) {
                assertThat(head[e1][e1]).as("an expert is never co-selected with itself").isZero();
                for (int e2 = 0; e2 < head.length; e2++) {
                    assertThat(head[e1][e2]).as("co-selection is symmetric").isEqualTo(head[e2][e1]);
                    pairs += head[e1][e2];
                }
            }
            assertThat(pairs).as("ordered pairs of distinct choices per token").isEqualTo(2L * 4 * k * (k - 1));
        }
        double entropy = usage.get("layer 0 attention").entropy("source", 0);
        assertThat(entropy).isBetween(0.0, Math.log(c.experts()) + 1e-12);
    }

    @Test
    void usageTrackingPausesAndResumesIntoTheSameTrackers() {
        MoeLanguageModel model = LanguageModels.build(tiny("moa-small"), new Generator(12));
        Map<String, ExpertUsage> usage = model.trackUsage();
        model.forward(ids(13, 2, 4));
        model.stopTrackingUsage();
        model.forward(ids(14, 3, 4)); // not counted
        assertThat(model.trackUsage(usage)).isSameAs(usage);
        model.forward(ids(15, 1, 4));
        int k = model.config().activeExperts();
        for (int layer = 0; layer < 2; layer++) {
            long[] router = usage.get("layer " + layer + " attention").counts("router")[0];
            assertThat(java.util.Arrays.stream(router).sum()).as("layer %d", layer).isEqualTo((2L + 1) * 4 * k);
        }
        assertThat(usage).hasSize(2);
    }

    @Test
    void usageAddedFromElsewhereSumsWithRecordedCounts() {
        ExpertUsage a = new ExpertUsage();
        a.add("s", new long[][] {{1, 2, 3}}, new long[][][] {{{0, 1, 0}, {1, 0, 2}, {0, 2, 0}}});
        a.add("s", new long[][] {{4, 0, 1}}, new long[][][] {{{0, 0, 1}, {0, 0, 0}, {1, 0, 0}}});
        assertThat(a.counts("s")[0]).containsExactly(5, 2, 4);
        assertThat(a.coSelection("s")[0][0]).containsExactly(0, 1, 1);
        assertThat(a.coSelection("s")[0][2]).containsExactly(1, 2, 0);
        assertThatThrownBy(() -> a.add("s", new long[][] {{1, 2}}, new long[][][] {{{0, 1}, {1, 0}}}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E=3");
        assertThatThrownBy(() -> a.add("t", new long[][] {{1, 2}}, new long[][][] {{{0, 1}}}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ExpertUsage.add");
    }

    @Test
    void switchHeadLayersMakeTheConfiguredProjectionsExperts() {
        ModelConfig qkvo = tiny("switchhead-small").toBuilder()
                .moeProjections(ModelConfig.Projection.parseSet("qkvo")).build();
        MoeLanguageModel model = LanguageModels.build(qkvo, new Generator(1));
        assertThat(model.parameterCount()).isEqualTo(ParameterCount.of(qkvo).total());
        assertThat(model.toString()).contains("experts in [Q, K, V, O]");
    }
}
