package dev.ladon.autograd;

import dev.ladon.tensor.Storage;
import dev.ladon.tensor.Workspace;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Hands the gradients that one backward pass sends between nodes back to the calling thread's open
 * {@link Workspace} scope as soon as they are consumed, so the pass reuses its own memory: the scope then
 * holds the forward's activations and a few gradients at a time, not every gradient of the pass.
 *
 * <p>A gradient is released only when the engine can tell nothing else refers to it: the scope lent its
 * memory during this pass (so it is not the caller's seed, a saved activation, or anything made before),
 * no pending gradient shares its storage any more (a formula may pass its incoming gradient on unchanged,
 * or the same tensor to two inputs), and no hook or capture saw it. With {@code createGraph} the formulas
 * record nodes that save gradients, so nothing is released. Without an open scope this does nothing.
 */
final class GradientMemory {
    private final Workspace.Scope scope;
    private final long mark;
    /** Per storage, how many pending gradients (one per receiving node) are views of it. */
    private final Map<Storage, Integer> pendingUses = new IdentityHashMap<>();
    private final Set<Storage> escaped = Collections.newSetFromMap(new IdentityHashMap<>());

    GradientMemory(boolean createGraph) {
        this.scope = createGraph ? null : Workspace.current();
        this.mark = scope == null ? 0 : scope.mark();
    }

    /** {@code grad} now waits, as all or part of a node's incoming gradient. */
    void pending(Variable grad) {
        if (scope != null) {
            pendingUses.merge(grad.data().storage(), 1, Integer::sum);
        }
    }

    /** {@code grad} was handed to code that may keep it (a hook, the caller of {@link Autograd#grad}). */
    void escaped(Variable grad) {
        if (scope != null) {
            escaped.add(grad.data().storage());
        }
    }

    /**
     * {@code earlier} (pending) and {@code added} (just returned by a formula) were summed into a new pending
     * gradient: neither waits any more.
     */
    void summed(Variable earlier, Variable added) {
        pending(added);
        consumed(added);
        consumed(earlier);
    }

    /** One pending use of {@code grad} is over; its memory goes back when it was the last. */
    void consumed(Variable grad) {
        if (scope == null) {
            return;
        }
        Storage s = grad.data().storage();
        Integer uses = pendingUses.merge(s, -1, Integer::sum);
        if (uses != null && uses <= 0) {
            pendingUses.remove(s);
            if (!escaped.contains(s)) {
                scope.releaseIfLentSince(grad.data(), mark);
            }
        }
    }
}
