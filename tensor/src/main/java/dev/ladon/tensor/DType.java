package dev.ladon.tensor;

/**
 * Element types. Floating types carry values and gradients; integer types carry indices; {@code BOOL}
 * carries masks produced by comparisons.
 */
public enum DType {
    FLOAT32("float32", 4, true),
    FLOAT64("float64", 8, true),
    INT32("int32", 4, false),
    INT64("int64", 8, false),
    BOOL("bool", 1, false);

    private final String displayName;
    private final int byteSize;
    private final boolean floating;

    DType(String displayName, int byteSize, boolean floating) {
        this.displayName = displayName;
        this.byteSize = byteSize;
        this.floating = floating;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloating() {
        return floating;
    }

    public boolean isIntegral() {
        return this == INT32 || this == INT64;
    }

    /**
     * The type two operands are computed in, following NumPy/PyTorch: bool &lt; int32 &lt; int64 &lt;
     * float32 &lt; float64.
     */
    public static DType promote(DType a, DType b) {
        return a.ordinalRank() >= b.ordinalRank() ? a : b;
    }

    /**
     * The type a binary op computes in, with PyTorch's rule for a 0-dim operand beside a tensor with dims: it
     * decides the type only when it is of a higher kind (bool, then integer, then floating). So a float32
     * tensor times a float64 0-dim tensor stays float32, while an int tensor plus a float 0-dim tensor is
     * floating; two operands of the same rank class promote as {@link #promote} says.
     */
    public static DType resultType(DType a, boolean aIsScalar, DType b, boolean bIsScalar) {
        if (aIsScalar != bIsScalar) {
            DType scalar = aIsScalar ? a : b;
            DType tensor = aIsScalar ? b : a;
            if (scalar.kind() <= tensor.kind()) {
                return tensor;
            }
        }
        return promote(a, b);
    }

    /** 0 for bool, 1 for the integers, 2 for the floating types. */
    private int kind() {
        return this == BOOL ? 0 : floating ? 2 : 1;
    }

    private int ordinalRank() {
        return switch (this) {
            case BOOL -> 0;
            case INT32 -> 1;
            case INT64 -> 2;
            case FLOAT32 -> 3;
            case FLOAT64 -> 4;
        };
    }

    @Override
    public String toString() {
        return displayName;
    }
}
