package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.Tensor;

/**
 * Launches {@code attention.cu}: fused attention forward (online softmax, no [Tq, Tk] matrix) and its
 * FlashAttention-2 style backward. Head dims up to 256; each launch picks the kernel instance whose
 * {@code DMAX} (32, 64, 128 or 256) is the smallest that holds both D and Dv.
 *
 * <p>The Transformer-XL term goes through the GEMM: the kernels take the products
 * {@code R[b, h, i, r] = q_i . rel[h, r]} ({@link #relScores}) and, backward, give their gradient dR, from
 * which two more products make q's share and rel's gradient. R and dR are [B, H, Tq, Tk], held for one call.
 */
final class AttentionKernels {
    static final String MODULE = "attention";
    static final int THREADS = 256;
    static final int MAX_HEAD_DIM = 256;

    private AttentionKernels() {
    }

    static int headDimBound(int d, int dv) {
        int m = Math.max(d, dv);
        for (int bound : new int[] {32, 64, 128, 256}) {
            if (m <= bound) {
                return bound;
            }
        }
        throw new UnsupportedOperationException("attention on CUDA supports head dims up to " + MAX_HEAD_DIM
                + ", got D=" + d + ", Dv=" + dv);
    }

    /** Queries (and keys) per tile: float rows are half the size of double rows. */
    static int tile(DType dtype) {
        return dtype == DType.FLOAT64 ? 16 : 32;
    }

    /** Row pitch of the kernels' query, key and value tiles: DMAX + 4 elements (attention.cu, tile_pitch). */
    static int pitch(int d, int dv) {
        return headDimBound(d, dv) + 4;
    }

    static long forwardSharedBytes(DType dtype, int d, int dv) {
        int t = tile(dtype);
        return (long) (3 * t * pitch(d, dv) + t * (t + 1) + 3 * t) * dtype.byteSize();
    }

    static long backwardSharedBytes(DType dtype, int d, int dv) {
        int t = tile(dtype);
        return (long) (4 * t * pitch(d, dv) + 2 * t * (t + 1) + 2 * t) * dtype.byteSize();
    }

