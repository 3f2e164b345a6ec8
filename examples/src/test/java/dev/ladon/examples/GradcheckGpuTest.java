package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckCaseProvider;
import dev.ladon.autograd.gradcheck.GradcheckResult;
import dev.ladon.autograd.gradcheck.GradcheckSuite;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The whole gradient-check suite (autograd's ops, nn's and moe's layers) in float64 on {@code cuda:0}, as
 * {@code bin/ladon gradcheck --device cuda} runs it. Skipped without a usable CUDA device.
 */
@Tag("gpu")
class GradcheckGpuTest {
    private static final Device CUDA = Device.cuda(0);

    private static void requireGpu() {
        assumeTrue(Backends.isAvailable(CUDA), () -> "no usable CUDA device: " + Backends.unavailableReason(CUDA));
    }

    private static List<GradcheckCase> cases(Device device) {
        return GradcheckSuite.load(GradcheckGpuTest.class.getClassLoader(), device);
    }

    @TestFactory
    Stream<DynamicTest> everyCasePassesOnTheGpu() {
        requireGpu();
        return cases(CUDA).stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            GradcheckResult r = c.run();
            assertThat(r.passed()).as(c.name() + " on " + CUDA + ": " + r.summary()).isTrue();
        }));
    }

    @Test
    void theGpuSuiteHasEveryCaseOfTheCpuSuite() {
        requireGpu();
        List<GradcheckCase> gpu = cases(CUDA);
        assertThat(gpu.stream().map(GradcheckCase::name).toList())
                .isEqualTo(cases(Device.CPU).stream().map(GradcheckCase::name).toList());
        // Every input is on the GPU (the providers' captured constants and modules are checked by running).
        for (GradcheckCase c : gpu) {
            assertThat(c.inputs()).as(c.name()).allSatisfy(t -> assertThat(t.device()).isEqualTo(CUDA));
        }
        // Cases that want bit-identical backward passes allow the last bits that atomic sums change on a GPU.
        List<GradcheckCase> cpu = cases(Device.CPU);
        for (int i = 0; i < gpu.size(); i++) {
            double onCpu = cpu.get(i).options().nondetTolerance();
            assertThat(gpu.get(i).options().nondetTolerance()).as(gpu.get(i).name())
                    .isEqualTo(onCpu == 0 ? GradcheckSuite.DEVICE_NONDETERMINISM_TOLERANCE : onCpu);
        }
    }

    /**
     * A provider written before devices (only {@code cases()}): the default moves its inputs, which is enough
     * for a function that captures nothing; one that captures a CPU tensor fails naming the devices.
     */
    @Test
    void aProviderWithOnlyCpuCasesHasItsInputsMoved() {
        requireGpu();
        Tensor weights = Tensor.of(new double[] {1, -2, 3}, 3);
        GradcheckCaseProvider cpuOnly = () -> List.of(
                GradcheckCase.of("pure", v -> v.get(0).tanh().sum(), randn(2, 3)),
                GradcheckCase.of("captures a CPU tensor", v -> v.get(0).mul(Variable.constant(weights)), randn(2, 3)));
        List<GradcheckCase> moved = cpuOnly.cases(CUDA);
        assertThat(moved.get(0).inputs().get(0).device()).isEqualTo(CUDA);
        assertThat(moved.get(0).run().passed()).isTrue();
        GradcheckResult mixed = moved.get(1).run();
        assertThat(mixed.passed()).isFalse();
        assertThat(mixed.summary()).contains("different devices").contains("@cpu").contains("@cuda:0");
    }

    private static Tensor randn(int... shape) {
        return Tensor.randn(new Generator(1), DType.FLOAT64, Device.CPU, shape);
    }
}
