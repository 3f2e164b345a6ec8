package dev.ladon.tensor.backend;

/** Distributions the counter-based generator fills tensors from (see {@link dev.ladon.tensor.Philox}). */
public enum RandomDistribution {
    /** Uniform on [a, b). */
    UNIFORM,
    /** Normal with mean a and standard deviation b. */
    NORMAL
}
