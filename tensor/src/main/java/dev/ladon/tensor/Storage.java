package dev.ladon.tensor;

/**
 * A flat buffer of elements owned by one backend. Tensors are views onto a storage (shape, strides,
 * offset); several tensors may share one storage.
 *
 * <p>The version counter is bumped by every in-place write. Autograd remembers the version of each tensor
 * it saves for backward and refuses to run backward if the storage changed since, as PyTorch does.
 *
 * <p>A storage created while a {@link Workspace} scope is open on its thread may take its memory from the
 * workspace ({@link #memoryFromWorkspace}); when the scope closes, the workspace takes the memory back
 * ({@link #releaseMemory}) and the storage is {@linkplain #released() released}.
 */
public abstract class Storage {
    private final DType dtype;
    private final int size;
    private int version;
    /** The open scope that lent this storage its memory, or null (never lent, kept, or released). */
    Workspace.Scope lender;
    /** Where this storage came in its lender's sequence (see {@link Workspace.Scope#mark()}). */
    long lendSequence;
    private String releasedBy;

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

    /**
     * For an implementation's constructor: memory of this storage's dtype and size that the calling thread's
     * open workspace scope holds free, or null when the storage must allocate its own (no scope open, a small
     * storage, or nothing free of this size yet). Either way, within a scope the storage is recorded and will
     * be released when the scope closes. Reused memory holds old values: the caller zero-fills it.
     */
    protected final Object memoryFromWorkspace() {
        return Workspace.lend(this);
    }

    /**
     * Gives this storage's memory (what {@link #memoryFromWorkspace} returned, or what the storage allocated
     * instead) back to {@code workspace}, after which the storage must refuse every access (see
     * {@link #releasedError()}). Only storages that asked {@code memoryFromWorkspace} are released.
     */
    protected Object releaseMemory(Workspace workspace) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not take memory from workspaces");
    }

    /** Marks this storage released by {@code workspace}; for {@link #releaseMemory} implementations. */
    protected final void markReleased(Workspace workspace) {
        releasedBy = workspace.name();
    }

    /** Whether a workspace took this storage's memory back. */
    public final boolean released() {
        return releasedBy != null;
    }

    /** The error for a use of a released storage. */
    protected final IllegalStateException releasedError() {
        return new IllegalStateException("this tensor (" + dtype + ", " + size + " elements) was released when its "
                + "scope of workspace '" + releasedBy + "' closed; a tensor that must outlive the scope has to be "
                + "created outside it (Workspace.outside) or kept (Workspace.Scope.keep)");
    }

    /** Records an in-place modification. */
    public final void bumpVersion() {
        version++;
    }
}
