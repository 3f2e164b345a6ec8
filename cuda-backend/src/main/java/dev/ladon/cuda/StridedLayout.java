package dev.ladon.cuda;

import java.util.Arrays;

/**
 * The shape an elementwise-style kernel walks and each operand's strides over it, in the form the
 * {@code Layout} struct of {@code ladon.cuh} takes. Before launch the dims are coalesced: size-1 dims are
 * dropped and neighbours that are consecutive in memory for every operand are merged, so a contiguous
 * (or fully broadcast) operand set becomes one dim and the kernel's index arithmetic is a single
 * division. A kernel walks at most {@link #MAX_DIMS} dims; layouts with more are split into pieces
 * along their leading dims by {@link #pieces}.
 */
final class StridedLayout {
    /** Dims a kernel walks; {@code LADON_MAX_DIMS} in ladon.cuh. */
    static final int MAX_DIMS = 8;
    /** Operands a layout describes; {@code LADON_MAX_OPERANDS} in ladon.cuh. */
    static final int MAX_OPERANDS = 4;
    /** Ints in the kernel argument: rank, numel, shape[8], stride[4][8]. */
    static final int KERNEL_ARGUMENT_INTS = 2 + MAX_DIMS + MAX_OPERANDS * MAX_DIMS;

    private final int[] shape;
    private final int[][] strides;

    private StridedLayout(int[] shape, int[][] strides) {
        this.shape = shape;
        this.strides = strides;
    }

    /**
     * Coalesces {@code shape} walked by operands with the given strides ({@code strides[k][d]} for operand
     * k). The result may have more than {@link #MAX_DIMS} dims; see {@link #pieces}.
     */
    static StridedLayout coalesce(int[] shape, int[]... strides) {
        int ops = strides.length;
        if (ops == 0 || ops > MAX_OPERANDS) {
            throw new IllegalArgumentException("a layout describes 1.." + MAX_OPERANDS + " operands, got " + ops);
        }
        int rank = shape.length;
        int[] s = new int[rank];
        int[][] st = new int[ops][rank];
        int r = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 0) {
                // An empty walk: nothing to coalesce, nothing to launch.
                return new StridedLayout(new int[] {0}, zeros(ops));
            }
            if (shape[d] == 1) {
                continue;
            }
            if (r > 0 && mergeable(st, r - 1, strides, d, shape[d])) {
                s[r - 1] *= shape[d];
                for (int k = 0; k < ops; k++) {
                    st[k][r - 1] = strides[k][d];
                }
                continue;
            }
            s[r] = shape[d];
            for (int k = 0; k < ops; k++) {
                st[k][r] = strides[k][d];
            }
            r++;
        }
        if (r == 0) {
            // A single element (0-dim, or all dims of size 1).
            return new StridedLayout(new int[] {1}, zeros(ops));
        }
        int[][] out = new int[ops][];
        for (int k = 0; k < ops; k++) {
            out[k] = Arrays.copyOf(st[k], r);
        }
        return new StridedLayout(Arrays.copyOf(s, r), out);
    }

    /** Dim d (of size n) folds into the previous kept dim when, for every operand, stepping d n times equals one step of it. */
    private static boolean mergeable(int[][] kept, int last, int[][] strides, int d, int n) {
        for (int k = 0; k < strides.length; k++) {
            if ((long) kept[k][last] != (long) strides[k][d] * n) {
                return false;
            }
        }
        return true;
    }

    private static int[][] zeros(int ops) {
        int[][] z = new int[ops][1];
        return z;
    }

    int rank() {
        return shape.length;
    }

    int[] shape() {
        return shape.clone();
    }

    int stride(int operand, int dim) {
        return strides[operand][dim];
    }

    /** One operand's strides over every dim. */
    int[] strides(int operand) {
        return strides[operand].clone();
    }

    long numel() {
        long n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    /** True when every operand walks its elements consecutively (one dim, stride 1). */
    boolean isContiguous() {
        if (shape.length != 1) {
            return false;
        }
        for (int[] st : strides) {
            if (st[0] != 1) {
                return false;
            }
        }
        return true;
    }

    /** The {@code Layout} struct of ladon.cuh as ints; rank must be at most {@link #MAX_DIMS}. */
    int[] toKernelArgument() {
        if (shape.length > MAX_DIMS) {
            throw new IllegalStateException("layout of rank " + shape.length + " needs splitting into pieces first");
        }
        int[] a = new int[KERNEL_ARGUMENT_INTS];
        a[0] = shape.length;
        a[1] = (int) numel();
        System.arraycopy(shape, 0, a, 2, shape.length);
        for (int k = 0; k < strides.length; k++) {
            System.arraycopy(strides[k], 0, a, 2 + MAX_DIMS + k * MAX_DIMS, shape.length);
        }
        return a;
    }

    /** One launch's share of a layout: the inner layout and each operand's element offset. */
    record Piece(StridedLayout layout, long[] offsets) {
    }

    /**
     * Splits a layout of more than {@link #MAX_DIMS} dims into pieces, one per index of its leading
     * {@code rank - MAX_DIMS} dims (in row-major order), each walking the trailing {@link #MAX_DIMS} dims
     * from its own offsets. A layout that fits is a single piece at offset 0.
     */
    Piece[] pieces() {
        return pieces(MAX_DIMS);
    }

    /** As {@link #pieces()}, for kernels that walk at most {@code maxDims} dims. */
    Piece[] pieces(int maxDims) {
        int ops = strides.length;
        if (shape.length <= maxDims) {
            return new Piece[] {new Piece(this, new long[ops])};
        }
        int lead = shape.length - maxDims;
        int[][] innerStrides = new int[ops][];
        for (int k = 0; k < ops; k++) {
            innerStrides[k] = Arrays.copyOfRange(strides[k], lead, shape.length);
        }
        StridedLayout inner = new StridedLayout(Arrays.copyOfRange(shape, lead, shape.length), innerStrides);
        long count = 1;
        for (int d = 0; d < lead; d++) {
            count *= shape[d];
        }
        Piece[] out = new Piece[(int) count];
        int[] index = new int[lead];
        for (int p = 0; p < count; p++) {
            long[] offsets = new long[ops];
            for (int k = 0; k < ops; k++) {
                for (int d = 0; d < lead; d++) {
                    offsets[k] += (long) index[d] * strides[k][d];
                }
            }
            out[p] = new Piece(inner, offsets);
            for (int d = lead - 1; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("StridedLayout").append(Arrays.toString(shape));
        for (int[] st : strides) {
            b.append(' ').append(Arrays.toString(st));
        }
        return b.toString();
    }
}
