package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import org.junit.jupiter.api.Test;

/**
 * Tensors a module keeps (caches of layers, parameters and buffers set by {@code to} or a state dict) are made
 * outside the caller's workspace scope.
 */
class WorkspaceCachesTest {
    @Test
    void rotaryTablesOutliveTheScopeTheyWereFirstMadeIn() {
        // T = 128 positions x 32 rotated pairs = 4096 values per table: large enough to be lent by a scope.
        // Forward and backward: the backward uses a third table.
        RotaryEmbedding rope = new RotaryEmbedding(64, 1.0, 10000);
        Tensor data = Tensor.randn(new Generator(1), DType.FLOAT32, Device.CPU, 1, 2, 128, 64);
        Tensor weights = Tensor.randn(new Generator(3), DType.FLOAT32, Device.CPU, 1, 2, 128, 64);
        Variable reference = Variable.parameter(data);
        new RotaryEmbedding(64, 1.0, 10000).apply(reference, 0).mul(Variable.constant(weights)).sum().backward();
        float[] expected = reference.grad().toFloatArray();
        Workspace workspace = new Workspace("test");
        for (int i = 0; i < 2; i++) {
            Variable x = Variable.parameter(data);
            try (var scope = workspace.open()) {
                rope.apply(x, 0).mul(Variable.constant(weights)).sum().backward();
            }
            assertThat(x.grad().toFloatArray()).as("call " + i).containsExactly(expected);
        }
        assertThat(workspace.reuses()).isPositive();
    }

    @Test
    void relativeEncodingOutlivesTheScopeItWasFirstMadeIn() {
        // The encoding is [keys, d] = [64, 64]: large enough to be lent by a scope.
        RelativeMultiHeadAttention attention = new RelativeMultiHeadAttention(64, 2, 32);
        Variable x = Variable.constant(Tensor.randn(new Generator(2), DType.FLOAT32, Device.CPU, 2, 64, 64));
        float[] expected = attention.forward(x, x).data().toFloatArray();
        RelativeMultiHeadAttention fresh = new RelativeMultiHeadAttention(64, 2, 32);
        fresh.loadStateDict(attention.stateDict());
        Workspace workspace = new Workspace("test");
        for (int i = 0; i < 2; i++) {
            try (var scope = workspace.open()) {
                assertThat(fresh.forward(x, x).data().toFloatArray()).as("call " + i).containsExactly(expected);
            }
        }
    }

    @Test
    void parametersConvertedOrLoadedInsideAScopeOutliveIt() {
        Linear layer = new Linear(64, 64, true);
        Linear source = new Linear(64, 64, true);
        Workspace workspace = new Workspace("test");
        try (var scope = workspace.open()) {
            layer.to(DType.FLOAT64);
            layer.loadStateDict(source.stateDict());
        }
        assertThat(layer.namedParameters().get("weight").data().toDoubleArray())
                .containsExactly(source.namedParameters().get("weight").data().to(DType.FLOAT64).toDoubleArray());
    }
}
