package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.ThreadCount;
import org.junit.jupiter.api.Test;

/**
 * The float32 vector paths of layer norm (forward and backward) and cross-entropy (forward and backward)
 * against double loops over the same float inputs: widths that leave vector tails, rows split across three
 * threads (the weight and bias gradients are summed in float per block of rows, then in double), a constant
 * row (variance 0), and large logits. The surefire run with {@code ladon.cpu.vectorBits=128} repeats them.
 */
class FloatNormPathsTest {
    private static final double EPS = 1e-5;

    private static void assertClose(String what, float[] actual, double[] expected, double tolerance) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("%s [%d]", what, i)
                    .isCloseTo(expected[i], within(tolerance * Math.max(1, Math.abs(expected[i]))));
        }
    }

    @Test
    void layerNormForwardAndBackwardMatchDoubleLoops() {
        Generator gen = new Generator(41);
        ThreadCount.run(3, () -> {
            for (int d : new int[] {1, 7, 37, 100}) {
                int rows = 1000;
                float[] x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * d).mul(2).add(3).toFloatArray();
                java.util.Arrays.fill(x, 0, d, 1.7f); // a constant row: its normalised values are exactly 0
                float[] w = Tensor.randn(gen, DType.FLOAT32, Device.CPU, d).toFloatArray();
                float[] b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, d).toFloatArray();
                float[] gy = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * d).toFloatArray();
                double[] y = new double[rows * d];
                double[] mean = new double[rows];
                double[] rstd = new double[rows];
                double[] dx = new double[rows * d];
                double[] dw = new double[d];
                double[] db = new double[d];
                for (int r = 0; r < rows; r++) {
                    double mu = 0;
                    for (int i = 0; i < d; i++) {
                        mu += x[r * d + i];
                    }
                    mu /= d;
                    double var = 0;
                    for (int i = 0; i < d; i++) {
                        var += (x[r * d + i] - mu) * (x[r * d + i] - mu);
                    }
                    double s = 1 / Math.sqrt(var / d + EPS);
                    mean[r] = mu;
                    rstd[r] = s;
                    double meanH = 0;
                    double meanHX = 0;
                    for (int i = 0; i < d; i++) {
                        double xhat = (x[r * d + i] - mu) * s;
                        y[r * d + i] = xhat * w[i] + b[i];
                        double h = gy[r * d + i] * w[i];
                        meanH += h / d;
                        meanHX += h * xhat / d;
                        dw[i] += gy[r * d + i] * xhat;
                        db[i] += gy[r * d + i];
                    }
                    for (int i = 0; i < d; i++) {
                        double xhat = (x[r * d + i] - mu) * s;
                        dx[r * d + i] = s * (gy[r * d + i] * w[i] - meanH - xhat * meanHX);
                    }
                }
                Tensor tx = Tensor.of(x, rows, d);
                FusedOps.LayerNormResult ln = FusedOps.layerNorm(tx, Tensor.of(w, d), Tensor.of(b, d), EPS);
                String what = "d=" + d;
                assertClose("y " + what, ln.output().toFloatArray(), y, 1e-5);
                assertClose("mean " + what, ln.mean().toFloatArray(), mean, 1e-6);
                assertClose("rstd " + what, ln.rstd().toFloatArray(), rstd, 1e-5);
                for (int i = 0; i < d; i++) {
                    assertThat(ln.output().toFloatArray()[i]).as("constant row, " + what).isEqualTo(b[i]);
                }
                Tensor[] grads = FusedOps.layerNormBackward(Tensor.of(gy, rows, d), tx, Tensor.of(w, d), ln);
                assertClose("dx " + what, grads[0].toFloatArray(), dx, 2e-4);
                assertClose("dw " + what, grads[1].toFloatArray(), dw, 1e-4);
                assertClose("db " + what, grads[2].toFloatArray(), db, 1e-5);
            }
        });
    }

    @Test
    void crossEntropyForwardAndBackwardMatchDoubleLoops() {
        Generator gen = new Generator(42);
        ThreadCount.run(3, () -> {
            for (int c : new int[] {1, 7, 37, 100}) {
                int rows = 600;
                float[] z = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * c).mul(30).toFloatArray();
                long[] target = new long[rows];
                for (int r = 0; r < rows; r++) {
                    target[r] = r % 5 == 0 ? -100 : (r * 7L) % c;
                }
                double smoothing = 0.1;
                double[] loss = new double[rows];
                double[] lse = new double[rows];
                double[] grad = new double[rows * c];
                for (int r = 0; r < rows; r++) {
                    double m = Double.NEGATIVE_INFINITY;
                    double sum = 0;
                    for (int i = 0; i < c; i++) {
                        m = Math.max(m, z[r * c + i]);
                        sum += z[r * c + i];
                    }
                    double e = 0;
                    for (int i = 0; i < c; i++) {
                        e += Math.exp(z[r * c + i] - m);
                    }
                    lse[r] = m + Math.log(e);
                    if (target[r] < 0) {
                        continue;
                    }
                    loss[r] = (1 - smoothing) * (lse[r] - z[r * c + (int) target[r]]) + smoothing * (lse[r] - sum / c);
                    for (int i = 0; i < c; i++) {
                        grad[r * c + i] = 0.5 * (Math.exp(z[r * c + i] - lse[r]) - smoothing / c
                                - (i == target[r] ? 1 - smoothing : 0));
                    }
                }
                Tensor logits = Tensor.of(z, rows, c);
                Tensor t = Tensor.of(target, rows);
                FusedOps.CrossEntropyResult r = FusedOps.crossEntropy(logits, t, -100, smoothing);
                assertClose("loss c=" + c, r.losses().toFloatArray(), loss, 1e-5);
                assertClose("lse c=" + c, r.logSumExp().toFloatArray(), lse, 1e-6);
                Tensor g = FusedOps.crossEntropyBackward(Tensor.scalar(0.5, DType.FLOAT32, Device.CPU), logits, t, r,
                        -100, smoothing);
                assertClose("grad c=" + c, g.toFloatArray(), grad, 1e-5);
            }
        });
    }
}
