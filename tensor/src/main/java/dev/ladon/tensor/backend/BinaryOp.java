package dev.ladon.tensor.backend;

/** Elementwise functions of two same-shaped operands (broadcasting is resolved into views before a kernel runs). */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM,
    EQ, NE, LT, LE, GT, GE;

    /** Comparisons produce a {@code BOOL} mask. */
    public boolean isComparison() {
        return ordinal() >= EQ.ordinal();
    }
}
