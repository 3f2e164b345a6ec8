package dev.ladon.nn.data;

import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Philox;
import dev.ladon.tensor.Tensor;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A token sequence (a tokenized corpus split) cut into language-modelling batches: each row is a window of
 * {@code T} consecutive tokens as input and the same window shifted by one as target, so the model at
 * position t predicts token t + 1.
 *
 * <p>Training batches ({@link #batch(long, long, int, int)}) take windows at random starts that are a pure
 * function of (seed, step, row): row b of step s draws its start from Philox block
 * {@code (seed, s * batchSize + b)}, so a run resumed at step s sees exactly the batches it would have seen,
 * on any machine. Evaluation batches ({@link #sequential}) cover the sequence once, in order.
 */
public final class TokenDataset {
    /**
     * One batch.
     *
     * @param inputs  int64 {@code [B, T]} token ids
     * @param targets int64 {@code [B, T]}: {@code targets[b][t]} is the token after {@code inputs[b][t]}
     */
    public record Batch(Tensor inputs, Tensor targets) {
    }

    private final int[] tokens;

    /** A dataset over a copy of {@code tokens}. */
    public TokenDataset(int[] tokens) {
        this.tokens = tokens.clone();
    }

    /** Number of tokens. */
    public int size() {
        return tokens.length;
    }

    /** Number of tokens that are a target in one pass of {@link #sequential} (all but the first). */
    public long targetCount() {
        return Math.max(0, tokens.length - 1);
    }

    /**
     * The training batch of step {@code step}: {@code batchSize} windows of {@code context} tokens at starts
     * drawn uniformly from {@code [0, size() - context - 1]}. Equals {@link #batch(Generator, int, int)} with a
     * generator of seed {@code seed} at offset {@code step * batchSize}.
     *
     * @throws IllegalArgumentException if {@code batchSize} or {@code context} is not positive, {@code step}
     *     is negative, or the dataset has fewer than {@code context + 1} tokens
     */
    public Batch batch(long seed, long step, int batchSize, int context) {
        if (step < 0) {
            throw new IllegalArgumentException("TokenDataset.batch: step must be >= 0, got " + step);
        }
        checkShape("batch", batchSize, context);
        return randomBatch(seed, Math.multiplyExact(step, (long) batchSize), batchSize, context);
    }

    /**
     * A training batch drawn from {@code generator}'s stream; it reserves {@code batchSize} counters, so
     * saving the generator's {@link Generator#seed() seed} and {@link Generator#offset() offset} with a
     * checkpoint resumes the same sequence of batches.
     */
    public Batch batch(Generator generator, int batchSize, int context) {
        checkShape("batch", batchSize, context);
        long offset = generator.advance(batchSize);
        return randomBatch(generator.seed(), offset, batchSize, context);
    }

    private Batch randomBatch(long seed, long firstCounter, int batchSize, int context) {
        long starts = tokens.length - context; // windows need context + 1 tokens: starts 0 .. n - context - 1
        long[] inputs = new long[batchSize * context];
        long[] targets = new long[batchSize * context];
        int[] words = new int[4];
        for (int b = 0; b < batchSize; b++) {
            Philox.block(seed, firstCounter + b, words);
            // 53 random bits scaled to the range: the bias is below starts / 2^53, nothing for token counts.
            int start = (int) (Philox.uniform53(words) * starts);
            copyWindow(start, context, inputs, targets, b * context);
        }
        return new Batch(Tensor.of(inputs, batchSize, context), Tensor.of(targets, batchSize, context));
    }

    private void copyWindow(int start, int length, long[] inputs, long[] targets, int at) {
        for (int t = 0; t < length; t++) {
            inputs[at + t] = tokens[start + t];
            targets[at + t] = tokens[start + t + 1];
        }
    }

    private void checkShape(String op, int batchSize, int context) {
        if (batchSize <= 0 || context <= 0) {
            throw new IllegalArgumentException("TokenDataset." + op + ": batchSize and context must be positive, got "
                    + batchSize + " and " + context);
        }
        if (tokens.length < context + 1) {
            throw new IllegalArgumentException("TokenDataset." + op + ": " + tokens.length + " tokens are too few for "
                    + "a window of context " + context + " (needs " + (context + 1) + ")");
        }
    }

    /**
     * Evaluation batches: windows starting at tokens 0, T, 2T, ... so every token but the first is a target
     * exactly once ({@link #targetCount()} in all). Full windows come {@code batchSize} to a batch (the last
     * such batch may have fewer rows); if {@code targetCount()} is not a multiple of {@code context}, a final
     * batch of shape {@code [1, targetCount() % context]} holds the rest. Batches are built as they are
     * iterated.
     *
     * @throws IllegalArgumentException if {@code batchSize} or {@code context} is not positive
     */
    public Iterable<Batch> sequential(int batchSize, int context) {
        if (batchSize <= 0 || context <= 0) {
            throw new IllegalArgumentException("TokenDataset.sequential: batchSize and context must be positive, got "
                    + batchSize + " and " + context);
        }
        long targets = targetCount();
        int fullWindows = (int) (targets / context);
        int rest = (int) (targets % context);
        return () -> new Iterator<>() {
            private int window;
            private boolean restDone = rest == 0;

            @Override
            public boolean hasNext() {
                return window < fullWindows || !restDone;
            }

            @Override
            public Batch next() {
                if (window < fullWindows) {
                    int rows = Math.min(batchSize, fullWindows - window);
                    long[] in = new long[rows * context];
                    long[] tg = new long[rows * context];
                    for (int r = 0; r < rows; r++) {
                        copyWindow((window + r) * context, context, in, tg, r * context);
                    }
                    window += rows;
                    return new Batch(Tensor.of(in, rows, context), Tensor.of(tg, rows, context));
                }
                if (!restDone) {
                    restDone = true;
                    long[] in = new long[rest];
                    long[] tg = new long[rest];
                    copyWindow(fullWindows * context, rest, in, tg, 0);
                    return new Batch(Tensor.of(in, 1, rest), Tensor.of(tg, 1, rest));
                }
                throw new NoSuchElementException();
            }
        };
    }

    /** Number of batches {@link #sequential} yields. */
    public int sequentialBatchCount(int batchSize, int context) {
        long targets = targetCount();
        long full = targets / context;
        return (int) ((full + batchSize - 1) / batchSize + (targets % context == 0 ? 0 : 1));
    }
}
