package dev.ladon.tensor.cpu;

import dev.ladon.tensor.Tensor;

/**
 * Fused layer norm, RMS norm and cross-entropy, forward and backward, over the last dim. Rows are
 * independent and split across threads; per-row statistics are accumulated in double, so float32 inputs
 * lose nothing to cancellation in the variance.
 */
final class NormKernels {
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
        Tensor y = CpuBackend.INSTANCE.newTensor(x.dtype(), x.shape());
        Tensor mean = CpuBackend.INSTANCE.newTensor(x.dtype(), withoutLast(x.shape()));
        Tensor rstd = CpuBackend.INSTANCE.newTensor(x.dtype(), withoutLast(x.shape()));
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
        Tensor y = CpuBackend.INSTANCE.newTensor(x.dtype(), x.shape());
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
        Tensor dx = CpuBackend.INSTANCE.newTensor(x.dtype(), x.shape());
        double[] w = weight == null ? null : weight.toDoubleArray();
        double[] mu = mean == null ? null : mean.toDoubleArray();
        double[] inv = rstd.toDoubleArray();
        CpuStorage xs = ElementwiseKernels.storage(xc);
        CpuStorage gs = ElementwiseKernels.storage(gc);
        CpuStorage ds = ElementwiseKernels.storage(dx);
        int threads = Parallel.numThreads();
        double[][] dwParts = new double[threads][];
        double[][] dbParts = new double[threads][];
        java.util.concurrent.atomic.AtomicInteger slot = new java.util.concurrent.atomic.AtomicInteger();
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
            int k = slot.getAndIncrement();
            dwParts[k] = dw;
            dbParts[k] = db;
        });
        if (weight == null) {
            return new Tensor[] {dx, null, null};
        }
        double[] dw = new double[d];
        double[] db = new double[d];
        for (int k = 0; k < threads; k++) {
            if (dwParts[k] != null) {
                for (int i = 0; i < d; i++) {
                    dw[i] += dwParts[k][i];
                    db[i] += dbParts[k][i];
                }
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
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(c, 1)), (r0, r1) -> {
            double[] row = new double[c];
            for (int r = r0; r < r1; r++) {
                long t = ts.getLong(target.offset() + r * tStride);
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
        Parallel.forRange(n, Math.max(1, 4096 / Math.max(c, 1)), (r0, r1) -> {
            double[] row = new double[c];
            for (int r = r0; r < r1; r++) {
                if (t[r] == ignoreIndex) {
                    continue;
                }
                if (t[r] < 0 || t[r] >= c) {
                    throw new IndexOutOfBoundsException("crossEntropyBackward: target " + t[r] + " at row " + r
                            + " is out of range for " + c + " classes (ignore index " + ignoreIndex + ")");
                }
                ls.load(lc.offset() + r * c, 1, row, c);
                double g = gl[gradLoss.numel() == 1 ? 0 : r];
                double offTarget = smoothing / c;
                for (int i = 0; i < c; i++) {
                    row[i] = g * (Math.exp(row[i] - z[r]) - offTarget - (i == t[r] ? 1 - smoothing : 0));
                }
                gs.store(r * c, 1, row, c);
            }
        });
        return grad;
    }
}
