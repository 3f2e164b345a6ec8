package dev.ladon.moe;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckCaseProvider;
import dev.ladon.nn.ModuleGradcheck;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The moe layers in the gradient-check suite ({@code bin/ladon gradcheck}): float64, tiny sizes, random
 * points (so no top-k choice sits within the finite-difference step of a tie). Checks the gradients of
 * the inputs and of every parameter, gates and selectors included. Inputs and parameters are drawn on
 * the CPU and then moved to the requested device, so every device checks the same points.
 */
public final class MoeGradcheckCases implements GradcheckCaseProvider {
    private Device device;

    @Override
    public List<GradcheckCase> cases() {
        return cases(Device.CPU);
    }

    @Override
    public List<GradcheckCase> cases(Device device) {
        this.device = device;
        Generator gen = new Generator(2024);
        List<GradcheckCase> cases = new ArrayList<>();
        cases.add(expertMatmulCase(gen));
        for (SwitchHeadAttention.Position position : SwitchHeadAttention.Position.values()) {
            SwitchHeadAttention a = new SwitchHeadAttention(5, 2, 4, 3, 2, position);
            a.to(DType.FLOAT64);
            a.resetParameters(1, gen);
            a.to(device);
            cases.add(ModuleGradcheck.of("SwitchHeadAttention " + position + " with memory", a,
                    v -> a.forward(v.get(0), v.get(1)), List.of(randn(gen, 2, 3, 5), randn(gen, 2, 5, 5))));
        }
        // The projection ablation's extremes: all four projections experts, and V alone (dense Q, K, O).
        for (String projections : List.of("qkvo", "v")) {
            SwitchHeadAttention a = new SwitchHeadAttention(5, 2, 4, 3, 2, SwitchHeadAttention.Position.XL,
                    ModelConfig.Projection.parseSet(projections));
            a.to(DType.FLOAT64);
            a.resetParameters(1, gen);
            a.to(device);
            cases.add(ModuleGradcheck.of("SwitchHeadAttention XL, experts " + projections, a,
                    v -> a.forward(v.get(0), v.get(1)), List.of(randn(gen, 2, 3, 5), randn(gen, 2, 5, 5))));
        }
        for (MoAAttention.Selection selection : MoAAttention.Selection.values()) {
            MoAAttention a = new MoAAttention(5, 3, 4, 2, selection, SwitchHeadAttention.Position.XL)
                    .entropyWeight(0.1);
            a.to(DType.FLOAT64);
            a.resetParameters(1, false, gen);
            a.to(device);
            cases.add(ModuleGradcheck.of("MoAAttention " + selection + " XL with memory", a,
                    v -> a.forward(v.get(0), v.get(1)), List.of(randn(gen, 2, 3, 5), randn(gen, 2, 5, 5))));
            cases.add(ModuleGradcheck.of("MoAAttention " + selection + " aux loss", a,
                    v -> {
                        a.forward(v.get(0), v.get(1));
                        return a.auxLoss();
                    }, List.of(randn(gen, 2, 3, 5), randn(gen, 2, 3, 5))));
        }
        MoAAttention rope = new MoAAttention(5, 4, 3, 2, MoAAttention.Selection.SOFTMAX,
                SwitchHeadAttention.Position.ROPE);
        rope.to(DType.FLOAT64);
        rope.resetParameters(1, false, gen);
        rope.to(device);
        cases.add(ModuleGradcheck.of("MoAAttention SOFTMAX ROPE", rope, v -> rope.forward(v.get(0), v.get(0)),
                List.of(randn(gen, 2, 3, 5))));
        SigmaMoE moe = new SigmaMoE(5, 4, 3, 2).entropyWeight(0.1);
        moe.to(DType.FLOAT64);
        moe.resetParameters(1, gen);
        moe.to(device);
        cases.add(ModuleGradcheck.of("SigmaMoE", moe, moe::forward, randn(gen, 2, 3, 5)));
        cases.add(ModuleGradcheck.of("SigmaMoE entropy regulariser", moe, x -> {
            moe.forward(x);
            return moe.auxLoss();
        }, randn(gen, 2, 3, 5)));
        return cases;
    }

    private GradcheckCase expertMatmulCase(Generator gen) {
        Tensor row = Tensor.of(new long[] {0, 2, 1, 2, 0}, 5).to(device);
        Tensor expert = Tensor.of(new long[] {1, 0, 2, 2, 1}, 5).to(device);
        return GradcheckCase.of("ExpertMatmul", v -> ExpertMatmul.apply(v.get(0), v.get(1), v.get(2), row, expert),
                randn(gen, 3, 4), randn(gen, 3, 4, 2), randn(gen, 5)).covering("moe.ExpertMatmul");
    }

    private Tensor randn(Generator gen, int... shape) {
        return Tensor.randn(gen, DType.FLOAT64, Device.CPU, shape).to(device);
    }
}
