package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every op case on the simulated device (no GPU): the whole host side of the backend runs, and
 * every kernel launch is checked against the PTX signature of its kernel, the live allocations and the
 * launch limits (see {@link SimulatedDriver}). Values are not computed, so nothing is compared here;
 * CudaOpsGpuTest compares them on a GPU.
 */
class SimulatedLaunchTest {
    @TestFactory
    Stream<DynamicTest> everyOpLaunchesKernelsThatMatchTheirPtxSignatures() {
        return OpCases.all().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            SimulatedCudaProvider.DRIVER.clear();
            List<Tensor> results = OpCases.results(c.op().apply(c.inputsOn(SimulatedCudaProvider.DEVICE)));
            assertThat(SimulatedCudaProvider.DRIVER.violations()).as("launch violations of %s", c.name()).isEmpty();
            // The expected results (what the GPU test compares with) have the shapes and dtypes of the device's.
            List<Tensor> cpuInputs = c.inputsOn(Device.CPU);
            List<Tensor> expected = OpCases.results(c.reference() != null ? c.reference().apply(cpuInputs)
                    : c.op().apply(cpuInputs));
            assertThat(results).hasSameSizeAs(expected);
            for (int i = 0; i < expected.size(); i++) {
                if (expected.get(i) == null) {
                    assertThat(results.get(i)).as("result %d", i).isNull();
                    continue;
                }
                assertThat(results.get(i).shape()).as("shape of result %d", i).containsExactly(expected.get(i).shape());
                assertThat(results.get(i).dtype()).as("dtype of result %d", i).isEqualTo(expected.get(i).dtype());
                assertThat(results.get(i).device()).isEqualTo(SimulatedCudaProvider.DEVICE);
            }
        }));
    }

    /** Kernels no op case launches; each is named with the reason it is not reached from the Tensor API. */
    static final Set<String> NOT_REACHED = Set.of(
            // Arithmetic on bool is promoted to int64 by Tensor, so these run only through binaryInPlace on bool.
            "elementwise.binary_u8",
            // Tensor.cumsum promotes int32 and bool to int64 first (and the CPU backend has no int32 cumsum to compare with).
            "reduce.cumsum_i32", "reduce.cumsum_u8");

    @Test
    void theCasesLaunchEveryKernelOfEveryModule() {
        SimulatedCudaProvider.DRIVER.clear();
        Set<String> launched = new TreeSet<>();
        for (OpCases c : OpCases.all()) {
            OpCases.results(c.op().apply(c.inputsOn(SimulatedCudaProvider.DEVICE)));
            launched.addAll(SimulatedCudaProvider.DRIVER.launches().keySet());
        }
        Set<String> missing = new TreeSet<>();
        for (String module : new String[] {"elementwise", "random", "reduce", "softmax", "index", "norm", "loss",
                "optim", "gemm", "attention", "grouped", "sort"}) {
            for (String kernel : PtxSignatures.parse(module).keySet()) {
                String name = module + "." + kernel;
                if (!launched.contains(name) && !NOT_REACHED.contains(name)) {
                    missing.add(name);
                }
            }
        }
        assertThat(missing).as("kernels no case launches").isEmpty();
    }

    @Test
    void theRelativeTermWithoutACausalMaskIsRefusedBeforeAnyLaunch() {
        Device d = SimulatedCudaProvider.DEVICE;
        dev.ladon.tensor.Generator g = new dev.ladon.tensor.Generator(3);
        Tensor q = Tensor.randn(g, dev.ladon.tensor.DType.FLOAT32, d, 1, 2, 8, 16);
        Tensor rel = Tensor.randn(g, dev.ladon.tensor.DType.FLOAT32, d, 2, 8, 16);
        SimulatedCudaProvider.DRIVER.clear();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.ladon.tensor.backend.Backends.of(d)
                .attention(q, q, q, rel, 0.25, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("attention on " + d + ": the relative-position term needs causal attention");
        assertThat(SimulatedCudaProvider.DRIVER.launches()).isEmpty();
    }

    @Test
    void aMatmulWithMillionsOfRowsFitsTheGridAndTooManyColumnTilesAreNamed() {
        Device d = SimulatedCudaProvider.DEVICE;
        dev.ladon.tensor.Generator g = new dev.ladon.tensor.Generator(4);
        Tensor tall = Tensor.randn(g, dev.ladon.tensor.DType.FLOAT32, d, 5_000_000, 4);
        Tensor small = Tensor.randn(g, dev.ladon.tensor.DType.FLOAT32, d, 4, 4);
        SimulatedCudaProvider.DRIVER.clear();
        assertThat(tall.matmul(small).shape()).containsExactly(5_000_000, 4);
        assertThat(SimulatedCudaProvider.DRIVER.violations()).as("78,125 row tiles of 64 go on the grid's x").isEmpty();
        Tensor wide = Tensor.randn(g, dev.ladon.tensor.DType.FLOAT32, d, 4, 9_000_000);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> small.matmul(wide))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("9000000 columns need 70313 column tiles of 128, more than the grid's 65535");
    }
}
