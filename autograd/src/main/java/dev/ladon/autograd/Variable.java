package dev.ladon.autograd;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A differentiable value: a {@link Tensor} plus, when it requires grad, the way it was computed.
 *
 * <p>Graphs are defined by running: every op below computes its result at once and, when grad mode is on
 * ({@link GradMode}) and some input requires grad, records a node that knows the op's gradient formula
 * and the inputs it came from. {@link #backward()} walks those nodes back to the leaves, summing into
 * each leaf's {@link #grad()}. Leaves are made by the user: {@link #parameter} (requires grad) and
 * {@link #constant} (does not).
 *
 * <p>Ops are named and broadcast like {@link Tensor}'s; each one's gradient of a broadcast input is summed
 * back to that input's shape. Argument errors are the tensor ops' {@link IllegalArgumentException}s;
 * misuse of the graph (a second backward of a freed graph, a saved tensor changed in place, backward of a
 * non-scalar without a gradient) is an {@link IllegalStateException} naming the op.
 */
public final class Variable {
    private final Tensor data;
    private final boolean requiresGrad;
    /**
     * The node that produced this value; null for leaves. Not final for one reason: an in-place op moves the
     * variable it changed onto its own node, so that later uses of that variable see the new values' history.
     */
    private Node gradFn;
    /** For a leaf that requires grad: the node that accumulates into {@link #grad}, made on first use. */
    private Node accumulator;
    private Tensor grad;

    private Variable(Tensor data, boolean requiresGrad, Node gradFn) {
        this.data = data;
        this.requiresGrad = requiresGrad;
        this.gradFn = gradFn;
    }

    // =============================================================================================
    // Leaves and graph state
    // =============================================================================================

    /** A leaf that does not require grad (inputs, targets, masks). Shares the tensor. */
    public static Variable constant(Tensor value) {
        return new Variable(value, false, null);
    }

    /** A leaf that requires grad: backward accumulates into its {@link #grad()}. Shares the tensor. */
    public static Variable parameter(Tensor value) {
        if (!value.dtype().isFloating()) {
            throw new IllegalArgumentException("parameter: only floating tensors can require grad, got " + value.dtype()
                    + " of shape " + Shape.str(value.shape()));
        }
        return new Variable(value, true, null);
    }

    static Variable fromNode(Tensor value, Node node) {
        return new Variable(value, true, node);
    }

    /** The value (shared, not copied). Changing it in place after an op saved it makes backward fail. */
    public Tensor data() {
        return data;
    }

    /**
     * The gradient accumulated by backward calls since the last {@link #zeroGrad()}, shaped like
     * {@link #data()}; null before the first backward that reached this leaf.
     *
     * @throws IllegalStateException when this variable does not require grad, or is not a leaf (the
     *                               gradients of intermediate values are not kept: use
     *                               {@link #registerHook} or {@link Autograd#grad})
     */
    public Tensor grad() {
        if (!requiresGrad) {
            throw new IllegalStateException("grad: this variable does not require grad (a constant, a detached value, "
                    + "or computed under noGrad or from constants only), so it never has a gradient; make the leaf "
                    + "with Variable.parameter(...)");
        }
        if (gradFn != null) {
            throw new IllegalStateException("grad: the gradient of an intermediate value (output of " + gradFn.op
                    + ") is not kept; only leaves made with Variable.parameter accumulate one. Use registerHook or "
                    + "Autograd.grad(output, List.of(thisVariable), ...) to see it.");
        }
        return grad;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** True for values made by the user ({@link #constant}, {@link #parameter}, {@link #detach}). */
    public boolean isLeaf() {
        return gradFn == null;
    }

    /** The name of the op that produced this value, or null for a leaf. */
    public String gradFnName() {
        return gradFn == null ? null : gradFn.op;
    }

    /** Drops the accumulated gradient (the next backward starts from zero), like zero_grad(set_to_none). */
    public void zeroGrad() {
        grad = null;
    }

    /** The same data as a constant: gradients do not flow through the result. */
    public Variable detach() {
        return constant(data);
    }

    /** Where this value's gradient goes: its producing node, its accumulator (a leaf), or null (a constant). */
    Node gradientEdge() {
        if (!requiresGrad) {
            return null;
        }
        if (gradFn != null) {
            return gradFn;
        }
        if (accumulator == null) {
            accumulator = Node.accumulator(this);
        }
        return accumulator;
    }

    Node gradFn() {
        return gradFn;
    }

    /**
     * After an in-place op wrote {@code result}'s values into this variable's storage: this variable takes
     * result's node, as PyTorch's in-place ops rebase the tensor they changed. Without it, a later op on
     * this variable would send its gradient through the history of the old values.
     */
    Variable becomeResultOfInPlace(Variable result) {
        gradFn = result.gradFn;
        return this;
    }

    void accumulateGrad(Tensor g) {
        Tensor cast = g.to(data.dtype());
        // The first gradient is copied: it may be a broadcast view, or shared with another leaf's gradient.
        // A leaf's gradient outlives the backward pass (optimizers, accumulation over micro-batches), so it
        // never takes memory from an open workspace scope.
        grad = grad == null ? Workspace.outside(cast::copy) : grad.addInPlace(cast);
    }

    /**
     * Registers a hook that sees this value's total gradient during backward, before it flows on (or,
     * for a leaf, before it is accumulated). The hook may return a replacement of the same shape, or null
     * to keep the gradient.
     */
    public HookHandle registerHook(UnaryOperator<Variable> hook) {
        if (!requiresGrad) {
            throw new IllegalStateException("registerHook: this variable does not require grad, so no gradient will "
                    + "ever reach a hook on it");
        }
        return gradientEdge().addHook(hook);
    }

    // =============================================================================================
    // Backward
    // =============================================================================================

    /** Backward from a one-element result (a loss): as {@code backward(ones)}. */
    public void backward() {
        if (data.numel() != 1) {
            throw new IllegalStateException("backward: the output has shape " + Shape.str(data.shape()) + " ("
                    + data.numel() + " elements); a gradient can be implied only for a one-element output, so pass "
                    + "one of that shape: backward(Tensor gradOutput)");
        }
        backward(Tensor.ones(data.dtype(), data.device(), data.shape()), false);
    }

    /** Backward with dL/d(this) given; frees the graph's saved tensors afterwards. */
    public void backward(Tensor gradOutput) {
        backward(gradOutput, false);
    }

    /**
     * Accumulates d(sum(this * gradOutput))/d(leaf) into every leaf that requires grad.
     *
     * @param gradOutput  the gradient of the final loss with respect to this value, of its shape
     * @param retainGraph keep the saved tensors so that backward can run through this graph again
     */
    public void backward(Tensor gradOutput, boolean retainGraph) {
        Node root = rootFor("backward", gradOutput);
        Engine.run(root, constant(gradOutput.to(data.dtype())), retainGraph, false, null);
    }

    Node rootFor(String op, Tensor gradOutput) {
        if (!requiresGrad) {
            throw new IllegalStateException(op + ": the output does not require grad: it was computed from constants "
                    + "only, under GradMode.noGrad(), or detached; nothing to differentiate");
        }
        if (!java.util.Arrays.equals(gradOutput.shape(), data.shape())) {
            throw new IllegalArgumentException(op + ": gradient of shape " + Shape.str(gradOutput.shape())
                    + " does not match the output's shape " + Shape.str(data.shape()));
        }
        Tensor.requireSameDevice(op, data, gradOutput);
        return gradientEdge();
    }

    // =============================================================================================
    // Properties
    // =============================================================================================

    public int[] shape() {
        return data.shape();
    }

    public int size(int dim) {
        return data.size(dim);
    }

    public int dim() {
        return data.dim();
    }

    public int numel() {
        return data.numel();
    }

    public DType dtype() {
        return data.dtype();
    }

    public Device device() {
        return data.device();
    }

    /** The single value of a one-element variable. */
    public double item() {
        return data.item();
    }

    @Override
    public String toString() {
        String how = gradFn != null ? ", gradFn=" + gradFn.op : requiresGrad ? ", requiresGrad" : "";
        return "Variable(" + data + how + ")";
    }

    // =============================================================================================
    // Elementwise (PointwiseOps)
    // =============================================================================================

    public Variable add(Variable other) {
        return PointwiseOps.add(this, other);
    }

    public Variable add(double value) {
        return PointwiseOps.scaled("add", this, data.add(value), 1.0);
    }

    public Variable sub(Variable other) {
        return PointwiseOps.sub(this, other);
    }

    public Variable sub(double value) {
        return PointwiseOps.scaled("sub", this, data.sub(value), 1.0);
    }

    public Variable mul(Variable other) {
        return PointwiseOps.mul(this, other);
    }

    public Variable mul(double value) {
        return PointwiseOps.scaled("mul", this, data.mul(value), value);
    }

    public Variable div(Variable other) {
        return PointwiseOps.div(this, other);
    }

    public Variable div(double value) {
        return PointwiseOps.scaled("div", this, data.div(value), 1.0 / value);
    }

    public Variable neg() {
        return PointwiseOps.scaled("neg", this, data.neg(), -1.0);
    }

    public Variable exp() {
        return PointwiseOps.exp(this);
    }

    public Variable log() {
        return PointwiseOps.log(this);
    }

    public Variable sqrt() {
        return PointwiseOps.sqrt(this);
    }

    public Variable rsqrt() {
        return PointwiseOps.rsqrt(this);
    }

    public Variable tanh() {
        return PointwiseOps.tanh(this);
    }

    public Variable sigmoid() {
        return PointwiseOps.sigmoid(this);
    }

    public Variable relu() {
        return PointwiseOps.relu(this);
    }

    /**
     * ReLU written into this value's storage (PyTorch's {@code relu_}), for a value nothing else uses, such
     * as a linear layer's output right before its activation: it spares an activation-sized tensor. This
     * variable then holds the new values and their history (it is returned), so later ops on it get the ReLU's
     * gradient. Backward refuses to run if another op saved the old values.
     *
     * @throws IllegalStateException on a leaf that requires grad
     */
    public Variable reluInPlace() {
        return PointwiseOps.reluInPlace(this);
    }

    /** GELU, tanh approximation (as {@link Tensor#gelu()}). */
    public Variable gelu() {
        return PointwiseOps.gelu(this);
    }

    public Variable silu() {
        return PointwiseOps.silu(this);
    }

    public Variable sin() {
        return PointwiseOps.sin(this);
    }

    public Variable cos() {
        return PointwiseOps.cos(this);
    }

    public Variable square() {
        return PointwiseOps.square(this);
    }

    public Variable reciprocal() {
        return PointwiseOps.reciprocal(this);
    }

    /** |x|; its gradient at 0 is taken as 0 (as PyTorch). */
    public Variable abs() {
        return PointwiseOps.abs(this);
    }

    /** x^exponent elementwise. */
    public Variable pow(double exponent) {
        return PointwiseOps.pow(this, exponent);
    }

    /** Elementwise max; where both are equal the gradient is split evenly between them. */
    public Variable maximum(Variable other) {
        return PointwiseOps.extremum("maximum", this, other, true);
    }

    /** Elementwise min; where both are equal the gradient is split evenly between them. */
    public Variable minimum(Variable other) {
        return PointwiseOps.extremum("minimum", this, other, false);
    }

    /** Clamps to [min, max]; the gradient passes where min &lt;= x &lt;= max (as PyTorch). */
    public Variable clamp(double min, double max) {
        return PointwiseOps.clamp(this, min, max);
    }

    /** condition ? a : b elementwise, broadcasting all three; condition is a BOOL tensor. */
    public static Variable where(Tensor condition, Variable a, Variable b) {
        return PointwiseOps.where(condition, a, b);
    }

    /** {@code value} where mask is true, else this variable's element (mask broadcasts). */
    public Variable maskedFill(Tensor mask, double value) {
        return PointwiseOps.where(mask, constant(Tensor.full(value, data.dtype(), data.device())), this);
    }

    /** A copy in another floating dtype; the gradient is cast back. */
    public Variable to(DType dtype) {
        return PointwiseOps.to(this, dtype);
    }

    // =============================================================================================
    // Reductions, softmax, scans (ReductionOps)
    // =============================================================================================

    public Variable sum() {
        return ReductionOps.sum(this, ReductionOps.allDims(dim()), false);
    }

    public Variable sum(int dim) {
        return ReductionOps.sum(this, new int[] {dim}, false);
    }

    public Variable sum(int[] dims, boolean keepDim) {
        return ReductionOps.sum(this, dims, keepDim);
    }

    public Variable mean() {
        return ReductionOps.mean(this, ReductionOps.allDims(dim()), false);
    }

    public Variable mean(int dim) {
        return ReductionOps.mean(this, new int[] {dim}, false);
    }

    public Variable mean(int[] dims, boolean keepDim) {
        return ReductionOps.mean(this, dims, keepDim);
    }

    /** Largest element; with ties the gradient is split evenly among them. */
    public Variable max() {
        return ReductionOps.extremum("max", this, ReductionOps.allDims(dim()), false, true);
    }

    /** Largest along dim; with ties the gradient is split evenly among them. */
    public Variable max(int dim, boolean keepDim) {
        return ReductionOps.extremum("max", this, new int[] {dim}, keepDim, true);
    }

    public Variable min() {
        return ReductionOps.extremum("min", this, ReductionOps.allDims(dim()), false, false);
    }

    public Variable min(int dim, boolean keepDim) {
        return ReductionOps.extremum("min", this, new int[] {dim}, keepDim, false);
    }

    public Variable logsumexp(int dim) {
        return ReductionOps.logsumexp(this, new int[] {dim}, false);
    }

    public Variable logsumexp(int[] dims, boolean keepDim) {
        return ReductionOps.logsumexp(this, dims, keepDim);
    }

    /** Variance over dims with Bessel's {@code correction} (1 = unbiased), composed of differentiable ops. */
    public Variable var(int[] dims, int correction, boolean keepDim) {
        int n = 1;
        for (int d : dims) {
            n *= data.size(d);
        }
        Variable centered = sub(mean(dims, true));
        return centered.square().sum(dims, keepDim).div(Math.max(n - correction, 0));
    }

    public Variable softmax(int dim) {
        return ReductionOps.softmax(this, dim, false);
    }

    public Variable logSoftmax(int dim) {
        return ReductionOps.softmax(this, dim, true);
    }

    public Variable cumsum(int dim) {
        return ReductionOps.cumsum(this, dim);
    }

    // =============================================================================================
    // Views (ViewOps): the gradient of a view is the gradient put back in the input's layout
    // =============================================================================================

    public Variable view(int... shape) {
        return ViewOps.reshapeLike("view", this, data.view(shape));
    }

    public Variable reshape(int... shape) {
        return ViewOps.reshapeLike("reshape", this, data.reshape(shape));
    }

    public Variable flatten() {
        return ViewOps.reshapeLike("flatten", this, data.flatten());
    }

    public Variable flatten(int startDim, int endDim) {
        return ViewOps.reshapeLike("flatten", this, data.flatten(startDim, endDim));
    }

    public Variable squeeze() {
        return ViewOps.reshapeLike("squeeze", this, data.squeeze());
    }

    public Variable squeeze(int dim) {
        return ViewOps.reshapeLike("squeeze", this, data.squeeze(dim));
    }

    public Variable unsqueeze(int dim) {
        return ViewOps.reshapeLike("unsqueeze", this, data.unsqueeze(dim));
    }

    /** This variable when its data is contiguous, else a contiguous copy (gradient passes unchanged). */
    public Variable contiguous() {
        return data.isContiguous() ? this : ViewOps.reshapeLike("contiguous", this, data.contiguous());
    }

    public Variable permute(int... order) {
        return ViewOps.permute(this, order);
    }

    public Variable transpose(int dim0, int dim1) {
        return ViewOps.transpose(this, dim0, dim1);
    }

    /** Transpose of the last two dims. */
    public Variable mT() {
        if (dim() < 2) {
            throw new IllegalArgumentException("mT: needs at least 2 dims, got shape " + Shape.str(data.shape()));
        }
        return transpose(-2, -1);
    }

    public Variable narrow(int dim, int start, int length) {
        return ViewOps.narrow(this, dim, start, length);
    }

    /** Python-style start:end:step along dim (step &gt; 0). */
    public Variable slice(int dim, int start, int end, int step) {
        return ViewOps.slice(this, dim, start, end, step);
    }

    public Variable select(int dim, int index) {
        return ViewOps.select(this, dim, index);
    }

    /** Broadcast view; the gradient is summed over the expanded dims. */
    public Variable expand(int... shape) {
        return ViewOps.expand(this, shape);
    }

    // =============================================================================================
    // Joining and splitting (JoinOps)
    // =============================================================================================

    public static Variable cat(List<Variable> variables, int dim) {
        return JoinOps.cat(variables, dim);
    }

    public static Variable stack(List<Variable> variables, int dim) {
        return JoinOps.stack(variables, dim);
    }

    /** Pieces of {@code splitSize} along dim (the last may be smaller), as views. */
    public List<Variable> split(int splitSize, int dim) {
        return JoinOps.split(this, splitSize, dim);
    }

    /** {@code chunks} nearly equal pieces along dim, as views. */
    public List<Variable> chunk(int chunks, int dim) {
        return JoinOps.chunk(this, chunks, dim);
    }

    // =============================================================================================
    // Matmul and indexing (MatmulOps, IndexOps)
    // =============================================================================================

    /** Matrix product with NumPy semantics (1-D operands promoted, batch dims broadcast). */
    public Variable matmul(Variable other) {
        return MatmulOps.matmul(this, other);
    }

    /** out[i][j] = this[index[i][j]][j] for dim 0 (likewise for other dims); index is int. */
    public Variable gather(int dim, Tensor index) {
        return IndexOps.gather(this, dim, index);
    }

    /** A copy of this variable with src added at the positions index names along dim. */
    public Variable scatterAdd(int dim, Tensor index, Variable src) {
        return IndexOps.scatterAdd(this, dim, index, src);
    }

    /** Slices along dim picked by a 1-D int index (repeats allowed). */
    public Variable indexSelect(int dim, Tensor index) {
        return IndexOps.indexSelect(this, dim, index);
    }

    /** A copy with slice j of src added to slice index[j] along dim. */
    public Variable indexAdd(int dim, Tensor index, Variable src) {
        return IndexOps.indexAdd(this, dim, index, src);
    }

    /** Rows of weight [V, D] picked by int ids of any shape: result [*ids.shape, D]. */
    public static Variable embedding(Variable weight, Tensor ids) {
        return IndexOps.embedding(weight, ids);
    }

    /** The k largest (or smallest) along dim, sorted; values are differentiable, indices are int64. */
    public TopK topk(int k, int dim, boolean largest) {
        return IndexOps.topk(this, k, dim, largest);
    }

    /** Result of {@link #topk}: differentiable values and their int64 indices along the dim. */
    public record TopK(Variable values, Tensor indices) {
    }
}
