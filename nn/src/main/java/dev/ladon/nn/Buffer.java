package dev.ladon.nn;

import dev.ladon.tensor.Tensor;

/**
 * A tensor a {@link Module} keeps and saves with its state but does not train (running statistics, a
 * step counter). Like {@link Parameter} it is a slot, so {@link Module#to} can move its value.
 */
public final class Buffer {
    private Tensor tensor;

    Buffer(Tensor initial) {
        this.tensor = initial;
    }

    public Tensor tensor() {
        return tensor;
    }

    /** Replaces the value (the new tensor may differ in dtype or device, not in shape). */
    public void set(Tensor value) {
        if (!java.util.Arrays.equals(value.shape(), tensor.shape())) {
            throw new IllegalArgumentException("Buffer.set: shape " + dev.ladon.tensor.Shape.str(value.shape())
                    + " differs from the buffer's " + dev.ladon.tensor.Shape.str(tensor.shape()));
        }
        this.tensor = value;
    }
}
