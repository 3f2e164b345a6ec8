package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Tensor;

/**
 * A trainable tensor of a {@link Module}. The layer keeps this slot; the slot holds the leaf
 * {@link Variable} that forward passes use and optimizers update in place. Keeping a slot rather than the
 * variable itself lets {@link Module#to} move a model to another device or dtype by swapping in a new leaf
 * while every layer field stays valid.
 */
public final class Parameter {
    private Variable variable;

    Parameter(Tensor initial) {
        this.variable = Variable.parameter(initial);
    }

    /** The leaf to use in forward: {@code x.matmul(weight.variable().mT())}. */
    public Variable variable() {
        return variable;
    }

    /** The current value (shared, so in-place changes are the parameter's changes). */
    public Tensor data() {
        return variable.data();
    }

    /** The accumulated gradient, or null before the first backward that reached this parameter. */
    public Tensor grad() {
        return variable.grad();
    }

    public void zeroGrad() {
        variable.zeroGrad();
    }

    public int[] shape() {
        return variable.shape();
    }

    public int numel() {
        return variable.numel();
    }

    /**
     * Makes forward passes use {@code leaf} (which must hold a tensor of this shape): the gradient-check
     * cases bind a layer's parameters to the checker's own input variables this way.
     */
    void bind(Variable leaf) {
        if (!java.util.Arrays.equals(leaf.shape(), variable.shape())) {
            throw new IllegalArgumentException("Parameter.bind: shape " + dev.ladon.tensor.Shape.str(leaf.shape())
                    + " differs from " + dev.ladon.tensor.Shape.str(variable.shape()));
        }
        variable = leaf;
    }

    /** Swaps in a new leaf holding {@code value}; the gradient is dropped. */
    void replace(Tensor value) {
        variable = Variable.parameter(value);
    }

    @Override
    public String toString() {
        return "Parameter" + dev.ladon.tensor.Shape.str(shape()) + " " + variable.dtype();
    }
}
