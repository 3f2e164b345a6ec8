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
