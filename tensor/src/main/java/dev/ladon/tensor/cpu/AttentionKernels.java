package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;
import java.util.concurrent.ConcurrentSkipListMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused scaled-dot-product attention, forward and backward, in the flash-attention style: keys are visited
 * in blocks while each query row keeps a running maximum and a running sum of exponentials (the online
 * softmax), so no [Tq, Tk] score matrix is ever stored. The forward keeps only the output and the
 * per-row log-sum-exp; the backward recomputes each score block from them.
 *
 * <p>Score of query i and key j: {@code scale * (q_i . k_j + q_i . rel[h, j - i + Tq - 1])}, the second
 * term only with the Transformer-XL relative table {@code rel}. Causal: key j is visible from query i iff
 * {@code j <= i + Tk - Tq}, i.e. the first {@code Tk - Tq} keys are a memory that every query sees.
 *
 * <p>Backward, with P the softmax, dO the output gradient and Delta_i = dO_i . O_i (equal to
 * sum_j P_ij dP_ij, which saves storing P): dP_ij = dO_i . v_j, dS_ij = P_ij (dP_ij - Delta_i), and
 * with t_ij = scale dS_ij: dq_i += t_ij (k_j + rel_r), dk_j += t_ij q_i, drel_r += t_ij q_i, dv_j += P_ij dO_i.
 *
 * <p>float32 runs the vectorised path; float64 (for gradient checks) runs a plain scalar path with the
 * same algorithm. Operands are read through their strides (broadcast K/V shared by heads cost no copy);
 * only an operand whose last dim is not contiguous is copied first.
 */
