package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Philox;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.RandomDistribution;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** Fills from Ladon's Philox stream; element i uses block (seed, offset + i), so chunks are independent. */
final class RandomKernels {
    private static final VectorSpecies<Long> L = CpuSpecies.LONG;
    private static final VectorSpecies<Double> D = CpuSpecies.DOUBLE;
    /** Floats as many as the double lanes (half the bits), the target of the double-to-float conversion. */
    private static final VectorSpecies<Float> F_OF_D = D.vectorBitSize() >= 128
            ? VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2)) : null;
    private static final long LOW32 = 0xFFFFFFFFL;
    // Philox 4x32-10's multipliers and key increments (Philox.block has the scalar form).
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;

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
        // Uniform float32 (dropout masks, uniform initialisers) draws many numbers per training step: vector lanes
        // run the Philox rounds of neighbouring elements side by side.
        boolean vectorUniform = !f64 && dist == RandomDistribution.UNIFORM && hasVectorPath() && b > a
                && Double.isFinite(a) && Double.isFinite(b);
        Parallel.forRange(dst.numel(), 1 << 14, (i0, i1) -> {
            int i = i0;
            if (vectorUniform) {
                i = uniformFloat(s.floats(), base, seed, offset, i0, i1, a, b);
            }
            int[] words = new int[4];
            for (; i < i1; i++) {
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

    static boolean hasVectorPath() {
        return F_OF_D != null;
    }

    /**
     * Elements [i0, i) of a float32 uniform fill over [a, b), for the largest i &lt;= i1 that whole vectors
     * reach; returns that i. Each lane computes exactly what the scalar loop does: the block of its counter,
     * word 0's top 24 bits as u, a + (b - a) u in double, rounded to float, held below b.
     */
    private static int uniformFloat(float[] out, int base, long seed, long offset, int i0, int i1, double a,
            double b) {
        int lanes = L.length();
        int bound = i0 + (i1 - i0) / lanes * lanes;
        LongVector laneIndex = LongVector.zero(L).addIndex(1);
        double width = b - a;
        float high = (float) b;
        float belowB = high >= b ? Math.nextDown(high) : high;
        for (int i = i0; i < bound; i += lanes) {
            DoubleVector u = draw24(laneIndex.add(offset + i), seed);
            DoubleVector v = u.mul(width).add(a);
            FloatVector f = (FloatVector) v.convertShape(VectorOperators.D2F, F_OF_D, 0);
            // Where rounding to float reached b, the largest float below it (see belowHigh).
            DoubleVector stored = (DoubleVector) f.convertShape(VectorOperators.F2D, D, 0);
            VectorMask<Float> reached = stored.compare(VectorOperators.GE, b).cast(F_OF_D);
            f.blend(belowB, reached).intoArray(out, base + i);
        }
        return bound;
    }

    /**
     * Backend.dropoutMask for contiguous float32: 1 / keep in float where the draw (as a float32 uniform
     * [0, 1) fill makes it) is below keep in float, else 0, as the composition of rand, lt, to and div gives.
     */
    static void dropoutMask(Tensor dst, long seed, long offset, double keep) {
        float[] out = ElementwiseKernels.floats(dst);
        int base = dst.offset();
        float keepF = (float) keep;
        float scale = 1f / keepF;
        Parallel.forRange(dst.numel(), 1 << 14, (i0, i1) -> {
            int lanes = L.length();
            int bound = i0 + (i1 - i0) / lanes * lanes;
            LongVector laneIndex = LongVector.zero(L).addIndex(1);
            FloatVector zero = FloatVector.zero(F_OF_D);
            int i = i0;
            for (; i < bound; i += lanes) {
                // The draw u is a multiple of 2^-24 below 1, so it is the same in double and in float.
                DoubleVector u = draw24(laneIndex.add(offset + i), seed);
                VectorMask<Float> kept = u.compare(VectorOperators.LT, keepF).cast(F_OF_D);
                zero.blend(scale, kept).intoArray(out, base + i);
            }
            int[] words = new int[4];
            for (; i < i1; i++) {
                Philox.block(seed, offset + i, words);
                out[base + i] = (float) Philox.uniform24(words) < keepF ? scale : 0f;
            }
        });
    }

    /**
     * Word 0's top 24 bits of the Philox block of each lane's counter, times 2^-24: the float32 uniform draw
     * of Philox.uniform24, in double lanes.
     */
    private static DoubleVector draw24(LongVector counter, long seed) {
        // The four 32-bit words of each lane's block, each in the low half of a long lane.
        LongVector c0 = counter.and(LOW32);
        LongVector c1 = counter.lanewise(VectorOperators.LSHR, 32);
        LongVector c2 = LongVector.zero(L);
        LongVector c3 = LongVector.zero(L);
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            LongVector p0 = c0.mul(M0); // 32 x 32 -> 64 bits, exact in a long lane
            LongVector p1 = c2.mul(M1);
            LongVector n0 = p1.lanewise(VectorOperators.LSHR, 32).lanewise(VectorOperators.XOR, c1)
                    .lanewise(VectorOperators.XOR, k0 & LOW32);
            LongVector n2 = p0.lanewise(VectorOperators.LSHR, 32).lanewise(VectorOperators.XOR, c3)
                    .lanewise(VectorOperators.XOR, k1 & LOW32);
            c1 = p1.and(LOW32);
            c3 = p0.and(LOW32);
            c0 = n0;
            c2 = n2;
            k0 += W0;
            k1 += W1;
        }
        return ((DoubleVector) c0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.L2D, 0)).mul(0x1p-24);
    }
}
