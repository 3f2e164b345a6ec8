package dev.ladon.tensor;

import dev.ladon.tensor.cpu.Parallel;

/** Runs test code with a given CPU thread count and restores the previous one. */
public final class ThreadCount {
    private ThreadCount() {
    }

    public static void run(int threads, Runnable body) {
        int saved = Parallel.numThreads();
        try {
            Parallel.setNumThreads(threads);
            body.run();
        } finally {
            Parallel.setNumThreads(saved);
        }
    }
}
