package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/** The fused AdamW update: one pass over param, grad and both moments instead of a dozen tensor ops. */
final class OptimizerKernels {
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
            Parallel.forRange(param.numel(), 1 << 14, (i0, i1) -> {
                for (int i = i0; i < i1; i++) {
                    float gi = gr[go + i];
                    float mi = (float) (beta1 * ma[mo + i] + (1 - beta1) * gi);
                    float vi = (float) (beta2 * va[vo + i] + (1 - beta2) * gi * gi);
                    ma[mo + i] = mi;
                    va[vo + i] = vi;
                    p[po + i] = (float) (p[po + i] * decay - stepSize * mi / (Math.sqrt(vi) / sqrtC2 + eps));
                }
            });
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
}
