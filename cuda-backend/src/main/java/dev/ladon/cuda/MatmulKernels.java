package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.Arrays;

/**
 * Launches {@code gemm.cu}: batched matrix products over strided operands (transposed and broadcast
 * views are read in place). The kernel follows the dtype and {@link MatmulPrecision}: float64 and FP32 on
 * CUDA cores (a 128 x 128 tile, or 64 x 64 when the larger tile would leave SMs idle), TF32 and BF16 on
 * tensor cores.
 */
final class MatmulKernels {
    static final String MODULE = "gemm";
    /** Batch dims a launch walks; {@code GEMM_MAX_BATCH_DIMS} in gemm.cu. */
    static final int MAX_BATCH_DIMS = 6;
    /** The grid's z dimension (batch entries per launch) is limited to this. */
    static final int MAX_GRID_Z = 65535;
    /** ... and its y dimension (column tiles) to this. */
    static final int MAX_GRID_Y = 65535;
    private MatmulKernels() {
    }

    /** Dynamic shared memory of the pipelined TF32 kernels: 3 stages of (128 + 256) x 32 floats. */
    static final int PIPELINED_SHARED_BYTES = 3 * (128 + 256) * 32 * 4;
    /** ... and of the BF16 kernels on converted operands ({@code gemm_bf16s_*}): the same in bfloat16. */
    static final int BF16_STORED_SHARED_BYTES = 3 * (128 + 256) * 32 * 2;

    /**
     * The kernel, its block tile and its dynamic shared memory for a problem; {@code bf16Operands}: the
     * kernel reads operands converted to bfloat16 first ({@code gemm_to_bf16}).
     */
    record Choice(String kernel, int tileM, int tileN, int sharedBytes, boolean bf16Operands) {
        Choice(String kernel, int tileM, int tileN) {
            this(kernel, tileM, tileN, 0, false);
        }
    }

    /**
     * The kernel for a problem. {@code chunked}: both operands can be read in aligned chunks of four floats
     * (see {@link #chunked}); then the FP32 kernels load a chunk with one vector instruction ({@code _c4}),
     * and the tensor-core kernels run a cp.async pipeline ({@code gemm_tf32_nt} and the like: {@code n} for
     * a row-major operand, {@code t} for a transposed one, as {@code aTransposed} and {@code bTransposed}
     * say), if the device gives a block {@code maxSharedBytes} of shared memory for its three stages and the
     * problem has a 128 x 256 tile for each of the device's {@code multiprocessors} (with fewer, most would
     * idle: the 128 x 128 kernels spread the work wider). BF16 with as many tiles converts the operands to
     * bfloat16 first, whatever their strides, and runs the same pipeline on half the bytes
     * ({@code gemm_bf16s_*}). The FP32 kernels take 128 x 128 tiles only when there are enough of them, and
     * 64 x 64 ones otherwise.
     */
    static Choice choose(DType dtype, MatmulPrecision precision, int m, int n, long batch, boolean chunked,
            boolean aTransposed, boolean bTransposed, int multiprocessors, int maxSharedBytes) {
        if (dtype == DType.FLOAT64) {
            return new Choice("gemm_simt_f64_64", 64, 64);
        }
        String suffix = chunked ? "_c4" : "";
        String layouts = "_" + (aTransposed ? "t" : "n") + (bTransposed ? "t" : "n");
        boolean bigTilesForAll = (long) ceilDiv(m, 128) * ceilDiv(n, 256) * batch >= multiprocessors;
        return switch (precision) {
            case TF32 -> chunked && bigTilesForAll && maxSharedBytes >= PIPELINED_SHARED_BYTES
                    ? new Choice("gemm_tf32" + layouts, 128, 256, PIPELINED_SHARED_BYTES, false)
                    : new Choice("gemm_tf32", 128, 128);
            case BF16 -> bigTilesForAll && maxSharedBytes >= BF16_STORED_SHARED_BYTES
                    ? new Choice("gemm_bf16s" + layouts, 128, 256, BF16_STORED_SHARED_BYTES, true)
                    : new Choice("gemm_bf16", 128, 128);
            case FP32 -> {
                long bigTiles = (long) ceilDiv(m, 128) * ceilDiv(n, 128) * batch;
                yield bigTiles >= multiprocessors ? new Choice("gemm_simt_f32_128" + suffix, 128, 128)
                        : new Choice("gemm_simt_f32_64" + suffix, 64, 64);
            }
        };
    }

