package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The fused attention kernel against a plain reference written here: the whole score matrix materialised,
 * softmax and every gradient in double with scalar loops.
 */
class AttentionKernelsTest {

    /** Inputs of one attention call plus the output gradient. */
    private record Inputs(Tensor q, Tensor k, Tensor v, Tensor rel, Tensor gradOut, double scale, boolean causal) {
    }

    /** The reference's output, log-sum-exp and gradients, all as flat row-major double arrays. */
    private record Reference(double[] out, double[] lse, double[] dq, double[] dk, double[] dv, double[] drel) {
    }

    private static Inputs inputs(long seed, DType dtype, int b, int h, int tq, int tk, int d, int dv, boolean causal,
            boolean withRel) {
        Generator gen = new Generator(seed);
        Tensor q = Tensor.randn(gen, dtype, Device.CPU, b, h, tq, d);
        Tensor k = Tensor.randn(gen, dtype, Device.CPU, b, h, tk, d);
        Tensor v = Tensor.randn(gen, dtype, Device.CPU, b, h, tk, dv);
        Tensor rel = withRel ? Tensor.randn(gen, dtype, Device.CPU, h, tk, d).mul(0.5) : null;
        Tensor gradOut = Tensor.randn(gen, dtype, Device.CPU, b, h, tq, dv);
        return new Inputs(q, k, v, rel, gradOut, 1 / Math.sqrt(d), causal);
    }

