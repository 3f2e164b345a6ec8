package dev.ladon.moe;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Expert-selection statistics gathered during forward passes: for each named selector (e.g.
 * "source"/"destination" of one SwitchHead layer) and each head, how often each expert was chosen, and how
 * often two experts were chosen together by the same token. Attach with the layer's {@code trackUsage}.
 * Counting copies the index tensors to the CPU, so leave it off when timing.
 */
public final class ExpertUsage {
    private final Map<String, long[][]> counts = new LinkedHashMap<>();
    private final Map<String, long[][][]> coSelections = new LinkedHashMap<>();

    /** Adds one batch of choices: indices [N, H, k] in [0, experts). */
    void record(String selector, Tensor indices, int experts) {
        int n = indices.size(0);
        int h = indices.size(1);
        int k = indices.size(2);
        long[] chosen = indices.contiguous().to(Device.CPU).to(DType.INT64).toLongArray();
        long[][] c = counts.computeIfAbsent(selector, key -> new long[h][experts]);
        long[][][] co = coSelections.computeIfAbsent(selector, key -> new long[h][experts][experts]);
        for (int token = 0; token < n; token++) {
            for (int head = 0; head < h; head++) {
                int base = (token * h + head) * k;
                for (int r = 0; r < k; r++) {
                    int e = (int) chosen[base + r];
                    c[head][e]++;
                    for (int r2 = 0; r2 < k; r2++) {
                        if (r2 != r) {
                            co[head][e][(int) chosen[base + r2]]++;
                        }
                    }
                }
            }
        }
    }

    /**
     * Adds statistics gathered elsewhere (a checkpoint, another run) to this tracker's: {@code counts}
     * [H][E] and {@code coSelection} [H][E][E] of one selector, as {@link #counts} and {@link #coSelection}
     * return them.
     *
     * @throws IllegalArgumentException if the arrays are ragged, disagree with each other, or disagree with
     *                                  the H and E already recorded for {@code selector}
     */
    public void add(String selector, long[][] counts, long[][][] coSelection) {
        int h = counts.length;
        int experts = h == 0 ? 0 : counts[0].length;
        boolean square = coSelection.length == h;
        for (int head = 0; square && head < h; head++) {
            square = counts[head].length == experts && coSelection[head].length == experts;
            for (int e = 0; square && e < experts; e++) {
                square = coSelection[head][e].length == experts;
            }
        }
        long[][] c = this.counts.get(selector);
        if (!square || h == 0 || (c != null && (c.length != h || c[0].length != experts))) {
            throw new IllegalArgumentException("ExpertUsage.add: '" + selector + "' needs counts [H][E] and"
                    + " coSelection [H][E][E] of one H and E" + (c == null ? "" : " (recorded so far: H=" + c.length
                    + ", E=" + c[0].length + ")") + "; got " + h + " count rows and " + coSelection.length
                    + " co-selection blocks");
        }
        c = this.counts.computeIfAbsent(selector, key -> new long[h][experts]);
        long[][][] co = coSelections.computeIfAbsent(selector, key -> new long[h][experts][experts]);
        for (int head = 0; head < h; head++) {
            for (int e = 0; e < experts; e++) {
                c[head][e] += counts[head][e];
                for (int other = 0; other < experts; other++) {
                    co[head][e][other] += coSelection[head][e][other];
                }
            }
        }
    }

    /** The selectors seen so far, in first-seen order. */
    public Iterable<String> selectors() {
        return counts.keySet();
    }

    /** counts[head][expert]: how many (token, choice) slots picked that expert. */
    public long[][] counts(String selector) {
        return require(counts, selector);
    }

    /** coSelection[head][e1][e2]: tokens that chose both e1 and e2 (e1 != e2) in that head. */
    public long[][][] coSelection(String selector) {
        return require(coSelections, selector);
    }

    /** Entropy (nats) of the selection distribution of one head; log(E) means perfectly balanced. */
    public double entropy(String selector, int head) {
        long[] c = counts(selector)[head];
        long total = 0;
        for (long v : c) {
            total += v;
        }
        double h = 0;
        for (long v : c) {
            if (v > 0) {
                double p = (double) v / total;
                h -= p * Math.log(p);
            }
        }
        return h;
    }

    public void clear() {
        counts.clear();
        coSelections.clear();
    }

    private static <T> T require(Map<String, T> map, String selector) {
        T value = map.get(selector);
        if (value == null) {
            throw new IllegalArgumentException("ExpertUsage: no selections recorded for '" + selector + "'; have "
                    + map.keySet());
        }
        return value;
    }
}
