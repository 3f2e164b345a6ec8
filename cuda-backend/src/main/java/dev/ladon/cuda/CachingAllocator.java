package dev.ladon.cuda;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * Device memory with a cache, so that a training step, which frees and allocates the same sizes step
 * after step, stops calling {@code cuMemAlloc} (which synchronises the device and costs tens of
 * microseconds) once the first steps have filled the cache.
 *
 * <p>Requests are rounded up to a size class and served from that class's free list; a block returns to
 * its list when its tensor storage becomes unreachable. Classes below 64 MiB are 2^k, 1.25 2^k,
 * 1.5 2^k and 1.75 2^k (at least 512 bytes), so rounding wastes under 25%; from 64 MiB up they are
 * multiples of 2 MiB. Blocks are never split or merged: a cached block only serves its own class,
 * which keeps the bookkeeping a map of lists and is enough for the repeating sizes of training.
 *
 * <p>Java frees nothing until the garbage collector finds a storage unreachable, and a heap full of small
 * tensor objects gives it little reason to run, so left alone the reserved memory would grow every step.
 * The allocator therefore has a soft limit: a cache miss that would take the reserved bytes past it
 * first asks for a collection and takes back the blocks the cleaner returns; only if that does not serve
 * the request does it return other size classes to the driver or allocate past the limit. In steady
 * state the reserved memory settles at the limit and allocations are served from the cache. A
 * collection that brings nothing back (everything reserved is live) is not repeated until some block
 * is released again or the reserved memory has grown by an eighth of the limit since, so a model that
 * needs more than the limit pays for one futile collection per such step, not one per allocation. (Waiting
 * for a release alone would wait forever: without collections nothing is released, and the reserved
 * memory would grow until the device is full.)
 *
 * <p>When the driver is out of memory the allocator returns its cache to the driver and retries; then it
 * collects garbage as above and retries once more; only then does it throw {@link CudaOutOfMemoryError},
 * naming the request and its own state.
 *
 * <p>Thread-safe: blocks come back on the {@link java.lang.ref.Cleaner} thread.
 */
final class CachingAllocator {
    /** Where blocks come from: the CUDA driver, or a fake in tests. */
    interface DeviceMemory {
        /** A new block of exactly {@code bytes}; its device address. */
        long allocate(long bytes) throws DeviceOutOfMemoryException;

        void free(long address);

        /** Waits for queued device work, so that freed blocks are no longer in use. */
        void synchronize();

        /** "free X of total Y", or a placeholder when unknown, for error messages. */
        String describe();

        /** The device's total memory in bytes. */
        long totalBytes();
    }

    /** The driver said out of memory. */
    static final class DeviceOutOfMemoryException extends Exception {
        DeviceOutOfMemoryException(String message) {
            super(message);
        }
    }

    /** A device allocation of one size class. */
    record Block(long address, long bytes) {
    }

    static final long MIN_BLOCK = 512;
    static final long LARGE = 64L << 20;
    static final long LARGE_STEP = 2L << 20;
    /** How long to wait for the cleaner's first block: out of memory, and at the soft limit. */
    private static final long GC_WAIT_MILLIS = 250;
    private static final long SOFT_GC_WAIT_MILLIS = 50;
    private static final long GC_QUIET_MILLIS = 5;

    private final DeviceMemory memory;
    private final Runnable collector;
    private volatile long softLimit;
    private final Map<Long, ArrayDeque<Block>> free = new TreeMap<>();
    private long allocated;
    private long reserved;
    private long peak;
    private long cached;
    private long driverAllocations;
    private long driverFrees;
    private long cacheHits;
    private long collections;
    private boolean collectionFutile;
    private long reservedAtFutileCollection;

    /**
     * @param softLimit reserved bytes past which a cache miss first collects garbage
     * @param collector asks for a garbage collection ({@code System::gc}; tests pass their own)
     */
    CachingAllocator(DeviceMemory memory, long softLimit, Runnable collector) {
        this.memory = memory;
        this.softLimit = softLimit;
        this.collector = collector;
    }

    synchronized void setSoftLimit(long bytes) {
        this.softLimit = bytes;
        collectionFutile = false;  // judged against the old limit
    }

    long softLimit() {
        return softLimit;
    }

    /** The size class of a request: the bytes actually reserved for it. */
    static long sizeClass(long bytes) {
        if (bytes <= MIN_BLOCK) {
            return MIN_BLOCK;
        }
        long step = bytes >= LARGE ? LARGE_STEP : Long.highestOneBit(bytes - 1) >> 2;
        return (bytes + step - 1) / step * step;
    }

