package dev.ladon.autograd;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * One recorded op in the graph: where its inputs' gradients go ({@link #next}), what it saved for
 * backward, and its gradient formula. A node has one output, the {@link Variable} whose
 * {@code gradFn} it is. A leaf that requires grad has an accumulator node instead ({@link #leaf} set),
 * which adds the incoming gradient into the leaf's {@code grad}.
 */
final class Node {
    /** The gradient formula of one op: a gradient per input (null where none is needed). */
    @FunctionalInterface
    interface Backward {
        /**
         * @param grad      dL/d(output), shaped like the output
         * @param saved     the values saved at forward time (those passed to record, then the output when it
         *                  was saved), already checked against in-place changes
         * @param needsGrad which inputs want a gradient
         */
        Variable[] apply(Variable grad, Variable[] saved, boolean[] needsGrad);
    }

    final String op;
    /** The node that receives input i's gradient, or null when input i needs none. */
    final Node[] next;
    /** For an accumulator node: the leaf whose grad it accumulates; null for op nodes. */
    final Variable leaf;
    private final int[][] inputShapes;
    private final DType[] inputTypes;
    private final boolean onceDifferentiable;
    private Backward backward;
    private SavedTensor[] saved;
    private List<UnaryOperator<Variable>> hooks;

    private Node(String op, Node[] next, Variable leaf, int[][] inputShapes, DType[] inputTypes,
            boolean onceDifferentiable) {
        this.op = op;
        this.next = next;
        this.leaf = leaf;
        this.inputShapes = inputShapes;
        this.inputTypes = inputTypes;
        this.onceDifferentiable = onceDifferentiable;
    }

    static Node accumulator(Variable leaf) {
        return new Node("accumulateGrad", new Node[0], leaf, new int[0][], new DType[0], false);
    }

    /** True when an op on these inputs must be recorded: grad mode is on and some input requires grad. */
    static boolean recording(Variable... inputs) {
        if (!GradMode.isEnabled()) {
            return false;
        }
        for (Variable v : inputs) {
            if (v != null && v.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The result of an op as a Variable: a constant when nothing needs recording, else the output of a
     * new node that keeps {@code toSave} (and the output itself when {@code saveOutput}) for backward.
     */
    static Variable record(String op, Tensor result, Variable[] inputs, Variable[] toSave, boolean saveOutput,
            Backward backward) {
        return record(op, result, inputs, toSave, saveOutput, false, backward);
    }

    static Variable record(String op, Tensor result, Variable[] inputs, Variable[] toSave, boolean saveOutput,
            boolean onceDifferentiable, Backward backward) {
        if (!recording(inputs)) {
            return Variable.constant(result);
        }
        Node[] next = new Node[inputs.length];
        int[][] shapes = new int[inputs.length][];
        DType[] types = new DType[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            next[i] = inputs[i] == null ? null : inputs[i].gradientEdge();
            shapes[i] = inputs[i] == null ? null : inputs[i].data().shape();
            types[i] = inputs[i] == null ? null : inputs[i].dtype();
        }
        Node node = new Node(op, next, null, shapes, types, onceDifferentiable);
        Variable out = Variable.fromNode(result, node);
        SavedTensor[] s = new SavedTensor[toSave.length + (saveOutput ? 1 : 0)];
        for (int i = 0; i < toSave.length; i++) {
            s[i] = toSave[i] == null ? null : new SavedTensor(toSave[i]);
        }
        if (saveOutput) {
            s[toSave.length] = new SavedTensor(out);
        }
        node.saved = s;
        node.backward = backward;
        return out;
    }

    /** Runs the gradient formula: input gradients, each of its input's shape and dtype (or null). */
    Variable[] apply(Variable grad) {
        if (backward == null) {
            throw new IllegalStateException("backward of " + op + ": the graph was already freed by an earlier "
                    + "backward; pass retainGraph=true to the first backward if you need to run backward twice");
        }
        Variable[] values = new Variable[saved.length];
        for (int i = 0; i < saved.length; i++) {
            values[i] = saved[i] == null ? null : saved[i].unpack(op);
        }
        boolean[] needsGrad = new boolean[next.length];
        for (int i = 0; i < next.length; i++) {
            needsGrad[i] = next[i] != null;
        }
        Variable[] grads = backward.apply(grad, values, needsGrad);
        if (onceDifferentiable && GradMode.isEnabled()) {
            grads = guardSecondDerivative(grad, grads);
        }
        for (int i = 0; i < next.length; i++) {
            if (grads[i] == null || next[i] == null) {
                continue;
            }
            if (!Arrays.equals(grads[i].data().shape(), inputShapes[i])) {
                throw new IllegalStateException("backward of " + op + " returned a gradient of shape "
                        + Shape.str(grads[i].data().shape()) + " for input " + i + " of shape " + Shape.str(inputShapes[i]));
            }
            if (grads[i].dtype() != inputTypes[i]) {
                grads[i] = grads[i].to(inputTypes[i]);
            }
        }
        return grads;
    }

    /**
     * Gradients from a fused backward kernel are plain tensors: differentiating them again would silently
     * give zero. Under createGraph they become outputs of a node that depends on what they were computed
     * from (the output gradient and this op's inputs) and fails with a clear message if differentiated.
     */
    private Variable[] guardSecondDerivative(Variable grad, Variable[] grads) {
        Node[] sources = new Node[next.length + 1];
        sources[0] = grad.gradientEdge();
        System.arraycopy(next, 0, sources, 1, next.length);
        if (Arrays.stream(sources).allMatch(n -> n == null)) {
            return grads;
        }
        Variable[] guarded = grads.clone();
        for (int i = 0; i < grads.length; i++) {
            if (grads[i] == null) {
                continue;
            }
            Node guard = new Node(op + "Backward", sources, null, new int[sources.length][], new DType[sources.length],
                    false);
            guard.saved = new SavedTensor[0];
            guard.backward = (g, s, n) -> {
                throw new IllegalStateException(op + " is once-differentiable: its backward is a fused kernel without "
                        + "a derivative of its own, so a second derivative (createGraph, gradgradcheck) through " + op
                        + " is not available. Compose it from Variable ops if you need one.");
            };
            guarded[i] = Variable.fromNode(grads[i].data(), guard);
        }
        return guarded;
    }

    /** Frees the saved values and the formula (after a backward that does not retain the graph). */
    void release() {
        if (leaf != null || backward == null) {
            return;
        }
        backward = null;
        for (SavedTensor s : saved) {
            if (s != null) {
                s.release();
            }
        }
        saved = new SavedTensor[0];
    }

    /** Hooks see the total gradient of this node's output before it flows on; each may replace it. */
    HookHandle addHook(UnaryOperator<Variable> hook) {
        if (hooks == null) {
            hooks = new ArrayList<>();
        }
        hooks.add(hook);
        return () -> hooks.remove(hook);
    }

    boolean hasHooks() {
        return hooks != null && !hooks.isEmpty();
    }

    Variable runHooks(Variable grad) {
        if (hooks == null) {
            return grad;
        }
        for (UnaryOperator<Variable> hook : List.copyOf(hooks)) {
            Variable replaced = hook.apply(grad);
            if (replaced != null) {
                if (!Arrays.equals(replaced.data().shape(), grad.data().shape())) {
                    throw new IllegalStateException("a gradient hook on the output of " + op + " returned shape "
                            + Shape.str(replaced.data().shape()) + "; it must keep the gradient's shape "
                            + Shape.str(grad.data().shape()));
                }
                grad = replaced;
            }
        }
        return grad;
    }

    @Override
    public String toString() {
        return op;
    }
}
