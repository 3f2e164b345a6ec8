package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.Arrays;

/**
 * Mean cross-entropy of logits [..., C] against int targets [...] (the fused kernel): positions whose
 * target is {@code ignoreIndex} count neither in the sum nor in the mean. With label smoothing s the
 * target distribution is (1 - s) one-hot + s / C.
 */
public final class CrossEntropyLoss extends Module {
    private final int ignoreIndex;
    private final double labelSmoothing;

    /** Ignore index -100, no smoothing (PyTorch's defaults). */
    public CrossEntropyLoss() {
        this(-100, 0.0);
    }

    public CrossEntropyLoss(int ignoreIndex, double labelSmoothing) {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("CrossEntropyLoss: label smoothing must be in [0, 1], got " + labelSmoothing);
        }
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
    }

    /** logits [..., C], target [...] with the same leading shape; returns a scalar. */
    public Variable forward(Variable logits, Tensor target) {
        int[] lead = Arrays.copyOf(logits.shape(), Math.max(logits.dim() - 1, 0));
        if (logits.dim() < 1 || !Arrays.equals(lead, target.shape())) {
            throw new IllegalArgumentException("CrossEntropyLoss.forward: logits " + Shape.str(logits.shape())
                    + " need targets of shape " + Shape.str(lead) + ", got " + Shape.str(target.shape()));
        }
        int classes = logits.size(-1);
        return Functional.crossEntropy(logits.reshape(-1, classes), target.reshape(-1), ignoreIndex, labelSmoothing);
    }

    @Override
    protected String extraRepr() {
        return "ignoreIndex=" + ignoreIndex + (labelSmoothing > 0 ? ", labelSmoothing=" + labelSmoothing : "");
    }
}
