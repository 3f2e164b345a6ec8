package dev.ladon.tensor.backend;

/** Elementwise functions of one tensor. {@code POW} and {@code CLAMP_MIN}... take the op's scalar parameter. */
public enum UnaryOp {
    NEG, ABS, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, RELU,
    /** GELU, tanh approximation: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
    GELU,
    SILU, SIN, COS,
    /** x^p for the scalar parameter p. */
    POW,
    SQUARE, RECIPROCAL, SIGN,
    /** Derivative of GELU (tanh approximation) at x, for its backward. */
    GELU_DERIVATIVE
}
