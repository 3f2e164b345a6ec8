package dev.ladon.moe.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.ModelConfig.PositionEncoding;
import dev.ladon.moe.ModelConfig.Projection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The attention MACs and memory of the paper configurations, against the integers and the displayed values
 * listed in the spec (switchhead.md section 7, paper-results.md sections 1 to 5).
 */
class AttentionCostTest {

    private static AttentionCost cost(String name) {
        return AttentionCost.of(ModelConfig.named(name));
    }

    @Test
    void transformerXl47mMatchesTheExactTestVector() {
        AttentionCost c = cost("xl-47m");
        assertThat(c.macs()).isEqualTo(453_427_200L);
        assertThat(c.memory()).isEqualTo(3_461_120L);
    }

    @Test
    void switchHead47mMatchesTheExactTestVector() {
        AttentionCost c = cost("switchhead-47m");
        assertThat(c.macs()).isEqualTo(170_364_928L);
        assertThat(c.memory()).isEqualTo(762_880L);
    }

    @Test
    void the262mModelsMatchTheExactTestVectors() {
        assertThat(cost("xl-262m").macs()).isEqualTo(5_368_709_120L);
        assertThat(cost("xl-262m").memory()).isEqualTo(20_971_520L);
        assertThat(cost("switchhead-262m").macs()).isEqualTo(1_955_627_008L);
        assertThat(cost("switchhead-262m").memory()).isEqualTo(2_924_544L);
    }

    @ParameterizedTest(name = "{0}: {1} MACs, {2} floats")
    @CsvSource({
        // SwitchHead Table 1 (MoA rows: d_h=88, E=10)
        "moa-47m-k8, 390.2M, 2.6M",
        "moa-47m-k6, 306.8M, 1.9M",
        "moa-47m-k4, 223.5M, 1.3M",
        "moa-47m-k2, 140.1M, 0.7M",
        "switchhead-47m, 170.4M, 0.8M",
        "xl-47m, 453.4M, 3.5M",
        "switchhead-262m, 2.0G, 2.9M",
        "xl-262m, 5.4G, 21.0M",
        // per-dataset table
        "switchhead-47m-k3, 202.5M, 0.8M",
        "xl-47m-h2, 453.4M, 1.4M",
        "switchhead-262m-h4, 2.4G, 5.6M",
        "xl-262m-h4, 5.4G, 8.4M",
        "xl-262m-h2, 5.4G, 6.3M",
        "xl-enwik8-41m, 1.6G, 10.5M",
        "switchhead-enwik8-41m, 709.3M, 2.8M",
        "xl-enwik8-41m-h2, 1.6G, 4.2M",
        // SwitchAll (the attention is SwitchHead's)
        "switchall-47m, 170.4M, 0.8M",
        "switchall-259m, 2.4G, 5.6M",
        // RoPE table
        "transformer-rope-45m, 560.9M, 6.1M",
        "switchhead-rope-45m, 285.6M, 1.3M",
        "transformer-rope-45m-h2, 560.9M, 1.9M",
        "transformer-rope-244m, 6.4G, 37.7M",
        "switchhead-rope-243m, 3.4G, 10.0M",
        "transformer-rope-244m-h2, 6.4G, 8.4M",
        // which projections are experts
        "switchhead-47m-v, 225.3M, 0.9M",
        "switchhead-47m-qo, 169.3M, 0.8M",
        "switchhead-47m-vok, 138.0M, 0.7M",
        "switchhead-47m-qkvo, 128.7M, 0.7M",
    })
    void paperTablesShowTheseCosts(String name, String macs, String memory) {
        AttentionCost c = cost(name);
        assertThat(CountFormat.compact(c.macs())).isEqualTo(macs);
        assertThat(CountFormat.compact(c.memory())).isEqualTo(memory);
    }

    @Test
    void anyTwoExpertProjectionsWithTwoSelectorsCostTheSame() {
        // The ablation table lists VO, KO, QK and VQ at 170.4M, and QO, VK (one selector each) at 169.3M.
        ModelConfig base = ModelConfig.named("switchhead-47m");
        for (String letters : new String[] {"vo", "ko", "qk", "vq"}) {
            ModelConfig c = base.toBuilder().moeProjections(Projection.parseSet(letters)).build();
            assertThat(AttentionCost.of(c).macs()).as(letters).isEqualTo(170_364_928L);
        }
        ModelConfig vk = base.toBuilder().moeProjections(Projection.parseSet("vk")).build();
        assertThat(CountFormat.compact(AttentionCost.of(vk).macs())).isEqualTo("169.3M");
        ModelConfig qAlone = ModelConfig.named("switchhead-47m-v").toBuilder()
                .moeProjections(Projection.parseSet("q")).build();
        assertThat(CountFormat.compact(AttentionCost.of(qAlone).macs())).isEqualTo("225.3M");
    }

