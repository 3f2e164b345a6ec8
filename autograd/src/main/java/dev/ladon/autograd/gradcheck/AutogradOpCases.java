package dev.ladon.autograd.gradcheck;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Gradient-check cases for every differentiable op of the autograd module ({@link Variable} and
 * {@link Functional}). Inputs are small float64 tensors drawn from a fixed seed, mixing broadcasting,
 * size-1 dims and non-contiguous layouts (transposed and strided views). Ops whose backward is made of
 * Variable ops are also checked to second order.
 */
public final class AutogradOpCases implements GradcheckCaseProvider {
    private Generator gen;
    private Device device;

    @Override
    public List<GradcheckCase> cases() {
        return cases(Device.CPU);
    }

    @Override
    public List<GradcheckCase> cases(Device device) {
        this.device = device;
        gen = new Generator(20_240_611L);
        List<GradcheckCase> c = new ArrayList<>();
        elementwise(c);
        reductions(c);
        views(c);
        joins(c);
        matmul(c);
        indexing(c);
        layers(c);
        return c;
    }

    // ---- inputs ------------------------------------------------------------------------------------

    // Drawn on the CPU and then moved, so that every device checks the same points.
    private Tensor randn(int... shape) {
        return Tensor.randn(gen, DType.FLOAT64, Device.CPU, shape).to(device);
    }

    /** Values in [0.5, 2): inputs of log, sqrt, pow and divisors. */
    private Tensor positive(int... shape) {
        return Tensor.uniform(0.5, 2.0, gen, DType.FLOAT64, Device.CPU, shape).to(device);
    }

    /** A non-contiguous [rows, cols] view: the transpose of a [cols, rows] tensor. */
    private Tensor transposed(int rows, int cols) {
        return randn(cols, rows).mT();
    }

    /** A non-contiguous view of the given shape with a stride-2 last dim. */
    private Tensor strided(int... shape) {
        int[] wide = shape.clone();
        wide[wide.length - 1] *= 2;
        return randn(wide).slice(-1, 0, wide[wide.length - 1], 2);
    }

    private Tensor ids(long[] values, int... shape) {
        return Tensor.of(values, shape).to(device);
    }

    private Tensor mask(boolean[] values, int... shape) {
        return Tensor.of(values, shape).to(device);
    }

    private static Variable in(List<Variable> v, int i) {
        return v.get(i);
    }

    // ---- elementwise -------------------------------------------------------------------------------

