package dev.ladon.moe;

import static dev.ladon.moe.DenseReference.assertClose;
import static dev.ladon.moe.DenseReference.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class SigmaMoETest {
    private static final int D = 5;
    private static final int NE = 4;
    private static final int G = 3;

    private static SigmaMoE layer(int k, double gamma, long seed) {
        SigmaMoE m = new SigmaMoE(D, NE, G, k).entropyWeight(gamma);
        m.to(DType.FLOAT64);
        m.resetParameters(1, new Generator(seed));
        return m;
    }

    private static Variable p(SigmaMoE m, String name) {
        return m.namedParameters().get(name).variable();
    }

    /** Every expert for every token, masked by the scalar top-k of the (optionally dropped) scores. */
    static Variable reference(SigmaMoE m, Variable x, int k, Tensor keep, boolean useTopk) {
        int n = x.numel() / D;
        Variable rows = x.reshape(n, D);
        Variable s = rows.matmul(p(m, "selector").mT()).sigmoid();
        if (keep != null) {
            s = s.mul(Variable.constant(keep));
        }
        Variable g = useTopk ? s.mul(Variable.constant(DenseReference.topkMask(s.data(), k))) : s;
        // [1, N, d] @ [NE, d, G] -> [NE, N, G]; relu; @ [NE, G, d] -> [NE, N, d]
        Variable all = rows.unsqueeze(0).matmul(p(m, "up")).relu().matmul(p(m, "down"));
        return all.mul(g.mT().unsqueeze(2)).sum(new int[] {0}, false).reshape(x.shape());
    }

    /** gamma * sum_e pbar_e log pbar_e with pbar the plain mean of softmax rows. */
    static Variable referenceRegularizer(SigmaMoE m, Variable x, double gamma) {
        Variable logits = x.reshape(x.numel() / D, D).matmul(p(m, "selector").mT());
        Variable pbar = logits.softmax(1).mean(0);
        return pbar.mul(pbar.log()).sum().mul(gamma);
    }

    private static void check(int k, boolean useTopk) {
        Generator gen = new Generator(20 + k);
        SigmaMoE m = layer(k, 0.3, 7 + k);
        Variable x = Variable.parameter(randn(gen, 2, 3, D));
        Tensor w = randn(gen, 2, 3, D);
        assertClose(m.forward(x).data(), reference(m, x, k, null, useTopk).data(), 1e-12, "output");
        assertClose(m.auxLoss().data(), referenceRegularizer(m, x, 0.3).data(), 1e-12, "regulariser");
        Map<String, Tensor> got = DenseReference.gradients(m, List.of(x),
                () -> m.forward(x).mul(Variable.constant(w)).sum().add(m.auxLoss()));
        Map<String, Tensor> want = DenseReference.gradients(m, List.of(x),
                () -> reference(m, x, k, null, useTopk).mul(Variable.constant(w)).sum()
                        .add(referenceRegularizer(m, x, 0.3)));
        DenseReference.assertSameGradients(got, want, 1e-10);
    }

    @Test
    void matchesDenseReferenceForwardAndBackward() {
        check(2, true);
        check(1, true);
    }

    @Test
    void allExpertsActiveEqualsSumOverEveryExpert() {
        check(NE, false);
    }

    @Test
    void expertDropoutZeroesScoresWithTheSameMaskInTrainingOnly() {
        Generator gen = new Generator(5);
        SigmaMoE m = layer(2, 0, 3).expertDropout(0.5, new Generator(77));
        Variable x = Variable.constant(randn(gen, 4, D));
        Tensor keep = Tensor.rand(new Generator(77), DType.FLOAT64, Device.CPU, 4, NE).lt(0.5).to(DType.FLOAT64);
        m.train();
        assertClose(m.forward(x).data(), reference(m, x, 2, keep, true).data(), 1e-12, "training output");
        m.eval();
        assertClose(m.forward(x).data(), reference(m, x, 2, null, true).data(), 1e-12, "eval output");
    }

    @Test
    void entropyWeightMustBeFiniteAndNonNegative() {
        SigmaMoE m = new SigmaMoE(D, NE, 3, 2);
        for (double gamma : new double[] {Double.NaN, -1e-4, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> m.entropyWeight(gamma)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SigmaMoE.entropyWeight: gamma must be finite and >= 0, got " + gamma);
        }
        assertThat(m.entropyWeight(0).toString()).doesNotContain("gamma");
        assertThat(m.entropyWeight(1e-3).toString()).contains("gamma=0.001");
    }

    @Test
    void permutingExpertsLeavesOutputUnchanged() {
        Generator gen = new Generator(6);
        SigmaMoE m = layer(2, 0, 4);
        Variable x = Variable.constant(randn(gen, 5, D));
        Tensor before = m.forward(x).data();
        Tensor perm = Tensor.of(new long[] {3, 1, 0, 2}, NE);
        for (String name : List.of("up", "down", "selector")) {
            Tensor t = m.namedParameters().get(name).data();
            t.copyFrom(t.indexSelect(0, perm));
        }
        assertClose(m.forward(x).data(), before, 1e-12, "output after permuting experts");
    }

    @Test
    void initialisationUsesDenseWidthForDownProjection() {
        int layers = 8;
        double ws = Math.sqrt(2.0 / layers);
        SigmaMoE m = new SigmaMoE(64, 16, 32, 4);
        m.to(DType.FLOAT64);
        m.resetParameters(ws, new Generator(2));
        assertThat(SwitchHeadAttentionTest.std(m.namedParameters().get("up").data()))
                .isCloseTo(ws / 8, Offset.offset(0.01 * ws / 8));
        assertThat(SwitchHeadAttentionTest.std(m.namedParameters().get("down").data()))
                .isCloseTo(ws / Math.sqrt(16 * 32), Offset.offset(0.02 * ws / Math.sqrt(512)));
    }

    @Test
    void gradcheckCasesPass() {
        for (GradcheckCase c : new MoeGradcheckCases().cases()) {
            if (c.name().startsWith("SigmaMoE") || c.name().startsWith("ExpertMatmul")) {
                c.run().requirePassed();
            }
        }
    }
}
