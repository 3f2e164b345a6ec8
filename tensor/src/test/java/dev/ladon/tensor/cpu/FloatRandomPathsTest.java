package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Philox;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The float32 uniform fill runs Philox in vector lanes; every element must be the scalar definition's
 * (Philox.block of its counter, word 0's top 24 bits, a + (b - a) u in double, rounded to float and held
 * below b), whatever the vector width (this class also runs with 128-bit vectors), offset, length and range.
 */
class FloatRandomPathsTest {
    private static float expected(long seed, long counter, double a, double b) {
        int[] w = new int[4];
        Philox.block(seed, counter, w);
        double v = a + (b - a) * ((w[0] >>> 8) * 0x1p-24);
        return (float) RandomKernels.belowHigh(v, a, b, false);
    }

    @Test
    void everyElementIsTheScalarDefinition() {
        long[] seeds = {0, 42, 0x123456789ABCDEFL};
        // The last two offsets cross and sit above 2^32, where the counter's high word (c1) is not zero.
        long[] offsets = {0, 7, (1L << 32) - 5, (1L << 40) + 3};
        int[] lengths = {1, 7, 8, 9, 100, (1 << 14) * 2 + 13};
        double[][] ranges = {{0, 1}, {-2, 3}, {1, 2}, {1, 1 + 1e-7}, {-1e30, 1e30}};
        for (long seed : seeds) {
            for (long offset : offsets) {
                for (int n : lengths) {
                    for (double[] r : ranges) {
                        Generator gen = new Generator(seed);
                        gen.advance(offset);
                        float[] got = Tensor.uniform(r[0], r[1], gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
                        for (int i = 0; i < n; i++) {
                            float want = expected(seed, offset + i, r[0], r[1]);
                            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want)) {
                                assertThat(got[i]).as("seed %d offset %d n %d range [%s, %s) element %d", seed, offset,
                                        n, r[0], r[1], i).isEqualTo(want);
                            }
                            assertThat((double) got[i]).isLessThan(r[1]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theLargestDrawStaysBelowTheBound() {
        // Counter 8418514 under seed 1 draws 1 - 2^-24; 1 + that rounds to 2 in float32 unless held below.
        for (int n : new int[] {1, 64}) {
            Generator gen = new Generator(1);
            gen.advance(8418514);
            float[] got = Tensor.uniform(1, 2, gen, DType.FLOAT32, Device.CPU, n).toFloatArray();
            assertThat(got[0]).isEqualTo(Math.nextDown(2f));
        }
    }

    @Test
    void theDropoutMaskIsBernoulliDividedByTheKeepProbability() {
        long[] offsets = {0, 5, (1L << 32) - 3};
        int[] lengths = {1, 9, (1 << 14) * 2 + 7};
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (double p : new double[] {0, 0.1, 0.5, 0.9}) {
                for (long offset : offsets) {
                    for (int n : lengths) {
                        Generator a = new Generator(3);
                        a.advance(offset);
                        Generator b = new Generator(3);
                        b.advance(offset);
                        double[] fused = Tensor.dropoutMask(p, a, dtype, Device.CPU, n).toDoubleArray();
                        double[] composed = Tensor.bernoulli(1 - p, b, dtype, Device.CPU, n).div(1 - p).toDoubleArray();
                        assertThat(fused).as("%s p=%s offset=%d n=%d", dtype, p, offset, n).containsExactly(composed);
                        assertThat(a.offset()).isEqualTo(b.offset());
                    }
                }
            }
        }
    }
}