    private void elementwise(List<GradcheckCase> c) {
        c.add(GradcheckCase.of("add broadcast", v -> in(v, 0).add(in(v, 1)).add(0.5), randn(2, 3), randn(3))
                .covering("add").withSecondOrder());
        c.add(GradcheckCase.of("sub size-1 dims", v -> in(v, 0).sub(in(v, 1)).sub(1.5), randn(3, 1), randn(1, 4))
                .covering("sub"));
        c.add(GradcheckCase.of("mul non-contiguous broadcast", v -> in(v, 0).mul(in(v, 1)).mul(-2.0), transposed(3, 4),
                randn(4)).covering("mul").withSecondOrder());
        c.add(GradcheckCase.of("div broadcast", v -> in(v, 0).div(in(v, 1)).div(3.0), randn(2, 3), positive(2, 1))
                .covering("div").withSecondOrder());
        c.add(unary("neg", Variable::neg, transposed(3, 4)));
        c.add(unary("exp", Variable::exp, transposed(3, 4)));
        c.add(unary("log", Variable::log, positive(3, 4).mT()));
        c.add(unary("sqrt", Variable::sqrt, positive(2, 3)));
        c.add(unary("rsqrt", Variable::rsqrt, positive(2, 3)));
        c.add(unary("tanh", Variable::tanh, strided(2, 3)));
        c.add(unary("sigmoid", Variable::sigmoid, strided(2, 3)));
        c.add(unary("relu", Variable::relu, strided(3, 3)));
        // In place on an intermediate (the inputs themselves must stay as gradcheck made them).
        c.add(GradcheckCase.of("reluInPlace on an intermediate", v -> in(v, 0).mul(1.5).reluInPlace(), strided(3, 3))
                .covering("reluInPlace"));
        c.add(unary("gelu", Variable::gelu, transposed(3, 3)));
        c.add(unary("silu", Variable::silu, transposed(3, 3)));
        c.add(unary("sin", Variable::sin, randn(4)));
        c.add(unary("cos", Variable::cos, randn(4)));
        c.add(unary("square", Variable::square, strided(1, 4)));
        c.add(unary("reciprocal", Variable::reciprocal, positive(2, 2)));
        c.add(unary("abs", Variable::abs, randn(2, 3)));
        c.add(GradcheckCase.of("pow fractional", v -> in(v, 0).pow(2.5), positive(2, 3)).covering("pow").withSecondOrder());
        c.add(GradcheckCase.of("pow negative", v -> in(v, 0).pow(-1.5), positive(3)).covering("pow").withSecondOrder());
        c.add(GradcheckCase.of("maximum broadcast", v -> in(v, 0).maximum(in(v, 1)), randn(3, 4), randn(4))
                .covering("maximum").withSecondOrder());
        c.add(GradcheckCase.of("minimum broadcast", v -> in(v, 0).minimum(in(v, 1)), randn(3, 1), transposed(3, 2))
                .covering("minimum").withSecondOrder());
        c.add(GradcheckCase.of("clamp", v -> in(v, 0).mul(2.0).clamp(-1.0, 1.0), randn(3, 4)).withSecondOrder());
        Tensor mask = mask(new boolean[] {true, false, false, true, true, false, true, false, false, true, false,
                true}, 3, 4);
        c.add(GradcheckCase.of("where broadcast", v -> Variable.where(mask, in(v, 0), in(v, 1)), randn(3, 4), randn(4))
                .covering("where").withSecondOrder());
        Tensor rowMask = mask(new boolean[] {false, true, true, false}, 1, 4);
        c.add(GradcheckCase.of("maskedFill broadcast mask", v -> in(v, 0).maskedFill(rowMask, -3.0), randn(3, 4))
                .covering("maskedFill"));
        // A float32 round trip is only accurate to ~1e-7, so this case takes a large step and a loose tolerance.
        c.add(GradcheckCase.of("to float32 and back", v -> in(v, 0).to(DType.FLOAT32).mul(2.0).to(DType.FLOAT64),
                randn(2, 3)).covering("to").withOptions(GradcheckOptions.defaults().withEps(1e-2).withAtol(1e-4)));
    }

    private GradcheckCase unary(String name, java.util.function.UnaryOperator<Variable> op, Tensor input) {
        return GradcheckCase.of(name, v -> op.apply(in(v, 0)), input).withSecondOrder();
    }

    // ---- reductions, softmax, cumsum ---------------------------------------------------------------

    private void reductions(List<GradcheckCase> c) {
        c.add(GradcheckCase.of("sum all", v -> in(v, 0).sum(), transposed(3, 4)).covering("sum").withSecondOrder());
        c.add(GradcheckCase.of("sum dim", v -> in(v, 0).sum(-1), randn(2, 3, 2)).covering("sum"));
        c.add(GradcheckCase.of("sum dims keepDim", v -> in(v, 0).sum(new int[] {0, 2}, true), strided(2, 1, 3))
                .covering("sum"));
        c.add(GradcheckCase.of("mean all", v -> in(v, 0).mean(), randn(3, 2)).covering("mean").withSecondOrder());
        c.add(GradcheckCase.of("mean dim", v -> in(v, 0).mean(0), transposed(3, 2)).covering("mean"));
        c.add(GradcheckCase.of("mean dims keepDim", v -> in(v, 0).mean(new int[] {1, 2}, true), randn(2, 3, 2))
                .covering("mean"));
        c.add(GradcheckCase.of("max all", v -> in(v, 0).max(), randn(3, 4)).covering("max"));
        c.add(GradcheckCase.of("max dim", v -> in(v, 0).max(1, false), transposed(3, 4)).covering("max").withSecondOrder());
        c.add(GradcheckCase.of("max dim keepDim", v -> in(v, 0).max(0, true), randn(3, 1, 2)).covering("max"));
        c.add(GradcheckCase.of("min all", v -> in(v, 0).min(), strided(2, 3)).covering("min"));
        c.add(GradcheckCase.of("min dim keepDim", v -> in(v, 0).min(-1, true), randn(2, 4)).covering("min"));
        c.add(GradcheckCase.of("logsumexp dim", v -> in(v, 0).logsumexp(1), randn(3, 4)).covering("logsumexp")
                .withSecondOrder());
        c.add(GradcheckCase.of("logsumexp dims keepDim", v -> in(v, 0).logsumexp(new int[] {0, 2}, true),
                randn(2, 3, 2)).covering("logsumexp"));
        c.add(GradcheckCase.of("var unbiased", v -> in(v, 0).var(new int[] {1}, 1, false), transposed(2, 4))
                .covering("var").withSecondOrder());
        c.add(GradcheckCase.of("var biased keepDim", v -> in(v, 0).var(new int[] {0, 1}, 0, true), randn(3, 2))
                .covering("var"));
        c.add(GradcheckCase.of("softmax last dim", v -> in(v, 0).softmax(-1), randn(2, 4)).covering("softmax")
                .withSecondOrder());
        c.add(GradcheckCase.of("softmax middle dim non-contiguous", v -> in(v, 0).softmax(1),
                randn(4, 3, 2).permute(2, 1, 0)).covering("softmax").withSecondOrder());
        c.add(GradcheckCase.of("logSoftmax", v -> in(v, 0).logSoftmax(0), transposed(3, 2)).covering("logSoftmax")
                .withSecondOrder());
        c.add(GradcheckCase.of("cumsum", v -> in(v, 0).cumsum(1), transposed(2, 4)).covering("cumsum").withSecondOrder());
    }

