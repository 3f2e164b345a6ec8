package dev.ladon.examples;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Training produced a number that is not finite (a loss, a gradient norm, a weight): the run is stopped
 * rather than continued on NaN. The checks run before the optimizer's update, so the weights stay those of
 * the last good step, and before a checkpoint is written, so a saved run never holds NaN. {@code Main}
 * prints the message in one line and exits with 1.
 */
final class TrainingDiverged extends RuntimeException {
    private TrainingDiverged(String message) {
        super(message, null, false, false);
    }

    /**
     * Throws unless both the loss of optimizer step {@code step} (counted from 1) and its gradient norm are
     * finite. The message names the step and both values, then {@code advice} (what to change: "lower --lr
     * (now 1e6) or set --clip").
     */
    static void checkStep(String model, int step, double loss, double gradientNorm, String advice) {
        if (!Double.isFinite(loss) || !Double.isFinite(gradientNorm)) {
            throw new TrainingDiverged(String.format(Locale.ROOT, "%s diverged at step %d: loss %s, gradient norm "
                    + "%s; stopped before that step's update; %s", model, step, format(loss), format(gradientNorm),
                    advice));
        }
    }

    /**
     * Throws unless the perplexity of the mean validation loss {@code nll} (nats per token) evaluated after
     * step {@code step} is finite: a loss above about 709 nats per token, far beyond a uniform guess over any
     * vocabulary, overflows it, and a table of Infinity says nothing.
     */
    static void checkValidation(String model, int step, double nll, String advice) {
        if (!Double.isFinite(Math.exp(nll))) {
            throw new TrainingDiverged(String.format(Locale.ROOT, "%s diverged: its validation loss after step %d is "
                    + "%s nats per token (perplexity %s); %s", model, step, format(nll), format(Math.exp(nll)),
                    advice));
        }
    }

    /** Throws unless every floating-point tensor of {@code state} holds finite numbers only. */
    static void checkFinite(Map<String, Tensor> state, String what) {
        // x * 0 is 0 for every finite x and NaN for an infinity or a NaN, so a tensor's sum of them is 0 exactly
        // when all are finite (a plain sum could overflow on large finite weights). One stack of those sums and
        // one read back, so a GPU synchronises once per check, not once per tensor. The state may mix devices
        // (a GPU model's trainer state keeps counters on the CPU): the sums meet on the first accelerator's.
        Device meeting = state.values().stream().map(Tensor::device).filter(d -> !d.equals(Device.CPU))
                .findFirst().orElse(Device.CPU);
        List<String> names = new ArrayList<>();
        List<Tensor> sums = new ArrayList<>();
        state.forEach((name, t) -> {
            if (t.dtype().isFloating() && t.numel() > 0) {
                names.add(name);
                sums.add(t.mul(0).sum().to(DType.FLOAT64).to(meeting));
            }
        });
        if (sums.isEmpty()) {
            return;
        }
        double[] each = Tensor.stack(sums, 0).toDoubleArray();
        for (int i = 0; i < each.length; i++) {
            if (!(each[i] == 0)) {
                throw new TrainingDiverged(what + ": tensor '" + names.get(i) + "' holds NaN or infinite values");
            }
        }
    }

    private static String format(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : Double.toString(v);
    }
}
