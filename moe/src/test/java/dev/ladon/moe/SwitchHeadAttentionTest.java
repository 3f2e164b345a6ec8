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
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class SwitchHeadAttentionTest {
    private static final int B = 2;
    private static final int T = 3;
    private static final int MEMORY = 2;
    private static final int D = 6;
    private static final int H = 2;
    private static final int DH = 4;
    private static final int E = 4;

    private static SwitchHeadAttention layer(int k, SwitchHeadAttention.Position position, long seed) {
        return layer(k, position, seed, "vo");
    }

    private static SwitchHeadAttention layer(int k, SwitchHeadAttention.Position position, long seed,
            String expertProjections) {
        SwitchHeadAttention a = new SwitchHeadAttention(D, H, DH, E, k, position,
                ModelConfig.Projection.parseSet(expertProjections));
        a.to(DType.FLOAT64);
        a.resetParameters(1, new Generator(seed));
        return a;
    }

    private static Variable p(SwitchHeadAttention a, String name) {
        return a.namedParameters().get(name).variable();
    }

    /**
     * Every expert computed for every token, then masked by the (scalar-loop) top-k choice; attention as a
     * plain softmax. With {@code useTopk} false every expert counts (the k = E formula of spec 8b).
     */
    static Variable reference(SwitchHeadAttention a, Variable x, Variable s, int k, boolean useTopk) {
        int t = x.size(1);
        int tk = s.size(1);
        Variable gS = a.namedParameters().containsKey("sourceSelector") ? gates(a, s, "sourceSelector", k, useTopk)
                : null;
        Variable gD = a.namedParameters().containsKey("destinationSelector")
                ? gates(a, x, "destinationSelector", k, useTopk) : null;
        Variable v = projection(a, "wv", s, gS);
        Variable q = projection(a, "wq", x, gD);
        Variable kk = projection(a, "wk", s, gS);
        Variable rel = null;
        if (a.namedParameters().containsKey("wp")) {
            Variable r = Variable.constant(DenseReference.relativeEncodings(tk, D)).matmul(p(a, "wp")).view(tk, H, DH);
            rel = DenseReference.relativeScores(q, r);
        } else {
            RotaryEmbedding rope = new RotaryEmbedding(DH, 0.5, 10000);
            q = rope.apply(q, tk - t);
            kk = rope.apply(kk, 0);
        }
        Variable o = DenseReference.causalAttention(q, kk, v, rel, 1 / Math.sqrt(DH));
        if (p(a, "wo").dim() == 2) {
            return o.permute(0, 2, 1, 3).reshape(B, t, H * DH).matmul(p(a, "wo"));
        }
        // all output experts: [B, H, 1, T, dh] @ [H, E, dh, d] -> [B, H, E, T, d], gated, summed over H and E
        Variable oAll = o.unsqueeze(2).matmul(p(a, "wo"));
        return oAll.mul(gD.permute(0, 2, 3, 1).unsqueeze(4)).sum(new int[] {1, 2}, false);
    }

    /** Gates [B, n, H, E] of tokens [B, n, d]: the sigmoid of every logit, zero outside the top k if useTopk. */
    private static Variable gates(SwitchHeadAttention a, Variable tokens, String selector, int k, boolean useTopk) {
        Variable z = tokens.matmul(p(a, selector).mT()).view(B, tokens.size(1), H, E);
        return useTopk ? z.sigmoid().mul(Variable.constant(DenseReference.topkMask(z.data(), k))) : z.sigmoid();
    }

    /** Q, K or V [B, H, n, dh] of tokens [B, n, d]: every expert, gated and summed, or the dense matrix. */
    private static Variable projection(SwitchHeadAttention a, String weight, Variable tokens, Variable gates) {
        int n = tokens.size(1);
        if (p(a, weight).dim() == 2) {
            return tokens.matmul(p(a, weight)).view(B, n, H, DH).permute(0, 2, 1, 3);
        }
        // all experts: [B, 1, 1, n, d] @ [H, E, d, dh] -> [B, H, E, n, dh]
        Variable all = tokens.view(B, 1, 1, n, D).matmul(p(a, weight));
        return all.mul(gates.permute(0, 2, 3, 1).unsqueeze(4)).sum(new int[] {2}, false);
    }

    private static void checkAgainstReference(int k, SwitchHeadAttention.Position position, int memory,
            boolean useTopk) {
        checkAgainstReference(k, position, memory, useTopk, "vo");
    }

    private static void checkAgainstReference(int k, SwitchHeadAttention.Position position, int memory,
            boolean useTopk, String expertProjections) {
        Generator gen = new Generator(11 + k + memory);
        SwitchHeadAttention a = layer(k, position, 5 + k, expertProjections);
        Variable x = Variable.parameter(randn(gen, B, T, D));
        Variable s = Variable.parameter(randn(gen, B, memory + T, D));
        Tensor weights = randn(gen, B, T, D);
        Variable y = a.forward(x, s);
        Variable expected = reference(a, x, s, k, useTopk);
        assertClose(y.data(), expected.data(), 1e-10, "output");
        Map<String, Tensor> got = DenseReference.gradients(a, List.of(x, s),
                () -> a.forward(x, s).mul(Variable.constant(weights)).sum());
        Map<String, Tensor> want = DenseReference.gradients(a, List.of(x, s),
                () -> reference(a, x, s, k, useTopk).mul(Variable.constant(weights)).sum());
        DenseReference.assertSameGradients(got, want, 1e-10);
    }

    @Test
    void xlWithMemoryMatchesDenseReferenceForwardAndBackward() {
        checkAgainstReference(2, SwitchHeadAttention.Position.XL, MEMORY, true);
    }

    @Test
    void xlWithoutMemoryMatchesDenseReference() {
        checkAgainstReference(1, SwitchHeadAttention.Position.XL, 0, true);
    }

    @Test
    void ropeMatchesDenseReferenceForwardAndBackward() {
        checkAgainstReference(2, SwitchHeadAttention.Position.ROPE, MEMORY, true);
    }

    @Test
    void everyProjectionSetOfTheAblationMatchesTheDenseReference() {
        // Spec section 8: one, two, three or all four projections as experts; Q rides the destination
        // selector with O, K the source selector with V.
        for (String set : List.of("v", "qo", "vok", "qkvo", "k", "q")) {
            checkAgainstReference(2, SwitchHeadAttention.Position.XL, MEMORY, true, set);
            checkAgainstReference(2, SwitchHeadAttention.Position.ROPE, MEMORY, true, set);
        }
        SwitchHeadAttention valuesOnly = layer(2, SwitchHeadAttention.Position.XL, 1, "v");
        assertThat(valuesOnly.namedParameters()).as("no destination side without Q or O experts")
                .containsKey("sourceSelector").doesNotContainKey("destinationSelector");
        assertThat(valuesOnly.namedParameters().get("wo").data().shape()).containsExactly(H * DH, D);
        assertThat(layer(2, SwitchHeadAttention.Position.XL, 1, "qo").namedParameters())
                .containsKey("destinationSelector").doesNotContainKey("sourceSelector");
        assertThatThrownBy(() -> new SwitchHeadAttention(D, H, DH, E, 2, SwitchHeadAttention.Position.XL,
                java.util.Set.of())).hasMessageContaining("at least one of Q, K, V, O");
    }

    @Test
    void allExpertsActiveEqualsSumOverEveryExpert() {
        checkAgainstReference(E, SwitchHeadAttention.Position.XL, MEMORY, false);
    }

    @Test
    void permutingExpertsTogetherWithSelectorRowsLeavesOutputUnchanged() {
        Generator gen = new Generator(3);
        SwitchHeadAttention a = layer(2, SwitchHeadAttention.Position.XL, 9);
        Tensor x = randn(gen, B, T, D);
        Tensor s = randn(gen, B, MEMORY + T, D);
        Tensor before = a.forward(Variable.constant(x), Variable.constant(s)).data();
        int[] perm = {2, 0, 3, 1};
        long[] flat = new long[H * E];
        for (int h = 0; h < H; h++) {
            for (int e = 0; e < E; e++) {
                flat[h * E + e] = (long) h * E + perm[e];
            }
        }
        Tensor index = Tensor.of(flat, H * E);
        for (String name : List.of("wv", "wo", "sourceSelector", "destinationSelector")) {
            Tensor w = a.namedParameters().get(name).data();
            int[] shape = w.shape();
            int rest = w.numel() / (H * E);
            Tensor permuted = w.reshape(H * E, rest).indexSelect(0, index).reshape(shape);
            w.copyFrom(permuted);
        }
        Tensor after = a.forward(Variable.constant(x), Variable.constant(s)).data();
        assertClose(after, before, 1e-12, "output after permuting experts");
        assertThat(a.namedParameters().get("wv").data().get(0, 0, 0, 0))
                .as("the permutation changed the weights").isNotEqualTo(0.0);
    }

    @Test
    void initialisationFollowsSpecSection5() {
        int layers = 8;
        double c = Math.sqrt(2.0 / layers);
        SwitchHeadAttention a = new SwitchHeadAttention(64, 2, 32, 8, 2, SwitchHeadAttention.Position.XL);
        a.to(DType.FLOAT64);
        a.resetParameters(c, new Generator(1));
        assertThat(std(a.namedParameters().get("wv").data())).isCloseTo(c / 8, Offset.offset(0.01 * c));
        assertThat(std(a.namedParameters().get("wo").data()))
                .isCloseTo(c / Math.sqrt(64), Offset.offset(0.01 * c));
        double[] sel = a.namedParameters().get("sourceSelector").data().toDoubleArray();
        double firstNorm = rowNorm(sel, 0, 64);
        for (int r = 1; r < 16; r++) {
            assertThat(rowNorm(sel, r, 64)).isCloseTo(firstNorm, Offset.offset(1e-9));
        }
        assertThat(std(a.namedParameters().get("sourceSelector").data()))
                .isCloseTo(c / 8, Offset.offset(0.05 * c / 8));
    }

    @Test
    void expertDropoutOnlyChangesChoicesInTraining() {
        Generator gen = new Generator(4);
        SwitchHeadAttention a = layer(2, SwitchHeadAttention.Position.XL, 2);
        Tensor x = randn(gen, B, T, D);
        Variable xv = Variable.constant(x);
        Tensor plain = a.forward(xv, xv).data();
        a.expertDropout(0.5, new Generator(8));
        a.eval();
        assertClose(a.forward(xv, xv).data(), plain, 1e-12, "eval output with expert dropout set");
        a.train();
        double diff = maxAbsDiff(a.forward(xv, xv).data(), plain);
        assertThat(diff).as("training output differs once experts are dropped").isGreaterThan(1e-6);
    }

    @Test
    void rejectsBadShapes() {
        SwitchHeadAttention a = layer(2, SwitchHeadAttention.Position.XL, 1);
        Variable x = Variable.constant(Tensor.zeros(DType.FLOAT64, 1, 3, D));
        Variable shorter = Variable.constant(Tensor.zeros(DType.FLOAT64, 1, 2, D));
        assertThatThrownBy(() -> a.forward(x, shorter)).hasMessageContaining("SwitchHeadAttention.forward");
        assertThatThrownBy(() -> new SwitchHeadAttention(4, 1, 2, 2, 3, SwitchHeadAttention.Position.XL))
                .hasMessageContaining("k <= E");
    }

    @Test
    void rejectsANullPosition() {
        assertThatThrownBy(() -> new SwitchHeadAttention(8, 2, 4, 2, 1, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("SwitchHeadAttention: position must not be null (XL or ROPE)");
    }

    @Test
    void gradcheckCasesPass() {
        for (GradcheckCase c : new MoeGradcheckCases().cases()) {
            if (c.name().startsWith("SwitchHead")) {
                c.run().requirePassed();
            }
        }
    }

    static double std(Tensor t) {
        double[] v = t.toDoubleArray();
        double mean = 0;
        for (double x : v) {
            mean += x;
        }
        mean /= v.length;
        double sq = 0;
        for (double x : v) {
            sq += (x - mean) * (x - mean);
        }
        return Math.sqrt(sq / v.length);
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            worst = Math.max(worst, Math.abs(x[i] - y[i]));
        }
        return worst;
    }

    private static double rowNorm(double[] w, int row, int cols) {
        double sq = 0;
        for (int c = 0; c < cols; c++) {
            sq += w[row * cols + c] * w[row * cols + c];
        }
        return Math.sqrt(sq);
    }
}
