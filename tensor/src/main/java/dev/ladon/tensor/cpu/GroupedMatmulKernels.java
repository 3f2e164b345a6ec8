package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The compacted expert matmul on the CPU (the "CVMM" of the SwitchHead and sigma-MoE code): for each
 * (row, expert) pair p, out[p] = gate[p] * (x[row[p]] @ weight[expert[p]]), and its backward.
 *
 * <p>float32 plan: group the pairs by expert with a stable counting sort ({@link ExpertGroups}), gather the
 * rows of x in that order into one panel [P, Din] (so each expert's rows are a contiguous block), run one
 * {@link Gemm} per expert that has pairs, and scatter its rows back to their pair positions scaled by the
 * gate. The arithmetic is P * Din * Dout multiply-adds whatever E is; besides that, each expert that was
 * picked has its weight read once, and experts no pair names cost nothing. The experts are visited one
 * after the other and each GEMM splits its rows over the thread pool.
 *
 * <p>float64 takes plain loops over the pairs: it exists for gradient checks, where clarity beats speed.
 *
 * <p>Shapes and dtypes are checked by {@code FusedOps}; index values are data and are checked here.
 */
final class GroupedMatmulKernels {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;

    private GroupedMatmulKernels() {
    }

    /** out [P, Dout] for x [N, Din], weight [E, Din, Dout], row/expert [P], gate [P] or null. */
    static Tensor forward(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        Operands o = Operands.read("groupedMatmul", x, weight, row, expert, gate);
        Tensor out = CpuBackend.INSTANCE.newTensor(x.dtype(), o.pairs(), o.dout);
        if (o.pairs() == 0 || o.dout == 0 || o.din == 0) {
            return out;
        }
        if (x.dtype() == DType.FLOAT32) {
            forwardFloat(o, ElementwiseKernels.floats(out));
        } else {
            forwardDouble(o, ElementwiseKernels.storage(out).doubles());
        }
        return out;
    }

    /** [dx [N, Din], dweight [E, Din, Dout], dgate [P] or null] given gradOut [P, Dout]. */
    static Tensor[] backward(Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        Operands o = Operands.read("groupedMatmulBackward", x, weight, row, expert, gate);
        Tensor dx = CpuBackend.INSTANCE.newTensor(x.dtype(), o.n, o.din);
        Tensor dweight = CpuBackend.INSTANCE.newTensor(x.dtype(), o.numExperts, o.din, o.dout);
        Tensor dgate = gate == null ? null : CpuBackend.INSTANCE.newTensor(x.dtype(), o.pairs());
        if (o.pairs() == 0 || o.dout == 0 || o.din == 0) {
            return new Tensor[] {dx, dweight, dgate};
        }
        Tensor g = gradOut.contiguous();
        if (x.dtype() == DType.FLOAT32) {
            backwardFloat(o, ElementwiseKernels.floats(g), g.offset(), ElementwiseKernels.floats(dx),
                    ElementwiseKernels.floats(dweight), dgate == null ? null : ElementwiseKernels.floats(dgate));
        } else {
            backwardDouble(o, ElementwiseKernels.storage(g).doubles(), g.offset(),
                    ElementwiseKernels.storage(dx).doubles(), ElementwiseKernels.storage(dweight).doubles(),
                    dgate == null ? null : ElementwiseKernels.storage(dgate).doubles());
        }
        return new Tensor[] {dx, dweight, dgate};
    }

    // ---- float32: grouped GEMMs -----------------------------------------------------------------

    private static void forwardFloat(Operands o, float[] out) {
        ExpertGroups groups = ExpertGroups.byExpert(o.expert, o.numExperts);
        float[] x = o.xFloats();
        float[] w = o.weightFloats();
        float[] gate = o.gateFloats();
        // xs: [P, Din], the rows of x in expert order
        float[] xs = gatherRows(x, o.xOffset, o.din, groups.order, o.row);
        float[] product = new float[groups.largestGroup() * o.dout];
        for (int e = 0; e < o.numExperts; e++) {
            int count = groups.count(e);
            if (count == 0) {
                continue;
            }
            int s = groups.start[e];
            Arrays.fill(product, 0, count * o.dout, 0f);
            // product [count, Dout] = xs[s : s + count] @ weight[e]
            Gemm.batched(1, count, o.dout, o.din, xs, new int[] {s * o.din}, o.din, 1,
                    w, new int[] {o.weightOffset + e * o.din * o.dout}, o.dout, 1, product);
            for (int i = 0; i < count; i++) {
                int p = groups.order[s + i];
                float scale = gate == null ? 1f : gate[o.gateOffset + p];
                scaleInto(out, p * o.dout, product, i * o.dout, o.dout, scale);
            }
        }
    }

    /*
     * With g = dL/dout[p] and h = g @ weight[e]^T (e = expert[p]):
     *   dgate[p] = <x[row[p]], h>            (the chain rule through out = gate * (x W))
     *   dx[row[p]] += gate[p] * h
     *   dweight[e] += (gate[p] * x[row[p]])^T g
     * so each expert needs two GEMMs: H = G W^T and dW = (gate * X)^T G over its rows.
     */
    private static void backwardFloat(Operands o, float[] gradOut, int gradOffset, float[] dx, float[] dweight,
            float[] dgate) {
        ExpertGroups groups = ExpertGroups.byExpert(o.expert, o.numExperts);
        float[] x = o.xFloats();
        float[] w = o.weightFloats();
        float[] gate = o.gateFloats();
        int din = o.din;
        int dout = o.dout;
        // xs [P, Din] and gs [P, Dout]: rows of x and of the incoming gradient, in expert order
        float[] xs = gatherRows(x, o.xOffset, din, groups.order, o.row);
        float[] gs = gatherRows(gradOut, gradOffset, dout, groups.order, null);
        float[] h = new float[groups.largestGroup() * din];
        float[] dw = new float[din * dout];
        for (int e = 0; e < o.numExperts; e++) {
            int count = groups.count(e);
            if (count == 0) {
                continue;
            }
            int s = groups.start[e];
            int wOffset = o.weightOffset + e * din * dout;
            Arrays.fill(h, 0, count * din, 0f);
            // h [count, Din] = gs[s : s + count] @ weight[e]^T (the transpose read through strides)
            Gemm.batched(1, count, din, dout, gs, new int[] {s * dout}, dout, 1, w, new int[] {wOffset}, 1, dout, h);
            for (int i = 0; i < count; i++) {
                int p = groups.order[s + i];
                int xsRow = (s + i) * din;
                float scale = gate == null ? 1f : gate[o.gateOffset + p];
                if (dgate != null) {
                    dgate[p] = dot(xs, xsRow, h, i * din, din);
                }
                // Sequential on purpose: two pairs may share a row of x.
                addScaled(dx, o.row[p] * din, h, i * din, din, scale);
                if (gate != null) {
                    scaleInto(xs, xsRow, xs, xsRow, din, scale);
                }
            }
            Arrays.fill(dw, 0f);
            // dw [Din, Dout] = (gate * xs[s : s + count])^T @ gs[s : s + count]
            Gemm.batched(1, din, dout, count, xs, new int[] {s * din}, 1, din, gs, new int[] {s * dout}, dout, 1, dw);
            System.arraycopy(dw, 0, dweight, e * din * dout, din * dout);
        }
    }

    /** Rows src[rowOf[order[i]]] (or src[order[i]] when rowOf is null) of width {@code width}, packed: [P, width]. */
    private static float[] gatherRows(float[] src, int srcOffset, int width, int[] order, int[] rowOf) {
        float[] packed = new float[order.length * width];
        Parallel.forRange(order.length, Math.max(1, 16384 / Math.max(width, 1)), (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int r = rowOf == null ? order[i] : rowOf[order[i]];
                System.arraycopy(src, srcOffset + r * width, packed, i * width, width);
            }
        });
        return packed;
    }

    /** dst[d .. d+len) = scale * src[s .. s+len) (dst and src may be the same range). */
    private static void scaleInto(float[] dst, int d, float[] src, int s, int len, float scale) {
        int i = 0;
        for (int bound = F.loopBound(len); i < bound; i += F.length()) {
            FloatVector.fromArray(F, src, s + i).mul(scale).intoArray(dst, d + i);
        }
        for (; i < len; i++) {
            dst[d + i] = scale * src[s + i];
        }
    }

    /** dst[d .. d+len) += scale * src[s .. s+len). */
    private static void addScaled(float[] dst, int d, float[] src, int s, int len, float scale) {
        FloatVector vs = FloatVector.broadcast(F, scale);
        int i = 0;
        for (int bound = F.loopBound(len); i < bound; i += F.length()) {
            FloatVector.fromArray(F, src, s + i).fma(vs, FloatVector.fromArray(F, dst, d + i)).intoArray(dst, d + i);
        }
        for (; i < len; i++) {
            dst[d + i] += scale * src[s + i];
        }
    }

    private static float dot(float[] a, int ao, float[] b, int bo, int len) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(len); i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        }
        float sum = FloatMath.sumLanes(acc);
        for (; i < len; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }

    // ---- float64: plain loops over the pairs ----------------------------------------------------

    private static void forwardDouble(Operands o, double[] out) {
        double[] x = o.xDoubles();
        double[] w = o.weightDoubles();
        double[] gate = o.gateDoubles();
        int din = o.din;
        int dout = o.dout;
        Parallel.forRange(o.pairs(), Math.max(1, 16384 / (din * dout)), (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int xRow = o.xOffset + o.row[p] * din;
                int wBase = o.weightOffset + o.expert[p] * din * dout;
                double scale = gate == null ? 1 : gate[o.gateOffset + p];
                for (int j = 0; j < dout; j++) {
                    double sum = 0;
                    for (int i = 0; i < din; i++) {
                        sum += x[xRow + i] * w[wBase + i * dout + j];
                    }
                    out[p * dout + j] = scale * sum;
                }
            }
        });
    }

    private static void backwardDouble(Operands o, double[] gradOut, int gradOffset, double[] dx, double[] dweight,
            double[] dgate) {
        double[] x = o.xDoubles();
        double[] w = o.weightDoubles();
        double[] gate = o.gateDoubles();
        int din = o.din;
        int dout = o.dout;
        for (int p = 0; p < o.pairs(); p++) {
            int xRow = o.xOffset + o.row[p] * din;
            int wBase = o.weightOffset + o.expert[p] * din * dout;
            int gRow = gradOffset + p * dout;
            double scale = gate == null ? 1 : gate[o.gateOffset + p];
            double gateGrad = 0;
            for (int i = 0; i < din; i++) {
                double hi = 0;
                for (int j = 0; j < dout; j++) {
                    hi += gradOut[gRow + j] * w[wBase + i * dout + j];
                }
                gateGrad += x[xRow + i] * hi;
                dx[o.row[p] * din + i] += scale * hi;
                double xi = scale * x[xRow + i];
                int dwRow = o.expert[p] * din * dout + i * dout;
                for (int j = 0; j < dout; j++) {
                    dweight[dwRow + j] += xi * gradOut[gRow + j];
                }
            }
            if (dgate != null) {
                dgate[p] = gateGrad;
            }
        }
    }

    // ---- operands -------------------------------------------------------------------------------

    /** Contiguous views of the operands and the index values, checked against their ranges. */
    private record Operands(Tensor x, int xOffset, Tensor weight, int weightOffset, Tensor gate, int gateOffset,
            int[] row, int[] expert, int n, int din, int dout, int numExperts) {

        static Operands read(String op, Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
            Tensor xc = x.contiguous();
            Tensor wc = weight.contiguous();
            Tensor gc = gate == null ? null : gate.contiguous();
            int n = x.size(0);
            int numExperts = weight.size(0);
            int[] rows = indices(op, "row", row, n, "x has " + n + " rows");
            int[] experts = indices(op, "expert", expert, numExperts, "weight has " + numExperts + " experts");
            return new Operands(xc, xc.offset(), wc, wc.offset(), gc, gc == null ? 0 : gc.offset(), rows, experts, n,
                    x.size(1), weight.size(2), numExperts);
        }

        private static int[] indices(String op, String name, Tensor index, int bound, String why) {
            Tensor c = index.contiguous();
            CpuStorage s = ElementwiseKernels.storage(c);
            int[] values = new int[c.numel()];
            for (int p = 0; p < values.length; p++) {
                long v = s.getLong(c.offset() + p);
                if (v < 0 || v >= bound) {
                    throw new IndexOutOfBoundsException(op + ": " + name + "[" + p + "] = " + v
                            + " is out of range [0, " + bound + ") (" + why + ")");
                }
                values[p] = (int) v;
            }
            return values;
        }

        int pairs() {
            return row.length;
        }

        float[] xFloats() {
            return ElementwiseKernels.floats(x);
        }

        float[] weightFloats() {
            return ElementwiseKernels.floats(weight);
        }

        float[] gateFloats() {
            return gate == null ? null : ElementwiseKernels.floats(gate);
        }

        double[] xDoubles() {
            return ElementwiseKernels.storage(x).doubles();
        }

        double[] weightDoubles() {
            return ElementwiseKernels.storage(weight).doubles();
        }

        double[] gateDoubles() {
            return gate == null ? null : ElementwiseKernels.storage(gate).doubles();
        }
    }
}
