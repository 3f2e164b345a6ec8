package dev.ladon.moe;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The shape of a language model of the SwitchHead, MoA and sigma-MoE papers: a pre-LN Transformer (XL with a
 * memory of previous blocks, or RoPE) whose attention is dense, SwitchHead or MoA and whose feedforward
 * block is dense or sigma-MoE. The layers are built from it, and the analytic accounting
 * ({@link dev.ladon.moe.accounting}) reads it.
 *
 * <p>Symbols follow the specs: L {@link #layers}, d {@link #dModel}, H {@link #heads}, d_h {@link #dHead},
 * E {@link #experts}, k {@link #activeExperts}, T {@link #context}, cb {@link #memoryBlocks}; for sigma-MoE
 * N_E {@link #ffExperts}, G {@link #ffExpertSize}, K {@link #ffActiveExperts}.
 *
 * <p>Paper configurations and small CPU ones are available by name ({@link #named}, {@link #names}); any
 * other configuration is built with {@link #builder} or changed with {@link #toBuilder}. The constructor
 * checks consistency and names the configuration in its error messages.
 *
 * @param name                    a label, e.g. {@code switchhead-47m}
 * @param variant                 which attention and feedforward blocks the model uses
 * @param positionEncoding        Transformer-XL relative encoding or RoPE
 * @param layers                  L, number of blocks
 * @param dModel                  d, width of the residual stream
 * @param heads                   H, attention heads; for MoA the number of selected experts k (what the MoA
 *                                tables call heads), so it must equal {@code activeExperts}
 * @param dHead                   d_h, width of one head
 * @param experts                 E, attention experts: per head for SwitchHead, per layer for MoA; 0 if dense
 * @param activeExperts           k, attention experts each token selects (per head for SwitchHead); 0 if dense
 * @param moeProjections          which of SwitchHead's projections are experts ({V, O} in the paper); empty
 *                                for other variants
 * @param selection               the attention experts' gate: sigmoid of the logit (SwitchHead, MoA
 *                                "sigmoid" rows) or softmax over all E (MoA's own gate)
 * @param dFF                     hidden width of the feedforward block; N_E * G for sigma-MoE
 * @param ffExperts               N_E, sigma-MoE experts; 0 for a dense feedforward block
 * @param ffExpertSize            G, hidden units per sigma-MoE expert; 0 if dense
 * @param ffActiveExperts         K, sigma-MoE experts per token; 0 if dense
 * @param context                 T, tokens per training block ({@code lm.unroll})
 * @param memoryBlocks            cb, Transformer-XL memory blocks of T tokens (1 in the XL runs, 0 for RoPE)
 * @param vocabSize               output classes (8000 SentencePiece pieces in the paper runs)
 * @param dropout                 the single dropout rate of the model
 * @param attentionExpertDropout  probability of hiding an attention expert from the top-k choice (training)
 * @param ffExpertDropout         sigma-MoE expert dropout delta (training)
 * @param ffEntropyRegularization sigma-MoE entropy regulariser coefficient gamma
 */
public record ModelConfig(String name, Variant variant, PositionEncoding positionEncoding, int layers, int dModel,
        int heads, int dHead, int experts, int activeExperts, Set<Projection> moeProjections, Selection selection,
        int dFF, int ffExperts, int ffExpertSize, int ffActiveExperts, int context, int memoryBlocks, int vocabSize,
        double dropout, double attentionExpertDropout, double ffExpertDropout, double ffEntropyRegularization) {

    /** The attention and feedforward blocks of a model. */
    public enum Variant {
        /** Dense multi-head attention, dense feedforward (the Transformer-XL / RoPE baselines). */
        DENSE(false, false),
        /** SwitchHead attention, dense feedforward. */
        SWITCHHEAD(true, false),
        /** MoA (mixture of attention heads), dense feedforward. */
        MOA(true, false),
        /** SwitchHead attention and sigma-MoE feedforward. */
        SWITCHALL(true, true),
        /** Dense attention and sigma-MoE feedforward (the sigma-MoE paper's models). */
        SIGMA_MOE(false, true);

        private final boolean expertAttention;
        private final boolean expertFeedForward;

        Variant(boolean expertAttention, boolean expertFeedForward) {
            this.expertAttention = expertAttention;
            this.expertFeedForward = expertFeedForward;
        }

        /** Whether the attention has experts (SwitchHead or MoA). */
        public boolean expertAttention() {
            return expertAttention;
        }

        /** Whether the feedforward block is sigma-MoE. */
        public boolean expertFeedForward() {
            return expertFeedForward;
        }

        /** Whether the attention is SwitchHead's (per-head experts with source and destination selectors). */
        public boolean switchHeadAttention() {
            return this == SWITCHHEAD || this == SWITCHALL;
        }
    }

    /** How positions enter the attention. */
    public enum PositionEncoding {
        /** Transformer-XL relative sinusoidal encoding projected per head, with a memory of past blocks. */
        XL,
        /** Rotary embedding on half of each head's channels, no memory in the paper runs. */
        ROPE
    }

    /** The four projections of an attention layer; SwitchHead may make any of them experts. */
    public enum Projection {
        Q, K, V, O;

        /**
         * SwitchHead's selectors an expert set needs: K and V experts are chosen by the source-side selector
         * (from the keys' tokens), Q and O experts by the destination side (the queries'); 0, 1 or 2.
         */
        public static int selectorsFor(Set<Projection> experts) {
            return (usesSourceSelector(experts) ? 1 : 0) + (usesDestinationSelector(experts) ? 1 : 0);
        }

        /** Whether a K or V projection is among the experts. */
        public static boolean usesSourceSelector(Set<Projection> experts) {
            return experts.contains(K) || experts.contains(V);
        }

        /** Whether a Q or O projection is among the experts. */
        public static boolean usesDestinationSelector(Set<Projection> experts) {
            return experts.contains(Q) || experts.contains(O);
        }

        /** Parses letters such as {@code "vo"} or {@code "QKVO"} into a set. */
        public static Set<Projection> parseSet(String letters) {
            EnumSet<Projection> set = EnumSet.noneOf(Projection.class);
            for (char ch : letters.toCharArray()) {
                try {
                    set.add(valueOf(String.valueOf(ch).toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("projections: '" + ch + "' in '" + letters
                            + "' is not one of q, k, v, o");
                }
            }
            return Collections.unmodifiableSet(set);
        }
    }

    /** The gate an attention expert's output is scaled by. */
    public enum Selection {
        /** sigmoid(logit) of the selected expert (SwitchHead; MoA "sigmoid" rows). */
        SIGMOID,
        /** softmax over all E logits, read at the selected experts, not renormalised (MoA). */
        SOFTMAX
    }

    public ModelConfig {
        String what = "ModelConfig '" + name + "': ";
        if (name == null || variant == null || positionEncoding == null || moeProjections == null
                || selection == null) {
            throw new IllegalArgumentException(what + "name, variant, position encoding, projections and selection "
                    + "must not be null");
        }
        EnumSet<Projection> projections = EnumSet.noneOf(Projection.class);
        projections.addAll(moeProjections);
        moeProjections = Collections.unmodifiableSet(projections);
        requirePositive(what, "layers", layers);
        requirePositive(what, "d_model", dModel);
        requirePositive(what, "heads", heads);
        requirePositive(what, "d_head", dHead);
        requirePositive(what, "d_ff", dFF);
        requirePositive(what, "context", context);
        requirePositive(what, "vocab size", vocabSize);
        if (memoryBlocks < 0) {
            throw new IllegalArgumentException(what + "memory blocks must be >= 0, got " + memoryBlocks);
        }
        for (double p : new double[] {dropout, attentionExpertDropout, ffExpertDropout}) {
            if (!(p >= 0 && p < 1)) {
                throw new IllegalArgumentException(what + "dropout rates must lie in [0, 1), got " + p);
            }
        }
        if (!(ffEntropyRegularization >= 0)) {
            throw new IllegalArgumentException(what + "entropy regularisation must be >= 0, got "
                    + ffEntropyRegularization);
        }
        if (variant.expertAttention()) {
            requirePositive(what, "attention experts E", experts);
            if (activeExperts < 1 || activeExperts > experts) {
                throw new IllegalArgumentException(what + "k=" + activeExperts + " attention experts per token must "
                        + "lie in [1, E=" + experts + "]");
            }
        } else if (experts != 0 || activeExperts != 0) {
            throw new IllegalArgumentException(what + variant + " attention has no experts, got E=" + experts + " k="
                    + activeExperts);
        }
        if (variant.switchHeadAttention() == moeProjections.isEmpty()) {
            throw new IllegalArgumentException(what + (variant.switchHeadAttention()
                    ? "SwitchHead needs at least one expert projection"
                    : variant + " has no SwitchHead expert projections, got " + moeProjections));
        }
        if (variant == Variant.MOA && heads != activeExperts) {
            throw new IllegalArgumentException(what + "MoA's heads are its k selected experts: heads=" + heads
                    + " must equal k=" + activeExperts);
        }
        if (variant.expertFeedForward()) {
            requirePositive(what, "sigma-MoE experts N_E", ffExperts);
            requirePositive(what, "sigma-MoE expert size G", ffExpertSize);
            if (ffActiveExperts < 1 || ffActiveExperts > ffExperts) {
                throw new IllegalArgumentException(what + "sigma-MoE K=" + ffActiveExperts + " must lie in [1, N_E="
                        + ffExperts + "]");
            }
            if ((long) ffExperts * ffExpertSize != dFF) {
                throw new IllegalArgumentException(what + "sigma-MoE d_ff must be N_E*G = " + ffExperts + "*"
                        + ffExpertSize + ", got " + dFF);
            }
        } else if (ffExperts != 0 || ffExpertSize != 0 || ffActiveExperts != 0) {
            throw new IllegalArgumentException(what + variant + " has a dense feedforward block, got N_E=" + ffExperts
                    + " G=" + ffExpertSize + " K=" + ffActiveExperts);
        }
    }

    private static void requirePositive(String what, String field, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(what + field + " must be >= 1, got " + value);
        }
    }

    /** T_k = T * (1 + cb): keys (memory plus current block) each query of a block can see at most. */
    public long keyLength() {
        return (long) context * (1L + memoryBlocks);
    }

    /** The configuration registered under {@code name} (see {@link #names()}). */
    public static ModelConfig named(String name) {
        return ConfigCatalog.get(name);
    }

    /** Every registered name: the paper configurations first, then small ones for CPU runs. */
    public static List<String> names() {
        return ConfigCatalog.names();
    }

    /** One line saying where a registered configuration comes from. */
    public static String description(String name) {
        return ConfigCatalog.description(name);
    }

    /** A builder holding this configuration, to change a few fields. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * A builder for a variant, starting from an XL model with one memory block, vocabulary 8000, no
     * dropout, no experts; set the rest. {@code moeProjections} defaults to {V, O} for SwitchHead variants
     * and {@code selection} to sigmoid.
     */
    public static Builder builder(String name, Variant variant) {
        return new Builder(name, variant);
    }

    /** Mutable holder of a {@link ModelConfig}'s fields; {@link #build} checks them. */
    public static final class Builder {
        private String name;
        private Variant variant;
        private PositionEncoding positionEncoding = PositionEncoding.XL;
        private int layers;
        private int dModel;
        private int heads;
        private int dHead;
        private int experts;
        private int activeExperts;
        private Set<Projection> moeProjections;
        private Selection selection = Selection.SIGMOID;
        private int dFF;
        private int ffExperts;
        private int ffExpertSize;
        private int ffActiveExperts;
        private int context;
        private int memoryBlocks = 1;
        private int vocabSize = 8000;
        private double dropout;
        private double attentionExpertDropout;
        private double ffExpertDropout;
        private double ffEntropyRegularization;

        private Builder(String name, Variant variant) {
            this.name = name;
            this.variant = variant;
            this.moeProjections = variant.switchHeadAttention() ? EnumSet.of(Projection.V, Projection.O)
                    : EnumSet.noneOf(Projection.class);
        }

        private Builder(ModelConfig c) {
            name = c.name;
            variant = c.variant;
            positionEncoding = c.positionEncoding;
            layers = c.layers;
            dModel = c.dModel;
            heads = c.heads;
            dHead = c.dHead;
            experts = c.experts;
            activeExperts = c.activeExperts;
            moeProjections = c.moeProjections;
            selection = c.selection;
            dFF = c.dFF;
            ffExperts = c.ffExperts;
            ffExpertSize = c.ffExpertSize;
            ffActiveExperts = c.ffActiveExperts;
            context = c.context;
            memoryBlocks = c.memoryBlocks;
            vocabSize = c.vocabSize;
            dropout = c.dropout;
            attentionExpertDropout = c.attentionExpertDropout;
            ffExpertDropout = c.ffExpertDropout;
            ffEntropyRegularization = c.ffEntropyRegularization;
        }

        public Builder name(String v) {
            name = v;
            return this;
        }

        public Builder positionEncoding(PositionEncoding v) {
            positionEncoding = v;
            return this;
        }

        public Builder layers(int v) {
            layers = v;
            return this;
        }

        public Builder dModel(int v) {
            dModel = v;
            return this;
        }

        public Builder heads(int v) {
            heads = v;
            return this;
        }

        public Builder dHead(int v) {
            dHead = v;
            return this;
        }

        /** E attention experts and k of them per token. */
        public Builder experts(int e, int k) {
            experts = e;
            activeExperts = k;
            return this;
        }

        public Builder experts(int e) {
            experts = e;
            return this;
        }

        public Builder activeExperts(int k) {
            activeExperts = k;
            return this;
        }

        public Builder moeProjections(Set<Projection> v) {
            moeProjections = v;
            return this;
        }

        public Builder selection(Selection v) {
            selection = v;
            return this;
        }

        /** A dense feedforward block of width dFF. */
        public Builder dFF(int v) {
            dFF = v;
            return this;
        }

        /** A sigma-MoE feedforward block: N_E experts of G units, K per token (sets d_ff = N_E * G). */
        public Builder sigmaMoe(int numExperts, int expertSize, int active) {
            ffExperts = numExperts;
            ffExpertSize = expertSize;
            ffActiveExperts = active;
            dFF = numExperts * expertSize;
            return this;
        }

        public Builder context(int v) {
            context = v;
            return this;
        }

        public Builder memoryBlocks(int v) {
            memoryBlocks = v;
            return this;
        }

        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        public Builder dropout(double v) {
            dropout = v;
            return this;
        }

        public Builder attentionExpertDropout(double v) {
            attentionExpertDropout = v;
            return this;
        }

        public Builder ffExpertDropout(double v) {
            ffExpertDropout = v;
            return this;
        }

        public Builder ffEntropyRegularization(double v) {
            ffEntropyRegularization = v;
            return this;
        }

        public ModelConfig build() {
            return new ModelConfig(name, variant, positionEncoding, layers, dModel, heads, dHead, experts,
                    activeExperts, moeProjections, selection, dFF, ffExperts, ffExpertSize, ffActiveExperts, context,
                    memoryBlocks, vocabSize, dropout, attentionExpertDropout, ffExpertDropout,
                    ffEntropyRegularization);
        }
    }
}
