package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** gather, scatterAdd, indexSelect, indexAdd, embedding, oneHot, tril and triu against index loops. */
class IndexingTest {
    private static final DType[] VALUE_TYPES = {DType.FLOAT32, DType.FLOAT64, DType.INT64};
    private static final DType[] INDEX_TYPES = {DType.INT32, DType.INT64};

    /** A random index tensor of {@code shape} with values in [0, bound), in a random layout. */
    static Tensor randomIndex(Random rng, int[] shape, int bound, DType dtype) {
        // EXPANDED would only repeat values: fine for gather, and a good test of repeated targets in scatterAdd
        return Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, 0, bound);
    }

    static int[] withDim(int[] shape, int d, int size) {
        int[] s = shape.clone();
        s[d] = size;
        return s;
    }

    @Test
    void gatherPicksAlongDimByIndex() {
        Random rng = new Random(1);
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            int d = rng.nextInt(shape.length);
            int[] ishape = new int[shape.length];
            for (int k = 0; k < shape.length; k++) {
                ishape[k] = k == d ? 1 + rng.nextInt(6) : 1 + rng.nextInt(shape[k]);
            }
            DType dtype = VALUE_TYPES[trial % 3];
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -9, 9);
            Tensor index = randomIndex(rng, ishape, shape[d], INDEX_TYPES[rng.nextInt(2)]);
            double[] xv = Elements.read(x);
            long[] iv = Elements.readLongs(index);
            double[] expected = new double[iv.length];
            for (int i = 0; i < iv.length; i++) {
                int[] idx = Elements.unravel(i, ishape);
                idx[d] = (int) iv[i];
                expected[i] = xv[Elements.ravel(idx, shape)];
            }
            Elements.assertClose("gather dim " + d + " of " + Arrays.toString(shape) + " by " + Arrays.toString(ishape),
                    x.gather(rng.nextBoolean() ? d : d - shape.length, index), dtype, ishape, expected, 0);
        }
    }

    @Test
    void scatterAddAccumulatesRepeatedTargets() {
        Random rng = new Random(2);
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            int d = rng.nextInt(shape.length);
            int[] ishape = new int[shape.length];
            for (int k = 0; k < shape.length; k++) {
                ishape[k] = k == d ? 1 + rng.nextInt(8) : 1 + rng.nextInt(shape[k]);
            }
            DType dtype = VALUE_TYPES[trial % 3];
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -9, 9);
            Tensor index = randomIndex(rng, ishape, shape[d], INDEX_TYPES[rng.nextInt(2)]);
            Tensor src = Layout.values()[rng.nextInt(4)].random(rng, dtype, ishape, -9, 9);
            double[] expected = Elements.read(x);
            double[] before = expected.clone();
            long[] iv = Elements.readLongs(index);
            double[] sv = Elements.read(src);
            for (int i = 0; i < iv.length; i++) {
                int[] idx = Elements.unravel(i, ishape);
                idx[d] = (int) iv[i];
                expected[Elements.ravel(idx, shape)] += sv[i];
            }
            Tensor out = x.scatterAdd(d, index, src);
            Elements.assertClose("scatterAdd dim " + d, out, dtype, shape, expected, Elements.tolerance(dtype));
            assertThat(Elements.read(x)).as("input unchanged").containsExactly(before);
        }
    }

    @Test
    void indexSelectTakesSlicesInIndexOrderWithRepeats() {
        Random rng = new Random(3);
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (shape.length == 0) {
                continue;
            }
            int d = trial % 3 == 0 ? 0 : rng.nextInt(shape.length);
            int n = rng.nextInt(9);
            DType dtype = VALUE_TYPES[trial % 3];
            Layout layout = trial % 2 == 0 ? Layout.CONTIGUOUS : Layout.values()[rng.nextInt(4)];
            Tensor x = layout.random(rng, dtype, shape, -9, 9);
            Tensor index = randomIndex(rng, new int[] {n}, shape[d], INDEX_TYPES[rng.nextInt(2)]);
            double[] xv = Elements.read(x);
            long[] iv = Elements.readLongs(index);
            int[] outShape = withDim(shape, d, n);
            double[] expected = new double[Elements.numel(outShape)];
            for (int i = 0; i < expected.length; i++) {
                int[] idx = Elements.unravel(i, outShape);
                idx[d] = (int) iv[idx[d]];
                expected[i] = xv[Elements.ravel(idx, shape)];
            }
            Elements.assertClose("indexSelect dim " + d + " " + layout, x.indexSelect(d, index), dtype, outShape, expected,
                    0);
        }
    }

    @Test
    void indexAddAddsSourceSlicesIntoIndexedSlices() {
        Random rng = new Random(4);
        for (int trial = 0; trial < 120; trial++) {
            int[] shape = Layout.randomShape(rng, 4);
            if (trial < 6) {
                shape = new int[] {5, 200}; // rows wide enough to be split across threads
            }
            if (shape.length == 0) {
                continue;
            }
            int d = trial % 3 == 0 ? 0 : rng.nextInt(shape.length);
            int n = rng.nextInt(9);
            DType dtype = VALUE_TYPES[trial % 3];
            Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, -9, 9);
            Tensor index = randomIndex(rng, new int[] {n}, shape[d], INDEX_TYPES[rng.nextInt(2)]);
            int[] srcShape = withDim(shape, d, n);
            Layout srcLayout = trial % 2 == 0 ? Layout.CONTIGUOUS : Layout.values()[rng.nextInt(4)];
            Tensor src = srcLayout.random(rng, dtype, srcShape, -9, 9);
            double[] expected = Elements.read(x);
            long[] iv = Elements.readLongs(index);
            double[] sv = Elements.read(src);
            for (int i = 0; i < sv.length; i++) {
                int[] idx = Elements.unravel(i, srcShape);
                idx[d] = (int) iv[idx[d]];
                expected[Elements.ravel(idx, shape)] += sv[i];
            }
            Elements.assertClose("indexAdd dim " + d + " of " + Arrays.toString(shape), x.indexAdd(d, index, src), dtype,
                    shape, expected, Elements.tolerance(dtype));
        }
    }

    @Test
    void indexAddOfWideRowsSplitAcrossThreadsAccumulatesRepeats() {
        // the embedding backward: rows of 300 columns are split by column across threads
        Random rng = new Random(7);
        ThreadCount.run(3, () -> {
            Tensor x = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, new int[] {6, 300}, -1, 1);
            Tensor index = Tensor.of(new long[] {5, 0, 5, 2, 5}, 5);
            Tensor src = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, new int[] {5, 300}, -1, 1);
            double[] expected = Elements.read(x);
            double[] sv = Elements.read(src);
            long[] iv = Elements.readLongs(index);
            for (int j = 0; j < 5; j++) {
                for (int c = 0; c < 300; c++) {
                    expected[(int) iv[j] * 300 + c] += sv[j * 300 + c];
                }
            }
            Elements.assertClose("indexAdd", x.indexAdd(0, index, src), DType.FLOAT32, new int[] {6, 300}, expected, 1e-6);
            Tensor picked = x.indexSelect(0, index);
            double[] xv = Elements.read(x);
            double[] rows = new double[5 * 300];
            for (int j = 0; j < 5; j++) {
                System.arraycopy(xv, (int) iv[j] * 300, rows, j * 300, 300);
            }
            Elements.assertClose("indexSelect", picked, DType.FLOAT32, new int[] {5, 300}, rows, 0);
        });
    }

    @Test
    void embeddingLooksUpRowsForIdsOfAnyShape() {
        Random rng = new Random(5);
        for (int trial = 0; trial < 40; trial++) {
            int vocab = 1 + rng.nextInt(9);
            int dim = 1 + rng.nextInt(7);
            DType dtype = trial % 2 == 0 ? DType.FLOAT32 : DType.FLOAT64;
            Tensor weight = Layout.values()[rng.nextInt(4)].random(rng, dtype, new int[] {vocab, dim}, -1, 1);
            int[] idShape = Layout.randomShape(rng, 3);
            Tensor ids = randomIndex(rng, idShape, vocab, INDEX_TYPES[rng.nextInt(2)]);
            double[] w = Elements.read(weight);
            long[] iv = Elements.readLongs(ids);
            double[] expected = new double[iv.length * dim];
            for (int i = 0; i < iv.length; i++) {
                System.arraycopy(w, (int) iv[i] * dim, expected, i * dim, dim);
            }
            int[] outShape = Arrays.copyOf(idShape, idShape.length + 1);
            outShape[idShape.length] = dim;
            Elements.assertClose("embedding", Tensor.embedding(weight, ids), dtype, outShape, expected, 0);
        }
    }

    @Test
    void oneHotEncodesEachIndex() {
        Tensor ids = Tensor.of(new long[] {2, 0, 3, 3, 1, 0}, 2, 3).mT();
        long[] iv = Elements.readLongs(ids);
        long[] expected = new long[iv.length * 4];
        for (int i = 0; i < iv.length; i++) {
            expected[i * 4 + (int) iv[i]] = 1;
        }
        Elements.assertExact("oneHot", ids.oneHot(4), DType.INT64, new int[] {3, 2, 4}, expected);
        Elements.assertExact("oneHot int32", Tensor.of(new int[] {1}, 1).oneHot(2), DType.INT64, new int[] {1, 2},
                new long[] {0, 1});
    }

    @Test
    void trilAndTriuKeepTheRightTriangleOfEveryMatrixInABatch() {
        Random rng = new Random(6);
        int[][] shapes = {{4, 4}, {3, 5}, {5, 2}, {2, 3, 4}, {2, 1, 3, 3}, {1, 1}};
        for (int[] shape : shapes) {
            for (int k = -3; k <= 3; k++) {
                for (DType dtype : new DType[] {DType.FLOAT32, DType.INT64}) {
                    Tensor x = Layout.values()[rng.nextInt(4)].random(rng, dtype, shape, 1, 9);
                    double[] v = Elements.read(x);
                    double[] lower = new double[v.length];
                    double[] upper = new double[v.length];
                    for (int i = 0; i < v.length; i++) {
                        int[] idx = Elements.unravel(i, shape);
                        int row = idx[shape.length - 2];
                        int col = idx[shape.length - 1];
                        lower[i] = col - row <= k ? v[i] : 0;
                        upper[i] = col - row >= k ? v[i] : 0;
                    }
                    Elements.assertClose("tril " + k, x.tril(k), dtype, shape, lower, 0);
                    Elements.assertClose("triu " + k, x.triu(k), dtype, shape, upper, 0);
                }
            }
        }
    }
}
