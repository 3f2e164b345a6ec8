package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Saved tensors are released after backward: a training loop keeps graph memory flat. The tests count
 * saved tensors not yet released by a backward ({@link SavedTensor#unreleased()}), which unlike the public
 * {@link Autograd#liveSavedTensors()} does not move when the collector reclaims other tests' graphs.
 */
class GraphMemoryTest {
    @Test
    void thousandTrainingStepsOfAnMlpKeepSavedTensorsFlat() {
        Generator g = new Generator(42);
        // y = 2 x0 - x1 + 0.5 x2 x3, learned by a 4-16-1 tanh MLP with plain SGD.
        Tensor inputs = Tensor.randn(g, DType.FLOAT32, Device.CPU, 32, 4);
        double[] xs = inputs.toDoubleArray();
        float[] ys = new float[32];
        for (int i = 0; i < 32; i++) {
            ys[i] = (float) (2 * xs[i * 4] - xs[i * 4 + 1] + 0.5 * xs[i * 4 + 2] * xs[i * 4 + 3]);
        }
        Variable x = Variable.constant(inputs);
        Variable y = Variable.constant(Tensor.of(ys, 32, 1));
        Variable w1 = Variable.parameter(Tensor.randn(g, DType.FLOAT32, Device.CPU, 4, 16).mul(0.5));
        Variable b1 = Variable.parameter(Tensor.zeros(16));
        Variable w2 = Variable.parameter(Tensor.randn(g, DType.FLOAT32, Device.CPU, 16, 1).mul(0.25));
        Variable b2 = Variable.parameter(Tensor.zeros(1));
        List<Variable> params = List.of(w1, b1, w2, b2);

        long baseline = SavedTensor.unreleased();
        double firstLoss = 0;
        double lastLoss = 0;
        for (int step = 0; step < 1000; step++) {
            Variable loss = Functional.mse(x.matmul(w1).add(b1).tanh().matmul(w2).add(b2), y);
            if (step == 0) {
                firstLoss = loss.item();
                // The graph holds what backward needs: matmul inputs, tanh output, ...
                assertThat(SavedTensor.unreleased()).isGreaterThan(baseline);
            }
            lastLoss = loss.item();
            loss.backward();
            assertThat(SavedTensor.unreleased()).as("saved tensors after step " + step).isEqualTo(baseline);
            try (var ng = GradMode.noGrad()) {
                for (Variable p : params) {
                    p.data().subInPlace(p.grad().mul(0.05));
                    p.zeroGrad();
                }
            }
        }
        assertThat(lastLoss).isLessThan(firstLoss / 10);
    }

    @Test
    void retainedGraphsKeepTheirTensorsUntilTheLastBackward() {
        Variable w = Variable.parameter(Tensor.randn(3, 3));
        long baseline = SavedTensor.unreleased();
        Variable loss = w.matmul(w).exp().sum();
        long held = SavedTensor.unreleased() - baseline;
        assertThat(held).isEqualTo(3); // matmul saves both operands, exp its output
        loss.backward(Tensor.ones(DType.FLOAT32, Device.CPU), true);
        assertThat(SavedTensor.unreleased() - baseline).isEqualTo(held);
        loss.backward(Tensor.ones(DType.FLOAT32, Device.CPU), false);
        assertThat(SavedTensor.unreleased()).isEqualTo(baseline);
    }

    @Test
    void thePublicCountDropsWhenTheGraphIsReleased() {
        Variable w = Variable.parameter(Tensor.randn(3, 3));
        Variable loss = w.matmul(w).exp().sum();
        long held = Autograd.liveSavedTensors();
        loss.backward();
        // The collector can only lower the count further.
        assertThat(Autograd.liveSavedTensors()).isLessThanOrEqualTo(held - 3);
    }

    @Test
    void nothingIsSavedUnderNoGrad() {
        Variable w = Variable.parameter(Tensor.randn(3, 3));
        long baseline = SavedTensor.unreleased();
        try (var ng = GradMode.noGrad()) {
            w.matmul(w).exp().sum();
        }
        assertThat(SavedTensor.unreleased()).isEqualTo(baseline);
    }
}
