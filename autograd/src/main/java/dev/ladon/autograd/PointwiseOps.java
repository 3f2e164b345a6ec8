package dev.ladon.autograd;

import static dev.ladon.autograd.ReductionOps.sumToShape;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * Elementwise ops and their gradients. Binary ops broadcast, so each input's gradient is summed back to
 * that input's shape ({@link ReductionOps#sumToShape}). Formulas are written with Variable ops, which makes
 * them differentiable again under createGraph; masks of piecewise ops (relu, abs, clamp, max) are constants.
 */
final class PointwiseOps {
    static final Variable[] NOTHING = new Variable[0];

    private PointwiseOps() {
    }

    private static Variable[] saving(Variable... values) {
        return values;
    }

    private static Variable[] inputs(Variable... values) {
        return values;
    }

    /** y = x op scalar for add/sub/mul/div/neg: dy/dx is the constant {@code factor}. */
    static Variable scaled(String op, Variable x, Tensor result, double factor) {
        return Node.record(op, result, inputs(x), NOTHING, false,
                (g, s, needs) -> new Variable[] {factor == 1.0 ? g : g.mul(factor)});
    }

    // ---- binary ----------------------------------------------------------------------------------

    static Variable add(Variable a, Variable b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Node.record("add", a.data().add(b.data()), inputs(a, b), NOTHING, false, (g, s, needs) -> new Variable[] {
                needs[0] ? sumToShape(g, sa) : null,
                needs[1] ? sumToShape(g, sb) : null});
    }

    static Variable sub(Variable a, Variable b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Node.record("sub", a.data().sub(b.data()), inputs(a, b), NOTHING, false, (g, s, needs) -> new Variable[] {
                needs[0] ? sumToShape(g, sa) : null,
                needs[1] ? sumToShape(g.neg(), sb) : null});
    }

    static Variable mul(Variable a, Variable b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Node.record("mul", a.data().mul(b.data()), inputs(a, b), saving(a, b), false, (g, s, needs) -> new Variable[] {
                needs[0] ? sumToShape(g.mul(s[1]), sa) : null,
                needs[1] ? sumToShape(g.mul(s[0]), sb) : null});
    }

    /** d(a/b)/da = 1/b, d(a/b)/db = -a/b^2. */
    static Variable div(Variable a, Variable b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Node.record("div", a.data().div(b.data()), inputs(a, b), saving(a, b), false, (g, s, needs) -> new Variable[] {
                needs[0] ? sumToShape(g.div(s[1]), sa) : null,
                needs[1] ? sumToShape(g.mul(s[0]).div(s[1].square()).neg(), sb) : null});
    }

