package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.ReduceOp;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions, softmax and cumulative sums. Every reduction is brought into one of two layouts: reduced
 * dims last ("rows": each output element reduces one contiguous run) or reduced dims first on a
 * contiguous tensor with SUM/MEAN ("columns": bias gradients, accumulated row by row with vectors).
 * Any other layout is permuted and copied into the row layout first.
 */
final class ReduceKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    /** Ints of the same width as {@link #F}, for comparing floats as integers ({@link #extremeFloat}). */
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final int KEY_POSITIVE_INFINITY = orderKey(Float.floatToRawIntBits(Float.POSITIVE_INFINITY));
    private static final int KEY_NEGATIVE_INFINITY = orderKey(Float.floatToRawIntBits(Float.NEGATIVE_INFINITY));
    /**
     * Float32 sums accumulate in float for at most this many elements per lane, then add into a double: a
     * float running sum loses every addend below half its ulp (2^20 copies of 1 + 2^-10 summed in float are
     * off by 5e-4), while blocks keep the error at a few roundings whatever the length.
     */
    private static final int SUM_BLOCK = 256;

    /**
     * The same for {@link #sumFloat}, the sums of whole rows and tensors users read most: with blocks of 256 per
     * lane, 4096 copies of 0.1 had a mean 17 ulp off and most of the ones after a 1e8 were lost; with four
     * accumulators of four vectors per block the mean is within an ulp or two.
     */
    private static final int ROW_SUM_BLOCK = 16;
    /**
     * Float32 rows longer than this are reduced in chunks of this length, shared out between threads (a
     * full reduction is one long row); the chunk results are combined in chunk order, so the result does
     * not depend on the thread count.
     */
    private static final int CHUNK = 1 << 16;

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
            if (op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN) {
                return out;
            }
            ElementwiseKernels.copy(out.view(x.shape()), x);
            return out;
        }
        boolean leading = isLeading(reduced, dims.length);
        boolean floatSum = (op == ReduceOp.SUM || op == ReduceOp.MEAN) && x.dtype() == DType.FLOAT32 && x.isContiguous();
        // With few columns (a full reduction has one) the row path's vector lanes are the faster way.
        if (leading && floatSum && rows >= F.length()) {
            columnSum(x, out, reduceCount, rows, op == ReduceOp.MEAN);
            return out;
        }
        // One run of reduced dims between kept ones, with at least a vector of kept elements inside it (the
        // sum over the experts of a [B, T, experts, d] tensor): x is [outer, reduceCount, inner], and each
        // outer slice is a column sum. The row path would first copy the reduced dims last, into rows of a
        // few elements each.
        int inner = innerSize(shape, reduced);
        if (floatSum && inner >= F.length() && isOneRun(reduced)) {
            middleSum(x, out, rows / inner, reduceCount, inner, op == ReduceOp.MEAN);
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

    /** Elements of the kept dims after the last reduced one. */
    private static int innerSize(int[] shape, boolean[] reduced) {
        int inner = 1;
        for (int d = shape.length - 1; d >= 0 && !reduced[d]; d--) {
            inner *= shape[d];
        }
        return inner;
    }

    /** Whether the reduced dims are consecutive. */
    private static boolean isOneRun(boolean[] reduced) {
        int first = -1;
        int last = -1;
        for (int d = 0; d < reduced.length; d++) {
            if (reduced[d]) {
                first = first < 0 ? d : first;
                last = d;
            }
        }
        for (int d = first; d <= last; d++) {
            if (!reduced[d]) {
                return false;
            }
        }
        return first >= 0;
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
        float scale = mean ? 1f / reduceCount : 1f;
        // Split columns across threads; each sums its columns over all rows.
        Parallel.forRange(cols, 256, (c0, c1) -> sumColumns(xs, x.offset(), reduceCount, cols, c0, c1, os,
                out.offset(), scale, new float[c1 - c0], new double[c1 - c0]));
    }

    /** out[o, j] = sum_i x[o, i, j] for contiguous x viewed as [outer, reduceCount, inner]. */
    private static void middleSum(Tensor x, Tensor out, int outer, int reduceCount, int inner, boolean mean) {
        float[] xs = ElementwiseKernels.floats(x);
        float[] os = ElementwiseKernels.floats(out);
        float scale = mean ? 1f / reduceCount : 1f;
        int slice = reduceCount * inner;
        Parallel.forRange(outer, Math.max(1, (1 << 14) / slice), (o0, o1) -> {
            float[] acc = new float[inner];
            double[] total = new double[inner];
            for (int o = o0; o < o1; o++) {
                sumColumns(xs, x.offset() + o * slice, reduceCount, inner, 0, inner, os, out.offset() + o * inner, scale,
                        acc, total);
            }
        });
    }

    /**
     * Columns [c0, c1) of the [reduceCount, cols] block at xs[base]: summed into float vectors, four rows per
     * pass over the accumulators (a quarter of the accumulator loads and stores), the float sums moved into
     * double every SUM_BLOCK rows; os[outBase + c] gets column c's sum times scale. acc and total are
     * zero-filled scratch of at least c1 - c0 elements, and are zero again on return.
     */
    private static void sumColumns(float[] xs, int base, int reduceCount, int cols, int c0, int c1, float[] os,
            int outBase, float scale, float[] acc, double[] total) {
        int width = c1 - c0;
        int bound = F.loopBound(width);
        int vl = F.length();
        for (int i0 = 0; i0 < reduceCount; i0 += SUM_BLOCK) {
            int i1 = Math.min(reduceCount, i0 + SUM_BLOCK);
            int i = i0;
            for (; i + 4 <= i1; i += 4) {
                int r0 = base + i * cols + c0;
                int r1 = r0 + cols;
                int r2 = r1 + cols;
                int r3 = r2 + cols;
                int c = 0;
                for (; c < bound; c += vl) {
                    FloatVector pair01 = FloatVector.fromArray(F, xs, r0 + c).add(FloatVector.fromArray(F, xs, r1 + c));
                    FloatVector pair23 = FloatVector.fromArray(F, xs, r2 + c).add(FloatVector.fromArray(F, xs, r3 + c));
                    FloatVector.fromArray(F, acc, c).add(pair01.add(pair23)).intoArray(acc, c);
                }
                for (; c < width; c++) {
                    acc[c] += (xs[r0 + c] + xs[r1 + c]) + (xs[r2 + c] + xs[r3 + c]);
                }
            }
            for (; i < i1; i++) {
                int row = base + i * cols + c0;
                int c = 0;
                for (; c < bound; c += vl) {
                    FloatVector.fromArray(F, acc, c).add(FloatVector.fromArray(F, xs, row + c)).intoArray(acc, c);
                }
                for (; c < width; c++) {
                    acc[c] += xs[row + c];
                }
            }
            for (int c = 0; c < width; c++) {
                total[c] += acc[c];
                acc[c] = 0;
            }
        }
        for (int c = 0; c < width; c++) {
            os[outBase + c0 + c] = (float) (total[c] * scale);
            total[c] = 0;
        }
    }

    /** Each of {@code rows} output elements reduces a contiguous run of {@code n} elements of x. */
    private static void reduceRows(ReduceOp op, Tensor x, Tensor out, int rows, int n) {
        CpuStorage xs = ElementwiseKernels.storage(x);
        CpuStorage os = ElementwiseKernels.storage(out);
        int xo = x.offset();
        boolean f32 = x.dtype() == DType.FLOAT32;
        if (f32 && n > CHUNK && (op == ReduceOp.SUM || op == ReduceOp.MEAN || op == ReduceOp.MAX || op == ReduceOp.MIN)) {
            reduceLongFloatRows(op, xs.floats(), xo, os, out.offset(), rows, n);
            return;
        }
        if (!x.dtype().isFloating() && op != ReduceOp.MEAN && op != ReduceOp.LOGSUMEXP) {
            reduceIntegerRows(op, xs, xo, os, out.offset(), rows, n);
            return;
        }
        if (f32 && out.dtype() == DType.FLOAT32 && (op == ReduceOp.SUM || op == ReduceOp.MEAN)) {
            // Row sums get a loop of their own. Through the general loop below, which also serves max,
            // min and logsumexp, sums over the rows of [4096, 4096] slowed from 2.7 to 4.9 ms once a max
            // had run: the JIT compiles that loop for whichever ops it has seen.
            float[] xf = xs.floats();
            float[] of = os.floats();
            int oo = out.offset();
            boolean mean = op == ReduceOp.MEAN;
            Parallel.forRange(rows, Math.max(1, 4096 / Math.max(n, 1)), (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    double sum = sumFloat(xf, xo + r * n, n);
                    of[oo + r] = (float) (mean ? sum / n : sum);
                }
            });
            return;
        }
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

    /**
     * SUM, MAX, MIN, ARGMAX or ARGMIN of integer or bool rows, in long: exact for int64 (a double rounds
     * values past 2^53, which would merge neighbours for max and argmax and drop low bits from sums); sums
     * wrap on overflow as Java's long arithmetic does, and int32 results are narrowed on store.
     */
    private static void reduceIntegerRows(ReduceOp op, CpuStorage xs, int xo, CpuStorage os, int oo, int rows, int n) {
        Parallel.forRange(rows, Math.max(1, 4096 / Math.max(n, 1)), (r0, r1) -> {
            long[] buf = new long[n];
            for (int r = r0; r < r1; r++) {
                xs.loadLongs(xo + r * n, 1, buf, n);
                os.setLong(oo + r, reduceLongRow(op, buf, n));
            }
        });
    }

    private static long reduceLongRow(ReduceOp op, long[] v, int n) {
        switch (op) {
            case SUM -> {
                long s = 0;
                for (int i = 0; i < n; i++) {
                    s += v[i];
                }
                return s;
            }
            case MAX, MIN -> {
                long m = v[0];
                for (int i = 1; i < n; i++) {
                    m = op == ReduceOp.MAX ? Math.max(m, v[i]) : Math.min(m, v[i]);
                }
                return m;
            }
            case ARGMAX, ARGMIN -> {
                int best = 0;
                for (int i = 1; i < n; i++) {
                    if (op == ReduceOp.ARGMAX ? v[i] > v[best] : v[i] < v[best]) {
                        best = i;
                    }
                }
                return best;
            }
            default -> throw new IllegalStateException(op + " of integers is taken in floating point");
        }
    }

    /** SUM, MEAN, MAX or MIN of float32 rows longer than CHUNK: chunks in parallel, combined in order. */
    private static void reduceLongFloatRows(ReduceOp op, float[] a, int xo, CpuStorage os, int oo, int rows, int n) {
        int chunks = (n + CHUNK - 1) / CHUNK;
        ReduceOp chunkOp = op == ReduceOp.MEAN ? ReduceOp.SUM : op;
        double[] partial = new double[rows * chunks];
        Parallel.forRange(rows * chunks, 1, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int start = (t % chunks) * CHUNK;
                partial[t] = reduceFloatRow(chunkOp, a, xo + (t / chunks) * n + start, Math.min(CHUNK, n - start));
            }
        });
        for (int r = 0; r < rows; r++) {
            double v = partial[r * chunks];
            for (int ch = 1; ch < chunks; ch++) {
                double p = partial[r * chunks + ch];
                v = switch (chunkOp) {
                    case MAX -> Math.max(v, p);
                    case MIN -> Math.min(v, p);
                    default -> v + p;
                };
            }
            os.setDouble(oo + r, op == ReduceOp.MEAN ? v / n : v);
        }
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
            case SUM -> {
                return sumFloat(a, off, n);
            }
            case MEAN -> {
                return sumFloat(a, off, n) / n;
            }
            case MAX -> {
                return n == 0 ? reduceDoubleRow(op, new double[0], 0) : maxFloat(a, off, n);
            }
            case MIN -> {
                return n == 0 ? reduceDoubleRow(op, new double[0], 0) : minFloat(a, off, n);
            }
            case ARGMAX, ARGMIN -> {
                return argFloat(op == ReduceOp.ARGMAX, a, off, n);
            }
            case LOGSUMEXP -> {
                if (n == 0) {
                    return Double.NEGATIVE_INFINITY;
                }
                double m = maxFloat(a, off, n);
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

    /**
     * Sum of a float row: float vector sums over blocks of ROW_SUM_BLOCK vectors, added into a double.
     * Shared by the row-sum loop of {@link #reduceRows} and the chunks of a long row.
     */
    static double sumFloat(float[] a, int off, int n) {
        double s = 0;
        int i = 0;
        int lanes = F.length();
        // Four accumulators: shorter float sums per lane, and four independent add chains instead of one.
        int quadBound = n - n % (4 * lanes);
        while (i < quadBound) {
            int blockEnd = Math.min(quadBound, i + ROW_SUM_BLOCK * lanes);
            FloatVector acc0 = FloatVector.zero(F);
            FloatVector acc1 = FloatVector.zero(F);
            FloatVector acc2 = FloatVector.zero(F);
            FloatVector acc3 = FloatVector.zero(F);
            for (; i < blockEnd; i += 4 * lanes) {
                acc0 = FloatVector.fromArray(F, a, off + i).add(acc0);
                acc1 = FloatVector.fromArray(F, a, off + i + lanes).add(acc1);
                acc2 = FloatVector.fromArray(F, a, off + i + 2 * lanes).add(acc2);
                acc3 = FloatVector.fromArray(F, a, off + i + 3 * lanes).add(acc3);
            }
            s += FloatMath.sumLanes(acc0.add(acc1).add(acc2.add(acc3)));
        }
        for (int bound = F.loopBound(n); i < bound; i += lanes) {
            s += FloatMath.sumLanes(FloatVector.fromArray(F, a, off + i));
        }
        for (; i < n; i++) {
            s += a[off + i];
        }
        return s;
    }

    /** Largest element (-inf for none; NaN if any is NaN; +0.0 over -0.0), as a chain of {@link Math#max} gives. */
    static double maxFloat(float[] a, int off, int n) {
        return extremeFloat(a, off, n, true);
    }

    /** Smallest element (+inf for none; NaN if any is NaN; -0.0 under +0.0), as a chain of {@link Math#min} gives. */
    static double minFloat(float[] a, int off, int n) {
        return extremeFloat(a, off, n, false);
    }

    /**
     * The largest or smallest element, found by comparing integers rather than floats.
     *
     * <p>Java's float max (NaN wins, +0.0 beats -0.0) is five or six vector instructions on x86, and a
     * compare-and-blend loop that leaves NaN and zeros to a second look was not much faster: with
     * 512-bit vectors both ran at about a third of the memory's speed (16 Mi floats: 5-6 ms, where a sum
     * takes 2). Integers are cheaper: {@link #orderKey} maps a float's bits to an int whose signed order
     * is the float order, -0.0 just below +0.0, so one integer max (or min) per vector does the work.
     * NaNs map outside the keys of -inf..+inf (a NaN with the sign bit clear above +inf, one with it set
     * below -inf), so the loop keeps both the largest and the smallest key, and either bound crossed
     * means the row holds a NaN.
     */
    private static double extremeFloat(float[] a, int off, int n, boolean max) {
        IntVector hi0 = IntVector.broadcast(I, KEY_NEGATIVE_INFINITY);
        IntVector hi1 = hi0;
        IntVector hi2 = hi0;
        IntVector hi3 = hi0;
        IntVector lo0 = IntVector.broadcast(I, KEY_POSITIVE_INFINITY);
        IntVector lo1 = lo0;
        IntVector lo2 = lo0;
        IntVector lo3 = lo0;
        int vl = F.length();
        int i = 0;
        for (int bound = n - 4 * vl; i <= bound; i += 4 * vl) {
            // Each key is a named local, used twice. (A max-only variant that chained the key expression
            // straight into max(hi) ran about four times slower in a test harness; this form did not.)
            IntVector k0 = orderKey(FloatVector.fromArray(F, a, off + i).reinterpretAsInts());
            IntVector k1 = orderKey(FloatVector.fromArray(F, a, off + i + vl).reinterpretAsInts());
            IntVector k2 = orderKey(FloatVector.fromArray(F, a, off + i + 2 * vl).reinterpretAsInts());
            IntVector k3 = orderKey(FloatVector.fromArray(F, a, off + i + 3 * vl).reinterpretAsInts());
            hi0 = k0.max(hi0);
            hi1 = k1.max(hi1);
            hi2 = k2.max(hi2);
            hi3 = k3.max(hi3);
            lo0 = k0.min(lo0);
            lo1 = k1.min(lo1);
            lo2 = k2.min(lo2);
            lo3 = k3.min(lo3);
        }
        int hi = hi0.max(hi1).max(hi2.max(hi3)).reduceLanes(VectorOperators.MAX);
        int lo = lo0.min(lo1).min(lo2.min(lo3)).reduceLanes(VectorOperators.MIN);
        for (; i < n; i++) {
            int key = orderKey(Float.floatToRawIntBits(a[off + i]));
            hi = Math.max(hi, key);
            lo = Math.min(lo, key);
        }
        if (hi > KEY_POSITIVE_INFINITY || lo < KEY_NEGATIVE_INFINITY) {
            return Double.NaN;
        }
        return Float.intBitsToFloat(orderKey(max ? hi : lo));
    }

    /**
     * A float's bits as an int that orders as the float does: non-negative floats keep their bits (their
     * order is already the integers'), negative ones have the 31 bits below the sign flipped, so a larger
     * magnitude gives a smaller int. The map is its own inverse.
     */
    private static int orderKey(int bits) {
        return bits ^ ((bits >> 31) >>> 1);
    }

    /** {@link #orderKey(int)} in every lane. */
    private static IntVector orderKey(IntVector bits) {
        return bits.lanewise(VectorOperators.XOR, bits.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.LSHR, 1));
    }

    /** Index of the first largest (or smallest) element; the first NaN wins, as in {@link #reduceDoubleRow}. */
    static int argFloat(boolean max, float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            float b = a[off + best];
            if (b != b) {
                break;
            }
            float e = a[off + i];
            if (e != e || (max ? e > b : e < b)) {
                best = i;
            }
        }
        return best;
    }

    /** sum_i exp(a[i] - m), each exp in float by {@link FloatMath} (tail elements too), summed in double. */
    static double sumExpFloat(float[] a, int off, int n, float m) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            // The new vector is the receiver, not the accumulator: C2 does not know a loop-carried vector's
            // class when it parses the loop, so acc.add(v) needs a type profile to become a vector add. A
            // helper first compiled at tier 2 has none, and such a loop (m = m.max(v) in a row max) stayed a
            // virtual call, 3x slower for the rest of the run.
            acc = FloatMath.exp(FloatVector.fromArray(F, a, off + i).sub(m)).add(acc);
        }
        double s = FloatMath.sumLanes(acc);
        for (; i < n; i++) {
            s += FloatMath.exp(a[off + i] - m);
        }
        return s;
    }

    // ---- softmax --------------------------------------------------------------------------------

    static Tensor softmax(Tensor x, int dim, boolean log) {
        int last = x.dim() - 1;
        if (x.dim() == 0) {
            // x - x: 0 for a finite x, NaN for NaN or an infinity, as the row formula gives on one element.
            Tensor shifted = x.sub(x);
            return log ? shifted : shifted.exp();
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
                // x - m first: with large x, m + log(s) would round away log(s) (x of 1e17 gave softmax 1).
                double logS = Math.log(s);
                for (int i = 0; i < n; i++) {
                    buf[i] = log ? buf[i] - m - logS : Math.exp(buf[i] - m) / s;
                }
                os.store(r * n, 1, buf, n);
            }
        });
        return dim == last ? out : out.transpose(dim, last).contiguous();
    }

    /**
     * One row of softmax (exp(x - m) / sum, with m the row max) or log-softmax (x - m - log(sum)). Softmax
     * writes the exponentials while summing them and then scales them, so exp runs once per element.
     */
    private static void softmaxFloatRow(float[] a, int ao, float[] o, int oo, int n, boolean log) {
        float m = (float) maxFloat(a, ao, n);
        if (log) {
            // (x - m) - log(sum), not x - (m + log(sum)): m + log(sum) rounds log(sum) away where m is large
            // (a row of two 1e4 gave -0.69336 for log(1/2)).
            float logSum = (float) Math.log(sumExpFloat(a, ao, n, m));
            int i = 0;
            for (int bound = F.loopBound(n); i < bound; i += F.length()) {
                FloatVector.fromArray(F, a, ao + i).sub(m).sub(logSum).intoArray(o, oo + i);
            }
            for (; i < n; i++) {
                o[oo + i] = a[ao + i] - m - logSum;
            }
            return;
        }
        double sum = 0;
        int i = 0;
        int bound = F.loopBound(n);
        while (i < bound) {
            int blockEnd = Math.min(bound, i + SUM_BLOCK * F.length());
            FloatVector acc = FloatVector.zero(F);
            for (; i < blockEnd; i += F.length()) {
                FloatVector e = FloatMath.exp(FloatVector.fromArray(F, a, ao + i).sub(m));
                e.intoArray(o, oo + i);
                acc = e.add(acc);
            }
            sum += FloatMath.sumLanes(acc);
        }
        for (; i < n; i++) {
            float e = FloatMath.exp(a[ao + i] - m);
            o[oo + i] = e;
            sum += e;
        }
        float scale = (float) (1.0 / sum);
        i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, o, oo + i).mul(scale).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] *= scale;
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
        boolean f32 = y.dtype() == DType.FLOAT32 && gy.dtype() == DType.FLOAT32;
        Parallel.forRange(count, Math.max(1, 2048 / Math.max(n, 1)), (r0, r1) -> {
            if (f32) {
                for (int r = r0; r < r1; r++) {
                    softmaxBackwardFloatRow(ys.floats(), yr.offset() + r * n, gs.floats(), gr.offset() + r * n,
                            os.floats(), r * n, n, log);
                }
                return;
            }
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

    /** One float32 row of the softmax backward above; the row sum is accumulated in blocks added in double. */
    private static void softmaxBackwardFloatRow(float[] y, int yo, float[] g, int go, float[] o, int oo, int n,
            boolean log) {
        int vl = F.length();
        int bound = F.loopBound(n);
        double dot = 0;
        int i = 0;
        while (i < bound) {
            int blockEnd = Math.min(bound, i + SUM_BLOCK * vl);
            FloatVector acc = FloatVector.zero(F);
            for (; i < blockEnd; i += vl) {
                FloatVector gv = FloatVector.fromArray(F, g, go + i);
                acc = log ? gv.add(acc) : gv.fma(FloatVector.fromArray(F, y, yo + i), acc);
            }
            dot += FloatMath.sumLanes(acc);
        }
        for (; i < n; i++) {
            dot += log ? g[go + i] : (double) g[go + i] * y[yo + i];
        }
        float d = (float) dot;
        for (i = 0; i < bound; i += vl) {
            FloatVector yv = FloatVector.fromArray(F, y, yo + i);
            FloatVector gv = FloatVector.fromArray(F, g, go + i);
            (log ? gv.sub(FloatMath.exp(yv).mul(d)) : yv.mul(gv.sub(d))).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = log ? g[go + i] - FloatMath.exp(y[yo + i]) * d : y[yo + i] * (g[go + i] - d);
        }
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
