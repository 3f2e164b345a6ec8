package dev.ladon.autograd.gradcheck;

import java.util.List;

/**
 * Contributes cases to the gradient-check suite that {@code bin/ladon gradcheck} runs. A module (or a
 * researcher's own jar) implements it in a public class with a no-argument constructor and lists that
 * class in {@code META-INF/services/dev.ladon.autograd.gradcheck.GradcheckCaseProvider}; the suite finds
 * every provider on the class path with {@link java.util.ServiceLoader}.
 */
public interface GradcheckCaseProvider {
    /** The cases, built fresh on each call (inputs are small float64 tensors). */
    List<GradcheckCase> cases();
}
