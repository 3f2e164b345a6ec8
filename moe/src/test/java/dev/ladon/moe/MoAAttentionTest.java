package dev.ladon.moe;

import static dev.ladon.moe.DenseReference.assertClose;
import static dev.ladon.moe.DenseReference.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.nn.RotaryEmbedding;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class MoAAttentionTest {
    private static final int B = 2;
    private static final int T = 3;
    private static final int D = 6;
    private static final int DH = 4;
    private static final int E = 5;

    private static MoAAttention layer(int k, MoAAttention.Selection selection, SwitchHeadAttention.Position position,
            long seed) {
        MoAAttention a = new MoAAttention(D, DH, E, k, selection, position).entropyWeight(0.2);
        a.to(DType.FLOAT64);
        a.resetParameters(1, false, new Generator(seed));
        return a;
    }

    private static Variable p(MoAAttention a, String name) {
        return a.namedParameters().get(name).variable();
    }

    /** A loop over all E experts, each a full single-head attention, gated by the masked router output. */
    static Variable reference(MoAAttention a, Variable x, Variable s, int k, MoAAttention.Selection selection) {
        int t = x.size(1);
        int tk = s.size(1);
        Variable logits = x.matmul(p(a, "router").mT());
        Variable scores = selection == MoAAttention.Selection.SOFTMAX ? logits.softmax(2) : logits;
        Tensor mask = DenseReference.topkMask(scores.data(), k);
        Variable gates = (selection == MoAAttention.Selection.SOFTMAX ? scores : scores.sigmoid())
                .mul(Variable.constant(mask));
        Variable kv = s.matmul(p(a, "wkv"));
        Variable key = kv.narrow(2, 0, DH).unsqueeze(1);
        Variable value = kv.narrow(2, DH, DH).unsqueeze(1);
        Variable y = null;
        for (int e = 0; e < E; e++) {
            Variable q = x.matmul(p(a, "wq").select(0, e)).unsqueeze(1).mul(p(a, "scale"));
            Variable keyE = key;
            Variable rel = null;
            if (a.namedParameters().containsKey("wpos")) {
                Variable r = Variable.constant(DenseReference.relativeEncodings(tk, D)).matmul(p(a, "wpos"))
                        .view(tk, 1, DH);
                rel = DenseReference.relativeScores(q, r);
            } else {
                RotaryEmbedding rope = new RotaryEmbedding(DH, 0.5, 10000);
                q = rope.apply(q, tk - t);
                keyE = rope.apply(key, 0);
            }
            Variable h = DenseReference.causalAttention(q, keyE, value, rel, 1.0).squeeze(1);
            Variable term = h.matmul(p(a, "wo").select(0, e)).mul(gates.narrow(2, e, 1));
            y = y == null ? term : y.add(term);
        }
        return y;
    }

    /** alpha * E * sum f_i P_i + beta * mean lse^2, with f counted by scalar loops over the mask. */
    static Variable referenceSwitchLosses(MoAAttention a, Variable x, int k, double alpha, double beta) {
        Variable logits = x.reshape(x.numel() / D, D).matmul(p(a, "router").mT());
        Variable probs = logits.softmax(1);
        double[] mask = DenseReference.topkMask(probs.data(), k).toDoubleArray();
        int n = mask.length / E;
        double[] f = new double[E];
        for (int i = 0; i < mask.length; i++) {
            f[i % E] += mask[i] / (n * k);
        }
        Variable balance = probs.mean(0).mul(Variable.constant(Tensor.of(f, E))).sum().mul(E);
        Variable z = logits.exp().sum(new int[] {1}, false).log().square().mean();
        return balance.mul(alpha).add(z.mul(beta));
    }

    private static void check(int k, MoAAttention.Selection selection, SwitchHeadAttention.Position position,
            int memory) {
        Generator gen = new Generator(40 + k + memory);
        MoAAttention a = layer(k, selection, position, 3 + k);
        Variable x = Variable.parameter(randn(gen, B, T, D));
        Variable s = Variable.parameter(randn(gen, B, memory + T, D));
        Tensor w = randn(gen, B, T, D);
        assertClose(a.forward(x, s).data(), reference(a, x, s, k, selection).data(), 1e-10, "output");
        Map<String, Tensor> got = DenseReference.gradients(a, List.of(x, s),
                () -> a.forward(x, s).mul(Variable.constant(w)).sum());
        Map<String, Tensor> want = DenseReference.gradients(a, List.of(x, s),
                () -> reference(a, x, s, k, selection).mul(Variable.constant(w)).sum());
        DenseReference.assertSameGradients(got, want, 1e-10);
    }

    @Test
    void softmaxXlWithMemoryMatchesReference() {
        check(2, MoAAttention.Selection.SOFTMAX, SwitchHeadAttention.Position.XL, 2);
    }

    @Test
    void sigmoidRopeMatchesReference() {
        check(3, MoAAttention.Selection.SIGMOID, SwitchHeadAttention.Position.ROPE, 0);
    }

    @Test
    void allExpertsActiveMatchesReference() {
        check(E, MoAAttention.Selection.SOFTMAX, SwitchHeadAttention.Position.XL, 1);
    }

    @Test
    void switchAndZLossesMatchReferenceValueAndGradient() {
        Generator gen = new Generator(8);
        MoAAttention a = layer(2, MoAAttention.Selection.SOFTMAX, SwitchHeadAttention.Position.XL, 2)
                .switchLossWeights(0.01, 0.001);
        Variable x = Variable.parameter(randn(gen, B, T, D));
        a.forward(x, x);
        Tensor aux = a.auxLoss().data();
        Variable expected = referenceSwitchLosses(a, x, 2, 0.01, 0.001);
        assertClose(aux, expected.data(), 1e-12, "aux loss");
        Map<String, Tensor> got = DenseReference.gradients(a, List.of(x), () -> {
            a.forward(x, x);
            return a.auxLoss();
        });
        Map<String, Tensor> want = DenseReference.gradients(a, List.of(x),
                () -> referenceSwitchLosses(a, x, 2, 0.01, 0.001));
        // Only the router and the input reach the losses; every other parameter has no gradient in both.
        assertClose(got.get("router"), want.get("router"), 1e-12, "router gradient");
        assertClose(got.get("input0"), want.get("input0"), 1e-12, "input gradient");
    }

    @Test
    void zeroRouterPicksLowestIndicesWithUniformGates() {
        MoAAttention a = new MoAAttention(D, DH, E, 2, MoAAttention.Selection.SOFTMAX, SwitchHeadAttention.Position.XL);
        a.to(DType.FLOAT64);
        a.resetParameters(1, true, new Generator(1));
        ExpertUsage usage = new ExpertUsage();
        a.trackUsage(usage);
        Variable x = Variable.constant(randn(new Generator(2), B, T, D));
        a.forward(x, x);
        long[] counts = usage.counts("router")[0];
        assertThat(counts).containsExactly(B * T, B * T, 0, 0, 0);
        // With uniform p = 1/E, f = (1/2, 1/2, 0, 0, 0): L_switch = E * (1/E) = 1; L_z = (log E)^2.
        assertThat(a.auxLoss().item()).isCloseTo(0.01 + 0.001 * Math.log(E) * Math.log(E), Offset.offset(1e-12));
    }

    @Test
    void initialisationFollowsReimplementation() {
        MoAAttention a = new MoAAttention(64, 16, 4, 2, MoAAttention.Selection.SOFTMAX,
                SwitchHeadAttention.Position.XL);
        a.to(DType.FLOAT64);
        double c = Math.sqrt(2.0 / 4);
        a.resetParameters(c, false, new Generator(3));
        assertThat(SwitchHeadAttentionTest.std(a.namedParameters().get("wq").data()))
                .isCloseTo(c / 8, Offset.offset(0.02 * c / 8));
        assertThat(SwitchHeadAttentionTest.std(a.namedParameters().get("wo").data()))
                .isCloseTo(c / Math.sqrt(2 * 16), Offset.offset(0.02 * c / Math.sqrt(32)));
        assertThat(a.namedParameters().get("scale").data().item()).isEqualTo(0.25);
    }

    @Test
    void rejectsANullSelectionOrPosition() {
        assertThatThrownBy(() -> new MoAAttention(D, DH, E, 2, null, SwitchHeadAttention.Position.XL))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must not be null, got selection=null position=XL");
        assertThatThrownBy(() -> new MoAAttention(D, DH, E, 2, MoAAttention.Selection.SIGMOID, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got selection=SIGMOID position=null");
    }

    @Test
    void regulariserWeightsMustBeFiniteAndNonNegative() {
        MoAAttention a = new MoAAttention(D, DH, E, 2, MoAAttention.Selection.SOFTMAX, SwitchHeadAttention.Position.XL);
        assertThatThrownBy(() -> a.entropyWeight(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("MoAAttention.entropyWeight: gamma must be finite and >= 0, got NaN");
        assertThatThrownBy(() -> a.switchLossWeights(0.01, -0.001)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("MoAAttention.switchLossWeights: beta must be finite and >= 0, got -0.001");
        assertThatThrownBy(() -> a.switchLossWeights(Double.POSITIVE_INFINITY, 0))
                .hasMessageContaining("alpha must be finite and >= 0, got Infinity");
    }

    @Test
    void gradcheckCasesPass() {
        List<String> ran = new ArrayList<>();
        for (GradcheckCase c : new MoeGradcheckCases().cases()) {
            if (c.name().startsWith("MoA")) {
                c.run().requirePassed();
                ran.add(c.name());
            }
        }
        assertThat(ran).hasSize(5);
    }
}
