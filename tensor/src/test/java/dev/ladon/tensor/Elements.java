package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.ladon.tensor.cpu.CpuStorage;
import java.util.Arrays;

/**
 * The tests' ground truth for reading and building tensors. Reading walks shape, strides and offset by
 * hand and takes elements straight out of the CPU storage, so no kernel of the code under test (copy,
 * contiguous, toHost) sits between a result and the reference it is compared with. Building goes through
 * {@code Tensor.of}, which only clones a host array.
 */
final class Elements {
    private Elements() {
    }

    /** The elements of t in row-major order, widened to double. */
    static double[] read(Tensor t) {
        CpuStorage s = (CpuStorage) t.storage();
        double[] out = new double[t.numel()];
        int[] shape = t.shape();
        for (int i = 0; i < out.length; i++) {
            out[i] = s.getDouble(storageIndex(t, unravel(i, shape)));
        }
        return out;
    }

    /** The elements of an integer or bool tensor in row-major order, exactly. */
    static long[] readLongs(Tensor t) {
        CpuStorage s = (CpuStorage) t.storage();
        long[] out = new long[t.numel()];
        int[] shape = t.shape();
        for (int i = 0; i < out.length; i++) {
            out[i] = s.getLong(storageIndex(t, unravel(i, shape)));
        }
        return out;
    }

    /** Position in the storage of the element at a full index. */
    static int storageIndex(Tensor t, int[] index) {
        int at = t.offset();
        int[] strides = t.strides();
        for (int d = 0; d < index.length; d++) {
            at += index[d] * strides[d];
        }
        return at;
    }

    /** The multi-index of row-major position {@code flat} in {@code shape}. */
    static int[] unravel(int flat, int[] shape) {
        int[] index = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return index;
    }

    /** The row-major position of a multi-index in {@code shape}. */
    static int ravel(int[] index, int[] shape) {
        int flat = 0;
        for (int d = 0; d < shape.length; d++) {
            flat = flat * shape[d] + index[d];
        }
        return flat;
    }

    static int numel(int[] shape) {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    /** A contiguous CPU tensor holding {@code values} (row-major), built without running a kernel. */
    static Tensor tensor(DType dtype, int[] shape, double[] values) {
        int n = values.length;
        return switch (dtype) {
            case FLOAT32 -> {
                float[] f = new float[n];
                for (int i = 0; i < n; i++) {
                    f[i] = (float) values[i];
                }
                yield Tensor.of(f, shape);
            }
            case FLOAT64 -> Tensor.of(values.clone(), shape);
            case INT32 -> {
                int[] v = new int[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (int) values[i];
                }
                yield Tensor.of(v, shape);
            }
            case INT64 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (long) values[i];
                }
                yield Tensor.of(v, shape);
            }
            case BOOL -> {
                boolean[] v = new boolean[n];
                for (int i = 0; i < n; i++) {
                    v[i] = values[i] != 0;
                }
                yield Tensor.of(v, shape);
            }
        };
    }

    /** Relative tolerance that fits a dtype's precision for a few roundings. */
    static double tolerance(DType dtype) {
        return dtype == DType.FLOAT64 ? 1e-12 : 2e-6;
    }

    /** Asserts shape, dtype and |actual - expected| &lt;= tol * (1 + |expected|) elementwise (NaN matches NaN). */
    static void assertClose(String what, Tensor actual, DType dtype, int[] shape, double[] expected, double tol) {
        assertThat(actual.shape()).as(what + ": shape").containsExactly(shape);
        assertThat(actual.dtype()).as(what + ": dtype").isEqualTo(dtype);
        double[] a = read(actual);
        for (int i = 0; i < a.length; i++) {
            double e = expected[i];
            boolean ok = Double.isNaN(e) ? Double.isNaN(a[i])
                    : a[i] == e || Math.abs(a[i] - e) <= tol * (1 + Math.abs(e));
            if (!ok) {
                fail(what + ": element " + Arrays.toString(unravel(i, shape)) + " of shape " + Arrays.toString(shape)
                        + " is " + a[i] + ", expected " + e + " (tolerance " + tol + ")");
            }
        }
    }

    /** Asserts shape, dtype and exact equality of integer or bool results. */
    static void assertExact(String what, Tensor actual, DType dtype, int[] shape, long[] expected) {
        assertThat(actual.shape()).as(what + ": shape").containsExactly(shape);
        assertThat(actual.dtype()).as(what + ": dtype").isEqualTo(dtype);
        assertThat(readLongs(actual)).as(what).isEqualTo(expected);
    }
}
