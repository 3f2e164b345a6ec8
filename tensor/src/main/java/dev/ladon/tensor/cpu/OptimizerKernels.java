package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fused AdamW update: one pass over param, grad and both moments instead of a dozen tensor ops. float32
 * runs in float vectors (the bias corrections folded into two scalars), float64 in plain double loops.
 */
final class OptimizerKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;

    private OptimizerKernels() {
    }

    static void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps,
            double weightDecay, long step) {
        Tensor g = grad.contiguous();
        double c1 = 1 - Math.pow(beta1, step);
        double c2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / c1;
        double sqrtC2 = Math.sqrt(c2);
        double decay = 1 - lr * weightDecay;
        int po = param.offset();
        int go = g.offset();
        int mo = m.offset();
        int vo = v.offset();
        if (param.dtype() == DType.FLOAT32) {
            float[] p = ElementwiseKernels.floats(param);
            float[] gr = ElementwiseKernels.floats(g);
            float[] ma = ElementwiseKernels.floats(m);
            float[] va = ElementwiseKernels.floats(v);
            Parallel.forRange(param.numel(), 1 << 14, (i0, i1) -> adamWFloat(p, po, gr, go, ma, mo, va, vo, i0, i1,
                    (float) beta1, (float) (1 - beta1), (float) beta2, (float) (1 - beta2), (float) eps, (float) decay,
                    (float) stepSize, (float) (1 / sqrtC2)));
            return;
        }
        CpuStorage p = ElementwiseKernels.storage(param);
        CpuStorage gr = ElementwiseKernels.storage(g);
        CpuStorage ma = ElementwiseKernels.storage(m);
        CpuStorage va = ElementwiseKernels.storage(v);
        for (int i = 0; i < param.numel(); i++) {
            double gi = gr.getDouble(go + i);
            double mi = beta1 * ma.getDouble(mo + i) + (1 - beta1) * gi;
            double vi = beta2 * va.getDouble(vo + i) + (1 - beta2) * gi * gi;
            ma.setDouble(mo + i, mi);
            va.setDouble(vo + i, vi);
            p.setDouble(po + i, p.getDouble(po + i) * decay - stepSize * mi / (Math.sqrt(vi) / sqrtC2 + eps));
        }
    }

    /**
     * Elements [i0, i1) of a float32 AdamW step: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
     * p = p decay - stepSize m / (sqrt(v) / sqrt(c2) + eps), with stepSize = lr / c1.
     */
    private static void adamWFloat(float[] p, int po, float[] g, int go, float[] m, int mo, float[] v, int vo, int i0,
            int i1, float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps, float decay,
            float stepSize, float invSqrtC2) {
        int i = i0;
        for (int bound = i0 + F.loopBound(i1 - i0); i < bound; i += F.length()) {
            FloatVector gi = FloatVector.fromArray(F, g, go + i);
            FloatVector mi = FloatVector.fromArray(F, m, mo + i).mul(beta1).add(gi.mul(oneMinusBeta1));
            FloatVector vi = FloatVector.fromArray(F, v, vo + i).mul(beta2).add(gi.mul(gi).mul(oneMinusBeta2));
            mi.intoArray(m, mo + i);
            vi.intoArray(v, vo + i);
            FloatVector denominator = vi.sqrt().mul(invSqrtC2).add(eps);
            FloatVector.fromArray(F, p, po + i).mul(decay).sub(mi.mul(stepSize).div(denominator)).intoArray(p, po + i);
        }
        for (; i < i1; i++) {
            float gi = g[go + i];
            float mi = m[mo + i] * beta1 + gi * oneMinusBeta1;
            float vi = v[vo + i] * beta2 + gi * gi * oneMinusBeta2;
            m[mo + i] = mi;
            v[vo + i] = vi;
            p[po + i] = p[po + i] * decay - mi * stepSize / ((float) Math.sqrt(vi) * invSqrtC2 + eps);
        }
    }
}
