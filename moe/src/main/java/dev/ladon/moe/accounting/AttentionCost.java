package dev.ladon.moe.accounting;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.ModelConfig.PositionEncoding;
import dev.ladon.moe.ModelConfig.Projection;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Multiply-accumulates and activation memory (in floats) of <em>one attention layer</em> processing
 * <em>one sequence</em> of T tokens, counted exactly as the SwitchHead authors count them
 * ({@code paper/common.py} of their training code), so that the MACs and Mem columns of their tables come
 * out to the digit. The feedforward block is not counted.
 *
 * <p>The formulas, with T_k = T * (1 + cb):
 * <ul>
 *   <li>dense: MACs = 2 H d_h T T_k + 4 d H d_h T [+ 2 H d T d_h (1+cb) for XL];
 *       Mem = 2 H T T_k + 4 H d_h T [+ 2 H T d_h (1+cb) for XL].</li>
 *   <li>SwitchHead, with n_exp expert projections among q, k, v, o, n_proj = n_exp k + 4 - n_exp and
 *       n_sel = [k or v is experts] + [q or o is experts] selectors:
 *       MACs = 2 H d_h T T_k + n_proj d H d_h T + n_exp H k T d_h + n_sel E d T (1+cb) [+ 2 H d T d_h for XL];
 *       Mem = 2 H T T_k + 4 H d_h T + n_sel E T (1+cb) [+ 2 H T d_h for XL].</li>
 *   <li>MoA (XL only), with the k selected experts as heads:
 *       MACs = 2 k d_h T T_k + (2k+2) d d_h T + k k0 T d_h + E d T + 2 d T d_h (1+cb);
 *       Mem = 2 k T T_k + (2k+2) d_h T + 2 T d_h + E T (1+cb).</li>
 * </ul>
 * Quirks kept on purpose, because the published numbers contain them: SwitchHead's selector costs E d per
 * token with no factor H; its XL position term lacks the (1+cb) the dense model's has; MoA's formula
 * contains k0 = {@value #MOA_FORMULA_K0}, the default of the code's SwitchHead {@code moe.att.k} option,
 * which MoA itself does not use; memory does not depend on k ("with a smart kernel").
 *
 * @param macTerms    the MAC formula's terms, in the order above
 * @param memoryTerms the memory formula's terms
 * @param inputs      the values the formula was evaluated at, e.g. {@code H=2 E=5 k=2 d_h=76 ...}
 * @param context     T, to express costs per token
 */
public record AttentionCost(List<Term> macTerms, List<Term> memoryTerms, String inputs, int context) {

    /** The value {@code moe.att.k} has in the MoA runs (its default), which the MoA MAC formula multiplies in. */
    public static final int MOA_FORMULA_K0 = 2;

    /** One summand of a formula: its expression in the spec's symbols and its value. */
    public record Term(String expression, long value) {
    }

    /** @throws ArithmeticException if a total exceeds 2^63 - 1 */
    public AttentionCost {
        macTerms = List.copyOf(macTerms);
        memoryTerms = List.copyOf(memoryTerms);
        sum(macTerms);
        sum(memoryTerms);
    }

    /** MACs of one layer for one sequence of T tokens. */
    public long macs() {
        return sum(macTerms);
    }

    /** Activation floats of one layer for one sequence. */
    public long memory() {
        return sum(memoryTerms);
    }

    private static long sum(List<Term> terms) {
        return terms.stream().mapToLong(Term::value).reduce(0, Math::addExact);
    }

    /** {@link #macs()} / T. */
    public double macsPerToken() {
        return macs() / (double) context;
    }

    /** {@link #memory()} / T. */
    public double memoryPerToken() {
        return memory() / (double) context;
    }

    /**
     * The cost of one attention layer of {@code c}.
     *
     * @throws IllegalArgumentException for MoA with RoPE: the authors' MoA formula exists only for XL; or
     *     when a count exceeds 2^63 - 1 (a context of 2 billion tokens, say)
     */
    public static AttentionCost of(ModelConfig c) {
        try {
            return count(c);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("attention cost of '" + c.name() + "': the counts exceed 2^63 - 1, "
                    + "more than a 64-bit integer holds");
        }
    }

    private static AttentionCost count(ModelConfig c) {
        long h = c.heads();
        long dh = c.dHead();
        long d = c.dModel();
        long t = c.context();
        long cb = c.memoryBlocks();
        long tk = c.keyLength();
        boolean xl = c.positionEncoding() == PositionEncoding.XL;
        List<Term> macs = new ArrayList<>();
        List<Term> mem = new ArrayList<>();
        String common = "d=" + d + " T=" + t + " cb=" + cb + " T_k=" + tk + " " + c.positionEncoding();
        if (c.variant().switchHeadAttention()) {
            long e = c.experts();
            long k = c.activeExperts();
            Set<Projection> moe = c.moeProjections();
            long nExp = moe.size();
            long nProj = nExp * k + 4 - nExp;
            long nSel = Projection.selectorsFor(moe);
            macs.add(new Term("2*H*d_h*T*T_k", Product.of(2, h, dh, t, tk)));
            macs.add(new Term("n_proj*d*H*d_h*T", Product.of(nProj, d, h, dh, t)));
            macs.add(new Term("n_exp*H*k*T*d_h", Product.of(nExp, h, k, t, dh)));
            macs.add(new Term("n_sel*E*d*T*(1+cb)", Product.of(nSel, e, d, t, 1 + cb)));
            mem.add(new Term("2*H*T*T_k", Product.of(2, h, t, tk)));
            mem.add(new Term("4*H*d_h*T", Product.of(4, h, dh, t)));
            mem.add(new Term("n_sel*E*T*(1+cb)", Product.of(nSel, e, t, 1 + cb)));
            if (xl) {
                macs.add(new Term("2*H*d*T*d_h", Product.of(2, h, d, t, dh)));
                mem.add(new Term("2*H*T*d_h", Product.of(2, h, t, dh)));
            }
            String inputs = "SwitchHead H=" + h + " E=" + e + " k=" + k + " d_h=" + dh + " " + common + " experts="
                    + projectionLetters(moe) + " n_exp=" + nExp + " n_proj=" + nProj + " n_sel=" + nSel;
            return new AttentionCost(macs, mem, inputs, c.context());
        }
        if (c.variant() == ModelConfig.Variant.MOA) {
            if (!xl) {
                throw new IllegalArgumentException("attention cost of '" + c.name() + "': the authors' MoA formula "
                        + "is defined for the XL variant only, not " + c.positionEncoding());
            }
            long k = c.activeExperts();
            long e = c.experts();
            long k0 = MOA_FORMULA_K0;
            macs.add(new Term("2*k*d_h*T*T_k", Product.of(2, k, dh, t, tk)));
            macs.add(new Term("(2k+2)*d*d_h*T", Product.of(2 * k + 2, d, dh, t)));
            macs.add(new Term("k*k0*T*d_h", Product.of(k, k0, t, dh)));
            macs.add(new Term("E*d*T", Product.of(e, d, t)));
            macs.add(new Term("2*d*T*d_h*(1+cb)", Product.of(2, d, t, dh, 1 + cb)));
            mem.add(new Term("2*k*T*T_k", Product.of(2, k, t, tk)));
            mem.add(new Term("(2k+2)*d_h*T", Product.of(2 * k + 2, dh, t)));
            mem.add(new Term("2*T*d_h", Product.of(2, t, dh)));
            mem.add(new Term("E*T*(1+cb)", Product.of(e, t, 1 + cb)));
            String inputs = "MoA k=" + k + " E=" + e + " d_h=" + dh + " " + common + " k0=" + k0;
            return new AttentionCost(macs, mem, inputs, c.context());
        }
        macs.add(new Term("2*H*d_h*T*T_k", Product.of(2, h, dh, t, tk)));
        macs.add(new Term("4*d*H*d_h*T", Product.of(4, d, h, dh, t)));
        mem.add(new Term("2*H*T*T_k", Product.of(2, h, t, tk)));
        mem.add(new Term("4*H*d_h*T", Product.of(4, h, dh, t)));
        if (xl) {
            macs.add(new Term("2*H*d*T*d_h*(1+cb)", Product.of(2, h, d, t, dh, 1 + cb)));
            mem.add(new Term("2*H*T*d_h*(1+cb)", Product.of(2, h, t, dh, 1 + cb)));
        }
        return new AttentionCost(macs, mem, "dense H=" + h + " d_h=" + dh + " " + common, c.context());
    }

    private static String projectionLetters(Set<Projection> moe) {
        StringBuilder sb = new StringBuilder();
        for (Projection p : moe) {
            sb.append(p.name());
        }
        return sb.toString();
    }
}
