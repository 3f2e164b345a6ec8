package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Philox;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.RandomDistribution;

/** Fills from Ladon's Philox stream; element i uses block (seed, offset + i), so chunks are independent. */
final class RandomKernels {
    private RandomKernels() {
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
                s.setDouble(base + i, v);
            }
        });
    }
}
