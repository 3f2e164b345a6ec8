package dev.ladon.nn.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.Linear;
import dev.ladon.nn.MSELoss;
import dev.ladon.nn.Module;
import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** Optimizers against scalar re-implementations of their update rules, run on fixed gradient sequences. */
class OptimizerTest {
    /** A module with one parameter vector w and one bias b, to feed hand-made gradients. */
    static final class Pair extends Module {
        final Parameter w;
        final Parameter b;

        Pair(double[] w0, double[] b0) {
            w = registerParameter("w", Tensor.of(w0, 1, w0.length));
            b = registerParameter("b", Tensor.of(b0, b0.length));
        }

        /** Loss whose gradient with respect to w and b is exactly gw and gb. */
        void backward(double[] gw, double[] gb) {
            w.variable().mul(Variable.constant(Tensor.of(gw, 1, gw.length))).sum()
                    .add(b.variable().mul(Variable.constant(Tensor.of(gb, gb.length))).sum()).backward();
        }
    }

    private static final double[][] GRADS = {{0.5, -1.0, 2.0}, {-0.3, 0.2, 1.5}, {1.0, 1.0, -0.5}, {0.0, -2.0, 0.25}};
    private static final double[] W0 = {1.0, -0.5, 0.25};
    private static final double[] B0 = {0.1, 0.2, 0.3};

    /** Runs the optimizer over GRADS (same gradient for w and b) and returns w, b after the last step. */
    private static double[][] run(Function<Pair, Optimizer> make) {
        Pair m = new Pair(W0, B0);
        Optimizer opt = make.apply(m);
        for (double[] g : GRADS) {
            opt.zeroGrad();
            m.backward(g, g);
            opt.step();
        }
        return new double[][] {m.w.data().toDoubleArray(), m.b.data().toDoubleArray()};
    }

    /** Scalar SGD (PyTorch semantics) on one coordinate. */
    private static double sgdReference(double p, int coord, double lr, double momentum, boolean nesterov, double wd) {
        double buf = 0;
        for (int t = 0; t < GRADS.length; t++) {
            double g = GRADS[t][coord] + wd * p;
            if (momentum != 0) {
                buf = t == 0 ? g : momentum * buf + g;
                g = nesterov ? g + momentum * buf : buf;
            }
            p -= lr * g;
        }
        return p;
    }

    /** Scalar Adam; decoupled applies p *= 1 - lr wd, otherwise wd p is added to the gradient. */
    private static double adamReference(double p, int coord, double lr, double wd, boolean decoupled) {
        double m = 0;
        double v = 0;
        double b1 = 0.9;
        double b2 = 0.999;
        for (int t = 1; t <= GRADS.length; t++) {
            double g = GRADS[t - 1][coord] + (decoupled ? 0 : wd * p);
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double mHat = m / (1 - Math.pow(b1, t));
            double vHat = v / (1 - Math.pow(b2, t));
            if (decoupled) {
                p *= 1 - lr * wd;
            }
            p -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
        }
        return p;
    }

    @Test
    void sgdVariantsFollowTheirUpdateRules() {
        record Variant(double momentum, boolean nesterov, double wd) {
        }
        for (Variant var : List.of(new Variant(0, false, 0), new Variant(0.9, false, 0), new Variant(0.9, true, 0.1))) {
            // Weight decay only on w: decayMatricesOnly puts the 1-dim bias in a group without decay.
            double[][] got = run(m -> new SGD(ParamGroup.decayMatricesOnly(m, var.wd), 0.1, var.momentum,
                    var.nesterov));
            for (int c = 0; c < 3; c++) {
                assertThat(got[0][c]).as("%s w[%d]", var, c)
                        .isCloseTo(sgdReference(W0[c], c, 0.1, var.momentum, var.nesterov, var.wd), Offset.offset(1e-6));
                assertThat(got[1][c]).as("%s b[%d]", var, c)
                        .isCloseTo(sgdReference(B0[c], c, 0.1, var.momentum, var.nesterov, 0), Offset.offset(1e-6));
            }
        }
    }

    @Test
    void adamAndAdamWDifferOnlyInHowTheyDecay() {
        double[][] adamW = run(m -> new AdamW(ParamGroup.all(m, 0.5), 0.01));
        double[][] adam = run(m -> new Adam(ParamGroup.all(m, 0.5), 0.01));
        for (int c = 0; c < 3; c++) {
            assertThat(adamW[0][c]).isCloseTo(adamReference(W0[c], c, 0.01, 0.5, true), Offset.offset(1e-6));
            assertThat(adam[0][c]).isCloseTo(adamReference(W0[c], c, 0.01, 0.5, false), Offset.offset(1e-6));
        }
        assertThat(adam[0][0]).isNotCloseTo(adamW[0][0], Offset.offset(1e-5));
    }

