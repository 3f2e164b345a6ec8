package dev.ladon.tensor.testdevice;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Storage;
import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BackendProvider;
import java.lang.reflect.Proxy;

/**
 * A second device for tests, {@code test:0}, so that device-mismatch errors can be provoked without a GPU.
 * It can hold tensors (allocation only) but runs no kernel: every other backend method throws. The backend
 * is a dynamic proxy so that it keeps compiling when the Backend SPI grows. Registered through
 * src/test/resources/META-INF/services; it never reaches the main jar.
 */
public final class TestDeviceProvider implements BackendProvider {
    public static final Device DEVICE = new Device("test", 0);

    @Override
    public String deviceType() {
        return "test";
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    @Override
    public Backend open(int index) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "device" -> DEVICE;
                    case "allocate" -> new TestStorage((DType) args[0], (Integer) args[1]);
                    case "toString" -> "test backend";
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName()
                            + ": the test device holds tensors but runs no kernels");
                });
    }

    /** Storage that only knows its dtype, size and device. */
    static final class TestStorage extends Storage {
        TestStorage(DType dtype, int size) {
            super(dtype, size);
        }

        @Override
        public Device device() {
            return DEVICE;
        }
    }
}
