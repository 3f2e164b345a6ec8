package dev.ladon.tensor;

/**
 * A flat buffer of elements owned by one backend. Tensors are views onto a storage (shape, strides,
 * offset); several tensors may share one storage.
 *
 * <p>The version counter is bumped by every in-place write. Autograd remembers the version of each tensor
 * it saves for backward and refuses to run backward if the storage changed since, as PyTorch does.
 */
public abstract class Storage {
    private final DType dtype;
    private final int size;
    private int version;

    protected Storage(DType dtype, int size) {
        this.dtype = dtype;
        this.size = size;
    }

    public final DType dtype() {
        return dtype;
    }

    /** Number of elements. */
    public final int size() {
        return size;
    }

    public abstract Device device();

    public final int version() {
        return version;
    }

    /** Records an in-place modification. */
    public final void bumpVersion() {
        version++;
    }
}
