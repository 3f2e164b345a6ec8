package dev.ladon.tensor.cpu;

import dev.ladon.tensor.Tensor;
import java.util.function.Supplier;

/**
 * Walks one shape for several operands at once (each with its own strides and offset), in row-major order,
 * handing the body contiguous runs of the innermost dimension ("segments"). Dims that are laid out
 * consecutively in every operand are merged first, so a fully contiguous (or fully broadcast) operand set
 * becomes a single long segment that SIMD kernels can stream through.
 */
final class StridedLoop {
    /** Handles one run of {@code length} elements starting at offsets[k] for operand k. */
    interface SegmentBody {
        void run(int[] offsets, int length);
    }

    private final int[] shape;
    private final int[][] strides;
    private final int[] baseOffsets;
    private final int numel;

    private StridedLoop(int[] shape, int[][] strides, int[] baseOffsets) {
        this.shape = shape;
        this.strides = strides;
        this.baseOffsets = baseOffsets;
        long n = 1;
        for (int s : shape) {
            n *= s;
        }
        this.numel = (int) n;
    }

    /** A loop over {@code shape} for operands that all have that shape (broadcast views included). */
    static StridedLoop over(int[] shape, Tensor... operands) {
        int ops = operands.length;
        int rank = shape.length;
        // Drop size-1 dims, then merge neighbours that are consecutive in memory for every operand.
        int[] s = new int[Math.max(rank, 1)];
        int[][] st = new int[ops][Math.max(rank, 1)];
        int r = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 1) {
                continue;
            }
            if (r > 0) {
                boolean mergeable = true;
                for (int k = 0; k < ops; k++) {
                    if (st[k][r - 1] != operands[k].stride(d) * shape[d]) {
                        mergeable = false;
                        break;
                    }
                }
                if (mergeable) {
                    s[r - 1] *= shape[d];
                    for (int k = 0; k < ops; k++) {
                        st[k][r - 1] = operands[k].stride(d);
                    }
                    continue;
                }
            }
            s[r] = shape[d];
            for (int k = 0; k < ops; k++) {
                st[k][r] = operands[k].stride(d);
            }
            r++;
        }
        if (r == 0) {
            // A single element (or a 0-dim tensor): one segment of length 1.
            boolean empty = false;
            for (int d : shape) {
                empty |= d == 0;
            }
            s[0] = empty ? 0 : 1;
            for (int k = 0; k < ops; k++) {
                st[k][0] = 1;
            }
            r = 1;
        }
        int[] shapeOut = java.util.Arrays.copyOf(s, r);
        int[][] stridesOut = new int[ops][];
        int[] offsets = new int[ops];
        for (int k = 0; k < ops; k++) {
            stridesOut[k] = java.util.Arrays.copyOf(st[k], r);
            offsets[k] = operands[k].offset();
        }
        return new StridedLoop(shapeOut, stridesOut, offsets);
    }

    int numel() {
        return numel;
    }

    /** Stride of operand k along the innermost (segment) dimension. */
    int innerStride(int k) {
        return strides[k][shape.length - 1];
    }

    /** Runs the body over flat indices [start, end). */
    void forEach(int start, int end, SegmentBody body) {
        if (start >= end) {
            return;
        }
        int rank = shape.length;
        int ops = strides.length;
        int inner = shape[rank - 1];
        int row = start / inner;
        int col = start % inner;
        int[] index = new int[rank];
        int[] rowOffsets = baseOffsets.clone();
        // Decompose the starting row over the outer dims.
        int rem = row;
        for (int d = rank - 2; d >= 0; d--) {
            index[d] = rem % shape[d];
            rem /= shape[d];
            for (int k = 0; k < ops; k++) {
                rowOffsets[k] += index[d] * strides[k][d];
            }
        }
        int[] segment = new int[ops];
        int pos = start;
        while (pos < end) {
            int len = Math.min(inner - col, end - pos);
            for (int k = 0; k < ops; k++) {
                segment[k] = rowOffsets[k] + col * strides[k][rank - 1];
            }
            body.run(segment, len);
            pos += len;
            col = 0;
            for (int d = rank - 2; d >= 0; d--) {
                index[d]++;
                for (int k = 0; k < ops; k++) {
                    rowOffsets[k] += strides[k][d];
                }
                if (index[d] < shape[d]) {
                    break;
                }
                for (int k = 0; k < ops; k++) {
                    rowOffsets[k] -= index[d] * strides[k][d];
                }
                index[d] = 0;
            }
        }
    }

    /** Runs over all elements on the CPU pool; each chunk gets its own body (for its own scratch space). */
    void forEachParallel(Supplier<SegmentBody> bodies) {
        Parallel.forRange(numel, 1 << 15, (s, e) -> forEach(s, e, bodies.get()));
    }
}
