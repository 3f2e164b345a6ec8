package dev.ladon.autograd;

/** Returned by {@link Variable#registerHook}; {@link #remove()} unregisters the hook. */
@FunctionalInterface
public interface HookHandle {
    void remove();
}
