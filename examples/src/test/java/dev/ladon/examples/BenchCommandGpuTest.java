package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The GPU benchmarks on a real GPU at small sizes. Skipped without one. */
@Tag("gpu")
class BenchCommandGpuTest {
    private static final Device CUDA = Device.cuda(0);

    @BeforeEach
    void gpu() {
        assumeTrue(Backends.isAvailable(CUDA), () -> "no usable CUDA device: " + Backends.unavailableReason(CUDA));
    }

    private static List<String> bench(List<String> args, int expectedExit) throws Exception {
        BenchCommandTest.Run run = BenchCommandTest.bench(args);
        assertThat(run.exitCode()).as(String.join("\n", run.lines())).isEqualTo(expectedExit);
        return run.lines();
    }

    @Test
    void gemmPrintsOneLinePerPrecisionAndLayoutWithTheErrorOfThatPrecision() throws Exception {
        List<String> lines = bench(List.of("bench", "gemm", "--device", "cuda", "--sizes", "256", "--iters", "2",
                "--no-peer"), 0);
        Pattern line = Pattern.compile("gemm cuda precision=(\\w+) layout=(\\w+) n=256 ladon_tflops=[0-9.]+ "
                + "torch_tflops=- ratio=- max_rel_err=(\\S+)");
        List<String> seen = new ArrayList<>();
        for (String l : lines) {
            Matcher m = line.matcher(l);
            if (m.matches()) {
                seen.add(m.group(1) + " " + m.group(2));
                double err = Double.parseDouble(m.group(3));
                // Unit roundoff of the inputs' format times a few for the sum over 256 products.
                double bound = switch (m.group(1)) {
                    case "fp32" -> 1e-5;
                    case "tf32" -> 5e-3;
                    default -> 3e-2;
                };
                assertThat(err).as(l).isLessThan(bound);
            }
        }
        List<String> expected = new ArrayList<>();
        for (String precision : List.of("fp32", "tf32", "bf16")) {
            for (String layout : List.of("nn", "nt", "tn", "strided")) {
                expected.add(precision + " " + layout);
            }
        }
        assertThat(seen).containsExactlyElementsOf(expected);
    }

    @Test
    void lmStepOnTheGpuPrintsTokensPerSecondAndPeakMemory() throws Exception {
        List<String> args = new ArrayList<>(List.of("bench", "lm-step", "--device", "cuda", "--model", "switchhead",
                "--no-peer"));
        args.addAll(BenchCommandTest.TINY);
        List<String> lines = bench(args, 0);
        assertThat(lines.getLast()).matches("lm-step cuda model=switchhead-47m ladon_tok_s=\\d+ torch_tok_s=- ratio=- "
                + "ladon_peak_mb=\\d+ torch_peak_mb=-");
    }

    @Test
    void theCheckLossesOnTheGpuEqualThoseOnTheCpu() {
        for (String name : List.of("xl-47m", "switchhead-47m")) {
            ModelConfig c = ModelConfig.named(name).toBuilder().layers(2).dModel(16).heads(2).dHead(8).dFF(32)
                    .vocabSize(40).context(8).build();
            MoeLanguageModel model = LanguageModels.build(c, new Generator(0));
            Tensor ids = Tensor.randint(0, 40, new Generator(2), Device.CPU, 2, 17);
            double[] cpu = LmStepBench.checkLosses(model, ids);
            model.to(CUDA);
            double[] gpu = LmStepBench.checkLosses(model, ids.to(CUDA));
            assertThat(gpu[0]).as(name).isCloseTo(cpu[0], org.assertj.core.data.Offset.offset(1e-4 * cpu[0]));
            assertThat(gpu[1]).as(name).isCloseTo(cpu[1], org.assertj.core.data.Offset.offset(1e-4 * cpu[1]));
        }
    }

    @Test
    void lmStepAgainstTheTorchPeerOnTheGpuAgreesOnTheModelAndPrintsARatio() throws Exception {
        Process p = new ProcessBuilder("python3", "-c", "import torch; assert torch.cuda.is_available()")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assumeThat(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0).as("python3 with CUDA torch").isTrue();
        for (String model : List.of("dense", "switchhead")) {
            List<String> args = new ArrayList<>(List.of("bench", "lm-step", "--device", "cuda", "--model", model));
            args.addAll(BenchCommandTest.TINY);
            List<String> lines = bench(args, 0);
            assertThat(lines).anyMatch(l -> l.matches("parameters: ladon ([0-9,]+) torch \\1"));
            assertThat(lines.getLast()).matches("lm-step cuda model=\\S+ ladon_tok_s=\\d+ torch_tok_s=\\d+ "
                    + "ratio=[0-9.]+ ladon_peak_mb=\\d+ torch_peak_mb=\\d+");
        }
    }
}
