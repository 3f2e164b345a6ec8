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
        int rowStride = strides[rank - 2];
        int outRowStride = outStrides[rank - 2];
        int cosOffset = c.offset();
        int sinOffset = s.offset();
        Parallel.forRange(rows, ROW_GRAIN, (r0, r1) -> {
            float[] xf = f32 ? xs.floats() : null;
            float[] cf = f32 ? cs.floats() : null;
            float[] sf = f32 ? ss.floats() : null;
            float[] of = f32 ? os.floats() : null;
            // Rows come in runs of T positions that share their leading index (batch, head): its offsets are
            // worked out once per run, and the run is walked by the row strides.
            for (int r = r0; r < r1; ) {
                int lead = r / positions;
                int at = offset + leadingOffset(lead, shape, strides);
                int outAt = leadingOffset(lead, shape, outStrides);
                int t = r % positions;
                int runEnd = Math.min(positions, t + (r1 - r));
                for (; t < runEnd; t++, r++) {
                    int co = cosOffset + t * half;
                    int so = sinOffset + t * half;
                    if (f32) {
                        rotateFloat(xf, at + t * rowStride, cf, sf, co, so, half, width, of, outAt + t * outRowStride);
                    } else {
                        rotateDouble(xs.doubles(), at + t * rowStride, cs.doubles(), ss.doubles(), co, so, half, width,
                                os.doubles(), outAt + t * outRowStride);
                    }
                }
            }
        });
        return out;
    }

    /** Where the rows of leading index {@code lead} (over all dims but the last two) start, by these strides. */
    private static int leadingOffset(int lead, int[] shape, int[] strides) {
        int at = 0;
        for (int d = shape.length - 3; d >= 0; d--) {
            at += lead % shape[d] * strides[d];
            lead /= shape[d];
        }
        return at;
    }

    /**
     * One row: x at xo, the row's cos and sin at co and so, the result at oo (which may be xo: each pair is
     * read before it is written). Also used by attention with RoPE inside its kernel.
     */
    static void rotateFloat(float[] x, int xo, float[] cos, float[] sin, int co, int so, int half, int width,
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
        // The channels past the rotated ones, copied by vectors: a System.arraycopy call per row of 64 floats
        // cost more than the rotation.
        int from = 2 * half;
        int copied = from + F.loopBound(width - from);
        for (; from < copied; from += F.length()) {
            FloatVector.fromArray(F, x, xo + from).intoArray(out, oo + from);
        }
        for (; from < width; from++) {
            out[oo + from] = x[xo + from];
        }
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
