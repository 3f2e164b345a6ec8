package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The float32 fast paths of the CPU reductions against plain double loops: long rows reduced in chunks
 * (and independent of the thread count), vector max/min with NaN, argmax/argmin ties and NaN, column sums
 * with row counts that do not divide by the unrolling, softmax rows and their backward. The surefire
 * run with {@code ladon.cpu.vectorBits=128} repeats them with narrow vectors.
 */
class FloatReductionPathsTest {
    private final int threadsBefore = Parallel.numThreads();

    @AfterEach
    void restoreThreads() {
        Parallel.setNumThreads(threadsBefore);
    }

    @Test
    void longRowsAreReducedInChunksIndependentlyOfTheThreadCount() {
        int n = (1 << 17) + 333; // more than two chunks, with a ragged last one
        float[] values = randomFloats(n, 11);
        Tensor x = Tensor.of(values, n);
        double sum = 0;
        float max = Float.NEGATIVE_INFINITY;
        float min = Float.POSITIVE_INFINITY;
        for (float v : values) {
            sum += v;
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        float[] results = new float[0];
        for (int threads : new int[] {1, 3}) {
            Parallel.setNumThreads(threads);
            float s = x.sum().toFloatArray()[0];
            assertThat((double) s).isCloseTo(sum, within(1e-6 * n));
            assertThat(x.mean().toDoubleArray()[0]).isCloseTo(sum / n, within(1e-6));
            assertThat(x.max().toFloatArray()[0]).isEqualTo(max);
            assertThat(x.min().toFloatArray()[0]).isEqualTo(min);
            float[] now = {s, x.max().toFloatArray()[0]};
            if (results.length == 0) {
                results = now;
            } else {
                assertThat(now).as("same bits on 1 and 3 threads").containsExactly(results);
            }
        }
        // Several long rows at once: [3, n] summed over the last dim.
        float[] three = randomFloats(3 * n, 12);
        float[] rowSums = Tensor.of(three, 3, n).sum(1).toFloatArray();
        for (int r = 0; r < 3; r++) {
            double expected = 0;
            for (int i = 0; i < n; i++) {
                expected += three[r * n + i];
            }
            assertThat((double) rowSums[r]).isCloseTo(expected, within(1e-6 * n));
        }
    }

    @Test
    void maxAndMinPropagateNaNAndHandleRowsShorterThanAVector() {
        for (int n : new int[] {1, 3, 17, 40}) {
            float[] values = randomFloats(2 * n, n);
            values[n + n / 2] = Float.NaN; // second row has a NaN
            Tensor x = Tensor.of(values, 2, n);
            float[] max = x.max(1, false).toFloatArray();
            float[] min = x.min(1, false).toFloatArray();
            float expectedMax = Float.NEGATIVE_INFINITY;
            float expectedMin = Float.POSITIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                expectedMax = Math.max(expectedMax, values[i]);
                expectedMin = Math.min(expectedMin, values[i]);
            }
            assertThat(max[0]).isEqualTo(expectedMax);
            assertThat(min[0]).isEqualTo(expectedMin);
            assertThat(max[1]).isNaN();
            assertThat(min[1]).isNaN();
        }
    }