final class AttentionKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    /** Keys per block: four vectors, so one query's block of scores sits in four register accumulators. */
    private static final int BLOCK_K = 4 * F.length();
    /**
     * Queries per forward task. A task packs (and with RoPE rotates) the key blocks it needs unless the task
     * before it, on the same (batch, head), already did ({@link #KEY_CACHE_BYTES}).
     */
    private static final int BLOCK_Q = 32;
    /**
     * Bytes of packed key blocks a forward chunk keeps for the query blocks of one (batch, head): a quarter of
     * a 1 MiB L2 (16 blocks of 64 keys at d = 64), so a block packed for one query block is still in cache
     * for the next.
     */
    private static final long KEY_CACHE_BYTES = 256 * 1024;
    /**
     * Query (or key) rows handled together by the register-blocked loops: each vector loaded from a key or
     * value row then feeds four FMAs instead of one (with two vectors per row: 8 accumulators).
     */
    private static final int ROWS = 4;
    /**
     * Whether the register-blocked loops may keep 16 vector accumulators (4 rows x 4 vectors): with 512-bit
     * vectors there are 32 registers; with AVX2's 16 they would spill (see {@link #addWeightedRowsToFour}).
     */
    private static final boolean WIDE_ROWS = F.vectorBitSize() >= 512;

    private AttentionKernels() {
    }

    /** The sizes of one call and its causal rule. */
    private record Geometry(int batch, int heads, int tq, int tk, int d, int dv, boolean causal) {
        /** One past the last key that query i sees. */
        int visibleEnd(int i) {
            return causal ? i + tk - tq + 1 : tk;
        }

        /** The row of rel that holds the distance of key j to query i. */
        int relRow(int i, int j) {
            return j - i + tq - 1;
        }
    }

    /** Row (b, h, t) of a [B, H, T, D] operand starts at {@code at(b, h, t)}; its D elements are contiguous. */
    private record Rows(int offset, int batchStride, int headStride, int rowStride) {
        static Rows of(Tensor t) {
            return new Rows(t.offset(), t.stride(0), t.stride(1), t.stride(2));
        }

        /** rel [H, Tk, D] seen as one batch entry. */
        static Rows ofRel(Tensor rel) {
            return new Rows(rel.offset(), 0, rel.stride(0), rel.stride(1));
        }

        int at(int b, int h, int t) {
            return offset + b * batchStride + h * headStride + t * rowStride;
        }

        /** Rows first, first + 1, ... of a buffer holding one block of rows of width floats each. */
        static Rows block(int first, int width) {
            return new Rows(-first * width, 0, 0, width);
        }
    }

    /** RoPE inside the kernel: the tables of the queries' positions and of the keys'. */
    private record Rotation(RotationTable queries, RotationTable keys) {
        static Rotation of(FusedOps.AttentionRotation r) {
            return r == null ? null
                    : new Rotation(RotationTable.of(r.queryCos(), r.querySin()), RotationTable.of(r.keyCos(), r.keySin()));
        }
    }

    /**
     * One rotary table as arrays (row t at t * half), with its sines negated for the inverse rotation; rotates
     * operand rows into a buffer and gradient rows back in place ({@link RotaryKernels} rotates each row).
     */
    private record RotationTable(float[] cos, float[] sin, float[] negativeSin, int half) {
        static RotationTable of(Tensor cos, Tensor sin) {
            float[] s = sin.toFloatArray();
            float[] negative = new float[s.length];
            for (int i = 0; i < s.length; i++) {
                negative[i] = -s[i];
            }
            return new RotationTable(cos.toFloatArray(), s, negative, cos.size(1));
        }

        /** Rows [t0, t1) of (b, h), rotated for their positions, into dst (row t at (t - t0) * width). */
        float[] rotate(float[] src, Rows rows, int b, int h, int t0, int t1, int width, float[] dst) {
            for (int t = t0; t < t1; t++) {
                RotaryKernels.rotateFloat(src, rows.at(b, h, t), cos, sin, t * half, t * half, half, width, dst,
                        (t - t0) * width);
            }
            return dst;
        }

        /** Gradient rows [t0, t1) of (b, h) turned back from the rotated frame, in place. */
        void rotateBack(float[] grad, Rows rows, int b, int h, int t0, int t1, int width) {
            for (int t = t0; t < t1; t++) {
                int at = rows.at(b, h, t);
                RotaryKernels.rotateFloat(grad, at, cos, negativeSin, t * half, t * half, half, width, grad, at);
            }
        }
    }

    /** Rotation inside the kernel is written for float32 without rel; the backend composes the other cases. */
    private static void requireRotationPath(Tensor q, Tensor rel, FusedOps.AttentionRotation rotation) {
        if (rotation != null && (q.dtype() != DType.FLOAT32 || rel != null)) {
            throw new IllegalStateException("attention: RoPE inside the kernel needs float32 and no relative term, got "
                    + q.dtype() + (rel == null ? "" : " with rel"));
        }
    }

    /** t itself when its last dim is contiguous (the kernels read rows as runs), else a contiguous copy. */
    private static Tensor withContiguousRows(Tensor t) {
        return t == null || t.size(-1) <= 1 || t.stride(-1) == 1 ? t : t.contiguous();
    }

    static Tensor[] forward(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        return forward(q, k, v, rel, null, scale, causal);
    }

    /**
     * With {@code rotation} (float32 and no rel only; null for none) q and k are rotated (RoPE) inside the
     * kernel, block by block, as if {@code rotary} had been applied to them first.
     */
    static Tensor[] forward(Tensor q, Tensor k, Tensor v, Tensor rel, FusedOps.AttentionRotation rotation, double scale,
            boolean causal) {
        requireRotationPath(q, rel, rotation);
        q = withContiguousRows(q);
        k = withContiguousRows(k);
        v = withContiguousRows(v);
        rel = withContiguousRows(rel);
        Geometry g = new Geometry(q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3), causal);
        // Outputs and gradients are laid out like their operand (see CpuBackend.newTensorInOrderOf): for heads split
        // off a projection they go back through the permute, and merge into [B, T, H * D], without a copy.
        Tensor out = CpuBackend.INSTANCE.newTensorInOrderOf(q.dtype(), new int[] {g.batch, g.heads, g.tq, g.dv}, q);
        Tensor lse = CpuBackend.INSTANCE.newTensor(q.dtype(), g.batch, g.heads, g.tq);
        if (q.dtype() == DType.FLOAT32) {
            forwardFloat(g, q, k, v, rel, Rotation.of(rotation), (float) scale, out, lse);
        } else {
            forwardDouble(g, q, k, v, rel, scale, out, lse);
        }
        return new Tensor[] {out, lse};
    }

    static Tensor[] backward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, Tensor out, Tensor lse,
            double scale, boolean causal) {
        return backward(gradOut, q, k, v, rel, null, out, lse, scale, causal);
    }

    /** The backward of {@link #forward(Tensor, Tensor, Tensor, Tensor, FusedOps.AttentionRotation, double, boolean)}. */
    static Tensor[] backward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, FusedOps.AttentionRotation rotation,
            Tensor out, Tensor lse, double scale, boolean causal) {
        return backward(gradOut, q, k, v, rel, rotation, out, lse, scale, causal, null);
    }

    /**
     * The backward with dq, dk and dv written into {@code into} (three zero-filled tensors shaped as q, k and v,
     * with contiguous rows) instead of new tensors; null for new ones.
     */
    static Tensor[] backward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, FusedOps.AttentionRotation rotation,
            Tensor out, Tensor lse, double scale, boolean causal, Tensor[] into) {
        requireRotationPath(q, rel, rotation);
        gradOut = withContiguousRows(gradOut);
        q = withContiguousRows(q);
        k = withContiguousRows(k);
        v = withContiguousRows(v);
        rel = withContiguousRows(rel);
        out = withContiguousRows(out);
        lse = lse.contiguous();
        Geometry g = new Geometry(q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3), causal);
        Tensor dq = into != null ? into[0] : CpuBackend.INSTANCE.newTensorInOrderOf(q.dtype(), q.shape(), q);
        Tensor dk = into != null ? into[1] : CpuBackend.INSTANCE.newTensorInOrderOf(q.dtype(), k.shape(), k);
        Tensor dv = into != null ? into[2] : CpuBackend.INSTANCE.newTensorInOrderOf(q.dtype(), v.shape(), v);
        Tensor drel = rel == null ? null : CpuBackend.INSTANCE.newTensor(q.dtype(), g.heads, g.tk, g.d);
        if (q.dtype() == DType.FLOAT32) {
            backwardFloat(g, gradOut, q, k, v, rel, Rotation.of(rotation), out, lse, (float) scale, dq, dk, dv, drel);
        } else {
            backwardDouble(g, gradOut, q, k, v, rel, out, lse, scale, dq, dk, dv, drel);
        }
        return new Tensor[] {dq, dk, dv, drel};
    }

    // ---- float32 ---------------------------------------------------------------------------------

    private static void forwardFloat(Geometry g, Tensor q, Tensor k, Tensor v, Tensor rel, Rotation rotation,
            float scale, Tensor out, Tensor lse) {
        float[] qAll = ElementwiseKernels.floats(q);
        float[] ka = ElementwiseKernels.floats(k);
        float[] va = ElementwiseKernels.floats(v);
        float[] oa = ElementwiseKernels.floats(out);
        float[] la = ElementwiseKernels.floats(lse);
        Rows qAllRows = Rows.of(q);
        Rows kr = Rows.of(k);
        Rows vr = Rows.of(v);
        Rows outRows = Rows.of(out);
        float[] relT = rel == null ? null : packRelTransposed(g, rel);
        int relStride = g.tk + BLOCK_K;
        int queryBlocks = (g.tq + BLOCK_Q - 1) / BLOCK_Q;
        int keyBlocks = (g.tk + BLOCK_K - 1) / BLOCK_K;
        // A chunk's tasks run (batch, head) by (batch, head), each query block after the other: the key blocks
        // of one (batch, head), rotated and packed, are kept for its later query blocks when they fit in a
        // share of L2, else one block is kept (reused only when the next task needs the same one).
        int slots = (long) keyBlocks * g.d * BLOCK_K * Float.BYTES <= KEY_CACHE_BYTES ? keyBlocks : 1;
        Parallel.forRange(g.batch * g.heads * queryBlocks, 1, (task0, task1) -> {
            float[][] packedKeys = new float[slots][g.d * BLOCK_K];
            // The same blocks' value rows side by side (rows dv apart, not the projection's row stride): P V reads
            // each of them once per four query rows.
            float[][] packedValues = new float[slots][BLOCK_K * g.dv];
            // Which (batch, head) and key block each slot holds: bh * keyBlocks + key block, -1 for none.
            long[] packedFor = new long[slots];
            java.util.Arrays.fill(packedFor, -1);
            float[] s = new float[ROWS * BLOCK_K];
            float[] acc = new float[BLOCK_Q * g.dv];
            float[] rowMax = new float[BLOCK_Q];
            float[] rowSum = new float[BLOCK_Q];
            float[] queryBlock = rotation == null ? null : new float[BLOCK_Q * g.d];
            float[] rotatedKeys = rotation == null ? null : new float[BLOCK_K * g.d];
            for (int task = task0; task < task1; task++) {
                int bh = task / queryBlocks;
                int b = bh / g.heads;
                int h = bh % g.heads;
                int i0 = (task % queryBlocks) * BLOCK_Q;
                int i1 = Math.min(i0 + BLOCK_Q, g.tq);
                java.util.Arrays.fill(acc, 0f);
                java.util.Arrays.fill(rowMax, Float.NEGATIVE_INFINITY);
                java.util.Arrays.fill(rowSum, 0f);
                // With RoPE the block's query rows are rotated into a buffer and read from there.
                float[] qa = rotation == null ? qAll
                        : rotation.queries().rotate(qAll, qAllRows, b, h, i0, i1, g.d, queryBlock);
                Rows qr = rotation == null ? qAllRows : Rows.block(i0, g.d);
                int keyEnd = g.visibleEnd(i1 - 1);
                for (int j0 = 0; j0 < keyEnd; j0 += BLOCK_K) {
                    int j1 = Math.min(j0 + BLOCK_K, g.tk);
                    int keyBlock = j0 / BLOCK_K;
                    float[] kt = packedKeys[keyBlock % slots];
                    float[] vb = packedValues[keyBlock % slots];
                    long stamp = (long) bh * keyBlocks + keyBlock;
                    if (packedFor[keyBlock % slots] != stamp) {
                        for (int j = j0; j < j1; j++) {
                            System.arraycopy(va, vr.at(b, h, j), vb, (j - j0) * g.dv, g.dv);
                        }
                        if (rotation == null) {
                            packTransposed(ka, kr, b, h, j0, j1, g.d, kt);
                        } else {
                            rotation.keys().rotate(ka, kr, b, h, j0, j1, g.d, rotatedKeys);
                            packTransposed(rotatedKeys, Rows.block(j0, g.d), b, h, j0, j1, g.d, kt);
                        }
                        packedFor[keyBlock % slots] = stamp;
                    }
                    int i = i0;
                    if (relT == null) {
                        // ROWS queries at a time: each key vector loaded serves ROWS rows of scores and of P V.
                        for (; i + ROWS <= i1; i += ROWS) {
                            int widest = Math.min(j1, g.visibleEnd(i + ROWS - 1)) - j0;
                            if (widest <= 0) {
                                continue;
                            }
                            scoreRows(qa, qr.at(b, h, i), qr.rowStride(), g.d, kt, scale, s, widest);
                            for (int r = 0; r < ROWS; r++) {
                                int n = Math.min(j1, g.visibleEnd(i + r)) - j0;
                                onlineSoftmaxStep(s, r * BLOCK_K, n, i + r - i0, rowMax, rowSum, acc, g.dv);
                            }
                            addWeightedRowsToFour(s, 0, BLOCK_K, 1, widest, vb, 0, g.dv, acc, (i - i0) * g.dv, g.dv,
                                    g.dv);
                        }
                    }
                    for (; i < i1; i++) {
                        int n = Math.min(j1, g.visibleEnd(i)) - j0;
                        if (n <= 0) {
                            continue;
                        }
                        int relBase = (h * g.d) * relStride + g.relRow(i, j0);
                        scores(qa, qr.at(b, h, i), g.d, kt, relT, relBase, relStride, scale, s);
                        onlineSoftmaxStep(s, 0, n, i - i0, rowMax, rowSum, acc, g.dv);
                        addWeightedRows(s, 0, 1, n, vb, 0, g.dv, acc, (i - i0) * g.dv, g.dv);
                    }
                }
                for (int i = i0; i < i1; i++) {
                    int row = i - i0;
                    int flat = bh * g.tq + i;
                    // A row with no visible key (only when Tk = 0) gets output 0 and log-sum-exp -inf.
                    float inv = rowSum[row] > 0 ? 1f / rowSum[row] : 0f;
                    int o = outRows.at(b, h, i);
                    for (int c = 0; c < g.dv; c++) {
                        oa[o + c] = acc[row * g.dv + c] * inv;
                    }
                    la[flat] = rowMax[row] + (float) Math.log(rowSum[row]);
                }
            }
        });
    }

    /**
     * The online-softmax update of one query row for one key block: the block's scores s[off ..+ BLOCK_K)
     * (n of them visible) become exp(s - newMax) (0 for the rest), and the row's running sum and output
     * accumulator, kept under the old maximum, are rescaled to the new one.
     */
    private static void onlineSoftmaxStep(float[] s, int off, int n, int row, float[] rowMax, float[] rowSum,
            float[] acc, int dv) {
        if (n <= 0) {
            java.util.Arrays.fill(s, off, off + BLOCK_K, 0f);
            return;
        }
        float newMax = Math.max(rowMax[row], blockMax(s, off, n));
        // What was summed under the old maximum is rescaled to the new one (exp(-inf) = 0 at first).
        float correction = FloatMath.exp(rowMax[row] - newMax);
        if (correction != 1f) {
            scaleInPlace(acc, row * dv, dv, correction);
        }
        rowSum[row] = rowSum[row] * correction + expShifted(s, off, n, newMax);
        rowMax[row] = newMax;
    }

    /**
     * Per (batch, head): for each key block, the probabilities P and the scaled score gradients
     * T = scale * P (dP - Delta) of every query against the block go into two [Tq, BLOCK_K] tiles; then
     * dv and dk of the block's keys, dq of every query and drel along each diagonal (one relative
     * distance) are sums over a tile's columns, rows or diagonals, each accumulated in registers.
     */
    private static void backwardFloat(Geometry g, Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel,
            Rotation rotation, Tensor out, Tensor lse, float scale, Tensor dq, Tensor dk, Tensor dv, Tensor drel) {
        float[] ga = ElementwiseKernels.floats(gradOut);
        float[] qAll = ElementwiseKernels.floats(q);
        float[] kAll = ElementwiseKernels.floats(k);
        float[] va = ElementwiseKernels.floats(v);
        float[] oa = ElementwiseKernels.floats(out);
        float[] la = ElementwiseKernels.floats(lse);
        float[] dqa = ElementwiseKernels.floats(dq);
        float[] dka = ElementwiseKernels.floats(dk);
        float[] dva = ElementwiseKernels.floats(dv);
        float[] rela = rel == null ? null : ElementwiseKernels.floats(rel);
        Rows gr = Rows.of(gradOut);
        Rows qAllRows = Rows.of(q);
        Rows kAllRows = Rows.of(k);
        Rows vr = Rows.of(v);
        Rows or = Rows.of(out);
        Rows dqr = Rows.of(dq);
        Rows dkr = Rows.of(dk);
        Rows dvr = Rows.of(dv);
        Rows rr = rel == null ? null : Rows.ofRel(rel);
        int lseOffset = lse.offset();
        float[] relT = rel == null ? null : packRelTransposed(g, rel);
        int relStride = g.tk + BLOCK_K;
        // drel sums over batch entries and queries: each thread chunk adds into its own table, summed at the end
        // in the order of the chunks' first (batch, head), whatever thread finished first.
        ConcurrentSkipListMap<Integer, float[]> relPartials = new ConcurrentSkipListMap<>();
        Parallel.forRange(g.batch * g.heads, 1, (bh0, bh1) -> {
            float[] kt = new float[g.d * BLOCK_K];
            float[] vt = new float[g.dv * BLOCK_K];
            float[] s = new float[ROWS * BLOCK_K];
            float[] dp = new float[ROWS * BLOCK_K];
            float[] pTile = new float[g.tq * BLOCK_K];
            float[] tTile = new float[g.tq * BLOCK_K];
            float[] delta = new float[g.tq];
            float[] drelPart = rel == null ? null : new float[g.heads * g.tk * g.d];
            float[] queryRows = rotation == null ? null : new float[g.tq * g.d];
            float[] keyBlock = rotation == null ? null : new float[BLOCK_K * g.d];
            for (int bh = bh0; bh < bh1; bh++) {
                int b = bh / g.heads;
                int h = bh % g.heads;
                for (int i = 0; i < g.tq; i++) {
                    delta[i] = dot(ga, gr.at(b, h, i), oa, or.at(b, h, i), g.dv);
                }
                // With RoPE the head's query rows, and each key block's rows, are rotated into buffers and read
                // from there; dq and dk are summed in the rotated frame and turned back when complete.
                float[] qa = rotation == null ? qAll
                        : rotation.queries().rotate(qAll, qAllRows, b, h, 0, g.tq, g.d, queryRows);
                Rows qr = rotation == null ? qAllRows : Rows.block(0, g.d);
                for (int j0 = 0; j0 < g.tk; j0 += BLOCK_K) {
                    int j1 = Math.min(j0 + BLOCK_K, g.tk);
                    float[] ka = rotation == null ? kAll
                            : rotation.keys().rotate(kAll, kAllRows, b, h, j0, j1, g.d, keyBlock);
                    Rows kr = rotation == null ? kAllRows : Rows.block(j0, g.d);
                    packTransposed(ka, kr, b, h, j0, j1, g.d, kt);
                    packTransposed(va, vr, b, h, j0, j1, g.dv, vt);
                    // Queries before firstQuery see none of these keys.
                    int firstQuery = g.causal ? Math.max(0, j0 - (g.tk - g.tq)) : 0;
                    int i = firstQuery;
                    if (rel == null) {
                        for (; i + ROWS <= g.tq; i += ROWS) {
                            int widest = Math.min(j1, g.visibleEnd(i + ROWS - 1)) - j0;
                            scoreRows(qa, qr.at(b, h, i), qr.rowStride(), g.d, kt, scale, s, widest);
                            scoreRows(ga, gr.at(b, h, i), gr.rowStride(), g.dv, vt, 1f, dp, widest);
                            for (int r = 0; r < ROWS; r++) {
                                int n = Math.min(j1, g.visibleEnd(i + r)) - j0;
                                probabilitiesAndScoreGradients(s, dp, r * BLOCK_K, n, la[lseOffset + bh * g.tq + i + r],
                                        delta[i + r], scale, pTile, tTile, (i + r) * BLOCK_K);
                            }
                        }
                    }
                    for (; i < g.tq; i++) {
                        int n = Math.min(j1, g.visibleEnd(i)) - j0;
                        scores(qa, qr.at(b, h, i), g.d, kt, relT, (h * g.d) * relStride + g.relRow(i, j0), relStride,
                                scale, s);
                        scores(ga, gr.at(b, h, i), g.dv, vt, null, 0, 0, 1f, dp);
                        probabilitiesAndScoreGradients(s, dp, 0, n, la[lseOffset + bh * g.tq + i], delta[i], scale,
                                pTile, tTile, i * BLOCK_K);
                    }
                    // dv_j and dk_j sum a tile column over the queries; ROWS keys (columns) at a time, from the
                    // first query that sees key j (the column is 0 above it: skipping those rows saves a third
                    // of these sums for causal self-attention).
                    int j = j0;
                    for (; j + ROWS <= j1; j += ROWS) {
                        int from = firstQueryOf(g, j, firstQuery);
                        int column = from * BLOCK_K + (j - j0);
                        addWeightedRowsToFour(pTile, column, 1, BLOCK_K, g.tq - from, ga, gr.at(b, h, from),
                                gr.rowStride(), dva, dvr.at(b, h, j), dvr.rowStride(), g.dv);
                        addWeightedRowsToFour(tTile, column, 1, BLOCK_K, g.tq - from, qa, qr.at(b, h, from),
                                qr.rowStride(), dka, dkr.at(b, h, j), dkr.rowStride(), g.d);
                    }
                    for (; j < j1; j++) {
                        int from = firstQueryOf(g, j, firstQuery);
                        int column = from * BLOCK_K + (j - j0);
                        addWeightedRows(pTile, column, BLOCK_K, g.tq - from, ga, gr.at(b, h, from), gr.rowStride(),
                                dva, dvr.at(b, h, j), g.dv);
                        addWeightedRows(tTile, column, BLOCK_K, g.tq - from, qa, qr.at(b, h, from), qr.rowStride(),
                                dka, dkr.at(b, h, j), g.d);
                    }
                    if (rotation != null) {
                        rotation.keys().rotateBack(dka, dkr, b, h, j0, j1, g.d);
                    }
                    // dq_i sums a tile row over the block's keys (T is 0 past each row's visible keys).
                    i = firstQuery;
                    if (rel == null) {
                        for (; i + ROWS <= g.tq; i += ROWS) {
                            int widest = Math.min(j1, g.visibleEnd(i + ROWS - 1)) - j0;
                            addWeightedRowsToFour(tTile, i * BLOCK_K, BLOCK_K, 1, widest, ka, kr.at(b, h, j0),
                                    kr.rowStride(), dqa, dqr.at(b, h, i), dqr.rowStride(), g.d);
                        }
                    }
                    for (; i < g.tq; i++) {
                        int n = Math.min(j1, g.visibleEnd(i)) - j0;
                        int dqOffset = dqr.at(b, h, i);
                        addWeightedRows(tTile, i * BLOCK_K, 1, n, ka, kr.at(b, h, j0), kr.rowStride(), dqa, dqOffset,
                                g.d);
                        if (rel != null) {
                            addWeightedRows(tTile, i * BLOCK_K, 1, n, rela, rr.at(0, h, g.relRow(i, j0)),
                                    rr.rowStride(), dqa, dqOffset, g.d);
                        }
                    }
                    if (rel != null) {
                        // Pairs (i, j) at one relative distance lie on a diagonal of the tile: jj - i fixed.
                        int lastRow = Math.min(g.tk - 1, g.relRow(firstQuery, j1 - 1));
                        for (int r = j0; r <= lastRow; r++) {
                            int diagonal = r - g.relRow(0, j0);
                            int iLow = Math.max(firstQuery, -diagonal);
                            int iHigh = Math.min(g.tq, (j1 - j0) - diagonal);
                            if (iLow < iHigh) {
                                addWeightedRows(tTile, iLow * BLOCK_K + iLow + diagonal, BLOCK_K + 1, iHigh - iLow, qa,
                                        qr.at(b, h, iLow), qr.rowStride(), drelPart, (h * g.tk + r) * g.d, g.d);
                            }
                        }
                    }
                }
                if (rotation != null) {
                    rotation.queries().rotateBack(dqa, dqr, b, h, 0, g.tq, g.d);
                }
            }
            if (drelPart != null) {
                relPartials.put(bh0, drelPart);
            }
        });
        if (drel != null) {
            float[] total = ElementwiseKernels.floats(drel);
            for (float[] part : relPartials.values()) {
                axpy(1f, part, 0, total, 0, total.length);
            }
        }
    }

    /**
     * One query row of the backward tiles, from its scores and dP at s[off ..] and dp[off ..]:
     * P = exp(s - lse) and T = scale * P * (dP - Delta) for the n visible keys of the block, 0 for the rest.
     */
    private static void probabilitiesAndScoreGradients(float[] s, float[] dp, int off, int n, float lse, float delta,
            float scale, float[] pTile, float[] tTile, int offset) {
        for (int jj = 0; jj < BLOCK_K; jj += F.length()) {
            FloatVector p = FloatMath.exp(FloatVector.fromArray(F, s, off + jj).sub(lse))
                    .blend(0f, F.indexInRange(jj, n).not());
            p.intoArray(pTile, offset + jj);
            FloatVector.fromArray(F, dp, off + jj).sub(delta).mul(p).mul(scale).intoArray(tTile, offset + jj);
        }
    }

    /** relT[(h * D + c) * (Tk + BLOCK_K) + r] = rel[h, r, c], zero past Tk so a block may run over the end. */
    private static float[] packRelTransposed(Geometry g, Tensor rel) {
        float[] src = ElementwiseKernels.floats(rel);
        Rows rr = Rows.ofRel(rel);
        int stride = g.tk + BLOCK_K;
        float[] t = new float[g.heads * g.d * stride];
        for (int h = 0; h < g.heads; h++) {
            for (int r = 0; r < g.tk; r++) {
                int o = rr.at(0, h, r);
                for (int c = 0; c < g.d; c++) {
                    t[(h * g.d + c) * stride + r] = src[o + c];
                }
            }
        }
        return t;
    }

    /**
     * dst[c * BLOCK_K + jj] = row (b, h, j0 + jj) channel c, for keys [j0, j1); zeros after j1. Four keys and
     * four channels at a time are turned in registers ({@link Gemm#transpose4x4}); element by element, this
     * packing was an eighth of attention backward's time.
     */
    private static void packTransposed(float[] src, Rows rows, int b, int h, int j0, int j1, int width, float[] dst) {
        if (j1 - j0 < BLOCK_K) {
            java.util.Arrays.fill(dst, 0f);
        }
        int stride = rows.rowStride();
        int width4 = width / 4 * 4;
        int j = j0;
        for (; j + 4 <= j1; j += 4) {
            int o = rows.at(b, h, j);
            int jj = j - j0;
            for (int c = 0; c < width4; c += 4) {
                Gemm.transpose4x4(src, o + c, stride, dst, c * BLOCK_K + jj, BLOCK_K);
            }
            for (int c = width4; c < width; c++) {
                for (int r = 0; r < 4; r++) {
                    dst[c * BLOCK_K + jj + r] = src[o + r * stride + c];
                }
            }
        }
        for (; j < j1; j++) {
            int o = rows.at(b, h, j);
            int jj = j - j0;
            for (int c = 0; c < width; c++) {
                dst[c * BLOCK_K + jj] = src[o + c];
            }
        }
    }

    /**
     * One query against one key block: s[jj] = scale * sum_c q[c] * (kt[c, jj] + relT[relBase + c * relStride + jj]).
     * Keys run along the vector lanes, so the sum over channels needs no horizontal reduction.
     */
    private static void scores(float[] qa, int qOffset, int width, float[] kt, float[] relT, int relBase, int relStride,
            float scale, float[] s) {
        int lanes = F.length();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        if (relT == null) {
            for (int c = 0; c < width; c++) {
                FloatVector qc = FloatVector.broadcast(F, qa[qOffset + c]);
                int o = c * BLOCK_K;
                a0 = FloatVector.fromArray(F, kt, o).fma(qc, a0);
                a1 = FloatVector.fromArray(F, kt, o + lanes).fma(qc, a1);
                a2 = FloatVector.fromArray(F, kt, o + 2 * lanes).fma(qc, a2);
                a3 = FloatVector.fromArray(F, kt, o + 3 * lanes).fma(qc, a3);
            }
        } else {
            for (int c = 0; c < width; c++) {
                FloatVector qc = FloatVector.broadcast(F, qa[qOffset + c]);
                int o = c * BLOCK_K;
                int r = relBase + c * relStride;
                a0 = FloatVector.fromArray(F, kt, o).add(FloatVector.fromArray(F, relT, r)).fma(qc, a0);
                a1 = FloatVector.fromArray(F, kt, o + lanes).add(FloatVector.fromArray(F, relT, r + lanes)).fma(qc, a1);
                a2 = FloatVector.fromArray(F, kt, o + 2 * lanes).add(FloatVector.fromArray(F, relT, r + 2 * lanes))
                        .fma(qc, a2);
                a3 = FloatVector.fromArray(F, kt, o + 3 * lanes).add(FloatVector.fromArray(F, relT, r + 3 * lanes))
                        .fma(qc, a3);
            }
        }
        a0.mul(scale).intoArray(s, 0);
        a1.mul(scale).intoArray(s, lanes);
        a2.mul(scale).intoArray(s, 2 * lanes);
        a3.mul(scale).intoArray(s, 3 * lanes);
    }

    /**
     * ROWS consecutive rows against the first {@code keys} keys of one key block (the rest of s's rows may be
     * left as zeros): s[r * BLOCK_K + jj] = scale * sum_c a[r][c] * kt[c, jj] for rows a[r] at
     * {@code offset + r * rowStride}. The same dot products as {@link #scores} without rel, with
     * each loaded key vector used by four rows. The block's four key vectors are done two at a time: 4 rows x
     * 2 vectors are 8 accumulators, which with the key vectors and a broadcast fit AVX2's 16 registers.
     */
    private static void scoreRows(float[] a, int offset, int rowStride, int width, float[] kt, float scale, float[] s,
            int keys) {
        int lanes = F.length();
        scoreRowsTwoVectors(a, offset, rowStride, width, kt, 0, scale, s);
        if (keys > 2 * lanes) {
            scoreRowsTwoVectors(a, offset, rowStride, width, kt, 2 * lanes, scale, s);
        } else {
            // None of the rows sees the block's second half (a block on the causal diagonal): zeros there,
            // which the callers mask out, instead of products nobody reads.
            for (int r = 0; r < ROWS; r++) {
                java.util.Arrays.fill(s, r * BLOCK_K + 2 * lanes, (r + 1) * BLOCK_K, 0f);
            }
        }
    }

    /** {@link #scoreRows} for the block's keys [first, first + 2 lanes). */
    private static void scoreRowsTwoVectors(float[] a, int offset, int rowStride, int width, float[] kt, int first,
            float scale, float[] s) {
        int lanes = F.length();
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        for (int c = 0; c < width; c++) {
            int o = c * BLOCK_K + first;
            FloatVector k0 = FloatVector.fromArray(F, kt, o);
            FloatVector k1 = FloatVector.fromArray(F, kt, o + lanes);
            FloatVector q = FloatVector.broadcast(F, a[offset + c]);
            a00 = k0.fma(q, a00);
            a01 = k1.fma(q, a01);
            q = FloatVector.broadcast(F, a[offset + rowStride + c]);
            a10 = k0.fma(q, a10);
            a11 = k1.fma(q, a11);
            q = FloatVector.broadcast(F, a[offset + 2 * rowStride + c]);
            a20 = k0.fma(q, a20);
            a21 = k1.fma(q, a21);
            q = FloatVector.broadcast(F, a[offset + 3 * rowStride + c]);
            a30 = k0.fma(q, a30);
            a31 = k1.fma(q, a31);
        }
        a00.mul(scale).intoArray(s, first);
        a01.mul(scale).intoArray(s, first + lanes);
        a10.mul(scale).intoArray(s, BLOCK_K + first);
        a11.mul(scale).intoArray(s, BLOCK_K + first + lanes);
        a20.mul(scale).intoArray(s, 2 * BLOCK_K + first);
        a21.mul(scale).intoArray(s, 2 * BLOCK_K + first + lanes);
        a30.mul(scale).intoArray(s, 3 * BLOCK_K + first);
        a31.mul(scale).intoArray(s, 3 * BLOCK_K + first + lanes);
    }

    /**
     * The first query that sees key j (causal: query i sees key j iff j &lt;= i + Tk - Tq), at least the
     * block's first query {@code atLeast} and at most Tq (then no query does).
     */
    private static int firstQueryOf(Geometry g, int j, int atLeast) {
        return g.causal ? Math.min(g.tq, Math.max(atLeast, j - (g.tk - g.tq))) : atLeast;
    }

    /**
     * The largest of the block's first n scores s[off ..+ n), from its four vectors (lanes past n read as -inf).
     * A chain of 64 scalar {@link Math#max} calls, one per key of a 512-bit block, took about as long as the
     * row's share of the block's products. A NaN score wins, as with {@link Math#max} (and would reach the
     * output through exp(s - max) in {@link #expShifted} in any case). Written without a loop, so no vector
     * is carried from one iteration to the next (see {@link #blockSum}).
     */
    private static float blockMax(float[] s, int off, int n) {
        int lanes = F.length();
        FloatVector m0 = FloatVector.fromArray(F, s, off).blend(Float.NEGATIVE_INFINITY, F.indexInRange(0, n).not());
        FloatVector m1 = FloatVector.fromArray(F, s, off + lanes)
                .blend(Float.NEGATIVE_INFINITY, F.indexInRange(lanes, n).not());
        FloatVector m2 = FloatVector.fromArray(F, s, off + 2 * lanes)
                .blend(Float.NEGATIVE_INFINITY, F.indexInRange(2 * lanes, n).not());
        FloatVector m3 = FloatVector.fromArray(F, s, off + 3 * lanes)
                .blend(Float.NEGATIVE_INFINITY, F.indexInRange(3 * lanes, n).not());
        return m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
    }

    /** s[off + jj] = exp(s[off + jj] - shift) for jj &lt; n (the rest of the block becomes 0); returns their sum. */
    private static float expShifted(float[] s, int off, int n, float shift) {
        for (int jj = 0; jj < BLOCK_K; jj += F.length()) {
            FloatVector p = FloatMath.exp(FloatVector.fromArray(F, s, off + jj).sub(shift));
            p = p.blend(0f, F.indexInRange(jj, n).not());
            p.intoArray(s, off + jj);
        }
        return blockSum(s, off);
    }

    /**
     * The sum of the block s[off ..+ BLOCK_K) in the order of a vector accumulator, block vectors added lane-wise
     * and then the lanes from 0 (as {@link FloatMath#sumLanes}), but from the stored values: a vector
     * accumulator here was boxed on the heap in every iteration (5 MB of garbage per attention forward of the
     * lm-step model) where the JIT compiled this loop into the online-softmax step.
     */
    private static float blockSum(float[] s, int off) {
        int lanes = F.length();
        float total = 0f;
        for (int l = 0; l < lanes; l++) {
            float lane = s[off + l];
            for (int v = lanes; v < BLOCK_K; v += lanes) {
                lane += s[off + v + l];
            }
            total = l == 0 ? lane : total + lane;
        }
        return total;
    }

    /**
     * dst[dstOffset + c] += sum over x &lt; count of weights[wOffset + x * wStride] * rows[rowOffset + x * rowStride + c],
     * for c &lt; width: a weighted sum of rows. The weights walk a tile's row, column or diagonal; channels are
     * the outer loop so each vector of the sum stays in a register while the rows stream by.
     */
    private static void addWeightedRows(float[] weights, int wOffset, int wStride, int count, float[] rows,
            int rowOffset, int rowStride, float[] dst, int dstOffset, int width) {
        int lanes = F.length();
        int c = 0;
        for (; c + 2 * lanes <= width; c += 2 * lanes) {
            FloatVector a0 = FloatVector.fromArray(F, dst, dstOffset + c);
            FloatVector a1 = FloatVector.fromArray(F, dst, dstOffset + c + lanes);
            for (int x = 0; x < count; x++) {
                FloatVector w = FloatVector.broadcast(F, weights[wOffset + x * wStride]);
                int o = rowOffset + x * rowStride + c;
                a0 = FloatVector.fromArray(F, rows, o).fma(w, a0);
                a1 = FloatVector.fromArray(F, rows, o + lanes).fma(w, a1);
            }
            a0.intoArray(dst, dstOffset + c);
            a1.intoArray(dst, dstOffset + c + lanes);
        }
        for (; c + lanes <= width; c += lanes) {
            FloatVector a0 = FloatVector.fromArray(F, dst, dstOffset + c);
            for (int x = 0; x < count; x++) {
                a0 = FloatVector.fromArray(F, rows, rowOffset + x * rowStride + c)
                        .fma(FloatVector.broadcast(F, weights[wOffset + x * wStride]), a0);
            }
            a0.intoArray(dst, dstOffset + c);
        }
        for (; c < width; c++) {
            float sum = dst[dstOffset + c];
            for (int x = 0; x < count; x++) {
                sum += weights[wOffset + x * wStride] * rows[rowOffset + x * rowStride + c];
            }
            dst[dstOffset + c] = sum;
        }
    }

    /**
     * {@link #addWeightedRows} for ROWS destination rows at once: destination row r (at
     * {@code dstOffset + r * dstRowStep}) takes the weights at {@code wOffset + r * wRowStep + x * wStride}.
     * Each row vector loaded feeds four FMAs; 4 rows x 2 vectors are 8 register accumulators. (With 4 x 4,
     * 16 accumulators and the row vectors do not fit AVX2's 16 registers: attention backward, where this loop
     * is half the time, took 7-13% longer on one thread and 4-7% on two, in paired runs.)
     */
    private static void addWeightedRowsToFour(float[] weights, int wOffset, int wRowStep, int wStride, int count,
            float[] rows, int rowOffset, int rowStride, float[] dst, int dstOffset, int dstRowStep, int width) {
        int lanes = F.length();
        int d0 = dstOffset;
        int d1 = dstOffset + dstRowStep;
        int d2 = dstOffset + 2 * dstRowStep;
        int d3 = dstOffset + 3 * dstRowStep;
        int c = 0;
        if (WIDE_ROWS) {
            for (; c + 4 * lanes <= width; c += 4 * lanes) {
                addWeightedRowsToFourWide(weights, wOffset, wRowStep, wStride, count, rows, rowOffset + c, rowStride, dst,
                        d0 + c, dstRowStep);
            }
        }
        for (; c + 2 * lanes <= width; c += 2 * lanes) {
            FloatVector a00 = FloatVector.fromArray(F, dst, d0 + c);
            FloatVector a01 = FloatVector.fromArray(F, dst, d0 + c + lanes);
            FloatVector a10 = FloatVector.fromArray(F, dst, d1 + c);
            FloatVector a11 = FloatVector.fromArray(F, dst, d1 + c + lanes);
            FloatVector a20 = FloatVector.fromArray(F, dst, d2 + c);
            FloatVector a21 = FloatVector.fromArray(F, dst, d2 + c + lanes);
            FloatVector a30 = FloatVector.fromArray(F, dst, d3 + c);
            FloatVector a31 = FloatVector.fromArray(F, dst, d3 + c + lanes);
            for (int x = 0; x < count; x++) {
                int o = rowOffset + x * rowStride + c;
                FloatVector v0 = FloatVector.fromArray(F, rows, o);
                FloatVector v1 = FloatVector.fromArray(F, rows, o + lanes);
                int w = wOffset + x * wStride;
                FloatVector w0 = FloatVector.broadcast(F, weights[w]);
                a00 = v0.fma(w0, a00);
                a01 = v1.fma(w0, a01);
                FloatVector w1 = FloatVector.broadcast(F, weights[w + wRowStep]);
                a10 = v0.fma(w1, a10);
                a11 = v1.fma(w1, a11);
                FloatVector w2 = FloatVector.broadcast(F, weights[w + 2 * wRowStep]);
                a20 = v0.fma(w2, a20);
                a21 = v1.fma(w2, a21);
                FloatVector w3 = FloatVector.broadcast(F, weights[w + 3 * wRowStep]);
                a30 = v0.fma(w3, a30);
                a31 = v1.fma(w3, a31);
            }
            a00.intoArray(dst, d0 + c);
            a01.intoArray(dst, d0 + c + lanes);
            a10.intoArray(dst, d1 + c);
            a11.intoArray(dst, d1 + c + lanes);
            a20.intoArray(dst, d2 + c);
            a21.intoArray(dst, d2 + c + lanes);
            a30.intoArray(dst, d3 + c);
            a31.intoArray(dst, d3 + c + lanes);
        }
        for (; c + lanes <= width; c += lanes) {
            FloatVector a0 = FloatVector.fromArray(F, dst, d0 + c);
            FloatVector a1 = FloatVector.fromArray(F, dst, d1 + c);
            FloatVector a2 = FloatVector.fromArray(F, dst, d2 + c);
            FloatVector a3 = FloatVector.fromArray(F, dst, d3 + c);
            for (int x = 0; x < count; x++) {
                FloatVector v = FloatVector.fromArray(F, rows, rowOffset + x * rowStride + c);
                int w = wOffset + x * wStride;
                a0 = v.fma(FloatVector.broadcast(F, weights[w]), a0);
                a1 = v.fma(FloatVector.broadcast(F, weights[w + wRowStep]), a1);
                a2 = v.fma(FloatVector.broadcast(F, weights[w + 2 * wRowStep]), a2);
                a3 = v.fma(FloatVector.broadcast(F, weights[w + 3 * wRowStep]), a3);
            }
            a0.intoArray(dst, d0 + c);
            a1.intoArray(dst, d1 + c);
            a2.intoArray(dst, d2 + c);
            a3.intoArray(dst, d3 + c);
        }
        for (; c < width; c++) {
            for (int r = 0; r < ROWS; r++) {
                float sum = dst[dstOffset + r * dstRowStep + c];
                for (int x = 0; x < count; x++) {
                    sum += weights[wOffset + r * wRowStep + x * wStride] * rows[rowOffset + x * rowStride + c];
                }
                dst[dstOffset + r * dstRowStep + c] = sum;
            }
        }
    }

    /**
     * {@link #addWeightedRowsToFour} over four vectors of channels: 4 rows x 4 vectors are 16 accumulators, so
     * each weight broadcast feeds four FMAs and each source row is read once rather than once per two
     * vectors. Only with 512-bit vectors, whose 32 registers hold them (see {@link #WIDE_ROWS}).
     */
    private static void addWeightedRowsToFourWide(float[] weights, int wOffset, int wRowStep, int wStride, int count,
            float[] rows, int rowOffset, int rowStride, float[] dst, int d0, int dstRowStep) {
        int lanes = F.length();
        int d1 = d0 + dstRowStep;
        int d2 = d0 + 2 * dstRowStep;
        int d3 = d0 + 3 * dstRowStep;
        FloatVector a00 = FloatVector.fromArray(F, dst, d0);
        FloatVector a01 = FloatVector.fromArray(F, dst, d0 + lanes);
        FloatVector a02 = FloatVector.fromArray(F, dst, d0 + 2 * lanes);
        FloatVector a03 = FloatVector.fromArray(F, dst, d0 + 3 * lanes);
        FloatVector a10 = FloatVector.fromArray(F, dst, d1);
        FloatVector a11 = FloatVector.fromArray(F, dst, d1 + lanes);
        FloatVector a12 = FloatVector.fromArray(F, dst, d1 + 2 * lanes);
        FloatVector a13 = FloatVector.fromArray(F, dst, d1 + 3 * lanes);
        FloatVector a20 = FloatVector.fromArray(F, dst, d2);
        FloatVector a21 = FloatVector.fromArray(F, dst, d2 + lanes);
        FloatVector a22 = FloatVector.fromArray(F, dst, d2 + 2 * lanes);
        FloatVector a23 = FloatVector.fromArray(F, dst, d2 + 3 * lanes);
        FloatVector a30 = FloatVector.fromArray(F, dst, d3);
        FloatVector a31 = FloatVector.fromArray(F, dst, d3 + lanes);
        FloatVector a32 = FloatVector.fromArray(F, dst, d3 + 2 * lanes);
        FloatVector a33 = FloatVector.fromArray(F, dst, d3 + 3 * lanes);
        for (int x = 0; x < count; x++) {
            int o = rowOffset + x * rowStride;
            FloatVector v0 = FloatVector.fromArray(F, rows, o);
            FloatVector v1 = FloatVector.fromArray(F, rows, o + lanes);
            FloatVector v2 = FloatVector.fromArray(F, rows, o + 2 * lanes);
            FloatVector v3 = FloatVector.fromArray(F, rows, o + 3 * lanes);
            int w = wOffset + x * wStride;
            FloatVector w0 = FloatVector.broadcast(F, weights[w]);
            a00 = v0.fma(w0, a00);
            a01 = v1.fma(w0, a01);
            a02 = v2.fma(w0, a02);
            a03 = v3.fma(w0, a03);
            FloatVector w1 = FloatVector.broadcast(F, weights[w + wRowStep]);
            a10 = v0.fma(w1, a10);
            a11 = v1.fma(w1, a11);
            a12 = v2.fma(w1, a12);
            a13 = v3.fma(w1, a13);
            FloatVector w2 = FloatVector.broadcast(F, weights[w + 2 * wRowStep]);
            a20 = v0.fma(w2, a20);
            a21 = v1.fma(w2, a21);
            a22 = v2.fma(w2, a22);
            a23 = v3.fma(w2, a23);
            FloatVector w3 = FloatVector.broadcast(F, weights[w + 3 * wRowStep]);
            a30 = v0.fma(w3, a30);
            a31 = v1.fma(w3, a31);
            a32 = v2.fma(w3, a32);
            a33 = v3.fma(w3, a33);
        }
        a00.intoArray(dst, d0);
        a01.intoArray(dst, d0 + lanes);
        a02.intoArray(dst, d0 + 2 * lanes);
        a03.intoArray(dst, d0 + 3 * lanes);
        a10.intoArray(dst, d1);
        a11.intoArray(dst, d1 + lanes);
        a12.intoArray(dst, d1 + 2 * lanes);
        a13.intoArray(dst, d1 + 3 * lanes);
        a20.intoArray(dst, d2);
        a21.intoArray(dst, d2 + lanes);
        a22.intoArray(dst, d2 + 2 * lanes);
        a23.intoArray(dst, d2 + 3 * lanes);
        a30.intoArray(dst, d3);
        a31.intoArray(dst, d3 + lanes);
        a32.intoArray(dst, d3 + 2 * lanes);
        a33.intoArray(dst, d3 + 3 * lanes);
    }

    /** y[yOffset ..+n] += a * x[xOffset ..+n]. */
    private static void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int n) {
        FloatVector va = FloatVector.broadcast(F, a);
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += F.length()) {
            FloatVector.fromArray(F, x, xOffset + c).fma(va, FloatVector.fromArray(F, y, yOffset + c))
                    .intoArray(y, yOffset + c);
        }
        for (; c < n; c++) {
            y[yOffset + c] += a * x[xOffset + c];
        }
    }

    private static void scaleInPlace(float[] y, int offset, int n, float a) {
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += F.length()) {
            FloatVector.fromArray(F, y, offset + c).mul(a).intoArray(y, offset + c);
        }
        for (; c < n; c++) {
            y[offset + c] *= a;
        }
    }

    private static float dot(float[] x, int xOffset, float[] y, int yOffset, int n) {
        FloatVector acc = FloatVector.zero(F);
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += F.length()) {
            acc = FloatVector.fromArray(F, x, xOffset + c).fma(FloatVector.fromArray(F, y, yOffset + c), acc);
        }
        float sum = FloatMath.sumLanes(acc);
        for (; c < n; c++) {
            sum += x[xOffset + c] * y[yOffset + c];
        }
        return sum;
    }

    // ---- float64: the same algorithm one key at a time, for gradient checks ---------------------

    private static void forwardDouble(Geometry g, Tensor q, Tensor k, Tensor v, Tensor rel, double scale, Tensor out,
            Tensor lse) {
        double[] qa = ElementwiseKernels.storage(q).doubles();
        double[] ka = ElementwiseKernels.storage(k).doubles();
        double[] va = ElementwiseKernels.storage(v).doubles();
        double[] rela = rel == null ? null : ElementwiseKernels.storage(rel).doubles();
        double[] oa = ElementwiseKernels.storage(out).doubles();
        double[] la = ElementwiseKernels.storage(lse).doubles();
        Rows qr = Rows.of(q);
        Rows kr = Rows.of(k);
        Rows vr = Rows.of(v);
        Rows rr = rel == null ? null : Rows.ofRel(rel);
        Rows outRows = Rows.of(out);
        Parallel.forRange(g.batch * g.heads * g.tq, 16, (row0, row1) -> {
            double[] acc = new double[g.dv];
            for (int flat = row0; flat < row1; flat++) {
                int i = flat % g.tq;
                int bh = flat / g.tq;
                int b = bh / g.heads;
                int h = bh % g.heads;
                int qOffset = qr.at(b, h, i);
                java.util.Arrays.fill(acc, 0);
                double max = Double.NEGATIVE_INFINITY;
                double sum = 0;
                for (int j = 0; j < g.visibleEnd(i); j++) {
                    double s = dot(qa, qOffset, ka, kr.at(b, h, j), g.d);
                    if (rela != null) {
                        s += dot(qa, qOffset, rela, rr.at(0, h, g.relRow(i, j)), g.d);
                    }
                    s *= scale;
                    if (s > max) {
                        double correction = Math.exp(max - s);
                        sum *= correction;
                        for (int c = 0; c < g.dv; c++) {
                            acc[c] *= correction;
                        }
                        max = s;
                    }
                    double p = Math.exp(s - max);
                    sum += p;
                    int vOffset = vr.at(b, h, j);
                    for (int c = 0; c < g.dv; c++) {
                        acc[c] += p * va[vOffset + c];
                    }
                }
                double inv = sum > 0 ? 1 / sum : 0;
                for (int c = 0; c < g.dv; c++) {
                    oa[outRows.at(b, h, i) + c] = acc[c] * inv;
                }
                la[flat] = max + Math.log(sum);
            }
        });
    }

    private static void backwardDouble(Geometry g, Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel,
            Tensor out, Tensor lse, double scale, Tensor dq, Tensor dk, Tensor dv, Tensor drel) {
        double[] ga = ElementwiseKernels.storage(gradOut).doubles();
        double[] qa = ElementwiseKernels.storage(q).doubles();
        double[] ka = ElementwiseKernels.storage(k).doubles();
        double[] va = ElementwiseKernels.storage(v).doubles();
        double[] oa = ElementwiseKernels.storage(out).doubles();
        double[] la = ElementwiseKernels.storage(lse).doubles();
        double[] rela = rel == null ? null : ElementwiseKernels.storage(rel).doubles();
        double[] dqa = ElementwiseKernels.storage(dq).doubles();
        double[] dka = ElementwiseKernels.storage(dk).doubles();
        double[] dva = ElementwiseKernels.storage(dv).doubles();
        Rows gr = Rows.of(gradOut);
        Rows qr = Rows.of(q);
        Rows kr = Rows.of(k);
        Rows vr = Rows.of(v);
        Rows or = Rows.of(out);
        Rows dqr = Rows.of(dq);
        Rows dkr = Rows.of(dk);
        Rows dvr = Rows.of(dv);
        Rows rr = rel == null ? null : Rows.ofRel(rel);
        int lseOffset = lse.offset();
        ConcurrentSkipListMap<Integer, double[]> relPartials = new ConcurrentSkipListMap<>();
        Parallel.forRange(g.batch * g.heads, 1, (bh0, bh1) -> {
            double[] drelPart = rel == null ? null : new double[g.heads * g.tk * g.d];
            for (int bh = bh0; bh < bh1; bh++) {
                int b = bh / g.heads;
                int h = bh % g.heads;
                for (int i = 0; i < g.tq; i++) {
                    int qOffset = qr.at(b, h, i);
                    int gOffset = gr.at(b, h, i);
                    int dqOffset = dqr.at(b, h, i);
                    double delta = dot(ga, gOffset, oa, or.at(b, h, i), g.dv);
                    double rowLse = la[lseOffset + bh * g.tq + i];
                    for (int j = 0; j < g.visibleEnd(i); j++) {
                        int kOffset = kr.at(b, h, j);
                        int r = g.relRow(i, j);
                        double s = dot(qa, qOffset, ka, kOffset, g.d);
                        if (rela != null) {
                            s += dot(qa, qOffset, rela, rr.at(0, h, r), g.d);
                        }
                        double p = Math.exp(s * scale - rowLse);
                        double t = scale * p * (dot(ga, gOffset, va, vr.at(b, h, j), g.dv) - delta);
                        int dkOffset = dkr.at(b, h, j);
                        int dvOffset = dvr.at(b, h, j);
                        for (int c = 0; c < g.dv; c++) {
                            dva[dvOffset + c] += p * ga[gOffset + c];
                        }
                        for (int c = 0; c < g.d; c++) {
                            dka[dkOffset + c] += t * qa[qOffset + c];
                            dqa[dqOffset + c] += t * ka[kOffset + c];
                        }
                        if (rela != null) {
                            int relOffset = rr.at(0, h, r);
                            int partOffset = (h * g.tk + r) * g.d;
                            for (int c = 0; c < g.d; c++) {
                                dqa[dqOffset + c] += t * rela[relOffset + c];
                                drelPart[partOffset + c] += t * qa[qOffset + c];
                            }
                        }
                    }
                }
            }
            if (drelPart != null) {
                relPartials.put(bh0, drelPart);
            }
        });
        if (drel != null) {
            double[] total = ElementwiseKernels.storage(drel).doubles();
            for (double[] part : relPartials.values()) {
                for (int x = 0; x < total.length; x++) {
                    total[x] += part[x];
                }
            }
        }
    }

    private static double dot(double[] x, int xOffset, double[] y, int yOffset, int n) {
        double sum = 0;
        for (int c = 0; c < n; c++) {
            sum += x[xOffset + c] * y[yOffset + c];
        }
        return sum;
    }
}
