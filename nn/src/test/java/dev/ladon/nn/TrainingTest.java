package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.GradientClipping;
import dev.ladon.nn.optim.LearningRateSchedule;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The whole stack end to end: a tiny LM learns a deterministic sequence. */
class TrainingTest {
    /** Sequences counting up modulo the vocabulary from random starts: token t+1 = token t + 1 (mod V). */
    private static Tensor countingBatch(Generator gen, int vocab, int batch, int length) {
        long[] starts = Tensor.randint(0, vocab, gen, Device.CPU, batch).toLongArray();
        long[] ids = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                ids[b * length + t] = (starts[b] + t) % vocab;
            }
        }
        return Tensor.of(ids, batch, length);
    }

    /** A RoPE model trained to count modulo 7 (shared with the sampler test). */
    static TransformerLM trainedCounter() {
        TransformerLM lm = new TransformerLM(countingConfig(TransformerConfig.Positions.ROPE), new Generator(1));
        train(lm);
        return lm;
    }

    private static TransformerConfig countingConfig(TransformerConfig.Positions positions) {
        return new TransformerConfig(7, 16, 2, 8, 1, 32, 0.0, positions, 0.5, FeedForward.Activation.GELU, false);
    }

    private static double train(TransformerLM lm) {
        int vocab = 7;
        AdamW opt = new AdamW(ParamGroup.decayMatricesOnly(lm, 0.01), 0.0);
        LearningRateSchedule schedule = LearningRateSchedule.cosine(2e-2, 5, 60, 1e-3);
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        Generator data = new Generator(2);
        List<Tensor> memory = null;
        double loss = Double.NaN;
        for (int step = 0; step < 60; step++) {
            Tensor seq = countingBatch(data, vocab, 8, 11);
            opt.setLearningRate(schedule.at(step));
            opt.zeroGrad();
            TransformerLM.Output out = lm.forward(seq.narrow(1, 0, 10).contiguous(), memory);
            Variable l = lossFn.forward(out.logits(), seq.narrow(1, 1, 10).contiguous());
            l.backward();
            GradientClipping.clipByGlobalNorm(lm.parameters(), 1.0);
            opt.step();
            memory = lm.usesMemory() ? out.memory() : null;
            loss = l.item();
        }
        return loss;
    }

    @Test
    void tinyModelsLearnToCount() {
        // Chance level is ln 7 = 1.95; the next token is a function of the current one.
        for (TransformerConfig.Positions positions : TransformerConfig.Positions.values()) {
            TransformerLM lm = new TransformerLM(countingConfig(positions), new Generator(1));
            assertThat(train(lm)).as(positions.name()).isLessThan(0.2);
        }
    }
}