    /** maximum/minimum: the gradient goes to the chosen operand; ties split it evenly (as PyTorch). */
    static Variable extremum(String op, Variable a, Variable b, boolean max) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        Tensor result = max ? a.data().maximum(b.data()) : a.data().minimum(b.data());
        return Node.record(op, result, inputs(a, b), saving(a, b), false, (g, s, needs) -> {
            Tensor x = s[0].data();
            Tensor y = s[1].data();
            Tensor wins = (max ? x.gt(y) : x.lt(y)).to(g.dtype());
            Tensor shareA = wins.add(x.eq(y).to(g.dtype()).mul(0.5));
            Tensor shareB = shareA.neg().add(1.0);
            return new Variable[] {
                    needs[0] ? sumToShape(g.mul(Variable.constant(shareA)), sa) : null,
                    needs[1] ? sumToShape(g.mul(Variable.constant(shareB)), sb) : null};
        });
    }

    /** condition ? a : b; each branch receives the gradient where it was chosen. */
    static Variable where(Tensor condition, Variable a, Variable b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        Tensor result = Tensor.where(condition, a.data(), b.data());
        return Node.record("where", result, inputs(a, b), saving(Variable.constant(condition)), false, (g, s, needs) -> {
            Tensor cond = s[0].data();
            Variable zero = Variable.constant(Tensor.zeros(g.dtype(), g.device()));
            return new Variable[] {
                    needs[0] ? sumToShape(Variable.where(cond, g, zero), sa) : null,
                    needs[1] ? sumToShape(Variable.where(cond, zero, g), sb) : null};
        });
    }

    // ---- unary -----------------------------------------------------------------------------------

    static Variable exp(Variable x) {
        return Node.record("exp", x.data().exp(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.mul(s[0])});
    }

    static Variable log(Variable x) {
        return Node.record("log", x.data().log(), inputs(x), saving(x), false,
                (g, s, needs) -> new Variable[] {g.div(s[0])});
    }

    /** d sqrt(x) = 1 / (2 sqrt(x)). */
    static Variable sqrt(Variable x) {
        return Node.record("sqrt", x.data().sqrt(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.div(s[0].mul(2.0))});
    }

    /** d x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2. */
    static Variable rsqrt(Variable x) {
        return Node.record("rsqrt", x.data().rsqrt(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.mul(s[0].pow(3.0)).mul(-0.5)});
    }

    static Variable tanh(Variable x) {
        return Node.record("tanh", x.data().tanh(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.mul(s[0].square().neg().add(1.0))});
    }

    static Variable sigmoid(Variable x) {
        return Node.record("sigmoid", x.data().sigmoid(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.mul(s[0].mul(s[0].neg().add(1.0)))});
    }

    static Variable relu(Variable x) {
        return Node.record("relu", x.data().relu(), inputs(x), NOTHING, true, PointwiseOps::reluBackward);
    }

    /**
     * relu written into x's storage. Only the output is saved, so the op is safe for a value no other op
     * saved (a node that did refuses to run backward, as after any in-place change); it spares a new
     * activation-sized tensor.
     */
    static Variable reluInPlace(Variable x) {
        if (x.isLeaf() && x.requiresGrad()) {
            throw new IllegalStateException("reluInPlace: a leaf that requires grad (" + x.dtype() + " "
                    + Shape.str(x.shape()) + ") cannot be changed in place; use relu()");
        }
        if (isViewOfALeafThatRequiresGrad(x)) {
            throw new IllegalStateException("reluInPlace: this " + x.dtype() + " " + Shape.str(x.shape())
                    + " value is a view of a leaf that requires grad, which cannot be changed in place; use relu()");
        }
        Variable result = Node.record("reluInPlace", x.data().reluInPlace(), inputs(x), NOTHING, true,
                PointwiseOps::reluBackward);
        return x.requiresGrad() ? x.becomeResultOfInPlace(result) : result;
    }

    /**
     * Whether x's storage is that of a leaf that requires grad. Only a chain of one-input ops (the view ops
     * narrow, select, view, permute, ... among them) can lead from the leaf to memory it shares, so the walk
     * follows such a chain back to a leaf; the storage comparison then decides, since a one-input op that
     * computes (exp, neg) made new storage.
     */
    private static boolean isViewOfALeafThatRequiresGrad(Variable x) {
        Node node = x.gradFn();
        while (node != null && node.leaf == null) {
            Node only = null;
            for (Node input : node.next) {
                if (input != null) {
                    if (only != null) {
                        return false;
                    }
                    only = input;
                }
            }
            node = only;
        }
        return node != null && node.leaf.data().storage() == x.data().storage();
    }

    /** g where the saved output s[0] is positive, else 0. */
    private static Variable[] reluBackward(Variable g, Variable[] s, boolean[] needs) {
        return new Variable[] {reluGradient(g, s[0])};
    }

    /** ReLU's backward from its output: g where output is positive, else 0. */
    static Variable reluGradient(Variable g, Variable output) {
        // Under createGraph as a select on a constant mask, so that it is differentiable in g; otherwise the
        // backend's one-pass kernel.
        if (GradMode.isEnabled()) {
            Variable zero = Variable.constant(Tensor.zeros(g.dtype(), g.device()));
            return Variable.where(output.data().gt(0.0), g, zero);
        }
        return Variable.constant(FusedOps.reluBackward(g.data(), output.data()));
    }

    private static final double GELU_C = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_A = 0.044715;

    /**
     * GELU (tanh form). A first-order backward uses the fused derivative kernel; under createGraph the
     * derivative 0.5(1 + t) + 0.5 x (1 - t^2) c (1 + 3a x^2), t = tanh(c (x + a x^3)), is composed so that
     * it can be differentiated again.
     */
    static Variable gelu(Variable x) {
        return Node.record("gelu", x.data().gelu(), inputs(x), saving(x), false, (g, s, needs) -> {
            Variable v = s[0];
            if (!GradMode.isEnabled()) {
                return new Variable[] {g.mul(Variable.constant(v.data().geluDerivative()))};
            }
            Variable t = v.add(v.pow(3.0).mul(GELU_A)).mul(GELU_C).tanh();
            Variable left = t.add(1.0).mul(0.5);
            Variable right = v.mul(t.square().neg().add(1.0)).mul(v.square().mul(3.0 * GELU_A).add(1.0)).mul(0.5 * GELU_C);
            return new Variable[] {g.mul(left.add(right))};
        });
    }

    /** d (x sigmoid(x)) = s (1 + x (1 - s)). */
    static Variable silu(Variable x) {
        return Node.record("silu", x.data().silu(), inputs(x), saving(x), false, (g, s, needs) -> {
            Variable sig = s[0].sigmoid();
            return new Variable[] {g.mul(sig.mul(s[0].mul(sig.neg().add(1.0)).add(1.0)))};
        });
    }

    static Variable sin(Variable x) {
        return Node.record("sin", x.data().sin(), inputs(x), saving(x), false,
                (g, s, needs) -> new Variable[] {g.mul(s[0].cos())});
    }

    static Variable cos(Variable x) {
        return Node.record("cos", x.data().cos(), inputs(x), saving(x), false,
                (g, s, needs) -> new Variable[] {g.mul(s[0].sin()).neg()});
    }

    static Variable square(Variable x) {
        return Node.record("square", x.data().square(), inputs(x), saving(x), false,
                (g, s, needs) -> new Variable[] {g.mul(s[0]).mul(2.0)});
    }

    static Variable reciprocal(Variable x) {
        return Node.record("reciprocal", x.data().reciprocal(), inputs(x), NOTHING, true,
                (g, s, needs) -> new Variable[] {g.mul(s[0].square()).neg()});
    }

    static Variable abs(Variable x) {
        return Node.record("abs", x.data().abs(), inputs(x), saving(x), false,
                (g, s, needs) -> new Variable[] {g.mul(Variable.constant(s[0].data().sign()))});
    }

    static Variable pow(Variable x, double p) {
        return Node.record("pow", x.data().pow(p), inputs(x), saving(x), false, (g, s, needs) -> new Variable[] {
                p == 0.0 ? g.mul(0.0) : g.mul(s[0].pow(p - 1.0)).mul(p)});
    }

    /** The gradient passes where min &lt;= x &lt;= max. */
    static Variable clamp(Variable x, double min, double max) {
        return Node.record("clamp", x.data().clamp(min, max), inputs(x), saving(x), false, (g, s, needs) -> {
            Tensor v = s[0].data();
            Tensor inside = v.ge(min).to(g.dtype()).mul(v.le(max).to(g.dtype()));
            return new Variable[] {g.mul(Variable.constant(inside))};
        });
    }

    static Variable to(Variable x, DType dtype) {
        if (!dtype.isFloating()) {
            // Integer and bool values carry no gradient.
            return Variable.constant(x.data().to(dtype));
        }
        if (dtype == x.dtype()) {
            return x;
        }
        DType from = x.dtype();
        return Node.record("to", x.data().to(dtype), inputs(x), NOTHING, false,
                (g, s, needs) -> new Variable[] {g.to(from)});
    }
}
