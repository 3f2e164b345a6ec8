package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.OpProfiler;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

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
        assertThat(OpProfiler.productEntries()).extracting(OpProfiler.ProductEntry::product).containsExactly("2x3x2:nn");
    }
}
