package dev.ladon.autograd.gradcheck;

import java.util.List;

/**
 * Settings of {@link Gradcheck}; start from {@link #defaults()} and change what you need:
 * {@code GradcheckOptions.defaults().withAtol(1e-4).withInputs(0, 2)}.
 *
 * @param eps             finite-difference step: the numeric derivative is (f(x + eps) - f(x - eps)) / 2eps
 * @param atol            absolute tolerance: an entry passes when |analytic - numeric| &lt;= atol + rtol |numeric|
 * @param rtol            relative tolerance (see atol)
 * @param inputs          indices of the inputs to differentiate, or null for every floating input
 * @param nondetTolerance how far two runs of backward may differ (0: bit-identical)
 * @param fastMode        compare random projections u^T J v (one backward, two forwards per input) instead of
 *                        the full Jacobian: much cheaper, still catches wrong formulas with high probability
 * @param allowFloat32    accept float32 inputs (then raise eps to ~1e-2 and loosen the tolerances)
 * @param seed            seed of the random projections (fast mode) and of gradgradcheck's output gradient
 */
public record GradcheckOptions(double eps, double atol, double rtol, List<Integer> inputs, double nondetTolerance,
        boolean fastMode, boolean allowFloat32, long seed) {

    /** eps 1e-6, atol 1e-5, rtol 1e-3, every floating input, deterministic backward, full Jacobian, float64. */
    public static GradcheckOptions defaults() {
        return new GradcheckOptions(1e-6, 1e-5, 1e-3, null, 0.0, false, false, 0x5EEDL);
    }

    public GradcheckOptions {
        if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0) || !(nondetTolerance >= 0)) {
            throw new IllegalArgumentException("gradcheck options: eps must be > 0 and tolerances >= 0, got eps=" + eps
                    + " atol=" + atol + " rtol=" + rtol + " nondetTolerance=" + nondetTolerance);
        }
        inputs = inputs == null ? null : List.copyOf(inputs);
    }

    public GradcheckOptions withEps(double value) {
        return new GradcheckOptions(value, atol, rtol, inputs, nondetTolerance, fastMode, allowFloat32, seed);
    }

    public GradcheckOptions withAtol(double value) {
        return new GradcheckOptions(eps, value, rtol, inputs, nondetTolerance, fastMode, allowFloat32, seed);
    }

    public GradcheckOptions withRtol(double value) {
        return new GradcheckOptions(eps, atol, value, inputs, nondetTolerance, fastMode, allowFloat32, seed);
    }

    /** Differentiate only these inputs (by position); the others are held constant. */
    public GradcheckOptions withInputs(int... indices) {
        List<Integer> list = java.util.Arrays.stream(indices).boxed().toList();
        return new GradcheckOptions(eps, atol, rtol, list, nondetTolerance, fastMode, allowFloat32, seed);
    }

    public GradcheckOptions withNondetTolerance(double value) {
        return new GradcheckOptions(eps, atol, rtol, inputs, value, fastMode, allowFloat32, seed);
    }

    public GradcheckOptions withFastMode(boolean value) {
        return new GradcheckOptions(eps, atol, rtol, inputs, nondetTolerance, value, allowFloat32, seed);
    }

    public GradcheckOptions withAllowFloat32(boolean value) {
        return new GradcheckOptions(eps, atol, rtol, inputs, nondetTolerance, fastMode, value, seed);
    }

    public GradcheckOptions withSeed(long value) {
        return new GradcheckOptions(eps, atol, rtol, inputs, nondetTolerance, fastMode, allowFloat32, value);
    }
}
