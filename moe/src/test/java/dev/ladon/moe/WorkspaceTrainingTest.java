package dev.ladon.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Training steps inside a {@link Workspace} scope, each reusing the previous step's memory, follow the same
 * losses, bit for bit, as steps without one: every layer's cache, the optimizer's state, the parameters'
 * gradients and the Transformer-XL memory carried between steps outlive the scopes as they must.
 */
class WorkspaceTrainingTest {
    private static final int VOCAB = 50;
    private static final int BATCH = 4;
    private static final int CONTEXT = 16;

    /** Big enough that activations ([4, 16, 64] = 4096 elements) take memory from the workspace. */
    private static ModelConfig small(String name) {
        ModelConfig c = ModelConfig.named(name);
        ModelConfig.Builder b = c.toBuilder().layers(2).dModel(64).dHead(16).vocabSize(VOCAB).context(CONTEXT)
                .dropout(0);
        if (c.variant().expertFeedForward()) {
            b.sigmaMoe(4, 32, 2);
        } else {
            b.dFF(128);
        }
        return b.build();
    }

    private static Tensor ids(long seed) {
        return Tensor.randint(0, VOCAB, new Generator(seed), dev.ladon.tensor.Device.CPU, BATCH, CONTEXT);
    }

    /**
     * Losses of {@code steps} steps on the same two micro-batches (so the loss falls), each micro-batch in its
     * own scope if a workspace is given.
     */
    private static List<Double> train(String name, Workspace workspace, int steps) {
        MoeLanguageModel model = LanguageModels.build(small(name), new Generator(1));
        AdamW optimizer = new AdamW(ParamGroup.all(model, 0.1), 1e-2);
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        model.train();
        List<Tensor> memory = null;
        List<Double> losses = new ArrayList<>();
        for (int step = 0; step < steps; step++) {
            optimizer.zeroGrad();
            for (int micro = 0; micro < 2; micro++) {
                Workspace.Scope scope = workspace == null ? null : workspace.open();
                var output = model.forward(ids(micro), memory);
                Variable loss = lossFn.forward(output.logits(), ids(1000 + micro));
                loss.add(model.auxLoss()).div(2).backward();
                losses.add(loss.item());
                memory = model.usesMemory() ? output.memory() : null;
                if (scope != null) {
                    if (memory != null) {
                        scope.keepAll(memory);
                    }
                    if (micro == 1) {
                        optimizer.step(); // the second micro-batch's scope also holds the update
                    }
                    scope.close();
                } else if (micro == 1) {
                    optimizer.step();
                }
            }
        }
        return losses;
    }

    @Test
    void stepsInAWorkspaceFollowTheSameLossesForEveryVariant() {
        for (String name : List.of("switchhead-small", "moa-small", "switchall-small", "dense-small")) {
            List<Double> plain = train(name, null, 3);
            Workspace workspace = new Workspace("training step");
            List<Double> reused = train(name, workspace, 3);
            assertThat(reused).as(name).containsExactlyElementsOf(plain);
            assertThat(workspace.reuses()).as(name + ": later steps reused memory").isPositive();
            assertThat(plain.get(plain.size() - 2)).as(name + ": the loss fell").isLessThan(plain.get(0));
        }
    }
}
