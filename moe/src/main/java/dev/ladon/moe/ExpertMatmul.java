package dev.ladon.moe;

import dev.ladon.autograd.Function;
import dev.ladon.autograd.FunctionContext;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;

/**
 * The compacted expert matmul as one differentiable op: for each (row, expert) pair p,
 * <pre>
 *   out[p] = gate[p] * (x[row[p]] @ weight[expert[p]])
 * </pre>
 * with x [N, Din], weight [E, Din, Dout], gate [P] (or null for 1) and out [P, Dout]. The routing
 * (row [P], expert [P], integer tensors) is a constant of the op: top-k choices carry no gradient. Cost is
 * proportional to the number of pairs P, never to E. Forward and backward run the fused kernels
 * {@link FusedOps#groupedMatmul} and {@link FusedOps#groupedMatmulBackward}.
 */
public final class ExpertMatmul extends Function {
    private final Tensor row;
    private final Tensor expert;

    private ExpertMatmul(Tensor row, Tensor expert) {
        this.row = row;
        this.expert = expert;
    }

    /**
     * out [P, Dout] as in the class comment; gradients flow to x, weight and gate (gate may be null).
     *
     * @throws IllegalArgumentException when shapes, dtypes or devices do not fit (message from the kernel)
     */
    public static Variable apply(Variable x, Variable weight, Variable gate, Tensor row, Tensor expert) {
        return new ExpertMatmul(row, expert).apply(x, weight, gate);
    }

    @Override
    protected Tensor forward(FunctionContext ctx, Tensor... in) {
        Tensor x = in[0].contiguous();
        Tensor weight = in[1].contiguous();
        Tensor gate = in[2] == null ? null : in[2].contiguous();
        ctx.saveForBackward(x, weight, gate);
        return FusedOps.groupedMatmul(x, weight, row, expert, gate);
    }

    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor gradOutput) {
        Tensor[] s = ctx.savedTensors();
        return FusedOps.groupedMatmulBackward(gradOutput.contiguous(), s[0], s[1], row, expert, s[2]);
    }

    @Override
    public String name() {
        return "expertMatmul";
    }
}
