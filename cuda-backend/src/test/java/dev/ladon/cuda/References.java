package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/**
 * Plain loops in double for the fused ops the CPU backend does not implement yet (attention, grouped
 * matmul): the definitions of Backend.attention and Backend.groupedMatmul written out one element at a
 * time, so the GPU kernels are checked against the specification rather than against each other.
 */
final class References {
    private References() {
    }

    /** Element [i0, i1, i2, i3] of a 4-D tensor of any strides, via flat contiguous copies. */
    private record View4(double[] data, int[] shape) {
        static View4 of(Tensor t) {
            return new View4(t.contiguous().toDoubleArray(), t.shape());
        }

        double at(int a, int b, int c, int d) {
            return data[((a * shape[1] + b) * shape[2] + c) * shape[3] + d];
        }
    }

    private static double rel(double[] rel, int tk, int dd, int h, int r, int d) {
        return rel[(h * tk + r) * dd + d];
    }

    /** The score matrix and probabilities of one (b, h): p[i][j] (0 where masked), lse[i]. */
    private static double[][] probabilities(View4 q, View4 k, double[] rel, double scale, boolean causal, int b, int h,
            double[] lseOut) {
        int tq = q.shape()[2];
        int tk = k.shape()[2];
        int dd = q.shape()[3];
        double[][] p = new double[tq][tk];
        for (int i = 0; i < tq; i++) {
            double m = Double.NEGATIVE_INFINITY;
            double[] s = new double[tk];
            for (int j = 0; j < tk; j++) {
                if (causal && j > i + tk - tq) {
                    s[j] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double dot = 0;
                for (int d = 0; d < dd; d++) {
                    double kv = k.at(b, h, j, d) + (rel == null ? 0 : rel(rel, tk, dd, h, j - i + tq - 1, d));
                    dot += q.at(b, h, i, d) * kv;
                }
                s[j] = scale * dot;
                m = Math.max(m, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < tk; j++) {
                sum += s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m);
            }
            for (int j = 0; j < tk; j++) {
                p[i][j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m) / sum;
            }
            lseOut[i] = sum == 0 ? Double.NEGATIVE_INFINITY : m + Math.log(sum);
        }
        return p;
    }

    /** [out, logSumExp] as Backend.attention defines them. */
    static Tensor[] attention(Tensor qt, Tensor kt, Tensor vt, Tensor relt, double scale, boolean causal) {
        View4 q = View4.of(qt);
        View4 k = View4.of(kt);
        View4 v = View4.of(vt);
        double[] rel = relt == null ? null : relt.contiguous().toDoubleArray();
        int bb = q.shape()[0], hh = q.shape()[1], tq = q.shape()[2], tk = k.shape()[2], dv = v.shape()[3];
        double[] out = new double[bb * hh * tq * dv];
        double[] lse = new double[bb * hh * tq];
        for (int b = 0; b < bb; b++) {
            for (int h = 0; h < hh; h++) {
                double[] l = new double[tq];
                double[][] p = probabilities(q, k, rel, scale, causal, b, h, l);
                for (int i = 0; i < tq; i++) {
                    lse[(b * hh + h) * tq + i] = l[i];
                    for (int d = 0; d < dv; d++) {
                        double o = 0;
                        for (int j = 0; j < tk; j++) {
                            o += p[i][j] * v.at(b, h, j, d);
                        }
                        out[((b * hh + h) * tq + i) * dv + d] = o;
                    }
                }
            }
        }
        DType t = qt.dtype();
        return new Tensor[] {Tensor.of(out, bb, hh, tq, dv).to(t), Tensor.of(lse, bb, hh, tq).to(t)};
    }

    /** [dq, dk, dv, drel] as Backend.attentionBackward defines them (drel null without rel). */
    static Tensor[] attentionBackward(Tensor gradOut, Tensor qt, Tensor kt, Tensor vt, Tensor relt, double scale,
            boolean causal) {
        View4 q = View4.of(qt);
        View4 k = View4.of(kt);
        View4 v = View4.of(vt);
        View4 g = View4.of(gradOut);
        double[] rel = relt == null ? null : relt.contiguous().toDoubleArray();
        int bb = q.shape()[0], hh = q.shape()[1], tq = q.shape()[2], tk = k.shape()[2], dd = q.shape()[3];
        int dv = v.shape()[3];
        double[] dq = new double[bb * hh * tq * dd];
        double[] dk = new double[bb * hh * tk * dd];
        double[] dvv = new double[bb * hh * tk * dv];
        double[] drel = new double[hh * tk * dd];
        for (int b = 0; b < bb; b++) {
            for (int h = 0; h < hh; h++) {
                double[][] p = probabilities(q, k, rel, scale, causal, b, h, new double[tq]);
                for (int i = 0; i < tq; i++) {
                    double[] dp = new double[tk];
                    double delta = 0;
                    for (int j = 0; j < tk; j++) {
                        for (int d = 0; d < dv; d++) {
                            dp[j] += g.at(b, h, i, d) * v.at(b, h, j, d);
                        }
                        delta += p[i][j] * dp[j];
                    }
                    for (int j = 0; j < tk; j++) {
                        double ds = p[i][j] * (dp[j] - delta);
                        for (int d = 0; d < dv; d++) {
                            dvv[((b * hh + h) * tk + j) * dv + d] += p[i][j] * g.at(b, h, i, d);
                        }
                        if (p[i][j] == 0) {
                            continue;
                        }
                        for (int d = 0; d < dd; d++) {
                            double relv = rel == null ? 0 : rel(rel, tk, dd, h, j - i + tq - 1, d);
                            dq[((b * hh + h) * tq + i) * dd + d] += scale * ds * (k.at(b, h, j, d) + relv);
                            dk[((b * hh + h) * tk + j) * dd + d] += scale * ds * q.at(b, h, i, d);
                            if (rel != null) {
                                drel[(h * tk + (j - i + tq - 1)) * dd + d] += scale * ds * q.at(b, h, i, d);
                            }
                        }
                    }
                }
            }
        }
        DType t = qt.dtype();
        return new Tensor[] {Tensor.of(dq, bb, hh, tq, dd).to(t), Tensor.of(dk, bb, hh, tk, dd).to(t),
                Tensor.of(dvv, bb, hh, tk, dv).to(t), relt == null ? null : Tensor.of(drel, hh, tk, dd).to(t)};
    }

    /** out[p] = gate[p] (x[row[p]] @ weight[expert[p]]). */
    static Tensor groupedMatmul(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        double[] xs = x.contiguous().toDoubleArray();
        double[] w = weight.contiguous().toDoubleArray();
        long[] r = row.toLongArray();
        long[] e = expert.toLongArray();
        double[] gt = gate == null ? null : gate.toDoubleArray();
        int din = x.size(1), dout = weight.size(2), pairs = r.length;
        double[] out = new double[pairs * dout];
        for (int p = 0; p < pairs; p++) {
            for (int n = 0; n < dout; n++) {
                double s = 0;
                for (int k = 0; k < din; k++) {
                    s += xs[(int) r[p] * din + k] * w[((int) e[p] * din + k) * dout + n];
                }
                out[p * dout + n] = (gt == null ? 1 : gt[p]) * s;
            }
        }
        return Tensor.of(out, pairs, dout).to(x.dtype());
    }

    /** [dx, dweight, dgate]. */
    static Tensor[] groupedMatmulBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert,
            Tensor gate) {
        double[] xs = x.contiguous().toDoubleArray();
        double[] w = weight.contiguous().toDoubleArray();
        double[] g = gradOut.contiguous().toDoubleArray();
        long[] r = row.toLongArray();
        long[] e = expert.toLongArray();
        double[] gt = gate == null ? null : gate.toDoubleArray();
        int n = x.size(0), din = x.size(1), dout = weight.size(2), experts = weight.size(0), pairs = r.length;
        double[] dx = new double[n * din];
        double[] dw = new double[experts * din * dout];
        double[] dgate = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            double gp = gt == null ? 1 : gt[p];
            int row0 = (int) r[p] * din;
            int w0 = (int) e[p] * din * dout;
            for (int k = 0; k < din; k++) {
                for (int c = 0; c < dout; c++) {
                    double go = g[p * dout + c];
                    dx[row0 + k] += gp * go * w[w0 + k * dout + c];
                    dw[w0 + k * dout + c] += gp * xs[row0 + k] * go;
                }
            }
            for (int c = 0; c < dout; c++) {
                double y = 0;
                for (int k = 0; k < din; k++) {
                    y += xs[row0 + k] * w[w0 + k * dout + c];
                }
                dgate[p] += g[p * dout + c] * y;
            }
        }
        DType t = x.dtype();
        return new Tensor[] {Tensor.of(dx, n, din).to(t), Tensor.of(dw, experts, din, dout).to(t),
                gate == null ? null : Tensor.of(dgate, pairs).to(t)};
    }
}
