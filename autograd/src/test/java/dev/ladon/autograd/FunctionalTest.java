package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The values of the composed parts of Functional, against plain loops (gradients are gradchecked). */
class FunctionalTest {
    @Test
    void crossEntropyAveragesOverRowsThatAreNotIgnored() {
        Tensor logits = Tensor.randn(new Generator(1), DType.FLOAT64, Device.CPU, 4, 3);
        long[] target = {2, -100, 0, 1};
        double smoothing = 0.2;
        Variable loss = Functional.crossEntropy(Variable.constant(logits), Tensor.of(target, 4), -100, smoothing);
        double[] z = logits.toDoubleArray();
        double total = 0;
        int counted = 0;
        for (int r = 0; r < 4; r++) {
            if (target[r] == -100) {
                continue;
            }
            double lse = Math.log(Math.exp(z[r * 3]) + Math.exp(z[r * 3 + 1]) + Math.exp(z[r * 3 + 2]));
            double nll = lse - z[r * 3 + (int) target[r]];
            double uniform = lse - (z[r * 3] + z[r * 3 + 1] + z[r * 3 + 2]) / 3;
            total += (1 - smoothing) * nll + smoothing * uniform;
            counted++;
        }
        assertThat(loss.item()).isCloseTo(total / counted, within(1e-12));
    }