    /** A block of at least {@code bytes}; throws {@link CudaOutOfMemoryError} when the device is full. */
    Block allocate(long bytes) {
        long size = sizeClass(bytes);
        Block b = takeCached(size);
        if (b != null) {
            return b;
        }
        if (reservedBytes() + size > softLimit && !isCollectionFutile()) {
            long before = cachedBytes();
            collectGarbage(SOFT_GC_WAIT_MILLIS);
            synchronized (this) {
                collectionFutile = cached <= before;
                reservedAtFutileCollection = reserved;
            }
            b = takeCached(size);
            if (b != null) {
                return b;
            }
            if (reservedBytes() + size > softLimit) {
                emptyCache();
            }
        }
        try {
            return fresh(size);
        } catch (DeviceOutOfMemoryException first) {
            // 1. Give the cache back: another size class may hold what we need.
            emptyCache();
            try {
                return fresh(size);
            } catch (DeviceOutOfMemoryException second) {
                // 2. Unreachable storages still hold blocks until the collector finds them.
                collectGarbage(GC_WAIT_MILLIS);
                b = takeCached(size);
                if (b != null) {
                    return b;
                }
                emptyCache();
                try {
                    return fresh(size);
                } catch (DeviceOutOfMemoryException third) {
                    MemoryStats s = stats();
                    throw new CudaOutOfMemoryError("CUDA out of memory: could not allocate " + MemoryStats.mib(bytes)
                            + " (" + bytes + " bytes, size class " + size + "); the allocator holds " + s + "; device: "
                            + memory.describe() + ". Free tensors (drop references) or use smaller batches, then retry.",
                            bytes, s);
                }
            }
        }
    }

    private synchronized Block takeCached(long size) {
        ArrayDeque<Block> list = free.get(size);
        if (list == null || list.isEmpty()) {
            return null;
        }
        Block b = list.pop();
        cached -= size;
        cacheHits++;
        track(size);
        return b;
    }

    private Block fresh(long size) throws DeviceOutOfMemoryException {
        long address = memory.allocate(size);
        synchronized (this) {
            reserved += size;
            driverAllocations++;
            track(size);
        }
        return new Block(address, size);
    }

    private void track(long size) {
        allocated += size;
        peak = Math.max(peak, allocated);
    }

    /** Returns a block to its free list (called when its storage became unreachable). */
    synchronized void release(Block b) {
        allocated -= b.bytes();
        cached += b.bytes();
        collectionFutile = false;
        free.computeIfAbsent(b.bytes(), k -> new ArrayDeque<>()).push(b);
        notifyAll();
    }

    /** Frees every cached block to the driver; returns the bytes released. */
    long emptyCache() {
        memory.synchronize();
        long released = 0;
        synchronized (this) {
            for (ArrayDeque<Block> list : free.values()) {
                for (Block b : list) {
                    memory.free(b.address());
                    released += b.bytes();
                    driverFrees++;
                }
                list.clear();
            }
            free.clear();
            cached -= released;
            reserved -= released;
            // Growth since a futile collection counts from the lowest reservation since.
            reservedAtFutileCollection = Math.min(reservedAtFutileCollection, reserved);
        }
        return released;
    }

    private synchronized long reservedBytes() {
        return reserved;
    }

    private synchronized long cachedBytes() {
        return cached;
    }

    private synchronized boolean isCollectionFutile() {
        return collectionFutile && reserved < reservedAtFutileCollection + Math.max(softLimit / 8, LARGE_STEP);
    }

    /**
     * Asks for a collection, waits (at most {@code firstWaitMillis}) for the cleaner to return a first
     * block, then as long as more keep arriving (until {@value #GC_QUIET_MILLIS} ms pass without one).
     * Only when the soft limit or the device is reached, where a short pause beats growing or failing.
     */
    private void collectGarbage(long firstWaitMillis) {
        long seen;
        synchronized (this) {
            collections++;
            seen = cached;
        }
        collector.run();
        long deadline = System.nanoTime() + firstWaitMillis * 1_000_000L;
        synchronized (this) {
            boolean arriving = false;
            while (true) {
                if (cached != seen) {
                    seen = cached;
                    arriving = true;
                }
                long left = Math.min(arriving ? GC_QUIET_MILLIS : firstWaitMillis,
                        (deadline - System.nanoTime()) / 1_000_000L);
                if (left <= 0) {
                    return;
                }
                try {
                    wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (arriving && cached == seen) {
                    return;
                }
            }
        }
    }

    synchronized MemoryStats stats() {
        return new MemoryStats(allocated, reserved, peak, cached, driverAllocations, driverFrees, cacheHits,
                collections);
    }

    /** Restarts peak tracking from the current allocation. */
    synchronized void resetPeak() {
        peak = allocated;
    }
}
