package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class LossTest {
    @Test
    void crossEntropyAveragesOverNonIgnoredPositionsWithSmoothing() {
        Tensor logits = Tensor.randn(new Generator(1), DType.FLOAT64, Device.CPU, 2, 3, 5);
        long[] target = {4, -1, 0, 2, 2, -1};
        double s = 0.2;
        double[] z = logits.toDoubleArray();
        double total = 0;
        int counted = 0;
        for (int r = 0; r < 6; r++) {
            if (target[r] == -1) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < 5; c++) {
                max = Math.max(max, z[r * 5 + c]);
            }
            double sum = 0;
            for (int c = 0; c < 5; c++) {
                sum += Math.exp(z[r * 5 + c] - max);
            }
            double logZ = max + Math.log(sum);
            double loss = 0;
            for (int c = 0; c < 5; c++) {
                double targetProb = (c == target[r] ? 1 - s : 0) + s / 5;
                loss -= targetProb * (z[r * 5 + c] - logZ);
            }
            total += loss;
            counted++;
        }
        Variable l = new CrossEntropyLoss(-1, s).forward(Variable.constant(logits), Tensor.of(target, 2, 3));
        assertThat(l.item()).isCloseTo(total / counted, Offset.offset(1e-12));
    }

    @Test
    void crossEntropyChecksTheTargetShape() {
        assertThatThrownBy(() -> new CrossEntropyLoss().forward(Variable.constant(Tensor.zeros(2, 3, 5)),
                Tensor.of(new long[] {1, 2}, 2))).hasMessageContaining("need targets of shape [2, 3], got [2]");
    }

    @Test
    void mseIsTheMeanSquaredDifference() {
        Variable a = Variable.constant(Tensor.of(new double[] {1, 2, 3, 4}, 2, 2));
        Variable b = Variable.constant(Tensor.of(new double[] {0, 2, 5, 1}, 2, 2));
        assertThat(new MSELoss().forward(a, b).item()).isEqualTo((1 + 0 + 4 + 9) / 4.0);
        assertThatThrownBy(() -> new MSELoss().forward(a, Variable.constant(Tensor.zeros(2))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mse")
                .hasMessageContaining("[2, 2]").hasMessageContaining("[2]");
    }
}
