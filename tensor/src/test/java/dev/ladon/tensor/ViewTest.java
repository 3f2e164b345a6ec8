package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * View ops share storage and copy nothing; each is checked element by element against index arithmetic
 * written here, and view/reshape against a brute-force rule: a view exists exactly when the new shape's
 * elements sit at storage positions that are linear in the new index.
 */
class ViewTest {

    /** A random tensor in a random layout, additionally narrowed or permuted now and then. */
    static Tensor randomView(Random rng, int[] shape) {
        Layout layout = Layout.values()[rng.nextInt(4)];
        Tensor t = layout.random(rng, DType.FLOAT64, shape, -9, 9);
        if (shape.length >= 2 && rng.nextBoolean()) {
            // permute, then permute back through a contiguous copy of the permuted shape: a shuffled stride order
            int[] order = randomPermutation(rng, shape.length);
            int[] permuted = new int[shape.length];
            for (int i = 0; i < order.length; i++) {
                permuted[i] = shape[order[i]];
            }
            Tensor base = Layout.CONTIGUOUS.random(rng, DType.FLOAT64, permuted, -9, 9);
            int[] inverse = new int[order.length];
            for (int i = 0; i < order.length; i++) {
                inverse[order[i]] = i;
            }
            t = base.permute(inverse);
        }
        return t;
    }

