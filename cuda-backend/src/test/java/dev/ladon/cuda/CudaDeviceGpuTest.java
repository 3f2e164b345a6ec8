package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Memory, transfers, the RNG stream and index errors on a real GPU. Skipped without one. */
@Tag("gpu")
class CudaDeviceGpuTest {
    @BeforeEach
    void gpu() {
        GpuTests.requireGpu();
    }

    @Test
    void transfersRoundTripEveryDtype() {
        Tensor f = Tensor.of(new float[] {1.5f, -2, Float.NaN, 7}, 2, 2);
        Tensor d = Tensor.of(new double[] {1e300, -0.0, 3});
        Tensor i = Tensor.of(new int[] {Integer.MIN_VALUE, 5});
        Tensor l = Tensor.of(new long[] {Long.MAX_VALUE, -1});
        Tensor b = Tensor.of(new boolean[] {true, false, true});
        assertThat(f.to(GpuTests.CUDA).toFloatArray()).containsExactly(f.toFloatArray());
        assertThat(d.to(GpuTests.CUDA).to(Device.CPU).toDoubleArray()).containsExactly(d.toDoubleArray());
        assertThat(i.to(GpuTests.CUDA).to(Device.CPU).toIntArray()).containsExactly(i.toIntArray());
        assertThat(l.to(GpuTests.CUDA).to(Device.CPU).toLongArray()).containsExactly(l.toLongArray());
        assertThat(b.to(GpuTests.CUDA).to(Device.CPU).toLongArray()).containsExactly(1, 0, 1);
        assertThat(Tensor.zeros(DType.FLOAT32, GpuTests.CUDA, 1000).sum().item()).isZero();
    }

