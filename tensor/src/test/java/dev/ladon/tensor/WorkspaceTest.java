package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class WorkspaceTest {
    /** Large enough to take memory from a scope. */
    private static final int N = Workspace.MIN_ELEMENTS;

    private static Tensor filled(float value) {
        return Tensor.full(value, DType.FLOAT32, Device.CPU, N);
    }

    @Test
    void aTensorOfTheNextScopeReusesTheMemoryAndReadsAsZeros() {
        Workspace workspace = new Workspace("test");
        try (var scope = workspace.open()) {
            filled(7f);
        }
        assertThat(workspace.freeBytes()).isEqualTo(4L * N);
        try (var scope = workspace.open()) {
            Tensor z = Tensor.zeros(N);
            assertThat(workspace.reuses()).isEqualTo(1);
            assertThat(z.sum().item()).isEqualTo(0.0);
            assertThat(z.max().item()).isEqualTo(0.0);
        }
        assertThat(workspace.allocations()).isEqualTo(1);
    }

    @Test
    void aReleasedTensorRefusesToBeReadAndNamesTheWorkspace() {
        Workspace workspace = new Workspace("training step");
        Tensor t;
        try (var scope = workspace.open()) {
            t = filled(1f);
            assertThat(t.sum().item()).isEqualTo(N);
        }
        assertThat(t.storage().released()).isTrue();
        assertThatThrownBy(t::sum).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("released").hasMessageContaining("'training step'")
                .hasMessageContaining("Workspace.outside");
        Tensor view = t.narrow(0, 0, 2);
        assertThatThrownBy(view::toFloatArray).isInstanceOf(IllegalStateException.class);
        assertThat(view.toString()).isEqualTo("tensor(<released by its workspace scope>, shape=[2], dtype=float32)");
    }

    @Test
    void keptAndOutsideTensorsOutliveTheScopeAndTheirMemoryIsNotReused() {
        Workspace workspace = new Workspace("test");
        Tensor kept;
        Tensor outside;
        try (var scope = workspace.open()) {
            kept = scope.keep(filled(2f));
            outside = Workspace.outside(() -> filled(3f));
            filled(4f);
        }
        assertThat(workspace.freeBytes()).as("only the third tensor was released").isEqualTo(4L * N);
        try (var scope = workspace.open()) {
            Tensor a = filled(5f);
            Tensor b = filled(6f);
            assertThat(workspace.reuses()).isEqualTo(1);
            assertThat(kept.sum().item()).isEqualTo(2.0 * N);
            assertThat(outside.sum().item()).isEqualTo(3.0 * N);
            assertThat(a.sum().item()).isEqualTo(5.0 * N);
            assertThat(b.sum().item()).isEqualTo(6.0 * N);
        }
        assertThat(kept.sum().item()).isEqualTo(2.0 * N);
    }

    @Test
    void smallTensorsAndOtherThreadsTensorsAreLeftToTheCollector() throws Exception {
        Workspace workspace = new Workspace("test");
        Tensor small;
        AtomicReference<Tensor> fromOtherThread = new AtomicReference<>();
        try (var scope = workspace.open()) {
            small = Tensor.full(1f, DType.FLOAT32, Device.CPU, N - 1);
            Thread other = new Thread(() -> fromOtherThread.set(filled(8f)));
            other.start();
            other.join();
        }
        assertThat(workspace.freeBytes()).isZero();
        assertThat(small.sum().item()).isEqualTo(N - 1.0);
        assertThat(fromOtherThread.get().sum().item()).isEqualTo(8.0 * N);
    }

    @Test
    void theWorkspaceKeepsOnlyWhatItsLastScopeUsed() {
        Workspace workspace = new Workspace("test");
        try (var scope = workspace.open()) {
            filled(1f);
            Tensor.zeros(2 * N);
        }
        assertThat(workspace.freeBytes()).isEqualTo(12L * N);
        try (var scope = workspace.open()) {
            filled(1f);
        }
        assertThat(workspace.freeBytes()).as("the 2N array went unused and was let go").isEqualTo(4L * N);
        workspace.clear();
        assertThat(workspace.freeBytes()).isZero();
    }

    @Test
    void everyDtypeIsReusedZeroFilled() {
        Workspace workspace = new Workspace("test");
        for (DType dtype : DType.values()) {
            try (var scope = workspace.open()) {
                Tensor.full(1, dtype, Device.CPU, N);
            }
            try (var scope = workspace.open()) {
                long before = workspace.reuses();
                Tensor z = Tensor.zeros(dtype, N);
                assertThat(workspace.reuses()).as(dtype + " reused").isEqualTo(before + 1);
                assertThat(z.to(DType.FLOAT64).sum().item()).as(dtype.toString()).isEqualTo(0.0);
            }
        }
    }

    @Test
    void opsInsideAScopeGiveTheResultsTheyGiveOutside() {
        Generator g = new Generator(3);
        Tensor a = Tensor.randn(g, DType.FLOAT32, Device.CPU, 64, 128);
        Tensor b = Tensor.randn(g, DType.FLOAT32, Device.CPU, 128, 96);
        float[] expected = a.matmul(b).relu().add(a.matmul(b)).softmax(1).toFloatArray();
        Workspace workspace = new Workspace("test");
        for (int i = 0; i < 3; i++) {
            try (var scope = workspace.open()) {
                float[] got = a.matmul(b).relu().add(a.matmul(b)).softmax(1).toFloatArray();
                assertThat(got).as("scope " + i).containsExactly(expected);
            }
        }
        assertThat(workspace.reuses()).isPositive();
    }

    @Test
    void aTensorReleasedEarlyServesALaterTensorOfTheSameScope() {
        Workspace workspace = new Workspace("test");
        try (var scope = workspace.open()) {
            Tensor before = filled(1f);
            long mark = scope.mark();
            Tensor kept = scope.keep(filled(2f));
            Tensor done = filled(3f);
            assertThat(scope.releaseIfLentSince(before, mark)).as("lent before the mark").isFalse();
            assertThat(scope.releaseIfLentSince(kept, mark)).as("kept").isFalse();
            assertThat(scope.releaseIfLentSince(Tensor.zeros(N - 1), mark)).as("never lent").isFalse();
            assertThat(scope.releaseIfLentSince(done, mark)).isTrue();
            assertThatThrownBy(done::sum).isInstanceOf(IllegalStateException.class);
            Tensor next = Tensor.zeros(N);
            assertThat(workspace.reuses()).isEqualTo(1);
            assertThat(next.sum().item()).as("zero-filled").isEqualTo(0.0);
            assertThat(before.sum().item()).isEqualTo(N);
        }
        assertThat(workspace.freeBytes()).as("before and next; the kept tensor is the collector's").isEqualTo(8L * N);
    }

    /**
     * The outputs of the kernels that write every element skip the zero-fill of reused memory: run each
     * in a scope whose free memory was left full of NaN (of 1 for integer and bool dtypes) by the scope
     * before, and compare with the same op outside any scope.
     */
    @Test
    void kernelsThatSkipTheZeroFillWriteEveryElement() {
        Generator g = new Generator(11);
        Tensor a = Tensor.randn(g, DType.FLOAT32, Device.CPU, 64, 64);
        Tensor b = Tensor.randn(g, DType.FLOAT32, Device.CPU, 64, 64);
        Tensor x4 = Tensor.randn(g, DType.FLOAT32, Device.CPU, 2, 4, 16, 32); // [B, H, T, D], 4096 values
        Tensor heads = Tensor.randn(g, DType.FLOAT32, Device.CPU, 2, 16, 4, 32).permute(0, 2, 1, 3);
        Tensor cos = Tensor.randn(g, DType.FLOAT32, Device.CPU, 16, 12);
        Tensor sin = Tensor.randn(g, DType.FLOAT32, Device.CPU, 16, 12);
        Tensor w = Tensor.randn(g, DType.FLOAT32, Device.CPU, 64);
        java.util.List<java.util.function.Supplier<Tensor>> ops = java.util.List.of(
                () -> a.matmul(b),
                () -> a.matmul(b.transpose(0, 1)),
                () -> a.to(DType.FLOAT64).matmul(b.to(DType.FLOAT64)),
                () -> a.exp(),
                () -> a.relu(),
                () -> a.add(b),
                () -> a.mul(b.narrow(0, 0, 1)),
                () -> a.gt(b),
                () -> FusedOps.reluBackward(a, b.relu()),
                () -> FusedOps.rotary(x4, cos, sin),
                () -> FusedOps.rotary(heads, cos, sin),
                () -> FusedOps.layerNorm(a, w, w, 1e-5).output(),
                () -> FusedOps.layerNormBackward(b, a, w, FusedOps.layerNorm(a, w, w, 1e-5))[0],
                () -> FusedOps.rmsNorm(a, w, 1e-5).output(),
                () -> FusedOps.rmsNormBackward(b, a, w, FusedOps.rmsNorm(a, w, 1e-5))[0]);
        Workspace workspace = new Workspace("test");
        for (int i = 0; i < ops.size(); i++) {
            double[] expected = ops.get(i).get().to(DType.FLOAT64).toDoubleArray();
            try (var scope = workspace.open()) {
                for (DType dtype : DType.values()) {
                    for (int copies = 0; copies < 4; copies++) {
                        Tensor.full(dtype.isFloating() ? Double.NaN : 1, dtype, Device.CPU, N);
                        Tensor.full(dtype.isFloating() ? Double.NaN : 1, dtype, Device.CPU, 2 * N);
                    }
                }
            }
            try (var scope = workspace.open()) {
                long before = workspace.reuses();
                double[] got = ops.get(i).get().to(DType.FLOAT64).toDoubleArray();
                assertThat(workspace.reuses()).as("op " + i + " reused memory").isGreaterThan(before);
                assertThat(got).as("op " + i).containsExactly(expected);
            }
        }
    }

    @Test
    void scopesNestAcrossWorkspacesAndCloseInnermostFirst() {
        Workspace outer = new Workspace("outer");
        Workspace inner = new Workspace("inner");
        var outerScope = outer.open();
        assertThatThrownBy(outer::open).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already open");
        Tensor a = filled(1f);
        var innerScope = inner.open();
        Tensor b = filled(2f);
        assertThatThrownBy(outerScope::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'inner'");
        innerScope.close();
        assertThat(b.storage().released()).isTrue();
        assertThat(a.sum().item()).as("still in the outer scope").isEqualTo(N);
        Tensor c = filled(3f);
        outerScope.close();
        assertThat(a.storage().released()).isTrue();
        assertThat(c.storage().released()).isTrue();
        assertThat(filled(4f).storage().released()).as("no scope open any more").isFalse();
    }

    @Test
    void aScopeClosesOnlyOnItsOwnThread() throws Exception {
        Workspace workspace = new Workspace("test");
        var scope = workspace.open();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                scope.close();
            } catch (Throwable e) {
                error.set(e);
            }
        });
        other.start();
        other.join();
        assertThat(error.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("thread");
        scope.close();
    }
}
