package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.Tensor;

/** Gradient clipping across all parameters at once. */
public final class GradientClipping {
    private GradientClipping() {
    }

    /**
     * Scales every gradient by maxNorm / (norm + 1e-6) when the global L2 norm (over all gradients together)
     * exceeds {@code maxNorm}, as PyTorch's clip_grad_norm_. Parameters without a gradient are skipped.
     *
     * @return the global norm before clipping
     */
    public static double clipByGlobalNorm(Iterable<Parameter> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipByGlobalNorm: maxNorm must be > 0, got " + maxNorm);
        }
        // Summed on the gradients' device, read back once: one synchronisation, not one per parameter.
        Tensor sumSquares = null;
        for (Parameter p : params) {
            Tensor g = p.grad();
            if (g != null) {
                Tensor s = g.square().sum().to(dev.ladon.tensor.DType.FLOAT64);
                sumSquares = sumSquares == null ? s : sumSquares.add(s);
            }
        }
        double norm = sumSquares == null ? 0 : Math.sqrt(sumSquares.item());
        double factor = maxNorm / (norm + 1e-6);
        if (factor < 1) {
            for (Parameter p : params) {
                Tensor g = p.grad();
                if (g != null) {
                    g.mulInPlace(factor);
                }
            }
        }
        return norm;
    }
}
