package dev.ladon.autograd.gradcheck;

import dev.ladon.tensor.Device;
import java.util.List;

/**
 * Contributes cases to the gradient-check suite that {@code bin/ladon gradcheck} runs. A module (or a
 * researcher's own jar) implements it in a public class with a no-argument constructor and lists that
 * class in {@code META-INF/services/dev.ladon.autograd.gradcheck.GradcheckCaseProvider}; the suite finds
 * every provider on the class path with {@link java.util.ServiceLoader}.
 */
public interface GradcheckCaseProvider {
    /** The cases on the CPU, built fresh on each call (inputs are small float64 tensors). */
    List<GradcheckCase> cases();

    /**
     * The cases with everything they use on {@code device}: inputs, the constants their functions capture
     * (indices, targets, masks) and the modules they call. Built fresh on each call.
     *
     * <p>The default builds {@link #cases()} and, for a device other than the CPU, moves each case's inputs
     * there ({@link GradcheckCase#withInputsOn}). That is right for functions that capture no tensors or
     * modules; a function that does would mix devices, which every op refuses, so such a case fails naming
     * the op and the devices rather than checking the CPU under another name. Providers whose functions
     * capture tensors or modules override this method and build them on {@code device}.
     */
    default List<GradcheckCase> cases(Device device) {
        List<GradcheckCase> cases = cases();
        return device.isCpu() ? cases : cases.stream().map(c -> c.withInputsOn(device)).toList();
    }
}
