package dev.ladon.autograd.gradcheck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Function;
import dev.ladon.autograd.FunctionContext;
import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** gradcheck itself: it must pass correct gradients and catch wrong ones, with a useful report. */
class GradcheckTest {
    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), DType.FLOAT64, Device.CPU, shape);
    }

    /** x^2 with a deliberately wrong backward: 3x instead of 2x, but only for elements after the first. */
    static final class WrongSquare extends Function {
        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return in[0].square();
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
            Tensor x = ctx.savedTensors()[0];
            Tensor factor = Tensor.full(3.0, x.dtype(), x.device(), x.shape());
            factor.narrow(0, 0, 1).fillInPlace(2.0);
            return new Tensor[] {grad.mul(x).mul(factor)};
        }
    }

    /** A correct backward plus noise that differs from run to run. */
    static final class NoisyIdentity extends Function {
        private static final Generator NOISE = new Generator(99);

        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            return in[0].copy();
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
            return new Tensor[] {grad.add(Tensor.randn(NOISE, grad.dtype(), grad.device(), grad.shape()).mul(1e-9))};
        }
    }

    @Test
    void passesCorrectGradientsOfSeveralInputs() {
        GradcheckResult r = Gradcheck.gradcheck(v -> v.get(0).mul(v.get(1)).tanh().sum(), randn(1, 3, 2), randn(2, 2));
        assertThat(r.passed()).as(r.summary()).isTrue();
        // 2 inputs x (6 + 2 elements) x 1 output.
        assertThat(r.entriesCompared()).isEqualTo(8);
    }

    @Test
    void reportsTheFirstWrongEntryWithInputElementAndValues() {
        Tensor x = Tensor.of(new double[] {1.0, 2.0, -0.5}, 3);
        GradcheckResult r = Gradcheck.gradcheck(v -> new WrongSquare().apply(v.get(0)), x);
        assertThat(r.passed()).isFalse();
        // Element 0 is right; element [1] of the output [1] is the first wrong: analytic 3*2 = 6, numeric 2*2 = 4.
        assertThat(r.summary()).contains("input 0 (float64 [3]) element [1], output element [1]")
                .contains("analytic 6.0000000").contains("numeric 4.0000000").contains("2 of 9 entries")
                .contains("worst relative error 0.5");
        assertThatThrownBy(r::requirePassed).isInstanceOf(IllegalStateException.class).hasMessageContaining("analytic");
    }

    @Test
    void refusesFloat32UnlessToldAndSaysWhy() {
        Tensor x = Tensor.randn(new Generator(3), DType.FLOAT32, Device.CPU, 4);
        assertThatThrownBy(() -> Gradcheck.gradcheck(v -> v.get(0).square().sum(), x))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input 0 is float32")
                .hasMessageContaining("float64").hasMessageContaining("significant digits")
                .hasMessageContaining("withAllowFloat32");
        GradcheckOptions loose = GradcheckOptions.defaults().withAllowFloat32(true).withEps(1e-2).withAtol(1e-2)
                .withRtol(1e-2);
        GradcheckResult r = Gradcheck.gradcheck(v -> v.get(0).square().sum(), List.of(x), loose);
        assertThat(r.passed()).as(r.summary()).isTrue();
    }

    @Test
    void refusesExpandedInputsWhoseElementsShareMemory() {
        Tensor x = randn(4, 3).unsqueeze(0).expand(2, 3);
        assertThatThrownBy(() -> Gradcheck.gradcheck(v -> v.get(0).sum(), x)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expanded view");
    }

    @Test
    void fastModeAgreesOnCorrectAndCatchesWrongGradients() {
        GradcheckOptions fast = GradcheckOptions.defaults().withFastMode(true);
        Tensor a = randn(5, 3, 4);
        Tensor b = randn(6, 4, 2);
        GradcheckResult good = Gradcheck.gradcheck(v -> v.get(0).matmul(v.get(1)).sigmoid(), List.of(a, b), fast);
        assertThat(good.passed()).as(good.summary()).isTrue();
        assertThat(good.entriesCompared()).isEqualTo(2);
        GradcheckResult bad = Gradcheck.gradcheck(v -> new WrongSquare().apply(v.get(0)), List.of(randn(7, 4)), fast);
        assertThat(bad.passed()).isFalse();
        assertThat(bad.summary()).contains("random projection");
    }

    @Test
    void checksOnlyTheSelectedInputs() {
        // Input 1 goes through the wrong backward, but only input 0 is differentiated.
        GradcheckFunction f = v -> v.get(0).exp().add(new WrongSquare().apply(v.get(1)));
        Tensor x = randn(8, 3);
        Tensor y = randn(9, 3);
        assertThat(Gradcheck.gradcheck(f, List.of(x, y), GradcheckOptions.defaults()).passed()).isFalse();
        GradcheckResult onlyX = Gradcheck.gradcheck(f, List.of(x, y), GradcheckOptions.defaults().withInputs(0));
        assertThat(onlyX.passed()).as(onlyX.summary()).isTrue();
        assertThatThrownBy(() -> Gradcheck.gradcheck(f, List.of(x, Tensor.arange(3)),
                GradcheckOptions.defaults().withInputs(1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("int64");
    }

    @Test
    void detectsANondeterministicBackwardUnlessTolerated() {
        Tensor x = randn(10, 3);
        GradcheckResult strict = Gradcheck.gradcheck(v -> new NoisyIdentity().apply(v.get(0)), x);
        assertThat(strict.passed()).isFalse();
        assertThat(strict.summary()).contains("not deterministic");
        GradcheckResult tolerant = Gradcheck.gradcheck(v -> new NoisyIdentity().apply(v.get(0)), List.of(x),
                GradcheckOptions.defaults().withNondetTolerance(1e-6));
        assertThat(tolerant.passed()).as(tolerant.summary()).isTrue();
    }

    @Test
    void leavesNonContiguousInputsExactlyAsTheyWere() {
        Tensor x = randn(11, 4, 3).mT();
        double[] before = x.toDoubleArray();
        GradcheckResult r = Gradcheck.gradcheck(v -> v.get(0).softmax(0), x);
        assertThat(r.passed()).as(r.summary()).isTrue();
        assertThat(x.toDoubleArray()).containsExactly(before);
    }

    @Test
    void gradgradcheckPassesComposedSecondDerivatives() {
        GradcheckResult r = Gradcheck.gradgradcheck(v -> v.get(0).mul(v.get(1)).tanh().logSoftmax(1), List.of(randn(12,
                2, 3), randn(13, 3)), GradcheckOptions.defaults());
        assertThat(r.passed()).as(r.summary()).isTrue();
    }

    @Test
    void gradgradcheckCatchesABackwardWhoseGraphIsCut() {
        // The hook detaches the gradient flowing into y: first derivatives stay right, but the backward of
        // pow no longer depends on x, so the second derivative with respect to x is lost.
        GradcheckFunction cut = v -> {
            Variable y = v.get(0).mul(1.0);
            y.registerHook(Variable::detach);
            return y.pow(3.0);
        };
        Tensor x = randn(14, 3);
        assertThat(Gradcheck.gradcheck(cut, x).passed()).isTrue();
        GradcheckResult second = Gradcheck.gradgradcheck(cut, List.of(x), GradcheckOptions.defaults());
        assertThat(second.passed()).isFalse();
        assertThat(second.summary()).startsWith("second order").contains("input 0");
    }

    @Test
    void secondDerivativeThroughAFusedKernelFailsNamingTheOp() {
        Tensor x = randn(15, 2, 4);
        Tensor w = randn(16, 4);
        assertThatThrownBy(() -> Gradcheck.gradgradcheck(v -> Functional.layerNorm(v.get(0), v.get(1), null, 1e-5),
                List.of(x, w), GradcheckOptions.defaults())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("layerNorm is once-differentiable");
        GradcheckCase asCase = GradcheckCase.of("layerNorm second order",
                v -> Functional.layerNorm(v.get(0), null, null, 1e-5), x).withSecondOrder();
        GradcheckResult r = asCase.run();
        assertThat(r.passed()).isFalse();
        assertThat(r.summary()).contains("once-differentiable");
    }
}
