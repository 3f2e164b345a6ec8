package dev.ladon.tensor;

import java.util.Random;

/**
 * The memory layouts every op is tested on. Each builds a tensor of a requested shape whose elements are
 * random but whose strides are of one kind, so a kernel that assumes contiguity, a zero offset or positive
 * unit strides shows up as a wrong element. Values are read back with {@link Elements#read}.
 */
enum Layout {
    /** Row-major, offset 0. */
    CONTIGUOUS,
    /** A permutation (all dims reversed) of a contiguous tensor: the last dim has the largest stride. */
    TRANSPOSED,
    /** Every other element of a larger tensor along each dim, starting at 1: strides of 2 or more, offset > 0. */
    STRIDED,
    /** Some dims broadcast from size 1 with stride 0 (a random choice per call). */
    EXPANDED;

    /** A tensor of {@code shape} in this layout with elements uniform in [lo, hi) (rounded for integer dtypes). */
    Tensor random(Random rng, DType dtype, int[] shape, double lo, double hi) {
        int rank = shape.length;
        switch (this) {
            case CONTIGUOUS -> {
                return Elements.tensor(dtype, shape, values(rng, dtype, Elements.numel(shape), lo, hi));
            }
            case TRANSPOSED -> {
                int[] reversed = new int[rank];
                int[] order = new int[rank];
                for (int d = 0; d < rank; d++) {
                    reversed[d] = shape[rank - 1 - d];
                    order[d] = rank - 1 - d;
                }
                Tensor base = Elements.tensor(dtype, reversed, values(rng, dtype, Elements.numel(shape), lo, hi));
                return base.permute(order);
            }
            case STRIDED -> {
                int[] big = new int[rank];
                for (int d = 0; d < rank; d++) {
                    big[d] = 2 * shape[d] + 1;
                }
                Tensor t = Elements.tensor(dtype, big, values(rng, dtype, Elements.numel(big), lo, hi));
                for (int d = 0; d < rank; d++) {
                    t = t.slice(d, 1, 1 + 2 * shape[d], 2);
                }
                return t;
            }
            case EXPANDED -> {
                int[] small = shape.clone();
                for (int d = 0; d < rank; d++) {
                    if (rng.nextBoolean()) {
                        small[d] = 1;
                    }
                }
                Tensor base = Elements.tensor(dtype, small, values(rng, dtype, Elements.numel(small), lo, hi));
                return base.expand(shape);
            }
            default -> throw new AssertionError(this);
        }
    }

    /** The values of t in a fresh STRIDED-layout tensor (every other element of a larger one). */
    static Tensor stridedCopyOf(Tensor t) {
        int[] shape = t.shape();
        int[] big = new int[shape.length];
        for (int d = 0; d < shape.length; d++) {
            big[d] = 2 * shape[d] + 1;
        }
        Tensor s = Tensor.zeros(t.dtype(), big);
        for (int d = 0; d < shape.length; d++) {
            s = s.slice(d, 1, 1 + 2 * shape[d], 2);
        }
        return s.copyFrom(t);
    }

    private static double[] values(Random rng, DType dtype, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x = lo + (hi - lo) * rng.nextDouble();
            v[i] = dtype.isFloating() ? x : Math.floor(x);
        }
        return v;
    }

    /** A random shape of rank 0..maxRank with sizes from {1, 2, 3, 5, 7}: size-1 dims are common. */
    static int[] randomShape(Random rng, int maxRank) {
        int[] sizes = {1, 2, 3, 5, 7};
        int[] s = new int[rng.nextInt(maxRank + 1)];
        for (int d = 0; d < s.length; d++) {
            s[d] = sizes[rng.nextInt(sizes.length)];
        }
        return s;
    }

    /** A shape that broadcasts to {@code out}: some leading dims dropped, some dims set to 1. */
    static int[] broadcastableTo(Random rng, int[] out) {
        int drop = rng.nextInt(out.length + 1);
        int[] s = new int[out.length - drop];
        for (int d = 0; d < s.length; d++) {
            s[d] = rng.nextInt(3) == 0 ? 1 : out[d + drop];
        }
        return s;
    }
}