    /** Materialises scores [Tq, Tk] per (b, h), then softmax, output and the textbook backward. */
    private static Reference reference(Inputs in) {
        int bs = in.q.size(0);
        int hs = in.q.size(1);
        int tq = in.q.size(2);
        int tk = in.k.size(2);
        int d = in.q.size(3);
        int dvs = in.v.size(3);
        double[] q = in.q.toDoubleArray();
        double[] k = in.k.toDoubleArray();
        double[] v = in.v.toDoubleArray();
        double[] rel = in.rel == null ? null : in.rel.toDoubleArray();
        double[] go = in.gradOut.toDoubleArray();
        double[] out = new double[bs * hs * tq * dvs];
        double[] lse = new double[bs * hs * tq];
        double[] dq = new double[bs * hs * tq * d];
        double[] dk = new double[bs * hs * tk * d];
        double[] dv = new double[bs * hs * tk * dvs];
        double[] drel = rel == null ? null : new double[hs * tk * d];
        for (int b = 0; b < bs; b++) {
            for (int h = 0; h < hs; h++) {
                int bh = b * hs + h;
                double[][] p = new double[tq][tk];
                for (int i = 0; i < tq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < tk; j++) {
                        boolean visible = !in.causal || j <= i + tk - tq;
                        double s = Double.NEGATIVE_INFINITY;
                        if (visible) {
                            s = 0;
                            for (int c = 0; c < d; c++) {
                                double key = k[(bh * tk + j) * d + c];
                                if (rel != null) {
                                    key += rel[(h * tk + (j - i + tq - 1)) * d + c];
                                }
                                s += q[(bh * tq + i) * d + c] * key;
                            }
                            s *= in.scale;
                        }
                        p[i][j] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int j = 0; j < tk; j++) {
                        p[i][j] = Math.exp(p[i][j] - max);
                        sum += p[i][j];
                    }
                    for (int j = 0; j < tk; j++) {
                        p[i][j] /= sum;
                    }
                    lse[bh * tq + i] = max + Math.log(sum);
                    for (int c = 0; c < dvs; c++) {
                        double o = 0;
                        for (int j = 0; j < tk; j++) {
                            o += p[i][j] * v[(bh * tk + j) * dvs + c];
                        }
                        out[(bh * tq + i) * dvs + c] = o;
                    }
                }
                for (int i = 0; i < tq; i++) {
                    double[] dp = new double[tk];
                    double rowDot = 0;
                    for (int j = 0; j < tk; j++) {
                        for (int c = 0; c < dvs; c++) {
                            dp[j] += go[(bh * tq + i) * dvs + c] * v[(bh * tk + j) * dvs + c];
                        }
                        rowDot += p[i][j] * dp[j];
                    }
                    for (int j = 0; j < tk; j++) {
                        double ds = p[i][j] * (dp[j] - rowDot) * in.scale;
                        for (int c = 0; c < dvs; c++) {
                            dv[(bh * tk + j) * dvs + c] += p[i][j] * go[(bh * tq + i) * dvs + c];
                        }
                        if (ds == 0) {
                            continue;
                        }
                        int r = j - i + tq - 1;
                        for (int c = 0; c < d; c++) {
                            double key = k[(bh * tk + j) * d + c] + (rel == null ? 0 : rel[(h * tk + r) * d + c]);
                            dq[(bh * tq + i) * d + c] += ds * key;
                            dk[(bh * tk + j) * d + c] += ds * q[(bh * tq + i) * d + c];
                            if (rel != null) {
                                drel[(h * tk + r) * d + c] += ds * q[(bh * tq + i) * d + c];
                            }
                        }
                    }
                }
            }
        }
        return new Reference(out, lse, dq, dk, dv, drel);
    }

    /** Runs the fused kernel forward and backward and checks everything against the reference. */
    private static void checkAgainstReference(Inputs in, double tolerance) {
        Reference ref = reference(in);
        FusedOps.AttentionResult r = FusedOps.attention(in.q, in.k, in.v, in.rel, in.scale, in.causal);
        assertClose("out", r.output(), ref.out, tolerance);
        assertClose("logSumExp", r.logSumExp(), ref.lse, tolerance);
        Tensor[] grads = FusedOps.attentionBackward(in.gradOut, in.q, in.k, in.v, in.rel, r, in.scale, in.causal);
        assertThat(grads[0].shape()).isEqualTo(in.q.shape());
        assertThat(grads[1].shape()).isEqualTo(in.k.shape());
        assertThat(grads[2].shape()).isEqualTo(in.v.shape());
        assertClose("dq", grads[0], ref.dq, tolerance);
        assertClose("dk", grads[1], ref.dk, tolerance);
        assertClose("dv", grads[2], ref.dv, tolerance);
        if (in.rel == null) {
            assertThat(grads[3]).isNull();
        } else {
            assertThat(grads[3].shape()).isEqualTo(in.rel.shape());
            assertClose("drel", grads[3], ref.drel, tolerance);
        }
    }

    private static void assertClose(String what, Tensor actual, double[] expected, double tolerance) {
        double[] a = actual.toDoubleArray();
        assertThat(a).as(what + " size").hasSize(expected.length);
        for (int x = 0; x < a.length; x++) {
            double allowed = tolerance * (1 + Math.abs(expected[x]));
            if (!(Math.abs(a[x] - expected[x]) <= allowed)) {
                throw new AssertionError(what + "[" + x + "] = " + a[x] + ", expected " + expected[x] + " (tolerance "
                        + allowed + ")");
            }
        }
    }

    /**
     * Attention with RoPE inside the kernel (FusedOps.attention with a rotation) against rotary then attention,
     * forward and backward: the same floats, since the kernel rotates each row as the rotary kernel does and
     * turns the gradients back with the same rotation by -sin.
     */
    private static void checkRotationAgainstComposition(long seed, DType dtype, int b, int h, int tq, int tk, int d,
            int half, boolean causal, boolean broadcastKeys) {
        Generator gen = new Generator(seed);
        Tensor q = Tensor.randn(gen, dtype, Device.CPU, b, tq, h, d).permute(0, 2, 1, 3);
        Tensor k = broadcastKeys ? Tensor.randn(gen, dtype, Device.CPU, b, 1, tk, d).expand(b, h, tk, d)
                : Tensor.randn(gen, dtype, Device.CPU, b, h, tk, d);
        Tensor v = Tensor.randn(gen, dtype, Device.CPU, b, h, tk, d);
        Tensor gradOut = Tensor.randn(gen, dtype, Device.CPU, b, h, tq, d);
        // Keys at positions 0 .. Tk - 1, queries at the last Tq of them (the first Tk - Tq keys are memory).
        Tensor keyAngles = Tensor.randn(gen, dtype, Device.CPU, tk, half);
        Tensor queryAngles = keyAngles.narrow(0, tk - tq, tq);
        FusedOps.AttentionRotation rotation = new FusedOps.AttentionRotation(queryAngles.cos(), queryAngles.sin(),
                keyAngles.cos(), keyAngles.sin());
        double scale = 1 / Math.sqrt(d);
        FusedOps.AttentionResult fused = FusedOps.attention(q, k, v, null, rotation, scale, causal);
        Tensor qr = FusedOps.rotary(q, rotation.queryCos(), rotation.querySin());
        Tensor kr = FusedOps.rotary(k, rotation.keyCos(), rotation.keySin());
        FusedOps.AttentionResult composed = FusedOps.attention(qr, kr, v, null, scale, causal);
        String what = dtype + " b=" + b + " h=" + h + " tq=" + tq + " tk=" + tk + " d=" + d + " half=" + half;
        assertThat(fused.output().toDoubleArray()).as("out " + what).containsExactly(composed.output().toDoubleArray());
        assertThat(fused.logSumExp().toDoubleArray()).as("lse " + what)
                .containsExactly(composed.logSumExp().toDoubleArray());
        Tensor[] g = FusedOps.attentionBackward(gradOut, q, k, v, null, rotation, fused, scale, causal);
        Tensor[] c = FusedOps.attentionBackward(gradOut, qr, kr, v, null, composed, scale, causal);
        Tensor dq = FusedOps.rotary(c[0], rotation.queryCos(), rotation.querySin().neg());
        Tensor dk = FusedOps.rotary(c[1], rotation.keyCos(), rotation.keySin().neg());
        assertThat(g[0].toDoubleArray()).as("dq " + what).containsExactly(dq.toDoubleArray());
        assertThat(g[1].toDoubleArray()).as("dk " + what).containsExactly(dk.toDoubleArray());
        assertThat(g[2].toDoubleArray()).as("dv " + what).containsExactly(c[2].toDoubleArray());
        assertThat(g[3]).isNull();
    }

    @Test
    void ropeInsideTheKernelEqualsRotaryThenAttention() {
        checkRotationAgainstComposition(31, DType.FLOAT32, 2, 3, 37, 37, 16, 4, true, false);
        // Memory keys (queries at later positions), half the channels rotated, several key and query blocks.
        checkRotationAgainstComposition(32, DType.FLOAT32, 1, 2, 70, 150, 24, 6, true, false);
        // Every channel rotated, widths that leave vector tails, non-causal, one key set shared by the heads.
        checkRotationAgainstComposition(33, DType.FLOAT32, 2, 2, 9, 45, 38, 19, false, true);
        checkRotationAgainstComposition(34, DType.FLOAT32, 2, 4, 128, 128, 64, 16, true, false); // the lm-step shape
        // float64 takes the backend's composition.
        checkRotationAgainstComposition(35, DType.FLOAT64, 1, 2, 11, 20, 6, 2, true, false);
        Tensor q = Tensor.randn(1, 1, 4, 8);
        Tensor t = Tensor.randn(4, 5); // 2 x 5 channels rotated, but D is 8
        assertThatThrownBy(() -> FusedOps.attention(q, q, q, null, new FusedOps.AttentionRotation(t, t, t, t), 1, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rotation")
                .hasMessageContaining("[4, 5]").hasMessageContaining("q [1, 1, 4, 8]");
    }

    @Test
    void backwardIntoSlicesOfOneBufferEqualsTheBackward() {
        // q, k, v as the three slices of a fused projection [B, T, 3, H, D]; the gradients written into the
        // matching slices of one zeroed buffer equal those of attentionBackward, with and without RoPE, in
        // float32 (the kernel writes them in place) and float64 (the backend's default copies them in).
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (boolean rope : new boolean[] {false, true}) {
                Generator gen = new Generator(41);
                int b = 2;
                int t = 37;
                int h = 3;
                int d = 16;
                Tensor qkv = Tensor.randn(gen, dtype, Device.CPU, b, t, 3, h, d);
                Tensor[] views = new Tensor[3];
                for (int i = 0; i < 3; i++) {
                    views[i] = qkv.select(2, i).permute(0, 2, 1, 3);
                }
                Tensor gradOut = Tensor.randn(gen, dtype, Device.CPU, b, h, t, d);
                Tensor angles = Tensor.randn(gen, dtype, Device.CPU, t, 4);
                FusedOps.AttentionRotation rotation = rope
                        ? new FusedOps.AttentionRotation(angles.cos(), angles.sin(), angles.cos(), angles.sin()) : null;
                FusedOps.AttentionResult r = FusedOps.attention(views[0], views[1], views[2], null, rotation, 0.3, true);
                if (dtype == DType.FLOAT32) { // (float64 with RoPE takes the composition, whose output is contiguous)
                    assertThat(r.output().permute(0, 2, 1, 3).isContiguous()).as("heads merge without a copy").isTrue();
                }
                Tensor[] expected = FusedOps.attentionBackward(gradOut, views[0], views[1], views[2], null, rotation, r,
                        0.3, true);
                Tensor buffer = Tensor.zeros(dtype, Device.CPU, b, t, 3, h, d);
                Tensor[] into = new Tensor[3];
                for (int i = 0; i < 3; i++) {
                    into[i] = buffer.select(2, i).permute(0, 2, 1, 3);
                }
                FusedOps.attentionBackwardInto(gradOut, views[0], views[1], views[2], rotation, r, 0.3, true, into[0],
                        into[1], into[2]);
                for (int i = 0; i < 3; i++) {
                    assertThat(into[i].toDoubleArray()).as("%s rope=%s gradient %d", dtype, rope, i)
                            .containsExactly(expected[i].toDoubleArray());
                }
            }
        }
        Tensor q = Tensor.randn(1, 1, 4, 8);
        FusedOps.AttentionResult r = FusedOps.attention(q, q, q, null, 1, true);
        assertThatThrownBy(() -> FusedOps.attentionBackwardInto(q, q, q, q, null, r, 1, true, q, Tensor.zeros(1, 1, 4, 7), q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("destination k")
                .hasMessageContaining("[1, 1, 4, 7]");
    }

    @Test
    void causalSelfAttentionWithoutMemoryMatchesReference() {
        checkAgainstReference(inputs(1, DType.FLOAT32, 2, 3, 37, 37, 16, 16, true, false), 2e-5);
    }

    @Test
    void causalAttentionWithMemoryAndRelativeTermSpansSeveralKeyBlocks() {
        // Tk = 2 Tq: the first Tq keys are a memory every query sees; 150 keys cover several key blocks.
        checkAgainstReference(inputs(2, DType.FLOAT32, 2, 2, 75, 150, 12, 10, true, true), 2e-5);
    }

    @Test
    void causalAttentionWithMemoryWithoutRelativeTerm() {
        checkAgainstReference(inputs(3, DType.FLOAT32, 1, 2, 33, 66, 8, 8, true, false), 2e-5);
    }

    @Test
    void keyBlocksPastTheForwardCacheArePackedAgainForEachQueryBlock() {
        // 1100 keys of 64 channels are more packed key blocks than a forward chunk keeps (at every vector
        // width), so its one slot is packed again whenever a task needs another block; two query blocks per
        // head walk the keys twice, and the last block is partial.
        checkAgainstReference(inputs(15, DType.FLOAT32, 1, 2, 40, 1100, 64, 8, true, false), 2e-5);
        checkRotationAgainstComposition(36, DType.FLOAT32, 1, 2, 40, 1100, 64, 16, true, false);
    }

    @Test
    void nonCausalAttentionSeesEveryKey() {
        checkAgainstReference(inputs(4, DType.FLOAT32, 2, 2, 5, 70, 9, 6, false, false), 2e-5);
    }

    @Test
    void singleQueryWithMemoryAsInGeneration() {
        checkAgainstReference(inputs(5, DType.FLOAT32, 2, 3, 1, 50, 16, 16, true, true), 2e-5);
    }

    @Test
    void oddHeadDimsInFloat32() {
        checkAgainstReference(inputs(6, DType.FLOAT32, 1, 2, 19, 23, 7, 5, true, true), 2e-5);
    }

    @Test
    void wideHeadsRunTheFourRowBlocksWithTails() {
        // 70 queries: blocks of four rows and a tail of two; widths 72 and 67 span several whole vectors of any
        // species, then a partial one; 70 and 90 keys fill one key block and part of the next.
        checkAgainstReference(inputs(13, DType.FLOAT32, 1, 2, 70, 70, 72, 67, true, false), 2e-5);
        checkAgainstReference(inputs(14, DType.FLOAT32, 2, 1, 30, 90, 64, 64, true, false), 2e-5);
        checkAgainstReference(inputs(15, DType.FLOAT32, 1, 2, 22, 45, 67, 72, false, false), 2e-5);
    }

    @Test
    void float64PathMatchesReferenceTightly() {
        checkAgainstReference(inputs(7, DType.FLOAT64, 2, 2, 9, 14, 7, 5, true, true), 1e-12);
        checkAgainstReference(inputs(8, DType.FLOAT64, 1, 2, 4, 11, 3, 6, false, false), 1e-12);
    }

    @Test
    void stridedQueryAndKeysValuesBroadcastAcrossHeads() {
        // q comes from a [B, T, H, D] projection, permuted; one K/V is shared by all heads (an expand view).
        int b = 2;
        int h = 4;
        int t = 21;
        int d = 16;
        Generator gen = new Generator(9);
        Tensor q = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, t, h, d).permute(0, 2, 1, 3);
        Tensor k = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, 1, t, d).expand(b, h, t, d);
        Tensor v = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, 1, t, d).expand(b, h, t, d);
        Tensor gradOut = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, t, h, d).permute(0, 2, 1, 3);
        assertThat(q.isContiguous()).isFalse();
        assertThat(k.stride(1)).isZero();
        checkAgainstReference(new Inputs(q, k, v, null, gradOut, 0.25, true), 2e-5);
        // out and dq come in q's layout ([B, T, H, D] in memory), so merging heads back needs no copy;
        // dk and dv of the broadcast K/V are contiguous.
        FusedOps.AttentionResult r = FusedOps.attention(q, k, v, null, 0.25, true);
        Tensor[] grads = FusedOps.attentionBackward(gradOut, q, k, v, null, r, 0.25, true);
        assertThat(r.output().permute(0, 2, 1, 3).isContiguous()).isTrue();
        assertThat(grads[0].permute(0, 2, 1, 3).isContiguous()).isTrue();
        assertThat(grads[1].isContiguous()).isTrue();
    }

    @Test
    void keysWithNonContiguousLastDimAreRead() {
        int b = 1;
        int h = 2;
        int t = 10;
        int d = 6;
        Generator gen = new Generator(10);
        Tensor q = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, h, t, d);
        Tensor k = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, h, d, t).transpose(2, 3);
        Tensor v = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, h, t, d);
        Tensor gradOut = Tensor.randn(gen, DType.FLOAT32, Device.CPU, b, h, t, d);
        checkAgainstReference(new Inputs(q, k, v, null, gradOut, 0.4, true), 2e-5);
    }

    @Test
    void largeScoresStayFiniteThanksToTheRunningMaximum() {
        Inputs in = inputs(11, DType.FLOAT32, 1, 2, 40, 80, 16, 16, true, true);
        // Scores of several hundred: exp would overflow float without subtracting the row maximum.
        Inputs big = new Inputs(in.q.mul(30), in.k, in.v, in.rel, in.gradOut, in.scale, true);
        FusedOps.AttentionResult r = FusedOps.attention(big.q, big.k, big.v, big.rel, big.scale, true);
        for (double x : r.output().toDoubleArray()) {
            assertThat(Double.isFinite(x)).isTrue();
        }
        checkAgainstReference(big, 1e-4);
    }

    @Test
    void firstQueryWithoutMemoryAttendsOnlyToItself() {
        Inputs in = inputs(12, DType.FLOAT64, 1, 1, 3, 3, 4, 4, true, false);
        FusedOps.AttentionResult r = FusedOps.attention(in.q, in.k, in.v, null, in.scale, true);
        assertThat(r.output().select(2, 0).allClose(in.v.select(2, 0), 0, 1e-14)).isTrue();
    }

    @Test
    void float64GradientsMatchCentralDifferences() {
        // Independent of the reference above: perturb every input and differentiate L = sum(out * gradOut).
        Inputs in = inputs(13, DType.FLOAT64, 1, 2, 3, 5, 3, 2, true, true);
        FusedOps.AttentionResult r = FusedOps.attention(in.q, in.k, in.v, in.rel, in.scale, true);
        Tensor[] grads = FusedOps.attentionBackward(in.gradOut, in.q, in.k, in.v, in.rel, r, in.scale, true);
        Tensor[] inputsToPerturb = {in.q, in.k, in.v, in.rel};
        double eps = 1e-6;
        for (int which = 0; which < 4; which++) {
            double[] data = inputsToPerturb[which].toDoubleArray();
            double[] analytic = grads[which].toDoubleArray();
            for (int x = 0; x < data.length; x++) {
                double saved = data[x];
                data[x] = saved + eps;
                double plus = loss(in, which, data);
                data[x] = saved - eps;
                double minus = loss(in, which, data);
                data[x] = saved;
                double numeric = (plus - minus) / (2 * eps);
                assertThat(analytic[x]).as("input %d element %d", which, x).isCloseTo(numeric,
                        org.assertj.core.data.Offset.offset(1e-7));
            }
        }
    }

    private static double loss(Inputs in, int replaced, double[] data) {
        Tensor[] t = {in.q, in.k, in.v, in.rel};
        t[replaced] = Tensor.of(data, t[replaced].shape());
        Tensor out = FusedOps.attention(t[0], t[1], t[2], t[3], in.scale, true).output();
        return out.mul(in.gradOut).sum().item();
    }

    @Test
    void aNaNKeyMakesTheRowsThatSeeItNaNAndLeavesTheOthersFinite() {
        // Causal, 1 x 1 x 100 x 16: key 70 holds a NaN. Queries 0-69 do not see it, 70-99 do. The block max
        // may skip a NaN score; exp(score - max) must still carry it into the output.
        Inputs in = inputs(31, DType.FLOAT32, 1, 1, 100, 100, 16, 16, true, false);
        float[] keys = in.k.toFloatArray();
        keys[70 * 16 + 3] = Float.NaN;
        Tensor k = Tensor.of(keys, in.k.shape());
        float[] out = FusedOps.attention(in.q, k, in.v, null, in.scale, true).output().toFloatArray();
        for (int i = 0; i < 100; i++) {
            for (int c = 0; c < 16; c++) {
                float o = out[i * 16 + c];
                if (i < 70) {
                    assertThat(Float.isFinite(o)).as("query %d, channel %d", i, c).isTrue();
                } else {
                    assertThat(o).as("query %d, channel %d", i, c).isNaN();
                }
            }
        }
    }
}
