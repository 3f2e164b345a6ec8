package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TransformerConfigTest {
    @Test
    void aNonPositiveSizeIsNamedWithTheGivenArguments() {
        assertThatThrownBy(() -> TransformerConfig.transformerXl(10, 8, 0, 4, 1, 16, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("TransformerConfig: sizes must be positive, got vocabSize=10 dModel=8 heads=0 headDim=4 "
                        + "layers=1 dFF=16");
    }

    @Test
    void nullPositionsOrActivationIsRejected() {
        assertThatThrownBy(() -> new TransformerConfig(10, 8, 2, 4, 1, 16, 0, null, 0.5, FeedForward.Activation.RELU,
                false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positions and activation must not be null, got positions=null activation=RELU");
        assertThatThrownBy(() -> new TransformerConfig(10, 8, 2, 4, 1, 16, 0, TransformerConfig.Positions.ROPE, 0.5,
                null, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positions=ROPE activation=null");
    }
}
