package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TokenDatasetTest {

    /** Token i is 1000 + i, so a value names its own position. */
    private static TokenDataset positions(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 1000 + i;
        }
        return new TokenDataset(t);
    }

    @Test
    void batchRowsAreContiguousWindowsWithTargetsShiftedByOne() {
        TokenDataset d = positions(500);
        TokenDataset.Batch b = d.batch(42, 3, 8, 16);
        assertThat(b.inputs().shape()).containsExactly(8, 16);
        assertThat(b.targets().shape()).containsExactly(8, 16);
        assertThat(b.inputs().dtype()).isEqualTo(DType.INT64);
        long[] in = b.inputs().toLongArray();
        long[] tg = b.targets().toLongArray();
        for (int r = 0; r < 8; r++) {
            long start = in[r * 16] - 1000;
            assertThat(start).isBetween(0L, 500L - 16 - 1);
            for (int t = 0; t < 16; t++) {
                assertThat(in[r * 16 + t]).isEqualTo(1000 + start + t);
                assertThat(tg[r * 16 + t]).isEqualTo(1000 + start + t + 1);
            }
        }
    }

    @Test
    void batchesAreAFunctionOfSeedAndStep() {
        TokenDataset d = positions(10_000);
        long[] a = d.batch(7, 12, 4, 8).inputs().toLongArray();
        long[] again = d.batch(7, 12, 4, 8).inputs().toLongArray();
        long[] otherStep = d.batch(7, 13, 4, 8).inputs().toLongArray();
        long[] otherSeed = d.batch(8, 12, 4, 8).inputs().toLongArray();
        assertThat(again).containsExactly(a);
        assertThat(otherStep).isNotEqualTo(a);
        assertThat(otherSeed).isNotEqualTo(a);
    }

    @Test
    void generatorStreamMatchesSeedAndStepSoAResumedRunSeesTheSameBatches() {
        TokenDataset d = positions(5_000);
        Generator g = new Generator(99);
        List<long[]> run = new ArrayList<>();
        for (int step = 0; step < 5; step++) {
            run.add(d.batch(g, 3, 10).inputs().toLongArray());
        }
        for (int step = 0; step < 5; step++) {
            assertThat(d.batch(99, step, 3, 10).inputs().toLongArray()).containsExactly(run.get(step));
        }
        // Resume after step 2 from a saved (seed, offset).
        Generator resumed = new Generator(0);
        resumed.setState(99, 3L * 3);
        assertThat(d.batch(resumed, 3, 10).inputs().toLongArray()).containsExactly(run.get(3));
    }

    @Test
    void randomStartsCoverTheWholeRange() {
        // 12 tokens, context 4: starts 0..7. Over many rows every start appears, and none beyond.
        TokenDataset d = positions(12);
        Set<Long> starts = new HashSet<>();
        for (int step = 0; step < 50; step++) {
            long[] in = d.batch(1, step, 4, 4).inputs().toLongArray();
            for (int r = 0; r < 4; r++) {
                starts.add(in[r * 4] - 1000);
            }
        }
        assertThat(starts).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
    }

    @Test
    void sequentialBatchesPredictEveryTokenButTheFirstExactlyOnce() {
        TokenDataset d = positions(23); // 22 targets, context 5: 4 full windows and a rest of 2
        List<TokenDataset.Batch> batches = new ArrayList<>();
        d.sequential(3, 5).forEach(batches::add);
        assertThat(batches).hasSize(d.sequentialBatchCount(3, 5)).hasSize(3);
        assertThat(batches.get(0).inputs().shape()).containsExactly(3, 5);
        assertThat(batches.get(1).inputs().shape()).containsExactly(1, 5);
        assertThat(batches.get(2).inputs().shape()).containsExactly(1, 2);
        List<Long> allTargets = new ArrayList<>();
        List<Long> allInputs = new ArrayList<>();
        for (TokenDataset.Batch b : batches) {
            for (long v : b.targets().toLongArray()) {
                allTargets.add(v);
            }
            for (long v : b.inputs().toLongArray()) {
                allInputs.add(v);
            }
        }
        List<Long> expectedTargets = new ArrayList<>();
        List<Long> expectedInputs = new ArrayList<>();
        for (int i = 1; i < 23; i++) {
            expectedTargets.add(1000L + i);
            expectedInputs.add(1000L + i - 1);
        }
        assertThat(allTargets).isEqualTo(expectedTargets);
        assertThat(allInputs).isEqualTo(expectedInputs);
        assertThat(d.targetCount()).isEqualTo(22);
    }

    @Test
    void sequentialWithoutARest() {
        TokenDataset d = positions(11); // 10 targets, context 5
        List<TokenDataset.Batch> batches = new ArrayList<>();
        d.sequential(4, 5).forEach(batches::add);
        assertThat(batches).hasSize(1);
        assertThat(batches.get(0).targets().shape()).containsExactly(2, 5);
        assertThat(d.sequentialBatchCount(4, 5)).isEqualTo(1);
    }

    @Test
    void rejectsWindowsLongerThanTheData() {
        TokenDataset d = positions(10);
        assertThatThrownBy(() -> d.batch(1, 0, 2, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("10 tokens are too few for a window of context 10");
        assertThatThrownBy(() -> d.batch(1, -1, 2, 4)).hasMessageContaining("step must be >= 0");
        assertThatThrownBy(() -> d.sequential(0, 4)).hasMessageContaining("positive");
    }
}
