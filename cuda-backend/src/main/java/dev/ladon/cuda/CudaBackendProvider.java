package dev.ladon.cuda;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BackendProvider;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Registers the CUDA backend ({@code cuda:N}) with the tensor module's {@link java.util.ServiceLoader}.
 * Loading this class touches no native code; the first {@link #unavailableReason()} probes the driver
 * once and remembers the answer, so a machine without a GPU gets a one-line reason instead of a crash.
 */
public final class CudaBackendProvider implements BackendProvider {
    private static final Map<Integer, CudaBackend> OPEN = new ConcurrentHashMap<>();
    private static volatile Probe probe;

    /** The driver's answer: a reason (null when usable) and the number of devices. */
    private record Probe(String reason, int deviceCount) {
    }

    @Override
    public String deviceType() {
        return "cuda";
    }

    @Override
    public String unavailableReason() {
        return probe().reason();
    }

    @Override
    public Backend open(int index) {
        Probe p = probe();
        if (p.reason() != null) {
            throw new IllegalStateException("cuda:" + index + " is unavailable: " + p.reason());
        }
        if (index >= p.deviceCount()) {
            throw new IllegalArgumentException("cuda:" + index + " does not exist: this machine has " + p.deviceCount()
                    + " CUDA device(s), cuda:0.." + "cuda:" + (p.deviceCount() - 1));
        }
        return OPEN.computeIfAbsent(index, i -> new CudaBackend(Device.cuda(i), new JCudaDriverApi(i)));
    }

    private static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (CudaBackendProvider.class) {
                p = probe;
                if (p == null) {
                    p = runProbe();
                    probe = p;
                }
            }
        }
        return p;
    }

    /** cuInit and a device count, with every way the native side can fail turned into a reason. */
    private static Probe runProbe() {
        try {
            return DriverProbe.run();
        } catch (UnsatisfiedLinkError e) {
            return new Probe("the CUDA driver (libcuda.so.1) or JCuda's native library could not be loaded: "
                    + firstLine(e.getMessage()), 0);
        } catch (LinkageError e) {
            // NoClassDefFoundError (JCuda missing from the class path), ExceptionInInitializerError, ...
            return new Probe("JCuda could not be initialised: " + e.getClass().getSimpleName() + ": "
                    + firstLine(e.getMessage()), 0);
        } catch (RuntimeException e) {
            // jcuda.CudaException and anything else the bindings throw while loading.
            return new Probe("the CUDA driver could not be initialised: " + e.getClass().getSimpleName() + ": "
                    + firstLine(e.getMessage()), 0);
        }
    }

    static String firstLine(String s) {
        if (s == null || s.isBlank()) {
            return "(no message)";
        }
        String t = s.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl).strip();
    }

    /** The JCuda calls of the probe, in their own class so that a missing JCuda fails inside the try above. */
    private static final class DriverProbe {
        static Probe run() {
            jcuda.driver.JCudaDriver.setExceptionsEnabled(false);
            int r = jcuda.driver.JCudaDriver.cuInit(0);
            if (r != jcuda.driver.CUresult.CUDA_SUCCESS) {
                return new Probe("cuInit failed with " + jcuda.driver.CUresult.stringFor(r)
                        + " (no NVIDIA driver, no GPU, or the GPU is not visible to this process)", 0);
            }
            int[] count = new int[1];
            r = jcuda.driver.JCudaDriver.cuDeviceGetCount(count);
            if (r != jcuda.driver.CUresult.CUDA_SUCCESS) {
                return new Probe("cuDeviceGetCount failed with " + jcuda.driver.CUresult.stringFor(r), 0);
            }
            if (count[0] == 0) {
                return new Probe("the CUDA driver reports no devices", 0);
            }
            return new Probe(null, count[0]);
        }
    }
}
