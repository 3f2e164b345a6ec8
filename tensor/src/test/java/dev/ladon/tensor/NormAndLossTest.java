package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * FusedOps layer norm, RMS norm and cross-entropy: forwards against per-row loops in double, backwards
 * against central finite differences of the forward in float64 (and float32 backwards against the same
 * float64 differences at a looser tolerance).
 */
class NormAndLossTest {
    private static final double EPS = 1e-5;

    /** Per-row reference of layer norm (centered) or RMS norm; returns {y, mean, rstd}. */
    static double[][] normReference(double[] x, int d, double[] w, double[] b, boolean centered) {
        int rows = x.length / d;
        double[] y = new double[x.length];
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            double mu = 0;
            if (centered) {
                for (int i = 0; i < d; i++) {
                    mu += x[r * d + i];
                }
                mu /= d;
            }
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += (x[r * d + i] - mu) * (x[r * d + i] - mu);
            }
            double inv = 1 / Math.sqrt(ss / d + EPS);
            for (int i = 0; i < d; i++) {
                y[r * d + i] = (x[r * d + i] - mu) * inv * (w == null ? 1 : w[i]) + (b == null ? 0 : b[i]);
            }
            mean[r] = mu;
            rstd[r] = inv;
        }
        return new double[][] {y, mean, rstd};
    }

    /** d/dp of sum(g * f(p)) at p by central differences, f evaluated in float64. */
    static double[] finiteDifference(double[] p, double[] g, Function<double[], double[]> f) {
        double h = 1e-6;
        double[] grad = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double[] plus = p.clone();
            double[] minus = p.clone();
            plus[i] += h;
            minus[i] -= h;
            double[] a = f.apply(plus);
            double[] c = f.apply(minus);
            double s = 0;
            for (int k = 0; k < a.length; k++) {
                s += g[k] * (a[k] - c[k]);
            }
            grad[i] = s / (2 * h);
        }
        return grad;
    }

    static Tensor f64(double[] v, int... shape) {
        return Tensor.of(v, shape);
    }

    @Test
    void layerNormAndRmsNormForwardMatchPerRowReference() {
        Random rng = new Random(1);
        int[][] shapes = {{7}, {3, 1}, {4, 33}, {2, 3, 7}, {1, 129}};
        for (int[] shape : shapes) {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
                for (int affine = 0; affine < 3; affine++) {
                    int d = shape[shape.length - 1];
                    Layout layout = Layout.values()[rng.nextInt(4)];
                    Tensor x = layout.random(rng, dtype, shape, -3, 5);
                    Tensor w = affine > 0 ? Layout.CONTIGUOUS.random(rng, dtype, new int[] {d}, 0.5, 1.5) : null;
                    Tensor b = affine > 1 ? Layout.STRIDED.random(rng, dtype, new int[] {d}, -1, 1) : null;
                    double[] xv = Elements.read(x);
                    double[] wv = w == null ? null : Elements.read(w);
                    double[] bv = b == null ? null : Elements.read(b);
                    int[] rowsShape = Arrays.copyOf(shape, shape.length - 1);
                    double tol = dtype == DType.FLOAT64 ? 1e-12 : 1e-5;
                    String what = Arrays.toString(shape) + " " + dtype + " " + layout + " affine=" + affine;

                    double[][] ln = normReference(xv, d, wv, bv, true);
                    FusedOps.LayerNormResult r = FusedOps.layerNorm(x, w, b, EPS);
                    Elements.assertClose("layerNorm " + what, r.output(), dtype, shape, ln[0], tol);
                    Elements.assertClose("layerNorm mean " + what, r.mean(), dtype, rowsShape, ln[1], tol);
                    Elements.assertClose("layerNorm rstd " + what, r.rstd(), dtype, rowsShape, ln[2], tol);

                    double[][] rms = normReference(xv, d, wv, null, false);
                    FusedOps.RmsNormResult q = FusedOps.rmsNorm(x, w, EPS);
                    Elements.assertClose("rmsNorm " + what, q.output(), dtype, shape, rms[0], tol);
                    Elements.assertClose("rmsNorm rstd " + what, q.rstd(), dtype, rowsShape, rms[2], tol);
                }
            }
        }
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        Random rng = new Random(2);
        int[][] shapes = {{5}, {3, 7}, {2, 2, 4}, {4, 1}};
        for (int[] shape : shapes) {
            for (boolean affine : new boolean[] {false, true}) {
                int d = shape[shape.length - 1];
                Tensor x64 = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, shape, -2, 2);
                double[] xv = Elements.read(x64);
                double[] wv = affine ? Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {d}, 0.5, 1.5))
                        : null;
                double[] bv = affine ? Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {d}, -1, 1))
                        : null;
                double[] g = Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, shape, -1, 1));
                Function<double[], double[]> fx = p -> Elements.read(FusedOps.layerNorm(f64(p, shape),
                        wv == null ? null : f64(wv, d), bv == null ? null : f64(bv, d), EPS).output());
                double[] dx = finiteDifference(xv, g, fx);
                double[] dw = affine ? finiteDifference(wv, g,
                        p -> Elements.read(FusedOps.layerNorm(f64(xv, shape), f64(p, d), f64(bv, d), EPS).output())) : null;
                double[] db = affine ? finiteDifference(bv, g,
                        p -> Elements.read(FusedOps.layerNorm(f64(xv, shape), f64(wv, d), f64(p, d), EPS).output())) : null;

                for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
                    double tol = dtype == DType.FLOAT64 ? 1e-7 : 2e-4;
                    // float32 inputs are the float64 values rounded; small rows keep the difference below tol.
                    // Strided x and gradient: the kernels must not assume contiguous inputs.
                    Tensor x = Layout.stridedCopyOf(Elements.tensor(dtype, shape, xv));
                    Tensor w = affine ? Elements.tensor(dtype, new int[] {d}, wv) : null;
                    Tensor b = affine ? Elements.tensor(dtype, new int[] {d}, bv) : null;
                    Tensor gy = Layout.stridedCopyOf(Elements.tensor(dtype, shape, g));
                    FusedOps.LayerNormResult saved = FusedOps.layerNorm(x, w, b, EPS);
                    Tensor[] grads = FusedOps.layerNormBackward(gy, x, w, saved);
                    String what = "layerNormBackward " + Arrays.toString(shape) + " " + dtype + " affine=" + affine;
                    Elements.assertClose(what + " dx", grads[0], dtype, shape, dx, tol);
                    if (affine) {
                        Elements.assertClose(what + " dw", grads[1], dtype, new int[] {d}, dw, tol);
                        Elements.assertClose(what + " db", grads[2], dtype, new int[] {d}, db, tol);
                    } else {
                        assertThat(grads[1]).isNull();
                        assertThat(grads[2]).isNull();
                    }
                }
            }
        }
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferences() {
        Random rng = new Random(3);
        int[][] shapes = {{5}, {3, 7}, {2, 2, 4}, {4, 1}};
        for (int[] shape : shapes) {
            for (boolean affine : new boolean[] {false, true}) {
                int d = shape[shape.length - 1];
                double[] xv = Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, shape, -2, 2));
                double[] wv = affine ? Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {d}, 0.5, 1.5))
                        : null;
                double[] g = Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, shape, -1, 1));
                double[] dx = finiteDifference(xv, g, p -> Elements.read(FusedOps.rmsNorm(f64(p, shape),
                        wv == null ? null : f64(wv, d), EPS).output()));
                double[] dw = affine ? finiteDifference(wv, g,
                        p -> Elements.read(FusedOps.rmsNorm(f64(xv, shape), f64(p, d), EPS).output())) : null;
                for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
                    double tol = dtype == DType.FLOAT64 ? 1e-7 : 2e-4;
                    Tensor x = Layout.stridedCopyOf(Elements.tensor(dtype, shape, xv));
                    Tensor w = affine ? Elements.tensor(dtype, new int[] {d}, wv) : null;
                    Tensor gy = Layout.stridedCopyOf(Elements.tensor(dtype, shape, g));
                    Tensor[] grads = FusedOps.rmsNormBackward(gy, x, w, FusedOps.rmsNorm(x, w, EPS));
                    String what = "rmsNormBackward " + Arrays.toString(shape) + " " + dtype + " affine=" + affine;
                    assertThat(grads).hasSize(2);
                    Elements.assertClose(what + " dx", grads[0], dtype, shape, dx, tol);
                    if (affine) {
                        Elements.assertClose(what + " dw", grads[1], dtype, new int[] {d}, dw, tol);
                    } else {
                        assertThat(grads[1]).isNull();
                    }
                }
            }
        }
    }

    @Test
    void manyRowsSplitAcrossThreadsMatchTheAnalyticBackward() {
        // 3000 rows: the per-thread partial sums of dweight and dbias must all be added up
        int rows = 3000;
        int d = 7;
        Random rng = new Random(6);
        ThreadCount.run(3, () -> {
            for (boolean centered : new boolean[] {true, false}) {
                Tensor x = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {rows, d}, -2, 2);
                Tensor w = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {d}, 0.5, 1.5);
                Tensor b = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {d}, -1, 1);
                Tensor gy = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {rows, d}, -1, 1);
                double[] xv = Elements.read(x);
                double[] wv = Elements.read(w);
                double[] g = Elements.read(gy);
                double[][] ref = normReference(xv, d, wv, centered ? Elements.read(b) : null, centered);
                double[] dx = new double[xv.length];
                double[] dw = new double[d];
                double[] db = new double[d];
                for (int r = 0; r < rows; r++) {
                    // with xhat = (x - mean) rstd and h = dy w:
                    // dx = rstd (h - mean(h) - xhat mean(h xhat)), the mean(h) term only for layer norm
                    double meanH = 0;
                    double meanHX = 0;
                    for (int i = 0; i < d; i++) {
                        double xhat = (xv[r * d + i] - ref[1][r]) * ref[2][r];
                        double h = g[r * d + i] * wv[i];
                        meanH += h / d;
                        meanHX += h * xhat / d;
                        dw[i] += g[r * d + i] * xhat;
                        db[i] += g[r * d + i];
                    }
                    for (int i = 0; i < d; i++) {
                        double xhat = (xv[r * d + i] - ref[1][r]) * ref[2][r];
                        double h = g[r * d + i] * wv[i];
                        dx[r * d + i] = ref[2][r] * (h - (centered ? meanH : 0) - xhat * meanHX);
                    }
                }
                Tensor[] grads = centered
                        ? FusedOps.layerNormBackward(gy, x, w, FusedOps.layerNorm(x, w, b, EPS))
                        : FusedOps.rmsNormBackward(gy, x, w, FusedOps.rmsNorm(x, w, EPS));
                String what = centered ? "layerNormBackward" : "rmsNormBackward";
                Elements.assertClose(what + " dx", grads[0], DType.FLOAT64, new int[] {rows, d}, dx, 1e-10);
                Elements.assertClose(what + " dw", grads[1], DType.FLOAT64, new int[] {d}, dw, 1e-10);
                if (centered) {
                    Elements.assertClose(what + " db", grads[2], DType.FLOAT64, new int[] {d}, db, 1e-10);
                }
            }
        });
    }

    // ---- cross-entropy --------------------------------------------------------------------------

    /** Per-row losses and logsumexp in double: lse - (1 - s) x[t] - s mean(x), 0 where t is ignored. */
    static double[][] crossEntropyReference(double[] logits, long[] target, int c, int ignore, double s) {
        int n = target.length;
        double[] loss = new double[n];
        double[] lse = new double[n];
        for (int r = 0; r < n; r++) {
            double m = Double.NEGATIVE_INFINITY;
            double sum = 0;
            for (int i = 0; i < c; i++) {
                m = Math.max(m, logits[r * c + i]);
                sum += logits[r * c + i];
            }
            double z = 0;
            for (int i = 0; i < c; i++) {
                z += Math.exp(logits[r * c + i] - m);
            }
            lse[r] = m + Math.log(z);
            if (target[r] != ignore) {
                loss[r] = lse[r] - (1 - s) * logits[r * c + (int) target[r]] - s * sum / c;
            }
        }
        return new double[][] {loss, lse};
    }

    @Test
    void crossEntropyForwardHandlesIgnoreIndexAndLabelSmoothing() {
        Random rng = new Random(4);
        for (int trial = 0; trial < 40; trial++) {
            int n = 1 + rng.nextInt(6);
            int c = new int[] {1, 2, 7, 33}[rng.nextInt(4)];
            DType dtype = trial % 2 == 0 ? DType.FLOAT32 : DType.FLOAT64;
            Tensor logits = Layout.values()[rng.nextInt(4)].random(rng, dtype, new int[] {n, c}, -20, 20);
            int ignore = trial % 3 == 0 ? 0 : -100; // an ignore index inside the class range must also work
            long[] t = new long[n];
            for (int r = 0; r < n; r++) {
                t[r] = rng.nextInt(4) == 0 ? ignore : rng.nextInt(c);
            }
            Tensor target = trial % 4 < 2 ? Tensor.of(t, n) : Elements.tensor(DType.INT32, new int[] {n}, toDouble(t));
            double smoothing = new double[] {0, 0.1, 1}[trial % 3];
            double[][] expected = crossEntropyReference(Elements.read(logits), t, c, ignore, smoothing);
            FusedOps.CrossEntropyResult r = FusedOps.crossEntropy(logits, target, ignore, smoothing);
            double tol = dtype == DType.FLOAT64 ? 1e-12 : 1e-5;
            String what = "crossEntropy n=" + n + " c=" + c + " ignore=" + ignore + " s=" + smoothing;
            Elements.assertClose(what + " losses", r.losses(), dtype, new int[] {n}, expected[0], tol);
            Elements.assertClose(what + " lse", r.logSumExp(), dtype, new int[] {n}, expected[1], tol);
        }
    }

    static double[] toDouble(long[] v) {
        return Arrays.stream(v).asDoubleStream().toArray();
    }

    @Test
    void crossEntropyBackwardMatchesFiniteDifferences() {
        Random rng = new Random(5);
        for (int trial = 0; trial < 24; trial++) {
            int n = 1 + rng.nextInt(4);
            int c = 1 + rng.nextInt(6);
            int ignore = trial % 2 == 0 ? -100 : 0;
            double smoothing = new double[] {0, 0.2, 0.7}[trial % 3];
            double[] lv = Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64, new int[] {n, c}, -3, 3));
            long[] t = new long[n];
            for (int r = 0; r < n; r++) {
                t[r] = rng.nextInt(3) == 0 ? ignore : rng.nextInt(c);
            }
            Tensor target = Tensor.of(t, n);
            boolean scalarGrad = trial % 4 == 3;
            double[] gl = scalarGrad ? new double[] {0.7} : Elements.read(Layout.CONTIGUOUS.random(rng, DType.FLOAT64,
                    new int[] {n}, -1, 1));
            double[] perRow = scalarGrad ? filled(n, gl[0]) : gl;
            double[] expected = finiteDifference(lv, perRow,
                    p -> Elements.read(FusedOps.crossEntropy(f64(p, n, c), target, ignore, smoothing).losses()));
            for (DType dtype : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
                Tensor logits = Layout.stridedCopyOf(Elements.tensor(dtype, new int[] {n, c}, lv));
                Tensor gradLosses = scalarGrad ? Tensor.scalar(gl[0], dtype, Device.CPU)
                        : Elements.tensor(dtype, new int[] {n}, gl);
                FusedOps.CrossEntropyResult saved = FusedOps.crossEntropy(logits, target, ignore, smoothing);
                Tensor grad = FusedOps.crossEntropyBackward(gradLosses, logits, target, saved, ignore, smoothing);
                Elements.assertClose("crossEntropyBackward " + dtype + " n=" + n + " c=" + c + " ignore=" + ignore
                        + " s=" + smoothing, grad, dtype, new int[] {n, c}, expected, dtype == DType.FLOAT64 ? 1e-7 : 1e-5);
            }
        }
    }

    static double[] filled(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }
}