    /**
     * Whether an operand of a launch can be read in 16-byte chunks of four elements along its unit-stride
     * dim, as the {@code _c4} kernels do: its base address 16-byte aligned, one of its two matrix strides 1
     * and the other, and every batch stride, a multiple of four.
     *
     * @param address      the operand's first element in this launch
     * @param rowStride    stride of the operand's first matrix dim (A's m, B's k)
     * @param colStride    stride of its second (A's k, B's n)
     * @param batchStrides its strides along the launch's batch dims
     */
    static boolean chunked(long address, int rowStride, int colStride, int[] batchStrides) {
        boolean matrix = colStride == 1 ? rowStride % 4 == 0 : rowStride == 1 && colStride % 4 == 0;
        if (address % 16 != 0 || !matrix) {
            return false;
        }
        for (int s : batchStrides) {
            if (s % 4 != 0) {
                return false;
            }
        }
        return true;
    }

    static int ceilDiv(long a, int b) {
        return (int) ((a + b - 1) / b);
    }

    static Tensor matmul(CudaBackend b, Tensor a, Tensor bb, MatmulPrecision precision) {
        int rank = a.dim();
        int m = a.size(-2);
        int k = a.size(-1);
        int n = bb.size(-1);
        int[] outShape = a.shape();
        outShape[rank - 1] = n;
        Tensor out = b.empty(a.dtype(), outShape);
        if (out.numel() == 0) {
            return out;
        }
        int[] batchShape = Arrays.copyOf(a.shape(), rank - 2);
        StridedLayout batch = StridedLayout.coalesce(batchShape, Arrays.copyOf(a.strides(), rank - 2),
                Arrays.copyOf(bb.strides(), rank - 2));
        long batchCount = batch.numel();
        int bytes = a.dtype().byteSize();
        long mn = (long) m * n;
        StridedLayout.Piece[] pieces = batch.pieces(MAX_BATCH_DIMS);
        long piecesCount = pieces.length;
        long perPiece = batchCount / piecesCount;
        for (int p = 0; p < pieces.length; p++) {
            StridedLayout inner = pieces[p].layout();
            int[] struct = batchStruct(inner);
            long aAddr = b.address(a) + pieces[p].offsets()[0] * bytes;
            long bAddr = b.address(bb) + pieces[p].offsets()[1] * bytes;
            long cAddr = b.address(out) + p * perPiece * mn * bytes;
            boolean chunked = chunked(aAddr, a.stride(-2), a.stride(-1), inner.strides(0))
                    && chunked(bAddr, bb.stride(-2), bb.stride(-1), inner.strides(1));
            // Transposed: the operand's unit stride is along m (A) or k (B). Without a unit stride at all, an
            // operand counts as untransposed (only the BF16 conversion reads such operands for a pipeline).
            boolean aTransposed = a.stride(-1) != 1 && a.stride(-2) == 1;
            boolean bTransposed = bb.stride(-1) != 1 && bb.stride(-2) == 1;
            Choice c = choose(a.dtype(), precision, m, n, batchCount, chunked, aTransposed, bTransposed,
                    b.multiprocessors(), b.maxSharedBytesPerBlock());
            // An operand broadcast over the batch (all batch strides 0) is converted once, not per entry.
            boolean aBatched = !allZero(inner.strides(0)), bBatched = !allZero(inner.strides(1));
            if (c.bf16Operands() && Math.max(bf16Floats(aBatched ? Math.min(perPiece, MAX_GRID_Z) : 1, m, k),
                    bf16Floats(bBatched ? Math.min(perPiece, MAX_GRID_Z) : 1, k, n)) > Integer.MAX_VALUE) {
                c = new Choice("gemm_bf16", 128, 128);  // the converted operands would not fit one buffer
            }
            if (ceilDiv(n, c.tileN()) > MAX_GRID_Y) {
                throw new UnsupportedOperationException("matmul on " + b.device() + ": " + n + " columns need "
                        + ceilDiv(n, c.tileN()) + " column tiles of " + c.tileN() + ", more than the grid's "
                        + MAX_GRID_Y + " (" + c.kernel() + ")");
            }
            for (long first = 0; first < perPiece; first += MAX_GRID_Z) {
                int count = (int) Math.min(MAX_GRID_Z, perPiece - first);
                if (c.bf16Operands()) {
                    // Each operand in its own orientation: A as [M][K] or, transposed, [K][M]; B as [K][N] or [N][K].
                    Tensor aBf16 = toBf16(b, aAddr, a, aTransposed, struct, 0, (int) first, aBatched ? count : 1);
                    Tensor bBf16 = toBf16(b, bAddr, bb, bTransposed, struct, 1, (int) first, bBatched ? count : 1);
                    b.launch(MODULE, c.kernel(), ceilDiv(m, c.tileM()), ceilDiv(n, c.tileN()), count, 256,
                            c.sharedBytes(), new KernelArgs().pointer(b.address(aBf16)).pointer(b.address(bBf16))
                                    .pointer(cAddr).i32(m).i32(n).i32(k).i32(bf16Pitch(aTransposed ? m : k))
                                    .i32(bf16Pitch(bTransposed ? k : n)).i32(aBatched ? 1 : 0).i32(bBatched ? 1 : 0)
                                    .i32((int) first));
                    continue;
                }
                KernelArgs args = new KernelArgs().pointer(aAddr).pointer(bAddr).pointer(cAddr).i32(m).i32(n).i32(k)
                        .i32(a.stride(-2)).i32(a.stride(-1)).i32(bb.stride(-2)).i32(bb.stride(-1)).struct(struct)
                        .i32((int) first);
                b.launch(MODULE, c.kernel(), ceilDiv(m, c.tileM()), ceilDiv(n, c.tileN()), count, 256, c.sharedBytes(),
                        args);
            }
        }
        return out;
    }

