package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.ladon.tensor.backend.Backends;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class OpProfilerTest {
    @AfterEach
    void stopProfiling() {
        OpProfiler.disable();
        OpProfiler.reset();
    }

    private static Map<String, Long> calls() {
        return OpProfiler.entries().stream().collect(Collectors.toMap(OpProfiler.Entry::op, OpProfiler.Entry::calls));
    }

    @Test
    void offItHandsOutTheBackendItselfAndRecordsNothing() {
        Tensor a = Tensor.rand(3, 4);
        assertThat(a.backend()).isSameAs(Backends.of(Device.CPU));
        a.add(a).matmul(a.mT());
        assertThat(OpProfiler.entries()).isEmpty();
    }

    @Test
    void onItCountsAndTimesEachOpByNameAndKind() {
        Tensor a = Tensor.rand(3, 4);
        Tensor b = Tensor.rand(4, 5);
        OpProfiler.enable(false);
        a.matmul(b);
        a.matmul(b);
        a.add(a);
        a.relu();
        OpProfiler.disable();
        a.matmul(b); // after disable: not counted
        assertThat(calls()).containsEntry("matmul", 2L).containsEntry("binary.add", 1L)
                .containsEntry("unary.relu", 1L);
        assertThat(OpProfiler.entries()).allSatisfy(e -> assertThat(e.nanos()).isPositive());
        assertThat(OpProfiler.table()).contains("matmul").contains("binary.add").contains("mean us");
        OpProfiler.reset();
        assertThat(OpProfiler.entries()).isEmpty();
    }

    @Test
    void withProductsEachFloatProductIsRecordedByShapeWithItsParts() {
        Tensor x = Tensor.rand(64, 40);
        Tensor w = Tensor.rand(24, 40);
        OpProfiler.enable(false);
        x.matmul(w.mT()); // ops only: no product line
        assertThat(OpProfiler.productEntries()).isEmpty();
        assertThat(OpProfiler.productTable(2)).isEmpty();
        OpProfiler.enable(false, true);
        assertThat(OpProfiler.productsEnabled()).isTrue();
        Tensor y = x.matmul(w.mT());
        x.matmul(w.mT());
        FusedOps.linear(x, w, Tensor.rand(24), true);
        x.mT().matmul(y); // the weight-gradient layout: A read transposed, so it is packed
        Tensor.rand(3, 5, 6).matmul(Tensor.rand(3, 6, 7));
        OpProfiler.disable();
        assertThat(OpProfiler.productsEnabled()).isFalse();
        x.matmul(w.mT()); // after disable: not recorded
        Map<String, OpProfiler.ProductEntry> byLabel = OpProfiler.productEntries().stream()
                .collect(Collectors.toMap(OpProfiler.ProductEntry::product, e -> e));
        assertThat(byLabel).containsOnlyKeys("64x40x24:nt", "64x40x24:nt+bias+relu", "40x64x24:tn", "3x[5x6x7]:nn");
        OpProfiler.ProductEntry forward = byLabel.get("64x40x24:nt");
        assertThat(forward.calls()).isEqualTo(2);
        assertThat(forward.flops()).isEqualTo(2L * 2 * 64 * 40 * 24);
        assertThat(byLabel.get("3x[5x6x7]:nn").flops()).isEqualTo(2L * 3 * 5 * 6 * 7);
        for (OpProfiler.ProductEntry e : byLabel.values()) {
            assertThat(e.kernelNanos()).as(e.product()).isPositive();
            assertThat(e.packANanos() + e.packBNanos() + e.waitBNanos() + e.kernelNanos()).as(e.product())
                    .isLessThanOrEqualTo(e.taskNanos());
            assertThat(e.waitBNanos()).as(e.product()).isNotNegative();
            assertThat(e.wallNanos()).as(e.product()).isPositive();
        }
        // A row-major A of whole 8-row panels (64 rows) is read where it lies; a transposed one is packed.
        assertThat(forward.packANanos()).isZero();
        assertThat(byLabel.get("40x64x24:tn").packANanos()).isPositive();
        assertThat(OpProfiler.productTable(2)).contains("64x40x24:nt+bias+relu").contains("kernel/t");
        OpProfiler.reset();
        assertThat(OpProfiler.productEntries()).isEmpty();
    }

    @Test
    void aKernelsOwnOpsAreChargedToItNotCountedAgain() {
        // Rotary copies a view whose channels are not adjacent before rotating it; that copy runs through the
        // wrapped backend too, inside the rotary call, so only rotary appears.
        Tensor x = Tensor.rand(2, 6, 5).mT().contiguous().mT();
        assertThat(x.stride(-1)).isNotEqualTo(1);
        Tensor cos = Tensor.rand(6, 2);
        Tensor sin = Tensor.rand(6, 2);
        Tensor expected = FusedOps.rotary(x, cos, sin);
        OpProfiler.enable(false);
        Tensor profiled = FusedOps.rotary(x, cos, sin);
        assertThat(calls()).containsOnlyKeys("rotary").containsEntry("rotary", 1L);
        assertThat(profiled.toFloatArray()).containsExactly(expected.toFloatArray());
    }

    @Test
    void withShapesEachShapeGetsItsOwnLine() {
        OpProfiler.enable(true);
        Tensor.rand(2, 3).matmul(Tensor.rand(3, 4));
        Tensor.rand(5, 3).matmul(Tensor.rand(3, 4));
        assertThat(calls()).containsEntry("matmul [2, 3] [3, 4]", 1L).containsEntry("matmul [5, 3] [3, 4]", 1L);
    }

    @Test
    void aFailingOpThrowsWhatItThrowsUnprofiled() {
        Tensor x = Tensor.rand(4, 2);
        Tensor badIndex = Tensor.of(new int[] {1, 7}, 2);
        Throwable plain = catchThrowable(() -> x.indexSelect(0, badIndex));
        OpProfiler.enable(false);
        Throwable profiled = catchThrowable(() -> x.indexSelect(0, badIndex));
        assertThat(plain).isNotNull();
        assertThat(profiled).isExactlyInstanceOf(plain.getClass()).hasMessage(plain.getMessage());
    }
}
