package dev.ladon.tensor.cpu;

import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BackendProvider;

/** Registers the CPU backend (always available). */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String deviceType() {
        return "cpu";
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    @Override
    public Backend open(int index) {
        if (index != 0) {
            throw new IllegalArgumentException("there is one CPU device, cpu (index 0); got index " + index);
        }
        return CpuBackend.INSTANCE;
    }
}
