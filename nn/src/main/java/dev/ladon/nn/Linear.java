package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * y = x W^T + b over the last dim: x [..., in] to y [..., out]. The weight is laid out [out, in] as in
 * PyTorch, so state dicts map one to one. Default init is PyTorch's: W and b uniform in
 * [-1/sqrt(in), 1/sqrt(in)], drawn from the default generator.
 */
public final class Linear extends Module {
    private final int inFeatures;
    private final int outFeatures;
    private final Parameter weight;
    private final Parameter bias;

    public Linear(int inFeatures, int outFeatures, boolean bias) {
        this(inFeatures, outFeatures, bias, Generator.defaultGenerator());
    }

    public Linear(int inFeatures, int outFeatures, boolean bias, Generator gen) {
        if (inFeatures < 1 || outFeatures < 1) {
            throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + inFeatures + " out="
                    + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = registerParameter("weight", Tensor.zeros(outFeatures, inFeatures));
        this.bias = bias ? registerParameter("bias", Tensor.zeros(outFeatures)) : null;
        double bound = 1 / Math.sqrt(inFeatures);
        Init.uniform(weight, -bound, bound, gen);
        if (bias) {
            Init.uniform(this.bias, -bound, bound, gen);
        }
    }

    /** x [..., in] to [..., out]. */
    public Variable forward(Variable x) {
        checkInput("forward", x);
        return Functional.linear(x, weight.variable(), bias == null ? null : bias.variable());
    }

    /** relu(forward(x)) as one node ({@link Functional#linearRelu}): the same values, one pass fewer. */
    public Variable forwardRelu(Variable x) {
        checkInput("forwardRelu", x);
        return Functional.linearRelu(x, weight.variable(), bias == null ? null : bias.variable());
    }

    private void checkInput(String method, Variable x) {
        if (x.dim() == 0 || x.size(-1) != inFeatures) {
            throw new IllegalArgumentException("Linear." + method + ": expected input [..., " + inFeatures + "], got "
                    + Shape.str(x.shape()));
        }
    }

    public Parameter weight() {
        return weight;
    }

    /** The bias, or null when built without one. */
    public Parameter bias() {
        return bias;
    }

    public int inFeatures() {
        return inFeatures;
    }

    public int outFeatures() {
        return outFeatures;
    }

    @Override
    protected String extraRepr() {
        return inFeatures + ", " + outFeatures + ", bias=" + (bias != null);
    }
}
