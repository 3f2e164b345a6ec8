package dev.ladon.tensor;

import java.util.function.IntFunction;

/** Text form of a tensor for {@code toString}: nested brackets like NumPy, elided past 1000 elements. */
final class TensorFormat {
    private static final int EDGE = 3;

    private TensorFormat() {
    }

    static String format(Tensor t) {
        StringBuilder sb = new StringBuilder("tensor(");
        if (t.numel() == 0) {
            sb.append("[]");
        } else if (t.storage().released()) {
            // Printing must not throw where reading would (a log line, a debugger): say what happened instead.
            sb.append("<released by its workspace scope>");
        } else {
            Tensor host = t.to(Device.CPU);
            appendDim(sb, elements(host), t.shape(), 0, 0, Shape.contiguousStrides(t.shape()), t.numel() > 1000);
        }
        sb.append(", shape=").append(Shape.str(t.shape())).append(", dtype=").append(t.dtype());
        if (!t.device().isCpu()) {
            sb.append(", device=").append(t.device());
        }
        return sb.append(')').toString();
    }

    /** Row-major element i as text; integers are read as longs, so int64 prints exactly past 2^53. */
    private static IntFunction<String> elements(Tensor t) {
        return switch (t.dtype()) {
            case BOOL -> {
                long[] v = t.toLongArray();
                yield i -> v[i] != 0 ? "true" : "false";
            }
            case INT32, INT64 -> {
                long[] v = t.toLongArray();
                yield i -> Long.toString(v[i]);
            }
            case FLOAT32, FLOAT64 -> {
                double[] v = t.toDoubleArray();
                String pattern = scientific(v) ? "%.4e" : "%.4f";
                yield i -> Double.isFinite(v[i]) ? String.format(java.util.Locale.ROOT, pattern, v[i])
                        : Double.isNaN(v[i]) ? "nan" : v[i] > 0 ? "inf" : "-inf";
            }
        };
    }

    /**
     * One notation for the whole tensor, as PyTorch picks it: scientific when four decimals would hide a
     * nonzero value (below 1e-4) or the values are large (1e8 and up) or span more than a factor of 1000.
     */
    private static boolean scientific(double[] v) {
        double smallest = Double.POSITIVE_INFINITY;
        double largest = 0;
        for (double x : v) {
            double a = Math.abs(x);
            if (Double.isFinite(a) && a != 0) {
                smallest = Math.min(smallest, a);
                largest = Math.max(largest, a);
            }
        }
        return largest > 0 && (smallest < 1e-4 || largest >= 1e8 || largest / smallest > 1000);
    }

    private static void appendDim(StringBuilder sb, IntFunction<String> element, int[] shape, int dim, int base,
            int[] strides, boolean elide) {
        if (dim == shape.length) {
            sb.append(element.apply(base));
            return;
        }
        sb.append('[');
        int n = shape[dim];
        for (int i = 0; i < n; i++) {
            if (elide && n > 2 * EDGE && i == EDGE) {
                sb.append("..., ");
                i = n - EDGE - 1;
                continue;
            }
            appendDim(sb, element, shape, dim + 1, base + i * strides[dim], strides, elide);
            if (i < n - 1) {
                sb.append(", ");
            }
        }
        sb.append(']');
    }
}
