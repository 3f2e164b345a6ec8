package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Each layer against plain loops written here. */
class LayersTest {
    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), DType.FLOAT64, Device.CPU, shape);
    }

    private static void assertClose(double[] actual, double[] expected, double tol) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < actual.length; i++) {
            assertThat(actual[i]).as("element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol));
        }
    }

    @Test
    void linearComputesXTimesWeightTransposedPlusBiasOverLeadingDims() {
        Linear linear = new Linear(3, 2, true, new Generator(1));
        linear.to(DType.FLOAT64);
        Tensor x = randn(2, 2, 4, 3);
        double[] w = linear.weight().data().toDoubleArray();
        double[] b = linear.bias().data().toDoubleArray();
        double[] xs = x.toDoubleArray();
        double[] expected = new double[8 * 2];
        for (int r = 0; r < 8; r++) {
            for (int o = 0; o < 2; o++) {
                double s = b[o];
                for (int i = 0; i < 3; i++) {
                    s += xs[r * 3 + i] * w[o * 3 + i];
                }
                expected[r * 2 + o] = s;
            }
        }
        Variable y = linear.forward(Variable.constant(x));
        assertThat(y.shape()).containsExactly(2, 4, 2);
        assertClose(y.data().toDoubleArray(), expected, 1e-12);
        // dL/dW = sum over rows of dy^T x with L = sum(y): every row of dW is the column sum of x.
        y.sum().backward();
        double[] dw = linear.weight().grad().toDoubleArray();
        for (int o = 0; o < 2; o++) {
            for (int i = 0; i < 3; i++) {
                double colSum = 0;
                for (int r = 0; r < 8; r++) {
                    colSum += xs[r * 3 + i];
                }
                assertThat(dw[o * 3 + i]).isCloseTo(colSum, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
        assertClose(linear.bias().grad().toDoubleArray(), new double[] {8, 8}, 1e-12);
    }

    @Test
    void linearDefaultInitStaysWithinOneOverSqrtFanIn() {
        Linear linear = new Linear(64, 32, true, new Generator(5));
        double bound = 1 / Math.sqrt(64);
        assertThat(linear.weight().data().abs().max().item()).isLessThanOrEqualTo(bound);
        assertThat(linear.weight().data().abs().max().item()).isGreaterThan(0.9 * bound);
        assertThat(linear.bias().data().abs().max().item()).isLessThanOrEqualTo(bound);
    }

    @Test
    void linearRejectsAWrongInputWidth() {
        Linear linear = new Linear(3, 2, false);
        assertThatThrownBy(() -> linear.forward(Variable.constant(Tensor.ones(2, 4))))
                .hasMessageContaining("Linear.forward: expected input [..., 3], got [2, 4]");
    }

    @Test
    void embeddingLooksUpRowsAndAccumulatesGradientsOfRepeatedIds() {
        Embedding e = new Embedding(4, 3, new Generator(1));
        Tensor ids = Tensor.of(new long[] {2, 0, 2}, 1, 3);
        Variable y = e.forward(ids);
        assertThat(y.shape()).containsExactly(1, 3, 3);
        assertThat(y.data().select(0, 0).select(0, 0).allClose(e.weight().data().select(0, 2), 0, 0)).isTrue();
        y.sum().backward();
        assertClose(e.weight().grad().select(0, 2).toDoubleArray(), new double[] {2, 2, 2}, 0);
        assertClose(e.weight().grad().select(0, 1).toDoubleArray(), new double[] {0, 0, 0}, 0);
    }

    @Test
    void anEmbeddingIdOutOfRangeIsNamedWithTheTablesRows() {
        Embedding e = new Embedding(4, 2);
        assertThatThrownBy(() -> e.forward(Tensor.of(new long[] {1, 4}, 2)))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageStartingWith("Embedding.forward: ids [2] hold an id outside the table's 4 rows [0, 4): ")
                .hasMessageContaining("index 4 is out of range");
        assertThatThrownBy(() -> e.forward(Tensor.of(new long[] {-1}, 1, 1)))
                .hasMessageStartingWith("Embedding.forward: ids [1, 1] hold an id outside the table's 4 rows");
    }

    @Test
    void layerNormAndRmsNormMatchTheirFormulas() {
        Tensor x = randn(3, 5, 6);
        LayerNorm ln = new LayerNorm(6);
        ln.to(DType.FLOAT64);
        Init.normal(ln.namedParameters().get("weight"), 1, new Generator(4));
        Init.normal(ln.namedParameters().get("bias"), 1, new Generator(5));
        RMSNorm rms = new RMSNorm(6, 1e-6);
        rms.to(DType.FLOAT64);
        Init.normal(rms.namedParameters().get("weight"), 1, new Generator(6));
        double[] xs = x.toDoubleArray();
        double[] w = ln.namedParameters().get("weight").data().toDoubleArray();
        double[] b = ln.namedParameters().get("bias").data().toDoubleArray();
        double[] g = rms.namedParameters().get("weight").data().toDoubleArray();
        double[] expectedLn = new double[30];
        double[] expectedRms = new double[30];
        for (int r = 0; r < 5; r++) {
            double mean = 0;
            double sq = 0;
            for (int c = 0; c < 6; c++) {
                mean += xs[r * 6 + c] / 6;
                sq += xs[r * 6 + c] * xs[r * 6 + c] / 6;
            }
            double var = 0;
            for (int c = 0; c < 6; c++) {
                var += (xs[r * 6 + c] - mean) * (xs[r * 6 + c] - mean) / 6;
            }
            for (int c = 0; c < 6; c++) {
                expectedLn[r * 6 + c] = (xs[r * 6 + c] - mean) / Math.sqrt(var + 1e-5) * w[c] + b[c];
                expectedRms[r * 6 + c] = xs[r * 6 + c] / Math.sqrt(sq + 1e-6) * g[c];
            }
        }
        assertClose(ln.forward(Variable.constant(x)).data().toDoubleArray(), expectedLn, 1e-12);
        assertClose(rms.forward(Variable.constant(x)).data().toDoubleArray(), expectedRms, 1e-12);
    }

    @Test
    void dropoutZeroesAboutPAndRescalesTheRestInTrainingOnly() {
        Dropout dropout = new Dropout(0.25, new Generator(9));
        Variable x = Variable.constant(Tensor.ones(100, 100));
        double[] y = dropout.forward(x).data().toDoubleArray();
        int zeros = 0;
        for (double v : y) {
            if (v == 0) {
                zeros++;
            } else {
                assertThat(v).isCloseTo(1 / 0.75, org.assertj.core.data.Offset.offset(1e-6));
            }
        }
        assertThat(zeros / 10000.0).isBetween(0.22, 0.28);
        dropout.eval();
        assertThat(dropout.forward(x)).isSameAs(x);
    }

    @Test
    void dropoutMasksRepeatFromTheSameSeed() {
        Variable x = Variable.constant(Tensor.ones(8, 8));
        Tensor a = new Dropout(0.5, new Generator(3)).forward(x).data();
        Tensor b = new Dropout(0.5, new Generator(3)).forward(x).data();
        Tensor c = new Dropout(0.5, new Generator(4)).forward(x).data();
        assertThat(a.allClose(b, 0, 0)).isTrue();
        assertThat(a.allClose(c, 0, 0)).isFalse();
    }

    @Test
    void feedForwardIsW2ActOfW1XPlusB1PlusB2() {
        for (FeedForward.Activation act : FeedForward.Activation.values()) {
            FeedForward ff = new FeedForward(3, 5, act, 0.0);
            ff.to(DType.FLOAT64);
            Tensor x = randn(8, 2, 3);
            Tensor h = x.matmul(ff.up().weight().data().mT()).add(ff.up().bias().data());
            h = act == FeedForward.Activation.RELU ? h.relu() : h.gelu();
            Tensor expected = h.matmul(ff.down().weight().data().mT()).add(ff.down().bias().data());
            assertClose(ff.forward(Variable.constant(x)).data().toDoubleArray(), expected.toDoubleArray(), 1e-12);
        }
    }

    @Test
    void feedForwardRejectsANullActivation() {
        assertThatThrownBy(() -> new FeedForward(4, 4, null, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("FeedForward: activation must not be null (RELU or GELU)");
    }

    @Test
    void reluFeedForwardIsOneNodeUnlessDropoutIsActive() {
        // With ReLU and no active dropout the layer is one reluFeedForward node; with dropout in training it is
        // the two linear layers around the dropout, and in evaluation the one node again, with the same values.
        FeedForward ff = new FeedForward(3, 5, FeedForward.Activation.RELU, 0.5);
        ff.to(DType.FLOAT64);
        Variable x = Variable.parameter(randn(8, 2, 3));
        ff.train();
        Variable training = ff.forward(x);
        assertThat(training.gradFnName()).isEqualTo("linear");
        training.sum().backward();
        assertThat(x.grad()).isNotNull();
        ff.eval();
        Variable evaluation = ff.forward(x);
        assertThat(evaluation.gradFnName()).isEqualTo("reluFeedForward");
        Tensor h = x.data().matmul(ff.up().weight().data().mT()).add(ff.up().bias().data()).relu();
        Tensor expected = h.matmul(ff.down().weight().data().mT()).add(ff.down().bias().data());
        assertClose(evaluation.data().toDoubleArray(), expected.toDoubleArray(), 1e-12);
        assertThat(training.data().allClose(evaluation.data(), 0, 1e-9)).isFalse();
    }

    @Test
    void initialisersDrawWithTheRequestedSpread() {
        Generator gen = new Generator(11);
        Linear big = new Linear(200, 300, false, gen);
        Parameter w = big.weight();
        Init.truncatedNormal(w, 0.05, gen);
        double[] v = w.data().toDoubleArray();
        double mean = 0;
        double sq = 0;
        double maxAbs = 0;
        for (double x : v) {
            mean += x / v.length;
            sq += x * x / v.length;
            maxAbs = Math.max(maxAbs, Math.abs(x));
        }
        assertThat(Math.sqrt(sq - mean * mean)).isCloseTo(0.05, org.assertj.core.data.Offset.offset(0.001));
        // Truncated at 2 standard deviations of the underlying normal, which was rescaled by 1 / 0.8796.
        assertThat(maxAbs).isLessThanOrEqualTo(2 * 0.05 / 0.8796256610342398 + 1e-7);
        Init.xavierUniform(w, 1.0, gen);
        assertThat(w.data().abs().max().item()).isLessThanOrEqualTo(Math.sqrt(6.0 / 500) + 1e-7);
        Init.kaimingNormal(w, 0, gen);
        double std = Math.sqrt(w.data().square().mean().item());
        assertThat(std).isCloseTo(Math.sqrt(2.0 / 200), org.assertj.core.data.Offset.offset(0.003));
        assertThat(Init.fanIn(w)).isEqualTo(200);
        assertThat(Init.fanOut(w)).isEqualTo(300);
        assertThat(Init.residualScale(8)).isEqualTo(0.5);
    }

    @Test
    void truncationStdConstantMatchesItsDefinition() {
        // Var of N(0,1) truncated to [-2, 2] = 1 - 2 * 2 phi(2) / (Phi(2) - Phi(-2)); integrate numerically.
        double mass = 0;
        double second = 0;
        int n = 400000;
        for (int i = 0; i < n; i++) {
            double x = -2 + 4 * (i + 0.5) / n;
            double density = Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) * 4.0 / n;
            mass += density;
            second += x * x * density;
        }
        assertThat(Math.sqrt(second / mass)).isCloseTo(0.8796256610342398, org.assertj.core.data.Offset.offset(1e-9));
    }
}