    @Test
    void switchHeadMemoryDoesNotDependOnK() {
        ModelConfig k1 = ModelConfig.named("switchhead-47m").toBuilder().activeExperts(1).build();
        ModelConfig k5 = ModelConfig.named("switchhead-47m").toBuilder().activeExperts(5).build();
        assertThat(AttentionCost.of(k1).memory()).isEqualTo(AttentionCost.of(k5).memory());
        assertThat(AttentionCost.of(k1).macs()).isLessThan(AttentionCost.of(k5).macs());
    }

    @Test
    void moaExpertsCostOnlyTheirRouter() {
        // E appears only in the router terms: E*d*T MACs and E*T*(1+cb) floats.
        ModelConfig e10 = ModelConfig.named("moa-47m-k4");
        ModelConfig e20 = e10.toBuilder().experts(20).build();
        long d = e10.dModel();
        long t = e10.context();
        assertThat(AttentionCost.of(e20).macs() - AttentionCost.of(e10).macs()).isEqualTo(10 * d * t);
        assertThat(AttentionCost.of(e20).memory() - AttentionCost.of(e10).memory()).isEqualTo(10 * t * 2);
    }

    @Test
    void termsAddUpAndPerTokenDividesByT() {
        AttentionCost c = cost("switchhead-47m");
        assertThat(c.macTerms()).hasSize(5);
        assertThat(c.macTerms().get(0).value()).isEqualTo(2L * 2 * 76 * 256 * 512);
        assertThat(c.macsPerToken()).isEqualTo(170_364_928 / 256.0);
        assertThat(c.inputs()).contains("n_proj=6").contains("n_sel=2").contains("T_k=512");
    }

    @Test
    void moaWithRopeIsRefusedBecauseTheFormulaIsXlOnly() {
        ModelConfig rope = ModelConfig.named("moa-small").toBuilder().positionEncoding(PositionEncoding.ROPE)
                .memoryBlocks(0).build();
        assertThatThrownBy(() -> AttentionCost.of(rope)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("moa-small").hasMessageContaining("XL");
    }

    @Test
    void aContextPastTwoToThe31KeysIsCountedAndOnePastTwoToThe63MacsIsRefusedNotWrapped() {
        // T = 1.5e9 with one memory block: T_k = 3e9 no longer fits an int; with one head of one channel
        // every term still fits a long.
        ModelConfig narrow = ModelConfig.named("dense-small").toBuilder().heads(1).dHead(1).context(1_500_000_000)
                .build();
        assertThat(narrow.keyLength()).isEqualTo(3_000_000_000L);
        AttentionCost c = AttentionCost.of(narrow);
        assertThat(c.macTerms().get(0).value()).isEqualTo(2L * 1_500_000_000L * 3_000_000_000L);
        assertThat(c.macs()).isPositive();
        // dense-small's 4 heads of 32 at T = 2e9: 2 H d_h T T_k is about 2e21, past 2^63. No count rather than
        // a wrapped, negative one.
        ModelConfig wide = ModelConfig.named("dense-small").toBuilder().context(2_000_000_000).build();
        assertThatThrownBy(() -> AttentionCost.of(wide)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("attention cost of 'dense-small': the counts exceed 2^63 - 1, more than a 64-bit integer "
                        + "holds");
        ModelConfig deep = ModelConfig.named("dense-small").toBuilder().dModel(2_000_000_000).layers(2_000_000_000)
                .build();
        assertThatThrownBy(() -> ParameterCount.of(deep)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("more than 2^63 - 1");
    }

    @Test
    void compactFormatSwitchesToGigaAtOneThousandMillion() {
        assertThat(CountFormat.compact(999_940_000L)).isEqualTo("999.9M");
        assertThat(CountFormat.compact(1_000_000_000L)).isEqualTo("1.0G");
        assertThat(CountFormat.compact(762_880L)).isEqualTo("0.8M");
        assertThat(CountFormat.exact(453_427_200L)).isEqualTo("453,427,200");
    }
}
