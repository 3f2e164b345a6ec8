package dev.ladon.cuda;

import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.ReduceOp;

/**
 * Launches {@code grouped.cu}: the mixture-of-experts grouped matmul and its backward. The gate gradient
 * is composed from existing kernels: dgate[p] = dOut[p] . (x[row[p]] @ weight[expert[p]]), an ungated
 * forward followed by a row-wise product and sum.
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
        Tensor xc = b.contiguous(x);
        Tensor wc = b.contiguous(weight);
        Tensor rc = b.contiguous(row);
        Tensor ec = b.contiguous(expert.dtype() == row.dtype() ? expert : expert.to(row.dtype()));
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
                        .pointer(gc == null ? 0 : b.address(gc)).i32(pairs).i32(n).i32(din).i32(dout).i32(experts)
                        .pointer(b.indexErrorAddress()));
        b.afterIndexCheck();
        return out;
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
        if (pairs > 0 && din > 0 && dout > 0) {
            long gate0 = gatec == null ? 0 : b.address(gatec);
            b.launch(MODULE, instance("grouped_backward_x", x, rc), MatmulKernels.ceilDiv(pairs, TILE),
                    MatmulKernels.ceilDiv(din, TILE), 1, THREADS, 0, new KernelArgs().pointer(b.address(dx)).pointer(b.address(gc)).pointer(b.address(wc))
                            .pointer(b.address(rc)).pointer(b.address(ec)).pointer(gate0).i32(pairs).i32(n).i32(din)
                            .i32(dout).i32(experts).pointer(b.indexErrorAddress()));
            b.launch(MODULE, instance("grouped_backward_w", x, rc), MatmulKernels.ceilDiv(pairs, RUN_PAIRS),
                    MatmulKernels.ceilDiv(din, TILE), MatmulKernels.ceilDiv(dout, TILE), THREADS, 0, new KernelArgs()
                            .pointer(b.address(dw)).pointer(b.address(xc)).pointer(b.address(gc)).pointer(b.address(rc))
                            .pointer(b.address(ec)).pointer(gate0).i32(pairs).i32(n).i32(din).i32(dout).i32(experts));
            b.afterIndexCheck();
        }
        if (gate != null) {
            Tensor ungated = forward(b, x, weight, row, expert, null);
            Tensor products = ElementwiseKernels.binary(b, BinaryOp.MUL, ungated, gc, x.dtype());
            dgate = ReduceKernels.reduce(b, ReduceOp.SUM, products, new int[] {1}, false);
        }
        return new Tensor[] {dx, dw, dgate};
    }
}