    @Test
    void parametersWithoutGradientKeepTheirValueAndStepCount() {
        Pair m = new Pair(W0, B0);
        AdamW opt = new AdamW(ParamGroup.all(m, 0), 0.01);
        // Only w receives a gradient (b is not part of the loss).
        m.w.variable().sum().backward();
        opt.step();
        assertThat(m.b.data().toDoubleArray()).containsExactly(B0);
        assertThat(opt.stateDict()).containsKey("state.0.step").doesNotContainKey("state.1.step");
    }

    @Test
    void resumingFromAStateDictContinuesExactly() {
        double[][] uninterrupted = run(m -> new AdamW(ParamGroup.all(m, 0.1), 0.01));
        Pair m = new Pair(W0, B0);
        AdamW first = new AdamW(ParamGroup.all(m, 0.1), 0.01);
        for (int t = 0; t < 2; t++) {
            first.zeroGrad();
            m.backward(GRADS[t], GRADS[t]);
            first.step();
        }
        Map<String, Tensor> saved = first.stateDict();
        AdamW resumed = new AdamW(ParamGroup.all(m, 0.1), 0.5);
        resumed.loadStateDict(saved);
        assertThat(resumed.learningRate()).isEqualTo(0.01);
        for (int t = 2; t < 4; t++) {
            resumed.zeroGrad();
            m.backward(GRADS[t], GRADS[t]);
            resumed.step();
        }
        assertThat(m.w.data().toDoubleArray()).containsExactly(uninterrupted[0]);
        assertThat(m.b.data().toDoubleArray()).containsExactly(uninterrupted[1]);
    }

    @Test
    void loadStateDictRejectsForeignKeysAndShapes() {
        Pair m = new Pair(W0, B0);
        AdamW opt = new AdamW(ParamGroup.all(m, 0), 0.01);
        assertThatThrownBy(() -> opt.loadStateDict(Map.of("state.5.expAvg", Tensor.zeros(3))))
                .hasMessageContaining("unexpected key 'state.5.expAvg'");
        assertThatThrownBy(() -> opt.loadStateDict(Map.of("state.1.expAvg", Tensor.zeros(4))))
                .hasMessageContaining("has shape [4] but parameter 1 is [3]");
    }

