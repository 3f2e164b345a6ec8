package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reductions, softmax and cumsum, and their gradients. A reduction's gradient is the output gradient put
 * back over the reduced dims ({@link #expandBack}); {@link #sumToShape} is the reverse step, used by every
 * broadcasting op.
 */
final class ReductionOps {
    private ReductionOps() {
    }

    static int[] allDims(int rank) {
        int[] d = new int[rank];
        for (int i = 0; i < rank; i++) {
            d[i] = i;
        }
        return d;
    }

    /** Distinct dims in 0..rank-1, ascending (none for a 0-dim tensor, as Tensor's reductions do). */
    static int[] normalize(String op, int[] dims, int rank) {
        boolean[] picked = new boolean[Math.max(rank, 1)];
        for (int d : dims) {
            picked[Shape.normalizeDim(op, d, rank)] = true;
        }
        if (rank == 0) {
            return new int[0];
        }
        List<Integer> out = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            if (picked[d]) {
                out.add(d);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Sums a broadcast gradient back to {@code shape}: over added leading dims and dims that were size 1. */
    static Variable sumToShape(Variable g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) {
            return g;
        }
        int lead = gs.length - shape.length;
        List<Integer> dims = new ArrayList<>();
        for (int d = 0; d < gs.length; d++) {
            if (d < lead || (shape[d - lead] == 1 && gs[d] != 1)) {
                dims.add(d);
            }
        }
        Variable summed = dims.isEmpty() ? g : g.sum(dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return summed.reshape(shape);
    }

    /** The gradient of a reduction over {@code dims}, broadcast back to the input's shape. */
    static Variable expandBack(Variable g, int[] inputShape, int[] dims, boolean keepDim) {
        Variable e = g;
        if (!keepDim) {
            for (int d : dims) {
                e = e.unsqueeze(d);
            }
        }
        return e.expand(inputShape);
    }

    private static Tensor keepDims(Tensor reduced, int[] dims, boolean keepDim) {
        Tensor t = reduced;
        if (!keepDim) {
            for (int d : dims) {
                t = t.unsqueeze(d);
            }
        }
        return t;
    }

    static Variable sum(Variable x, int[] dims, boolean keepDim) {
        int[] d = normalize("sum", dims, x.dim());
        int[] shape = x.shape();
        return Node.record("sum", x.data().sum(d, keepDim), new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {expandBack(g, shape, d, keepDim)});
    }

    static Variable mean(Variable x, int[] dims, boolean keepDim) {
        int[] d = normalize("mean", dims, x.dim());
        int[] shape = x.shape();
        int n = 1;
        for (int k : d) {
            n *= shape[k];
        }
        double scale = 1.0 / n;
        return Node.record("mean", x.data().mean(d, keepDim), new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {expandBack(g.mul(scale), shape, d, keepDim)});
    }

    /**
     * max/min over dims: the gradient goes to the extreme elements, split evenly among ties. Where the extreme
     * is NaN (a NaN wins max and min, as in PyTorch) it goes to the NaN elements, which eq alone never finds.
     */
    static Variable extremum(String op, Variable x, int[] dims, boolean keepDim, boolean max) {
        int[] d = normalize(op, dims, x.dim());
        int[] shape = x.shape();
        Tensor result = max ? x.data().max(d, keepDim) : x.data().min(d, keepDim);
        return Node.record(op, result, new Variable[] {x}, new Variable[] {x}, true, (g, s, needs) -> {
            Tensor xs = s[0].data();
            Tensor extreme = keepDims(s[1].data(), d, keepDim);
            Tensor equal = xs.eq(extreme).to(g.dtype());
            // NaN elements of x where the extreme is NaN (x != x marks NaN).
            Tensor nanWhereNanWon = xs.ne(xs).to(g.dtype()).mul(extreme.ne(extreme).to(g.dtype()));
            Tensor hit = equal.add(nanWhereNanWon);
            Tensor share = hit.div(hit.sum(d, true));
            return new Variable[] {expandBack(g, shape, d, keepDim).mul(Variable.constant(share))};
        });
    }

    /** d logsumexp(x) / dx = exp(x - logsumexp(x)) = softmax(x) over the reduced dims. */
    static Variable logsumexp(Variable x, int[] dims, boolean keepDim) {
        int[] d = normalize("logsumexp", dims, x.dim());
        int[] shape = x.shape();
        return Node.record("logsumexp", x.data().logsumexp(d, keepDim), new Variable[] {x}, new Variable[] {x}, true,
                (g, s, needs) -> {
                    Variable y = s[1];
                    if (!keepDim) {
                        for (int k : d) {
                            y = y.unsqueeze(k);
                        }
                    }
                    return new Variable[] {expandBack(g, shape, d, keepDim).mul(s[0].sub(y).exp())};
                });
    }

    /**
     * softmax: dx = y (g - sum(g y)); log-softmax: dx = g - exp(y) sum(g), sums along dim. A first-order
     * backward runs the backend's fused kernel; under createGraph the same formula is composed of
     * Variable ops so that it can be differentiated again.
     */
    static Variable softmax(Variable x, int dim, boolean log) {
        int d = Shape.normalizeDim(log ? "logSoftmax" : "softmax", dim, x.dim());
        Tensor result = log ? x.data().logSoftmax(d) : x.data().softmax(d);
        int[] dims = {d};
        return Node.record(log ? "logSoftmax" : "softmax", result, new Variable[] {x}, PointwiseOps.NOTHING, true,
                (g, s, needs) -> {
                    Variable y = s[0];
                    if (!GradMode.isEnabled()) {
                        Tensor yd = y.data();
                        return new Variable[] {Variable.constant(yd.backend().softmaxBackward(yd, g.data(), d, log))};
                    }
                    if (log) {
                        return new Variable[] {g.sub(y.exp().mul(g.sum(dims, true)))};
                    }
                    return new Variable[] {y.mul(g.sub(g.mul(y).sum(dims, true)))};
                });
    }

    /** out_j = sum_{i &lt;= j} x_i, so dx_i = sum_{j &gt;= i} g_j = total - cumsum(g)_i + g_i. */
    static Variable cumsum(Variable x, int dim) {
        int d = Shape.normalizeDim("cumsum", dim, x.dim());
        int[] dims = {d};
        return Node.record("cumsum", x.data().cumsum(d), new Variable[] {x}, PointwiseOps.NOTHING, false,
                (g, s, needs) -> new Variable[] {g.sum(dims, true).sub(g.cumsum(d)).add(g)});
    }
}
