package dev.ladon.nn;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * A layer or a model: a tree of named parameters, buffers and submodules.
 *
 * <p>Subclasses register what they own in their constructor, once, by name:
 * <pre>{@code
 * this.weight = registerParameter("weight", Tensor.zeros(out, in));
 * this.attention = registerModule("attention", new MultiHeadAttention(...));
 * }</pre>
 * Registration order is the order of {@link #namedParameters()} and of the state dict; nested names are
 * joined with dots, e.g. {@code blocks.0.attention.wq.weight}. Each subclass writes its own
 * {@code forward} with the signature it needs (a module is not forced into one input type).
 *
 * <p>A module starts in training mode; {@link #eval()} switches the whole tree (dropout becomes the
 * identity). {@link #to(Device)} and {@link #to(DType)} move every parameter and buffer in place of the
 * old ones; create optimizers after moving.
 */
public abstract class Module {
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Buffer> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    /** Every registered name, parameters, buffers and children alike, in registration order. */
    private final List<String> order = new ArrayList<>();
    private boolean training = true;

    // ---- registration ----------------------------------------------------------------------------

    /** Registers a trainable tensor under {@code name} and returns its slot. */
    protected final Parameter registerParameter(String name, Tensor initial) {
        checkNewName(name);
        if (!initial.dtype().isFloating()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ".registerParameter: '" + name
                    + "' must be a floating tensor, got " + initial.dtype());
        }
        Parameter p = new Parameter(initial);
        parameters.put(name, p);
        return p;
    }

    /**
     * Registers a parameter slot that another module already owns (weight tying): both modules then train
     * the same tensor. It is listed, saved and counted once, under the name it was first met.
     */
    protected final Parameter registerParameter(String name, Parameter shared) {
        checkNewName(name);
        parameters.put(name, shared);
        return shared;
    }

    /** Registers a non-trainable tensor that is saved in the state dict and moved by {@link #to}. */
    protected final Buffer registerBuffer(String name, Tensor initial) {
        checkNewName(name);
        Buffer b = new Buffer(initial);
        buffers.put(name, b);
        return b;
    }

    /** Registers a submodule under {@code name} and returns it. */
    protected final <M extends Module> M registerModule(String name, M module) {
        checkNewName(name);
        if (module == this) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ".registerModule: a module cannot contain itself");
        }
        children.put(name, module);
        return module;
    }

    private void checkNewName(String name) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": name '" + name
                    + "' must be non-empty and contain no dots");
        }
        if (order.contains(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": name '" + name + "' is already registered");
        }
        order.add(name);
    }

    // ---- traversal -------------------------------------------------------------------------------

    /** Every parameter of this tree by dotted name, in registration order; a shared one appears once. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collectParameters("", out, seen);
        return out;
    }

    private void collectParameters(String prefix, Map<String, Parameter> out, Set<Parameter> seen) {
        for (String name : order) {
            Parameter p = parameters.get(name);
            Module child = children.get(name);
            if (p != null && seen.add(p)) {
                out.put(prefix + name, p);
            } else if (child != null) {
                child.collectParameters(prefix + name + ".", out, seen);
            }
        }
    }

    /** The distinct parameters of this tree, in registration order. */
    public final List<Parameter> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Every buffer of this tree by dotted name. */
    public final Map<String, Buffer> namedBuffers() {
        Map<String, Buffer> out = new LinkedHashMap<>();
        collectBuffers("", out);
        return out;
    }

    private void collectBuffers(String prefix, Map<String, Buffer> out) {
        for (String name : order) {
            if (buffers.containsKey(name)) {
                out.put(prefix + name, buffers.get(name));
            } else if (children.containsKey(name)) {
                children.get(name).collectBuffers(prefix + name + ".", out);
            }
        }
    }

    /** The direct submodules by name. */
    public final Map<String, Module> namedChildren() {
        return Collections.unmodifiableMap(children);
    }

    /** This module and all its descendants, parents before children. */
    public final List<Module> modules() {
        List<Module> out = new ArrayList<>();
        out.add(this);
        for (Module child : children.values()) {
            out.addAll(child.modules());
        }
        return out;
    }

    /** Calls {@code fn} on every descendant, then on this module (children first, as PyTorch's apply). */
    public final Module apply(Consumer<Module> fn) {
        for (Module child : children.values()) {
            child.apply(fn);
        }
        fn.accept(this);
        return this;
    }

    /** The number of trainable scalars (shared parameters counted once). */
    public final long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) {
            n += p.numel();
        }
        return n;
    }

    /** Drops every parameter's gradient. */
    public final void zeroGrad() {
        for (Parameter p : parameters()) {
            p.zeroGrad();
        }
    }

    // ---- mode and placement ----------------------------------------------------------------------

    /** Sets training mode (true) or evaluation mode (false) on the whole tree. */
    public final Module train(boolean on) {
        for (Module m : modules()) {
            m.training = on;
        }
        return this;
    }

    public final Module train() {
        return train(true);
    }

    public final Module eval() {
        return train(false);
    }

    public final boolean isTraining() {
        return training;
    }

    /**
     * Moves every parameter and buffer to {@code device}; gradients are dropped. The new tensors are made
     * outside any open {@link Workspace} scope: they belong to the module.
     */
    public final Module to(Device device) {
        return Workspace.outside(() -> {
            for (Parameter p : parameters()) {
                if (!p.data().device().equals(device)) {
                    p.replace(p.data().to(device));
                }
            }
            for (Buffer b : namedBuffers().values()) {
                b.set(b.tensor().to(device));
            }
            return this;
        });
    }

    /** Converts every floating parameter and buffer to {@code dtype} (e.g. float64 for gradient checks). */
    public final Module to(DType dtype) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ".to: parameters need a floating dtype, got "
                    + dtype);
        }
        return Workspace.outside(() -> {
            for (Parameter p : parameters()) {
                if (p.data().dtype() != dtype) {
                    p.replace(p.data().to(dtype));
                }
            }
            for (Buffer b : namedBuffers().values()) {
                if (b.tensor().dtype().isFloating()) {
                    b.set(b.tensor().to(dtype));
                }
            }
            return this;
        });
    }

    // ---- state dict ------------------------------------------------------------------------------

    /**
     * The parameters and buffers by dotted name, parameters first. The tensors are shared with the module,
     * not copied: save them before training on.
     */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        namedParameters().forEach((name, p) -> out.put(name, p.data()));
        namedBuffers().forEach((name, b) -> out.put(name, b.tensor()));
        return out;
    }

    /**
     * Copies {@code state} into this module's parameters and buffers, converting dtype and device.
     *
     * @throws IllegalArgumentException naming every missing and unexpected key, or the first shape mismatch;
     *                                  nothing is changed then
     */
    public final void loadStateDict(Map<String, Tensor> state) {
        Map<String, Parameter> params = namedParameters();
        Map<String, Buffer> bufs = namedBuffers();
        Set<String> missing = new TreeSet<>();
        Set<String> unexpected = new TreeSet<>(state.keySet());
        for (String name : params.keySet()) {
            if (!unexpected.remove(name)) {
                missing.add(name);
            }
        }
        for (String name : bufs.keySet()) {
            if (!unexpected.remove(name)) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ".loadStateDict: missing keys " + missing
                    + ", unexpected keys " + unexpected);
        }
        for (var e : params.entrySet()) {
            checkShape(e.getKey(), e.getValue().shape(), state.get(e.getKey()));
        }
        for (var e : bufs.entrySet()) {
            checkShape(e.getKey(), e.getValue().tensor().shape(), state.get(e.getKey()));
        }
        // Buffers get new tensors, which belong to the module: made outside any open workspace scope.
        Workspace.outside(() -> {
            for (var e : params.entrySet()) {
                Tensor target = e.getValue().data();
                target.copyFrom(state.get(e.getKey()).to(target.device()).to(target.dtype()));
            }
            for (var e : bufs.entrySet()) {
                Tensor target = e.getValue().tensor();
                e.getValue().set(state.get(e.getKey()).to(target.device()).to(target.dtype()).copy());
            }
            return null;
        });
    }

    private void checkShape(String name, int[] expected, Tensor given) {
        if (!Arrays.equals(expected, given.shape())) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ".loadStateDict: '" + name + "' has shape "
                    + Shape.str(given.shape()) + " in the state dict but " + Shape.str(expected) + " in the module");
        }
    }

    // ---- printing --------------------------------------------------------------------------------

    /** The hyperparameters shown after the class name, e.g. {@code "412, 8000, bias=true"}. */
    protected String extraRepr() {
        return "";
    }

    /** A tree of class names, hyperparameters and child names, in the style of PyTorch's module printout. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        appendTree(sb, "");
        return sb.toString();
    }

    private void appendTree(StringBuilder sb, String indent) {
        sb.append(getClass().getSimpleName()).append('(');
        if (children.isEmpty()) {
            sb.append(extraRepr()).append(')');
            return;
        }
        sb.append('\n');
        if (!extraRepr().isEmpty()) {
            sb.append(indent).append("  ").append(extraRepr()).append('\n');
        }
        for (var e : children.entrySet()) {
            sb.append(indent).append("  (").append(e.getKey()).append("): ");
            e.getValue().appendTree(sb, indent + "  ");
            sb.append('\n');
        }
        sb.append(indent).append(')');
    }
}
