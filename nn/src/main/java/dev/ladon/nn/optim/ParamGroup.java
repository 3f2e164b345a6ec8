package dev.ladon.nn.optim;

import dev.ladon.nn.Module;
import dev.ladon.nn.Parameter;
import java.util.ArrayList;
import java.util.List;

/**
 * Parameters that share a weight decay within one {@link Optimizer}.
 *
 * @param params      the parameters (each in at most one group of an optimizer)
 * @param weightDecay the decay coefficient (L2 for SGD and Adam, decoupled for AdamW)
 */
public record ParamGroup(List<Parameter> params, double weightDecay) {
    public ParamGroup {
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("ParamGroup: weight decay must be >= 0, got " + weightDecay);
        }
        params = List.copyOf(params);
    }

    /** One group with every parameter of {@code model}. */
    public static List<ParamGroup> all(Module model, double weightDecay) {
        return List.of(new ParamGroup(model.parameters(), weightDecay));
    }

    /**
     * Two groups: weight matrices and embeddings (2 or more dims) with {@code weightDecay}, and the rest
     * (biases, norm weights, scalars: under 2 dims) without decay, the usual rule for Transformers.
     */
    public static List<ParamGroup> decayMatricesOnly(Module model, double weightDecay) {
        List<Parameter> decayed = new ArrayList<>();
        List<Parameter> plain = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            (p.shape().length >= 2 ? decayed : plain).add(p);
        }
        return List.of(new ParamGroup(decayed, weightDecay), new ParamGroup(plain, 0.0));
    }
}
