package dev.ladon.moe;

import static dev.ladon.moe.DenseReference.assertClose;
import static dev.ladon.moe.DenseReference.randn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ExpertMatmulTest {
    @Test
    void forwardAndBackwardMatchScalarLoops() {
        Generator gen = new Generator(1);
        int n = 3;
        int din = 4;
        int dout = 2;
        int e = 3;
        long[] rows = {0, 2, 1, 2, 0, 0};
        long[] experts = {1, 0, 2, 2, 1, 0};
        Variable x = Variable.parameter(randn(gen, n, din));
        Variable w = Variable.parameter(randn(gen, e, din, dout));
        Variable g = Variable.parameter(randn(gen, rows.length));
        Tensor gradOut = randn(gen, rows.length, dout);
        Variable out = ExpertMatmul.apply(x, w, g, Tensor.of(rows, rows.length), Tensor.of(experts, rows.length));
        out.backward(gradOut);

        double[] xs = x.data().toDoubleArray();
        double[] ws = w.data().toDoubleArray();
        double[] gs = g.data().toDoubleArray();
        double[] go = gradOut.toDoubleArray();
        double[] want = new double[rows.length * dout];
        double[] dx = new double[n * din];
        double[] dw = new double[e * din * dout];
        double[] dg = new double[rows.length];
        for (int p = 0; p < rows.length; p++) {
            int r = (int) rows[p];
            int ex = (int) experts[p];
            for (int o = 0; o < dout; o++) {
                double dot = 0;
                for (int i = 0; i < din; i++) {
                    dot += xs[r * din + i] * ws[(ex * din + i) * dout + o];
                    dx[r * din + i] += gs[p] * go[p * dout + o] * ws[(ex * din + i) * dout + o];
                    dw[(ex * din + i) * dout + o] += gs[p] * go[p * dout + o] * xs[r * din + i];
                }
                want[p * dout + o] = gs[p] * dot;
                dg[p] += go[p * dout + o] * dot;
            }
        }
        assertClose(out.data(), Tensor.of(want, rows.length, dout), 1e-12, "output");
        assertClose(x.grad(), Tensor.of(dx, n, din), 1e-12, "dx");
        assertClose(w.grad(), Tensor.of(dw, e, din, dout), 1e-12, "dweight");
        assertClose(g.grad(), Tensor.of(dg, rows.length), 1e-12, "dgate");
        assertThat(w.grad().get(2, 0, 0)).as("expert 2 is used and gets gradient").isNotEqualTo(0.0);
    }

    @Test
    void withoutGateEveryPairHasWeightOne() {
        Generator gen = new Generator(2);
        Variable x = Variable.constant(randn(gen, 2, 3));
        Variable w = Variable.constant(randn(gen, 2, 3, 4));
        Tensor out = ExpertMatmul.apply(x, w, null, Tensor.of(new long[] {1}, 1), Tensor.of(new long[] {0}, 1)).data();
        Tensor expected = x.data().narrow(0, 1, 1).matmul(w.data().select(0, 0));
        assertClose(out, expected, 1e-12, "ungated pair");
    }
}
