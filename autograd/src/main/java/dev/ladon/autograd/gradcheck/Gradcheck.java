package dev.ladon.autograd.gradcheck;

import dev.ladon.autograd.Autograd;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a function's analytic gradients (its backward) against central finite differences, the way
 * {@code torch.autograd.gradcheck} does. For each differentiated input x and output y it builds the
 * Jacobian dy/dx twice: analytically, with one vector-Jacobian product per output element (backward with
 * a one-hot output gradient), and numerically, moving each input element by +-eps. Every entry must agree
 * within atol + rtol |numeric|.
 *
 * <p>Run it in float64: with eps = 1e-6 a float32 difference f(x + eps) - f(x - eps) is mostly rounding
 * noise. Inputs may be non-contiguous views; they are moved in place and restored exactly.
 */
public final class Gradcheck {
    private Gradcheck() {
    }

    /** {@link #gradcheck(GradcheckFunction, List, GradcheckOptions)} with the default options. */
    public static GradcheckResult gradcheck(GradcheckFunction function, Tensor... inputs) {
        return gradcheck(function, Arrays.asList(inputs), GradcheckOptions.defaults());
    }

    /**
     * Compares the analytic and the numeric Jacobian of {@code function} at {@code inputs}.
     *
     * @param inputs the point to check at; the differentiated ones must be floating (float64 unless
     *               {@link GradcheckOptions#allowFloat32}) and must not overlap in memory (no expanded views);
     *               non-floating inputs (indices, masks) are passed as constants
     * @return whether every entry agreed, and a summary naming the first bad entry
     * @throws IllegalArgumentException for inputs that cannot be checked (see above), naming the input
     */
    public static GradcheckResult gradcheck(GradcheckFunction function, List<Tensor> inputs, GradcheckOptions options) {
        int[] checked = checkedInputs("gradcheck", inputs, options);
        return options.fastMode() ? fastCheck(function, inputs, checked, options) : fullCheck(function, inputs, checked,
                options);
    }

    /**
     * Checks second derivatives: gradcheck of the function (inputs, v) -&gt; the gradients of
     * {@code function} at inputs for a fixed random output gradient v, computed with createGraph. It
     * checks both the derivative of the backward with respect to the inputs and with respect to v.
     */
    public static GradcheckResult gradgradcheck(GradcheckFunction function, List<Tensor> inputs, GradcheckOptions options) {
        int[] checked = checkedInputs("gradgradcheck", inputs, options);
        Variable sample = function.apply(wrap(inputs, checked));
        Tensor v = Tensor.randn(new Generator(options.seed()), DType.FLOAT64, sample.device(), sample.shape())
                .to(sample.dtype());
        int n = inputs.size();
        GradcheckFunction gradients = vars -> {
            Variable out = function.apply(vars.subList(0, n));
            List<Variable> wrt = new ArrayList<>();
            for (int c : checked) {
                wrt.add(vars.get(c));
            }
            List<Variable> flat = new ArrayList<>();
            if (!out.requiresGrad()) {
                for (Variable x : wrt) {
                    flat.add(Variable.constant(Tensor.zeros(x.dtype(), x.device(), x.numel())));
                }
            } else {
                for (Variable g : Autograd.grad(out, wrt, vars.get(n), true, true)) {
                    flat.add(g.reshape(-1));
                }
            }
            return Variable.cat(flat, 0);
        };
        List<Tensor> extended = new ArrayList<>(inputs);
        extended.add(v);
        int[] extendedChecked = Arrays.copyOf(checked, checked.length + 1);
        extendedChecked[checked.length] = n;
        List<Integer> indices = Arrays.stream(extendedChecked).boxed().toList();
        GradcheckOptions second = new GradcheckOptions(options.eps(), options.atol(), options.rtol(), indices,
                options.nondetTolerance(), options.fastMode(), options.allowFloat32(), options.seed());
        GradcheckResult r = gradcheck(gradients, extended, second);
        return new GradcheckResult(r.passed(), "second order: " + r.summary(), r.worstRelativeError(), r.entriesCompared());
    }

