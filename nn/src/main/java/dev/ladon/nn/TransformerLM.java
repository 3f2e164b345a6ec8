package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A decoder-only Transformer language model (SwitchHead spec section 3): token embedding (no sqrt(d)
 * scaling) -> dropout -> L pre-norm blocks -> final layer norm -> dropout -> output layer (untied, with
 * bias) or the transposed embedding (tied). Token ids [B, T] give logits [B, T, vocab].
 *
 * <p>Transformer-XL memory: each block also attends to a memory [B, Tm, d], that block's input from the
 * previous segment, without gradient. {@link #forward(Tensor, List)} returns the memory for the next call.
 */
public final class TransformerLM extends Module {
    /** Logits [B, T, vocab] and each block's input [B, T, d] (detached), the memory for the next segment. */
    public record Output(Variable logits, List<Tensor> memory) {
    }

    private final TransformerConfig config;
    private final Embedding embedding;
    private final Dropout dropout;
    private final ModuleList<TransformerBlock> blocks;
    private final LayerNorm finalNorm;
    private final Linear output;

    /** The dense model of {@code config}, initialised from the default generator. */
    public TransformerLM(TransformerConfig config) {
        this(config, Generator.defaultGenerator());
    }

    /** The dense model of {@code config} (attention by {@link TransformerConfig#positions()}), spec section 5 init. */
    public TransformerLM(TransformerConfig config, Generator gen) {
        this(config, layer -> denseBlock(config, gen), gen);
    }

    /**
     * A model whose blocks come from {@code blockFactory} (called with the layer index 0..L-1; it builds and
     * initialises each block, e.g. with mixture-of-experts layers). The embedding gets N(0, 1/d), the output
     * layer PyTorch's default init.
     */
    public TransformerLM(TransformerConfig config, IntFunction<TransformerBlock> blockFactory, Generator gen) {
        this.config = config;
        int d = config.dModel();
        this.embedding = registerModule("embedding", new Embedding(config.vocabSize(), d, gen));
        Init.normal(embedding.weight(), 1 / Math.sqrt(d), gen);
        this.dropout = registerModule("dropout", new Dropout(config.dropout()));
        this.blocks = registerModule("blocks", new ModuleList<>());
        for (int layer = 0; layer < config.layers(); layer++) {
            blocks.add(blockFactory.apply(layer));
        }
        this.finalNorm = registerModule("finalNorm", new LayerNorm(d));
        this.output = config.tiedEmbeddings() ? null
                : registerModule("output", new Linear(d, config.vocabSize(), true, gen));
    }

    /** One dense block of {@code config} with spec section 5 init (residual scale sqrt(2 / L)). */
    private static TransformerBlock denseBlock(TransformerConfig config, Generator gen) {
        double c = Init.residualScale(config.layers());
        int d = config.dModel();
        FeedForward ff = new FeedForward(d, config.dFF(), config.activation(), config.dropout());
        Init.truncatedNormal(ff.up().weight(), c / Math.sqrt(d), gen);
        Init.zeros(ff.up().bias());
        Init.truncatedNormal(ff.down().weight(), c / Math.sqrt(config.dFF()), gen);
        Init.zeros(ff.down().bias());
        if (config.positions() == TransformerConfig.Positions.XL_RELATIVE) {
            var attention = new RelativeMultiHeadAttention(d, config.heads(), config.headDim());
            attention.resetParameters(c, gen);
            return new TransformerBlock(d, attention, ff, config.dropout());
        }
        var attention = new MultiHeadAttention(d, config.heads(), config.headDim(), config.ropeFraction());
        attention.resetParameters(c, gen);
        return new TransformerBlock(d, attention, ff, config.dropout());
    }

    /** Logits [B, T, vocab] for ids [B, T], without memory. */
    public Variable forward(Tensor ids) {
        return forward(ids, null).logits();
    }

    /**
     * ids [B, T] (int); memory: one [B, Tm, d] tensor per block from the previous call, or null.
     * Returns the logits and the memory for the next segment.
     */
    public Output forward(Tensor ids, List<Tensor> memory) {
        if (ids.dim() != 2) {
            throw new IllegalArgumentException("TransformerLM.forward: expected ids [B, T], got " + Shape.str(ids.shape()));
        }
        if (memory != null && memory.size() != blocks.size()) {
            throw new IllegalArgumentException("TransformerLM.forward: memory has " + memory.size() + " entries for "
                    + blocks.size() + " blocks");
        }
        Variable x = dropout.forward(embedding.forward(ids));
        List<Tensor> next = new ArrayList<>(blocks.size());
        for (int layer = 0; layer < blocks.size(); layer++) {
            next.add(x.data());
            x = blocks.get(layer).forward(x, memory == null ? null : memory.get(layer));
        }
        x = dropout.forward(finalNorm.forward(x));
        Variable logits = output != null ? output.forward(x) : x.matmul(embedding.weight().variable().mT());
        return new Output(logits, next);
    }

    /** True when the model is meant to carry a memory between segments (Transformer-XL positions). */
    public boolean usesMemory() {
        return config.positions() == TransformerConfig.Positions.XL_RELATIVE;
    }

    public TransformerConfig config() {
        return config;
    }

    public ModuleList<TransformerBlock> blocks() {
        return blocks;
    }

    public Embedding embedding() {
        return embedding;
    }

    @Override
    protected String extraRepr() {
        return "vocab=" + config.vocabSize() + ", d=" + config.dModel() + ", layers=" + config.layers() + ", "
                + config.positions();
    }
}