    @Test
    void linearMatchesTheComposedProductAndBiasWithTheSameGradients() {
        Generator gen = new Generator(4);
        for (boolean withBias : new boolean[] {true, false}) {
            Tensor xs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 3, 5);
            Tensor ws = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 4, 5);
            Tensor bs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 4);
            Tensor upstream = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 3, 4);
            Variable x = Variable.parameter(xs);
            Variable w = Variable.parameter(ws);
            Variable b = withBias ? Variable.parameter(bs) : null;
            Variable y = Functional.linear(x, w, b);
            y.mul(Variable.constant(upstream)).sum().backward();
            Variable x2 = Variable.parameter(xs);
            Variable w2 = Variable.parameter(ws);
            Variable b2 = Variable.parameter(bs);
            Variable composed = x2.matmul(w2.mT());
            if (withBias) {
                composed = composed.add(b2);
            }
            composed.mul(Variable.constant(upstream)).sum().backward();
            assertThat(y.shape()).containsExactly(2, 3, 4);
            assertThat(y.data().allClose(composed.data(), 1e-6, 1e-6)).isTrue();
            assertThat(x.grad().allClose(x2.grad(), 1e-6, 1e-6)).isTrue();
            assertThat(w.grad().allClose(w2.grad(), 1e-6, 1e-5)).isTrue();
            assertThat(w.grad().isContiguous()).isTrue();
            if (withBias) {
                assertThat(b.grad().allClose(b2.grad(), 1e-6, 1e-5)).isTrue();
            }
        }
        assertThatThrownBy(() -> Functional.linear(Variable.constant(Tensor.zeros(2, 3)),
                Variable.constant(Tensor.zeros(4, 5)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("linear")
                .hasMessageContaining("x [2, 3]").hasMessageContaining("weight [4, 5]");
    }

    @Test
    void linearReluEqualsLinearThenReluInValueAndGradients() {
        Generator gen = new Generator(21);
        for (boolean withBias : new boolean[] {true, false}) {
            Tensor xs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 7, 33);
            Tensor ws = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40, 33);
            Tensor bs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40);
            Tensor upstream = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 7, 40);
            Variable x = Variable.parameter(xs);
            Variable w = Variable.parameter(ws);
            Variable b = withBias ? Variable.parameter(bs) : null;
            Variable y = Functional.linearRelu(x, w, b);
            y.mul(Variable.constant(upstream)).sum().backward();
            Variable x2 = Variable.parameter(xs);
            Variable w2 = Variable.parameter(ws);
            Variable b2 = withBias ? Variable.parameter(bs) : null;
            Variable composed = Functional.linear(x2, w2, b2).relu();
            composed.mul(Variable.constant(upstream)).sum().backward();
            // The same floats: the fused epilogue adds the bias and takes the ReLU as the separate ops do.
            assertThat(y.data().toFloatArray()).containsExactly(composed.data().toFloatArray());
            assertThat(y.data().toFloatArray()).contains(0f); // some units are off, so the mask matters
            assertThat(x.grad().toFloatArray()).containsExactly(x2.grad().toFloatArray());
            assertThat(w.grad().toFloatArray()).containsExactly(w2.grad().toFloatArray());
            if (withBias) {
                assertThat(b.grad().toFloatArray()).containsExactly(b2.grad().toFloatArray());
            }
        }
        assertThatThrownBy(() -> Functional.linearRelu(Variable.constant(Tensor.zeros(2, 3)),
                Variable.constant(Tensor.zeros(4, 5)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("linearRelu")
                .hasMessageContaining("x [2, 3]");
    }

    @Test
    void reluFeedForwardEqualsItsTwoLayersInValueAndGradients() {
        // float32 on the CPU: the fused backward (hidden gradient masked inside its product, bias gradients
        // summed inside the weight gradients' products) against linearRelu then linear, each with its own node.
        Generator gen = new Generator(22);
        for (boolean withBias : new boolean[] {true, false}) {
            Tensor xs = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 7, 33);
            Tensor w1s = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40, 33);
            Tensor b1s = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 40);
            Tensor w2s = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 9, 40);
            Tensor b2s = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 9);
            Tensor upstream = Tensor.randn(gen, DType.FLOAT32, Device.CPU, 2, 7, 9);
            Variable[] fused = parameters(xs, w1s, withBias ? b1s : null, w2s, withBias ? b2s : null);
            Variable y = Functional.reluFeedForward(fused[0], fused[1], fused[2], fused[3], fused[4]);
            y.mul(Variable.constant(upstream)).sum().backward();
            Variable[] split = parameters(xs, w1s, withBias ? b1s : null, w2s, withBias ? b2s : null);
            Variable hidden = Functional.linearRelu(split[0], split[1], split[2]);
            Variable composed = Functional.linear(hidden, split[3], split[4]);
            composed.mul(Variable.constant(upstream)).sum().backward();
            assertThat(y.shape()).containsExactly(2, 7, 9);
            assertThat(y.data().toFloatArray()).containsExactly(composed.data().toFloatArray());
            // The products add in the same order, so the input and weight gradients are the same floats.
            for (int i = 0; i < 4; i += 3) {
                assertThat(fused[i].grad().toFloatArray()).as("input %d", i)
                        .containsExactly(split[i].grad().toFloatArray());
            }
            assertThat(fused[1].grad().toFloatArray()).containsExactly(split[1].grad().toFloatArray());
            if (withBias) {
                assertThat(fused[2].grad().toFloatArray()).containsExactly(split[2].grad().toFloatArray());
                assertThat(fused[4].grad().toFloatArray()).containsExactly(split[4].grad().toFloatArray());
            }
        }
        assertThatThrownBy(() -> Functional.reluFeedForward(Variable.constant(Tensor.zeros(2, 3)),
                Variable.constant(Tensor.zeros(4, 3)), null, Variable.constant(Tensor.zeros(3, 5)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reluFeedForward")
                .hasMessageContaining("w1 [4, 3]").hasMessageContaining("w2 [3, 5]");
    }

    private static Variable[] parameters(Tensor... values) {
        Variable[] p = new Variable[values.length];
        for (int i = 0; i < values.length; i++) {
            p[i] = values[i] == null ? null : Variable.parameter(values[i]);
        }
        return p;
    }

    @Test
    void mseIsTheMeanSquaredDifferenceOfTwoTensorsOfOneShape() {
        Variable a = Variable.constant(Tensor.of(new double[] {1, 2, 3, 4}, 2, 2));
        Variable b = Variable.constant(Tensor.of(new double[] {0, 4, 0, 4}, 2, 2));
        // differences 1, -2, 3, 0 -> squares 1, 4, 9, 0 -> mean 3.5
        assertThat(Functional.mse(a, b).item()).isEqualTo(3.5);
        // [3, 1] against [3] would broadcast to 3 x 3 pairs: refused, naming mse.
        assertThatThrownBy(() -> Functional.mse(Variable.constant(Tensor.zeros(3, 1)),
                Variable.constant(Tensor.zeros(3)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("mse").hasMessageContaining("[3, 1]");
        assertThatThrownBy(() -> Functional.mse(Variable.constant(Tensor.zeros(DType.INT64, 2)),
                Variable.constant(Tensor.zeros(DType.INT64, 2)))).hasMessageContaining("mse: needs floating");
    }

    @Test
    void normsRefuseAnEpsThatIsNegativeOrNotFinite() {
        Variable x = Variable.constant(Tensor.ones(2, 4));
        for (double eps : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> Functional.layerNorm(x, null, null, eps)).as("eps " + eps)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layerNorm: eps");
            assertThatThrownBy(() -> Functional.rmsNorm(x, null, eps)).hasMessageContaining("rmsNorm: eps");
        }
    }

    @Test
    void dropoutZeroesOrRescalesAndIsTheIdentityInEvaluation() {
        Variable x = Variable.parameter(Tensor.ones(DType.FLOAT64, Device.CPU, 1000));
        Variable y = Functional.dropout(x, 0.25, true, new Generator(3));
        double[] v = y.data().toDoubleArray();
        int zeros = 0;
        for (double e : v) {
            assertThat(e == 0.0 || Math.abs(e - 1 / 0.75) < 1e-12).isTrue();
            zeros += e == 0.0 ? 1 : 0;
        }
        assertThat(zeros).isBetween(200, 300);
        y.sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(v);
        assertThat(Functional.dropout(x, 0.25, false, new Generator(3))).isSameAs(x);
        assertThatThrownBy(() -> Functional.dropout(x, 1.5, true, new Generator(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dropout");
    }
}
