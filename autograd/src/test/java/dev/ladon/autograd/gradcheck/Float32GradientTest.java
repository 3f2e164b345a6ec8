package dev.ladon.autograd.gradcheck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Autograd;
import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Training runs in float32, where the CPU backend takes its vectorised fast paths; gradcheck runs in
 * float64, on the generic paths. This runs every op case in both and checks that the float32 gradients
 * (one vector-Jacobian product with a random output gradient) match the float64 ones.
 */
class Float32GradientTest {
    @TestFactory
    Stream<DynamicTest> float32GradientsMatchFloat64() {
        return new AutogradOpCases().cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> compare(c)));
    }

    private static void compare(GradcheckCase c) {
        List<Tensor> narrow = new ArrayList<>();
        for (Tensor t : c.inputs()) {
            narrow.add(t != null && t.dtype() == DType.FLOAT64 ? t.to(DType.FLOAT32) : t);
        }
        List<Tensor> g64 = vjp(c, c.inputs());
        List<Tensor> g32 = vjp(c, narrow);
        for (int i = 0; i < g64.size(); i++) {
            double[] a = g32.get(i).toDoubleArray();
            double[] b = g64.get(i).toDoubleArray();
            double scale = 0;
            for (double v : b) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int k = 0; k < a.length; k++) {
                assertThat(Math.abs(a[k] - b[k])).as(c.name() + " input " + i + " element " + k + ": float32 " + a[k]
                        + " vs float64 " + b[k]).isLessThanOrEqualTo(1e-4 * Math.max(scale, 1) + 1e-3 * Math.abs(b[k]));
            }
        }
    }

    /**
     * The op cases are tiny; these graphs have rows longer than a float vector (and not a multiple of its
     * length), so that the vector loops and their tails both run.
     */
    @TestFactory
    Stream<DynamicTest> float32FastPathsMatchFloat64OnLargerShapes() {
        Generator gen = new Generator(77);
        Tensor targets = Tensor.randint(0, 19, gen, Device.CPU, 37);
        Tensor tokens = Tensor.randint(0, 50, gen, Device.CPU, 40);
        List<GradcheckCase> large = List.of(
                GradcheckCase.of("mlp with layerNorm and crossEntropy", v -> Functional.crossEntropy(
                        Functional.layerNorm(v.get(0).matmul(v.get(1)).add(v.get(2)).gelu(), v.get(3),
                                v.get(4), 1e-5).matmul(v.get(5)), targets), randn(gen, 37, 40), randn(gen, 40, 33),
                        randn(gen, 33), randn(gen, 33), randn(gen, 33), randn(gen, 33, 19)),
                GradcheckCase.of("softmax both dims", v -> v.get(0).softmax(0).mul(v.get(0).logSoftmax(1)),
                        randn(gen, 35, 41)),
                GradcheckCase.of("embedding and rmsNorm", v -> Functional.rmsNorm(
                        Variable.embedding(v.get(0), tokens), v.get(1), 1e-6).sum(0), randn(gen, 50, 36),
                        randn(gen, 36)),
                GradcheckCase.of("column reductions", v -> v.get(0).sum(0).add(v.get(0).mean(new int[] {0}, false))
                        .mul(v.get(0).max(0, false)), randn(gen, 45, 37)),
                GradcheckCase.of("elementwise chain", v -> v.get(0).exp().tanh().add(v.get(0).sigmoid())
                        .mul(v.get(0).silu().relu()).div(v.get(1).abs().add(1.0).sqrt()).sub(v.get(1).square()
                        .add(1.0).rsqrt().reciprocal()), randn(gen, 33, 35), randn(gen, 35)));
        return large.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> compare(c)));
    }

    private static Tensor randn(Generator gen, int... shape) {
        return Tensor.randn(gen, DType.FLOAT64, Device.CPU, shape);
    }

    /** u^T J for a fixed random u, for every floating input. */
    private static List<Tensor> vjp(GradcheckCase c, List<Tensor> inputs) {
        List<Variable> vars = new ArrayList<>();
        List<Variable> wrt = new ArrayList<>();
        for (Tensor t : inputs) {
            Variable v = t != null && t.dtype().isFloating() ? Variable.parameter(t) : Variable.constant(t);
            vars.add(v);
            if (v.requiresGrad()) {
                wrt.add(v);
            }
        }
        Variable out = c.function().apply(vars);
        Tensor u = Tensor.randn(new Generator(1), DType.FLOAT64, out.device(), out.shape()).to(out.dtype());
        List<Tensor> grads = new ArrayList<>();
        for (Variable g : Autograd.grad(out, wrt, Variable.constant(u), false, false)) {
            grads.add(g.data());
        }
        return grads;
    }
}
