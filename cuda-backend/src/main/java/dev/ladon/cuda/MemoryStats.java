package dev.ladon.cuda;

/**
 * A snapshot of one device's caching allocator.
 *
 * @param allocatedBytes     bytes held by live tensors (size-class rounded)
 * @param reservedBytes      bytes obtained from the driver: allocated plus cached
 * @param peakAllocatedBytes the largest {@code allocatedBytes} seen since the backend opened (or the last reset)
 * @param cachedBytes        bytes in free lists, ready for reuse without a driver call
 * @param driverAllocations  number of {@code cuMemAlloc} calls so far
 * @param driverFrees        number of {@code cuMemFree} calls so far
 * @param cacheHits          allocations served from a free list
 * @param collections        garbage collections the allocator asked for (at its soft limit or out of memory)
 */
public record MemoryStats(long allocatedBytes, long reservedBytes, long peakAllocatedBytes, long cachedBytes,
        long driverAllocations, long driverFrees, long cacheHits, long collections) {

    @Override
    public String toString() {
        return "allocated " + mib(allocatedBytes) + ", reserved " + mib(reservedBytes) + ", peak " + mib(peakAllocatedBytes)
                + ", cached " + mib(cachedBytes) + " (" + driverAllocations + " driver allocations, " + cacheHits
                + " cache hits, " + collections + " collections)";
    }

    static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
