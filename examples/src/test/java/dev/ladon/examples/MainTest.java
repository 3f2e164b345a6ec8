package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.OpProfiler;
import dev.ladon.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    @AfterEach
    void stopProfiling() {
        OpProfiler.disable();
        OpProfiler.reset();
    }

    @Test
    void everyCommandsHelpStartsAtTheLeftMarginWithItsUsage() {
        // A help text block with one line indented less than the rest shifts every other line right.
        for (Command c : Main.commands()) {
            String[] lines = c.help().split("\n");
            assertThat(lines[0]).as(c.name()).startsWith("usage: bin/ladon " + c.name());
            for (String line : lines) {
                if (line.strip().startsWith("--")) {
                    assertThat(line).as(c.name() + " option line").startsWith("  --");
                }
            }
        }
    }

    @Test
    void aMissingOrUnreadableFileIsNamedInOneLineNotAStackTrace(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("no-such-corpus.txt");
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setErr(new PrintStream(captured, true));
            code = Main.run(new String[] {"train", "--data", missing.toString(), "--steps", "1"});
        } finally {
            System.setErr(err);
        }
        assertThat(code).isEqualTo(1);
        assertThat(captured.toString().strip()).isEqualTo("ladon train: no such file or directory: " + missing);

        assertThat(Main.describe(new AccessDeniedException("/a"))).isEqualTo("permission denied: /a");
        assertThat(Main.describe(new NotDirectoryException("/a/b"))).isEqualTo("not a directory: /a/b");
        assertThat(Main.describe(new FileSystemException("/a", "/b", "Device busy")))
                .isEqualTo("Device busy: /a -> /b");
    }

    @Test
    void ladonProfileTurnsTheOpProfilerOnByOpByShapeOrWithProducts() {
        assertThat(Main.startProfiler(null)).isFalse();
        assertThat(Main.startProfiler(" ")).isFalse();
        assertThat(Main.startProfiler("everything")).isFalse();
        assertThat(OpProfiler.isEnabled()).isFalse();

        assertThat(Main.startProfiler("ops")).isTrue();
        Tensor.rand(2, 3).matmul(Tensor.rand(3, 2));
        assertThat(OpProfiler.entries()).extracting(OpProfiler.Entry::op).contains("matmul");

        OpProfiler.reset();
        assertThat(Main.startProfiler("SHAPES")).isTrue();
        Tensor.rand(2, 3).matmul(Tensor.rand(3, 2));
        assertThat(OpProfiler.entries()).extracting(OpProfiler.Entry::op).contains("matmul [2, 3] [3, 2]");
        assertThat(OpProfiler.productsEnabled()).isFalse();

        OpProfiler.reset();
        assertThat(Main.startProfiler("products")).isTrue();
        Tensor.rand(2, 3).matmul(Tensor.rand(3, 2));
        assertThat(OpProfiler.entries()).extracting(OpProfiler.Entry::op).contains("matmul");
        assertThat(OpProfiler.productEntries()).extracting(OpProfiler.ProductEntry::product)
                .containsExactly("2x3x2:nn");
    }

    /** What {@code bin/ladon ARGS} printed on each stream, and its exit code. */
    record Result(int code, String out, String err) {
    }

    static Result ladon(String... args) throws Exception {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(errors, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, printed.toString(StandardCharsets.UTF_8), errors.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void anArgumentNoCommandExpectsIsRefusedNotIgnored() throws Exception {
        for (String[] args : List.of(new String[] {"train", "stray"}, new String[] {"generate", "stray"},
                new String[] {"compare", "stray"}, new String[] {"gradcheck", "stray"},
                new String[] {"bench-routing", "stray"}, new String[] {"stats", "--list", "stray"},
                new String[] {"demo", "stray"})) {
            Result r = ladon(args);
            assertThat(r.code()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(r.err()).as(String.join(" ", args)).startsWith("ladon " + args[0]
                    + ": unexpected argument 'stray' (options start with --)\n");
        }
        Result demo = ladon("demo", "--bogus");
        assertThat(demo.code()).isEqualTo(2);
        assertThat(demo.err()).startsWith("ladon demo: unknown option --bogus\n");
    }

    @Test
    void aBenchSuiteGivenAfterTheOptionsIsToldThatTheSuiteComesFirst() throws Exception {
        Result r = ladon("bench", "--threads", "1", "gemm");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).startsWith("ladon bench: unexpected argument 'gemm' (the suite comes first)\n");
    }

    @Test
    void helpIsPrintedForHelpInPlaceOfAnOptionEvenAfterAMistake() throws Exception {
        Result demo = ladon("demo", "-h");
        assertThat(demo.code()).isZero();
        assertThat(demo.out()).startsWith("usage: bin/ladon demo");
        Result train = ladon("train", "--bogus", "--help");
        assertThat(train.code()).isZero();
        assertThat(train.out()).startsWith("usage: bin/ladon train");
        assertThat(train.err()).isEmpty();
    }

    @Test
    void gradcheckSaysWhenNothingMatchesOrAProviderIsMissing(@TempDir Path dir) throws Exception {
        Result none = ladon("gradcheck", "--filter", "zzznomatch");
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.err()).startsWith("ladon gradcheck: --filter 'zzznomatch' matches none of the ")
                .contains(" cases (bin/ladon gradcheck --list names them)");
        assertThat(none.out()).doesNotContain("0 passed");

        Path services = Files.createDirectories(dir.resolve("META-INF/services"));
        Files.writeString(services.resolve("dev.ladon.autograd.gradcheck.GradcheckCaseProvider"), "com.example.Nope\n");
        Result broken = ladon("gradcheck", "--classpath", dir.toString(), "--list");
        assertThat(broken.code()).isEqualTo(1);
        assertThat(broken.err().strip()).isEqualTo("ladon gradcheck: a gradient-check provider could not be loaded: "
                + "dev.ladon.autograd.gradcheck.GradcheckCaseProvider: Provider com.example.Nope not found");
    }

    @Test
    void gradcheckRunsOnTheDeviceAskedForAndNamesIt() throws Exception {
        Result cpu = ladon("gradcheck", "--device", "cpu", "--filter", "matmul dot");
        assertThat(cpu.code()).isZero();
        assertThat(cpu.out()).startsWith("gradcheck in float64 on cpu\nPASS matmul dot (")
                .endsWith("1 passed, 0 failed\n");

        Result bad = ladon("gradcheck", "--device", "tpu");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).startsWith("ladon gradcheck: --device expects cpu, cuda or cuda:N, got 'tpu'\n");
    }

    @Test
    void theHeapAdviceRoundsUpToWholeGibibytesAndAsksForAtLeastTwo() {
        double gib = 1L << 30;
        assertThat(Main.javaOptsForHeap(3.2 * gib)).isEqualTo("LADON_JAVA_OPTS=\"-Xmx4g -XX:+UseSerialGC\"");
        assertThat(Main.javaOptsForHeap(16 * gib)).isEqualTo("LADON_JAVA_OPTS=\"-Xmx16g -XX:+UseSerialGC\"");
        assertThat(Main.javaOptsForHeap(0.1 * gib)).isEqualTo("LADON_JAVA_OPTS=\"-Xmx2g -XX:+UseSerialGC\"");
    }

    @Test
    void aHeapThatRunsOutIsOneLineWithItsSizeTheModelAndHowToGrowIt() {
        assertThat(Main.outOfHeap(new OutOfMemoryError("Java heap space"), 8L << 30))
                .isEqualTo("the Java heap (8.0 GiB) ran out; give the JVM more, e.g. LADON_JAVA_OPTS=\"-Xmx16g "
                        + "-XX:+UseSerialGC\" bin/ladon ..., or make the model or the batch smaller");
        // A command that knows its model's size says it in the error it rethrows.
        assertThat(Main.outOfHeap(new OutOfMemoryError("training a model of 6,519,457 parameters"), 300L << 20))
                .startsWith("the Java heap (0.3 GiB) ran out (training a model of 6,519,457 parameters); ")
                .contains("-Xmx2g");
    }

    @Test
    void statsOfAContextTooLongToCountSaysSoOnceInsteadOfPrintingNegativeCounts() throws Exception {
        Result r = ladon("stats", "--model", "dense-small", "--context", "2000000000");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("parameters 923,652")
                .contains("\nattention cost of 'dense-small (changed: --context 2000000000)': the counts exceed 2^63 - 1")
                .doesNotContainPattern(" -[0-9]").doesNotContain("attention cost: attention cost");
    }
}
