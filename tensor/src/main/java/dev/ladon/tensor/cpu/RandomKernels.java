package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Philox;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.RandomDistribution;

/** Fills from Ladon's Philox stream; element i uses block (seed, offset + i), so chunks are independent. */
final class RandomKernels {
    private RandomKernels() {
    }

    /**
     * The uniform draw v, or the largest value of the dtype below b when rounding v to the dtype would reach b
     * (1 + (1 - 2^-24) rounds to 2 in float32): the range is [a, b) as documented.
     */
    static double belowHigh(double v, double a, double b, boolean f64) {
        double stored = f64 ? v : (float) v;
        if (stored < b || !(b > a)) {
            return v;
        }
        if (f64) {
            return Math.nextDown(b);
        }
        float f = (float) b;
        return f >= b ? Math.nextDown(f) : f;
    }

    static void random(Tensor dst, RandomDistribution dist, long seed, long offset, double a, double b) {
        CpuStorage s = ElementwiseKernels.storage(dst);
        boolean f64 = dst.dtype() == DType.FLOAT64;
        int base = dst.offset();
        Parallel.forRange(dst.numel(), 1 << 14, (i0, i1) -> {
            int[] words = new int[4];
            for (int i = i0; i < i1; i++) {
                Philox.block(seed, offset + i, words);
                double v = switch (dist) {
                    case UNIFORM -> a + (b - a) * (f64 ? Philox.uniform53(words) : Philox.uniform24(words));
                    case NORMAL -> a + b * (f64 ? Philox.normal53(words) : Philox.normal24(words));
                };
                if (dist == RandomDistribution.UNIFORM) {
                    v = belowHigh(v, a, b, f64);
                }
                s.setDouble(base + i, v);
            }
        });
    }
}
