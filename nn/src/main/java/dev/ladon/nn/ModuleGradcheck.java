package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckFunction;
import dev.ladon.autograd.gradcheck.GradcheckOptions;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Gradient-check cases for a {@link Module}: the check differentiates with respect to the given inputs
 * and every parameter of the module. Use it in a {@link dev.ladon.autograd.gradcheck.GradcheckCaseProvider}:
 * <pre>{@code
 * Linear layer = new Linear(4, 3, true);
 * ModuleGradcheck.of("Linear", layer, v -> layer.forward(v.get(0)), List.of(x));
 * }</pre>
 */
public final class ModuleGradcheck {
    private ModuleGradcheck() {
    }

    /**
     * A case whose point is [inputs..., the module's parameters...]. The module is moved to float64 (not to
     * another device: for a case on the GPU, move it with {@link Module#to(dev.ladon.tensor.Device)} first and
     * give inputs on the same device); each time the checker calls the function, the module's parameters are
     * bound to the checker's variables and {@code forward} gets the variables of {@code inputs} (in order).
     */
    public static GradcheckCase of(String name, Module module, GradcheckFunction forward, List<Tensor> inputs) {
        module.to(DType.FLOAT64);
        List<Parameter> params = module.parameters();
        int n = inputs.size();
        List<Tensor> point = new ArrayList<>(inputs);
        for (Parameter p : params) {
            point.add(p.data());
        }
        GradcheckFunction f = vars -> {
            for (int i = 0; i < params.size(); i++) {
                params.get(i).bind(vars.get(n + i));
            }
            return forward.apply(vars.subList(0, n));
        };
        return new GradcheckCase(name, List.of("nn." + module.getClass().getSimpleName()), f, point,
                GradcheckOptions.defaults(), false);
    }

    /** Convenience for a one-input layer: {@code forward} maps the input variable to the output. */
    public static GradcheckCase of(String name, Module module, java.util.function.UnaryOperator<Variable> forward,
            Tensor input) {
        return of(name, module, vars -> forward.apply(vars.get(0)), List.of(input));
    }
}
