package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Gradients as values instead of accumulated into leaves (the counterpart of {@code torch.autograd.grad}),
 * which is what higher-order derivatives and gradcheck need, and a diagnostic for graph memory.
 */
public final class Autograd {
    private Autograd() {
    }

    /**
     * The gradients of {@code output} with respect to each of {@code inputs}, returned instead of added to
     * any {@code grad}.
     *
     * @param gradOutput  dL/d(output), shaped like output; with createGraph it may itself require grad
     * @param retainGraph keep the graph's saved tensors for another backward
     * @param createGraph record the backward itself, so that the returned gradients can be differentiated
     *                    (second derivatives); ops whose backward is a fused kernel then fail when the
     *                    gradient is differentiated, naming the op
     * @return one gradient per input, of its shape; zeros for an input the output does not depend on
     * @throws IllegalStateException when the output or an input does not require grad
     */
    public static List<Variable> grad(Variable output, List<Variable> inputs, Variable gradOutput, boolean retainGraph,
            boolean createGraph) {
        Node root = output.rootFor("grad", gradOutput.data());
        Set<Node> capture = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Node> targets = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            Variable input = inputs.get(i);
            if (!input.requiresGrad()) {
                throw new IllegalStateException("grad: input " + i + " (" + input.dtype() + " " + Shape.str(input.shape())
                        + ") does not require grad, so it has no gradient; make it with Variable.parameter(...)");
            }
            Node target = input.gradientEdge();
            targets.add(target);
            capture.add(target);
        }
        Variable seed = gradOutput.dtype() == output.dtype() ? gradOutput : gradOutput.to(output.dtype());
        Map<Node, Variable> captured = Engine.run(root, seed, retainGraph, createGraph, capture);
        List<Variable> grads = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            Variable g = captured.get(targets.get(i));
            Variable input = inputs.get(i);
            grads.add(g != null ? g : Variable.constant(Tensor.zeros(input.dtype(), input.device(), input.shape())));
        }
        return grads;
    }

    /** The gradients of a one-element output with respect to {@code inputs}, as tensors; frees the graph. */
    public static List<Tensor> grad(Variable output, List<Variable> inputs) {
        if (output.numel() != 1) {
            throw new IllegalStateException("grad: the output has shape " + Shape.str(output.shape()) + "; without an "
                    + "explicit gradOutput it must have one element");
        }
        Variable ones = Variable.constant(Tensor.ones(output.dtype(), output.device(), output.shape()));
        List<Tensor> out = new ArrayList<>();
        for (Variable g : grad(output, inputs, ones, false, false)) {
            out.add(g.data());
        }
        return out;
    }

    /**
     * Tensors currently saved for backward by live graphs: each recorded op adds what it saved, and a
     * backward without retainGraph (or the garbage collector, for a graph that was dropped) removes it. A
     * training loop that calls backward every step keeps this flat; growth means graphs are being kept.
     */
    public static long liveSavedTensors() {
        return SavedTensor.live();
    }
}
