package dev.ladon.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.moe.ModelConfig.Projection;
import dev.ladon.moe.ModelConfig.Variant;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

    @Test
    void everyNameResolvesToAConfigOfThatName() {
        assertThat(ModelConfig.names()).contains("xl-47m", "switchhead-47m", "switchall-47m", "xl-262m",
                "switchhead-262m", "switchall-259m", "switchhead-rope-45m", "moa-47m-k2", "moa-47m-k8",
                "dense-small", "switchhead-small", "moa-small", "switchall-small");
        for (String name : ModelConfig.names()) {
            assertThat(ModelConfig.named(name).name()).isEqualTo(name);
            assertThat(ModelConfig.description(name)).isNotBlank();
        }
    }

    @Test
    void switchHead47mHasThePaperShape() {
        ModelConfig c = ModelConfig.named("switchhead-47m");
        assertThat(c.variant()).isEqualTo(Variant.SWITCHHEAD);
        assertThat(new int[] {c.layers(), c.dModel(), c.heads(), c.dHead(), c.experts(), c.activeExperts(), c.dFF(),
            c.context(), c.memoryBlocks(), c.vocabSize()}).containsExactly(16, 412, 2, 76, 5, 2, 2080, 256, 1, 8000);
        assertThat(c.moeProjections()).containsExactlyInAnyOrder(Projection.V, Projection.O);
        assertThat(c.keyLength()).isEqualTo(512);
    }

    @Test
    void unknownNameListsTheKnownOnes() {
        assertThatThrownBy(() -> ModelConfig.named("gpt-5")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gpt-5").hasMessageContaining("switchhead-47m");
    }

    @Test
    void inconsistentConfigurationsAreRejectedWithTheirName() {
        ModelConfig sh = ModelConfig.named("switchhead-small");
        assertThatThrownBy(() -> sh.toBuilder().experts(4, 5).build()).hasMessageContaining("switchhead-small")
                .hasMessageContaining("k=5");
        assertThatThrownBy(() -> ModelConfig.named("moa-small").toBuilder().heads(3).build())
                .hasMessageContaining("heads=3");
        assertThatThrownBy(() -> ModelConfig.named("dense-small").toBuilder().experts(4, 2).build())
                .hasMessageContaining("no experts");
        assertThatThrownBy(() -> ModelConfig.named("switchall-small").toBuilder().dFF(100).build())
                .hasMessageContaining("N_E*G");
        assertThatThrownBy(() -> sh.toBuilder().moeProjections(Projection.parseSet("")).build())
                .hasMessageContaining("at least one expert projection");
        assertThatThrownBy(() -> Projection.parseSet("vx")).hasMessageContaining("'x'");
    }

    @Test
    void toBuilderRoundTripsAndChangesOnlyWhatIsSet() {
        ModelConfig c = ModelConfig.named("switchall-259m");
        assertThat(c.toBuilder().build()).isEqualTo(c);
        ModelConfig v = c.toBuilder().vocabSize(1000).build();
        assertThat(v.vocabSize()).isEqualTo(1000);
        assertThat(v.toBuilder().vocabSize(8000).build()).isEqualTo(c);
    }
}
