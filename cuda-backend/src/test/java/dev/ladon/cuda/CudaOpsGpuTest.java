package dev.ladon.cuda;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

/** Every op case on the GPU against the CPU backend (or the plain references). Skipped without a GPU. */
@Tag("gpu")
class CudaOpsGpuTest {
    @TestFactory
    Stream<DynamicTest> everyOpMatchesTheCpu() {
        return OpCases.all().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            GpuTests.requireGpu();
            List<Tensor> cpuInputs = c.inputsOn(Device.CPU);
            List<Tensor> expected = OpCases.results(c.reference() != null ? c.reference().apply(cpuInputs)
                    : c.op().apply(cpuInputs));
            List<Tensor> actual = OpCases.results(c.op().apply(c.inputsOn(GpuTests.CUDA)));
            for (int i = 0; i < expected.size(); i++) {
                GpuTests.assertClose(c.name() + ", result " + i, actual.get(i), expected.get(i), c.rtol(), c.atol());
            }
            GpuTests.backend().synchronize();
        }));
    }
}
