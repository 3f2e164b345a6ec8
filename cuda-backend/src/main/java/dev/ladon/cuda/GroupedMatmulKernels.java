package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.ReduceOp;

/**
 * Launches {@code grouped.cu}: the mixture-of-experts grouped matmul and its backward. Each call first
 * orders the pairs by expert ({@link #expertOrder}: a counting sort on the GPU), which the kernels walk so
 * that a tile's pairs share their expert's weights. The gate gradient is composed from existing kernels:
 * dgate[p] = dOut[p] . (x[row[p]] @ weight[expert[p]]), an ungated forward followed by a row-wise product
 * and sum.
 */
final class GroupedMatmulKernels {
    static final String MODULE = "grouped";
    static final int THREADS = 256;
    /** Outputs per side of a kernel's tile, and pairs per backward-w block (grouped.cu: TILE, RUN_PAIRS). */
    static final int TILE = 64;
    static final int RUN_PAIRS = 256;

    private GroupedMatmulKernels() {
    }

    private static String instance(String kernel, Tensor x, Tensor index) {
        return kernel + "_" + CudaBackend.suffix(x.dtype()) + "_" + CudaBackend.suffix(index.dtype());
    }

    static Tensor forward(CudaBackend b, Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        Tensor ec = b.contiguous(expert.dtype() == row.dtype() ? expert : expert.to(row.dtype()));
        return forward(b, x, weight, row, ec, gate, expertOrder(b, ec, weight.size(0)));
    }

    /** The forward over pairs in {@code order} (an {@link #expertOrder} of ec, the experts in row's dtype). */
    private static Tensor forward(CudaBackend b, Tensor x, Tensor weight, Tensor row, Tensor ec, Tensor gate,
            Tensor order) {
        Tensor xc = b.contiguous(x);
        Tensor wc = b.contiguous(weight);
        Tensor rc = b.contiguous(row);
        Tensor gc = gate == null ? null : b.contiguous(gate);
        int pairs = row.numel();
        int n = x.size(0);
        int din = x.size(1);
        int dout = weight.size(2);
        int experts = weight.size(0);
        Tensor out = b.empty(x.dtype(), pairs, dout);
        if (out.numel() == 0) {
            return out;
        }
        b.launch(MODULE, instance("grouped_forward", x, rc), MatmulKernels.ceilDiv(pairs, TILE),
                MatmulKernels.ceilDiv(dout, TILE), 1, THREADS, 0, new KernelArgs().pointer(b.address(out))
                        .pointer(b.address(xc)).pointer(b.address(wc)).pointer(b.address(rc)).pointer(b.address(ec))
                        .pointer(gc == null ? 0 : b.address(gc)).pointer(b.address(order)).i32(pairs).i32(n).i32(din)
                        .i32(dout).i32(experts).pointer(b.indexErrorAddress()));
        b.afterIndexCheck();
        return out;
    }

    /**
     * The pairs' indices grouped by expert (int32 [P]): a counting sort of {@code ec} over the experts'
     * buckets (one more for out-of-range experts, which the kernels report), on the GPU, so that nothing
     * waits for the host. Within an expert the order is whatever the atomics give; no result depends on it
     * beyond the rounding of the atomic sums the backward already has.
     */
    static Tensor expertOrder(CudaBackend b, Tensor ec, int experts) {
        int pairs = ec.numel();
        Tensor order = b.empty(DType.INT32, Math.max(pairs, 1));
        if (pairs == 0) {
            return order;
        }
        Tensor counts = b.zeros(DType.INT32, experts + 1);
        String suffix = "_" + CudaBackend.suffix(ec.dtype());
        int grid = CudaBackend.gridFor(pairs, THREADS);
        b.launch(MODULE, "grouped_count" + suffix, grid, THREADS, 0, new KernelArgs().pointer(b.address(counts))
                .pointer(b.address(ec)).i32(pairs).i32(experts));
        b.launch(MODULE, "grouped_offsets", 1, 32, 0, new KernelArgs().pointer(b.address(counts)).i32(experts));
        b.launch(MODULE, "grouped_scatter" + suffix, grid, THREADS, 0, new KernelArgs().pointer(b.address(order))
                .pointer(b.address(counts)).pointer(b.address(ec)).i32(pairs).i32(experts));
        return order;
    }

    static Tensor[] backward(CudaBackend b, Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert,
            Tensor gate) {
        Tensor xc = b.contiguous(x);
        Tensor wc = b.contiguous(weight);
        Tensor gc = b.contiguous(gradOut);
        Tensor rc = b.contiguous(row);
        Tensor ec = b.contiguous(expert.dtype() == row.dtype() ? expert : expert.to(row.dtype()));
        Tensor gatec = gate == null ? null : b.contiguous(gate);
        int pairs = row.numel();
        int n = x.size(0);
        int din = x.size(1);
        int dout = weight.size(2);
        int experts = weight.size(0);
        Tensor dx = b.zeros(x.dtype(), n, din);
        Tensor dw = b.zeros(x.dtype(), experts, din, dout);
        Tensor dgate = null;
        Tensor order = expertOrder(b, ec, experts);
        if (pairs > 0 && din > 0 && dout > 0) {
            long gate0 = gatec == null ? 0 : b.address(gatec);
            b.launch(MODULE, instance("grouped_backward_x", x, rc), MatmulKernels.ceilDiv(pairs, TILE),
                    MatmulKernels.ceilDiv(din, TILE), 1, THREADS, 0, new KernelArgs().pointer(b.address(dx))
                            .pointer(b.address(gc)).pointer(b.address(wc)).pointer(b.address(rc)).pointer(b.address(ec)).pointer(gate0).pointer(b.address(order))
                            .i32(pairs).i32(n).i32(din).i32(dout).i32(experts).pointer(b.indexErrorAddress()));
            b.launch(MODULE, instance("grouped_backward_w", x, rc), MatmulKernels.ceilDiv(pairs, RUN_PAIRS),
                    MatmulKernels.ceilDiv(din, TILE), MatmulKernels.ceilDiv(dout, TILE), THREADS, 0, new KernelArgs()
                            .pointer(b.address(dw)).pointer(b.address(xc)).pointer(b.address(gc)).pointer(b.address(rc))
                            .pointer(b.address(ec)).pointer(gate0).pointer(b.address(order)).i32(pairs).i32(n).i32(din)
                            .i32(dout).i32(experts));
            b.afterIndexCheck();
        }
        if (gate != null) {
            Tensor ungated = forward(b, x, weight, row, ec, null, order);
            Tensor products = ElementwiseKernels.binary(b, BinaryOp.MUL, ungated, gc, x.dtype());
            dgate = ReduceKernels.reduce(b, ReduceOp.SUM, products, new int[] {1}, false);
        }
        return new Tensor[] {dx, dw, dgate};
    }
}
