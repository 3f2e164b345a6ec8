package dev.ladon.nn.data;

import java.util.Arrays;

/**
 * Merge index of each merged pair, for BPE encoding: an open-addressing table from the pair key
 * ({@link PairCounts#key}) to the merge index, read-only after construction, so encoding looks pairs up
 * without boxing.
 */
final class PairRanks {
    private static final long EMPTY = -1L;

    private final long[] keys;
    private final int[] ranks;

    /** Ranks {@code k} for the pair {@code (left[k], right[k])}; a repeated pair is an error. */
    PairRanks(int[] left, int[] right) {
        int capacity = Integer.highestOneBit(Math.max(8, left.length * 2)) << 1;
        keys = new long[capacity];
        ranks = new int[capacity];
        Arrays.fill(keys, EMPTY);
        int mask = capacity - 1;
        for (int k = 0; k < left.length; k++) {
            long key = PairCounts.key(left[k], right[k]);
            int s = slot(key, mask);
            while (keys[s] != EMPTY) {
                if (keys[s] == key) {
                    throw new IllegalArgumentException("BPE merge " + k + " repeats the pair (" + left[k] + ", "
                            + right[k] + ") of merge " + ranks[s]);
                }
                s = (s + 1) & mask;
            }
            keys[s] = key;
            ranks[s] = k;
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** The merge index of pair {@code (left, right)}, or -1 when the pair is never merged. */
    int rank(int left, int right) {
        long key = PairCounts.key(left, right);
        int mask = keys.length - 1;
        for (int s = slot(key, mask); ; s = (s + 1) & mask) {
            if (keys[s] == key) {
                return ranks[s];
            }
            if (keys[s] == EMPTY) {
                return -1;
            }
        }
    }
}
