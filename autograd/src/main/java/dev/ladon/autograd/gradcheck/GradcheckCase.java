package dev.ladon.autograd.gradcheck;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One entry of the gradient-check suite: a function, the (float64) point to check it at, and which public
 * ops it covers, so that a registry test can tell when an op has no case.
 *
 * @param name        a unique, readable name, e.g. {@code "matmul broadcast batch"}
 * @param covers      names of the differentiable ops this case exercises (e.g. {@code "matmul"})
 * @param function    the function checked
 * @param inputs      the point; inputs may be non-contiguous views but not expanded ones
 * @param options     tolerances and which inputs to differentiate
 * @param secondOrder also run {@link Gradcheck#gradgradcheck}
 */
public record GradcheckCase(String name, List<String> covers, GradcheckFunction function, List<Tensor> inputs,
        GradcheckOptions options, boolean secondOrder) {

    public GradcheckCase {
        covers = List.copyOf(covers);
        inputs = Collections.unmodifiableList(new ArrayList<>(inputs));
    }

    /** A first-order case with default options, covering the op named like the case. */
    public static GradcheckCase of(String name, GradcheckFunction function, Tensor... inputs) {
        return new GradcheckCase(name, List.of(name), function, Arrays.asList(inputs), GradcheckOptions.defaults(), false);
    }

    public GradcheckCase covering(String... ops) {
        return new GradcheckCase(name, List.of(ops), function, inputs, options, secondOrder);
    }

    public GradcheckCase withOptions(GradcheckOptions value) {
        return new GradcheckCase(name, covers, function, inputs, value, secondOrder);
    }

    /** Also check second derivatives (the op's backward must be made of differentiable ops). */
    public GradcheckCase withSecondOrder() {
        return new GradcheckCase(name, covers, function, inputs, options, true);
    }

    /**
     * This case with its inputs copied to {@code device} (contiguous copies: a transposed or strided input
     * arrives as a plain one). The function is unchanged, so tensors or modules it captures stay where they
     * were; see {@link GradcheckCaseProvider#cases(Device)}.
     */
    public GradcheckCase withInputsOn(Device device) {
        List<Tensor> moved = new ArrayList<>();
        for (Tensor t : inputs) {
            moved.add(t == null ? null : t.to(device));
        }
        return new GradcheckCase(name, covers, function, moved, options, secondOrder);
    }

    /** Runs gradcheck (and gradgradcheck when asked); an exception counts as a failure with its message. */
    public GradcheckResult run() {
        try {
            GradcheckResult first = Gradcheck.gradcheck(function, inputs, options);
            if (!first.passed() || !secondOrder) {
                return first;
            }
            GradcheckResult second = Gradcheck.gradgradcheck(function, inputs, options);
            if (!second.passed()) {
                return second;
            }
            return new GradcheckResult(true, first.summary() + "; " + second.summary(),
                    Math.max(first.worstRelativeError(), second.worstRelativeError()),
                    first.entriesCompared() + second.entriesCompared());
        } catch (RuntimeException e) {
            return new GradcheckResult(false, "threw " + e.getClass().getSimpleName() + ": " + e.getMessage(), Double.NaN, 0);
        }
    }
}
