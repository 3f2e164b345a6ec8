package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Storage;
import java.lang.ref.Cleaner;

/**
 * Elements in device memory: a block of the device's caching allocator. The block returns to the
 * allocator's cache when this storage becomes unreachable (through a {@link Cleaner}), so freeing costs
 * no driver call and no synchronisation; kernels already queued that use the block still run before any
 * later kernel can reuse it, because all of them share one stream.
 */
public final class CudaStorage extends Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final CachingAllocator.Block block;

    /** Returns a block to its allocator; holds no reference to the storage, or it would never be unreachable. */
    private record ReturnBlock(CachingAllocator allocator, CachingAllocator.Block block) implements Runnable {
        @Override
        public void run() {
            allocator.release(block);
        }
    }

    /** Uninitialised storage of {@code size} elements (the caller writes every element or zeroes it). */
    CudaStorage(CudaBackend backend, DType dtype, int size) {
        super(dtype, size);
        this.backend = backend;
        if (size == 0) {
            this.block = null;
            return;
        }
        this.block = backend.allocator().allocate((long) size * dtype.byteSize());
        CLEANER.register(this, new ReturnBlock(backend.allocator(), block));
    }

    @Override
    public Device device() {
        return backend.device();
    }

    /** Device address of element 0 (0 for an empty storage). */
    long address() {
        return block == null ? 0 : block.address();
    }

    /** Bytes of device memory reserved for this storage (its size class). */
    public long reservedBytes() {
        return block == null ? 0 : block.bytes();
    }
}
