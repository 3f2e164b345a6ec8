package dev.ladon.tensor.cpu;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's one thread pool. Kernels split work into a few coarse chunks (rows, panels, batch
 * entries), never per element; the calling thread runs the first chunk itself. The thread count comes from
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
     * Runs body over [0, n) split into at most numThreads chunks of at least {@code grain} indices each.
     * Small ranges run on the calling thread.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int threads = numThreads;
        int chunks = (int) Math.min(threads, Math.max(1, n / (long) Math.max(grain, 1)));
        if (chunks <= 1 || Thread.currentThread().getName().equals("ladon-cpu")) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        ExecutorService p = pool;
        Future<?>[] futures = new Future<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            int start = (int) ((long) n * c / chunks);
            int end = (int) ((long) n * (c + 1) / chunks);
            futures[c - 1] = p.submit(() -> body.run(start, end));
        }
        body.run(0, (int) ((long) n / chunks));
        long deadline = System.nanoTime() + SPIN_NANOS;
        for (Future<?> f : futures) {
            while (!f.isDone() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a CPU kernel", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(cause);
            }
        }
    }
}
