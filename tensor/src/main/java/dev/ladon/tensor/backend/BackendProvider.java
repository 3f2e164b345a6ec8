package dev.ladon.tensor.backend;

/**
 * Service-provider entry for one device type, found with {@link java.util.ServiceLoader}. A module that adds a
 * device (the CPU backend here, {@code cuda-backend} for GPUs) lists its provider in
 * {@code META-INF/services/dev.ladon.tensor.backend.BackendProvider}.
 */
public interface BackendProvider {
    /** The device type this provider serves, e.g. {@code "cpu"} or {@code "cuda"}. */
    String deviceType();

    /** Null when the device can be used; otherwise a one-line reason (no driver, no GPU, ...). */
    String unavailableReason();

    /** Opens the backend for device {@code index}; called once per device. */
    Backend open(int index);
}