    @Test
    void maxAndMinFollowJavaRulesForNaNInfinitiesSignedZerosAndHugeValues() {
        // The fast loop compares floats as integers: NaNs of either sign, infinities and zeros of either
        // sign each land at a different end of that order.
        int n = 203; // several unrolled vector steps and a tail, whatever the vector width
        float negativeNaN = Float.intBitsToFloat(0xffc00000);
        float nanWithPayload = Float.intBitsToFloat(0x7f800001);
        for (int at : new int[] {0, 37, n - 1}) {
            float[] nan = randomFloats(n, at);
            nan[at] = Float.NaN;
            assertMaxAndMinAreMathMaxAndMin(nan, "NaN at " + at);
            float[] negative = randomFloats(n, at + 2);
            negative[at] = negativeNaN;
            assertMaxAndMinAreMathMaxAndMin(negative, "NaN with the sign bit set at " + at);
            float[] payload = randomFloats(n, at + 3);
            payload[at] = nanWithPayload;
            assertMaxAndMinAreMathMaxAndMin(payload, "NaN with a payload at " + at);
            float[] inf = randomFloats(n, at + 1);
            inf[at] = Float.POSITIVE_INFINITY;
            inf[(at + 5) % n] = Float.NEGATIVE_INFINITY;
            assertMaxAndMinAreMathMaxAndMin(inf, "infinities at " + at);
        }
        float[] zeros = new float[n];
        java.util.Arrays.fill(zeros, -0.0f);
        zeros[150] = 0.0f; // Math.max says +0.0 and Math.min -0.0 whichever comes first
        assertMaxAndMinAreMathMaxAndMin(zeros, "signed zeros");
        float[] negativeZeros = randomFloats(n, 9);
        for (int i = 0; i < n; i++) {
            negativeZeros[i] = -Math.abs(negativeZeros[i]);
        }
        negativeZeros[3] = -0.0f;
        negativeZeros[99] = 0.0f;
        assertMaxAndMinAreMathMaxAndMin(negativeZeros, "largest is a zero");
        float[] huge = new float[n];
        for (int i = 0; i < n; i++) {
            huge[i] = 1e38f + ((i * 37) % n) * 1e35f; // finite values whose sum overflows
        }
        assertMaxAndMinAreMathMaxAndMin(huge, "huge values");
        float[] infinities = new float[n];
        java.util.Arrays.fill(infinities, Float.NEGATIVE_INFINITY);
        assertMaxAndMinAreMathMaxAndMin(infinities, "only -inf");
        java.util.Arrays.fill(infinities, Float.POSITIVE_INFINITY);
        assertMaxAndMinAreMathMaxAndMin(infinities, "only +inf");
        float[] subnormals = randomFloats(n, 11);
        for (int i = 0; i < n; i++) {
            subnormals[i] *= Float.MIN_VALUE * 64; // tiny values of both signs, most of them subnormal
        }
        assertMaxAndMinAreMathMaxAndMin(subnormals, "subnormals");
    }

    private static void assertMaxAndMinAreMathMaxAndMin(float[] values, String what) {
        float expectedMax = Float.NEGATIVE_INFINITY;
        float expectedMin = Float.POSITIVE_INFINITY;
        for (float v : values) {
            expectedMax = Math.max(expectedMax, v);
            expectedMin = Math.min(expectedMin, v);
        }
        Tensor x = Tensor.of(values, 1, values.length);
        // Compared as bits: NaN equals NaN and +0.0 differs from -0.0.
        assertThat(Float.floatToIntBits(x.max(1, false).toFloatArray()[0])).as(what + ": max")
                .isEqualTo(Float.floatToIntBits(expectedMax));
        assertThat(Float.floatToIntBits(x.min(1, false).toFloatArray()[0])).as(what + ": min")
                .isEqualTo(Float.floatToIntBits(expectedMin));
    }

    @Test
    void argmaxAndArgminTakeTheFirstBestAndTheFirstNaN() {
        Tensor ties = Tensor.of(new float[] {1, 5, 2, 5, -3, -3}, 1, 6);
        assertThat(ties.argmax(1, false).toLongArray()).containsExactly(1L);
        assertThat(ties.argmin(1, false).toLongArray()).containsExactly(4L);
        Tensor nan = Tensor.of(new float[] {1, Float.NaN, 9, Float.NaN}, 1, 4);
        assertThat(nan.argmax(1, false).toLongArray()).containsExactly(1L);
        assertThat(nan.argmin(1, false).toLongArray()).containsExactly(1L);
    }

    @Test
    void columnSumsMatchADoubleLoopForRowCountsThatDoNotDivideByFour() {
        Parallel.setNumThreads(2);
        for (int rows : new int[] {1, 3, 7, 300}) {
            int cols = 515;
            float[] values = randomFloats(rows * cols, rows);
            float[] sums = Tensor.of(values, rows, cols).sum(0).toFloatArray();
            float[] means = Tensor.of(values, rows, cols).mean(new int[] {0}, false).toFloatArray();
            for (int c = 0; c < cols; c++) {
                double expected = 0;
                for (int r = 0; r < rows; r++) {
                    expected += values[r * cols + c];
                }
                assertThat((double) sums[c]).as("rows=%d col=%d", rows, c).isCloseTo(expected, within(1e-5 * rows));
                assertThat((double) means[c]).isCloseTo(expected / rows, within(1e-5));
            }
        }
    }

