package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A value a node keeps for its backward, with the storage version it had when saved. Unpacking checks
 * the version, so a tensor changed in place between forward and backward is reported instead of
 * silently giving a wrong gradient (PyTorch's SavedVariable does the same).
 *
 * <p>Values are kept as {@link Variable}s, not bare tensors, so that a backward run with
 * {@code createGraph} can differentiate through them (higher-order gradients).
 */
final class SavedTensor {
    private static final AtomicLong LIVE = new AtomicLong();
    private static final Cleaner CLEANER = Cleaner.create();

    private Variable value;
    private final int version;
    private final Counted counted;

    SavedTensor(Variable value) {
        this.value = value;
        this.version = value.data().version();
        this.counted = new Counted();
        LIVE.incrementAndGet();
        // A graph dropped without running backward is never released explicitly; the cleaner keeps the
        // diagnostic count honest when the collector reclaims it.
        CLEANER.register(this, counted);
    }

    /** The saved value, after checking that its storage was not modified in place since it was saved. */
    Variable unpack(String op) {
        if (value == null) {
            throw new IllegalStateException("backward of " + op + ": its saved tensors were already freed by an earlier "
                    + "backward; pass retainGraph=true to the first backward if you need to run backward twice");
        }
        int now = value.data().version();
        if (now != version) {
            throw new IllegalStateException("backward of " + op + ": a tensor it saved for backward ("
                    + value.dtype() + " " + Shape.str(value.data().shape()) + ") was modified by an in-place "
                    + "operation: it is at version " + now + ", expected version " + version + ". Clone it before "
                    + "changing it in place, or change it after backward.");
        }
        return value;
    }

    /** Drops the reference so that the memory can be reclaimed (after a backward without retainGraph). */
    void release() {
        value = null;
        counted.run();
    }

    /** Saved tensors currently held by graphs (created and neither released nor garbage collected). */
    static long live() {
        return LIVE.get();
    }

    /** Decrements the live count exactly once, whether released by backward or by the cleaner. */
    private static final class Counted implements Runnable {
        private final AtomicBoolean done = new AtomicBoolean();

        @Override
        public void run() {
            if (done.compareAndSet(false, true)) {
                LIVE.decrementAndGet();
            }
        }
    }
}