    // ---- the full Jacobian ---------------------------------------------------------------------------

    private static GradcheckResult fullCheck(GradcheckFunction function, List<Tensor> inputs, int[] checked,
            GradcheckOptions o) {
        double[][] analytic = analyticJacobian(function, inputs, checked);
        double[][] again = analyticJacobian(function, inputs, checked);
        for (int j = 0; j < checked.length; j++) {
            for (int e = 0; e < analytic[j].length; e++) {
                if (!(Math.abs(analytic[j][e] - again[j][e]) <= o.nondetTolerance())) {
                    return new GradcheckResult(false, String.format("backward is not deterministic: input %d, Jacobian "
                            + "entry %d gave %.6g and then %.6g (nondeterminism tolerance %.1g)", checked[j], e,
                            analytic[j][e], again[j][e], o.nondetTolerance()), Double.NaN, 0);
                }
            }
        }
        double[][] numeric = numericJacobian(function, inputs, checked, o.eps());
        int[] outShape = function.apply(wrap(inputs, checked)).shape();
        int outputs = Shape.numel(outShape);
        Comparison c = new Comparison(o);
        for (int j = 0; j < checked.length; j++) {
            Tensor input = inputs.get(checked[j]);
            int position = checked[j];
            for (int e = 0; e < analytic[j].length; e++) {
                int i = e / Math.max(outputs, 1);
                int k = e % Math.max(outputs, 1);
                c.add(analytic[j][e], numeric[j][e], () -> "input " + position + " (" + describe(input) + ") element "
                        + index(input.shape(), i) + ", output element " + index(outShape, k));
            }
        }
        return c.result();
    }

    /** [input][i * outputs + k] = d out[k] / d input[i], from one backward per output element. */
    private static double[][] analyticJacobian(GradcheckFunction function, List<Tensor> inputs, int[] checked) {
        List<Variable> vars = wrap(inputs, checked);
        Variable out = function.apply(vars);
        int outputs = out.numel();
        double[][] jac = new double[checked.length][];
        List<Variable> wrt = new ArrayList<>();
        for (int j = 0; j < checked.length; j++) {
            jac[j] = new double[inputs.get(checked[j]).numel() * outputs];
            wrt.add(vars.get(checked[j]));
        }
        if (!out.requiresGrad()) {
            return jac; // the output does not depend on any checked input: the Jacobian is zero
        }
        for (int k = 0; k < outputs; k++) {
            double[] oneHot = new double[outputs];
            oneHot[k] = 1.0;
            Tensor seed = Tensor.of(oneHot, out.shape()).to(out.dtype()).to(out.device());
            List<Variable> grads = Autograd.grad(out, wrt, Variable.constant(seed), k < outputs - 1, false);
            for (int j = 0; j < checked.length; j++) {
                double[] g = grads.get(j).data().toDoubleArray();
                for (int i = 0; i < g.length; i++) {
                    jac[j][i * outputs + k] = g[i];
                }
            }
        }
        return jac;
    }

    private static double[][] numericJacobian(GradcheckFunction function, List<Tensor> inputs, int[] checked, double eps) {
        double[] base = evaluate(function, inputs, checked);
        int outputs = base.length;
        double[][] jac = new double[checked.length][];
        for (int j = 0; j < checked.length; j++) {
            Tensor t = inputs.get(checked[j]);
            jac[j] = new double[t.numel() * outputs];
            for (int i = 0; i < t.numel(); i++) {
                Tensor element = element(t, i);
                double original = element.item();
                // Divide by the step actually taken: in float32, x +- eps is rounded.
                double up = element.fillInPlace(original + eps).item();
                double[] plus = evaluate(function, inputs, checked);
                double down = element.fillInPlace(original - eps).item();
                double[] minus = evaluate(function, inputs, checked);
                element.fillInPlace(original);
                for (int k = 0; k < outputs; k++) {
                    jac[j][i * outputs + k] = (plus[k] - minus[k]) / (up - down);
                }
            }
        }
        return jac;
    }

