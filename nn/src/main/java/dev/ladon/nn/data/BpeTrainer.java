package dev.ladon.nn.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Learns byte-pair merges (Sennrich et al., "Neural Machine Translation of Rare Words with Subword Units",
 * 2016, on bytes as in GPT-2). Starting from the 256 byte symbols, it repeatedly merges the most frequent
 * adjacent pair into a new symbol, inside each piece of {@link PreTokenizer}, until the vocabulary has the
 * requested size or no pair is left.
 *
 * <p>Determinism: among equally frequent pairs the one with the smaller left id wins, then the smaller right
 * id. Within a word, a merge replaces occurrences left to right without overlap ("aaa" with merge a+a
 * becomes "(aa) a").
 *
 * <p>Cost: identical pieces are counted once with a frequency. Each merge rescans only the words that
 * contain the merged pair (found through {@link PairCounts}' word lists) and updates the counts of the pairs
 * in those words; the most frequent pair comes from a lazily updated {@link PairHeap}. No merge recounts the
 * corpus.
 */
final class BpeTrainer {
    private final int[][] symbols; // symbols[w][0 .. lengths[w]): the current symbols of distinct word w
    private final int[] lengths;
    private final long[] frequencies;
    private final int[] visitedAtMerge; // the merge that last rescanned word w, to skip repeated list entries
    private final PairCounts pairs;
    private final PairHeap heap = new PairHeap();

    private BpeTrainer(Map<String, long[]> wordFrequencies) {
        int n = wordFrequencies.size();
        symbols = new int[n][];
        lengths = new int[n];
        frequencies = new long[n];
        visitedAtMerge = new int[n];
        java.util.Arrays.fill(visitedAtMerge, -1);
        int w = 0;
        long totalSymbols = 0;
        for (Map.Entry<String, long[]> e : wordFrequencies.entrySet()) {
            byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] s = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                s[i] = bytes[i] & 0xFF;
            }
            symbols[w] = s;
            lengths[w] = s.length;
            frequencies[w] = e.getValue()[0];
            totalSymbols += s.length;
            w++;
        }
        pairs = new PairCounts((int) Math.min(1 << 24, Math.max(1024, totalSymbols / 4)));
    }

    /**
     * The merges, in order: merge k joins the pair {@code (result[k][0], result[k][1])} into id
     * {@code 256 + k}. At most {@code vocabSize - 256} merges.
     */
    static List<int[]> train(CharSequence text, int vocabSize) {
        Map<String, long[]> wordFrequencies = new HashMap<>();
        PreTokenizer.split(text, (start, end) ->
                wordFrequencies.computeIfAbsent(text.subSequence(start, end).toString(), k -> new long[1])[0]++);
        BpeTrainer trainer = new BpeTrainer(wordFrequencies);
        return trainer.run(vocabSize - 256);
    }

    private List<int[]> run(int maxMerges) {
        for (int w = 0; w < symbols.length; w++) {
            for (int i = 0; i + 1 < lengths[w]; i++) {
                pairs.addInWord(PairCounts.key(symbols[w][i], symbols[w][i + 1]), frequencies[w], w);
            }
        }
        pairs.forEachPositive((key, count) -> heap.push(count, key));

        List<int[]> merges = new ArrayList<>();
        while (merges.size() < maxMerges) {
            long best = popMostFrequent();
            if (best < 0) {
                break; // every word is a single symbol: nothing left to merge
            }
            int newId = 256 + merges.size();
            merges.add(new int[] {PairCounts.left(best), PairCounts.right(best)});
            merge(best, newId, merges.size() - 1);
        }
        return merges;
    }

    /** The key of the most frequent pair with a positive count, or -1 if none. */
    private long popMostFrequent() {
        while (heap.size() > 0) {
            long stored = heap.topCount();
            long key = heap.topKey();
            heap.pop();
            long current = pairs.count(key);
            if (stored == current && current > 0) {
                return key;
            }
            // Stale entry. If the count fell, re-queue it at its true count; if it rose, a newer entry exists.
            if (current > 0 && current < stored) {
                heap.push(current, key);
            }
        }
        return -1;
    }

    private void merge(long pair, int newId, int mergeIndex) {
        int a = PairCounts.left(pair);
        int b = PairCounts.right(pair);
        int[] candidates = pairs.words(pair);
        pairs.forgetWords(pair);
        // Pairs that contain newId are the only ones whose counts can rise; they are queued once, at the end.
        Set<Long> risen = new HashSet<>();
        for (int w : candidates) {
            if (visitedAtMerge[w] == mergeIndex) {
                continue;
            }
            visitedAtMerge[w] = mergeIndex;
            int[] s = symbols[w];
            int len = lengths[w];
            if (!contains(s, len, a, b)) {
                continue; // a stale list entry
            }
            long f = frequencies[w];
            for (int i = 0; i + 1 < len; i++) {
                pairs.add(PairCounts.key(s[i], s[i + 1]), -f);
            }
            int out = 0;
            for (int i = 0; i < len; i++) {
                if (i + 1 < len && s[i] == a && s[i + 1] == b) {
                    s[out++] = newId;
                    i++;
                } else {
                    s[out++] = s[i];
                }
            }
            lengths[w] = out;
            for (int i = 0; i + 1 < out; i++) {
                long key = PairCounts.key(s[i], s[i + 1]);
                if (s[i] == newId || s[i + 1] == newId) {
                    pairs.addInWord(key, f, w);
                    risen.add(key);
                } else {
                    pairs.add(key, f);
                }
            }
        }
        for (long key : risen) {
            long count = pairs.count(key);
            if (count > 0) {
                heap.push(count, key);
            }
        }
    }

    private static boolean contains(int[] s, int len, int a, int b) {
        for (int i = 0; i + 1 < len; i++) {
            if (s[i] == a && s[i + 1] == b) {
                return true;
            }
        }
        return false;
    }
}
