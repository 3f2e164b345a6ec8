package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Inside a {@link Workspace} scope the engine hands each gradient it passes between nodes back to the scope
 * once it is consumed: the backward pass reuses its own memory, and every gradient that reaches the caller
 * is as without a scope.
 */
class WorkspaceBackwardTest {
    /** [64, 64] = 4096 elements: each intermediate value and gradient takes memory from the scope. */
    private static Tensor randn(long seed) {
        return Tensor.randn(new Generator(seed), DType.FLOAT32, Device.CPU, 64, 64);
    }

    /** A chain of elementwise ops, a product, a residual (one gradient to two users) and a reduction. */
    private static Variable loss(Variable x, Variable w) {
        Variable h = x.matmul(w).tanh();
        Variable r = h.mul(h).add(h).mul(0.5).exp();
        return r.add(x).relu().sum();
    }

    @Test
    void gradientsInAScopeEqualThoseWithoutAndTheBackwardReusesItsMemory() {
        Variable x0 = Variable.parameter(randn(1));
        Variable w0 = Variable.parameter(randn(2));
        loss(x0, w0).backward();

        Workspace workspace = new Workspace("test");
        Variable x = Variable.parameter(randn(1));
        Variable w = Variable.parameter(randn(2));
        try (var scope = workspace.open()) {
            loss(x, w).backward();
            // The first scope of a workspace has nothing from an earlier one: every reuse is the engine's.
            assertThat(workspace.reuses()).as("gradients took memory that earlier gradients gave back")
                    .isPositive();
        }
        assertThat(x.grad().toFloatArray()).containsExactly(x0.grad().toFloatArray());
        assertThat(w.grad().toFloatArray()).containsExactly(w0.grad().toFloatArray());
    }

    @Test
    void aGradientAHookSawOrTheCallerAskedForIsNotReleased() {
        Workspace workspace = new Workspace("test");
        Variable x = Variable.parameter(randn(3));
        Variable w = Variable.parameter(randn(4));
        List<Variable> seen = new ArrayList<>();
        try (var scope = workspace.open()) {
            Variable h = x.matmul(w);
            h.registerHook(g -> {
                seen.add(g);
                return null;
            });
            Variable t = h.tanh();
            List<Variable> grads = Autograd.grad(t.mul(t).sum(), List.of(x, h), Variable.constant(Tensor.scalar(1.0,
                    DType.FLOAT32, Device.CPU)), false, false);
            // Both are still readable inside the scope: the engine did not release them.
            assertThat(seen.get(0).data().storage().released()).isFalse();
            assertThat(grads.get(1).data().storage().released()).isFalse();
            assertThat(grads.get(1).data().toFloatArray()).containsExactly(seen.get(0).data().toFloatArray());
            assertThat(grads.get(0).data().sum().item()).isFinite();
        }
    }

    @Test
    void linearReluGivesBackTheMaskedGradientItMakesInsideItsFormula() {
        // Every array the backward takes new from the scope (all [64, 64] floats) is free again once it is done:
        // the gradients between nodes (released by the engine) and, for linearRelu, the masked gradient that
        // its formula makes and uses itself. The forward's arrays stay lent. Checked against linear then relu.
        float[] fused = inputGradientGivingBackEverything("linearRelu",
                x -> Functional.linearRelu(x, Variable.parameter(randn(7)), bias()));
        float[] split = inputGradientGivingBackEverything("linear then relu",
                x -> Functional.linear(x, Variable.parameter(randn(7)), bias()).relu());
        assertThat(fused).containsExactly(split);
    }

    @Test
    void reluFeedForwardGivesBackTheHiddenGradientItMakesInsideItsFormula() {
        // The same for the whole feed-forward node, whose hidden gradient is made and used inside its formula.
        float[] fused = inputGradientGivingBackEverything("reluFeedForward",
                x -> Functional.reluFeedForward(x, Variable.parameter(randn(7)), bias(), Variable.parameter(randn(10)),
                        bias()));
        float[] split = inputGradientGivingBackEverything("linearRelu then linear",
                x -> Functional.linear(Functional.linearRelu(x, Variable.parameter(randn(7)), bias()),
                        Variable.parameter(randn(10)), bias()));
        assertThat(fused).containsExactly(split);
    }

    private static Variable bias() {
        return Variable.parameter(Tensor.randn(new Generator(8), DType.FLOAT32, Device.CPU, 64));
    }

    /**
     * Runs sum(layer(x) * r) backward for x [64, 64] in a new workspace's scope, asserts that each array the
     * backward took from the scope is free again when it returns, and gives x's gradient.
     */
    private static float[] inputGradientGivingBackEverything(String what, UnaryOperator<Variable> layer) {
        Workspace workspace = new Workspace("test");
        Variable x = Variable.parameter(randn(6));
        try (var scope = workspace.open()) {
            Variable loss = layer.apply(x).mul(Variable.constant(randn(9))).sum();
            long before = workspace.allocations();
            loss.backward();
            long taken = workspace.allocations() - before;
            assertThat(taken).as(what).isGreaterThanOrEqualTo(3);
            assertThat(workspace.freeBytes()).as(what).isEqualTo(taken * 64 * 64 * Float.BYTES);
        }
        return x.grad().toFloatArray();
    }

    @Test
    void withCreateGraphNothingIsReleasedAndSecondDerivativesMatch() {
        Variable x0 = Variable.parameter(randn(5));
        Variable g0 = Autograd.grad(x0.tanh().mul(x0).sum(), List.of(x0), Variable.constant(Tensor.scalar(1.0,
                DType.FLOAT32, Device.CPU)), true, true).get(0);
        g0.sum().backward();

        Workspace workspace = new Workspace("test");
        Variable x = Variable.parameter(randn(5));
        try (var scope = workspace.open()) {
            Variable g = Autograd.grad(x.tanh().mul(x).sum(), List.of(x), Variable.constant(Tensor.scalar(1.0,
                    DType.FLOAT32, Device.CPU)), true, true).get(0);
            g.sum().backward();
            assertThat(g.data().toFloatArray()).containsExactly(g0.data().toFloatArray());
        }
        assertThat(x.grad().toFloatArray()).containsExactly(x0.grad().toFloatArray());
    }
}
