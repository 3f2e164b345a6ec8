package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/**
 * Stable sort and top-k along a dim. The dim is moved last and made contiguous; each row is then sorted
 * by a merge sort over primitive index arrays (stable, so equal values keep their order, which makes
 * top-k tie-breaking deterministic: the lower index wins). NaN sorts as the largest value.
 *
 * <p>Rows are compared through long keys: int64 values themselves (a double would merge values past 2^53),
 * and for every other dtype the double's bits mapped to a long that orders as {@link Double#compare} does
 * (with -0.0 equal to 0.0).
 */
final class SortKernels {
    private SortKernels() {
    }

    static Tensor[] sort(Tensor x, int dim, boolean descending) {
        return sorted(x, dim, descending, -1);
    }

    static Tensor[] topk(Tensor x, int k, int dim, boolean largest) {
        return sorted(x, dim, largest, k);
    }

    /** Sorted values and indices along dim, keeping the first {@code keep} of each row (all when -1). */
    private static Tensor[] sorted(Tensor x, int dim, boolean descending, int keep) {
        if (x.dim() == 0) {
            Tensor idx = CpuBackend.INSTANCE.newTensor(DType.INT64, x.shape());
            return keep == 0 ? new Tensor[] {CpuBackend.INSTANCE.newTensor(x.dtype(), 0),
                CpuBackend.INSTANCE.newTensor(DType.INT64, 0)} : new Tensor[] {x.copy(), idx};
        }
        int last = x.dim() - 1;
        Tensor rows = dim == last ? x.contiguous() : x.transpose(dim, last).contiguous();
        int n = rows.size(-1);
        int k = keep < 0 ? n : keep;
        int count = rows.numel() / Math.max(n, 1);
        int[] outShape = rows.shape();
        outShape[last] = k;
        Tensor values = CpuBackend.INSTANCE.newTensor(x.dtype(), outShape);
        Tensor indices = CpuBackend.INSTANCE.newTensor(DType.INT64, outShape);
        CpuStorage rs = ElementwiseKernels.storage(rows);
        CpuStorage vs = ElementwiseKernels.storage(values);
        long[] is = ElementwiseKernels.storage(indices).longs();
        boolean int64 = x.dtype() == DType.INT64;
        Parallel.forRange(count, Math.max(1, 1024 / Math.max(n, 1)), (r0, r1) -> {
            double[] v = new double[n];
            long[] keys = new long[n];
            int[] order = new int[n];
            int[] tmp = new int[n];
            for (int r = r0; r < r1; r++) {
                rs.load(rows.offset() + r * n, 1, v, n);
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                    keys[i] = int64 ? rs.getLong(rows.offset() + r * n + i) : orderedBits(v[i]);
                }
                mergeSort(order, tmp, keys, 0, n, descending);
                for (int i = 0; i < k; i++) {
                    int src = order[i];
                    if (int64) {
                        vs.longs()[r * k + i] = keys[src];
                    } else {
                        vs.setDouble(r * k + i, v[src]);
                    }
                    is[r * k + i] = src;
                }
            }
        });
        if (dim == last) {
            return new Tensor[] {values, indices};
        }
        return new Tensor[] {values.transpose(dim, last).contiguous(), indices.transpose(dim, last).contiguous()};
    }

    /** A long that orders like {@link Double#compare} on v, NaN above +infinity, except that -0.0 ties with 0.0. */
    static long orderedBits(double v) {
        // v + 0.0 turns -0.0 into 0.0 (and leaves every other value alone): equal values must be ties for stability
        long bits = Double.doubleToLongBits(v + 0.0);
        // Negative doubles order in reverse of their magnitude bits: flip those, keep the sign.
        return bits ^ ((bits >> 63) & Long.MAX_VALUE);
    }

    /** True when key a must come before key b (strictly). */
    private static boolean before(long a, long b, boolean descending) {
        return descending ? a > b : a < b;
    }

    private static void mergeSort(int[] order, int[] tmp, long[] v, int lo, int hi, boolean descending) {
        if (hi - lo <= 16) {
            // Insertion sort: stable, and fastest for the short rows (expert scores) this mostly sees.
            for (int i = lo + 1; i < hi; i++) {
                int cur = order[i];
                int j = i - 1;
                while (j >= lo && before(v[cur], v[order[j]], descending)) {
                    order[j + 1] = order[j];
                    j--;
                }
                order[j + 1] = cur;
            }
            return;
        }
        int mid = (lo + hi) >>> 1;
        mergeSort(order, tmp, v, lo, mid, descending);
        mergeSort(order, tmp, v, mid, hi, descending);
        int i = lo;
        int j = mid;
        int o = lo;
        while (i < mid && j < hi) {
            // Take from the right half only when strictly before: ties keep left (earlier) elements first.
            tmp[o++] = before(v[order[j]], v[order[i]], descending) ? order[j++] : order[i++];
        }
        while (i < mid) {
            tmp[o++] = order[i++];
        }
        while (j < hi) {
            tmp[o++] = order[j++];
        }
        System.arraycopy(tmp, lo, order, lo, hi - lo);
    }
}
