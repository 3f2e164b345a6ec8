package dev.ladon.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Memory that a repeating computation, such as a training step, hands back at the end of each repetition,
 * so that the next one reuses it instead of allocating afresh.
 *
 * <p>Why: a training step allocates hundreds of megabytes of activations and gradients, all dead by the
 * step's end. Left to the garbage collector, each new array is zero-filled by the JVM on the calling thread,
 * and the collector lets the heap grow with the allocation rate rather than with the live tensors (in
 * {@code bench lm-step} the heap reached three times what the step keeps alive). Inside a scope, the new
 * arrays of CPU tensors come from the arrays the previous scope used, and nothing is left for the collector.
 *
 * <pre>{@code
 * Workspace workspace = new Workspace("training step");
 * for (int step = 0; step < steps; step++) {
 *     try (Workspace.Scope scope = workspace.open()) {
 *         optimizer.zeroGrad();
 *         Variable loss = lossFn.forward(model.forward(x), y);
 *         loss.backward();
 *         optimizer.step();
 *         log(loss.item());                // read what you need before the scope closes
 *     }                                     // every tensor the step created is released here
 * }
 * }</pre>
 *
 * <p>The rules, which make ownership explicit where Java has no reference counts:
 * <ul>
 *   <li>A scope belongs to the thread that opened it, and only tensors created on that thread while it is
 *       open take memory from it (each of at least {@link #MIN_ELEMENTS} elements, on the CPU; a GPU
 *       backend has its own caching allocator and ignores scopes).</li>
 *   <li>When the scope closes, every such tensor is released: its memory returns to the workspace, and any
 *       later read or write of it throws an {@link IllegalStateException} that names the workspace. A
 *       released tensor is never silently reused.</li>
 *   <li>A tensor that must outlive the scope is created {@linkplain #outside outside} it (Ladon does this for
 *       leaf gradients, optimizer state and the caches of layers), or handed over with {@link Scope#keep},
 *       after which the garbage collector owns it as usual.</li>
 *   <li>Reused memory is zero-filled again, so a new tensor reads as zeros as it does without a scope
 *       (a kernel that writes every element of its output skips the fill).</li>
 *   <li>Memory can also come back before the scope closes, through {@link Scope#releaseIfLentSince}: the
 *       autograd engine gives back each gradient it passes between nodes once it is consumed, so a
 *       backward pass reuses its own memory.</li>
 * </ul>
 *
 * <p>The workspace keeps, between scopes, exactly the memory its last scope used: a scope whose tensors
 * have other sizes (a smaller last batch, an evaluation) lets go of the arrays it did not need.
 * At most one scope of a workspace is open at a time; scopes of different workspaces may nest, and a
 * tensor then belongs to the innermost.
 */
public final class Workspace {
    /** Smaller tensors are left to the JVM, whose thread-local allocation is cheaper than a lookup. */
    public static final int MIN_ELEMENTS = 4096;

    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final String name;
    /**
     * Free memory by dtype and element count: between scopes, what the last scope used; while a scope is
     * open, what it released early.
     */
    private final Map<Key, ArrayDeque<Object>> free = new HashMap<>();
    /** What the last scope used and the open one has not taken yet; let go when the open scope closes. */
    private final Map<Key, ArrayDeque<Object>> leftover = new HashMap<>();
    private long freeBytes;
    private Scope open;
    private long reuses;
    private long allocations;

    private record Key(DType dtype, int size) {
        long bytes() {
            return (long) size * dtype.byteSize();
        }
    }

    /** @param name shown in the error raised when a released tensor is used, e.g. {@code "training step"} */
    public Workspace(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /**
     * Opens a scope on the calling thread: until it closes, CPU tensors created on this thread take their
     * memory from this workspace.
     *
     * @throws IllegalStateException if a scope of this workspace is already open
     */
    public synchronized Scope open() {
        if (open != null) {
            throw new IllegalStateException("workspace '" + name + "': a scope is already open (on thread "
                    + open.thread.getName() + "); close it before opening another");
        }
        open = new Scope(CURRENT.get());
        CURRENT.set(open);
        leftover.putAll(free);
        free.clear();
        return open;
    }

    /**
     * Runs {@code work} with the calling thread's scope (if any) set aside, so the tensors it creates are
     * ordinary ones that outlive the scope: gradients of parameters, optimizer state, caches.
     */
    public static <T> T outside(Supplier<T> work) {
        Scope current = CURRENT.get();
        if (current == null) {
            return work.get();
        }
        CURRENT.remove();
        try {
            return work.get();
        } finally {
            CURRENT.set(current);
        }
    }

    /** The innermost scope open on the calling thread, or null (none, or inside {@link #outside}). */
    public static Scope current() {
        return CURRENT.get();
    }

    /** Bytes of memory held free for the next scope. */
    public synchronized long freeBytes() {
        return freeBytes;
    }

    /** How many tensors took reused memory, and how many new memory, over this workspace's scopes so far. */
    public synchronized long reuses() {
        return reuses;
    }

    /** @see #reuses() */
    public synchronized long allocations() {
        return allocations;
    }

    /** Drops the free memory, for the collector to take back (a long pause between steps, say). */
    public synchronized void clear() {
        free.clear();
        leftover.clear();
        freeBytes = 0;
    }

    @Override
    public String toString() {
        return "Workspace[" + name + ", " + (freeBytes >> 20) + " MB free" + (open != null ? ", scope open" : "")
                + "]";
    }

    /**
     * Called by a storage implementation while it is being created: if the calling thread has a scope open
     * and the storage is large enough, the storage is recorded in that scope, and the result is free memory
     * of the storage's dtype and size (not yet zero-filled), or null when the storage must allocate its own.
     * Without a scope, or for a small storage, the result is null and nothing is recorded.
     */
    static Object lend(Storage storage) {
        if (storage.size() < MIN_ELEMENTS) {
            return null;
        }
        Scope scope = CURRENT.get();
        return scope == null ? null : scope.lend(storage);
    }

    /** The closing of {@code scope}: its storages' memory becomes the free memory. */
    private synchronized void closed(Scope scope) {
        // What the last scope did not use is let go, so the workspace follows the step's current sizes.
        leftover.forEach((key, list) -> freeBytes -= list.size() * key.bytes());
        leftover.clear();
        for (Storage s : scope.lent) {
            if (s.lender == scope) { // not kept, not released early
                release(s);
            }
        }
        open = null;
    }

    /** Takes {@code s}'s memory back into the free lists. */
    private synchronized void release(Storage s) {
        Object memory = s.releaseMemory(this);
        s.lender = null;
        Key key = new Key(s.dtype(), s.size());
        free.computeIfAbsent(key, k -> new ArrayDeque<>()).add(memory);
        freeBytes += key.bytes();
    }

    private synchronized Object take(Storage storage) {
        Key key = new Key(storage.dtype(), storage.size());
        Object memory = poll(free, key);
        if (memory == null) {
            memory = poll(leftover, key);
        }
        if (memory == null) {
            allocations++;
        } else {
            reuses++;
            freeBytes -= key.bytes();
        }
        return memory;
    }

    private static Object poll(Map<Key, ArrayDeque<Object>> lists, Key key) {
        ArrayDeque<Object> list = lists.get(key);
        return list == null ? null : list.poll();
    }

    /** One repetition's use of the workspace; close it (try-with-resources) to release its tensors. */
    public final class Scope implements AutoCloseable {
        private final Thread thread = Thread.currentThread();
        private final Scope enclosing;
        private final List<Storage> lent = new ArrayList<>();
        private boolean closed;
        /** How many storages this scope has lent memory to: the sequence number of the next. */
        private long lentCount;

        private Scope(Scope enclosing) {
            this.enclosing = enclosing;
        }

        public Workspace workspace() {
            return Workspace.this;
        }

        private Object lend(Storage storage) {
            lent.add(storage);
            storage.lender = this;
            storage.lendSequence = lentCount++;
            return take(storage);
        }

        /** A point in the sequence of tensors this scope lends memory to, for {@link #releaseIfLentSince}. */
        public long mark() {
            return lentCount;
        }

        /**
         * Releases {@code tensor} now, before the scope closes, if this scope lent its memory after
         * {@code mark} and it was not kept: later tensors of the scope may then take the memory, and the
         * tensor (with every view of its storage) refuses to be used, as after {@link #close}. For code that
         * knows nothing else refers to a tensor it created: the autograd engine releases the gradients it
         * passes between nodes once they are consumed, so a backward pass reuses its own memory.
         *
         * @return whether the tensor was released
         */
        public boolean releaseIfLentSince(Tensor tensor, long mark) {
            Storage s = tensor.storage();
            if (s.lender != this || s.lendSequence < mark || closed) {
                return false;
            }
            release(s);
            return true;
        }

        /**
         * Hands {@code tensor}'s memory to the garbage collector, so the tensor (and every view of its storage)
         * stays usable after the scope closes; for what a step passes on to the next, such as a
         * Transformer-XL memory. A tensor this scope did not lend is returned unchanged.
         *
         * @throws IllegalStateException if the tensor was already released
         */
        public Tensor keep(Tensor tensor) {
            Storage s = tensor.storage();
            if (s.released()) {
                throw new IllegalStateException("keep: the tensor " + Shape.str(tensor.shape()) + " " + tensor.dtype()
                        + " was already released by workspace '" + name + "'");
            }
            if (s.lender == this) {
                s.lender = null;
            }
            return tensor;
        }

        /** {@link #keep} for each tensor of {@code tensors}, such as a list of per-layer memories; returns it. */
        public <C extends Iterable<Tensor>> C keepAll(C tensors) {
            tensors.forEach(this::keep);
            return tensors;
        }

        /**
         * Releases every tensor this scope lent memory to and did not keep.
         *
         * @throws IllegalStateException on another thread than the one that opened the scope, or while a
         *         scope opened inside this one is still open
         */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            if (Thread.currentThread() != thread) {
                throw new IllegalStateException("workspace '" + name + "': a scope must be closed on the thread that "
                        + "opened it (" + thread.getName() + "), not on " + Thread.currentThread().getName());
            }
            Scope current = CURRENT.get();
            if (current != this) {
                throw new IllegalStateException("workspace '" + name + "': " + (current == null
                        ? "a scope cannot be closed inside Workspace.outside"
                        : "close the scope opened inside this one (workspace '" + current.workspace().name()
                                + "') first"));
            }
            closed = true;
            if (enclosing == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(enclosing);
            }
            closed(this);
        }
    }
}
