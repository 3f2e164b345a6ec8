package dev.ladon.tensor.backend;

import dev.ladon.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/** Finds the backend of a device through the providers on the class path. */
public final class Backends {
    private static final List<BackendProvider> PROVIDERS = loadProviders();
    private static final Map<Device, Backend> OPEN = new ConcurrentHashMap<>();

    private Backends() {
    }

    private static List<BackendProvider> loadProviders() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class).forEach(list::add);
        return List.copyOf(list);
    }

    /** The backend of {@code device}; fails with the provider's reason when the device cannot be used. */
    public static Backend of(Device device) {
        Backend b = OPEN.get(device);
        return b != null ? b : OPEN.computeIfAbsent(device, Backends::open);
    }

    private static Backend open(Device device) {
        for (BackendProvider p : PROVIDERS) {
            if (p.deviceType().equals(device.type())) {
                String reason = p.unavailableReason();
                if (reason != null) {
                    throw new IllegalStateException("device " + device + " is unavailable: " + reason);
                }
                return p.open(device.index());
            }
        }
        throw new IllegalStateException("device " + device + " is unavailable: no backend for '" + device.type()
                + "' on the class path (the CUDA backend is the ladon cuda-backend module)");
    }

    /** Whether {@code device} can be used; see {@link #unavailableReason}. */
    public static boolean isAvailable(Device device) {
        return unavailableReason(device) == null;
    }

    /** Null when {@code device} can be used, else why not. */
    public static String unavailableReason(Device device) {
        for (BackendProvider p : PROVIDERS) {
            if (p.deviceType().equals(device.type())) {
                return p.unavailableReason();
            }
        }
        return "no backend for '" + device.type() + "' on the class path";
    }
}
