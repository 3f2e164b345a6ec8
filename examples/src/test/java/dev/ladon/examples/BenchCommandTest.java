package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.accounting.ParameterCount;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backends;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {
    /** A model shrunk for a test (2 layers, d=16, 2 heads of 8, T=8, with 8 memory tokens for XL), and a short run. */
    static final List<String> TINY = List.of("--layers", "2", "--d-model", "16", "--heads", "2", "--d-head",
            "8", "--d-ff", "32", "--vocab", "40", "--context", "8", "--batch", "2", "--steps", "2", "--warmup", "1");
    private static final String PYTHON_WITH_TORCH = "/usr/bin/python3";

    @TempDir
    Path dir;

    /** What a command printed on standard output, line by line, and its exit code. */
    record Run(int exitCode, List<String> lines) {
        String last() {
            return lines.getLast();
        }
    }

    /** Runs {@code bin/ladon ARGS} in this JVM, capturing standard output. */
    static Run bench(List<String> args) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(captured, true));
        int code;
        try {
            code = Main.run(args.toArray(String[]::new));
        } finally {
            System.setOut(old);
        }
        return new Run(code, captured.toString().lines().toList());
    }

    private static List<String> args(String... head) {
        List<String> all = new ArrayList<>(List.of(head));
        all.addAll(TINY);
        return all;
    }

    @Test
    void lmStepOnTheCpuTimesTheConfiguredSwitchHeadModelAndEndsWithOneResultLine() throws Exception {
        Run run = bench(args("bench", "lm-step", "--device", "cpu", "--model", "switchhead", "--no-peer"));

        assertThat(run.exitCode()).isZero();
        assertThat(run.last()).matches("lm-step cpu ladon_ms=[0-9.]+ torch_ms=- ratio=- ladon_peak_mb=\\d+ torch_peak_mb=-");
        assertThat(run.lines()).anyMatch(line -> line.matches("ladon: Java heap over the steps: .+; committed \\d+ MB; "
                + "the step's workspace holds \\d+ MB between steps"));
        // The model built is switchhead-47m with the size options applied, counted independently.
        ModelConfig expected = ModelConfig.named("switchhead-47m").toBuilder().layers(2).dModel(16).heads(2).dHead(8)
                .dFF(32).vocabSize(40).context(8).build();
        String header = run.lines().getFirst();
        assertThat(header).contains("switchhead-47m", "(SWITCHHEAD, XL)", "experts=5 k=2", "memory=8", "batch=2")
                .contains(String.format("%,d parameters", ParameterCount.of(expected).total()));
        // Three steps of a freshly initialised model barely move the loss from that of uniform guessing.
        Matcher loss = Pattern.compile("loss (\\d+\\.\\d+)").matcher(run.lines().get(1));
        assertThat(loss.find()).isTrue();
        assertThat(Double.parseDouble(loss.group(1))).isCloseTo(Math.log(40), org.assertj.core.data.Offset.offset(1.0));
    }

    @Test
    void lmStepRefusesARatioWhenThePeersModelHasAnotherParameterCount() throws Exception {
        // A stand-in for python that answers like the peer, but with one parameter too many.
        Path fake = dir.resolve("fake-python");
        Files.writeString(fake, """
                #!/bin/sh
                echo "torch fake"
                echo "torch_ms=1.5 torch_tok_s=100 torch_peak_mb=7 torch_loss=3.7 torch_params=6251 torch_check=3.8,3.8"
                """);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));

        Run run = bench(args("bench", "lm-step", "--model", "dense", "--python", fake.toString()));

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.lines()).anyMatch(l -> l.startsWith("lm-step: no ratio: parameter counts differ"));
        assertThat(run.last()).matches("lm-step cpu ladon_ms=[0-9.]+ torch_ms=1.50 ratio=- ladon_peak_mb=\\d+ torch_peak_mb=7");
    }

    @Test
    void aPeerThatCannotStartIsReportedAndLadonIsTimedAlone() throws Exception {
        Run run = bench(args("bench", "lm-step", "--model", "dense", "--python", dir.resolve("no-python").toString()));

        assertThat(run.exitCode()).isZero();
        assertThat(run.lines()).anyMatch(l -> l.startsWith("peer: no result (could not start "));
        assertThat(run.last()).matches("lm-step cpu ladon_ms=[0-9.]+ torch_ms=- ratio=- ladon_peak_mb=\\d+ torch_peak_mb=-");
    }

    @Test
    void onTheCpuThePeerIsAskedForOneStepPerTimedLadonStep() throws Exception {
        // A stand-in peer that counts the steps it is asked for and reports the count as its step time.
        Path fake = dir.resolve("fake-python");
        Files.writeString(fake, """
                #!/bin/sh
                case "$*" in *--interleave*) ;; *) echo "not interleaved"; exit 3 ;; esac
                echo "torch fake"
                echo ready
                n=0
                while read request; do
                  [ "$request" = step ] || break
                  n=$((n + 1))
                  echo "step_ms=1.0"
                done
                echo "torch_ms=$n torch_tok_s=100 torch_peak_mb=7 torch_loss=3.7 torch_params=1 torch_check=3.8,3.8"
                """);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));

        Run run = bench(args("bench", "lm-step", "--model", "dense", "--python", fake.toString())); // 2 steps

        assertThat(run.lines()).contains("peer: torch fake");
        assertThat(run.last()).matches("lm-step cpu ladon_ms=[0-9.]+ torch_ms=2.00 ratio=- ladon_peak_mb=\\d+ torch_peak_mb=7");
    }

    @Test
    void lmStepAgainstTheTorchPeerOnTheCpuBuildsTheSameModelsAndPrintsARatio() throws Exception {
        assumeTrue(pythonHasTorch(), PYTHON_WITH_TORCH + " has no torch (Debian: apt-get install python3-torch)");
        for (String[] model : new String[][] {{"--model", "dense"}, {"--model", "switchhead"},
                {"--config", "transformer-rope-45m"}, {"--config", "switchhead-rope-45m"}}) {
            Run run = bench(args("bench", "lm-step", model[0], model[1], "--python", PYTHON_WITH_TORCH));

            assertThat(run.exitCode()).as(model[1] + ": " + run.lines()).isZero();
            assertThat(run.lines()).as(model[1]).anyMatch(l -> l.matches("parameters: ladon ([0-9,]+) torch \\1"));
            assertThat(run.lines()).as(model[1]).anyMatch(l -> l.startsWith("check (eval loss"));
            assertThat(run.last()).as(model[1]).matches(
                    "lm-step cpu ladon_ms=[0-9.]+ torch_ms=[0-9.]+ ratio=[0-9.]+ ladon_peak_mb=\\d+ torch_peak_mb=\\d+");
        }
    }

    @Test
    void gpuBenchmarksWithoutAUsableGpuSayWhyAndFail() throws Exception {
        String reason = Backends.unavailableReason(Device.cuda(0));
        assumeTrue(reason != null, "a GPU is usable here");

        Run gemm = bench(List.of("bench", "gemm", "--device", "cuda", "--no-peer"));
        assertThat(gemm.exitCode()).isEqualTo(1);
        assertThat(gemm.last()).isEqualTo("gemm cuda:0 unavailable: " + reason);

        Run lmStep = bench(List.of("bench", "lm-step", "--device", "cuda", "--model", "switchhead"));
        assertThat(lmStep.exitCode()).isEqualTo(1);
        assertThat(lmStep.last()).isEqualTo("lm-step cuda:0 unavailable: " + reason);
    }

    @Test
    void optionsOfAnotherDeviceOrSuiteAreRejected() throws Exception {
        assertThat(bench(List.of("bench", "ops", "--device", "cuda")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "gemm", "--iters", "3")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "gemm", "--rounds", "0", "--no-peer")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "gemm", "--device", "cuda", "--rounds", "3")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "lm-step", "--model", "moa")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "lm-step", "--config", "switchall-47m")).exitCode()).isEqualTo(2);
        assertThat(bench(List.of("bench", "lm-step", "--precision", "tf32")).exitCode()).isEqualTo(2);
    }

    @Test
    void gemmShapesTimeTheGivenProductsWithTheirLayoutsAndRejectBadSpecs() throws Exception {
        Run run = bench(List.of("bench", "gemm", "--shapes", "33x7x5:tn,9x4x6", "--threads", "1", "--reps", "1",
                "--rounds", "3", "--no-peer"));
        assertThat(run.exitCode()).isZero();
        assertThat(run.lines()).hasSize(2);
        assertThat(run.lines().get(0)).matches("gemm f32 m=33 k=7 n=5 ab=tn threads=1 ladon_gflops=[0-9.]+ "
                + "openblas_gflops=- ratio=-");
        assertThat(run.lines().get(1)).startsWith("gemm f32 m=9 k=4 n=6 ab=nn threads=1 ladon_gflops=");
        for (String bad : List.of("12x3", "4x4x4:xt", "0x4x4", "4x4x4:nt:nt", "4xx4")) {
            assertThat(bench(List.of("bench", "gemm", "--shapes", bad, "--no-peer")).exitCode()).as(bad).isEqualTo(2);
        }
    }

    @Test
    void theLmStepBenchmarkIsASuiteOfBenchNotACommandOfItsOwn() throws Exception {
        assertThat(Main.commands()).extracting(Command::name).contains("bench").doesNotContain("bench-lm-step");
        assertThat(bench(List.of("bench-lm-step")).exitCode()).isEqualTo(2);
        assertThat(new BenchCommand().help()).contains("bin/ladon bench lm-step");
    }

    private static boolean pythonHasTorch() throws Exception {
        if (!Files.isExecutable(Path.of(PYTHON_WITH_TORCH))) {
            return false;
        }
        Process p = new ProcessBuilder(PYTHON_WITH_TORCH, "-c", "import torch").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    @Test
    void collectorSummaryCountsTheCollectionsSinceItsSnapshot() {
        var before = LmStepBench.collectorCounts();
        System.gc();
        String summary = LmStepBench.collectorSummary(before);
        // Every collector is named with its count and time since the snapshot; the explicit collection is one
        // of them, so at least one count is positive.
        for (String name : before.keySet()) {
            assertThat(summary).containsPattern(Pattern.quote(name) + " \\d+ in \\d+ ms");
        }
        assertThat(summary).containsPattern(" [1-9]\\d* in \\d+ ms").containsPattern("; committed \\d+ MB$");
    }

    @Test
    void routingSizesPastWhatATensorHoldsAreRefusedWithTheirProduct() throws Exception {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new RoutingBenchCommand().run(new String[] {
            "--tokens", "2000000000"})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--tokens 2000000000 x --k 2 = 4,000,000,000 routed rows of width 256: more than the "
                        + "2^31-1 elements one tensor holds");
    }

    @Test
    void gpuGemmRefusesAnUnknownLayoutBeforeLookingForTheDevice() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new BenchCommand().run(new String[] {
            "gemm", "--device", "cuda", "--layouts", "nn,diagonal"})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--layouts: unknown layout 'diagonal' (expected nn, nt, tn, strided)");
    }
}
