package dev.ladon.autograd;

import static dev.ladon.autograd.ReductionOps.sumToShape;

import dev.ladon.tensor.Tensor;

/** Matrix product and its gradient: dA = dC B^T, dB = A^T dC, each summed over broadcast batch dims. */
final class MatmulOps {
    private MatmulOps() {
    }

    static Variable matmul(Variable a, Variable b) {
        if (a.dim() == 0 || b.dim() == 0) {
            a.data().matmul(b.data()); // throws the tensor op's error naming both shapes
        }
        if (a.dim() == 1 || b.dim() == 1) {
            // NumPy's rule: a 1-D operand becomes a row (left) or column (right), removed again afterwards.
            Variable out = matmul(a.dim() == 1 ? a.unsqueeze(0) : a, b.dim() == 1 ? b.unsqueeze(1) : b);
            if (a.dim() == 1) {
                out = out.squeeze(-2);
            }
            if (b.dim() == 1) {
                out = out.squeeze(-1);
            }
            return out;
        }
        int[] sa = a.shape();
        int[] sb = b.shape();
        Tensor result = a.data().matmul(b.data());
        return Node.record("matmul", result, new Variable[] {a, b}, new Variable[] {a, b}, false,
                (g, s, needs) -> new Variable[] {
                        needs[0] ? sumToShape(g.matmul(s[1].mT()), sa) : null,
                        needs[1] ? sumToShape(s[0].mT().matmul(g), sb) : null});
    }
}
