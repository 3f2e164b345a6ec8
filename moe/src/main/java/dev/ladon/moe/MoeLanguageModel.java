package dev.ladon.moe;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.FeedForward;
import dev.ladon.nn.Init;
import dev.ladon.nn.Module;
import dev.ladon.nn.MultiHeadAttention;
import dev.ladon.nn.RelativeMultiHeadAttention;
import dev.ladon.nn.TransformerBlock;
import dev.ladon.nn.TransformerConfig;
import dev.ladon.nn.TransformerLM;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A language model of one {@link ModelConfig}: nn's pre-LN {@link TransformerLM} whose blocks carry the
 * attention and feed-forward layers of the config's variant (dense, SwitchHead, MoA, SwitchAll = SwitchHead
 * + sigma-MoE, or dense attention + sigma-MoE). Token ids [B, T] give logits [B, T, vocab]; after each
 * forward {@link #auxLoss()} is the sum of the routing regularisers of all layers, which the training loop
 * adds to the cross-entropy. Build one with {@link #build}.
 */
public final class MoeLanguageModel extends Module {
    private final ModelConfig config;
    private final TransformerLM lm;
    private final List<Module> expertLayers;

    private MoeLanguageModel(ModelConfig config, TransformerLM lm, List<Module> expertLayers) {
        this.config = config;
        this.lm = registerModule("lm", lm);
        this.expertLayers = expertLayers;
    }

    /**
     * The model of {@code config}, initialised per the specs (residual scale sqrt(2/L)); SwitchHead layers make
     * the config's projections experts (V and O in the paper, any set in its ablation).
     */
    public static MoeLanguageModel build(ModelConfig config, Generator gen) {
        boolean xl = config.positionEncoding() == ModelConfig.PositionEncoding.XL;
        TransformerConfig shape = new TransformerConfig(config.vocabSize(), config.dModel(), config.heads(),
                config.dHead(), config.layers(), config.dFF(), config.dropout(),
                xl ? TransformerConfig.Positions.XL_RELATIVE : TransformerConfig.Positions.ROPE, xl ? 0 : 0.5,
                FeedForward.Activation.RELU, false);
        List<TransformerBlock> blocks = new ArrayList<>();
        List<Module> expertLayers = new ArrayList<>();
        for (int layer = 0; layer < config.layers(); layer++) {
            blocks.add(block(config, gen, expertLayers));
        }
        return new MoeLanguageModel(config, new TransformerLM(shape, blocks::get, gen), expertLayers);
    }

    private static TransformerBlock block(ModelConfig c, Generator gen, List<Module> expertLayers) {
        double scale = Init.residualScale(c.layers());
        int d = c.dModel();
        SwitchHeadAttention.Position position = c.positionEncoding() == ModelConfig.PositionEncoding.XL
                ? SwitchHeadAttention.Position.XL : SwitchHeadAttention.Position.ROPE;
        Module attention;
        if (c.variant().switchHeadAttention()) {
            var a = new SwitchHeadAttention(d, c.heads(), c.dHead(), c.experts(), c.activeExperts(), position,
                    c.moeProjections());
            a.resetParameters(scale, gen);
            a.expertDropout(c.attentionExpertDropout(), new Generator(gen.seed() ^ expertLayers.size()));
            expertLayers.add(a);
            attention = a;
        } else if (c.variant() == ModelConfig.Variant.MOA) {
            MoAAttention.Selection selection = c.selection() == ModelConfig.Selection.SOFTMAX
                    ? MoAAttention.Selection.SOFTMAX : MoAAttention.Selection.SIGMOID;
            var a = new MoAAttention(d, c.dHead(), c.experts(), c.activeExperts(), selection, position);
            // The original MoA starts its softmax router at zero (moa.md section 4); the sigmoid mode uses
            // the re-implementation's equal-norm rows.
            a.resetParameters(scale, selection == MoAAttention.Selection.SOFTMAX, gen);
            a.expertDropout(c.attentionExpertDropout(), new Generator(gen.seed() ^ expertLayers.size()));
            expertLayers.add(a);
            attention = a;
        } else if (position == SwitchHeadAttention.Position.XL) {
            var a = new RelativeMultiHeadAttention(d, c.heads(), c.dHead());
            a.resetParameters(scale, gen);
            attention = a;
        } else {
            var a = new MultiHeadAttention(d, c.heads(), c.dHead(), 0.5);
            a.resetParameters(scale, gen);
            attention = a;
        }
        Module feedForward;
        if (c.variant().expertFeedForward()) {
            var moe = new SigmaMoE(d, c.ffExperts(), c.ffExpertSize(), c.ffActiveExperts())
                    .entropyWeight(c.ffEntropyRegularization())
                    .expertDropout(c.ffExpertDropout(), new Generator(gen.seed() ^ (1000 + expertLayers.size())));
            moe.resetParameters(scale, gen);
            expertLayers.add(moe);
            feedForward = moe;
        } else {
            var ff = new FeedForward(d, c.dFF(), FeedForward.Activation.RELU, c.dropout());
            Init.truncatedNormal(ff.up().weight(), scale / Math.sqrt(d), gen);
            Init.zeros(ff.up().bias());
            Init.truncatedNormal(ff.down().weight(), scale / Math.sqrt(c.dFF()), gen);
            Init.zeros(ff.down().bias());
            feedForward = ff;
        }
        return blockOf(d, attention, feedForward, c.dropout());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static TransformerBlock blockOf(int d, Module attention, Module feedForward, double dropout) {
        // Each branch above built a Module that implements the matching layer interface.
        return new TransformerBlock(d, (Module & dev.ladon.nn.AttentionLayer) attention,
                (Module & dev.ladon.nn.FeedForwardLayer) feedForward, dropout);
    }

    /** Logits [B, T, vocab] for ids [B, T], without memory. */
    public Variable forward(Tensor ids) {
        return lm.forward(ids);
    }

    /** Logits and the memory for the next segment; memory is one [B, Tm, d] per block, or null. */
    public TransformerLM.Output forward(Tensor ids, List<Tensor> memory) {
        return lm.forward(ids, memory);
    }

    /** The sum of every expert layer's regularisers from the last forward (a scalar, zero if none). */
    public Variable auxLoss() {
        Variable total = null;
        for (Module layer : expertLayers) {
            Variable aux = switch (layer) {
                case MoAAttention a -> a.auxLoss();
                case SigmaMoE m -> m.auxLoss();
                default -> null;
            };
            if (aux != null) {
                total = total == null ? aux : total.add(aux);
            }
        }
        Tensor zero = lm.embedding().weight().data();
        return total != null ? total : Variable.constant(Tensor.zeros(zero.dtype(), zero.device()));
    }

    /**
     * Starts counting expert selections in every expert layer; returns one tracker per layer, keyed
     * "layer i attention" / "layer i feedForward", filled by the following forward passes.
     */
    public Map<String, ExpertUsage> trackUsage() {
        return trackUsage(new LinkedHashMap<>());
    }

    /**
     * Counts the following expert selections into {@code trackers} (keyed as by {@link #trackUsage()}),
     * adding a fresh tracker for every expert layer the map lacks; so counting can pause (see
     * {@link #stopTrackingUsage}) and resume into the same totals. Returns {@code trackers}.
     */
    public Map<String, ExpertUsage> trackUsage(Map<String, ExpertUsage> trackers) {
        attachUsage(name -> trackers.computeIfAbsent(name, k -> new ExpertUsage()));
        return trackers;
    }

    /** Stops counting in every expert layer; the trackers keep what they counted. */
    public void stopTrackingUsage() {
        attachUsage(name -> null);
    }

    /** Gives every expert layer the tracker {@code trackerFor} returns for its name (null: none). */
    private void attachUsage(Function<String, ExpertUsage> trackerFor) {
        int layer = 0;
        for (TransformerBlock block : lm.blocks()) {
            String attention = "layer " + layer + " attention";
            if (block.attention() instanceof SwitchHeadAttention a) {
                a.trackUsage(trackerFor.apply(attention));
            } else if (block.attention() instanceof MoAAttention a) {
                a.trackUsage(trackerFor.apply(attention));
            }
            if (block.feedForward() instanceof SigmaMoE m) {
                m.trackUsage(trackerFor.apply("layer " + layer + " feedForward"));
            }
            layer++;
        }
    }

    /** True when the model carries a Transformer-XL memory between segments. */
    public boolean usesMemory() {
        return lm.usesMemory();
    }

    public ModelConfig config() {
        return config;
    }

    public TransformerLM transformer() {
        return lm;
    }

    @Override
    protected String extraRepr() {
        return config.name() + " (" + config.variant() + ")";
    }
}
