package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;

/**
 * The Transformer feed-forward layer: W2 Drop(act(W1 x + b1)) + b2, x [..., d] to [..., d] through a
 * hidden width dFF. Dropout sits on the hidden activations (SwitchHead spec section 3).
 */
public final class FeedForward extends Module implements FeedForwardLayer {
    /** The hidden nonlinearity. */
    public enum Activation {
        RELU, GELU
    }

    private final Activation activation;
    private final Linear up;
    private final Linear down;
    private final Dropout dropout;

    public FeedForward(int d, int dFF, Activation activation, double dropout) {
        if (activation == null) {
            throw new IllegalArgumentException("FeedForward: activation must not be null (RELU or GELU)");
        }
        this.activation = activation;
        this.up = registerModule("up", new Linear(d, dFF, true));
        this.down = registerModule("down", new Linear(dFF, d, true));
        this.dropout = registerModule("dropout", new Dropout(dropout));
    }

    @Override
    public Variable forward(Variable x) {
        if (activation == Activation.RELU && (dropout.p() == 0 || !dropout.isTraining())) {
            // One node for the whole layer: its backward masks the hidden gradient inside the product that
            // makes it.
            return Functional.reluFeedForward(x, up.weight().variable(), variableOrNull(up.bias()),
                    down.weight().variable(), variableOrNull(down.bias()));
        }
        // With ReLU, one node takes it on each block of the first product as it is finished: the pre-activation
        // is never written out.
        Variable h = activation == Activation.RELU ? up.forwardRelu(x) : up.forward(x).gelu();
        return down.forward(dropout.forward(h));
    }

    private static Variable variableOrNull(Parameter p) {
        return p == null ? null : p.variable();
    }

    /** W1: d to dFF. */
    public Linear up() {
        return up;
    }

    /** W2: dFF to d. */
    public Linear down() {
        return down;
    }

    @Override
    protected String extraRepr() {
        return activation.name().toLowerCase(java.util.Locale.ROOT);
    }
}
