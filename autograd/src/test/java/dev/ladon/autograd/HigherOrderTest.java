package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class HigherOrderTest {
    private static Variable ones(Variable like) {
        return Variable.constant(Tensor.ones(like.dtype(), like.device(), like.shape()));
    }

    private static Variable gradOf(Variable y, Variable x) {
        return Autograd.grad(y, List.of(x), ones(y), true, true).get(0);
    }

    @Test
    void derivativesOfACubeUpToTheThird() {
        double[] xs = {-1.5, 0.5, 2.0};
        Variable x = Variable.parameter(Tensor.of(xs, 3));
        Variable y = x.pow(3.0);
        Variable first = gradOf(y, x);
        Variable second = gradOf(first, x);
        Variable third = gradOf(second, x);
        for (int i = 0; i < 3; i++) {
            assertThat(first.data().toDoubleArray()[i]).isCloseTo(3 * xs[i] * xs[i], within(1e-12));
            assertThat(second.data().toDoubleArray()[i]).isCloseTo(6 * xs[i], within(1e-12));
            assertThat(third.data().toDoubleArray()[i]).isCloseTo(6, within(1e-12));
        }
    }

    @Test
    void reluGradientIsTheSameSelectOnceAndUnderCreateGraph() {
        // First order runs the backend's one-pass kernel; under createGraph a select differentiable in the
        // upstream gradient. Both pass the gradient exactly where the output is positive.
        float[] xs = {-2f, -0f, 0f, 1.5f, 3f, -0.25f, 7f};
        float[] up = {0.5f, 2f, -3f, 4f, -5f, 6f, 0.125f};
        Variable x = Variable.parameter(Tensor.of(xs, 7));
        Variable y = x.relu();
        Tensor once = Autograd.grad(y, List.of(x), Variable.constant(Tensor.of(up, 7)), false, false).get(0).data();
        Variable g = Variable.parameter(Tensor.of(up, 7));
        Variable viaGraph = Autograd.grad(x.relu(), List.of(x), g, true, true).get(0);
        for (int i = 0; i < 7; i++) {
            float expected = xs[i] > 0 ? up[i] : 0f;
            assertThat(once.toFloatArray()[i]).as("i=%d", i).isEqualTo(expected);
            assertThat(viaGraph.data().toFloatArray()[i]).as("i=%d", i).isEqualTo(expected);
        }
        // d(sum(dL/dx))/dg is the mask itself
        Variable total = viaGraph.sum();
        Tensor mask = Autograd.grad(total, List.of(g), ones(total), false, false).get(0).data();
        assertThat(mask.toFloatArray()).containsExactly(0f, 0f, 0f, 1f, 1f, 0f, 1f);
    }

    @Test
    void secondDerivativeOfTanhAndSoftmaxComposition() {
        // d2/dx2 tanh(x) = -2 tanh(x) (1 - tanh(x)^2).
        double x0 = 0.3;
        Variable x = Variable.parameter(Tensor.scalar(x0, DType.FLOAT64, Device.CPU));
        Variable second = gradOf(gradOf(x.tanh(), x), x);
        double t = Math.tanh(x0);
        assertThat(second.item()).isCloseTo(-2 * t * (1 - t * t), within(1e-12));
    }

    @Test
    void gradientPenaltyTrainsThroughTheGradient() {
        // L = |d(sum(w x)^2)/dx|^2: the penalty depends on w through the first gradient.
        Generator g = new Generator(5);
        Variable w = Variable.parameter(Tensor.randn(g, DType.FLOAT64, Device.CPU, 3));
        Variable x = Variable.parameter(Tensor.randn(g, DType.FLOAT64, Device.CPU, 3));
        Variable s = w.mul(x).sum();
        Variable dx = Autograd.grad(s.square(), List.of(x), ones(s), true, true).get(0); // 2 s w
        dx.square().sum().backward();
        // d/dw_j sum_i (2 s w_i)^2 = 8 s (x_j sum_i w_i^2 + s w_j) with s = w.x.
        double[] wv = w.data().toDoubleArray();
        double[] xv = x.data().toDoubleArray();
        double sv = wv[0] * xv[0] + wv[1] * xv[1] + wv[2] * xv[2];
        double ww = wv[0] * wv[0] + wv[1] * wv[1] + wv[2] * wv[2];
        for (int j = 0; j < 3; j++) {
            assertThat(w.grad().toDoubleArray()[j]).isCloseTo(8 * sv * (xv[j] * ww + sv * wv[j]), within(1e-10));
        }
    }

    @Test
    void fusedOpsAreOnceDifferentiable() {
        Generator g = new Generator(6);
        Variable x = Variable.parameter(Tensor.randn(g, DType.FLOAT64, Device.CPU, 2, 4));
        Tensor target = Tensor.of(new long[] {1, 3}, 2);
        for (Variable y : List.of(Functional.layerNorm(x, null, null, 1e-5).sum(),
                Functional.rmsNorm(x, null, 1e-6).square().sum(), Functional.crossEntropy(x, target))) {
            Variable first = Autograd.grad(y, List.of(x), ones(y), true, true).get(0);
            // First derivatives are fine; differentiating them again is refused, naming the op.
            assertThat(first.shape()).containsExactly(2, 4);
            assertThatThrownBy(() -> first.sum().backward()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("once-differentiable");
        }
    }
}
