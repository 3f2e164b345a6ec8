package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;

/**
 * Inverted dropout: in training mode each element is zeroed with probability p and the rest scaled by
 * 1 / (1 - p); in eval mode the identity. Masks come from a counter-based {@link Generator}, so a run is
 * reproduced from its seed on any device and thread count.
 */
public final class Dropout extends Module {
    private final double p;
    private final Generator generator;

    /** Dropout drawing from the default generator. */
    public Dropout(double p) {
        this(p, Generator.defaultGenerator());
    }

    public Dropout(double p, Generator generator) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("Dropout: p must be in [0, 1], got " + p);
        }
        this.p = p;
        this.generator = generator;
    }

    public Variable forward(Variable x) {
        return Functional.dropout(x, p, isTraining(), generator);
    }

    public double p() {
        return p;
    }

    @Override
    protected String extraRepr() {
        return "p=" + p;
    }
}