    static int[] randomPermutation(Random rng, int n) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(i);
        }
        java.util.Collections.shuffle(l, rng);
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A random shape with exactly {@code numel} elements, sprinkled with size-1 dims. */
    static int[] randomShapeOf(Random rng, int numel) {
        List<Integer> dims = new ArrayList<>();
        int rest = numel;
        while (rest > 1) {
            List<Integer> divisors = new ArrayList<>();
            for (int f = 2; f <= rest; f++) {
                if (rest % f == 0) {
                    divisors.add(f);
                }
            }
            int f = rng.nextInt(3) == 0 ? rest : divisors.get(rng.nextInt(divisors.size()));
            dims.add(f);
            rest /= f;
        }
        int ones = rng.nextInt(3);
        for (int i = 0; i < ones; i++) {
            dims.add(rng.nextInt(dims.size() + 1), 1);
        }
        if (numel == 0) {
            dims.add(0);
        }
        return dims.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Whether t's elements, in row-major order, sit at storage positions that shape s can address with strides. */
    static boolean viewable(Tensor t, int[] s) {
        int n = t.numel();
        if (n == 0) {
            return true;
        }
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = Elements.storageIndex(t, Elements.unravel(i, t.shape()));
        }
        int[] strides = new int[s.length];
        int unit = 1;
        for (int d = s.length - 1; d >= 0; d--) {
            strides[d] = s[d] > 1 ? positions[unit] - positions[0] : 0;
            unit *= s[d];
        }
        for (int i = 0; i < n; i++) {
            int[] idx = Elements.unravel(i, s);
            int at = positions[0];
            for (int d = 0; d < s.length; d++) {
                at += idx[d] * strides[d];
            }
            if (at != positions[i]) {
                return false;
            }
        }
        return true;
    }

    @Test
    void viewSucceedsExactlyWhenTheLayoutAllowsItAndReshapeCopiesOnlyThen() {
        Random rng = new Random(17);
        int viewed = 0;
        int refused = 0;
        for (int trial = 0; trial < 600; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            Tensor x = randomView(rng, shape);
            int[] target = randomShapeOf(rng, x.numel());
            double[] values = Elements.read(x);
            String what = "tensor " + Arrays.toString(shape) + " strides " + Arrays.toString(x.strides()) + " -> "
                    + Arrays.toString(target);
            if (viewable(x, target)) {
                viewed++;
                Tensor v = x.view(target);
                assertThat(v.storage()).as(what).isSameAs(x.storage());
                assertThat(v.shape()).as(what).containsExactly(target);
                assertThat(Elements.read(v)).as(what).containsExactly(values);
                Tensor r = x.reshape(target);
                assertThat(r.storage()).as("reshape of a viewable layout must not copy: " + what).isSameAs(x.storage());
            } else {
                refused++;
                assertThatThrownBy(() -> x.view(target)).as(what)
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("view")
                        .hasMessageContaining(Arrays.toString(target))
                        .hasMessageContaining(Arrays.toString(shape));
                Tensor r = x.reshape(target);
                assertThat(r.storage()).as(what).isNotSameAs(x.storage());
                assertThat(r.isContiguous()).isTrue();
                assertThat(Elements.read(r)).as(what).containsExactly(values);
            }
        }
        // both outcomes must actually have been exercised
        assertThat(viewed).isGreaterThan(100);
        assertThat(refused).isGreaterThan(50);
    }

    @Test
    void viewWritesThroughToTheOriginal() {
        Tensor x = Tensor.zeros(DType.FLOAT64, 2, 6);
        Tensor v = x.view(3, 4);
        v.select(0, 1).fillInPlace(5);
        assertThat(Elements.read(x)).containsExactly(0, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0);
    }

    @Test
    void viewInfersOneDimension() {
        Tensor x = Tensor.zeros(4, 6);
        assertThat(x.view(-1, 3).shape()).containsExactly(8, 3);
        assertThat(x.view(2, -1, 2).shape()).containsExactly(2, 6, 2);
        assertThat(x.view(-1).shape()).containsExactly(24);
        assertThat(Tensor.zeros(0, 3).view(-1, 3).shape()).containsExactly(0, 3);
        assertThat(Tensor.scalar(2).view(1, 1).shape()).containsExactly(1, 1);
        assertThat(Tensor.zeros(1, 1).view().shape()).isEmpty();
    }

    @Test
    void incompatibleViewAndWrongSizeReshapeThrowNamingTheShapes() {
        Tensor t = Tensor.zeros(4, 6).mT();
        assertThatThrownBy(() -> t.view(24))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("view")
                .hasMessageContaining("[24]")
                .hasMessageContaining("[6, 4]")
                .hasMessageContaining("reshape");
        assertThatThrownBy(() -> t.reshape(5, 5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reshape")
                .hasMessageContaining("[6, 4]")
                .hasMessageContaining("[5, 5]");
        assertThatThrownBy(() -> t.view(-1, 5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("view")
                .hasMessageContaining("[-1, 5]");
        assertThatThrownBy(() -> t.reshape(-1, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("only one dimension can be -1");
        assertThatThrownBy(() -> t.reshape(-2, 12))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("invalid dimension -2");
    }

    // ---- permute, transpose, narrow, slice, select, expand -------------------------------------

    /** Asserts that v is a view of x whose element at index i is x's element at map(i). */
    interface IndexMap {
        int[] sourceIndex(int[] viewIndex);
    }

    static void assertViewOf(String what, Tensor x, Tensor v, int[] expectedShape, IndexMap map) {
        assertThat(v.shape()).as(what + " shape").containsExactly(expectedShape);
        assertThat(v.storage()).as(what + " shares storage").isSameAs(x.storage());
        double[] xv = Elements.read(x);
        double[] vv = Elements.read(v);
        for (int i = 0; i < vv.length; i++) {
            int[] idx = Elements.unravel(i, expectedShape);
            assertThat(vv[i]).as(what + " at " + Arrays.toString(idx))
                    .isEqualTo(xv[Elements.ravel(map.sourceIndex(idx), x.shape())]);
        }
    }

    @Test
    void permuteReordersDimsWithoutCopying() {
        Random rng = new Random(1);
        for (int trial = 0; trial < 100; trial++) {
            int[] shape = Layout.randomShape(rng, 5);
            Tensor x = randomView(rng, shape);
            int[] order = randomPermutation(rng, shape.length);
            int[] expected = new int[order.length];
            for (int i = 0; i < order.length; i++) {
                expected[i] = shape[order[i]];
            }
            assertViewOf("permute " + Arrays.toString(order), x, x.permute(order), expected, idx -> {
                int[] src = new int[idx.length];
                for (int i = 0; i < idx.length; i++) {
                    src[order[i]] = idx[i];
                }
                return src;
            });
        }
    }

    @Test
    void transposeAndMTSwapTwoDims() {
        Random rng = new Random(2);
        for (int trial = 0; trial < 60; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length < 2) {
                continue;
            }
            Tensor x = randomView(rng, shape);
            int a = rng.nextInt(shape.length) - (rng.nextBoolean() ? shape.length : 0);
            int b = rng.nextInt(shape.length);
            int na = a < 0 ? a + shape.length : a;
            int[] expected = shape.clone();
            expected[na] = shape[b];
            expected[b] = shape[na];
            IndexMap swap = idx -> {
                int[] src = idx.clone();
                src[na] = idx[b];
                src[b] = idx[na];
                return src;
            };
            assertViewOf("transpose", x, x.transpose(a, b), expected, swap);
            int r = shape.length;
            int[] mtShape = shape.clone();
            mtShape[r - 1] = shape[r - 2];
            mtShape[r - 2] = shape[r - 1];
            assertViewOf("mT", x, x.mT(), mtShape, idx -> {
                int[] src = idx.clone();
                src[r - 1] = idx[r - 2];
                src[r - 2] = idx[r - 1];
                return src;
            });
        }
    }

    @Test
    void narrowSliceAndSelectPickTheRightElements() {
        Random rng = new Random(3);
        for (int trial = 0; trial < 100; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            Tensor x = randomView(rng, shape);
            int d = rng.nextInt(shape.length);
            int n = shape[d];
            int start = rng.nextInt(n + 1);
            int length = rng.nextInt(n - start + 1);
            int[] ns = shape.clone();
            ns[d] = length;
            assertViewOf("narrow", x, x.narrow(d, start, length), ns, idx -> {
                int[] src = idx.clone();
                src[d] += start;
                return src;
            });

            // python slice semantics, negative bounds and bounds past the end included
            int s0 = rng.nextInt(2 * n + 3) - n - 1;
            int e0 = rng.nextInt(2 * n + 5) - n - 2;
            int step = 1 + rng.nextInt(3);
            List<Integer> picked = new ArrayList<>();
            int lo = Math.min(Math.max(s0 < 0 ? s0 + n : s0, 0), n);
            int hi = Math.min(Math.max(e0 < 0 ? e0 + n : e0, 0), n);
            for (int i = lo; i < hi; i += step) {
                picked.add(i);
            }
            int[] ss = shape.clone();
            ss[d] = picked.size();
            assertViewOf("slice " + s0 + ":" + e0 + ":" + step + " of " + n, x, x.slice(d, s0, e0, step), ss, idx -> {
                int[] src = idx.clone();
                src[d] = picked.get(idx[d]);
                return src;
            });

            int i = rng.nextInt(n);
            int index = rng.nextBoolean() ? i : i - n;
            int[] sel = new int[shape.length - 1];
            for (int k = 0, j = 0; k < shape.length; k++) {
                if (k != d) {
                    sel[j++] = shape[k];
                }
            }
            assertViewOf("select", x, x.select(d, index), sel, idx -> {
                int[] src = new int[shape.length];
                for (int k = 0, j = 0; k < shape.length; k++) {
                    src[k] = k == d ? i : idx[j++];
                }
                return src;
            });
        }
    }

    @Test
    void expandBroadcastsSizeOneDimsAndAddsLeadingDims() {
        Random rng = new Random(4);
        for (int trial = 0; trial < 60; trial++) {
            int[] target = Layout.randomShape(rng, 4);
            int[] shape = Layout.broadcastableTo(rng, target);
            Tensor x = randomView(rng, shape);
            int lead = target.length - shape.length;
            int[] arg = target.clone();
            for (int d = lead; d < target.length; d++) {
                if (shape[d - lead] == target[d] && rng.nextBoolean()) {
                    arg[d] = -1;
                }
            }
            IndexMap map = idx -> {
                int[] src = new int[shape.length];
                for (int d = 0; d < shape.length; d++) {
                    src[d] = shape[d] == 1 ? 0 : idx[d + lead];
                }
                return src;
            };
            assertViewOf("expand " + Arrays.toString(arg), x, x.expand(arg), target, map);
            assertViewOf("broadcastTo", x, x.broadcastTo(target), target, map);
        }
    }

    @Test
    void squeezeAndUnsqueezeAddAndRemoveSizeOneDims() {
        Random rng = new Random(5);
        for (int trial = 0; trial < 60; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            Tensor x = randomView(rng, shape);
            int[] squeezed = Arrays.stream(shape).filter(s -> s != 1).toArray();
            Tensor sq = x.squeeze();
            assertThat(sq.shape()).containsExactly(squeezed);
            assertThat(sq.storage()).isSameAs(x.storage());
            assertThat(Elements.read(sq)).containsExactly(Elements.read(x));
            for (int d = 0; d < shape.length; d++) {
                Tensor s1 = x.squeeze(d);
                if (shape[d] == 1) {
                    int dd = d;
                    int[] es = java.util.stream.IntStream.range(0, shape.length).filter(k -> k != dd).map(k -> shape[k])
                            .toArray();
                    assertThat(s1.shape()).containsExactly(es);
                } else {
                    assertThat(s1).as("squeeze of a dim that is not 1 returns the tensor itself").isSameAs(x);
                }
                assertThat(Elements.read(s1)).containsExactly(Elements.read(x));
            }
            for (int d = -shape.length - 1; d <= shape.length; d++) {
                Tensor u = x.unsqueeze(d);
                int at = d < 0 ? d + shape.length + 1 : d;
                int[] es = new int[shape.length + 1];
                for (int k = 0, j = 0; k < es.length; k++) {
                    es[k] = k == at ? 1 : shape[j++];
                }
                assertThat(u.shape()).as("unsqueeze " + d).containsExactly(es);
                assertThat(u.storage()).isSameAs(x.storage());
                assertThat(Elements.read(u)).containsExactly(Elements.read(x));
                // an unsqueezed contiguous tensor stays contiguous (its new dim's stride must fit the layout)
                assertThat(u.isContiguous()).isEqualTo(x.isContiguous());
            }
        }
    }

    @Test
    void flattenMergesARangeOfDims() {
        Random rng = new Random(6);
        for (int trial = 0; trial < 60; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            Tensor x = randomView(rng, shape);
            double[] values = Elements.read(x);
            assertThat(x.flatten().shape()).containsExactly(x.numel());
            assertThat(Elements.read(x.flatten())).containsExactly(values);
            if (shape.length == 0) {
                assertThat(x.flatten(0, -1).shape()).containsExactly(1);
                continue;
            }
            int a = rng.nextInt(shape.length);
            int b = a + rng.nextInt(shape.length - a);
            List<Integer> expected = new ArrayList<>();
            for (int d = 0; d < a; d++) {
                expected.add(shape[d]);
            }
            int merged = 1;
            for (int d = a; d <= b; d++) {
                merged *= shape[d];
            }
            expected.add(merged);
            for (int d = b + 1; d < shape.length; d++) {
                expected.add(shape[d]);
            }
            Tensor f = x.flatten(a, b);
            assertThat(f.shape()).containsExactly(expected.stream().mapToInt(Integer::intValue).toArray());
            assertThat(Elements.read(f)).containsExactly(values);
        }
    }

    @Test
    void contiguousCopiesOnlyWhenNeededAndCopyAlwaysCopies() {
        Random rng = new Random(7);
        for (Layout layout : Layout.values()) {
            Tensor x = layout.random(rng, DType.FLOAT32, new int[] {3, 4, 5}, -1, 1);
            Tensor c = x.contiguous();
            assertThat(c.isContiguous()).isTrue();
            assertThat(Elements.read(c)).containsExactly(Elements.read(x));
            if (layout == Layout.CONTIGUOUS) {
                assertThat(c).isSameAs(x);
            } else {
                assertThat(x.isContiguous()).as(layout.name()).isFalse();
                assertThat(c.storage()).isNotSameAs(x.storage());
            }
            Tensor copy = x.copy();
            assertThat(copy.storage()).isNotSameAs(x.storage());
            assertThat(Elements.read(copy)).containsExactly(Elements.read(x));
        }
    }

    @Test
    void sizeOneDimsWithOddStridesStillCountAsContiguous() {
        // narrow(0, 1, 1) of a [2, 3] leaves a size-1 dim whose stride (3) no longer matters
        Tensor x = Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 2, 3).narrow(0, 1, 1);
        assertThat(x.isContiguous()).isTrue();
        assertThat(Elements.read(x.view(3))).containsExactly(3, 4, 5);
        assertThat(Elements.read(x.contiguous())).containsExactly(3, 4, 5);
        assertThat(Elements.read(x.add(x))).containsExactly(6, 8, 10);
    }
}
