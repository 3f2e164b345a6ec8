package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.concurrent.ConcurrentSkipListMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused layer norm, RMS norm and cross-entropy, forward and backward, over the last dim. Rows are
 * independent and split across threads. float64 (and the reference behaviour) runs scalar loops with
 * per-row statistics in double. float32 runs {@link FloatVector} loops: per-row sums in float vector
 * accumulators, the variance in two passes (sum of (x - mean)^2, which does not cancel the way
 * E[x^2] - mean^2 does), and the weight and bias gradients summed in float over blocks of rows, then in
 * double across blocks.
 */
final class NormKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    /** Rows whose dweight and dbias terms are summed in float before they go into the double totals. */
    private static final int FLUSH_ROWS = 32;

    private NormKernels() {
    }

    private static int rows(Tensor x) {
        int d = x.size(-1);
        return d == 0 ? 0 : x.numel() / d;
    }

    private static int[] withoutLast(int[] shape) {
        return java.util.Arrays.copyOf(shape, shape.length - 1);
    }

    static Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        Tensor xc = x.contiguous();
        int d = x.size(-1);
        int n = rows(x);
        Tensor y = CpuBackend.INSTANCE.newOutput(x.dtype(), x.shape());
        Tensor mean = CpuBackend.INSTANCE.newTensor(x.dtype(), withoutLast(x.shape()));
        Tensor rstd = CpuBackend.INSTANCE.newTensor(x.dtype(), withoutLast(x.shape()));
        if (x.dtype() == DType.FLOAT32) {
            float[] xa = ElementwiseKernels.floats(xc);
            float[] w = weight == null ? null : weight.contiguous().toFloatArray();
            float[] b = bias == null ? null : bias.contiguous().toFloatArray();
            float[] ya = ElementwiseKernels.floats(y);
            float[] ma = ElementwiseKernels.floats(mean);
            float[] ra = ElementwiseKernels.floats(rstd);
            Parallel.forRange(n, Math.max(1, 4096 / Math.max(d, 1)), (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    layerNormRowFloat(xa, xc.offset() + r * d, d, w, b, (float) eps, ya, r * d, ma, ra, r);
                }
            });
            return new Tensor[] {y, mean, rstd};
        }
        double[] w = weight == null ? null : weight.toDoubleArray();
        double[] b = bias == null ? null : bias.toDoubleArray();
        CpuStorage xs = ElementwiseKernels.storage(xc);
        CpuStorage ys = ElementwiseKernels.storage(y);
        CpuStorage ms = ElementwiseKernels.storage(mean);
        CpuStorage rs = ElementwiseKernels.storage(rstd);
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(d, 1)), (r0, r1) -> {
            double[] row = new double[d];
            for (int r = r0; r < r1; r++) {
                xs.load(xc.offset() + r * d, 1, row, d);
                double mu = 0;
                for (int i = 0; i < d; i++) {
                    mu += row[i];
                }
                mu /= d;
                double var = 0;
                for (int i = 0; i < d; i++) {
                    double c = row[i] - mu;
                    var += c * c;
                }
                var /= d;
                double inv = 1.0 / Math.sqrt(var + eps);
                for (int i = 0; i < d; i++) {
                    double v = (row[i] - mu) * inv;
                    if (w != null) {
                        v *= w[i];
                    }
                    if (b != null) {
                        v += b[i];
                    }
                    row[i] = v;
                }
                ys.store(r * d, 1, row, d);
                ms.setDouble(r, mu);
                rs.setDouble(r, inv);
            }
        });
        return new Tensor[] {y, mean, rstd};
    }

    static Tensor[] layerNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        return normBackward(gradY, x, weight, mean, rstd, true);
    }

    static Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor xc = x.contiguous();
        int d = x.size(-1);
        int n = rows(x);
        Tensor y = CpuBackend.INSTANCE.newOutput(x.dtype(), x.shape());
        Tensor rstd = CpuBackend.INSTANCE.newTensor(x.dtype(), withoutLast(x.shape()));
        double[] w = weight == null ? null : weight.toDoubleArray();
        CpuStorage xs = ElementwiseKernels.storage(xc);
        CpuStorage ys = ElementwiseKernels.storage(y);
        CpuStorage rs = ElementwiseKernels.storage(rstd);
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(d, 1)), (r0, r1) -> {
            double[] row = new double[d];
            for (int r = r0; r < r1; r++) {
                xs.load(xc.offset() + r * d, 1, row, d);
                double ms = 0;
                for (int i = 0; i < d; i++) {
                    ms += row[i] * row[i];
                }
                double inv = 1.0 / Math.sqrt(ms / d + eps);
                for (int i = 0; i < d; i++) {
                    row[i] = row[i] * inv * (w == null ? 1.0 : w[i]);
                }
                ys.store(r * d, 1, row, d);
                rs.setDouble(r, inv);
            }
        });
        return new Tensor[] {y, rstd};
    }

    static Tensor[] rmsNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor rstd) {
        Tensor[] r = normBackward(gradY, x, weight, null, rstd, false);
        return new Tensor[] {r[0], r[1]};
    }

    /**
     * With xhat = (x - mean) rstd (layer norm) or x rstd (RMS norm) and g = dy * w:
     * dx = rstd (g - mean(g) - xhat mean(g xhat)) for layer norm, rstd (g - xhat mean(g xhat)) for RMS norm;
     * dw = sum over rows of dy xhat; db = sum over rows of dy.
     */
    private static Tensor[] normBackward(Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
            boolean centered) {
        Tensor xc = x.contiguous();
        Tensor gc = gradY.contiguous();
        int d = x.size(-1);
        int n = rows(x);
        Tensor dx = CpuBackend.INSTANCE.newOutput(x.dtype(), x.shape());
        if (x.dtype() == DType.FLOAT32) {
            return normBackwardFloat(gc, xc, weight, mean, rstd, centered, dx, n, d);
        }
        double[] w = weight == null ? null : weight.toDoubleArray();
        double[] mu = mean == null ? null : mean.toDoubleArray();
        double[] inv = rstd.toDoubleArray();
        CpuStorage xs = ElementwiseKernels.storage(xc);
        CpuStorage gs = ElementwiseKernels.storage(gc);
        CpuStorage ds = ElementwiseKernels.storage(dx);
        ConcurrentSkipListMap<Integer, double[][]> parts = new ConcurrentSkipListMap<>();
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(d, 1)), (r0, r1) -> {
            double[] xr = new double[d];
            double[] gr = new double[d];
            double[] dw = new double[d];
            double[] db = new double[d];
            for (int r = r0; r < r1; r++) {
                xs.load(xc.offset() + r * d, 1, xr, d);
                gs.load(gc.offset() + r * d, 1, gr, d);
                double m = centered ? mu[r] : 0.0;
                double s = inv[r];
                double sumG = 0;
                double sumGX = 0;
                for (int i = 0; i < d; i++) {
                    double xhat = (xr[i] - m) * s;
                    double g = gr[i] * (w == null ? 1.0 : w[i]);
                    dw[i] += gr[i] * xhat;
                    db[i] += gr[i];
                    sumG += g;
                    sumGX += g * xhat;
                    xr[i] = xhat;
                    gr[i] = g;
                }
                double meanG = centered ? sumG / d : 0.0;
                double meanGX = sumGX / d;
                for (int i = 0; i < d; i++) {
                    gr[i] = s * (gr[i] - meanG - xr[i] * meanGX);
                }
                ds.store(r * d, 1, gr, d);
            }
            parts.put(r0, new double[][] {dw, db});
        });
        return withWeightGradients(dx, weight, parts, d);
    }

    /**
     * [dx, dweight, dbias], the last two summed over the threads' partial sums {dw, db} (null without a
     * weight). The parts are keyed by their chunk's first row and added in that order, not in the order the
     * threads finished, so the sums do not change from run to run.
     */
    private static Tensor[] withWeightGradients(Tensor dx, Tensor weight, ConcurrentSkipListMap<Integer, double[][]> parts,
            int d) {
        if (weight == null) {
            return new Tensor[] {dx, null, null};
        }
        double[] dw = new double[d];
        double[] db = new double[d];
        for (double[][] part : parts.values()) {
            for (int i = 0; i < d; i++) {
                dw[i] += part[0][i];
                db[i] += part[1][i];
            }
        }
        return new Tensor[] {dx, Tensor.of(dw, d).to(weight.dtype()), Tensor.of(db, d).to(weight.dtype())};
    }

    // ---- cross-entropy --------------------------------------------------------------------------

    static Tensor[] crossEntropy(Tensor logits, Tensor target, int ignoreIndex, double smoothing) {
        Tensor lc = logits.contiguous();
        int n = logits.size(0);
        int c = logits.size(1);
        Tensor loss = CpuBackend.INSTANCE.newTensor(logits.dtype(), n);
        Tensor lse = CpuBackend.INSTANCE.newTensor(logits.dtype(), n);
        CpuStorage ls = ElementwiseKernels.storage(lc);
        CpuStorage ts = ElementwiseKernels.storage(target);
        CpuStorage os = ElementwiseKernels.storage(loss);
        CpuStorage es = ElementwiseKernels.storage(lse);
        int tStride = target.dim() == 0 ? 0 : target.stride(0);
        boolean f32 = logits.dtype() == DType.FLOAT32;
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(c, 1)), (r0, r1) -> {
            double[] row = f32 ? null : new double[c];
            for (int r = r0; r < r1; r++) {
                long t = ts.getLong(target.offset() + r * tStride);
                if (f32) {
                    crossEntropyRowFloat(ls.floats(), lc.offset() + r * c, c, t, ignoreIndex, smoothing, os.floats(),
                            es.floats(), r);
                    continue;
                }
                ls.load(lc.offset() + r * c, 1, row, c);
                double m = Double.NEGATIVE_INFINITY;
                double sum = 0;
                for (int i = 0; i < c; i++) {
                    m = Math.max(m, row[i]);
                    sum += row[i];
                }
                double s = 0;
                for (int i = 0; i < c; i++) {
                    s += Math.exp(row[i] - m);
                }
                double logZ = m + Math.log(s);
                es.setDouble(r, logZ);
                if (t == ignoreIndex) {
                    os.setDouble(r, 0);
                    continue;
                }
                if (t < 0 || t >= c) {
                    throw new IndexOutOfBoundsException("crossEntropy: target " + t + " at row " + r
                            + " is out of range for " + c + " classes (ignore index " + ignoreIndex + ")");
                }
                double nll = logZ - row[(int) t];
                double uniform = logZ - sum / c;
                os.setDouble(r, (1 - smoothing) * nll + smoothing * uniform);
            }
        });
        return new Tensor[] {loss, lse};
    }

    static Tensor crossEntropyBackward(Tensor gradLoss, Tensor logits, Tensor target, Tensor lse, int ignoreIndex,
            double smoothing) {
        Tensor lc = logits.contiguous();
        int n = logits.size(0);
        int c = logits.size(1);
        Tensor grad = CpuBackend.INSTANCE.newTensor(logits.dtype(), n, c);
        double[] gl = gradLoss.toDoubleArray();
        double[] z = lse.toDoubleArray();
        long[] t = target.toLongArray();
        CpuStorage ls = ElementwiseKernels.storage(lc);
        CpuStorage gs = ElementwiseKernels.storage(grad);
        boolean f32 = logits.dtype() == DType.FLOAT32;
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(c, 1)), (r0, r1) -> {
            double[] row = f32 ? null : new double[c];
            for (int r = r0; r < r1; r++) {
                if (t[r] == ignoreIndex) {
                    continue;
                }
                if (t[r] < 0 || t[r] >= c) {
                    throw new IndexOutOfBoundsException("crossEntropyBackward: target " + t[r] + " at row " + r
                            + " is out of range for " + c + " classes (ignore index " + ignoreIndex + ")");
                }
                double g = gl[gradLoss.numel() == 1 ? 0 : r];
                double offTarget = smoothing / c;
                if (f32) {
                    crossEntropyGradientRowFloat(ls.floats(), lc.offset() + r * c, c, (int) t[r], (float) g,
                            (float) z[r], (float) offTarget, (float) (1 - smoothing), gs.floats(), r * c);
                    continue;
                }
                ls.load(lc.offset() + r * c, 1, row, c);
                for (int i = 0; i < c; i++) {
                    row[i] = g * (Math.exp(row[i] - z[r]) - offTarget - (i == t[r] ? 1 - smoothing : 0));
                }
                gs.store(r * c, 1, row, c);
            }
        });
        return grad;
    }

    // ---- float32 rows -----------------------------------------------------------------------------

    private static float sum(float[] a, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = acc.add(FloatVector.fromArray(F, a, off + i));
        }
        float s = FloatMath.sumLanes(acc);
        for (; i < n; i++) {
            s += a[off + i];
        }
        return s;
    }

    /** One row of layer norm: y = (x - mean) rstd w + b; mean and rstd go to ma[r] and ra[r]. */
    private static void layerNormRowFloat(float[] x, int xo, int d, float[] w, float[] b, float eps, float[] y, int yo,
            float[] ma, float[] ra, int r) {
        // The corrected two-pass algorithm: the first mean is off by float rounding of the sum; the deviations
        // from it sum to that error, which corrects the mean and the variance (a constant row gives exactly 0).
        float guess = sum(x, xo, d) / d;
        FloatVector vGuess = FloatVector.broadcast(F, guess);
        FloatVector squares = FloatVector.zero(F);
        FloatVector deviations = FloatVector.zero(F);
        int i = 0;
        int bound = F.loopBound(d);
        for (; i < bound; i += F.length()) {
            FloatVector c = FloatVector.fromArray(F, x, xo + i).sub(vGuess);
            squares = c.fma(c, squares);
            deviations = deviations.add(c);
        }
        float sumSquares = FloatMath.sumLanes(squares);
        float sumDeviations = FloatMath.sumLanes(deviations);
        for (; i < d; i++) {
            float c = x[xo + i] - guess;
            sumSquares += c * c;
            sumDeviations += c;
        }
        float mu = guess + sumDeviations / d;
        float var = Math.max(0f, sumSquares - sumDeviations * sumDeviations / d);
        FloatVector vmu = FloatVector.broadcast(F, mu);
        float inv = (float) (1.0 / Math.sqrt(var / d + eps));
        i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i).sub(vmu).mul(inv);
            if (w != null) {
                v = v.mul(FloatVector.fromArray(F, w, i));
            }
            if (b != null) {
                v = v.add(FloatVector.fromArray(F, b, i));
            }
            v.intoArray(y, yo + i);
        }
        for (; i < d; i++) {
            float v = (x[xo + i] - mu) * inv;
            if (w != null) {
                v *= w[i];
            }
            if (b != null) {
                v += b[i];
            }
            y[yo + i] = v;
        }
        ma[r] = mu;
        ra[r] = inv;
    }

    /** float32 {@link #normBackward}: the same formulas over vectors; dw and db summed per block of rows. */
    private static Tensor[] normBackwardFloat(Tensor gc, Tensor xc, Tensor weight, Tensor mean, Tensor rstd,
            boolean centered, Tensor dx, int n, int d) {
        float[] xa = ElementwiseKernels.floats(xc);
        float[] ga = ElementwiseKernels.floats(gc);
        float[] da = ElementwiseKernels.floats(dx);
        float[] w = weight == null ? null : weight.contiguous().toFloatArray();
        float[] mu = mean == null ? null : mean.contiguous().toFloatArray();
        float[] inv = rstd.contiguous().toFloatArray();
        int xo = xc.offset();
        int go = gc.offset();
        ConcurrentSkipListMap<Integer, double[][]> parts = new ConcurrentSkipListMap<>();
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(d, 1)), (r0, r1) -> {
            float[] h = new float[d];
            float[] dwBlock = new float[d];
            float[] dbBlock = new float[d];
            double[] dw = new double[d];
            double[] db = new double[d];
            int bound = F.loopBound(d);
            for (int r = r0; r < r1; r++) {
                int xr = xo + r * d;
                int gr = go + r * d;
                FloatVector m = FloatVector.broadcast(F, centered ? mu[r] : 0f);
                float s = inv[r];
                FloatVector sumG = FloatVector.zero(F);
                FloatVector sumGX = FloatVector.zero(F);
                int i = 0;
                for (; i < bound; i += F.length()) {
                    FloatVector xhat = FloatVector.fromArray(F, xa, xr + i).sub(m).mul(s);
                    FloatVector gy = FloatVector.fromArray(F, ga, gr + i);
                    FloatVector g = w == null ? gy : gy.mul(FloatVector.fromArray(F, w, i));
                    gy.fma(xhat, FloatVector.fromArray(F, dwBlock, i)).intoArray(dwBlock, i);
                    gy.add(FloatVector.fromArray(F, dbBlock, i)).intoArray(dbBlock, i);
                    sumG = sumG.add(g);
                    sumGX = g.fma(xhat, sumGX);
                    g.intoArray(h, i);
                }
                float totalG = FloatMath.sumLanes(sumG);
                float totalGX = FloatMath.sumLanes(sumGX);
                for (; i < d; i++) {
                    float xhat = (xa[xr + i] - (centered ? mu[r] : 0f)) * s;
                    float gy = ga[gr + i];
                    float g = w == null ? gy : gy * w[i];
                    dwBlock[i] += gy * xhat;
                    dbBlock[i] += gy;
                    totalG += g;
                    totalGX += g * xhat;
                    h[i] = g;
                }
                float meanG = centered ? totalG / d : 0f;
                float meanGX = totalGX / d;
                FloatVector vMeanG = FloatVector.broadcast(F, meanG);
                i = 0;
                for (; i < bound; i += F.length()) {
                    FloatVector xhat = FloatVector.fromArray(F, xa, xr + i).sub(m).mul(s);
                    FloatVector.fromArray(F, h, i).sub(vMeanG).sub(xhat.mul(meanGX)).mul(s).intoArray(da, r * d + i);
                }
                for (; i < d; i++) {
                    float xhat = (xa[xr + i] - (centered ? mu[r] : 0f)) * s;
                    da[r * d + i] = s * (h[i] - meanG - xhat * meanGX);
                }
                if ((r - r0) % FLUSH_ROWS == FLUSH_ROWS - 1 || r == r1 - 1) {
                    for (int j = 0; j < d; j++) {
                        dw[j] += dwBlock[j];
                        db[j] += dbBlock[j];
                    }
                    java.util.Arrays.fill(dwBlock, 0f);
                    java.util.Arrays.fill(dbBlock, 0f);
                }
            }
            parts.put(r0, new double[][] {dw, db});
        });
        return withWeightGradients(dx, weight, parts, d);
    }

    /** One row of cross-entropy: the loss (0 for an ignored row) to loss[r], log-sum-exp to lse[r]. */
    private static void crossEntropyRowFloat(float[] z, int zo, int c, long t, int ignoreIndex, double smoothing,
            float[] loss, float[] lse, int r) {
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        int bound = F.loopBound(c);
        for (; i < bound; i += F.length()) {
            vmax = FloatVector.fromArray(F, z, zo + i).max(vmax); // receiver: see ReduceKernels.sumExpFloat
        }
        float m = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < c; i++) {
            m = Math.max(m, z[zo + i]);
        }
        FloatVector vm = FloatVector.broadcast(F, m);
        FloatVector acc = FloatVector.zero(F);
        i = 0;
        for (; i < bound; i += F.length()) {
            acc = FloatMath.exp(FloatVector.fromArray(F, z, zo + i).sub(vm)).add(acc);
        }
        double s = FloatMath.sumLanes(acc);
        for (; i < c; i++) {
            s += FloatMath.exp(z[zo + i] - m);
        }
        double logZ = m + Math.log(s);
        lse[r] = (float) logZ;
        if (t == ignoreIndex) {
            loss[r] = 0;
            return;
        }
        if (t < 0 || t >= c) {
            throw new IndexOutOfBoundsException("crossEntropy: target " + t + " at row " + r + " is out of range for "
                    + c + " classes (ignore index " + ignoreIndex + ")");
        }
        double nll = logZ - z[zo + (int) t];
        double uniform = smoothing == 0 ? 0 : logZ - sum(z, zo, c) / (double) c;
        loss[r] = (float) ((1 - smoothing) * nll + smoothing * uniform);
    }

    /** One row of d(loss)/d(logits): g (softmax - offTarget - onTarget at the target). */
    private static void crossEntropyGradientRowFloat(float[] z, int zo, int c, int t, float g, float lse,
            float offTarget, float onTarget, float[] out, int oo) {
        int i = 0;
        for (int bound = F.loopBound(c); i < bound; i += F.length()) {
            FloatMath.exp(FloatVector.fromArray(F, z, zo + i).sub(lse)).sub(offTarget).mul(g).intoArray(out, oo + i);
        }
        for (; i < c; i++) {
            out[oo + i] = g * (FloatMath.exp(z[zo + i] - lse) - offTarget);
        }
        out[oo + t] = g * (FloatMath.exp(z[zo + t] - lse) - offTarget - onTarget);
    }
}
