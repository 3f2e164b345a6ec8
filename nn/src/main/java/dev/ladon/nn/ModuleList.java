package dev.ladon.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/** An ordered list of submodules, registered under the names "0", "1", ... (so {@code blocks.3.norm1.weight}). */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final List<M> items = new ArrayList<>();

    public ModuleList() {
    }

    public ModuleList(List<? extends M> modules) {
        for (M m : modules) {
            add(m);
        }
    }

    /** Appends and registers a module; returns it. */
    public M add(M module) {
        registerModule(Integer.toString(items.size()), module);
        items.add(module);
        return module;
    }

    /** The module at {@code index}, 0 &lt;= index &lt; {@link #size()}. */
    public M get(int index) {
        if (index < 0 || index >= items.size()) {
            throw new IndexOutOfBoundsException("ModuleList.get: index " + index + " is out of range for a list of "
                    + items.size() + " modules");
        }
        return items.get(index);
    }

    public int size() {
        return items.size();
    }

    @Override
    public Iterator<M> iterator() {
        return Collections.unmodifiableList(items).iterator();
    }
}
