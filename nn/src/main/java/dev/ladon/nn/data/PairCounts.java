package dev.ladon.nn.data;

import java.util.Arrays;

/**
 * For BPE training: for every adjacent symbol pair, how often it occurs (weighted by word frequency) and
 * which words may contain it. An open-addressing hash table on the pair key {@code left << 32 | right}, with
 * primitive arrays so the millions of updates of a training run allocate nothing per update.
 *
 * <p>Word lists only grow: a word stays listed after its last occurrence of the pair is merged away, and
 * may be listed twice; the trainer skips such entries when it rescans the word.
 */
final class PairCounts {
    private static final long EMPTY = -1L;

    private long[] keys;
    private long[] counts;
    private int[][] words;
    private int[] wordCounts;
    private int size;

    PairCounts(int expectedPairs) {
        int capacity = Integer.highestOneBit(Math.max(16, expectedPairs * 2 - 1)) << 1;
        allocate(capacity);
    }

    static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    static int left(long key) {
        return (int) (key >>> 32);
    }

    static int right(long key) {
        return (int) key;
    }

    private void allocate(int capacity) {
        keys = new long[capacity];
        Arrays.fill(keys, EMPTY);
        counts = new long[capacity];
        words = new int[capacity][];
        wordCounts = new int[capacity];
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L; // Fibonacci hashing spreads the structured pair keys
        return (int) (h ^ (h >>> 32));
    }

    /** The slot of {@code key}, or -1 when the pair was never counted. */
    private int find(long key) {
        int mask = keys.length - 1;
        for (int s = hash(key) & mask; ; s = (s + 1) & mask) {
            if (keys[s] == key) {
                return s;
            }
            if (keys[s] == EMPTY) {
                return -1;
            }
        }
    }

    private int findOrInsert(long key) {
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        int s = hash(key) & mask;
        while (keys[s] != EMPTY) {
            if (keys[s] == key) {
                return s;
            }
            s = (s + 1) & mask;
        }
        keys[s] = key;
        size++;
        return s;
    }

    private void grow() {
        long[] oldKeys = keys;
        long[] oldCounts = counts;
        int[][] oldWords = words;
        int[] oldWordCounts = wordCounts;
        allocate(oldKeys.length * 2);
        int mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != EMPTY) {
                int s = hash(oldKeys[i]) & mask;
                while (keys[s] != EMPTY) {
                    s = (s + 1) & mask;
                }
                keys[s] = oldKeys[i];
                counts[s] = oldCounts[i];
                words[s] = oldWords[i];
                wordCounts[s] = oldWordCounts[i];
            }
        }
    }

    long count(long key) {
        int s = find(key);
        return s < 0 ? 0 : counts[s];
    }

    /** Adds {@code delta} to the pair's count; returns the new count. */
    long add(long key, long delta) {
        int s = findOrInsert(key);
        counts[s] += delta;
        return counts[s];
    }

    /** Adds {@code delta} to the pair's count and lists {@code word} as a word that contains it. */
    long addInWord(long key, long delta, int word) {
        int s = findOrInsert(key);
        counts[s] += delta;
        int[] list = words[s];
        int n = wordCounts[s];
        if (list == null) {
            list = new int[4];
        } else if (n == list.length) {
            list = Arrays.copyOf(list, n * 2);
        }
        list[n] = word;
        words[s] = list;
        wordCounts[s] = n + 1;
        return counts[s];
    }

    /** The words listed for the pair (possibly with stale or repeated entries); an empty array if none. */
    int[] words(long key) {
        int s = find(key);
        if (s < 0 || words[s] == null) {
            return new int[0];
        }
        return Arrays.copyOf(words[s], wordCounts[s]);
    }

    /** Drops the word list of a pair that has just been merged (it will never be merged again). */
    void forgetWords(long key) {
        int s = find(key);
        if (s >= 0) {
            words[s] = null;
            wordCounts[s] = 0;
        }
    }

    /** Calls {@code action} for every pair with a positive count. */
    void forEachPositive(PairAction action) {
        for (int s = 0; s < keys.length; s++) {
            if (keys[s] != EMPTY && counts[s] > 0) {
                action.accept(keys[s], counts[s]);
            }
        }
    }

    @FunctionalInterface
    interface PairAction {
        void accept(long key, long count);
    }
}
