import dev.ladon.autograd.Variable;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.function.DoubleSupplier;

/**
 * The CPU model of {@code bin/ladon bench lm-step} (vocabulary 256, d=256, 4 layers, 4 heads of 64, d_ff 1024,
 * T=128, batch 16, RoPE) with its AdamW; each {@link #getAsDouble} runs one training step and returns its
 * milliseconds. Each step runs in a {@link Workspace} scope, as in the bench and in training. Compiled against
 * one build of Ladon (one that has the Workspace) and loaded once per build by {@link StepAB}.
 */
public class StepDriver implements DoubleSupplier {
    private final MoeLanguageModel model;
    private final AdamW optimizer;
    private final Tensor inputs;
    private final Tensor targets;
    private final CrossEntropyLoss lossFn = new CrossEntropyLoss();
    private final Workspace workspace = new Workspace("step");

    public StepDriver() {
        ModelConfig config = ModelConfig.builder("lm-step-small", ModelConfig.Variant.DENSE)
                .positionEncoding(ModelConfig.PositionEncoding.ROPE).memoryBlocks(0).layers(4).dModel(256).heads(4)
                .dHead(64).dFF(1024).context(128).vocabSize(256).dropout(0).build();
        model = LanguageModels.build(config, new Generator(0));
        optimizer = new AdamW(ParamGroup.all(model, 0), 2.5e-4);
        Tensor ids = Tensor.randint(0, 256, new Generator(1), Device.CPU, 16, 129);
        inputs = ids.narrow(1, 0, 128).contiguous();
        targets = ids.narrow(1, 1, 128).contiguous();
        model.train();
    }

    @Override
    public double getAsDouble() {
        long t0 = System.nanoTime();
        try (Workspace.Scope scope = workspace.open()) {
            optimizer.zeroGrad();
            Variable loss = lossFn.forward(model.forward(inputs, null).logits(), targets);
            loss.backward();
            optimizer.step();
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
