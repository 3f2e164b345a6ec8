package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModuleTest {
    /** A small tree: a scale parameter, a step buffer, a list of two Linears and a LayerNorm. */
    static final class Net extends Module {
        final Parameter scale;
        final Buffer steps;
        final ModuleList<Linear> layers;
        final LayerNorm norm;

        Net(Generator gen) {
            scale = registerParameter("scale", Tensor.ones(1));
            steps = registerBuffer("steps", Tensor.zeros(1));
            layers = registerModule("layers", new ModuleList<>(List.of(new Linear(3, 4, true, gen),
                    new Linear(4, 2, false, gen))));
            norm = registerModule("norm", new LayerNorm(2));
        }

        Variable forward(Variable x) {
            for (Linear l : layers) {
                x = l.forward(x);
            }
            return norm.forward(x).mul(scale.variable());
        }
    }

    @Test
    void parametersAreNamedByTheirPathInRegistrationOrder() {
        Net net = new Net(new Generator(1));
        assertThat(net.namedParameters().keySet()).containsExactly("scale", "layers.0.weight", "layers.0.bias",
                "layers.1.weight", "norm.weight", "norm.bias");
        assertThat(net.namedBuffers().keySet()).containsExactly("steps");
        assertThat(net.parameterCount()).isEqualTo(1 + 12 + 4 + 8 + 2 + 2);
        assertThat(net.stateDict().keySet()).containsExactly("scale", "layers.0.weight", "layers.0.bias",
                "layers.1.weight", "norm.weight", "norm.bias", "steps");
    }

    @Test
    void aSharedParameterIsListedAndCountedOnce() {
        final class Tied extends Module {
            Tied() {
                Embedding e = registerModule("embedding", new Embedding(5, 3));
                registerParameter("outputWeight", e.weight());
            }
        }
        Tied t = new Tied();
        assertThat(t.namedParameters().keySet()).containsExactly("embedding.weight");
        assertThat(t.parameterCount()).isEqualTo(15);
    }

    @Test
    void trainAndEvalSwitchTheWholeTree() {
        Net net = new Net(new Generator(1));
        assertThat(net.modules()).allMatch(Module::isTraining);
        net.eval();
        assertThat(net.modules()).noneMatch(Module::isTraining);
        net.train();
        assertThat(net.layers.get(1).isTraining()).isTrue();
    }

    @Test
    void applyVisitsChildrenBeforeParents() {
        Net net = new Net(new Generator(1));
        List<String> order = new ArrayList<>();
        net.apply(m -> order.add(m.getClass().getSimpleName()));
        assertThat(order).containsExactly("Linear", "Linear", "ModuleList", "LayerNorm", "Net");
    }

    @Test
    void toDTypeConvertsParametersAndBuffers() {
        Net net = new Net(new Generator(1));
        Parameter before = net.layers.get(0).weight();
        double[] values = before.data().toDoubleArray();
        net.to(DType.FLOAT64);
        assertThat(net.parameters()).allMatch(p -> p.data().dtype() == DType.FLOAT64);
        assertThat(net.steps.tensor().dtype()).isEqualTo(DType.FLOAT64);
        // The layer's field is the same slot, now holding the converted leaf.
        assertThat(net.layers.get(0).weight()).isSameAs(before);
        assertThat(before.data().toDoubleArray()).containsExactly(values);
        Variable y = net.forward(Variable.constant(Tensor.ones(DType.FLOAT64, dev.ladon.tensor.Device.CPU, 2, 3)));
        assertThat(y.dtype()).isEqualTo(DType.FLOAT64);
    }

    @Test
    void loadingAStateDictReproducesTheOutputsAndCopiesTheValues() {
        Net a = new Net(new Generator(1));
        Net b = new Net(new Generator(2));
        a.steps.set(Tensor.full(7, 1));
        Variable x = Variable.constant(Tensor.randn(new Generator(3), DType.FLOAT32, dev.ladon.tensor.Device.CPU, 4, 3));
        assertThat(a.forward(x).data().allClose(b.forward(x).data(), 0, 1e-6)).isFalse();
        b.loadStateDict(a.stateDict());
        assertThat(b.forward(x).data().allClose(a.forward(x).data(), 0, 0)).isTrue();
        assertThat(b.steps.tensor().item()).isEqualTo(7.0);
        a.layers.get(0).weight().data().fillInPlace(0);
        assertThat(b.layers.get(0).weight().data().abs().sum().item()).isPositive();
    }

    @Test
    void loadStateDictNamesMissingAndUnexpectedKeysAndChangesNothing() {
        Net net = new Net(new Generator(1));
        double[] before = net.layers.get(0).weight().data().toDoubleArray();
        Map<String, Tensor> state = new LinkedHashMap<>(new Net(new Generator(2)).stateDict());
        state.remove("norm.bias");
        state.put("norm.gain", Tensor.ones(2));
        assertThatThrownBy(() -> net.loadStateDict(state)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing keys [norm.bias]").hasMessageContaining("unexpected keys [norm.gain]");
        assertThat(net.layers.get(0).weight().data().toDoubleArray()).containsExactly(before);
    }

    @Test
    void loadStateDictRejectsAShapeMismatch() {
        Net net = new Net(new Generator(1));
        Map<String, Tensor> state = new LinkedHashMap<>(net.stateDict());
        state.put("layers.1.weight", Tensor.zeros(2, 5));
        assertThatThrownBy(() -> net.loadStateDict(state)).hasMessageContaining("'layers.1.weight' has shape [2, 5]")
                .hasMessageContaining("[2, 4]");
    }

    @Test
    void moduleListGetNamesItsSizeForABadIndex() {
        assertThatThrownBy(() -> new ModuleList<Linear>().get(0)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("ModuleList.get: index 0 is out of range for a list of 0 modules");
        Linear first = new Linear(2, 2, false);
        Linear second = new Linear(2, 2, false);
        ModuleList<Linear> two = new ModuleList<>(List.of(first, second));
        assertThat(two.get(1)).isSameAs(second);
        assertThatThrownBy(() -> two.get(-1)).hasMessage("ModuleList.get: index -1 is out of range for a list of 2 "
                + "modules");
    }

    @Test
    void registrationRejectsDuplicateAndDottedNames() {
        assertThatThrownBy(() -> new Module() {
            {
                registerParameter("w", Tensor.ones(1));
                registerModule("w", new LayerNorm(2));
            }
        }).hasMessageContaining("'w' is already registered");
        assertThatThrownBy(() -> new Module() {
            {
                registerParameter("a.b", Tensor.ones(1));
            }
        }).hasMessageContaining("no dots");
    }

    @Test
    void printsATreeWithChildNamesAndHyperparameters() {
        String s = new Net(new Generator(1)).toString();
        assertThat(s).isEqualTo("""
                Net(
                  (layers): ModuleList(
                    (0): Linear(3, 4, bias=true)
                    (1): Linear(4, 2, bias=false)
                  )
                  (norm): LayerNorm(2, eps=1.0E-5)
                )""");
    }

    @Test
    void zeroGradClearsEveryGradient() {
        Net net = new Net(new Generator(1));
        net.forward(Variable.constant(Tensor.ones(2, 3))).sum().backward();
        assertThat(net.layers.get(0).weight().grad()).isNotNull();
        net.zeroGrad();
        assertThat(net.parameters()).allMatch(p -> p.grad() == null);
    }
}
