package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Tensor;

/**
 * Layer norm over the last dim (the fused kernel): (x - mean) / sqrt(var + eps) * weight + bias, weight
 * initialised to 1 and bias to 0; without {@code affine}, neither exists.
 */
public final class LayerNorm extends Module {
    private final int dim;
    private final double eps;
    private final Parameter weight;
    private final Parameter bias;

    public LayerNorm(int dim) {
        this(dim, 1e-5, true);
    }

    public LayerNorm(int dim, double eps, boolean affine) {
        if (dim < 1 || !(eps >= 0)) {
            throw new IllegalArgumentException("LayerNorm: need dim >= 1 and eps >= 0, got dim=" + dim + " eps=" + eps);
        }
        this.dim = dim;
        this.eps = eps;
        this.weight = affine ? registerParameter("weight", Tensor.ones(dim)) : null;
        this.bias = affine ? registerParameter("bias", Tensor.zeros(dim)) : null;
    }

    /** x [..., dim] to the same shape. */
    public Variable forward(Variable x) {
        return Functional.layerNorm(x, weight == null ? null : weight.variable(), bias == null ? null : bias.variable(),
                eps);
    }

    @Override
    protected String extraRepr() {
        return dim + ", eps=" + eps + (weight == null ? ", affine=false" : "");
    }
}