    @Test
    void randomStreamEqualsTheCpuStreamBitForBit() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Generator cpu = new Generator(1234);
            Generator gpu = new Generator(1234);
            for (int call = 0; call < 3; call++) {  // consecutive fills continue the stream
                Tensor a = Tensor.rand(cpu, t, Device.CPU, 777);
                Tensor b = Tensor.rand(gpu, t, GpuTests.CUDA, 777);
                assertThat(b.to(Device.CPU).toDoubleArray()).as("%s call %d", t, call).containsExactly(a.toDoubleArray());
            }
            assertThat(gpu.offset()).isEqualTo(cpu.offset());
        }
        // Normals go through log and cos, which the GPU and the JVM each compute to within an ulp; in float32
        // the double result is rounded, so nearly every element is identical and none is off by more.
        float[] a = Tensor.randn(new Generator(5), DType.FLOAT32, Device.CPU, 100_000).toFloatArray();
        float[] b = Tensor.randn(new Generator(5), DType.FLOAT32, GpuTests.CUDA, 100_000).toFloatArray();
        int different = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                different++;
                assertThat(Math.abs(a[i] - b[i])).as("element %d", i).isLessThanOrEqualTo(Math.ulp(a[i]));
            }
        }
        assertThat(different).isLessThan(100);
    }

    /**
     * A backend of its own (own allocator and stream) so that blocks other tests drop, which the cleaner
     * returns at any time, cannot disturb the counts.
     */
    @Test
    void allocatorStatisticsFollowAllocations() {
        CudaBackend own = new CudaBackend(GpuTests.CUDA, new JCudaDriverApi(0));
        MemoryStats start = own.memoryStats();
        CudaStorage a = (CudaStorage) own.allocate(DType.FLOAT32, 1 << 20);  // 4 MiB
        CudaStorage b = (CudaStorage) own.allocate(DType.FLOAT64, 1000);    // 8000 bytes -> class 8192
        MemoryStats s = own.memoryStats();
        assertThat(a.reservedBytes()).isEqualTo(4L << 20);
        assertThat(b.reservedBytes()).isEqualTo(8192);
        assertThat(s.allocatedBytes() - start.allocatedBytes()).isEqualTo((4L << 20) + 8192);
        assertThat(s.reservedBytes() - start.reservedBytes()).isEqualTo((4L << 20) + 8192);
        assertThat(s.peakAllocatedBytes()).isEqualTo(s.allocatedBytes());
        assertThat(s.driverAllocations() - start.driverAllocations()).isEqualTo(2);
        assertThat(own.emptyCache()).isZero();  // nothing cached yet
        own.synchronize();
        assertThat(a.size() + b.size()).isEqualTo((1 << 20) + 1000);
    }

    /** A loop of training-like steps whose intermediates are garbage: once warm, no cuMemAlloc. */
    @Test
    void steadyStateStepsAreServedFromTheCache() {
        CudaBackend b = GpuTests.backend();
        long previousLimit = b.softMemoryLimit();
        long limit = b.memoryStats().reservedBytes() + (64L << 20);
        b.setSoftMemoryLimit(limit);
        try {
            Tensor w = Tensor.randn(new Generator(1), DType.FLOAT32, GpuTests.CUDA, 256, 256);
            Tensor x = Tensor.randn(new Generator(2), DType.FLOAT32, GpuTests.CUDA, 512, 256);
            long allocationsAfterWarmup = 0;
            for (int step = 0; step < 200; step++) {
                Tensor h = x.matmul(w).relu();
                Tensor loss = h.mul(h).mean();
                if (step % 50 == 49) {
                    loss.item();
                }
                if (step == 100) {
                    allocationsAfterWarmup = b.memoryStats().driverAllocations();
                }
            }
            MemoryStats s = b.memoryStats();
            assertThat(s.driverAllocations()).as("%s", s).isEqualTo(allocationsAfterWarmup);
            assertThat(s.reservedBytes()).as("%s", s).isLessThanOrEqualTo(limit + (8L << 20));
        } finally {
            b.setSoftMemoryLimit(previousLimit);
        }
    }

    @Test
    void outOfMemoryIsRecoverable() {
        CudaBackend b = GpuTests.backend();
        // Blocks of about a sixteenth of the device (8 GiB on an 80 GB GPU), so that a few fit before one fails.
        int elements = (int) Math.min(1L << 30, Long.highestOneBit(b.deviceBytes() / 16 / Double.BYTES) << 1);
        long bytes = (long) elements * Double.BYTES;
        List<Tensor> hog = new ArrayList<>();
        CudaOutOfMemoryError oom = null;
        try {
            for (int i = 0; i < 64 && oom == null; i++) {
                try {
                    hog.add(Tensor.empty(DType.FLOAT64, GpuTests.CUDA, elements));
                } catch (CudaOutOfMemoryError e) {
                    oom = e;
                }
            }
            assertThat(oom).as("the device never ran out of memory").isNotNull();
            assertThat(oom.getMessage()).contains("could not allocate")
                    .contains(String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0)).contains("reserved");
            assertThat(oom.requestedBytes()).isEqualTo(bytes);
        } finally {
            hog.clear();
        }
        System.gc();
        Tensor again = Tensor.ones(DType.FLOAT64, GpuTests.CUDA, elements);
        assertThat(again.narrow(0, 5, 3).sum().item()).isEqualTo(3.0);
        again = null;
        b.emptyCache();
    }

    @Test
    void badIndicesAreReportedAtTheNextSynchronisationAndTheDeviceStaysUsable() {
        Tensor x = Tensor.randn(new Generator(3), DType.FLOAT32, GpuTests.CUDA, 4, 5);
        Tensor index = Tensor.of(new long[] {0, 7, 2}).to(GpuTests.CUDA);
        Tensor picked = x.indexSelect(1, index);
        assertThatThrownBy(picked::toFloatArray).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("indexSelect: index 7 is out of range for dim 1 of size 5");
        Tensor ok = x.indexSelect(1, Tensor.of(new long[] {4, 0}).to(GpuTests.CUDA));
        assertThat(ok.toFloatArray()).hasSize(8);
        Tensor logits = Tensor.zeros(DType.FLOAT32, GpuTests.CUDA, 2, 3);
        Tensor target = Tensor.of(new long[] {1, 3}).to(GpuTests.CUDA);
        assertThatThrownBy(() -> dev.ladon.tensor.FusedOps.crossEntropy(logits, target, -100, 0).losses().toFloatArray())
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("target 3 at row 1");
    }

    @Test
    void badIndicesOfScatterAddAndTheGroupedMatmulAreReported() {
        Tensor src = Tensor.ones(DType.FLOAT32, GpuTests.CUDA, 2, 3);
        Tensor into = Tensor.zeros(DType.FLOAT32, GpuTests.CUDA, 2, 3);
        Tensor index = Tensor.of(new long[] {0, 1, 2, 0, 3, 1}, 2, 3).to(GpuTests.CUDA);
        assertThatThrownBy(() -> into.scatterAdd(1, index, src).toFloatArray())
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("scatterAdd: index 3 is out of range for dim 1 of size 3");

        Tensor x = Tensor.randn(new Generator(4), DType.FLOAT32, GpuTests.CUDA, 3, 4);
        Tensor w = Tensor.randn(new Generator(5), DType.FLOAT32, GpuTests.CUDA, 2, 4, 5);
        Tensor goodRow = Tensor.of(new long[] {0, 2}).to(GpuTests.CUDA);
        Tensor goodExpert = Tensor.of(new long[] {1, 0}).to(GpuTests.CUDA);
        Tensor badRow = Tensor.of(new long[] {0, 3}).to(GpuTests.CUDA);
        Tensor badExpert = Tensor.of(new long[] {2, 0}).to(GpuTests.CUDA);
        assertThatThrownBy(() -> FusedOps.groupedMatmul(x, w, badRow, goodExpert, null).toFloatArray())
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("groupedMatmul (row): index 3 is out of range for dim 0 of size 3");
        assertThatThrownBy(() -> FusedOps.groupedMatmul(x, w, goodRow, badExpert, null).toFloatArray())
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("groupedMatmul (expert): index 2 is out of range for dim 0 of size 2");
        Tensor g = Tensor.ones(DType.FLOAT32, GpuTests.CUDA, 2, 5);
        assertThatThrownBy(() -> FusedOps.groupedMatmulBackward(g, x, w, badRow, goodExpert, null)[1].toFloatArray())
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("groupedMatmul (row): index 3");
        // Reported once: the device is usable again.
        assertThat(FusedOps.groupedMatmul(x, w, goodRow, goodExpert, null).toFloatArray()).hasSize(10);
    }
}
