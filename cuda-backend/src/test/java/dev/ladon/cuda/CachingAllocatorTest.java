package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The allocator's bookkeeping against a fake device with a fixed capacity (no GPU needed). */
class CachingAllocatorTest {
    /** A device of {@code capacity} bytes that counts driver calls. */
    static final class FakeMemory implements CachingAllocator.DeviceMemory {
        final long capacity;
        final Map<Long, Long> live = new HashMap<>();
        long used;
        long next = 1 << 20;
        int allocations;
        int frees;

        FakeMemory(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public long allocate(long bytes) throws CachingAllocator.DeviceOutOfMemoryException {
            if (used + bytes > capacity) {
                throw new CachingAllocator.DeviceOutOfMemoryException("fake device full");
            }
            long a = next;
            next += bytes + 256;
            live.put(a, bytes);
            used += bytes;
            allocations++;
            return a;
        }

        @Override
        public void free(long address) {
            Long b = live.remove(address);
            assertThat(b).as("free of a live block").isNotNull();
            used -= b;
            frees++;
        }

        @Override
        public void synchronize() {
        }

        @Override
        public String describe() {
            return "fake device, " + (capacity - used) + " bytes free of " + capacity;
        }

        @Override
        public long totalBytes() {
            return capacity;
        }
    }

    @Test
    void sizeClassesCoverTheRequestWithLessThanAQuarterWaste() {
        for (long bytes = 1; bytes < (300L << 20); bytes = bytes * 5 / 4 + 3) {
            long c = CachingAllocator.sizeClass(bytes);
            assertThat(c).as("class of %d", bytes).isGreaterThanOrEqualTo(bytes);
            if (bytes > CachingAllocator.MIN_BLOCK) {
                assertThat((double) c / bytes).as("waste for %d", bytes).isLessThan(1.25);
            }
            assertThat(CachingAllocator.sizeClass(c)).as("a class is its own class").isEqualTo(c);
        }
        assertThat(CachingAllocator.sizeClass(1)).isEqualTo(512);
        assertThat(CachingAllocator.sizeClass(513)).isEqualTo(640);
        assertThat(CachingAllocator.sizeClass(1025)).isEqualTo(1280);
        assertThat(CachingAllocator.sizeClass((64L << 20) + 1)).isEqualTo(66L << 20);
    }

    @Test
    void releasedBlocksAreReusedWithoutDriverCalls() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator a = new CachingAllocator(mem, Long.MAX_VALUE, () -> { });
        CachingAllocator.Block b1 = a.allocate(1000);
        a.release(b1);
        CachingAllocator.Block b2 = a.allocate(900);  // same class (1024)
        assertThat(b2.address()).isEqualTo(b1.address());
        assertThat(mem.allocations).isEqualTo(1);
        MemoryStats s = a.stats();
        assertThat(s.cacheHits()).isEqualTo(1);
        assertThat(s.allocatedBytes()).isEqualTo(1024);
        assertThat(s.reservedBytes()).isEqualTo(1024);
        assertThat(s.cachedBytes()).isZero();
    }