    /** The AttnDims struct: B, H, Tq, Tk, D, Dv, causal, hasRel (whether relScores is given). */
    private static int[] dims(Tensor q, Tensor k, Tensor v, Tensor relScores, boolean causal) {
        return new int[] {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3), causal ? 1 : 0,
                relScores == null ? 0 : 1};
    }

    /** Strides4 of a [B, H, T, D] tensor. */
    private static int[] strides(Tensor t) {
        return t.strides();
    }

    /**
     * R = q rel^T: [B, H, Tq, D] @ [H, D, Tk] (broadcast over the batch) = [B, H, Tq, Tk], in full float32
     * whatever the matmul precision, as the scores it joins.
     */
    private static Tensor relScores(CudaBackend b, Tensor q, Tensor rel) {
        Tensor relT = rel.mT().unsqueeze(0).expand(q.size(0), rel.size(0), rel.size(2), rel.size(1));
        return MatmulKernels.matmul(b, q, relT, MatmulPrecision.FP32);
    }

    private static long addressOrZero(CudaBackend b, Tensor t) {
        return t == null ? 0 : b.address(t);
    }

    private static String instance(String kernel, DType dtype, int dmax) {
        return kernel + "_" + CudaBackend.suffix(dtype) + "_d" + dmax;
    }

    /**
     * What the kernels need beyond the shapes Backend.attention documents: the relative term only with a
     * causal mask (its rows are indexed by j - i + Tq - 1, in [0, Tk) only for visible pairs), and the
     * shared memory of their tiles on this device.
     */
    private static void checkSupported(CudaBackend b, String op, Tensor q, Tensor v, Tensor rel, boolean causal,
            long sharedBytes) {
        if (rel != null && !causal) {
            throw new IllegalArgumentException(op + " on " + b.device() + ": the relative-position term needs "
                    + "causal attention (rel " + java.util.Arrays.toString(rel.shape()) + ")");
        }
        if (sharedBytes > b.maxSharedBytesPerBlock()) {
            throw new UnsupportedOperationException(op + " on " + b.device() + " (" + b.deviceName() + "): head dims "
                    + q.size(3) + " and " + v.size(3) + " in " + q.dtype() + " need " + sharedBytes
                    + " bytes of shared memory per block, the device gives " + b.maxSharedBytesPerBlock());
        }
    }

    static Tensor[] attention(CudaBackend b, Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        checkSupported(b, "attention", q, v, rel, causal, forwardSharedBytes(q.dtype(), q.size(3), v.size(3)));
        int batch = q.size(0);
        int heads = q.size(1);
        int tq = q.size(2);
        int d = q.size(3);
        int dv = v.size(3);
        int dmax = headDimBound(d, dv);
        Tensor out = b.empty(q.dtype(), batch, heads, tq, dv);
        Tensor lse = b.empty(q.dtype(), batch, heads, tq);
        if (out.numel() == 0) {
            return new Tensor[] {out, lse};
        }
        int t = tile(q.dtype());
        Tensor relScores = rel == null || k.size(2) == 0 ? null : relScores(b, q, rel);
        b.launch(MODULE, instance("attention_forward", q.dtype(), dmax), MatmulKernels.ceilDiv(tq, t), heads, batch,
                THREADS, (int) forwardSharedBytes(q.dtype(), d, dv), new KernelArgs().pointer(b.address(out))
                        .pointer(b.address(lse)).pointer(b.address(q)).pointer(b.address(k)).pointer(b.address(v))
                        .pointer(addressOrZero(b, relScores)).struct(dims(q, k, v, relScores, causal))
                        .struct(strides(q)).struct(strides(k)).struct(strides(v)).f64(scale));
        return new Tensor[] {out, lse};
    }

    static Tensor[] attentionBackward(CudaBackend b, Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel,
            Tensor out, Tensor logSumExp, double scale, boolean causal) {
        checkSupported(b, "attentionBackward", q, v, rel, causal, backwardSharedBytes(q.dtype(), q.size(3), v.size(3)));
        DType dtype = q.dtype();
        int batch = q.size(0);
        int heads = q.size(1);
        int tq = q.size(2);
        int tk = k.size(2);
        int d = q.size(3);
        int dv = v.size(3);
        int dmax = headDimBound(d, dv);
        Tensor dq = b.empty(dtype, batch, heads, tq, d);
        Tensor dk = b.empty(dtype, batch, heads, tk, d);
        Tensor dvOut = b.empty(dtype, batch, heads, tk, dv);
        // Zeros unless the products below replace it: without batch entries or queries, rel has no gradient.
        Tensor drel = rel == null ? null : b.zeros(dtype, heads, tk, d);
        if (batch == 0 || heads == 0) {
            return new Tensor[] {dq, dk, dvOut, drel};
        }
        Tensor lse = b.contiguous(logSumExp);
        Tensor relScores = rel == null || tk == 0 || tq == 0 ? null : relScores(b, q, rel);
        Tensor dRelScores = relScores == null ? null : b.zeros(dtype, batch, heads, tq, tk);
        int[] dims = dims(q, k, v, relScores, causal);
        long rows = (long) batch * heads * tq;
        Tensor delta = b.empty(dtype, (int) Math.max(rows, 1));
        if (rows > 0) {
            b.launch(MODULE, "attention_delta_" + CudaBackend.suffix(dtype), CudaBackend.gridFor(rows, THREADS / 32),
                    THREADS, 0, new KernelArgs().pointer(b.address(delta)).pointer(b.address(gradOut))
                            .pointer(b.address(out)).struct(dims).struct(strides(gradOut)).struct(strides(out)));
        }
        int t = tile(dtype);
        int shared = (int) backwardSharedBytes(dtype, d, dv);
        if (tk > 0) {
            b.launch(MODULE, instance("attention_backward_kv", dtype, dmax), MatmulKernels.ceilDiv(tk, t), heads, batch,
                    THREADS, shared, commonBackwardArgs(b, new KernelArgs().pointer(b.address(dk))
                            .pointer(b.address(dvOut)), q, k, v, relScores, gradOut, lse, delta, dims, scale));
        }
        if (tq > 0) {
            b.launch(MODULE, instance("attention_backward_q", dtype, dmax), MatmulKernels.ceilDiv(tq, t), heads, batch,
                    THREADS, shared, commonBackwardArgs(b, new KernelArgs().pointer(b.address(dq))
                            .pointer(addressOrZero(b, dRelScores)), q, k, v, relScores, gradOut, lse, delta, dims,
                            scale));
        }
        if (dRelScores != null) {
            // q's share dR rel ([B, H, Tq, Tk] @ [H, Tk, D] broadcast over the batch), and rel's gradient: the
            // sum over the batch of dR^T q.
            Tensor relB = rel.unsqueeze(0).expand(batch, heads, tk, d);
            b.binaryInPlace(BinaryOp.ADD, dq, MatmulKernels.matmul(b, dRelScores, relB, MatmulPrecision.FP32));
            Tensor perBatch = MatmulKernels.matmul(b, dRelScores.mT(), q, MatmulPrecision.FP32);
            drel = b.reduce(ReduceOp.SUM, perBatch, new int[] {0}, false);
        }
        return new Tensor[] {dq, dk, dvOut, drel};
    }

    /** (q, k, v, relScores, dout, lse, delta, S, qs, ks, vs, gs, scale) after the kernel's outputs. */
    private static KernelArgs commonBackwardArgs(CudaBackend b, KernelArgs args, Tensor q, Tensor k, Tensor v,
            Tensor relScores, Tensor gradOut, Tensor lse, Tensor delta, int[] dims, double scale) {
        return args.pointer(b.address(q)).pointer(b.address(k)).pointer(b.address(v))
                .pointer(addressOrZero(b, relScores)).pointer(b.address(gradOut)).pointer(b.address(lse))
                .pointer(b.address(delta)).struct(dims).struct(strides(q)).struct(strides(k)).struct(strides(v))
                .struct(strides(gradOut)).f64(scale);
    }
}
