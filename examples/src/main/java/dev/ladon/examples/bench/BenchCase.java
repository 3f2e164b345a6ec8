package dev.ladon.examples.bench;

import java.util.function.Supplier;

/**
 * One benchmark case, timed on Ladon and on the NumPy peer.
 *
 * @param kind    the first word of the printed line: {@code gemm}, {@code elementwise} or {@code reduce}
 * @param label   the case's parameters as printed, e.g. {@code f32 n=1024} or {@code f32 op=add n=16777216}
 * @param request the line sent to {@code bench/gemm_peer.py} for the same computation
 * @param flops   floating-point operations per run (0 when the case is reported in milliseconds)
 * @param setup   makes the inputs (untimed) and returns the computation to time
 */
public record BenchCase(String kind, String label, String request, double flops, Supplier<Runnable> setup) {
    /** True for matrix products, which are reported in GFLOP/s rather than milliseconds. */
    public boolean reportsFlops() {
        return flops > 0;
    }
}
