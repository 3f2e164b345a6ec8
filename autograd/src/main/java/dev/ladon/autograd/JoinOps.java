package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * cat, stack, split and chunk. cat's gradient is the output gradient narrowed back into pieces; split and
 * chunk are narrows, so their gradients are pieces padded with zeros ({@link #embed}), which is a cat.
 */
final class JoinOps {
    private JoinOps() {
    }

    static Variable cat(List<Variable> variables, int dim) {
        if (variables.isEmpty()) {
            throw new IllegalArgumentException("cat: needs at least one variable");
        }
        List<Tensor> data = new ArrayList<>();
        for (Variable v : variables) {
            data.add(v.data());
        }
        Tensor result = Tensor.cat(data, dim);
        int d = Shape.normalizeDim("cat", dim, variables.get(0).dim());
        int[] sizes = new int[variables.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = variables.get(i).size(d);
        }
        return Node.record("cat", result, variables.toArray(Variable[]::new), PointwiseOps.NOTHING, false,
                (g, s, needs) -> {
                    Variable[] grads = new Variable[sizes.length];
                    int at = 0;
                    for (int i = 0; i < sizes.length; i++) {
                        grads[i] = needs[i] ? g.narrow(d, at, sizes[i]) : null;
                        at += sizes[i];
                    }
                    return grads;
                });
    }

    static Variable stack(List<Variable> variables, int dim) {
        if (variables.isEmpty()) {
            throw new IllegalArgumentException("stack: needs at least one variable");
        }
        int[] shape = variables.get(0).shape();
        int d = Shape.normalizeDim("stack", dim, shape.length + 1);
        List<Variable> unsqueezed = new ArrayList<>();
        for (Variable v : variables) {
            if (!Arrays.equals(v.shape(), shape)) {
                throw new IllegalArgumentException("stack: shapes " + Shape.str(shape) + " and " + Shape.str(v.shape())
                        + " differ");
            }
            unsqueezed.add(v.unsqueeze(d));
        }
        return cat(unsqueezed, d);
    }

    static List<Variable> split(Variable x, int splitSize, int dim) {
        int d = Shape.normalizeDim("split", dim, x.dim());
        if (splitSize <= 0) {
            throw new IllegalArgumentException("split: size must be positive, got " + splitSize);
        }
        List<Variable> out = new ArrayList<>();
        int n = x.size(d);
        for (int start = 0; start < n; start += splitSize) {
            out.add(x.narrow(d, start, Math.min(splitSize, n - start)));
        }
        return out;
    }

    static List<Variable> chunk(Variable x, int chunks, int dim) {
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk: number of chunks must be positive, got " + chunks);
        }
        int d = Shape.normalizeDim("chunk", dim, x.dim());
        return split(x, Math.max(1, (x.size(d) + chunks - 1) / chunks), d);
    }

    /** g placed at [start, start + g.size(dim)) along dim of a zero tensor of {@code shape}. */
    static Variable embed(Variable g, int[] shape, int dim, int start) {
        int length = g.size(dim);
        int after = shape[dim] - start - length;
        if (start == 0 && after == 0) {
            return g;
        }
        List<Variable> pieces = new ArrayList<>();
        if (start > 0) {
            pieces.add(zeros(g, shape, dim, start));
        }
        pieces.add(g);
        if (after > 0) {
            pieces.add(zeros(g, shape, dim, after));
        }
        return cat(pieces, dim);
    }

    private static Variable zeros(Variable like, int[] shape, int dim, int size) {
        int[] s = shape.clone();
        s[dim] = size;
        return Variable.constant(Tensor.zeros(like.dtype(), like.device(), s));
    }
}
