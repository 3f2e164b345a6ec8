package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckCaseProvider;
import dev.ladon.autograd.gradcheck.GradcheckFunction;
import dev.ladon.autograd.gradcheck.GradcheckOptions;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The nn layers in the gradient-check suite ({@code bin/ladon gradcheck}): each layer in float64 at tiny
 * sizes, differentiated with respect to its input (when floating) and every parameter. Inputs and
 * parameters are drawn on the CPU and then moved to the requested device, so every device checks the same
 * points.
 */
public final class NnGradcheckCases implements GradcheckCaseProvider {
    private static final DType F64 = DType.FLOAT64;
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
        cases.add(attentionCase("attention causal", gen, 2, 3, 3, 4, 3, false, true));
        cases.add(attentionCase("attention memory and relative term", gen, 2, 2, 5, 3, 2, true, true));
        cases.add(attentionCase("attention non-causal", gen, 1, 3, 4, 3, 3, false, false));
        cases.add(broadcastAttentionCase(gen));

        Linear linear = onDevice(new Linear(4, 3, true, gen));
        cases.add(ModuleGradcheck.of("Linear", linear, linear::forward, randn(gen, 2, 3, 4)));
        cases.add(embeddingCase(gen));
        LayerNorm layerNorm = new LayerNorm(5);
        Init.normal(layerNorm.namedParameters().get("weight"), 1, gen);
        onDevice(layerNorm);
        cases.add(ModuleGradcheck.of("LayerNorm", layerNorm, layerNorm::forward, randn(gen, 2, 3, 5)));
        RMSNorm rmsNorm = onDevice(new RMSNorm(5));
        cases.add(ModuleGradcheck.of("RMSNorm", rmsNorm, rmsNorm::forward, randn(gen, 2, 3, 5)));
        cases.add(dropoutCase(gen));
        FeedForward relu = onDevice(new FeedForward(4, 6, FeedForward.Activation.RELU, 0));
        cases.add(ModuleGradcheck.of("FeedForward relu", relu, relu::forward, randn(gen, 2, 2, 4)));
        FeedForward gelu = onDevice(new FeedForward(4, 6, FeedForward.Activation.GELU, 0));
        cases.add(ModuleGradcheck.of("FeedForward gelu", gelu, gelu::forward, randn(gen, 2, 2, 4)));
        cases.add(rotaryCase(gen));
        cases.add(attentionLayerCase("MultiHeadAttention", new MultiHeadAttention(4, 2, 3, 0), gen, 0));
        cases.add(attentionLayerCase("MultiHeadAttention rope with memory", new MultiHeadAttention(4, 2, 4, 0.5), gen, 2));
        cases.add(attentionLayerCase("MultiHeadAttention rope, fused Q K V projection", new MultiHeadAttention(4, 2, 4, 0.5),
                gen, 0));
        cases.add(attentionLayerCase("RelativeMultiHeadAttention with memory", relativeAttention(gen), gen, 2));
        cases.add(blockCase(gen));
        cases.add(languageModelCase(gen, TransformerConfig.Positions.XL_RELATIVE));
        cases.add(languageModelCase(gen, TransformerConfig.Positions.ROPE));
        cases.add(mseCase(gen));
        return cases;
    }

    private Tensor randn(Generator gen, int... shape) {
        return Tensor.randn(gen, F64, Device.CPU, shape).to(device);
    }

    /** The module with its parameters and buffers moved to this call's device (after they were drawn). */
    private <M extends Module> M onDevice(M module) {
        module.to(device);
        return module;
    }

    /** The fused attention op on its own, with respect to q, k, v (and rel). */
    private GradcheckCase attentionCase(String name, Generator gen, int heads, int tq, int tk, int d, int dv,
            boolean rel, boolean causal) {
        List<Tensor> inputs = new ArrayList<>(List.of(randn(gen, 1, heads, tq, d), randn(gen, 1, heads, tk, d),
                randn(gen, 1, heads, tk, dv)));
        if (rel) {
            inputs.add(randn(gen, heads, tk, d));
        }
        GradcheckFunction f = v -> AttentionFunction.attention(v.get(0), v.get(1), v.get(2), rel ? v.get(3) : null, 0.7,
                causal);
        return new GradcheckCase(name, List.of("nn.attention"), f, inputs, GradcheckOptions.defaults(), false);
    }

    /** One K/V of shape [B, 1, T, D] expanded over heads, as multi-query attention uses it. */
    private GradcheckCase broadcastAttentionCase(Generator gen) {
        GradcheckFunction f = v -> AttentionFunction.attention(v.get(0), v.get(1).expand(1, 3, 4, 2),
                v.get(2).expand(1, 3, 4, 2), null, 0.5, true);
        return new GradcheckCase("attention keys and values shared by heads", List.of("nn.attention"), f,
                List.of(randn(gen, 1, 3, 4, 2), randn(gen, 1, 1, 4, 2), randn(gen, 1, 1, 4, 2)),
                GradcheckOptions.defaults(), false);
    }

    private GradcheckCase embeddingCase(Generator gen) {
        Embedding e = onDevice(new Embedding(5, 3, gen));
        Tensor ids = Tensor.of(new long[] {0, 3, 3, 4, 1, 0}, 2, 3).to(device);
        return ModuleGradcheck.of("Embedding", e, v -> e.forward(ids), List.of());
    }

    /** Dropout in training mode with its generator rewound before each call, so the mask is fixed. */
    private GradcheckCase dropoutCase(Generator gen) {
        Generator maskStream = new Generator(7);
        Dropout dropout = new Dropout(0.4, maskStream);
        GradcheckFunction f = v -> {
            maskStream.reset(7);
            return dropout.forward(v.get(0));
        };
        return new GradcheckCase("Dropout", List.of("nn.Dropout"), f, List.of(randn(gen, 3, 5)),
                GradcheckOptions.defaults(), false);
    }

    private GradcheckCase rotaryCase(Generator gen) {
        RotaryEmbedding rotary = new RotaryEmbedding(6, 0.7, 10000);
        GradcheckFunction f = v -> rotary.apply(v.get(0), 3);
        return new GradcheckCase("RotaryEmbedding", List.of("nn.RotaryEmbedding"), f, List.of(randn(gen, 1, 2, 3, 6)),
                GradcheckOptions.defaults(), false);
    }

    private static RelativeMultiHeadAttention relativeAttention(Generator gen) {
        RelativeMultiHeadAttention a = new RelativeMultiHeadAttention(4, 2, 3);
        a.resetParameters(1.0, gen);
        // Non-zero biases, so that their gradients are checked away from the special point 0.
        Init.normal(a.namedParameters().get("contentBias"), 0.5, gen);
        Init.normal(a.namedParameters().get("positionBias"), 0.5, gen);
        return a;
    }

    /** An attention layer on x [1, 3, 4] with a memory of {@code memory} tokens: inputs [x, memory]. */
    private <A extends Module & AttentionLayer> GradcheckCase attentionLayerCase(String name, A layer,
            Generator gen, int memory) {
        onDevice(layer);
        return ModuleGradcheck.of(name, layer, v -> layer.forward(v.get(0),
                memory == 0 ? v.get(0) : Variable.cat(List.of(v.get(1), v.get(0)), 1)),
                List.of(randn(gen, 1, 3, 4), randn(gen, 1, memory, 4)));
    }

    /** A pre-norm block with relative attention and a memory (a constant), dropout 0. */
    private GradcheckCase blockCase(Generator gen) {
        TransformerBlock block = onDevice(new TransformerBlock(4, relativeAttention(gen),
                new FeedForward(4, 5, FeedForward.Activation.GELU, 0), 0));
        Tensor memory = randn(gen, 1, 2, 4);
        return ModuleGradcheck.of("TransformerBlock with memory", block, x -> block.forward(x, memory),
                randn(gen, 1, 3, 4));
    }

    /**
     * A one-layer language model's mean cross-entropy (with an ignored position and label smoothing): XL with
     * an untied output layer, or RoPE with the output tied to the embedding.
     */
    private GradcheckCase languageModelCase(Generator gen, TransformerConfig.Positions positions) {
        boolean tied = positions == TransformerConfig.Positions.ROPE;
        TransformerConfig config = new TransformerConfig(6, 4, 2, 2, 1, 5, 0, positions, 1.0,
                FeedForward.Activation.GELU, tied);
        TransformerLM lm = onDevice(new TransformerLM(config, gen));
        Tensor ids = Tensor.of(new long[] {1, 4, 2, 5, 0, 3}, 2, 3).to(device);
        Tensor targets = Tensor.of(new long[] {4, 2, -100, 0, 3, 3}, 2, 3).to(device);
        CrossEntropyLoss loss = new CrossEntropyLoss(-100, 0.1);
        return ModuleGradcheck.of("TransformerLM " + positions + (tied ? " tied" : "") + " cross-entropy", lm,
                v -> loss.forward(lm.forward(ids), targets), List.of());
    }

    private GradcheckCase mseCase(Generator gen) {
        MSELoss mse = new MSELoss();
        GradcheckFunction f = v -> mse.forward(v.get(0), v.get(1));
        return new GradcheckCase("MSELoss", List.of("nn.MSELoss"), f, List.of(randn(gen, 2, 3), randn(gen, 2, 3)),
                GradcheckOptions.defaults(), false);
    }
}
