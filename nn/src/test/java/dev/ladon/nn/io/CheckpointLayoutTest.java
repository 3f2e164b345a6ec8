package dev.ladon.nn.io;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CheckpointLayoutTest {

    @Test
    void acceptsSameNamesShapesAndDTypesWhateverTheValues() {
        Map<String, Tensor> expected = Map.of("w", Tensor.zeros(2, 3), "b", Tensor.zeros(3));
        Map<String, Tensor> loaded = Map.of("b", Tensor.ones(3), "w", Tensor.ones(2, 3));
        assertThatCode(() -> CheckpointLayout.requireMatch(expected, loaded)).doesNotThrowAnyException();
    }

    @Test
    void namesEveryProblemInOneMessage() {
        Map<String, Tensor> expected = new LinkedHashMap<>();
        expected.put("embed.weight", Tensor.zeros(10, 4));
        expected.put("head.weight", Tensor.zeros(4, 10));
        expected.put("head.bias", Tensor.zeros(10));
        expected.put("norm.weight", Tensor.zeros(4));
        Map<String, Tensor> loaded = new LinkedHashMap<>();
        loaded.put("embed.weight", Tensor.zeros(4, 10));
        loaded.put("head.bias", Tensor.zeros(DType.FLOAT64, 10));
        loaded.put("norm.weight", Tensor.zeros(4));
        loaded.put("extra.scale", Tensor.zeros(1));

        assertThatThrownBy(() -> CheckpointLayout.requireMatch(expected, loaded))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing (1): head.weight")
                .hasMessageContaining("unexpected (1): extra.scale")
                .hasMessageContaining("embed.weight: shape [4, 10], expected [10, 4]")
                .hasMessageContaining("head.bias: dtype float64, expected float32")
                .hasMessageNotContaining("norm.weight");
    }
}
