package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.Tensor;
import java.util.List;

/**
 * Stochastic gradient descent with optional momentum and Nesterov momentum, in PyTorch's form: with
 * g = grad + weightDecay * p, the buffer b = g at the first step and b = momentum * b + g after;
 * the update is p -= lr * b, or p -= lr * (g + momentum * b) with Nesterov.
 */
public final class SGD extends Optimizer {
    private final double momentum;
    private final boolean nesterov;

    public SGD(List<ParamGroup> groups, double learningRate) {
        this(groups, learningRate, 0.0, false);
    }

    public SGD(List<ParamGroup> groups, double learningRate, double momentum, boolean nesterov) {
        super(groups, learningRate);
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("SGD: momentum must be in [0, 1), got " + momentum);
        }
        if (nesterov && momentum == 0) {
            throw new IllegalArgumentException("SGD: Nesterov momentum needs momentum > 0");
        }
        this.momentum = momentum;
        this.nesterov = nesterov;
    }

    /** The momentum buffer, kept only with momentum. */
    @Override
    protected List<String> stateNames() {
        return momentum == 0 ? List.of() : List.of("momentum");
    }

    @Override
    protected void update(int index, Parameter param, Tensor grad, double weightDecay) {
        Tensor p = param.data();
        Tensor g = weightDecay == 0 ? grad : grad.add(p.mul(weightDecay));
        if (momentum != 0) {
            Tensor buffer = state(index, "momentum");
            if (buffer == null) {
                buffer = g.copy();
                putState(index, "momentum", buffer);
            } else {
                buffer.mulInPlace(momentum).addInPlace(g);
            }
            g = nesterov ? g.add(buffer.mul(momentum)) : buffer;
        }
        p.subInPlace(g.mul(learningRate()));
    }
}
