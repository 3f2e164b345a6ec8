package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;
import java.util.List;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter, 2019), one fused kernel per parameter: with
 * bias-corrected moments m^ and v^, p = p (1 - lr wd) - lr m^ / (sqrt(v^) + eps). The step count used
 * for bias correction is kept per parameter, so a parameter that gets no gradient on some steps (an
 * unused expert) is corrected by its own number of updates.
 */
public final class AdamW extends Optimizer {
    /** The first and second moments and the update count, per parameter (Adam keeps the same). */
    static final List<String> STATE_NAMES = List.of("expAvg", "expAvgSq", STEP);

    private final double beta1;
    private final double beta2;
    private final double eps;

    /** betas (0.9, 0.999), eps 1e-8. */
    public AdamW(List<ParamGroup> groups, double learningRate) {
        this(groups, learningRate, 0.9, 0.999, 1e-8);
    }

    public AdamW(List<ParamGroup> groups, double learningRate, double beta1, double beta2, double eps) {
        super(groups, learningRate);
        AdamW.checkBetas("AdamW", beta1, beta2, eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    @Override
    protected List<String> stateNames() {
        return STATE_NAMES;
    }

    @Override
    protected void update(int index, Parameter param, Tensor grad, double weightDecay) {
        adamStep(this, index, param, grad, beta1, beta2, eps, weightDecay);
    }

    /** One fused Adam step with decoupled decay; moments are created zero on the first update. */
    static void adamStep(Optimizer opt, int index, Parameter param, Tensor grad, double beta1, double beta2, double eps,
            double decoupledDecay) {
        Tensor p = param.data();
        Tensor m = opt.state(index, "expAvg");
        Tensor v = opt.state(index, "expAvgSq");
        if (m == null) {
            m = Tensor.zeros(p.dtype(), p.device(), p.shape());
            v = Tensor.zeros(p.dtype(), p.device(), p.shape());
            opt.putState(index, "expAvg", m);
            opt.putState(index, "expAvgSq", v);
        }
        long step = opt.advanceStep(index);
        FusedOps.adamW(p, grad, m, v, opt.learningRate(), beta1, beta2, eps, decoupledDecay, step);
    }

    static void checkBetas(String name, double beta1, double beta2, double eps) {
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0)) {
            throw new IllegalArgumentException(name + ": need betas in [0, 1) and eps >= 0, got beta1=" + beta1
                    + " beta2=" + beta2 + " eps=" + eps);
        }
    }
}
