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
import java.util.TreeMap;

/**
 * Updates parameters from their gradients. {@link #step()} visits every parameter that has a gradient
 * (those without one, e.g. experts no token chose, are skipped and keep their state untouched);
 * {@link #zeroGrad()} clears gradients for the next accumulation. The learning rate is one value for all
 * groups, set by the training loop (see {@link LearningRateSchedule}).
 *
 * <p>Per-parameter state (moments, step counts) is created on a parameter's first update, all of its
 * {@link #stateNames()} at once, and is saved by {@link #stateDict()} under {@code "state.<index>.<name>"},
 * index being the parameter's position across the groups, so a checkpoint restores into an optimizer built
 * the same way over the same model.
 */
public abstract class Optimizer {
    /** The state name of a parameter's update count (see {@link #advanceStep}). */
    protected static final String STEP = "step";

    private final List<ParamGroup> groups;
    private final List<Parameter> params = new ArrayList<>();
    private final List<Double> decays = new ArrayList<>();
    private final Map<Integer, Map<String, Tensor>> state = new HashMap<>();
    private double learningRate;

    /** @throws IllegalArgumentException when the groups hold no parameter at all, or one parameter twice */
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
        if (params.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": got an empty parameter list (its "
                    + this.groups.size() + " group(s) hold no parameter)");
        }
        setLearningRate(learningRate);
    }

    /**
     * The names of the state this optimizer keeps for a parameter, all created at its first update:
     * {@link #STEP} is the int64 scalar of {@link #advanceStep}, every other name a tensor shaped as the
     * parameter. {@link #loadStateDict} accepts these names and no others.
     */
    protected abstract List<String> stateNames();

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
     * Restores a {@link #stateDict()}: copies of its tensors, each parameter's on that parameter's device and in
     * its dtype. A parameter has either none of its state (never updated) or all of {@link #stateNames()}.
     *
     * @throws IllegalArgumentException naming every bad key: one that names no parameter of this optimizer or
     *                                  no state it keeps, a state tensor whose shape differs from its
     *                                  parameter's or whose dtype is not floating (a step count: not an integer
     *                                  scalar), and each parameter with only some of its state; nothing is
     *                                  changed then
     */
    public final void loadStateDict(Map<String, Tensor> saved) {
        String optimizer = getClass().getSimpleName();
        List<String> names = stateNames();
        List<String> problems = new ArrayList<>();
        Map<Integer, Map<String, Tensor>> given = new TreeMap<>();
        for (var e : new TreeMap<>(saved).entrySet()) {
            String key = e.getKey();
            Tensor value = e.getValue();
            if (key.equals("lr")) {
                if (value.numel() != 1) {
                    problems.add("'lr' has shape " + Shape.str(value.shape()) + " but a learning rate is one number");
                }
                continue;
            }
            String[] parts = key.split("\\.", 3);
            int index = parts.length == 3 && parts[0].equals("state") ? parseIndex(parts[1]) : -1;
            if (index < 0 || index >= params.size() || !names.contains(parts[2])) {
                problems.add("unexpected key '" + key + "'");
                continue;
            }
            given.computeIfAbsent(index, i -> new LinkedHashMap<>()).put(parts[2], value);
            Parameter p = params.get(index);
            if (parts[2].equals(STEP)) {
                if (value.dim() != 0 || !value.dtype().isIntegral()) {
                    problems.add("'" + key + "' is a " + value.dtype() + " tensor of shape " + Shape.str(value.shape())
                            + " but a step count is an integer scalar");
                }
            } else if (!Arrays.equals(value.shape(), p.shape())) {
                problems.add("'" + key + "' has shape " + Shape.str(value.shape()) + " but parameter " + index + " is "
                        + Shape.str(p.shape()));
            } else if (!value.dtype().isFloating()) {
                problems.add("'" + key + "' is " + value.dtype() + ", not a floating dtype like parameter " + index
                        + "'s (" + p.data().dtype() + ")");
            }
        }
        for (var e : given.entrySet()) {
            List<String> missing = names.stream().filter(n -> !e.getValue().containsKey(n)).toList();
            if (!missing.isEmpty()) {
                problems.add("parameter " + e.getKey() + " has " + String.join(", ", e.getValue().keySet())
                        + " but not " + String.join(", ", missing));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(optimizer + ".loadStateDict: " + String.join("; ", problems) + " ("
                    + optimizer + " has " + params.size() + " parameters and keeps "
                    + (names.isEmpty() ? "no state" : String.join(", ", names) + " for each") + ")");
        }
        if (saved.containsKey("lr")) {
            // Checked by setLearningRate before the state is touched.
            setLearningRate(saved.get("lr").item());
        }
        // The optimizer's own state: made outside any open workspace scope.
        Map<Integer, Map<String, Tensor>> loaded = Workspace.outside(() -> {
            Map<Integer, Map<String, Tensor>> copies = new HashMap<>();
            for (var e : given.entrySet()) {
                Tensor p = params.get(e.getKey()).data();
                Map<String, Tensor> copy = copies.computeIfAbsent(e.getKey(), i -> new LinkedHashMap<>());
                for (var s : e.getValue().entrySet()) {
                    copy.put(s.getKey(), s.getKey().equals(STEP) ? s.getValue().copy()
                            : s.getValue().to(p.device()).to(p.dtype()).copy());
                }
            }
            return copies;
        });
        state.clear();
        state.putAll(loaded);
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
        Tensor s = state(index, STEP);
        long step = s == null ? 1 : (long) s.item() + 1;
        putState(index, STEP, Tensor.scalar(step, DType.INT64, dev.ladon.tensor.Device.CPU));
        return step;
    }
}
