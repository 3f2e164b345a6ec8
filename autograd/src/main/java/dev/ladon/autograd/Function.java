package dev.ladon.autograd;

import dev.ladon.tensor.Tensor;

/**
 * A differentiable op defined by its own forward and backward on tensors, the Java counterpart of
 * {@code torch.autograd.Function}. Use it for an op that has a fused kernel, or whose gradient is better
 * computed by hand than by composing Variable ops:
 *
 * <pre>{@code
 * final class Cube extends Function {
 *     protected Tensor forward(FunctionContext ctx, Tensor... in) {
 *         ctx.saveForBackward(in[0]);
 *         return in[0].pow(3);
 *     }
 *     protected Tensor[] backward(FunctionContext ctx, Tensor grad) {
 *         Tensor x = ctx.savedTensors()[0];
 *         return new Tensor[] {grad.mul(x.square()).mul(3)};
 *     }
 * }
 * Variable y = new Cube().apply(x);
 * }</pre>
 *
 * Non-tensor arguments (a scale, a flag) are fields of the subclass, set in its constructor. Check a new
 * function with {@link dev.ladon.autograd.gradcheck.Gradcheck#gradcheck}. Its backward works on tensors,
 * so a Function is once-differentiable: a second derivative through it fails with a clear error.
 */
public abstract class Function {
    /**
     * Computes the output from the inputs' tensors (null for a null input). Runs without recording a
     * graph; save what backward needs with {@link FunctionContext#saveForBackward}.
     */
    protected abstract Tensor forward(FunctionContext ctx, Tensor... inputs);

    /**
     * Given dL/d(output) (shaped like the output), returns dL/d(input) for each input, in order, each
     * shaped like its input; null for inputs that need no gradient ({@link FunctionContext#needsInputGrad})
     * (null for an input that does need one counts as a zero gradient). Returning {@code gradOutput} itself,
     * or a view of it, is fine; keeping it elsewhere is not: inside a {@link dev.ladon.tensor.Workspace}
     * scope the engine gives a gradient's memory back once every node it went to has run.
     */
    protected abstract Tensor[] backward(FunctionContext ctx, Tensor gradOutput);

    /** The name that errors and graph printouts use; the class's simple name unless overridden. */
    public String name() {
        return getClass().getSimpleName();
    }

    /** Runs forward on the inputs' data and, when some input requires grad, records this function. */
    public final Variable apply(Variable... inputs) {
        boolean recording = Node.recording(inputs);
        boolean[] needs = new boolean[inputs.length];
        Tensor[] data = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            needs[i] = recording && inputs[i] != null && inputs[i].requiresGrad();
            data[i] = inputs[i] == null ? null : inputs[i].data();
        }
        FunctionContext ctx = new FunctionContext(needs, recording);
        Tensor out;
        try (var ng = GradMode.noGrad()) {
            out = forward(ctx, data);
        }
        if (out == null) {
            throw new IllegalStateException(name() + ".forward returned null; it must return the output tensor");
        }
        String op = name();
        int count = inputs.length;
        return Node.record(op, out, inputs, ctx.savedForNode(), false, true, (g, saved, needsGrad) -> {
            ctx.enterBackward(saved);
            Tensor[] grads;
            try {
                grads = backward(ctx, g.data());
            } finally {
                ctx.exitBackward();
            }
            if (grads == null || grads.length != count) {
                throw new IllegalStateException(op + ".backward returned " + (grads == null ? "null" : grads.length
                        + " gradients") + " for " + count + " inputs; return one per input (null where none)");
            }
            Variable[] result = new Variable[count];
            for (int i = 0; i < count; i++) {
                // A null gradient for an input that needs one counts as zero, as in PyTorch.
                result[i] = grads[i] != null && needsGrad[i] ? Variable.constant(grads[i]) : null;
            }
            return result;
        });
    }
}
