package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.OpProfiler;
import dev.ladon.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
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
}
