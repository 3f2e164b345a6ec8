package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.nn.io.SafeTensors;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backends;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/ladon train} and {@code generate} with {@code --device cuda} on a real GPU. Skipped without one. */
@Tag("gpu")
class TrainCommandGpuTest {
    private static final Device CUDA = Device.cuda(0);

    @BeforeEach
    void gpu() {
        assumeTrue(Backends.isAvailable(CUDA), () -> "no usable CUDA device: " + Backends.unavailableReason(CUDA));
    }

    @Test
    void aGpuRunFollowsTheCpuRunStopsResumesAndSamples(@TempDir Path dir) throws Exception {
        Path text = TrainCommandTest.textFile(dir);
        Path cpu = dir.resolve("cpu");
        Path gpu = dir.resolve("gpu");
        TrainCommandTest.runCapturing(TrainCommandTest.tiny(text, cpu, "--steps", "4"));
        String first = TrainCommandTest.runCapturing(TrainCommandTest.tiny(text, gpu, "--steps", "4", "--stop-after",
                "2", "--device", "cuda"));
        assertThat(first).contains("device cuda:0").contains("stopped after step 2 of 4");
        String resumed = TrainCommandTest.runCapturing(TrainCommandTest.tiny(text, gpu, "--steps", "4", "--resume",
                "--device", "cuda"));
        assertThat(resumed).contains("resuming").contains("validation perplexity");

        // Same seed, same data, same dropout stream: the losses differ only by float32 rounding.
        double[] onCpu = SafeTensors.load(cpu.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        double[] onGpu = SafeTensors.load(gpu.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        assertThat(onGpu).hasSize(4);
        for (int i = 0; i < onCpu.length; i++) {
            assertThat(onGpu[i]).as("step %d", i + 1).isCloseTo(onCpu[i], within(1e-3 * Math.abs(onCpu[i])));
        }
        String sample = GenerateCommand.generate(gpu, "the cat", 8, 0.8, 5, 3, CUDA);
        assertThat(sample).startsWith("the cat").hasSizeGreaterThan("the cat".length());
    }

    @Test
    void anExpertRunTrainedOnTheGpuIsAnalyzedThere(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("sa");
        TrainCommandTest.runCapturing(new String[] {"--data", TrainCommandTest.textFile(dir).toString(), "--out",
                run.toString(), "--model", "switchall-small", "--layers", "1", "--context", "8", "--batch", "2",
                "--steps", "2", "--sample", "0", "--device", "cuda"});
        Path usage = dir.resolve("usage");
        assertThat(new AnalyzeCommand().run(new String[] {run.toString(), "--eval-tokens", "64", "--corpus-bytes",
                "100000", "--out", usage.toString(), "--device", "cuda"})).isZero();
        assertThat(usage.resolve("switchall-small-usage.csv")).exists();
    }
}
