package dev.ladon.nn;

import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * Parameter initialisers. Each one overwrites a parameter in place with values drawn from {@code gen}
 * (a counter-based stream, so a seed reproduces a model on any device). Fans follow PyTorch for a weight
 * laid out [out, in, ...]: fanIn = in * receptive field, fanOut = out * receptive field, where the
 * receptive field is the product of the dims after the first two.
 */
public final class Init {
    /** Standard deviation of N(0, 1) truncated to [-2, 2], used to rescale truncated draws to a target std. */
    private static final double TRUNCATED_STD = 0.8796256610342398;

    private Init() {
    }

    public static void zeros(Parameter p) {
        p.data().fillInPlace(0);
    }

    public static void ones(Parameter p) {
        p.data().fillInPlace(1);
    }

    public static void constant(Parameter p, double value) {
        p.data().fillInPlace(value);
    }

    /** N(0, std^2). */
    public static void normal(Parameter p, double std, Generator gen) {
        set(p, Tensor.normal(0, std, gen, p.data().dtype(), p.data().device(), p.shape()));
    }

    /** U[low, high). */
    public static void uniform(Parameter p, double low, double high, Generator gen) {
        set(p, Tensor.uniform(low, high, gen, p.data().dtype(), p.data().device(), p.shape()));
    }

    /**
     * N(0, 1) truncated to [-2, 2], rescaled so that the result has standard deviation {@code std}
     * (the truncation alone would shrink it to 0.88). Out-of-range draws are redrawn from the same stream.
     */
    public static void truncatedNormal(Parameter p, double std, Generator gen) {
        int n = p.numel();
        double[] values = Tensor.normal(0, 1, gen, dev.ladon.tensor.DType.FLOAT64, dev.ladon.tensor.Device.CPU, n)
                .toDoubleArray();
        while (true) {
            int outside = 0;
            for (double v : values) {
                outside += Math.abs(v) > 2 ? 1 : 0;
            }
            if (outside == 0) {
                break;
            }
            double[] redraw = Tensor.normal(0, 1, gen, dev.ladon.tensor.DType.FLOAT64, dev.ladon.tensor.Device.CPU,
                    outside).toDoubleArray();
            for (int i = 0, r = 0; i < n; i++) {
                if (Math.abs(values[i]) > 2) {
                    values[i] = redraw[r++];
                }
            }
        }
        double factor = std / TRUNCATED_STD;
        for (int i = 0; i < n; i++) {
            values[i] *= factor;
        }
        set(p, Tensor.of(values, p.shape()));
    }

    /** U[-a, a] with a = gain * sqrt(6 / (fanIn + fanOut)) (Glorot and Bengio, 2010). */
    public static void xavierUniform(Parameter p, double gain, Generator gen) {
        double a = gain * Math.sqrt(6.0 / (fanIn(p) + fanOut(p)));
        uniform(p, -a, a, gen);
    }

    /** N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
    public static void xavierNormal(Parameter p, double gain, Generator gen) {
        normal(p, gain * Math.sqrt(2.0 / (fanIn(p) + fanOut(p))), gen);
    }

    /**
     * U[-b, b] with b = gain * sqrt(3 / fanIn), gain = sqrt(2 / (1 + a^2)) (He et al., 2015, for leaky ReLU
     * slope a). PyTorch's default Linear weight init is this with a = sqrt(5), i.e. b = 1 / sqrt(fanIn).
     */
    public static void kaimingUniform(Parameter p, double a, Generator gen) {
        double bound = Math.sqrt(2.0 / (1 + a * a)) * Math.sqrt(3.0 / fanIn(p));
        uniform(p, -bound, bound, gen);
    }

    /** N(0, std^2) with std = sqrt(2 / (1 + a^2)) / sqrt(fanIn). */
    public static void kaimingNormal(Parameter p, double a, Generator gen) {
        normal(p, Math.sqrt(2.0 / (1 + a * a)) / Math.sqrt(fanIn(p)), gen);
    }

    /**
     * The residual-branch scale of a pre-norm model with {@code layers} blocks: sqrt(2 / L) (SwitchHead
     * spec section 5; the official code multiplies every projection's std by it).
     */
    public static double residualScale(int layers) {
        if (layers < 1) {
            throw new IllegalArgumentException("residualScale: need at least 1 layer, got " + layers);
        }
        return Math.sqrt(2.0 / layers);
    }

    public static int fanIn(Parameter p) {
        int[] s = p.shape();
        if (s.length < 2) {
            throw new IllegalArgumentException("fanIn: needs a weight with at least 2 dims, got " + Shape.str(s));
        }
        return s[1] * receptiveField(s);
    }

    public static int fanOut(Parameter p) {
        int[] s = p.shape();
        if (s.length < 2) {
            throw new IllegalArgumentException("fanOut: needs a weight with at least 2 dims, got " + Shape.str(s));
        }
        return s[0] * receptiveField(s);
    }

    private static int receptiveField(int[] s) {
        int r = 1;
        for (int i = 2; i < s.length; i++) {
            r *= s[i];
        }
        return r;
    }

    private static void set(Parameter p, Tensor values) {
        p.data().copyFrom(values.to(p.data().device()).to(p.data().dtype()));
    }
}
