package dev.ladon.tensor;

import java.util.Arrays;

/**
 * Shape and stride arithmetic shared by the tensor, its views and every backend: element counts,
 * row-major strides, dimension normalisation and NumPy broadcasting.
 */
public final class Shape {
    private Shape() {
    }

    /** Number of elements; fails clearly past Java's array limit, which bounds every storage. */
    public static int numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n *= s;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has more than 2^31-1 elements, the most one Ladon tensor holds");
            }
        }
        return (int) n;
    }

    /** Row-major (C-order) strides of a contiguous tensor of this shape. */
    public static int[] contiguousStrides(int[] shape) {
        int[] strides = new int[shape.length];
        int s = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            strides[d] = s;
            s *= Math.max(shape[d], 1);
        }
        return strides;
    }

    /** Turns a possibly negative dimension into 0..rank-1, naming the op when it is out of range. */
    public static int normalizeDim(String op, int dim, int rank) {
        int r = Math.max(rank, 1);
        if (dim < -r || dim >= r) {
            throw new IllegalArgumentException(op + ": dim " + dim + " is out of range for a tensor of rank " + rank
                    + " (expected " + (-r) + ".." + (r - 1) + ")");
        }
        return dim < 0 ? dim + r : dim;
    }

    /** NumPy broadcasting of two shapes; the error names the op and both shapes. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " cannot be broadcast together (dimension " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }
}
