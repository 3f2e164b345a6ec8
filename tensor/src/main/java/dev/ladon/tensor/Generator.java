package dev.ladon.tensor;

/**
 * A seed and a position in Ladon's Philox stream. Every random fill reserves {@code numel} consecutive
 * counters, so a sequence of calls is reproducible from the seed alone, whatever the device or thread count.
 */
public final class Generator {
    private static final Generator DEFAULT = new Generator(0x5EEDL);

    private long seed;
    private long offset;

    public Generator(long seed) {
        this.seed = seed;
    }

    /** The generator used when none is passed. */
    public static Generator defaultGenerator() {
        return DEFAULT;
    }

    /** Reseeds the default generator (like {@code torch.manual_seed}). */
    public static void manualSeed(long seed) {
        DEFAULT.reset(seed);
    }

    public synchronized void reset(long newSeed) {
        this.seed = newSeed;
        this.offset = 0;
    }

    public synchronized long seed() {
        return seed;
    }

    public synchronized long offset() {
        return offset;
    }

    /** Restores a position saved with {@link #seed()} and {@link #offset()} (for resumed training). */
    public synchronized void setState(long newSeed, long newOffset) {
        this.seed = newSeed;
        this.offset = newOffset;
    }

    /** Reserves {@code count} counters and returns the first. */
    public synchronized long advance(long count) {
        long start = offset;
        offset += count;
        return start;
    }
}
