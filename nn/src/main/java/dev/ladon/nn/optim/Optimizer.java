package dev.ladon.nn.optim;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Updates parameters from their gradients. {@link #step()} visits every parameter that has a gradient
 * (those without one, e.g. experts no token chose, are skipped and keep their state untouched);
 * {@link #zeroGrad()} clears gradients for the next accumulation. The learning rate is one value for all
 * groups, set by the training loop (see {@link LearningRateSchedule}).
 *
 * <p>Per-parameter state (moments, step counts) is created on a parameter's first update and is saved by
 * {@link #stateDict()} under {@code "state.<index>.<name>"}, index being the parameter's position across
 * the groups, so a checkpoint restores into an optimizer built the same way over the same model.
 */
public abstract class Optimizer {
    private final List<ParamGroup> groups;
    private final List<Parameter> params = new ArrayList<>();
    private final List<Double> decays = new ArrayList<>();
    private final Map<Integer, Map<String, Tensor>> state = new HashMap<>();
    private double learningRate;

    protected Optimizer(List<ParamGroup> groups, double learningRate) {
        this.groups = List.copyOf(groups);
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (ParamGroup g : this.groups) {
            for (Parameter p : g.params()) {
                if (!seen.add(p)) {
                    throw new IllegalArgumentException(getClass().getSimpleName() + ": parameter " + p
                            + " appears in more than one group");
                }
                params.add(p);
                decays.add(g.weightDecay());
            }
        }
        setLearningRate(learningRate);
    }

    /**
     * Updates one parameter in place.
     *
     * @param index       the parameter's position across the groups (the key of its state)
     * @param weightDecay its group's weight decay
     */
    protected abstract void update(int index, Parameter param, Tensor grad, double weightDecay);

    /**
     * Applies one update to every parameter that has a gradient. State created here (moments, step counts)
     * is created outside any open {@link Workspace} scope, since it lives as long as the optimizer.
     */
    public final void step() {
        Workspace.outside(() -> {
            for (int i = 0; i < params.size(); i++) {
                Parameter p = params.get(i);
                Tensor grad = p.grad();
                if (grad != null) {
                    update(i, p, grad, decays.get(i));
                }
            }
            return null;
        });
    }

    /** Drops the gradients of every parameter this optimizer updates. */
    public final void zeroGrad() {
        for (Parameter p : params) {
            p.zeroGrad();
        }
    }

    public final double learningRate() {
        return learningRate;
    }

    public final void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": learning rate must be finite and >= 0, got "
                    + lr);
        }
        this.learningRate = lr;
    }

    public final List<ParamGroup> groups() {
        return groups;
    }

    /** The parameters in state-index order. */
    public final List<Parameter> parameters() {
        return Collections.unmodifiableList(params);
    }

    /**
     * The state tensor {@code name} of parameter {@code index}, or null before its first update. Subclasses
     * create it with {@link #putState}.
     */
    protected final Tensor state(int index, String name) {
        Map<String, Tensor> s = state.get(index);
        return s == null ? null : s.get(name);
    }

    protected final void putState(int index, String name, Tensor value) {
        state.computeIfAbsent(index, i -> new LinkedHashMap<>()).put(name, value);
    }

    /**
     * The learning rate (as a float64 scalar under {@code "lr"}) and every state tensor, shared not copied.
     */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("lr", Tensor.scalar(learningRate, DType.FLOAT64, dev.ladon.tensor.Device.CPU));
        for (int i = 0; i < params.size(); i++) {
            Map<String, Tensor> s = state.get(i);
            if (s != null) {
                for (var e : s.entrySet()) {
                    out.put("state." + i + "." + e.getKey(), e.getValue());
                }
            }
        }
        return out;
    }

    /**
     * Restores a {@link #stateDict()}: copies of its tensors on each parameter's device.
     *
     * @throws IllegalArgumentException for a key that names no parameter of this optimizer, or a moment
     *                                  whose shape differs from its parameter's
     */
    public final void loadStateDict(Map<String, Tensor> saved) {
        Map<Integer, Map<String, Tensor>> loaded = new HashMap<>();
        for (var e : saved.entrySet()) {
            String key = e.getKey();
            if (key.equals("lr")) {
                continue;
            }
            String[] parts = key.split("\\.", 3);
            int index = parts.length == 3 && parts[0].equals("state") ? parseIndex(parts[1]) : -1;
            if (index < 0 || index >= params.size()) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ".loadStateDict: unexpected key '" + key
                        + "' (this optimizer has " + params.size() + " parameters)");
            }
            Tensor value = e.getValue();
            Parameter p = params.get(index);
            boolean perElement = value.dim() > 0;
            if (perElement && !Arrays.equals(value.shape(), p.shape())) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ".loadStateDict: '" + key + "' has shape "
                        + Shape.str(value.shape()) + " but parameter " + index + " is " + Shape.str(p.shape()));
            }
            // The optimizer's own state: made outside any open workspace scope.
            Tensor copy = Workspace.outside(() -> perElement ? value.to(p.data().device()).to(p.data().dtype()).copy()
                    : value.copy());
            loaded.computeIfAbsent(index, i -> new LinkedHashMap<>()).put(parts[2], copy);
        }
        state.clear();
        state.putAll(loaded);
        if (saved.containsKey("lr")) {
            setLearningRate(saved.get("lr").item());
        }
    }

    private static int parseIndex(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The 1-based update count of parameter {@code index}, advanced by one (kept as an int64 scalar state). */
    protected final long advanceStep(int index) {
        Tensor s = state(index, "step");
        long step = s == null ? 1 : (long) s.item() + 1;
        putState(index, "step", Tensor.scalar(step, DType.INT64, dev.ladon.tensor.Device.CPU));
        return step;
    }
}
