package dev.ladon.cuda;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BackendProvider;

/**
 * Test-only device type {@code cudasim}: the real {@link CudaBackend} over a {@link SimulatedDriver}, so
 * that tensors created on it run the backend's whole host side (layouts, kernel choice, arguments) on a
 * machine without a GPU. Registered in src/test/resources/META-INF/services.
 */
public final class SimulatedCudaProvider implements BackendProvider {
    static final Device DEVICE = new Device("cudasim", 0);
    static final SimulatedDriver DRIVER = new SimulatedDriver();
    private static CudaBackend backend;

    @Override
    public String deviceType() {
        return DEVICE.type();
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    @Override
    public synchronized Backend open(int index) {
        if (backend == null) {
            backend = new CudaBackend(DEVICE, DRIVER);
        }
        return backend;
    }
}
