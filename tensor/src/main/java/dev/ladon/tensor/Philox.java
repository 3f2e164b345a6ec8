package dev.ladon.tensor;

/**
 * Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
 * generator. The four 32-bit words for block {@code counter} under key {@code seed} are a pure function of the
 * two, so any thread or GPU block can draw element i of a tensor without a shared state; that is what makes
 * Ladon's random tensors identical for every thread count. Across backends, uniform fills (and what is made
 * from them: dropout masks, bernoulli, randint) are bit-identical; normal fills call log and cos, which the
 * CUDA backend computes to within an ulp of the JVM but not always to the same ulp, so a rare element may
 * differ in its last bits.
 *
 * <p>Ladon's stream: element i of a fill that starts at generator offset o uses block (seed, o + i). The
 * conversions below define the numbers; a backend must implement them exactly, log and cos aside
 * (arithmetic in double, then rounded to the tensor's dtype; a uniform draw that rounds up to the upper bound
 * becomes the largest value of the dtype below it, so the range stays half-open).
 */
public final class Philox {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final double TWO_POW_M24 = 0x1.0p-24;
    private static final double TWO_POW_M53 = 0x1.0p-53;

    private Philox() {
    }

    /** The four output words of block {@code counter} under {@code seed}, written into {@code out[0..3]}. */
    public static void block(long seed, long counter, int[] out) {
        block((int) counter, (int) (counter >>> 32), 0, 0, (int) seed, (int) (seed >>> 32), out);
    }

    /**
     * Philox 4x32-10 on the full 128-bit counter (c0..c3) and 64-bit key (k0, k1), the form the Random123
     * known-answer vectors are given in; Ladon's stream uses c2 = c3 = 0.
     */
    static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** Uniform in [0, 1) with 24 random bits, from word 0 (used for float32 and int draws). */
    public static double uniform24(int[] words) {
        return (words[0] >>> 8) * TWO_POW_M24;
    }

    /** Uniform in [0, 1) with 53 random bits, from words 0 and 1 (used for float64). */
    public static double uniform53(int[] words) {
        long bits = ((words[0] & 0xFFFFFFFFL) << 21) | ((words[1] & 0xFFFFFFFFL) >>> 11);
        return bits * TWO_POW_M53;
    }

    /** Standard normal by Box-Muller from words 0 and 2 (24 bits each; float32). */
    public static double normal24(int[] words) {
        double u1 = ((words[0] >>> 8) + 1) * TWO_POW_M24; // (0, 1]: log never sees 0
        double u2 = (words[2] >>> 8) * TWO_POW_M24;
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** Standard normal by Box-Muller from words 0-1 and 2-3 (53 bits each; float64). */
    public static double normal53(int[] words) {
        long b1 = ((words[0] & 0xFFFFFFFFL) << 21) | ((words[1] & 0xFFFFFFFFL) >>> 11);
        long b2 = ((words[2] & 0xFFFFFFFFL) << 21) | ((words[3] & 0xFFFFFFFFL) >>> 11);
        double u1 = (b1 + 1) * TWO_POW_M53;
        double u2 = b2 * TWO_POW_M53;
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
