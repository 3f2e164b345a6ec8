package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EngineTest {
    private static Variable scalar(double v) {
        return Variable.parameter(Tensor.scalar(v, DType.FLOAT64, Device.CPU));
    }

    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), DType.FLOAT64, Device.CPU, shape);
    }

    @Test
    void handCheckedTinyGraph() {
        // a = x*y = 6, b = a + x = 8, c = b^2 = 64.
        // dc/db = 2b = 16; dc/da = 16; dc/dx = dc/da * y + dc/db * 1 = 16*3 + 16 = 64; dc/dy = dc/da * x = 32.
        Variable x = scalar(2);
        Variable y = scalar(3);
        Variable c = x.mul(y).add(x).square();
        assertThat(c.item()).isEqualTo(64.0);
        c.backward();
        assertThat(x.grad().item()).isEqualTo(64.0);
        assertThat(y.grad().item()).isEqualTo(32.0);
        assertThat(c.gradFnName()).isEqualTo("square");
    }

    @Test
    void handCheckedVectorGraph() {
        // L = sum(w * x) / 2 + mean(x): dL/dx_i = w_i / 2 + 1/3, dL/dw_i = x_i / 2.
        Variable x = Variable.parameter(Tensor.of(new double[] {1, -2, 4}, 3));
        Variable w = Variable.parameter(Tensor.of(new double[] {0.5, 3, -1}, 3));
        Variable loss = w.mul(x).sum().div(2).add(x.mean());
        assertThat(loss.item()).isCloseTo((0.5 - 6 - 4) / 2.0 + 1.0, within(1e-15));
        loss.backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(new double[] {0.25 + 1 / 3.0, 1.5 + 1 / 3.0, -0.5 + 1 / 3.0},
                within(1e-15));
        assertThat(w.grad().toDoubleArray()).containsExactly(new double[] {0.5, -1, 2}, within(1e-15));
    }

    @Test
    void diamondSumsBothPathsAndRunsEachNodeOnce() {
        // a = exp(x) feeds b = 2a and c = 3a; d = b + c = 5 exp(x): dd/dx = 5 exp(x).
        Variable x = scalar(0.7);
        Variable a = x.exp();
        List<Double> seenByA = new ArrayList<>();
        a.registerHook(g -> {
            seenByA.add(g.item());
            return null;
        });
        Variable d = a.mul(2).add(a.mul(3));
        d.backward();
        assertThat(x.grad().item()).isCloseTo(5 * Math.exp(0.7), within(1e-12));
        // The hook ran once, with the summed gradient of both paths.
        assertThat(seenByA).containsExactly(5.0);
    }

    @Test
    void valueUsedTwiceInOneOp() {
        Variable x = Variable.parameter(Tensor.of(new double[] {1.5, -2}, 2));
        x.mul(x).sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(3, -4);
    }

    @Test
    void broadcastGradientsAreSummedBackToEachInputShape() {
        Tensor ad = randn(1, 2, 3);
        Tensor bd = randn(2, 3);
        Tensor cd = randn(3, 3, 2, 1);
        Variable a = Variable.parameter(ad);
        Variable b = Variable.parameter(bd);
        Variable c = Variable.parameter(cd);
        // out[i][j][k] = a[j][k] * b[k] + c[i][j]: shape [3, 2, 3].
        Variable out = a.mul(b).add(c);
        assertThat(out.shape()).containsExactly(3, 2, 3);
        out.sum().backward();
        assertThat(a.grad().shape()).containsExactly(2, 3);
        assertThat(b.grad().shape()).containsExactly(3);
        assertThat(c.grad().shape()).containsExactly(3, 2, 1);
        // Reference: each a[j][k] is used 3 times (for each i), each b[k] 3*2 times, each c[i][j] 3 times (k).
        double[] av = ad.toDoubleArray();
        double[] bv = bd.toDoubleArray();
        double[] expectA = new double[6];
        double[] expectB = new double[3];
        for (int j = 0; j < 2; j++) {
            for (int k = 0; k < 3; k++) {
                expectA[j * 3 + k] = 3 * bv[k];
                expectB[k] += 3 * av[j * 3 + k];
            }
        }
        assertThat(a.grad().toDoubleArray()).containsExactly(expectA, within(1e-12));
        assertThat(b.grad().toDoubleArray()).containsExactly(expectB, within(1e-12));
        assertThat(c.grad().toDoubleArray()).containsOnly(3.0);
    }

    @Test
    void viewsOfViewsRouteEachGradientToItsSourceElement() {
        Tensor data = randn(2, 2, 3, 4);
        Variable x = Variable.parameter(data);
        Tensor w = randn(3, 4);
        // [2,3,4] -> permute [4,2,3] -> reshape [4,6] -> narrow cols 1..4 -> transpose [4,4] -> select row 2 -> [4]
        Variable picked = x.permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4).transpose(0, 1).select(0, 2);
        picked.mul(Variable.constant(w)).sum().backward();
        // Reference: run the same view chain on the flat indices 0..23 to learn which element each output is.
        Tensor ids = Tensor.arange(24).reshape(2, 3, 4).permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4).transpose(0, 1)
                .select(0, 2);
        double[] expected = new double[24];
        long[] where = ids.toLongArray();
        double[] wv = w.toDoubleArray();
        for (int i = 0; i < where.length; i++) {
            expected[(int) where[i]] += wv[i];
        }
        assertThat(x.grad().toDoubleArray()).containsExactly(expected, within(0.0));
    }

    @Test
    void accumulatesAcrossBackwardsUntilZeroGrad() {
        Variable x = scalar(3);
        x.square().backward();
        x.square().backward();
        assertThat(x.grad().item()).isEqualTo(12.0);
        x.zeroGrad();
        assertThat(x.grad()).isNull();
        x.mul(5).backward();
        assertThat(x.grad().item()).isEqualTo(5.0);
    }

    @Test
    void noGradRecordsNothingAndScopesNest() {
        Variable x = scalar(1);
        try (var ng = GradMode.noGrad()) {
            assertThat(x.mul(2).requiresGrad()).isFalse();
            try (var eg = GradMode.enableGrad()) {
                assertThat(x.mul(2).requiresGrad()).isTrue();
            }
            assertThat(GradMode.isEnabled()).isFalse();
        }
        assertThat(GradMode.isEnabled()).isTrue();
        assertThat(x.mul(2).requiresGrad()).isTrue();
    }

    @Test
    void detachStopsTheGradient() {
        Variable x = scalar(2);
        // y = x * detach(x): only the first factor is differentiated, so dy/dx = detach(x) = 2.
        Variable y = x.mul(x.detach());
        y.backward();
        assertThat(x.grad().item()).isEqualTo(2.0);
        assertThat(x.detach().requiresGrad()).isFalse();
        assertThat(x.detach().data()).isSameAs(x.data());
    }

    @Test
    void hooksSeeAndReplaceGradients() {
        Variable x = scalar(2);
        Variable y = x.mul(3);
        HookHandle doubling = y.registerHook(g -> g.mul(2));
        List<Double> leafSaw = new ArrayList<>();
        x.registerHook(g -> {
            leafSaw.add(g.item());
            return null;
        });
        y.mul(4).backward();
        // dy/dx = 3; gradient reaching y is 4, doubled by the hook to 8, so x sees 24.
        assertThat(leafSaw).containsExactly(24.0);
        assertThat(x.grad().item()).isEqualTo(24.0);
        doubling.remove();
        x.zeroGrad();
        y = x.mul(3);
        y.mul(4).backward();
        assertThat(x.grad().item()).isEqualTo(12.0);
    }

    @Test
    void retainGraphAllowsASecondBackward() {
        Variable x = scalar(2);
        Variable y = x.exp().mul(x);
        y.backward(Tensor.ones(DType.FLOAT64, Device.CPU), true);
        y.backward(Tensor.ones(DType.FLOAT64, Device.CPU), false);
        // d(x e^x) = (1 + x) e^x, twice.
        assertThat(x.grad().item()).isCloseTo(2 * 3 * Math.exp(2), within(1e-12));
    }

    @Test
    void backwardTwiceWithoutRetainIsAnErrorNamingTheOp() {
        Variable x = scalar(2);
        Variable y = x.exp();
        y.backward();
        assertThatThrownBy(y::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("exp")
                .hasMessageContaining("retainGraph");
    }

    @Test
    void backwardOfNonScalarNeedsAGradient() {
        Variable x = Variable.parameter(randn(3, 2, 3));
        Variable y = x.mul(2);
        assertThatThrownBy(y::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("[2, 3]")
                .hasMessageContaining("backward(Tensor gradOutput)");
        assertThatThrownBy(() -> y.backward(Tensor.ones(DType.FLOAT64, Device.CPU, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3]");
        y.backward(Tensor.full(0.5, DType.FLOAT64, Device.CPU, 2, 3));
        assertThat(x.grad().toDoubleArray()).containsOnly(1.0);
    }

    @Test
    void gradOfSomethingThatDoesNotRequireItIsAnError() {
        Variable c = Variable.constant(randn(4, 2));
        assertThatThrownBy(c::grad).isInstanceOf(IllegalStateException.class).hasMessageContaining("does not require grad");
        assertThatThrownBy(() -> c.sum().backward()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("does not require grad");
        Variable x = Variable.parameter(randn(5, 2));
        Variable y = x.exp();
        assertThatThrownBy(y::grad).isInstanceOf(IllegalStateException.class).hasMessageContaining("intermediate");
        assertThatThrownBy(() -> Autograd.grad(y.sum(), List.of(x, c))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("input 1");
        assertThatThrownBy(() -> Variable.parameter(Tensor.arange(3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("int64");
    }

    @Test
    void inPlaceChangeOfASavedInputFailsNamingTheOp() {
        Variable x = Variable.parameter(randn(6, 3));
        Variable w = Variable.parameter(randn(7, 3));
        Variable y = x.mul(w).sum();
        w.data().mulInPlace(2.0);
        assertThatThrownBy(y::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("backward of mul")
                .hasMessageContaining("in-place").hasMessageContaining("version 1").hasMessageContaining("version 0");
    }

    @Test
    void inPlaceChangeOfASavedOutputFailsNamingTheOp() {
        Variable x = Variable.parameter(randn(8, 3));
        Variable y = x.exp();
        Variable loss = y.sum();
        y.data().addInPlace(Tensor.ones(DType.FLOAT64, Device.CPU, 3));
        assertThatThrownBy(loss::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("exp");
    }

    @Test
    void anAdamWStepOnASavedParameterFailsBackwardNamingTheOp() {
        Variable x = Variable.parameter(randn(13, 2, 3));
        Variable w = Variable.parameter(randn(14, 3, 2));
        Variable loss = x.matmul(w).sum();
        Tensor zeros = Tensor.zeros(DType.FLOAT64, Device.CPU, 3, 2);
        dev.ladon.tensor.FusedOps.adamW(w.data(), zeros, zeros.copy(), zeros.copy(), 0.1, 0.9, 0.999, 1e-8, 0.01, 1);
        assertThatThrownBy(loss::backward).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("backward of matmul").hasMessageContaining("in-place");
    }

    @Test
    void reluInPlaceGivesReluAndItsGradientAndRefusesWhereTheOldValuesWereSaved() {
        Variable x0 = Variable.parameter(randn(15, 4, 5));
        x0.mul(2.0).relu().mul(x0).sum().backward();
        Variable x = Variable.parameter(randn(15, 4, 5));
        Variable h = x.mul(2.0);
        Variable r = h.reluInPlace();
        assertThat(r.data().toDoubleArray()).containsExactly(x.data().mul(2.0).relu().toDoubleArray());
        assertThat(h.data().toDoubleArray()).as("h holds the new values too").containsExactly(r.data().toDoubleArray());
        r.mul(x).sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(x0.grad().toDoubleArray());

        // As PyTorch's relu_: the changed variable itself now carries the ReLU, so a later use of it (not
        // only of the returned value) gets the ReLU's gradient: 2 where 2 w > 0, else 0.
        Variable w = Variable.parameter(Tensor.of(new float[] {-1, 2, -3, 4}, 4));
        Variable hw = w.mul(2.0);
        assertThat(hw.reluInPlace()).isSameAs(hw);
        hw.sum().backward();
        assertThat(w.grad().toDoubleArray()).containsExactly(0, 2, 0, 2);

        // exp saves its output h; overwriting it in place must stop the backward, naming exp.
        Variable y = Variable.parameter(randn(16, 3)).exp();
        Variable loss = y.sum().add(y.reluInPlace().sum());
        assertThatThrownBy(loss::backward).isInstanceOf(IllegalStateException.class).hasMessageContaining("exp")
                .hasMessageContaining("in-place");
        assertThatThrownBy(() -> Variable.parameter(randn(17, 3)).reluInPlace())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("leaf");
        // Nor through a view of such a leaf, which would change the parameter behind the optimizer's back.
        Variable leaf = Variable.parameter(Tensor.of(new float[] {-1, 2, -3}, 3));
        assertThatThrownBy(() -> leaf.narrow(0, 0, 2).reluInPlace()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("view of a leaf");
        assertThatThrownBy(() -> leaf.view(3, 1).permute(1, 0).reluInPlace()).hasMessageContaining("view of a leaf");
        assertThat(leaf.data().toDoubleArray()).containsExactly(-1, 2, -3);
    }

    @Test
    void maxAndMinSendTheGradientToTheExtremeSplittingTiesAndToNaNWhereNaNWins() {
        Variable x = Variable.parameter(Tensor.of(new float[] {1, 5, 5, 2}, 4));
        x.max().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(0, 0.5, 0.5, 0);
        Variable y = Variable.parameter(Tensor.of(new float[] {1, Float.NaN, 3, 0}, 4));
        y.max().backward();
        assertThat(y.grad().toDoubleArray()).as("NaN is the max").containsExactly(0, 1, 0, 0);
        Variable z = Variable.parameter(Tensor.of(new float[] {1, Float.NaN, 3, 0, 2, 7}, 2, 3));
        z.min(1, false).sum().backward();
        assertThat(z.grad().toDoubleArray()).as("row 0's min is NaN, row 1's is 0").containsExactly(0, 1, 0, 1, 0, 0);
    }

    @Test
    void inPlaceChangeOfATensorNobodySavedIsFine() {
        // add saves nothing, so changing its inputs afterwards does not affect its gradient.
        Variable x = Variable.parameter(randn(9, 3));
        Variable b = Variable.parameter(randn(10, 3));
        Variable y = x.add(b).sum();
        b.data().fillInPlace(0);
        y.backward();
        assertThat(x.grad().toDoubleArray()).containsOnly(1.0);
    }

    @Test
    void leafGradientIsAPrivateCopy() {
        // The same gradient tensor flows to both leaves of an add; each must own its grad.
        Variable a = Variable.parameter(randn(11, 2));
        Variable b = Variable.parameter(randn(12, 2));
        a.add(b).sum().backward();
        a.grad().mulInPlace(5.0);
        assertThat(b.grad().toDoubleArray()).containsOnly(1.0);
    }

    @Test
    void autogradGradReturnsGradientsWithoutTouchingLeaves() {
        Variable x = Variable.parameter(Tensor.of(new double[] {1, 2, 3}, 3));
        Variable mid = x.square();
        Variable y = mid.sum();
        List<Tensor> g = Autograd.grad(y, List.of(x));
        assertThat(g.get(0).toDoubleArray()).containsExactly(2, 4, 6);
        assertThat(x.grad()).isNull();
        // Gradient with respect to an intermediate value.
        Variable y2 = x.square().mul(3).sum();
        assertThat(Autograd.grad(y2, List.of(x)).get(0).toDoubleArray()).containsExactly(6, 12, 18);
        Variable m = x.square();
        Variable z = m.mul(3).sum();
        assertThat(Autograd.grad(z, List.of(m)).get(0).toDoubleArray()).containsExactly(3, 3, 3);
    }

    @Test
    void deepChainsDoNotOverflowTheStack() {
        Variable x = scalar(1);
        Variable y = x;
        for (int i = 0; i < 20_000; i++) {
            y = y.mul(1.0);
        }
        y.backward();
        assertThat(x.grad().item()).isEqualTo(1.0);
    }
}
