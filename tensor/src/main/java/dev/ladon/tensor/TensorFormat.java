package dev.ladon.tensor;

/** Text form of a tensor for {@code toString}: nested brackets like NumPy, elided past 1000 elements. */
final class TensorFormat {
    private static final int EDGE = 3;

    private TensorFormat() {
    }

    static String format(Tensor t) {
        StringBuilder sb = new StringBuilder("tensor(");
        if (t.numel() == 0) {
            sb.append("[]");
        } else {
            Tensor host = t.to(Device.CPU);
            double[] v = host.toDoubleArray();
            appendDim(sb, v, t.shape(), 0, 0, Shape.contiguousStrides(t.shape()), t.numel() > 1000, t.dtype());
        }
        sb.append(", shape=").append(Shape.str(t.shape())).append(", dtype=").append(t.dtype());
        if (!t.device().isCpu()) {
            sb.append(", device=").append(t.device());
        }
        return sb.append(')').toString();
    }

    private static void appendDim(StringBuilder sb, double[] v, int[] shape, int dim, int base, int[] strides,
            boolean elide, DType dtype) {
        if (dim == shape.length) {
            sb.append(formatValue(v[base], dtype));
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
            appendDim(sb, v, shape, dim + 1, base + i * strides[dim], strides, elide, dtype);
            if (i < n - 1) {
                sb.append(", ");
            }
        }
        sb.append(']');
    }

    private static String formatValue(double x, DType dtype) {
        return switch (dtype) {
            case BOOL -> x != 0 ? "true" : "false";
            case INT32, INT64 -> Long.toString((long) x);
            default -> String.format(java.util.Locale.ROOT, "%.4f", x);
        };
    }
}
