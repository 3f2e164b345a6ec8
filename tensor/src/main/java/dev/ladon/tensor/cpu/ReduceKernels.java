package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.ReduceOp;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions, softmax and cumulative sums. Every reduction is brought into one of two layouts: reduced
 * dims last ("rows": each output element reduces one contiguous run) or reduced dims first on a
 * contiguous tensor with SUM/MEAN ("columns": bias gradients, accumulated row by row with vectors).
 * Any other layout is permuted and copied into the row layout first.
 */
final class ReduceKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /**
     * Float32 sums accumulate in float for at most this many elements per lane, then add into a double: a
     * float running sum loses every addend below half its ulp (2^20 copies of 1 + 2^-10 summed in float are
     * off by 5e-4), while blocks keep the error at a few roundings whatever the length.
     */
    private static final int SUM_BLOCK = 256;

    private ReduceKernels() {
    }

    static Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepDim) {
        int[] shape = x.shape();
        boolean[] reduced = new boolean[shape.length];
        for (int d : dims) {
            reduced[d] = true;
        }
        int[] keptShape = shape.clone();
        int reduceCount = 1;
        for (int d : dims) {
            reduceCount *= shape[d];
            keptShape[d] = 1;
        }
        int[] outShape = keepDim ? keptShape : removeDims(shape, reduced);
        DType outType = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN ? DType.INT64 : x.dtype();
        Tensor out = CpuBackend.INSTANCE.newTensor(outType, outShape);
        int rows = out.numel();
        if (rows == 0) {
            return out;
        }
        if (dims.length == 0) {
            // Reducing over no dims keeps every element (argmax of a 0-dim tensor is 0).
            if (outType == DType.INT64) {
                return out;
            }
            ElementwiseKernels.copy(out.view(x.shape()), x);
            return out;
        }
        boolean leading = isLeading(reduced, dims.length);
        // With few columns (a full reduction has one) the row path's vector lanes are the faster way.
        if (leading && x.isContiguous() && (op == ReduceOp.SUM || op == ReduceOp.MEAN) && x.dtype() == DType.FLOAT32
                && rows >= F.length()) {
            columnSum(x, out, reduceCount, rows, op == ReduceOp.MEAN);
            return out;
        }
        // Move reduced dims last and make rows contiguous.
        int[] order = new int[shape.length];
        int j = 0;
        for (int d = 0; d < shape.length; d++) {
            if (!reduced[d]) {
                order[j++] = d;
            }
        }
        for (int d = 0; d < shape.length; d++) {
            if (reduced[d]) {
                order[j++] = d;
            }
        }
        Tensor rowsView = x.permute(order).contiguous();
        reduceRows(op, rowsView, out, rows, reduceCount);
        return out;
    }

    private static boolean isLeading(boolean[] reduced, int count) {
        for (int d = 0; d < count; d++) {
            if (!reduced[d]) {
                return false;
            }
        }
        return true;
    }

    static int[] removeDims(int[] shape, boolean[] drop) {
        int n = 0;
        for (boolean b : drop) {
            if (!b) {
                n++;
            }
        }
        int[] r = new int[n];
        for (int d = 0, j = 0; d < shape.length; d++) {
            if (!drop[d]) {
                r[j++] = shape[d];
            }
        }
        return r;
    }

    /** out[j] = sum_i x[i, j] for contiguous x viewed as [reduceCount, cols]. */
    private static void columnSum(Tensor x, Tensor out, int reduceCount, int cols, boolean mean) {
        float[] xs = ElementwiseKernels.floats(x);
        float[] os = ElementwiseKernels.floats(out);
        int base = x.offset();
        float scale = mean ? 1f / reduceCount : 1f;
        // Split columns across threads; each thread sums its columns over all rows, in double-free float
        // vectors (one rounding per add, like a pairwise-free BLAS axpy sweep).
        Parallel.forRange(cols, 256, (c0, c1) -> {
            int width = c1 - c0;
            float[] acc = new float[width];
            double[] total = new double[width];
            for (int i = 0; i < reduceCount; i++) {
                int row = base + i * cols + c0;
                int c = 0;
                for (int bound = F.loopBound(width); c < bound; c += F.length()) {
                    FloatVector.fromArray(F, acc, c).add(FloatVector.fromArray(F, xs, row + c)).intoArray(acc, c);
                }
                for (; c < width; c++) {
                    acc[c] += xs[row + c];
                }
                if ((i + 1) % SUM_BLOCK == 0 || i == reduceCount - 1) {
                    for (c = 0; c < width; c++) {
                        total[c] += acc[c];
                        acc[c] = 0;
                    }
                }
            }
            for (int c = 0; c < width; c++) {
                os[out.offset() + c0 + c] = (float) (total[c] * scale);
            }
        });
    }

    /** Each of {@code rows} output elements reduces a contiguous run of {@code n} elements of x. */
    private static void reduceRows(ReduceOp op, Tensor x, Tensor out, int rows, int n) {
        CpuStorage xs = ElementwiseKernels.storage(x);
        CpuStorage os = ElementwiseKernels.storage(out);
        int xo = x.offset();
        boolean f32 = x.dtype() == DType.FLOAT32;
        Parallel.forRange(rows, Math.max(1, 4096 / Math.max(n, 1)), (r0, r1) -> {
            double[] buf = f32 ? null : new double[n];
            for (int r = r0; r < r1; r++) {
                double v;
                if (f32) {
                    v = reduceFloatRow(op, xs.floats(), xo + r * n, n);
                } else {
                    xs.load(xo + r * n, 1, buf, n);
                    v = reduceDoubleRow(op, buf, n);
                }
                if (out.dtype() == DType.INT64) {
                    os.longs()[out.offset() + r] = (long) v;
                } else {
                    os.setDouble(out.offset() + r, v);
                }
            }
        });
    }

    static double reduceDoubleRow(ReduceOp op, double[] v, int n) {
        switch (op) {
            case SUM, MEAN -> {
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += v[i];
                }
                return op == ReduceOp.MEAN ? s / n : s;
            }
            case MAX, MIN -> {
                double m = v[0];
                for (int i = 1; i < n; i++) {
                    double e = v[i];
                    if (Double.isNaN(e)) {
                        return e;
                    }
                    m = op == ReduceOp.MAX ? Math.max(m, e) : Math.min(m, e);
                }
                return m;
            }
            case ARGMAX, ARGMIN -> {
                int best = 0;
                for (int i = 1; i < n; i++) {
                    if (Double.isNaN(v[best])) {
                        break;
                    }
                    boolean better = op == ReduceOp.ARGMAX ? v[i] > v[best] : v[i] < v[best];
                    if (better || Double.isNaN(v[i])) {
                        best = i;
                    }
                }
                return best;
            }
            case LOGSUMEXP -> {
                if (n == 0) {
                    return Double.NEGATIVE_INFINITY;
                }
                double m = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    m = Math.max(m, v[i]);
                }
                if (Double.isInfinite(m)) {
                    return m;
                }
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += Math.exp(v[i] - m);
                }
                return m + Math.log(s);
            }
            default -> throw new IllegalStateException("unknown reduction " + op);
        }
    }

    /** Float rows: vector accumulators for the common reductions, the double path for the rest. */
    static double reduceFloatRow(ReduceOp op, float[] a, int off, int n) {
        switch (op) {
            case SUM, MEAN -> {
                double s = 0;
                int i = 0;
                int bound = F.loopBound(n);
                while (i < bound) {
                    int blockEnd = Math.min(bound, i + SUM_BLOCK * F.length());
                    FloatVector acc = FloatVector.zero(F);
                    for (; i < blockEnd; i += F.length()) {
                        acc = acc.add(FloatVector.fromArray(F, a, off + i));
                    }
                    s += acc.reduceLanes(VectorOperators.ADD);
                }
                for (; i < n; i++) {
                    s += a[off + i];
                }
                return op == ReduceOp.MEAN ? s / n : s;
            }
            case LOGSUMEXP -> {
                double m = maxFloat(a, off, n);
                if (n == 0) {
                    return Double.NEGATIVE_INFINITY;
                }
                if (Double.isInfinite(m) || Double.isNaN(m)) {
                    return m;
                }
                return m + Math.log(sumExpFloat(a, off, n, (float) m));
            }
            default -> {
                double[] buf = new double[n];
                for (int i = 0; i < n; i++) {
                    buf[i] = a[off + i];
                }
                return reduceDoubleRow(op, buf, n);
            }
        }
    }

    static double maxFloat(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float e = a[off + i];
            if (e != e) {
                return Double.NaN;
            }
            m = Math.max(m, e);
        }
        return m;
    }

    /** sum_i exp(a[i] - m) with vector exp. */
    static double sumExpFloat(float[] a, int off, int n, float m) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = acc.add(FloatVector.fromArray(F, a, off + i).sub(m).lanewise(VectorOperators.EXP));
        }
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += Math.exp(a[off + i] - m);
        }
        return s;
    }

    // ---- softmax --------------------------------------------------------------------------------

    static Tensor softmax(Tensor x, int dim, boolean log) {
        int last = x.dim() - 1;
        if (x.dim() == 0) {
            return log ? CpuBackend.INSTANCE.newTensor(x.dtype(), x.shape())
                    : CpuBackend.INSTANCE.newTensor(x.dtype(), x.shape()).add(1.0);
        }
        Tensor rows = dim == last ? x.contiguous() : x.transpose(dim, last).contiguous();
        int n = rows.size(-1);
        int count = rows.numel() / Math.max(n, 1);
        Tensor out = CpuBackend.INSTANCE.newTensor(x.dtype(), rows.shape());
        CpuStorage rs = ElementwiseKernels.storage(rows);
        CpuStorage os = ElementwiseKernels.storage(out);
        int ro = rows.offset();
        boolean f32 = x.dtype() == DType.FLOAT32;
        Parallel.forRange(count, Math.max(1, 2048 / Math.max(n, 1)), (r0, r1) -> {
            double[] buf = new double[n];
            for (int r = r0; r < r1; r++) {
                if (f32) {
                    softmaxFloatRow(rs.floats(), ro + r * n, os.floats(), r * n, n, log);
                    continue;
                }
                rs.load(ro + r * n, 1, buf, n);
                double m = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    m = Math.max(m, buf[i]);
                }
                double s = 0;
                for (int i = 0; i < n; i++) {
                    s += Math.exp(buf[i] - m);
                }
                double lse = m + Math.log(s);
                for (int i = 0; i < n; i++) {
                    buf[i] = log ? buf[i] - lse : Math.exp(buf[i] - lse);
                }
                os.store(r * n, 1, buf, n);
            }
        });
        return dim == last ? out : out.transpose(dim, last).contiguous();
    }

    private static void softmaxFloatRow(float[] a, int ao, float[] o, int oo, int n, boolean log) {
        float m = (float) maxFloat(a, ao, n);
        float lse = (float) (m + Math.log(sumExpFloat(a, ao, n, m)));
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, a, ao + i).sub(lse);
            (log ? v : v.lanewise(VectorOperators.EXP)).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            float v = a[ao + i] - lse;
            o[oo + i] = log ? v : (float) Math.exp(v);
        }
    }

    /** softmax: dx = y (dy - sum(dy y)); log-softmax: dx = dy - exp(y) sum(dy). */
    static Tensor softmaxBackward(Tensor y, Tensor gy, int dim, boolean log) {
        int last = y.dim() - 1;
        if (y.dim() == 0) {
            return CpuBackend.INSTANCE.newTensor(y.dtype(), y.shape());
        }
        Tensor yr = dim == last ? y.contiguous() : y.transpose(dim, last).contiguous();
        Tensor gr = dim == last ? gy.contiguous() : gy.transpose(dim, last).contiguous();
        int n = yr.size(-1);
        int count = yr.numel() / Math.max(n, 1);
        Tensor out = CpuBackend.INSTANCE.newTensor(y.dtype(), yr.shape());
        CpuStorage ys = ElementwiseKernels.storage(yr);
        CpuStorage gs = ElementwiseKernels.storage(gr);
        CpuStorage os = ElementwiseKernels.storage(out);
        Parallel.forRange(count, Math.max(1, 2048 / Math.max(n, 1)), (r0, r1) -> {
            double[] yb = new double[n];
            double[] gb = new double[n];
            for (int r = r0; r < r1; r++) {
                ys.load(yr.offset() + r * n, 1, yb, n);
                gs.load(gr.offset() + r * n, 1, gb, n);
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += log ? gb[i] : gb[i] * yb[i];
                }
                for (int i = 0; i < n; i++) {
                    gb[i] = log ? gb[i] - Math.exp(yb[i]) * dot : yb[i] * (gb[i] - dot);
                }
                os.store(r * n, 1, gb, n);
            }
        });
        return dim == last ? out : out.transpose(dim, last).contiguous();
    }

    // ---- cumsum ---------------------------------------------------------------------------------

    static Tensor cumsum(Tensor x, int dim) {
        if (x.dim() == 0) {
            return x.copy();
        }
        int last = x.dim() - 1;
        Tensor rows = dim == last ? x.contiguous() : x.transpose(dim, last).contiguous();
        int n = rows.size(-1);
        int count = rows.numel() / Math.max(n, 1);
        Tensor out = CpuBackend.INSTANCE.newTensor(x.dtype(), rows.shape());
        CpuStorage rs = ElementwiseKernels.storage(rows);
        CpuStorage os = ElementwiseKernels.storage(out);
        boolean integral = x.dtype().isIntegral();
        Parallel.forRange(count, Math.max(1, 4096 / Math.max(n, 1)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int base = rows.offset() + r * n;
                if (integral) {
                    long s = 0;
                    for (int i = 0; i < n; i++) {
                        s += rs.getLong(base + i);
                        os.longs()[r * n + i] = s;
                    }
                } else {
                    double s = 0;
                    for (int i = 0; i < n; i++) {
                        s += rs.getDouble(base + i);
                        os.setDouble(r * n + i, s);
                    }
                }
            }
        });
        return dim == last ? out : out.transpose(dim, last).contiguous();
    }

    static int[] shapeWith(int[] shape, int dim, int size) {
        int[] s = Arrays.copyOf(shape, shape.length);
        s[dim] = size;
        return s;
    }
}