    @Test
    void statisticsTrackAllocatedReservedAndPeak() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator a = new CachingAllocator(mem, Long.MAX_VALUE, () -> { });
        CachingAllocator.Block x = a.allocate(4096);
        CachingAllocator.Block y = a.allocate(8192);
        a.release(x);
        MemoryStats s = a.stats();
        assertThat(s.allocatedBytes()).isEqualTo(8192);
        assertThat(s.reservedBytes()).isEqualTo(4096 + 8192);
        assertThat(s.peakAllocatedBytes()).isEqualTo(4096 + 8192);
        assertThat(s.cachedBytes()).isEqualTo(4096);
        a.resetPeak();
        assertThat(a.stats().peakAllocatedBytes()).isEqualTo(8192);
        assertThat(a.emptyCache()).isEqualTo(4096);
        assertThat(mem.frees).isEqualTo(1);
        assertThat(a.stats().reservedBytes()).isEqualTo(8192);
        a.release(y);
    }

    /**
     * A training loop whose garbage is only found by the collector (the hook releases what the step
     * dropped): once the soft limit is reached, steps are served from the cache.
     */
    @Test
    void steadyStateTrainingStepsStopCallingTheDriver() {
        FakeMemory mem = new FakeMemory(1L << 30);
        List<CachingAllocator.Block> garbage = new ArrayList<>();
        CachingAllocator[] holder = new CachingAllocator[1];
        CachingAllocator a = new CachingAllocator(mem, 8L << 20, () -> {
            for (CachingAllocator.Block b : garbage) {
                holder[0].release(b);
            }
            garbage.clear();
        });
        holder[0] = a;
        long[] sizes = {100_000, 250_000, 4 << 20 / 8, 70_000, 1 << 20};
        int allocationsAfterWarmup = -1;
        for (int step = 0; step < 30; step++) {
            for (long s : sizes) {
                garbage.add(a.allocate(s));  // every tensor of the step becomes garbage after it
            }
            if (step == 10) {
                allocationsAfterWarmup = mem.allocations;
            }
        }
        assertThat(mem.allocations).as("driver allocations after warm-up").isEqualTo(allocationsAfterWarmup);
        assertThat(a.stats().reservedBytes()).isLessThanOrEqualTo((8L << 20) + (2L << 20));
        assertThat(a.stats().collections()).isPositive();
    }

    @Test
    void outOfMemoryFirstGivesBackTheCacheThenFailsRecoverably() {
        FakeMemory mem = new FakeMemory(10_000);
        CachingAllocator a = new CachingAllocator(mem, Long.MAX_VALUE, () -> { });
        CachingAllocator.Block small = a.allocate(3000);  // class 3072
        a.release(small);                                 // cached, still reserved from the fake device
        CachingAllocator.Block big = a.allocate(8000);    // needs the cached 3072 back: freed, then fits
        assertThat(mem.frees).isEqualTo(1);
        assertThat(big.bytes()).isEqualTo(8192);
        assertThatThrownBy(() -> a.allocate(5000))
                .isInstanceOf(CudaOutOfMemoryError.class)
                .hasMessageContaining("5000 bytes")
                .hasMessageContaining("allocated 0.0 MiB")
                .hasMessageContaining("fake device")
                .satisfies(e -> assertThat(((CudaOutOfMemoryError) e).requestedBytes()).isEqualTo(5000));
        // Recoverable: the failed request changed nothing, and after a release it succeeds.
        assertThat(a.stats().allocatedBytes()).isEqualTo(8192);
        a.release(big);
        assertThat(a.allocate(5000).bytes()).isEqualTo(5120);
    }

    @Test
    void outOfMemoryCollectsGarbageBeforeFailing() {
        FakeMemory mem = new FakeMemory(10_000);
        List<CachingAllocator.Block> garbage = new ArrayList<>();
        CachingAllocator[] holder = new CachingAllocator[1];
        CachingAllocator a = new CachingAllocator(mem, Long.MAX_VALUE, () -> {
            garbage.forEach(holder[0]::release);
            garbage.clear();
        });
        holder[0] = a;
        garbage.add(a.allocate(8000));                    // unreachable but not yet collected
        CachingAllocator.Block b = a.allocate(8000);      // device full: only the collection frees it
        assertThat(b.bytes()).isEqualTo(8192);
        assertThat(a.stats().collections()).isEqualTo(1);
        assertThat(mem.allocations).isEqualTo(1);
    }

    @Test
    void aFutileCollectionIsNotRepeatedUntilABlockComesBack() {
        FakeMemory mem = new FakeMemory(1L << 30);
        int[] runs = {0};
        CachingAllocator a = new CachingAllocator(mem, 4096, () -> runs[0]++);
        CachingAllocator.Block first = a.allocate(4096);
        CachingAllocator.Block over1 = a.allocate(4096);  // past the limit, nothing to collect
        CachingAllocator.Block over2 = a.allocate(4096);  // no second futile collection
        assertThat(runs[0]).isEqualTo(1);
        a.release(first);                                  // something came back: collecting may help again
        CachingAllocator.Block over3 = a.allocate(8192);
        assertThat(runs[0]).isEqualTo(2);
        assertThat(mem.allocations).isEqualTo(4);
        a.release(over1);
        a.release(over2);
        a.release(over3);
    }

    @Test
    void aFutileCollectionIsRepeatedOnceTheReservedMemoryHasGrownAnEighthOfTheLimit() {
        FakeMemory mem = new FakeMemory(1L << 30);
        int[] runs = {0};
        long limit = 64L << 20;
        CachingAllocator a = new CachingAllocator(mem, limit, () -> runs[0]++);
        List<CachingAllocator.Block> held = new ArrayList<>();
        held.add(a.allocate(limit));
        held.add(a.allocate(1 << 20));  // past the limit: one collection, which brings nothing back
        assertThat(runs[0]).isEqualTo(1);
        for (int i = 0; i < 7; i++) {
            held.add(a.allocate(1 << 20));  // 8 MiB past that collection, an eighth of the limit: none yet
        }
        assertThat(runs[0]).isEqualTo(1);
        held.add(a.allocate(1 << 20));  // grown by more than an eighth: garbage may have appeared since
        assertThat(runs[0]).isEqualTo(2);
        held.forEach(a::release);
    }
}
