package dev.ladon.nn.data;

import java.util.Arrays;

/**
 * A binary max-heap of (count, pair key) entries for BPE training, ordered by count, ties broken by the
 * smaller key (so by the smaller left id, then the smaller right id). Two parallel primitive arrays: no
 * object per entry.
 *
 * <p>The trainer uses it lazily: counts change far more often than they are read, so an entry is pushed only
 * when a pair's count rises, and an entry whose count is out of date is fixed when it reaches the top.
 */
final class PairHeap {
    private long[] counts = new long[1024];
    private long[] keys = new long[1024];
    private int size;

    int size() {
        return size;
    }

    void push(long count, long key) {
        if (size == counts.length) {
            counts = Arrays.copyOf(counts, size * 2);
            keys = Arrays.copyOf(keys, size * 2);
        }
        int i = size++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!above(count, key, counts[parent], keys[parent])) {
                break;
            }
            counts[i] = counts[parent];
            keys[i] = keys[parent];
            i = parent;
        }
        counts[i] = count;
        keys[i] = key;
    }

    long topCount() {
        return counts[0];
    }

    long topKey() {
        return keys[0];
    }

    void pop() {
        size--;
        long count = counts[size];
        long key = keys[size];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && above(counts[child + 1], keys[child + 1], counts[child], keys[child])) {
                child++;
            }
            if (!above(counts[child], keys[child], count, key)) {
                break;
            }
            counts[i] = counts[child];
            keys[i] = keys[child];
            i = child;
        }
        if (size > 0) {
            counts[i] = count;
            keys[i] = key;
        }
    }

    /** Whether entry a comes out before entry b. */
    private static boolean above(long countA, long keyA, long countB, long keyB) {
        return countA > countB || (countA == countB && keyA < keyB);
    }
}
