package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * sort, argsort and topk against a stable sort of indices done with java.util's List.sort (a stable merge
 * sort): equal values keep their original order, so the lower index comes first among ties.
 */
class SortTest {

    /** Stable order of the indices of v, ascending or descending, NaN largest, -0.0 equal to 0.0. */
    static List<Integer> stableOrder(double[] v, boolean descending) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            order.add(i);
        }
        Comparator<Integer> byValue = (a, b) -> Double.compare(v[a] + 0.0, v[b] + 0.0);
        order.sort(descending ? byValue.reversed() : byValue);
        return order;
    }

    /** Expected sorted values and indices along dim d, keeping the first k of each row. */
    static void check(String what, Tensor x, int d, int k, boolean descending, Tensor values, Tensor indices) {
        int[] shape = x.shape();
        double[] v = Elements.read(x);
        int[] outShape = shape.clone();
        outShape[d] = k;
        double[] ev = new double[Elements.numel(outShape)];
        long[] ei = new long[ev.length];
        int[] kept = shape.clone();
        kept[d] = 1;
        for (int o = 0; o < Elements.numel(kept); o++) {
            int[] idx = Elements.unravel(o, kept);
            double[] row = new double[shape[d]];
            for (int i = 0; i < shape[d]; i++) {
                idx[d] = i;
                row[i] = v[Elements.ravel(idx, shape)];
            }
            List<Integer> order = stableOrder(row, descending);
            for (int i = 0; i < k; i++) {
                idx[d] = i;
                int at = Elements.ravel(idx, outShape);
                ev[at] = row[order.get(i)];
                ei[at] = order.get(i);
            }
        }
        Elements.assertClose(what + " values", values, x.dtype(), outShape, ev, 0);
        Elements.assertExact(what + " indices", indices, DType.INT64, outShape, ei);
    }

    @Test
    void sortIsStableAlongAnyDimInBothDirections() {
        Random rng = new Random(1);
        DType[] types = {DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64};
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (trial < 4) {
                shape = new int[] {2, 129}; // past the insertion-sort cut-off: exercises the merge
            }
            if (shape.length == 0) {
                continue;
            }
            DType dtype = types[trial % types.length];
            // few distinct values, so ties are everywhere
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -3, 3);
            if (dtype.isFloating()) {
                x = Elements.tensor(dtype, shape, ElementwiseTest.map(Elements.read(x), Math::floor));
            }
            int d = rng.nextInt(shape.length);
            boolean descending = rng.nextBoolean();
            Tensor.Sorted s = x.sort(rng.nextBoolean() ? d : d - shape.length, descending);
            String what = "sort dim " + d + " of " + Arrays.toString(shape) + (descending ? " descending" : "");
            check(what, x, d, shape[d], descending, s.values(), s.indices());
            Elements.assertExact(what + " argsort", x.argsort(d, descending), DType.INT64, shape,
                    Elements.readLongs(s.indices()));
        }
    }

    @Test
    void topkReturnsTheFirstKOfAStableSort() {
        Random rng = new Random(2);
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (trial < 4) {
                shape = new int[] {3, 40};
            }
            if (shape.length == 0) {
                continue;
            }
            DType dtype = trial % 2 == 0 ? DType.FLOAT32 : DType.FLOAT64;
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -3, 3);
            if (trial % 3 == 0) {
                x = Elements.tensor(dtype, shape, ElementwiseTest.map(Elements.read(x), Math::floor));
            }
            int d = rng.nextInt(shape.length);
            int k = rng.nextInt(shape[d] + 1);
            boolean largest = rng.nextBoolean();
            Tensor.TopK t = x.topk(k, d, largest);
            check("topk " + k + " dim " + d + " of " + Arrays.toString(shape) + (largest ? " largest" : " smallest"), x, d,
                    k, largest, t.values(), t.indices());
        }
    }

    @Test
    void manyRowsSortedAcrossThreadsMatchReference() {
        Random rng = new Random(3);
        ThreadCount.run(3, () -> {
            Tensor x = Layout.TRANSPOSED.random(rng, DType.FLOAT32, new int[] {7, 3000}, -3, 3);
            Tensor.Sorted s = x.sort(0, true);
            check("sort of 3000 columns", x, 0, 7, true, s.values(), s.indices());
            Tensor.TopK t = x.topk(2, 0, false);
            check("topk of 3000 columns", x, 0, 2, false, t.values(), t.indices());
        });
    }

    @Test
    void nanSortsAsTheLargestValue() {
        Tensor x = Tensor.of(new double[] {2, Double.NaN, -1, 5}, 4);
        Tensor.Sorted up = x.sort(0, false);
        assertThat(Elements.read(up.values())).containsExactly(-1, 2, 5, Double.NaN);
        assertThat(Elements.readLongs(up.indices())).containsExactly(2, 0, 3, 1);
        Tensor.TopK top = x.topk(2, 0, true);
        assertThat(Elements.read(top.values())).containsExactly(Double.NaN, 5);
        assertThat(Elements.readLongs(top.indices())).containsExactly(1, 3);
    }

    @Test
    void negativeAndPositiveZeroAreTiesThatKeepTheirOrder() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Elements.tensor(dtype, new int[] {4}, new double[] {0.0, -0.0, 0.0, -1});
            Tensor.Sorted up = x.sort(0, false);
            assertThat(Elements.readLongs(up.indices())).containsExactly(3, 0, 1, 2);
            assertThat(Elements.read(up.values())).containsExactly(-1, 0.0, -0.0, 0.0);
            assertThat(Elements.readLongs(x.sort(0, true).indices())).containsExactly(0, 1, 2, 3);
        }
    }

    @Test
    void int64ValuesSortExactly() {
        long big = (1L << 60) + 1;
        Tensor x = Tensor.of(new long[] {big, big - 1, -big}, 3);
        Tensor.Sorted s = x.sort(0, false);
        assertThat(Elements.readLongs(s.values())).containsExactly(-big, big - 1, big);
    }

    @Test
    void sortOfA0DimTensorIsItself() {
        Tensor.Sorted s = Tensor.scalar(4).sort(0, false);
        assertThat(s.values().shape()).isEmpty();
        assertThat(s.values().item()).isEqualTo(4);
        assertThat(s.indices().item()).isEqualTo(0);
        Tensor.TopK t = Tensor.scalar(4).topk(1, 0, true);
        assertThat(t.values().item()).isEqualTo(4);
    }
}
