package dev.ladon.examples.bench;

import java.util.Arrays;

/**
 * Median wall time of a computation: warm-up runs first, for a given time (the JIT compiles the kernels
 * during them: with half a second the first small case was sometimes timed before C2 had compiled its
 * micro-kernel), then timed runs, at least {@code minReps} and at least {@value #MIN_TIMED_SECONDS} s worth. The median,
 * not the mean, because the machine may be shared and a few runs can be slowed by others' work.
 * {@code bench/gemm_peer.py} follows the same rule.
 */
public final class Timing {
    private static final double MIN_TIMED_SECONDS = 0.3;
    /** At most this many timed runs (small cases reach the minimum time only after many). */
    private static final int MAX_RUNS = 200;

    private Timing() {
    }

    public static double medianMillis(Runnable run, int minReps, double warmupSeconds) {
        long start = System.nanoTime();
        for (int i = 0; i < 3 || seconds(start) < warmupSeconds; i++) {
            run.run();
        }
        double[] times = new double[MAX_RUNS];
        int reps = 0;
        start = System.nanoTime();
        while (reps < MAX_RUNS && (reps < minReps || seconds(start) < MIN_TIMED_SECONDS)) {
            long t0 = System.nanoTime();
            run.run();
            times[reps++] = (System.nanoTime() - t0) / 1e6;
        }
        double[] done = Arrays.copyOf(times, reps);
        Arrays.sort(done);
        return done[reps / 2];
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
