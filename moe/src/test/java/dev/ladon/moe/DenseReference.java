package dev.ladon.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.Module;
import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Plain pieces the expert-layer tests build their dense references from (scalar loops, float64). */
final class DenseReference {
    private DenseReference() {
    }

    static Tensor randn(Generator gen, int... shape) {
        return Tensor.randn(gen, DType.FLOAT64, Device.CPU, shape);
    }

    /**
     * A 0/1 float64 mask [rows, E] (reshaped to {@code shape}) marking, per row of scores [..., E], the k
     * largest entries, ties to the lower index; found by repeated scalar scans.
     */
    static Tensor topkMask(Tensor scores, int k) {
        int e = scores.size(scores.dim() - 1);
        double[] z = scores.contiguous().toDoubleArray();
        int rows = z.length / e;
        double[] mask = new double[z.length];
        for (int r = 0; r < rows; r++) {
            for (int pick = 0; pick < k; pick++) {
                int best = -1;
                for (int i = 0; i < e; i++) {
                    if (mask[r * e + i] == 0 && (best < 0 || z[r * e + i] > z[r * e + best])) {
                        best = i;
                    }
                }
                mask[r * e + best] = 1;
            }
        }
        return Tensor.of(mask, scores.shape());
    }

    /** The distance encoding PE(delta) of the spec: [2m] = sin(delta w_m), [2m+1] = cos(delta w_m). */
    static double[] sinusoid(double delta, int d) {
        double[] pe = new double[d];
        for (int m = 0; 2 * m < d; m++) {
            double w = Math.pow(10000, -2.0 * m / d);
            pe[2 * m] = Math.sin(delta * w);
            if (2 * m + 1 < d) {
                pe[2 * m + 1] = Math.cos(delta * w);
            }
        }
        return pe;
    }

    /**
     * Scores [B, H, T, Tk] of a causal attention with Tm = Tk - T memory keys: plain softmax over
     * scale * (q k^T + rel) with key j hidden from query i when j > Tm + i; returns P v.
     */
    static Variable causalAttention(Variable q, Variable k, Variable v, Variable relScores, double scale) {
        int t = q.size(2);
        int tk = k.size(2);
        Variable scores = q.matmul(k.mT());
        if (relScores != null) {
            scores = scores.add(relScores);
        }
        boolean[] hidden = new boolean[t * tk];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < tk; j++) {
                hidden[i * tk + j] = j > tk - t + i;
            }
        }
        return scores.mul(scale).maskedFill(Tensor.of(hidden, t, tk), Double.NEGATIVE_INFINITY).softmax(3).matmul(v);
    }

    /**
     * q [B, H, T, D] dotted with the relative rows of r [Tk, H, D] (r row i holds distance i - (Tk - 1)),
     * giving [B, H, T, Tk] with entry (i, j) = q_i . r[distance j - (Tm + i)]. Hidden pairs get any row.
     */
    static Variable relativeScores(Variable q, Variable r) {
        int t = q.size(2);
        int tk = r.size(0);
        long[] rows = new long[t * tk];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < tk; j++) {
                int delta = j - (tk - t + i);
                rows[i * tk + j] = Math.min(delta + tk - 1, tk - 1);
            }
        }
        int h = r.size(1);
        int d = r.size(2);
        Variable picked = r.indexSelect(0, Tensor.of(rows, t * tk)).view(t, tk, h, d).permute(2, 0, 1, 3);
        return q.unsqueeze(3).mul(picked.unsqueeze(0)).sum(new int[] {4}, false);
    }

    /** The relative encodings [Tk, d], row i for distance i - (Tk - 1). */
    static Tensor relativeEncodings(int tk, int d) {
        double[] all = new double[tk * d];
        for (int i = 0; i < tk; i++) {
            System.arraycopy(sinusoid(i - (tk - 1), d), 0, all, i * d, d);
        }
        return Tensor.of(all, tk, d);
    }

    /**
     * Runs {@code run} (which builds a scalar loss) and returns the gradients of the module's parameters
     * and the given inputs, keyed by name ("input0", ...), zeroing them afterwards.
     */
    static Map<String, Tensor> gradients(Module module, List<Variable> inputs, Supplier<Variable> run) {
        module.zeroGrad();
        for (Variable v : inputs) {
            v.zeroGrad();
        }
        run.get().backward();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            out.put("input" + i, inputs.get(i).grad());
        }
        for (Map.Entry<String, Parameter> p : module.namedParameters().entrySet()) {
            out.put(p.getKey(), p.getValue().grad());
        }
        module.zeroGrad();
        for (Variable v : inputs) {
            v.zeroGrad();
        }
        return out;
    }

    static void assertClose(Tensor actual, Tensor expected, double tol, String what) {
        assertThat(actual).as(what + " missing").isNotNull();
        assertThat(expected).as(what + " reference missing").isNotNull();
        assertThat(actual.shape()).as(what + " shape").containsExactly(expected.shape());
        double[] a = actual.contiguous().to(DType.FLOAT64).toDoubleArray();
        double[] e = expected.contiguous().to(DType.FLOAT64).toDoubleArray();
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - e[i]));
        }
        assertThat(worst).as(what + " max abs difference").isLessThan(tol);
    }

    static void assertSameGradients(Map<String, Tensor> actual, Map<String, Tensor> expected, double tol) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        for (String name : expected.keySet()) {
            assertClose(actual.get(name), expected.get(name), tol, "gradient of " + name);
        }
    }
}
