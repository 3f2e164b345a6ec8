package dev.ladon.autograd;

/**
 * Whether ops on {@link Variable}s record a graph, per thread (on by default). Turn it off for
 * inference, evaluation and optimizer steps, where no gradient is needed:
 *
 * <pre>{@code
 * try (var ng = GradMode.noGrad()) {
 *     Variable logits = model.forward(x);   // no graph, nothing saved for backward
 * }
 * }</pre>
 *
 * Scopes nest: closing one restores the mode that was active when it was opened.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {
    }

    /** True when ops on this thread record graphs. */
    public static boolean isEnabled() {
        return ENABLED.get()[0];
    }

    /** Stops recording until the returned scope is closed (like {@code torch.no_grad()}). */
    public static Scope noGrad() {
        return set(false);
    }

    /** Records again until the returned scope is closed, even inside a {@link #noGrad()} scope. */
    public static Scope enableGrad() {
        return set(true);
    }

    static Scope set(boolean enabled) {
        boolean[] flag = ENABLED.get();
        Scope scope = new Scope(flag, flag[0]);
        flag[0] = enabled;
        return scope;
    }

    /** Restores the previous grad mode when closed; its {@code close} throws nothing. */
    public static final class Scope implements AutoCloseable {
        private final boolean[] flag;
        private final boolean previous;

        private Scope(boolean[] flag, boolean previous) {
            this.flag = flag;
            this.previous = previous;
        }

        @Override
        public void close() {
            flag[0] = previous;
        }
    }
}
