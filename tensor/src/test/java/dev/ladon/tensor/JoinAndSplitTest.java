package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** cat and stack against index loops; split and chunk as views with torch's piece sizes. */
class JoinAndSplitTest {

    @Test
    void catJoinsAlongAnyDimAndPromotesDtypes() {
        Random rng = new Random(1);
        DType[] types = {DType.FLOAT32, DType.FLOAT64, DType.INT64, DType.INT32};
        for (int trial = 0; trial < 80; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            int d = rng.nextInt(shape.length);
            int parts = 1 + rng.nextInt(4);
            List<Tensor> tensors = new ArrayList<>();
            List<double[]> values = new ArrayList<>();
            int[] sizes = new int[parts];
            DType result = null;
            for (int p = 0; p < parts; p++) {
                sizes[p] = rng.nextInt(4); // empty pieces included
                int[] s = shape.clone();
                s[d] = sizes[p];
                DType dtype = types[rng.nextInt(types.length)];
                result = result == null ? dtype : DType.promote(result, dtype);
                Tensor t = Layout.values()[rng.nextInt(4)].random(rng, dtype, s, -9, 9);
                tensors.add(t);
                values.add(Elements.read(t));
            }
            int[] outShape = shape.clone();
            outShape[d] = Arrays.stream(sizes).sum();
            double[] expected = new double[Elements.numel(outShape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, outShape);
                int p = 0;
                while (idx[d] >= sizes[p]) {
                    idx[d] -= sizes[p];
                    p++;
                }
                int[] s = shape.clone();
                s[d] = sizes[p];
                expected[i] = values.get(p)[Elements.ravel(idx, s)];
            }
            Elements.assertClose("cat dim " + d + " sizes " + Arrays.toString(sizes), Tensor.cat(tensors,
                    rng.nextBoolean() ? d : d - shape.length), result, outShape, expected, 0);
        }
    }

    @Test
    void stackInsertsANewDimAtAnyPosition() {
        Random rng = new Random(2);
        for (int trial = 0; trial < 60; trial++) {
            int[] shape = Layout.randomShape(rng, 3);
            int d = rng.nextInt(shape.length + 1);
            int parts = 1 + rng.nextInt(4);
            List<Tensor> tensors = new ArrayList<>();
            List<double[]> values = new ArrayList<>();
            for (int p = 0; p < parts; p++) {
                Tensor t = Layout.values()[rng.nextInt(4)].random(rng, DType.FLOAT32, shape, -9, 9);
                tensors.add(t);
                values.add(Elements.read(t));
            }
            int[] outShape = new int[shape.length + 1];
            for (int k = 0, j = 0; k < outShape.length; k++) {
                outShape[k] = k == d ? parts : shape[j++];
            }
            double[] expected = new double[Elements.numel(outShape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, outShape);
                int[] src = new int[shape.length];
                for (int k = 0, j = 0; k < idx.length; k++) {
                    if (k != d) {
                        src[j++] = idx[k];
                    }
                }
                expected[i] = values.get(idx[d])[Elements.ravel(src, shape)];
            }
            Elements.assertClose("stack at " + d, Tensor.stack(tensors, d), DType.FLOAT32, outShape, expected, 0);
        }
    }

    @Test
    void splitGivesViewsOfTheRequestedSizeWithASmallerLastPiece() {
        Tensor x = Tensor.of(new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, 2, 7);
        List<Tensor> pieces = x.split(3, 1);
        assertThat(pieces).hasSize(3);
        assertThat(pieces.get(0).shape()).containsExactly(2, 3);
        assertThat(pieces.get(2).shape()).containsExactly(2, 1);
        assertThat(Elements.read(pieces.get(1))).containsExactly(3, 4, 5, 10, 11, 12);
        assertThat(Elements.read(pieces.get(2))).containsExactly(6, 13);
        for (Tensor p : pieces) {
            assertThat(p.storage()).isSameAs(x.storage());
        }
        assertThat(Tensor.cat(pieces, 1).allClose(x, 0, 0)).isTrue();
        assertThat(x.split(7, -1)).hasSize(1);
        assertThat(x.split(100, 0).get(0).shape()).containsExactly(2, 7);
    }

    @Test
    void chunkSizesFollowTorch() {
        // torch.chunk uses pieces of ceil(n / chunks) and may return fewer than chunks pieces
        int[][] cases = {{6, 4, 2, 2, 2}, {7, 3, 3, 3, 1}, {5, 5, 1, 1, 1, 1, 1}, {3, 5, 1, 1, 1}, {8, 3, 3, 3, 2}};
        for (int[] c : cases) {
            Tensor x = Tensor.arange(c[0]);
            List<Tensor> pieces = x.chunk(c[1], 0);
            int[] sizes = pieces.stream().mapToInt(t -> t.size(0)).toArray();
            assertThat(sizes).as("chunk(" + c[1] + ") of " + c[0]).containsExactly(Arrays.copyOfRange(c, 2, c.length));
            long next = 0;
            for (Tensor p : pieces) {
                assertThat(p.storage()).isSameAs(x.storage());
                for (long v : Elements.readLongs(p)) {
                    assertThat(v).isEqualTo(next++);
                }
            }
        }
    }
}
