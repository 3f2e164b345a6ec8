package dev.ladon.autograd.gradcheck;

/**
 * The outcome of a gradient check.
 *
 * @param passed                 every compared entry was within tolerance
 * @param summary                one line: on failure the input, element, output element, analytic and numeric
 *                               values of the first bad entry, how many were bad, and the worst relative error
 * @param worstRelativeError     max over entries of |analytic - numeric| / max(|numeric|, atol)
 * @param entriesCompared        how many Jacobian entries (or projections, in fast mode) were compared
 */
public record GradcheckResult(boolean passed, String summary, double worstRelativeError, long entriesCompared) {

    /** Returns this result when it passed; otherwise throws with the summary (handy in tests). */
    public GradcheckResult requirePassed() {
        if (!passed) {
            throw new IllegalStateException(summary);
        }
        return this;
    }
}
