package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.Tensor;
import java.util.List;

/**
 * Adam (Kingma and Ba, 2015) with weight decay as an L2 term added to the gradient (g + wd p), as
 * PyTorch's Adam; see {@link AdamW} for the decoupled form. With weight decay 0 the two are identical.
 */
public final class Adam extends Optimizer {
    private final double beta1;
    private final double beta2;
    private final double eps;

    /** betas (0.9, 0.999), eps 1e-8. */
    public Adam(List<ParamGroup> groups, double learningRate) {
        this(groups, learningRate, 0.9, 0.999, 1e-8);
    }

    public Adam(List<ParamGroup> groups, double learningRate, double beta1, double beta2, double eps) {
        super(groups, learningRate);
        AdamW.checkBetas("Adam", beta1, beta2, eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    @Override
    protected List<String> stateNames() {
        return AdamW.STATE_NAMES;
    }

    @Override
    protected void update(int index, Parameter param, Tensor grad, double weightDecay) {
        Tensor g = weightDecay == 0 ? grad : grad.add(param.data().mul(weightDecay));
        AdamW.adamStep(this, index, param, g, beta1, beta2, eps, 0.0);
    }
}