    // ---- random projections (fast mode) --------------------------------------------------------------

    private static GradcheckResult fastCheck(GradcheckFunction function, List<Tensor> inputs, int[] checked,
            GradcheckOptions o) {
        Generator gen = new Generator(o.seed());
        Variable sample = function.apply(wrap(inputs, checked));
        Tensor u = Tensor.randn(gen, DType.FLOAT64, sample.device(), sample.shape()).to(sample.dtype());
        List<Tensor> directions = new ArrayList<>();
        for (int c : checked) {
            Tensor x = inputs.get(c);
            directions.add(Tensor.randn(gen, DType.FLOAT64, x.device(), x.shape()).to(x.dtype()));
        }
        double[] analytic = projectedAnalytic(function, inputs, checked, u, directions);
        double[] again = projectedAnalytic(function, inputs, checked, u, directions);
        Comparison c = new Comparison(o);
        for (int j = 0; j < checked.length; j++) {
            if (!(Math.abs(analytic[j] - again[j]) <= o.nondetTolerance())) {
                return new GradcheckResult(false, String.format("backward is not deterministic: input %d projection gave "
                        + "%.6g and then %.6g (nondeterminism tolerance %.1g)", checked[j], analytic[j], again[j],
                        o.nondetTolerance()), Double.NaN, 0);
            }
            Tensor x = inputs.get(checked[j]);
            Tensor original = x.copy();
            Tensor step = directions.get(j).mul(o.eps());
            x.copyFrom(original.add(step));
            double[] plus = evaluate(function, inputs, checked);
            x.copyFrom(original.sub(step));
            double[] minus = evaluate(function, inputs, checked);
            x.copyFrom(original);
            double[] uk = u.toDoubleArray();
            double numeric = 0;
            for (int k = 0; k < uk.length; k++) {
                numeric += uk[k] * (plus[k] - minus[k]) / (2 * o.eps());
            }
            int jj = j;
            c.add(analytic[j], numeric, () -> "input " + checked[jj] + " (" + describe(x)
                    + "), random projection u^T J v");
        }
        return c.result();
    }

    /** u^T J v for each checked input, from one backward with output gradient u. */
    private static double[] projectedAnalytic(GradcheckFunction function, List<Tensor> inputs, int[] checked, Tensor u,
            List<Tensor> directions) {
        List<Variable> vars = wrap(inputs, checked);
        Variable out = function.apply(vars);
        double[] result = new double[checked.length];
        if (!out.requiresGrad()) {
            return result;
        }
        List<Variable> wrt = new ArrayList<>();
        for (int c : checked) {
            wrt.add(vars.get(c));
        }
        List<Variable> grads = Autograd.grad(out, wrt, Variable.constant(u), false, false);
        for (int j = 0; j < checked.length; j++) {
            double[] g = grads.get(j).data().toDoubleArray();
            double[] v = directions.get(j).toDoubleArray();
            for (int i = 0; i < g.length; i++) {
                result[j] += g[i] * v[i];
            }
        }
        return result;
    }

    // ---- comparison and reporting -------------------------------------------------------------------

    /** Accumulates entry comparisons; remembers the first failure and the worst relative error. */
    private static final class Comparison {
        private final GradcheckOptions o;
        private long compared;
        private long failed;
        private String firstFailure;
        private double worst;
        private String worstWhere = "";

        Comparison(GradcheckOptions o) {
            this.o = o;
        }

        void add(double analytic, double numeric, java.util.function.Supplier<String> where) {
            compared++;
            double diff = Math.abs(analytic - numeric);
            double relative = diff / Math.max(Math.abs(numeric), o.atol() > 0 ? o.atol() : Double.MIN_NORMAL);
            if (relative > worst || Double.isNaN(relative)) {
                worst = Double.isNaN(relative) ? Double.POSITIVE_INFINITY : relative;
                worstWhere = where.get();
            }
            if (!(diff <= o.atol() + o.rtol() * Math.abs(numeric))) {
                failed++;
                if (firstFailure == null) {
                    firstFailure = String.format("%s: analytic %.8g vs numeric %.8g (|difference| %.3g > atol %.1g + rtol "
                            + "%.1g * |numeric|)", where.get(), analytic, numeric, diff, o.atol(), o.rtol());
                }
            }
        }