    @Test
    void sumsOverAMiddleRunOfDimsMatchADoubleLoop() {
        // [outer..., reduced..., inner...] with the inner block a vector or more: the sum over the experts of a
        // [B, T, experts, d] tensor. Also inner blocks with a tail, several reduced dims, keepDim, and mean.
        int[][] shapes = {{8, 64, 4, 128}, {8, 128, 2, 2, 32}, {3, 5, 7, 19}, {2, 300, 33}, {4, 3, 2, 5, 17}};
        int[][] dims = {{2}, {3}, {1, 2}, {1}, {1, 2}};
        for (int threads : new int[] {1, 2}) {
            Parallel.setNumThreads(threads);
            for (int k = 0; k < shapes.length; k++) {
                int[] shape = shapes[k];
                int n = 1;
                for (int d : shape) {
                    n *= d;
                }
                float[] values = randomFloats(n, k + 17);
                Tensor x = Tensor.of(values, shape);
                int first = dims[k][0];
                int last = dims[k][dims[k].length - 1];
                int outer = 1;
                int reduce = 1;
                int inner = 1;
                for (int d = 0; d < shape.length; d++) {
                    if (d < first) {
                        outer *= shape[d];
                    } else if (d <= last) {
                        reduce *= shape[d];
                    } else {
                        inner *= shape[d];
                    }
                }
                float[] sums = x.sum(dims[k], false).toFloatArray();
                float[] kept = x.sum(dims[k], true).toFloatArray();
                float[] means = x.mean(dims[k], false).toFloatArray();
                assertThat(sums.length).isEqualTo(outer * inner);
                for (int o = 0; o < outer; o++) {
                    for (int j = 0; j < inner; j++) {
                        double expected = 0;
                        for (int i = 0; i < reduce; i++) {
                            expected += values[(o * reduce + i) * inner + j];
                        }
                        int at = o * inner + j;
                        assertThat((double) sums[at]).as("shape %d, o=%d j=%d", k, o, j)
                                .isCloseTo(expected, within(1e-5 * reduce));
                        assertThat(kept[at]).isEqualTo(sums[at]);
                        assertThat((double) means[at]).isCloseTo(expected / reduce, within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void softmaxRowsMatchADoubleLoop() {
        for (int n : new int[] {1, 5, 33, 3000}) {
            float[] values = randomFloats(3 * n, n + 100);
            values[0] = 80; // large logits must not overflow
            Tensor x = Tensor.of(values, 3, n);
            float[] soft = x.softmax(1).toFloatArray();
            float[] logSoft = x.logSoftmax(1).toFloatArray();
            for (int r = 0; r < 3; r++) {
                double m = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    m = Math.max(m, values[r * n + i]);
                }
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += Math.exp(values[r * n + i] - m);
                }
                for (int i = 0; i < n; i++) {
                    double expected = Math.exp(values[r * n + i] - m) / s;
                    assertThat((double) soft[r * n + i]).isCloseTo(expected, within(1e-6 + 1e-5 * expected));
                    assertThat((double) logSoft[r * n + i]).isCloseTo(values[r * n + i] - m - Math.log(s), within(1e-4));
                }
            }
        }
    }

    @Test
    void softmaxBackwardRowsMatchADoubleLoop() {
        for (boolean log : new boolean[] {false, true}) {
            for (int n : new int[] {1, 6, 45, 2100}) {
                float[] logits = randomFloats(2 * n, n + 200);
                float[] grad = randomFloats(2 * n, n + 300);
                Tensor x = Tensor.of(logits, 2, n);
                Tensor y = log ? x.logSoftmax(1) : x.softmax(1);
                float[] yv = y.toFloatArray();
                float[] dx = ReduceKernels.softmaxBackward(y, Tensor.of(grad, 2, n), 1, log).toFloatArray();
                for (int r = 0; r < 2; r++) {
                    double sum = 0;
                    for (int i = 0; i < n; i++) {
                        sum += log ? grad[r * n + i] : (double) grad[r * n + i] * yv[r * n + i];
                    }
                    for (int i = 0; i < n; i++) {
                        int e = r * n + i;
                        double expected = log ? grad[e] - Math.exp(yv[e]) * sum : yv[e] * (grad[e] - sum);
                        assertThat((double) dx[e]).as("log=%s n=%d at %d", log, n, e)
                                .isCloseTo(expected, within(1e-5 * (1 + Math.abs(sum))));
                    }
                }
            }
        }
    }

    private static float[] randomFloats(int n, long seed) {
        return Tensor.randn(new Generator(seed), DType.FLOAT32, Device.CPU, n).toFloatArray();
    }
}
