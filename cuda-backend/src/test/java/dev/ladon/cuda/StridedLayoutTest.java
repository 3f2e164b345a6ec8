package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StridedLayoutTest {
    @Test
    void contiguousOperandsCoalesceToOneDim() {
        StridedLayout l = StridedLayout.coalesce(new int[] {2, 3, 4}, new int[] {12, 4, 1}, new int[] {12, 4, 1});
        assertThat(l.shape()).containsExactly(24);
        assertThat(l.isContiguous()).isTrue();
    }

    @Test
    void broadcastOperandKeepsItsOwnDims() {
        // b is a row [4] broadcast over 3 rows: stride 0 along the first dim.
        StridedLayout l = StridedLayout.coalesce(new int[] {3, 4}, new int[] {4, 1}, new int[] {0, 1});
        assertThat(l.shape()).containsExactly(3, 4);
        assertThat(l.stride(1, 0)).isZero();
        assertThat(l.stride(1, 1)).isEqualTo(1);
    }

    @Test
    void transposedOperandIsNotMerged() {
        StridedLayout l = StridedLayout.coalesce(new int[] {3, 4}, new int[] {4, 1}, new int[] {1, 3});
        assertThat(l.rank()).isEqualTo(2);
    }

    @Test
    void sizeOneDimsDropAndEmptyShapesWalkNothing() {
        StridedLayout l = StridedLayout.coalesce(new int[] {1, 5, 1}, new int[] {99, 1, 7});
        assertThat(l.shape()).containsExactly(5);
        assertThat(StridedLayout.coalesce(new int[] {3, 0, 2}, new int[] {0, 2, 1}).numel()).isZero();
        StridedLayout scalar = StridedLayout.coalesce(new int[] {}, new int[] {});
        assertThat(scalar.numel()).isEqualTo(1);
        assertThat(scalar.stride(0, 0)).isZero();
    }

    @Test
    void kernelArgumentHasTheStructLayoutOfLadonCuh() {
        StridedLayout l = StridedLayout.coalesce(new int[] {3, 4}, new int[] {4, 1}, new int[] {1, 3});
        int[] a = l.toKernelArgument();
        assertThat(a).hasSize(42);
        assertThat(a[0]).isEqualTo(2);
        assertThat(a[1]).isEqualTo(12);
        assertThat(a[2]).isEqualTo(3);
        assertThat(a[3]).isEqualTo(4);
        assertThat(a[10]).isEqualTo(4);  // stride[0][0]
        assertThat(a[11]).isEqualTo(1);
        assertThat(a[18]).isEqualTo(1);  // stride[1][0]
        assertThat(a[19]).isEqualTo(3);
    }

    /** The offsets the kernel computes, written as it does (row-major decomposition of i). */
    private static int[] kernelOffsets(int[] arg, int i, int ops) {
        int[] off = new int[ops];
        for (int d = StridedLayout.MAX_DIMS - 1; d >= 0; d--) {
            if (d < arg[0]) {
                int s = arg[2 + d];
                int c = i % s;
                i /= s;
                for (int k = 0; k < ops; k++) {
                    off[k] += c * arg[2 + StridedLayout.MAX_DIMS + k * StridedLayout.MAX_DIMS + d];
                }
            }
        }
        return off;
    }

    /** Plain offsets of every element in row-major order, for reference. */
    private static List<int[]> referenceOffsets(int[] shape, int[][] strides) {
        List<int[]> out = new ArrayList<>();
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        for (int i = 0; i < n; i++) {
            int rem = i;
            int[] off = new int[strides.length];
            for (int d = shape.length - 1; d >= 0; d--) {
                int c = rem % shape[d];
                rem /= shape[d];
                for (int k = 0; k < strides.length; k++) {
                    off[k] += c * strides[k][d];
                }
            }
            out.add(off);
        }
        return out;
    }

    @Test
    void randomViewsWalkTheSameOffsetsAfterCoalescingAndSplitting() {
        Random r = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int rank = 1 + r.nextInt(11);  // up to 11 dims: exercises splitting into pieces
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) {
                shape[d] = 1 + r.nextInt(rank > 8 ? 2 : 4);
            }
            int ops = 1 + r.nextInt(4);
            int[][] strides = new int[ops][rank];
            for (int k = 0; k < ops; k++) {
                int s = 1;
                boolean transpose = r.nextBoolean();
                for (int d = rank - 1; d >= 0; d--) {
                    strides[k][d] = r.nextInt(5) == 0 ? 0 : s;  // some broadcast dims
                    s *= shape[d];
                }
                if (transpose && rank > 1) {
                    int t = strides[k][0];
                    strides[k][0] = strides[k][rank - 1];
                    strides[k][rank - 1] = t;
                }
            }
            List<int[]> expected = referenceOffsets(shape, strides);
            StridedLayout l = StridedLayout.coalesce(shape, strides);
            List<int[]> walked = new ArrayList<>();
            for (StridedLayout.Piece p : l.pieces()) {
                int[] arg = p.layout().toKernelArgument();
                assertThat(p.layout().rank()).isLessThanOrEqualTo(StridedLayout.MAX_DIMS);
                for (int i = 0; i < arg[1]; i++) {
                    int[] off = kernelOffsets(arg, i, ops);
                    for (int k = 0; k < ops; k++) {
                        off[k] += (int) p.offsets()[k];
                    }
                    walked.add(off);
                }
            }
            assertThat(walked).as("shape %s", java.util.Arrays.toString(shape)).hasSameSizeAs(expected);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(walked.get(i)).as("element %d of %s", i, l).containsExactly(expected.get(i));
            }
        }
    }

    @Test
    void rejectsMoreOperandsThanTheStructHolds() {
        assertThatThrownBy(() -> StridedLayout.coalesce(new int[] {2}, new int[1], new int[1], new int[1], new int[1],
                new int[1])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1..4");
    }
}
