package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding in the rotate-half layout as one pass: each row of x [..., T, D] is read once and
 * written once, where the composition (two narrows, four products, a sum, a difference and a cat) walks the
 * rows seven times in runs of n/2 elements. Channel pairs (c, c + n/2), c &lt; n/2, of the row at position t
 * become (x1 cos - x2 sin, x2 cos + x1 sin) with cos = cos[t, c], sin = sin[t, c]; channels from n on are
 * copied. Each product and sum is rounded as in the composition, so both give the same floats.
 */
final class RotaryKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    /** Rows per parallel chunk: a row is only D elements. */
    private static final int ROW_GRAIN = 256;

    private RotaryKernels() {
    }

    static Tensor rotary(Tensor x, Tensor cos, Tensor sin) {
        // Rows are read as runs; a view whose channels are not adjacent is copied once.
        Tensor src = x.stride(-1) == 1 || x.size(-1) <= 1 ? x : x.contiguous();
        Tensor c = cos.contiguous();
        Tensor s = sin.contiguous();
        int[] shape = src.shape();
        int rank = shape.length;
        int width = shape[rank - 1];
        int positions = shape[rank - 2];
        int half = c.size(1);
        // Laid out like x: heads split off a projection come back through their permute without a copy.
        Tensor out = CpuBackend.INSTANCE.newOutputLike(src.dtype(), shape, src);
        int rows = width == 0 ? 0 : out.numel() / width;
        // Where row r of src and of out start: r is split over the leading dims (all but the last).
        int[] strides = src.strides();
        int[] outStrides = out.strides();
        int offset = src.offset();
        boolean f32 = src.dtype() == DType.FLOAT32;
        CpuStorage xs = ElementwiseKernels.storage(src);
        CpuStorage cs = ElementwiseKernels.storage(c);
        CpuStorage ss = ElementwiseKernels.storage(s);
        CpuStorage os = ElementwiseKernels.storage(out);
        Parallel.forRange(rows, ROW_GRAIN, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int at = offset;
                int outAt = 0;
                int rest = r;
                for (int d = rank - 2; d >= 0; d--) {
                    int index = rest % shape[d];
                    at += index * strides[d];
                    outAt += index * outStrides[d];
                    rest /= shape[d];
                }
                int t = r % positions;
                int co = c.offset() + t * half;
                int so = s.offset() + t * half;
                if (f32) {
                    rotateFloat(xs.floats(), at, cs.floats(), ss.floats(), co, so, half, width, os.floats(), outAt);
                } else {
                    rotateDouble(xs.doubles(), at, cs.doubles(), ss.doubles(), co, so, half, width, os.doubles(),
                            outAt);
                }
            }
        });
        return out;
    }

    /** One row: x at xo, the row's cos and sin at co and so, the result at oo. */
    private static void rotateFloat(float[] x, int xo, float[] cos, float[] sin, int co, int so, int half, int width,
            float[] out, int oo) {
        int c = 0;
        for (int bound = F.loopBound(half); c < bound; c += F.length()) {
            FloatVector x1 = FloatVector.fromArray(F, x, xo + c);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + half + c);
            FloatVector vc = FloatVector.fromArray(F, cos, co + c);
            FloatVector vs = FloatVector.fromArray(F, sin, so + c);
            x1.mul(vc).sub(x2.mul(vs)).intoArray(out, oo + c);
            x2.mul(vc).add(x1.mul(vs)).intoArray(out, oo + half + c);
        }
        for (; c < half; c++) {
            float x1 = x[xo + c];
            float x2 = x[xo + half + c];
            out[oo + c] = x1 * cos[co + c] - x2 * sin[so + c];
            out[oo + half + c] = x2 * cos[co + c] + x1 * sin[so + c];
        }
        System.arraycopy(x, xo + 2 * half, out, oo + 2 * half, width - 2 * half);
    }

    private static void rotateDouble(double[] x, int xo, double[] cos, double[] sin, int co, int so, int half,
            int width, double[] out, int oo) {
        for (int c = 0; c < half; c++) {
            double x1 = x[xo + c];
            double x2 = x[xo + half + c];
            out[oo + c] = x1 * cos[co + c] - x2 * sin[so + c];
            out[oo + half + c] = x2 * cos[co + c] + x1 * sin[so + c];
        }
        System.arraycopy(x, xo + 2 * half, out, oo + 2 * half, width - 2 * half);
    }
}
