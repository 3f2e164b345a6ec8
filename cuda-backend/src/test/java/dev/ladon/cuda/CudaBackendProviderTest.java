package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Without a driver the provider must answer with a reason, and class loading must never fail. */
class CudaBackendProviderTest {
    /** Whether libcuda.so.1 exists in the usual places or on LD_LIBRARY_PATH. */
    static boolean driverLibraryPresent() {
        List<String> dirs = new ArrayList<>(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
                "/usr/local/cuda/compat", "/usr/lib/wsl/lib"));
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) {
            dirs.addAll(List.of(ld.split(":")));
        }
        return dirs.stream().anyMatch(d -> !d.isEmpty() && Files.exists(Path.of(d, "libcuda.so.1")));
    }

    @Test
    void reasonIsNullOrOneClearLine() {
        String reason = new CudaBackendProvider().unavailableReason();
        if (reason != null) {
            assertThat(reason).isNotBlank().doesNotContain("\n");
        }
        assertThat(new CudaBackendProvider().deviceType()).isEqualTo("cuda");
    }

    @Test
    void withoutADriverTheDeviceIsUnavailableWithAReason() {
        assumeFalse(driverLibraryPresent(), "this machine has a CUDA driver");
        Device cuda = Device.cuda(0);
        assertThat(Backends.isAvailable(cuda)).isFalse();
        assertThat(Backends.unavailableReason(cuda)).containsAnyOf("libcuda", "JCuda", "cuInit", "CUDA");
        assertThatThrownBy(() -> Tensor.zeros(3).to(cuda))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cuda:0 is unavailable");
    }

    @Test
    void everyPtxModuleLoadsAsANulTerminatedResource() {
        for (String module : new String[] {"elementwise", "random", "reduce", "softmax", "index", "norm", "loss", "optim",
                "gemm", "attention", "grouped", "sort"}) {
            byte[] ptx = JCudaDriverApi.readPtx(module);
            assertThat(ptx[ptx.length - 1]).as(module).isZero();
            assertThat(new String(ptx, 0, 200, java.nio.charset.StandardCharsets.US_ASCII)).contains("ladon-source-sha256");
        }
    }
}
