package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Tensor;

/** RMS norm over the last dim (the fused kernel): x / sqrt(mean(x^2) + eps) * weight, weight initialised to 1. */
public final class RMSNorm extends Module {
    private final int dim;
    private final double eps;
    private final Parameter weight;

    public RMSNorm(int dim) {
        this(dim, 1e-6);
    }

    public RMSNorm(int dim, double eps) {
        if (dim < 1 || !(eps >= 0)) {
            throw new IllegalArgumentException("RMSNorm: need dim >= 1 and eps >= 0, got dim=" + dim + " eps=" + eps);
        }
        this.dim = dim;
        this.eps = eps;
        this.weight = registerParameter("weight", Tensor.ones(dim));
    }

    /** x [..., dim] to the same shape. */
    public Variable forward(Variable x) {
        return Functional.rmsNorm(x, weight.variable(), eps);
    }

    @Override
    protected String extraRepr() {
        return dim + ", eps=" + eps;
    }
}
