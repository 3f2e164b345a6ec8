package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.util.Arrays;

/** What the GPU tests share: the device, the skip when there is none, and the comparison of results. */
final class GpuTests {
    static final Device CUDA = Device.cuda(0);

    private GpuTests() {
    }

    /** Skips the calling test (class) with the driver's reason when no GPU can be used. */
    static void requireGpu() {
        assumeTrue(Backends.isAvailable(CUDA), () -> "no usable CUDA device, GPU tests skipped: "
                + Backends.unavailableReason(CUDA));
    }

    static CudaBackend backend() {
        return (CudaBackend) Backends.of(CUDA);
    }

    /** actual (any device) against expected (CPU): same shape and dtype, |a - e| <= atol + rtol |e|, NaN where NaN. */
    static void assertClose(String what, Tensor actual, Tensor expected, double rtol, double atol) {
        if (expected == null) {
            assertThat(actual).as("%s: expected no tensor", what).isNull();
            return;
        }
        assertThat(actual).as("%s: missing result", what).isNotNull();
        assertThat(actual.shape()).as("%s: shape", what).containsExactly(expected.shape());
        assertThat(actual.dtype()).as("%s: dtype", what).isEqualTo(expected.dtype());
        double[] a = actual.to(Device.CPU).toDoubleArray();
        double[] e = expected.toDoubleArray();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(e[i]) || Double.isNaN(a[i])) {
                if (Double.isNaN(e[i]) != Double.isNaN(a[i])) {
                    fail("%s: element %d is %s, expected %s", what, i, a[i], e[i]);
                }
                continue;
            }
            if (a[i] == e[i]) {
                continue;
            }
            double excess = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
            if (excess > worst || Double.isNaN(excess)) {
                worst = excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            fail("%s: element %d (of shape %s) is %s, expected %s (rtol %s, atol %s)", what, worstAt,
                    Arrays.toString(expected.shape()), a[worstAt], e[worstAt], rtol, atol);
        }
    }
}
