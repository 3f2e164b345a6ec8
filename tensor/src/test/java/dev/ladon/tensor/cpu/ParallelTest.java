package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.ThreadCount;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyIndexIsVisitedOnceInChunksOfAtLeastTheGrain() {
        for (int threads : new int[] {1, 2, 3, 4}) {
            ThreadCount.run(threads, () -> {
                for (int n : new int[] {0, 1, 7, 33, 1000, 4097}) {
                    for (int grain : new int[] {1, 5, 64, 5000}) {
                        AtomicIntegerArray visits = new AtomicIntegerArray(n);
                        List<int[]> chunks = Collections.synchronizedList(new ArrayList<>());
                        Parallel.forRange(n, grain, (start, end) -> {
                            chunks.add(new int[] {start, end});
                            for (int i = start; i < end; i++) {
                                visits.incrementAndGet(i);
                            }
                        });
                        for (int i = 0; i < n; i++) {
                            assertThat(visits.get(i)).as("index %d of %d, grain %d, %d threads", i, n, grain, threads)
                                    .isEqualTo(1);
                        }
                        assertThat(chunks.size()).isLessThanOrEqualTo(Math.max(1, 4 * threads));
                        if (chunks.size() > 1) {
                            assertThat(chunks).allSatisfy(c -> assertThat(c[1] - c[0]).isGreaterThanOrEqualTo(grain));
                        }
                    }
                }
            });
        }
    }

    @Test
    void chunkBoundariesDependOnTheSizesAloneSoPartialSumsAreReproducible() {
        ThreadCount.run(2, () -> {
            List<String> first = boundaries(10_000, 100);
            for (int run = 0; run < 20; run++) {
                assertThat(boundaries(10_000, 100)).isEqualTo(first);
            }
            assertThat(first).hasSize(8);
        });
    }

    private static List<String> boundaries(int n, int grain) {
        List<String> chunks = Collections.synchronizedList(new ArrayList<>());
        Parallel.forRange(n, grain, (start, end) -> chunks.add(start + ".." + end));
        List<String> sorted = new ArrayList<>(chunks);
        Collections.sort(sorted);
        return sorted;
    }

    @Test
    void aFailingChunkIsRethrownOnlyAfterEveryOtherChunkHasFinished() {
        ThreadCount.run(2, () -> {
            AtomicInteger finished = new AtomicInteger();
            assertThatThrownBy(() -> Parallel.forRange(8, 1, (start, end) -> {
                if (start == 0) {
                    throw new IllegalArgumentException("chunk 0 fails");
                }
                sleep(20);
                finished.incrementAndGet();
            })).isInstanceOf(IllegalArgumentException.class).hasMessage("chunk 0 fails");
            // The seven other chunks ran to the end before forRange returned: none is still writing.
            assertThat(finished.get()).isEqualTo(7);
        });
    }

    @Test
    void theCallerFinishesTheWorkAloneWhenThePoolThreadIsBusy() throws Exception {
        ThreadCount.run(2, () -> {
            CountDownLatch poolBlocked = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            // Another caller's range of two chunks: its caller holds one until the only pool thread has taken
            // the other, which then blocks.
            Thread other = new Thread(() -> Parallel.forRange(2, 1, (start, end) -> {
                if (Thread.currentThread().getName().equals("ladon-cpu")) {
                    poolBlocked.countDown();
                    await(release);
                } else {
                    await(poolBlocked);
                }
            }));
            other.start();
            try {
                assertThat(await(poolBlocked)).isTrue();
                AtomicInteger sum = new AtomicInteger();
                Parallel.forRange(1000, 10, (start, end) -> {
                    for (int i = start; i < end; i++) {
                        sum.addAndGet(i);
                    }
                });
                assertThat(sum.get()).isEqualTo(999 * 1000 / 2);
            } finally {
                release.countDown();
                join(other);
            }
        });
    }

    private static boolean await(CountDownLatch latch) {
        try {
            return latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void join(Thread t) {
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
