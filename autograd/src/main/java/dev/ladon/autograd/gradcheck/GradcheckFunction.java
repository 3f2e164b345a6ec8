package dev.ladon.autograd.gradcheck;

import dev.ladon.autograd.Variable;
import java.util.List;

/**
 * The function under a gradient check: Variables in (one per input tensor, in order), one Variable out.
 * It must be deterministic: gradcheck calls it many times with slightly moved inputs. A function with
 * several outputs can return them flattened and joined with {@code Variable.cat}.
 */
@FunctionalInterface
public interface GradcheckFunction {
    Variable apply(List<Variable> inputs);
}