        GradcheckResult result() {
            if (failed == 0) {
                return new GradcheckResult(true, String.format("%d entries agree, worst relative error %.3g", compared,
                        worst), worst, compared);
            }
            return new GradcheckResult(false, String.format("gradients differ: %s; %d of %d entries out of tolerance; "
                    + "worst relative error %.3g at %s", firstFailure, failed, compared, worst, worstWhere), worst, compared);
        }
    }

    // ---- inputs ---------------------------------------------------------------------------------------

    private static int[] checkedInputs(String op, List<Tensor> inputs, GradcheckOptions o) {
        List<Integer> picked = new ArrayList<>();
        if (o.inputs() != null) {
            for (int i : o.inputs()) {
                if (i < 0 || i >= inputs.size() || inputs.get(i) == null) {
                    throw new IllegalArgumentException(op + ": input index " + i + " is out of range for "
                            + inputs.size() + " inputs (or names a null input)");
                }
                if (!inputs.get(i).dtype().isFloating()) {
                    throw new IllegalArgumentException(op + ": input " + i + " is " + describe(inputs.get(i))
                            + "; only floating inputs can be differentiated");
                }
                picked.add(i);
            }
        } else {
            for (int i = 0; i < inputs.size(); i++) {
                if (inputs.get(i) != null && inputs.get(i).dtype().isFloating()) {
                    picked.add(i);
                }
            }
        }
        for (int i : picked) {
            Tensor t = inputs.get(i);
            if (t.dtype() == DType.FLOAT32 && !o.allowFloat32()) {
                throw new IllegalArgumentException(op + ": input " + i + " is " + describe(t) + ". Finite differences need "
                        + "float64: float32 keeps about 7 significant digits, so with eps = " + o.eps() + " the difference "
                        + "f(x + eps) - f(x - eps) is mostly rounding error and correct gradients would fail. Pass "
                        + "t.to(DType.FLOAT64), or set withAllowFloat32(true) with eps ~1e-2 and looser tolerances.");
            }
            for (int d = 0; d < t.dim(); d++) {
                if (t.stride(d) == 0 && t.size(d) > 1) {
                    throw new IllegalArgumentException(op + ": input " + i + " (" + describe(t) + ", strides "
                            + Shape.str(t.strides()) + ") is an expanded view whose elements share memory, so one "
                            + "element cannot be moved alone; pass a copy (t.copy())");
                }
            }
        }
        return picked.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Checked inputs become leaves that require grad; the others (indices, masks, held inputs) constants. */
    private static List<Variable> wrap(List<Tensor> inputs, int[] checked) {
        List<Variable> vars = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            Tensor t = inputs.get(i);
            vars.add(t == null ? null : isChecked(checked, i) ? Variable.parameter(t) : Variable.constant(t));
        }
        return vars;
    }

    private static boolean isChecked(int[] checked, int i) {
        for (int c : checked) {
            if (c == i) {
                return true;
            }
        }
        return false;
    }

    private static double[] evaluate(GradcheckFunction function, List<Tensor> inputs, int[] checked) {
        return function.apply(wrap(inputs, checked)).data().toDoubleArray();
    }

    /** A 0-dim view of element {@code flat} (row-major) of t, whatever t's strides. */
    private static Tensor element(Tensor t, int flat) {
        Tensor e = t;
        int[] idx = unravel(t.shape(), flat);
        for (int d = 0; d < idx.length; d++) {
            e = e.select(0, idx[d]);
        }
        return e;
    }

    private static int[] unravel(int[] shape, int flat) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }

    private static String index(int[] shape, int flat) {
        return Arrays.toString(unravel(shape, flat));
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Shape.str(t.shape());
    }
}
