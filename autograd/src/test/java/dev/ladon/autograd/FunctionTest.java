package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.autograd.gradcheck.Gradcheck;
import dev.ladon.autograd.gradcheck.GradcheckOptions;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Custom functions: forward/backward on tensors, saved tensors, and their checks. */
class FunctionTest {
    /** The example in Function's Javadoc: y = x^3, dy/dx = 3x^2. */
    static final class Cube extends Function {
        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return in[0].pow(3);
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
            Tensor x = ctx.savedTensors()[0];
            return new Tensor[] {grad.mul(x.square()).mul(3)};
        }
    }

    /** The worked example of docs/autograd.md: softplus(x) = log(1 + exp(beta x)) / beta. */
    static final class Softplus extends Function {
        private final double beta;

        Softplus(double beta) {
            this.beta = beta;
        }

        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... inputs) {
            Tensor x = inputs[0];
            ctx.saveForBackward(x);
            // log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow for large z.
            Tensor z = x.mul(beta);
            return z.relu().add(z.abs().neg().exp().add(1).log()).div(beta);
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor gradOutput) {
            Tensor x = ctx.savedTensors()[0];
            // d/dx softplus = sigmoid(beta x).
            return new Tensor[] {gradOutput.mul(x.mul(beta).sigmoid())};
        }
    }

    /** y = scale * a * b with a fixed scale; records which inputs asked for gradients. */
    static final class ScaledProduct extends Function {
        private final double scale;
        boolean[] askedFor;

        ScaledProduct(double scale) {
            this.scale = scale;
        }

        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0], in[1]);
            return in[0].mul(in[1]).mul(scale);
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
            Tensor[] s = ctx.savedTensors();
            askedFor = new boolean[] {ctx.needsInputGrad(0), ctx.needsInputGrad(1)};
            return new Tensor[] {ctx.needsInputGrad(0) ? grad.mul(s[1]).mul(scale) : null,
                    ctx.needsInputGrad(1) ? grad.mul(s[0]).mul(scale) : null};
        }
    }

    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), DType.FLOAT64, Device.CPU, shape);
    }

    @Test
    void customFunctionGivesHandComputedGradients() {
        Variable x = Variable.parameter(Tensor.of(new double[] {-1, 0.5, 2}, 3));
        Variable y = new Cube().apply(x);
        assertThat(y.data().toDoubleArray()).containsExactly(-1, 0.125, 8);
        assertThat(y.gradFnName()).isEqualTo("Cube");
        y.sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(new double[] {3, 0.75, 12}, within(1e-15));
    }

    @Test
    void theDocumentedSoftplusMatchesItsDefinitionAndPassesGradcheck() {
        Tensor x = Tensor.of(new double[] {-30, -1, 0, 0.5, 40}, 5);
        Variable y = new Softplus(2.0).apply(Variable.parameter(x));
        double[] xs = x.toDoubleArray();
        for (int i = 0; i < xs.length; i++) {
            double reference = xs[i] > 10 ? xs[i] : Math.log1p(Math.exp(2 * xs[i])) / 2;
            assertThat(y.data().toDoubleArray()[i]).isCloseTo(reference, within(1e-12));
        }
        var r = Gradcheck.gradcheck(v -> new Softplus(2.0).apply(v.get(0)), List.of(randn(10, 3, 4)),
                GradcheckOptions.defaults());
        assertThat(r.passed()).as(r.summary()).isTrue();
    }

    @Test
    void customFunctionPassesGradcheck() {
        assertThat(Gradcheck.gradcheck(v -> new Cube().apply(v.get(0)), randn(1, 2, 3)).passed()).isTrue();
        var r = Gradcheck.gradcheck(v -> new ScaledProduct(0.5).apply(v.get(0), v.get(1)), List.of(randn(2, 3),
                randn(3, 3)), GradcheckOptions.defaults());
        assertThat(r.passed()).as(r.summary()).isTrue();
    }

    @Test
    void backwardIsAskedOnlyForInputsThatNeedGradients() {
        ScaledProduct f = new ScaledProduct(2.0);
        Variable a = Variable.parameter(randn(4, 3));
        Variable b = Variable.constant(randn(5, 3));
        f.apply(a, b).sum().backward();
        assertThat(f.askedFor).containsExactly(true, false);
        assertThat(a.grad().toDoubleArray()).containsExactly(b.data().mul(2.0).toDoubleArray(), within(1e-15));
    }

    @Test
    void noGraphAndNothingSavedWhenNoInputRequiresGrad() {
        long before = SavedTensor.unreleased();
        Variable y = new Cube().apply(Variable.constant(randn(6, 3)));
        assertThat(y.requiresGrad()).isFalse();
        assertThat(SavedTensor.unreleased()).isEqualTo(before);
    }

    @Test
    void savedTensorsAreVersionCheckedAndReleased() {
        long before = SavedTensor.unreleased();
        Variable x = Variable.parameter(randn(7, 3));
        Variable y = new Cube().apply(x).sum();
        assertThat(SavedTensor.unreleased()).isEqualTo(before + 1);
        y.backward();
        assertThat(SavedTensor.unreleased()).isEqualTo(before);

        Variable z = new Cube().apply(x).sum();
        x.data().mulInPlace(2.0);
        assertThatThrownBy(z::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("backward of Cube")
                .hasMessageContaining("in-place");
    }

    @Test
    void aSecondDerivativeThroughAFunctionFailsNamingIt() {
        Variable x = Variable.parameter(randn(8, 3));
        Variable y = new Cube().apply(x).sum();
        Variable g = Autograd.grad(y, List.of(x), Variable.constant(Tensor.ones(DType.FLOAT64, Device.CPU)), true, true)
                .get(0);
        assertThatThrownBy(() -> g.sum().backward()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Cube is once-differentiable");
    }

    @Test
    void aGradientOfTheWrongShapeIsReportedNamingTheFunction() {
        Function broken = new Function() {
            @Override
            protected Tensor forward(FunctionContext ctx, Tensor... in) {
                return in[0].sum();
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
                return new Tensor[] {grad};
            }

            @Override
            public String name() {
                return "BrokenSum";
            }
        };
        Variable x = Variable.parameter(randn(9, 4));
        assertThatThrownBy(() -> broken.apply(x).backward()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("BrokenSum").hasMessageContaining("shape []").hasMessageContaining("[4]");
    }
}