    /** Elements per row of a converted operand: its columns rounded up to 16 bytes of bfloat16. */
    static int bf16Pitch(int cols) {
        return (cols + 7) / 8 * 8;
    }

    /** At most the floats of a buffer of {@code entries} converted [rows, cols] operands, either orientation. */
    static long bf16Floats(long entries, int rows, int cols) {
        long halves = Math.max((long) rows * bf16Pitch(cols), (long) cols * bf16Pitch(rows));
        return (entries * halves + 1) / 2;
    }

    private static boolean allZero(int[] strides) {
        for (int s : strides) {
            if (s != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Batch entries [first, first + count) of one operand of a launch ({@code x}'s matrix at {@code address},
     * its batch offsets those of GemmBatch {@code struct} for {@code operand} 0 = A or 1 = B), rounded to
     * bfloat16 into a new buffer of {@code count} matrices, rows {@link #bf16Pitch}(cols) halves apart with
     * zeros past the columns. Rows run along the matrix's first dim, or its second when {@code transposed}
     * (then its unit stride lies along the rows of the buffer). The buffer is a float32 tensor of half as
     * many elements: Ladon has no bfloat16 dtype, and only the kernels read it.
     */
    private static Tensor toBf16(CudaBackend b, long address, Tensor x, boolean transposed, int[] struct, int operand,
            int first, int count) {
        int rows = transposed ? x.size(-1) : x.size(-2);
        int cols = transposed ? x.size(-2) : x.size(-1);
        int sRow = transposed ? x.stride(-1) : x.stride(-2);
        int sCol = transposed ? x.stride(-2) : x.stride(-1);
        int pitch = bf16Pitch(cols);
        long halves = (long) count * rows * pitch;
        Tensor buffer = b.empty(DType.FLOAT32, Math.toIntExact((halves + 1) / 2));  // sizes checked by matmul
        if (halves > 0) {
            b.launch(MODULE, "gemm_to_bf16", ceilDiv((long) rows * pitch, 256), count, 1, 256, 0, new KernelArgs()
                    .pointer(b.address(buffer)).pointer(address).i32(rows).i32(cols).i32(pitch).i32(sRow).i32(sCol)
                    .struct(struct).i32(operand).i32(first));
        }
        return buffer;
    }

    /** The {@code GemmBatch} struct: rank, shape[6], strideA[6], strideB[6]. A 0-dim batch is rank 0. */
    static int[] batchStruct(StridedLayout batch) {
        int[] s = new int[1 + 3 * MAX_BATCH_DIMS];
        int rank = batch.rank();
        int[] shape = batch.shape();
        boolean single = rank == 1 && shape[0] == 1;
        if (single) {
            return s;
        }
        s[0] = rank;
        for (int d = 0; d < rank; d++) {
            s[1 + d] = shape[d];
            s[1 + MAX_BATCH_DIMS + d] = batch.stride(0, d);
            s[1 + 2 * MAX_BATCH_DIMS + d] = batch.stride(1, d);
        }
        return s;
    }
}
