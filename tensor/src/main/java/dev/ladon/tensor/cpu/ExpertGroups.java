package dev.ladon.tensor.cpu;

/**
 * The (row, expert) pairs of a grouped matmul, grouped by expert: a stable counting sort of the pair
 * indices by expert id. Pairs of expert e are {@code order[start[e]] .. order[start[e + 1] - 1]}, in their
 * original order (stability keeps the kernels' summation order, and so their rounding, independent of
 * how the other experts were picked).
 *
 * <p>Building it costs O(P + E): one counting pass, one prefix sum, one placing pass. It never compares
 * pairs, so routing cost does not grow with the number of experts beyond the E counters.
 */
final class ExpertGroups {
    /** Pair indices sorted by expert, stable: [P]. */
    final int[] order;
    /** Where each expert's pairs begin in {@link #order}: [E + 1], start[E] = P. */
    final int[] start;

    private ExpertGroups(int[] order, int[] start) {
        this.order = order;
        this.start = start;
    }

    /** Groups pair indices by {@code expert[p]}, every value already checked to lie in [0, numExperts). */
    static ExpertGroups byExpert(int[] expert, int numExperts) {
        int[] start = new int[numExperts + 1];
        for (int e : expert) {
            start[e + 1]++;
        }
        for (int e = 0; e < numExperts; e++) {
            start[e + 1] += start[e];
        }
        int[] next = new int[numExperts];
        System.arraycopy(start, 0, next, 0, numExperts);
        int[] order = new int[expert.length];
        for (int p = 0; p < expert.length; p++) {
            order[next[expert[p]]++] = p;
        }
        return new ExpertGroups(order, start);
    }

    int numExperts() {
        return start.length - 1;
    }

    /** Number of pairs routed to expert e. */
    int count(int e) {
        return start[e + 1] - start[e];
    }

    /** The size of the largest group (0 when there are no pairs). */
    int largestGroup() {
        int max = 0;
        for (int e = 0; e < numExperts(); e++) {
            max = Math.max(max, count(e));
        }
        return max;
    }
}
