package dev.ladon.tensor.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU backend's one thread pool. Kernels split work into a few coarse chunks (rows, panels, batch
 * entries), never per element; the calling thread takes chunks too. The thread count comes from
 * {@code LADON_NUM_THREADS}, else the number of cores, and can be changed with {@link #setNumThreads}.
 */
public final class Parallel {
    /** A body that handles the index range [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /**
     * How long an idle pool thread, or a caller waiting for its chunks, spins before it parks. Kernels come
     * one after another; waking a parked thread on this VM took from tens of microseconds to most of a
     * millisecond, and a 512 x 512 product on two threads lasts about 2 ms.
     */
    private static final long SPIN_NANOS = 200_000;
    /**
     * Chunks per thread: with one chunk each, the caller waited at the end of every kernel for a pool thread
     * that had woken up late (about 33 ms of a 620 ms lm-step training step); with several, the threads that
     * are running share out what is left. The step did not get faster (the late thread's core was mostly busy
     * with GC and JIT work, see docs/PERFORMANCE.md), but a thread slowed by other work now takes less.
     */
    private static final int CHUNKS_PER_THREAD = 4;
    private static volatile int numThreads = initialThreads();
    private static volatile ExecutorService pool = newPool(numThreads);

    private Parallel() {
    }

    private static int initialThreads() {
        String env = System.getenv("LADON_NUM_THREADS");
        if (env != null && !env.isBlank()) {
            try {
                int n = Integer.parseInt(env.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the core count; a bad value is reported below
            }
            System.err.println("ladon: ignoring LADON_NUM_THREADS='" + env + "' (expected a positive integer)");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    private static ExecutorService newPool(int threads) {
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "ladon-cpu");
            t.setDaemon(true);
            return t;
        };
        int workers = Math.max(1, threads - 1);
        return new ThreadPoolExecutor(workers, workers, 0, TimeUnit.MILLISECONDS, new SpinningQueue(), factory);
    }

    /** A work queue whose take() spins for {@link #SPIN_NANOS} before it blocks. */
    private static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
        @Override
        public Runnable take() throws InterruptedException {
            long deadline = System.nanoTime() + SPIN_NANOS;
            do {
                Runnable task = poll();
                if (task != null) {
                    return task;
                }
                Thread.onSpinWait();
            } while (System.nanoTime() < deadline);
            return super.take();
        }
    }

    public static int numThreads() {
        return numThreads;
    }

    /** Sets the thread count used by later kernels. */
    public static synchronized void setNumThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("setNumThreads: need at least 1 thread, got " + threads);
        }
        if (threads != numThreads) {
            ExecutorService old = pool;
            pool = newPool(threads);
            numThreads = threads;
            old.shutdown();
        }
    }

    /**
     * Runs body over [0, n), cut into chunks of at least {@code grain} indices (at most
     * {@value #CHUNKS_PER_THREAD} per thread). The calling thread and the pool threads take chunks in turn
     * from a shared counter until none is left, so a body may be called several times on one thread, and
     * a pool thread that wakes up late simply takes fewer chunks: the caller never waits for a thread to
     * start, only for chunks already under way. Where the chunks fall depends on n, grain and the thread
     * count alone, never on which thread ran which chunk, so kernels that combine per-chunk partial results
     * in chunk order give the same numbers on every run. With one thread, or called from a pool thread,
     * the whole range is one call on the calling thread. If chunks throw, the other chunks still finish and
     * the exception of the first failed chunk is rethrown.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int threads = numThreads;
        int chunks = (int) Math.min((long) threads * CHUNKS_PER_THREAD, Math.max(1, n / (long) Math.max(grain, 1)));
        if (threads <= 1 || chunks <= 1 || Thread.currentThread().getName().equals("ladon-cpu")) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        RangeJob job = new RangeJob(n, chunks, body);
        ExecutorService p = pool;
        for (int helper = 1; helper < Math.min(threads, chunks); helper++) {
            p.execute(job::takeChunks);
        }
        job.takeChunks();
        job.awaitChunks();
    }

    /** One call of {@link #forRange}: the chunk counter, the count of finished chunks and the first failure. */
    private static final class RangeJob {
        private final int n;
        private final int chunks;
        private final RangeBody body;
        private final Thread caller = Thread.currentThread();
        private final AtomicInteger nextChunk = new AtomicInteger();
        private final AtomicInteger finishedChunks = new AtomicInteger();
        /** The exception of the lowest-numbered failed chunk, and that chunk; guarded by this. */
        private Throwable failure;
        private int failedChunk = Integer.MAX_VALUE;

        RangeJob(int n, int chunks, RangeBody body) {
            this.n = n;
            this.chunks = chunks;
            this.body = body;
        }

        /** Runs chunks until none is left; never throws, so a pool thread survives a failing body. */
        void takeChunks() {
            for (int c = nextChunk.getAndIncrement(); c < chunks; c = nextChunk.getAndIncrement()) {
                try {
                    body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
                } catch (Throwable t) {
                    synchronized (this) {
                        if (c < failedChunk) {
                            failedChunk = c;
                            failure = t;
                        }
                    }
                } finally {
                    if (finishedChunks.incrementAndGet() == chunks) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits (spinning first, then parked) until every chunk has finished, then rethrows a failure. */
        void awaitChunks() {
            long deadline = System.nanoTime() + SPIN_NANOS;
            while (finishedChunks.get() < chunks && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            boolean interrupted = false;
            while (finishedChunks.get() < chunks) {
                // The chunks under way write into the caller's outputs, so the caller waits for them even
                // when interrupted, and keeps the interrupt for its caller.
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable t;
            synchronized (this) {
                t = failure;
            }
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }
}
