package dev.ladon.cuda;

/**
 * The part of the CUDA driver API the backend uses, for one device, one context and one stream. The
 * implementation on the GPU is {@link JCudaDriverApi}; tests without a GPU use a fake that checks every
 * launch against the PTX signatures.
 *
 * <p>Ordering: kernel launches, device-to-device copies and memsets are queued on the backend's stream
 * and return at once. Host transfers are synchronous and ordered after everything queued before them.
 */
interface DriverApi extends CachingAllocator.DeviceMemory {
    /** The device's name, e.g. "NVIDIA H100 80GB HBM3". */
    String deviceName();

    /**
     * The most shared memory one block may use once its kernel opts in (H100: 227 KiB; Ampere's consumer
     * and Ada GPUs: 99 KiB), which decides whether the kernels that need more can run.
     */
    int maxSharedBytesPerBlock();

    /** The device's streaming multiprocessors (H100: 132), which decides how large a block tile may be. */
    int multiprocessors();

    /** Queues a launch of {@code kernel} from PTX module {@code module} (a file of src/main/cuda). */
    void launch(String module, String kernel, int gridX, int gridY, int gridZ, int blockX, int sharedBytes,
            KernelArgs args);

    /** Queues {@code bytes} zero bytes at {@code address}. */
    void memsetZero(long address, long bytes);

    /** Queues a device-to-device copy. */
    void copyDeviceToDevice(long dst, long src, long bytes);

    /** Copies {@code bytes} from the start of a Java primitive array to the device (synchronous). */
    void copyHostToDevice(long dst, Object hostArray, long bytes);

    /** Copies {@code bytes} from the device into the start of a Java primitive array (synchronous). */
    void copyDeviceToHost(Object hostArray, long src, long bytes);
}