    // ---- views ---------------------------------------------------------------------------------------

    private void views(List<GradcheckCase> c) {
        // Views are linear: the weights make each output element's Jacobian row distinct.
        Tensor w12 = randn(12);
        c.add(GradcheckCase.of("view", v -> in(v, 0).view(4, 3).mul(Variable.constant(w12.view(4, 3))), randn(2, 6))
                .withSecondOrder());
        c.add(GradcheckCase.of("reshape non-contiguous", v -> in(v, 0).reshape(12).mul(Variable.constant(w12)),
                transposed(3, 4)).covering("reshape"));
        c.add(GradcheckCase.of("flatten", v -> in(v, 0).flatten(), strided(2, 3)).covering("flatten"));
        c.add(GradcheckCase.of("flatten range", v -> in(v, 0).flatten(1, 2), randn(2, 3, 2)).covering("flatten"));
        c.add(GradcheckCase.of("squeeze all", v -> in(v, 0).squeeze(), randn(2, 1, 3, 1)).covering("squeeze"));
        c.add(GradcheckCase.of("squeeze dim", v -> in(v, 0).squeeze(1), randn(2, 1, 3)).covering("squeeze"));
        Tensor w223 = randn(2, 2, 3);
        Tensor w234 = randn(2, 3, 4);
        Tensor w34 = randn(3, 4);
        c.add(GradcheckCase.of("unsqueeze", v -> in(v, 0).unsqueeze(1).mul(Variable.constant(w223)),
                transposed(2, 3)).covering("unsqueeze"));
        c.add(GradcheckCase.of("contiguous", v -> in(v, 0).contiguous(), transposed(3, 2)).covering("contiguous"));
        c.add(GradcheckCase.of("permute", v -> in(v, 0).permute(2, 0, 1), randn(2, 3, 2)).covering("permute"));
        c.add(GradcheckCase.of("transpose", v -> in(v, 0).transpose(0, 2), randn(2, 1, 3)).covering("transpose"));
        c.add(GradcheckCase.of("mT batched", v -> in(v, 0).mT(), randn(2, 3, 2)).covering("mT"));
        c.add(GradcheckCase.of("narrow", v -> in(v, 0).narrow(1, 1, 2), randn(2, 4)).covering("narrow"));
        c.add(GradcheckCase.of("slice step", v -> in(v, 0).slice(1, -4, 5, 2), transposed(2, 5)).covering("slice"));
        c.add(GradcheckCase.of("slice unit step", v -> in(v, 0).slice(0, 1, 3, 1), randn(4, 2)).covering("slice"));
        c.add(GradcheckCase.of("select negative index", v -> in(v, 0).select(1, -1), randn(2, 3, 2)).covering("select"));
        c.add(GradcheckCase.of("expand size-1 and new dims", v -> in(v, 0).expand(2, 3, 4)
                .mul(Variable.constant(w234)), randn(3, 1)).covering("expand").withSecondOrder());
        c.add(GradcheckCase.of("views of views", v -> in(v, 0).permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4)
                .transpose(0, 1).select(0, 2).unsqueeze(0).expand(3, 4).mul(Variable.constant(w34)),
                randn(2, 3, 4)).covering("permute", "reshape", "narrow", "transpose", "select", "unsqueeze", "expand")
                .withSecondOrder());
    }

    // ---- joins ---------------------------------------------------------------------------------------

    private void joins(List<GradcheckCase> c) {
        c.add(GradcheckCase.of("cat three", v -> Variable.cat(List.of(in(v, 0), in(v, 1), in(v, 2)), 1),
                randn(2, 1), transposed(2, 3), randn(2, 2)).covering("cat").withSecondOrder());
        c.add(GradcheckCase.of("stack", v -> Variable.stack(List.of(in(v, 0), in(v, 1)), 1), randn(2, 3), strided(2, 3))
                .covering("stack"));
        c.add(GradcheckCase.of("split uneven", v -> weighted(in(v, 0).split(2, 0)), randn(5, 2)).covering("split"));
        c.add(GradcheckCase.of("chunk", v -> weighted(in(v, 0).chunk(3, 1)), transposed(2, 7)).covering("chunk"));
    }

    /** Pieces joined into one vector, piece k scaled by k + 1 so that a mixed-up piece order shows. */
    private static Variable weighted(List<Variable> pieces) {
        List<Variable> flat = new ArrayList<>();
        for (int k = 0; k < pieces.size(); k++) {
            flat.add(pieces.get(k).mul(k + 1.0).flatten());
        }
        return Variable.cat(flat, 0);
    }

    // ---- matmul --------------------------------------------------------------------------------------

    private void matmul(List<GradcheckCase> c) {
        c.add(GradcheckCase.of("matmul 2d", v -> in(v, 0).matmul(in(v, 1)), randn(3, 4), transposed(4, 2))
                .covering("matmul").withSecondOrder());
        c.add(GradcheckCase.of("matmul broadcast batch", v -> in(v, 0).matmul(in(v, 1)), randn(2, 1, 3, 2),
                randn(2, 2, 2)).covering("matmul").withSecondOrder());
        c.add(GradcheckCase.of("matmul batched by matrix", v -> in(v, 0).matmul(in(v, 1)), randn(2, 2, 3), randn(3, 2))
                .covering("matmul"));
        c.add(GradcheckCase.of("matmul vector-matrix", v -> in(v, 0).matmul(in(v, 1)), randn(3), randn(2, 3, 2))
                .covering("matmul"));
        c.add(GradcheckCase.of("matmul matrix-vector", v -> in(v, 0).matmul(in(v, 1)), transposed(2, 3), randn(3))
                .covering("matmul"));
        c.add(GradcheckCase.of("matmul dot", v -> in(v, 0).matmul(in(v, 1)), randn(4), strided(4)).covering("matmul")
                .withSecondOrder());
    }

    // ---- indexing -------------------------------------------------------------------------------------

    private void indexing(List<GradcheckCase> c) {
        Tensor gatherIdx = ids(new long[] {0, 3, 3, 1, 2, 2}, 3, 2);
        c.add(GradcheckCase.of("gather repeats", v -> in(v, 0).gather(1, in(v, 1).data()), transposed(3, 4), gatherIdx)
                .covering("gather").withSecondOrder());
        Tensor scatterIdx = ids(new long[] {1, 0, 1, 2, 2, 0}, 2, 3);
        c.add(GradcheckCase.of("scatterAdd collisions", v -> in(v, 0).scatterAdd(0, scatterIdx, in(v, 1)),
                randn(3, 3), randn(2, 3)).covering("scatterAdd").withSecondOrder());
        Tensor pick = ids(new long[] {2, 0, 2}, 3);
        c.add(GradcheckCase.of("indexSelect repeats", v -> in(v, 0).indexSelect(1, pick), transposed(2, 3))
                .covering("indexSelect").withSecondOrder());
        c.add(GradcheckCase.of("indexAdd repeats", v -> in(v, 0).indexAdd(0, pick, in(v, 1)), randn(3, 2), randn(3, 2))
                .covering("indexAdd").withSecondOrder());
        Tensor tokens = ids(new long[] {4, 1, 4, 0, 2, 1}, 2, 3);
        c.add(GradcheckCase.of("embedding repeats", v -> Variable.embedding(in(v, 0), tokens), randn(5, 3))
                .covering("embedding").withSecondOrder());
        c.add(GradcheckCase.of("topk largest", v -> in(v, 0).topk(2, 1, true).values(), randn(3, 5)).covering("topk"));
        c.add(GradcheckCase.of("topk smallest dim 0", v -> in(v, 0).topk(2, 0, false).values(), transposed(4, 2))
                .covering("topk"));
    }

    // ---- layers (Functional) --------------------------------------------------------------------------

    private void layers(List<GradcheckCase> c) {
        c.add(GradcheckCase.of("layerNorm affine", v -> Functional.layerNorm(in(v, 0), in(v, 1), in(v, 2), 1e-5),
                randn(2, 3, 4), randn(4), randn(4)).covering("layerNorm"));
        c.add(GradcheckCase.of("layerNorm plain non-contiguous", v -> Functional.layerNorm(in(v, 0), null, null, 1e-5),
                transposed(3, 4)).covering("layerNorm"));
        c.add(GradcheckCase.of("layerNorm bias only", v -> Functional.layerNorm(in(v, 0), null, in(v, 1), 1e-5),
                randn(2, 3), randn(3)).covering("layerNorm"));
        c.add(GradcheckCase.of("linear with bias over 3-D input", v -> Functional.linear(in(v, 0), in(v, 1), in(v, 2)),
                randn(2, 3, 4), randn(5, 4), randn(5)).covering("linear").withSecondOrder());
        c.add(GradcheckCase.of("linear without bias, transposed input", v -> Functional.linear(in(v, 0), in(v, 1), null),
                transposed(3, 4), randn(2, 4)).covering("linear").withSecondOrder());
        c.add(GradcheckCase.of("linearRelu with bias over 3-D input",
                v -> Functional.linearRelu(in(v, 0), in(v, 1), in(v, 2)), randn(2, 3, 4), randn(5, 4), randn(5))
                .covering("linearRelu").withSecondOrder());
        c.add(GradcheckCase.of("linearRelu without bias, transposed input",
                v -> Functional.linearRelu(in(v, 0), in(v, 1), null), transposed(3, 4), randn(2, 4))
                .covering("linearRelu"));
        c.add(GradcheckCase.of("reluFeedForward with biases over 3-D input",
                v -> Functional.reluFeedForward(in(v, 0), in(v, 1), in(v, 2), in(v, 3), in(v, 4)), randn(2, 3, 4),
                randn(6, 4), randn(6), randn(5, 6), randn(5)).covering("reluFeedForward").withSecondOrder());
        c.add(GradcheckCase.of("reluFeedForward without biases, transposed input",
                v -> Functional.reluFeedForward(in(v, 0), in(v, 1), null, in(v, 2), null), transposed(3, 4),
                randn(5, 4), randn(4, 5)).covering("reluFeedForward").withSecondOrder());
        c.add(GradcheckCase.of("rmsNorm weighted", v -> Functional.rmsNorm(in(v, 0), in(v, 1), 1e-6), randn(3, 4),
                randn(4)).covering("rmsNorm"));
        c.add(GradcheckCase.of("rmsNorm plain", v -> Functional.rmsNorm(in(v, 0), null, 1e-6), strided(2, 3))
                .covering("rmsNorm"));
        Tensor targets = ids(new long[] {2, 0, -100, 3}, 4);
        c.add(GradcheckCase.of("crossEntropy ignore", v -> Functional.crossEntropy(in(v, 0), targets), randn(4, 5))
                .covering("crossEntropy"));
        Tensor targets2 = ids(new long[] {1, 1, 0}, 3);
        c.add(GradcheckCase.of("crossEntropy label smoothing", v -> Functional.crossEntropy(in(v, 0), targets2, 1, 0.1),
                transposed(3, 4)).covering("crossEntropy"));
        c.add(GradcheckCase.of("mse", v -> Functional.mse(in(v, 0), in(v, 1)), randn(3, 2), transposed(3, 2))
                .covering("mse").withSecondOrder());
        // The same generator seed in every call: each evaluation draws the same mask.
        c.add(GradcheckCase.of("dropout", v -> Functional.dropout(in(v, 0), 0.3, true, new Generator(7)), randn(4, 5))
                .covering("dropout").withSecondOrder());
        c.add(GradcheckCase.of("two-layer MLP", v -> in(v, 0).matmul(in(v, 1)).add(in(v, 2)).gelu().matmul(in(v, 3))
                .logSoftmax(-1).mean(), randn(3, 4), randn(4, 5), randn(5), randn(5, 2))
                .covering("matmul", "add", "gelu", "logSoftmax", "mean").withSecondOrder());
    }
}
