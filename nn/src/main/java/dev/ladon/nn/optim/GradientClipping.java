package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

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
        double norm = globalNorm(params);
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

    /** The L2 norm of all gradients together (0 when none has one), for logging or for clipping. */
    public static double globalNorm(Iterable<Parameter> params) {
        // Each gradient's sum of squares on its device, then one stack, one sum in float64 and one read back:
        // one synchronisation, and two small ops per parameter rather than four.
        List<Tensor> squares = new ArrayList<>();
        boolean mixed = false;
        for (Parameter p : params) {
            Tensor g = p.grad();
            if (g != null) {
                squares.add(g.square().sum());
                mixed |= squares.get(squares.size() - 1).dtype() != squares.get(0).dtype();
            }
        }
        if (mixed) {
            squares.replaceAll(s -> s.to(DType.FLOAT64));
        }
        return squares.isEmpty() ? 0 : Math.sqrt(Tensor.stack(squares, 0).to(DType.FLOAT64).sum().item());
    }
}
