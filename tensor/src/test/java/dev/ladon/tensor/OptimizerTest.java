package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** FusedOps.adamW against a scalar AdamW (Loshchilov and Hutter, decoupled weight decay) over several steps. */
class OptimizerTest {

    /** One AdamW step on plain arrays, in double, as torch.optim.AdamW defines it. */
    static void referenceStep(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2,
            double eps, double weightDecay, long step) {
        for (int i = 0; i < p.length; i++) {
            p[i] -= lr * weightDecay * p[i];
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.pow(beta1, step));
            double vHat = v[i] / (1 - Math.pow(beta2, step));
            p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }

    @Test
    void adamWMatchesScalarReferenceOverSeveralSteps() {
        Random rng = new Random(1);
        int[] shape = {7, 33};
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (double weightDecay : new double[] {0, 0.1}) {
                Tensor param = Layout.CONTIGUOUS.random(rng, dtype, shape, -1, 1);
                Tensor m = Tensor.zeros(dtype, shape);
                Tensor v = Tensor.zeros(dtype, shape);
                double[] p = Elements.read(param);
                double[] mr = new double[p.length];
                double[] vr = new double[p.length];
                double lr = 1e-2;
                double beta1 = 0.9;
                double beta2 = 0.95;
                double eps = 1e-8;
                for (long step = 1; step <= 5; step++) {
                    // a transposed gradient: the kernel must read it through its strides
                    Tensor grad = Layout.values()[(int) step % 4].random(rng, dtype, shape, -2, 2);
                    double[] g = Elements.read(grad);
                    int version = param.version();
                    FusedOps.adamW(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
                    referenceStep(p, g, mr, vr, lr, beta1, beta2, eps, weightDecay, step);
                    assertThat(param.version()).isEqualTo(version + 1);
                    double tol = dtype == DType.FLOAT64 ? 1e-12 : 2e-6;
                    String what = "adamW " + dtype + " wd=" + weightDecay + " step " + step;
                    Elements.assertClose(what + " param", param, dtype, shape, p, tol);
                    Elements.assertClose(what + " expAvg", m, dtype, shape, mr, tol);
                    Elements.assertClose(what + " expAvgSq", v, dtype, shape, vr, tol);
                    if (dtype == DType.FLOAT32) {
                        // keep the reference on the float32 trajectory so errors do not compound
                        p = Elements.read(param);
                        mr = Elements.read(m);
                        vr = Elements.read(v);
                    }
                }
            }
        }
    }

    @Test
    void adamWSplitAcrossThreadsInChunksNotAlignedToVectorsMatchesReference() {
        Random rng = new Random(2);
        // 3 chunks of 16667 or 16666 elements: each chunk has its own vector loop and scalar tail
        int[] shape = {50001};
        ThreadCount.run(3, () -> {
            Tensor param = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, shape, -1, 1);
            Tensor m = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, shape, -0.1, 0.1);
            Tensor v = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, shape, 0, 0.01);
            Tensor grad = Layout.CONTIGUOUS.random(rng, DType.FLOAT32, shape, -2, 2);
            double[] p = Elements.read(param);
            double[] mr = Elements.read(m);
            double[] vr = Elements.read(v);
            FusedOps.adamW(param, grad, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 7);
            referenceStep(p, Elements.read(grad), mr, vr, 1e-3, 0.9, 0.999, 1e-8, 0.01, 7);
            Elements.assertClose("param", param, DType.FLOAT32, shape, p, 2e-6);
            Elements.assertClose("expAvg", m, DType.FLOAT32, shape, mr, 2e-6);
            Elements.assertClose("expAvgSq", v, DType.FLOAT32, shape, vr, 2e-6);
        });
    }

    @Test
    void adamWUpdatesAContiguousViewWithAnOffsetOnly() {
        Tensor whole = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 6);
        Tensor param = whole.narrow(0, 2, 3);
        Tensor grad = Tensor.ones(DType.FLOAT64, 3);
        FusedOps.adamW(param, grad, Tensor.zeros(DType.FLOAT64, 3), Tensor.zeros(DType.FLOAT64, 3), 0.1, 0.9, 0.999,
                1e-8, 0, 1);
        double[] after = Elements.read(whole);
        assertThat(after[0]).isEqualTo(1);
        assertThat(after[1]).isEqualTo(2);
        assertThat(after[5]).isEqualTo(6);
        // step 1 with g = 1: m_hat = v_hat = 1, so each parameter moves by lr / (1 + eps)
        for (int i = 2; i < 5; i++) {
            assertThat(after[i]).isCloseTo(i + 1 - 0.1 / (1 + 1e-8), org.assertj.core.data.Offset.offset(1e-12));
        }
    }
}
