package dev.ladon.cuda;

/**
 * The device could not provide memory even after the allocator returned its cache to the driver and
 * waited for unreachable tensors to be collected. Recoverable: the failed op changed nothing, so a
 * caller may free tensors (or lower the batch size) and try again. An unchecked exception, not a
 * {@link java.lang.Error}, because it does not mean the JVM is in trouble.
 */
public final class CudaOutOfMemoryError extends RuntimeException {
    private final long requestedBytes;
    private final MemoryStats stats;

    CudaOutOfMemoryError(String message, long requestedBytes, MemoryStats stats) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.stats = stats;
    }

    /** The size of the allocation that failed, in bytes. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** The allocator's state when it gave up. */
    public MemoryStats stats() {
        return stats;
    }
}