    @Test
    void loadStateDictNamesEveryBadKeyInOneMessageAndChangesNothing() {
        Pair m = new Pair(W0, B0);
        AdamW opt = new AdamW(ParamGroup.all(m, 0), 0.01);
        m.backward(GRADS[0], GRADS[0]);
        opt.step();
        Map<String, Tensor> before = Map.copyOf(opt.stateDict());
        Map<String, Tensor> bad = Map.of("state.0.expAvg", Tensor.ones(1, 2), "state.0.bogus", Tensor.ones(1, 3),
                "state.7.step", Tensor.scalar(1, DType.INT64, Device.CPU), "lr", Tensor.scalar(0.5, DType.FLOAT64,
                        Device.CPU));
        assertThatThrownBy(() -> opt.loadStateDict(bad)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("AdamW.loadStateDict: unexpected key 'state.0.bogus'; 'state.0.expAvg' has shape [1, 2] but "
                        + "parameter 0 is [1, 3]; unexpected key 'state.7.step'; parameter 0 has expAvg but not "
                        + "expAvgSq, step (AdamW has 2 parameters and keeps expAvg, expAvgSq, step for each)");
        assertThat(opt.learningRate()).isEqualTo(0.01);
        assertThat(opt.stateDict()).hasSize(before.size());
        for (String key : List.of("state.0.expAvg", "state.0.expAvgSq", "state.0.step", "state.1.expAvg")) {
            assertThat(opt.stateDict().get(key)).as(key).isSameAs(before.get(key));
        }
    }

    @Test
    void loadStateDictRefusesAParameterWithPartOfItsState() {
        Pair m = new Pair(W0, B0);
        AdamW opt = new AdamW(ParamGroup.all(m, 0), 0.01);
        // Accepted, this would leave step() without a second moment to update.
        assertThatThrownBy(() -> opt.loadStateDict(Map.of("state.0.expAvg", Tensor.ones(1, 3))))
                .hasMessageContaining("parameter 0 has expAvg but not expAvgSq, step");
        m.backward(GRADS[0], GRADS[0]);
        opt.step();
        assertThat(opt.stateDict()).containsKeys("state.0.expAvg", "state.0.expAvgSq", "state.0.step");
    }

    @Test
    void loadStateDictRefusesStateOfTheWrongKind() {
        Pair m = new Pair(W0, B0);
        AdamW adamW = new AdamW(ParamGroup.all(m, 0), 0.01);
        Map<String, Tensor> wrongDtypes = Map.of("state.1.expAvg", Tensor.zeros(DType.INT64, Device.CPU, 3),
                "state.1.expAvgSq", Tensor.zeros(3), "state.1.step", Tensor.scalar(2.0, DType.FLOAT32, Device.CPU));
        assertThatThrownBy(() -> adamW.loadStateDict(wrongDtypes))
                .hasMessageContaining("'state.1.expAvg' is int64, not a floating dtype like parameter 1's (float64)")
                .hasMessageContaining("'state.1.step' is a float32 tensor of shape [] but a step count is an integer "
                        + "scalar");
        // SGD keeps a momentum buffer only with momentum.
        SGD plain = new SGD(ParamGroup.all(m, 0), 0.1);
        assertThatThrownBy(() -> plain.loadStateDict(Map.of("state.0.momentum", Tensor.zeros(1, 3))))
                .hasMessage("SGD.loadStateDict: unexpected key 'state.0.momentum' (SGD has 2 parameters and keeps no "
                        + "state)");
        SGD withMomentum = new SGD(ParamGroup.all(m, 0), 0.1, 0.9, false);
        // A floating buffer is converted to its parameter's dtype, as Module.loadStateDict converts parameters.
        withMomentum.loadStateDict(Map.of("state.0.momentum", Tensor.ones(DType.FLOAT32, Device.CPU, 1, 3)));
        assertThat(withMomentum.stateDict().get("state.0.momentum").dtype()).isEqualTo(DType.FLOAT64);
    }

    @Test
    void anOptimizerWithoutParametersIsRejected() {
        assertThatThrownBy(() -> new SGD(List.of(new ParamGroup(List.of(), 0)), 0.1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("SGD: got an empty parameter list (its 1 group(s) hold no parameter)");
    }

    @Test
    void aParameterInTwoGroupsIsRejected() {
        Pair m = new Pair(W0, B0);
        assertThatThrownBy(() -> new SGD(List.of(new ParamGroup(List.of(m.w), 0), new ParamGroup(List.of(m.w), 0)), 0.1))
                .hasMessageContaining("appears in more than one group");
    }

    @Test
    void clippingScalesAllGradientsToTheMaximumGlobalNorm() {
        Pair m = new Pair(W0, B0);
        m.backward(new double[] {3, 0, 0}, new double[] {0, 4, 0});
        double norm = GradientClipping.clipByGlobalNorm(m.parameters(), 1.0);
        assertThat(norm).isCloseTo(5.0, Offset.offset(1e-6));
        assertThat(m.w.grad().get(0, 0)).isCloseTo(0.6, Offset.offset(1e-6));
        assertThat(m.b.grad().get(1)).isCloseTo(0.8, Offset.offset(1e-6));
        double again = GradientClipping.clipByGlobalNorm(m.parameters(), 10.0);
        assertThat(again).isCloseTo(1.0, Offset.offset(1e-5));
        assertThat(m.b.grad().get(1)).isCloseTo(0.8, Offset.offset(1e-6));
    }

    @Test
    void schedulesWarmUpThenDecayAlongACosine() {
        LearningRateSchedule s = LearningRateSchedule.cosine(1.0, 4, 100, 0.1);
        assertThat(s.at(0)).isEqualTo(0.25);
        assertThat(s.at(3)).isEqualTo(1.0);
        assertThat(s.at(4)).isEqualTo(1.0);
        assertThat(s.at(54)).isCloseTo(0.55, Offset.offset(1e-12));
        assertThat(s.at(104)).isEqualTo(0.1);
        assertThat(s.at(1000)).isEqualTo(0.1);
        assertThat(LearningRateSchedule.linearWarmup(2.0, 2).at(0)).isEqualTo(1.0);
        assertThat(LearningRateSchedule.linearWarmup(2.0, 2).at(50)).isEqualTo(2.0);
        assertThat(LearningRateSchedule.constant(0.3).at(7)).isEqualTo(0.3);
    }

    @Test
    void accumulatingHalfBatchGradientsEqualsTheFullBatchGradient() {
        Tensor x = Tensor.randn(new Generator(1), DType.FLOAT64, Device.CPU, 8, 3);
        Tensor y = Tensor.randn(new Generator(2), DType.FLOAT64, Device.CPU, 8, 2);
        Linear full = new Linear(3, 2, true, new Generator(3));
        full.to(DType.FLOAT64);
        Linear accumulated = new Linear(3, 2, true, new Generator(3));
        accumulated.to(DType.FLOAT64);
        MSELoss mse = new MSELoss();
        mse.forward(full.forward(Variable.constant(x)), Variable.constant(y)).backward();
        for (int half = 0; half < 2; half++) {
            Variable xs = Variable.constant(x.narrow(0, 4 * half, 4));
            Variable ys = Variable.constant(y.narrow(0, 4 * half, 4));
            // Each micro-batch's mean loss is divided by the number of micro-batches.
            mse.forward(accumulated.forward(xs), ys).div(2.0).backward();
        }
        assertThat(accumulated.weight().grad().allClose(full.weight().grad(), 0, 1e-12)).isTrue();
        assertThat(accumulated.bias().grad().allClose(full.bias().grad(), 0, 1e-12)).isTrue();
    }
}
