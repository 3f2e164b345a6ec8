package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * Views (no copy in the forward) and their gradients: the output gradient is put back into the input's
 * layout: reshaped, permuted back, padded with zeros around a narrowed range, or summed over expanded dims.
 * Views of views need nothing special: each view is one node, and the chain runs backward link by link.
 */
final class ViewOps {
    private ViewOps() {
    }

    /** Ops that keep the elements in order and only change the shape (view, reshape, squeeze, ...). */
    static Variable reshapeLike(String op, Variable x, Tensor result) {
        int[] shape = x.shape();
        return Node.record(op, result, new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {g.reshape(shape)});
    }

    static Variable permute(Variable x, int[] order) {
        Tensor result = x.data().permute(order);
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[Shape.normalizeDim("permute", order[i], order.length)] = i;
        }
        return Node.record("permute", result, new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {g.permute(inverse)});
    }

    static Variable transpose(Variable x, int dim0, int dim1) {
        return Node.record("transpose", x.data().transpose(dim0, dim1), new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {g.transpose(dim0, dim1)});
    }

    static Variable narrow(Variable x, int dim, int start, int length) {
        Tensor result = x.data().narrow(dim, start, length);
        int d = Shape.normalizeDim("narrow", dim, x.dim());
        int[] shape = x.shape();
        return Node.record("narrow", result, new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {JoinOps.embed(g, shape, d, start)});
    }

    static Variable slice(Variable x, int dim, int start, int end, int step) {
        Tensor result = x.data().slice(dim, start, end, step);
        int d = Shape.normalizeDim("slice", dim, x.dim());
        int[] shape = x.shape();
        int n = shape[d];
        // The first index taken, as Tensor.slice computes it.
        int lo = Math.clamp(start < 0 ? start + n : start, 0, n);
        int count = result.size(d);
        return Node.record("slice", result, new Variable[] {x}, PointwiseOps.NOTHING, false, (g, s, needs) -> {
            if (step == 1) {
                return new Variable[] {JoinOps.embed(g, shape, d, lo)};
            }
            long[] picked = new long[count];
            for (int j = 0; j < count; j++) {
                picked[j] = lo + (long) j * step;
            }
            Tensor index = Tensor.of(picked, count).to(g.device());
            Variable zeros = Variable.constant(Tensor.zeros(g.dtype(), g.device(), shape));
            return new Variable[] {zeros.indexAdd(d, index, g)};
        });
    }

    static Variable select(Variable x, int dim, int index) {
        Tensor result = x.data().select(dim, index);
        int d = Shape.normalizeDim("select", dim, x.dim());
        int i = index < 0 ? index + x.size(d) : index;
        int[] shape = x.shape();
        return Node.record("select", result, new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {JoinOps.embed(g.unsqueeze(d), shape, d, i)});
    }

    static Variable expand(Variable x, int[] newShape) {
        int[] shape = x.shape();
        return Node.record("expand", x.data().expand(newShape), new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {ReductionOps.sumToShape(g, shape)});
    }
}
