package dev.ladon.autograd;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.Arrays;

/**
 * Gather/scatter-add and index-select/index-add, each the other's gradient: what gather reads, its
 * backward scatter-adds; what index-select picks, its backward index-adds. Index tensors are saved (and
 * version-checked) like any other tensor a backward needs.
 */
final class IndexOps {
    private IndexOps() {
    }

    private static Variable zerosLike(Variable g, int[] shape) {
        return Variable.constant(Tensor.zeros(g.dtype(), g.device(), shape));
    }

    static Variable gather(Variable x, int dim, Tensor index) {
        Tensor result = x.data().gather(dim, index);
        int d = Shape.normalizeDim("gather", dim, x.dim());
        int[] shape = x.shape();
        return Node.record("gather", result, new Variable[] {x}, new Variable[] {Variable.constant(index)}, false,
                (g, s, needs) -> new Variable[] {zerosLike(g, shape).scatterAdd(d, s[0].data(), g)});
    }

    static Variable scatterAdd(Variable x, int dim, Tensor index, Variable src) {
        Tensor result = x.data().scatterAdd(dim, index, src.data());
        int d = Shape.normalizeDim("scatterAdd", dim, x.dim());
        return Node.record("scatterAdd", result, new Variable[] {x, src}, new Variable[] {Variable.constant(index)},
                false, (g, s, needs) -> new Variable[] {
                        needs[0] ? g : null,
                        needs[1] ? g.gather(d, s[0].data()) : null});
    }

    static Variable indexSelect(Variable x, int dim, Tensor index) {
        Tensor result = x.data().indexSelect(dim, index);
        int d = Shape.normalizeDim("indexSelect", dim, x.dim());
        int[] shape = x.shape();
        return Node.record("indexSelect", result, new Variable[] {x}, new Variable[] {Variable.constant(index)}, false,
                (g, s, needs) -> new Variable[] {zerosLike(g, shape).indexAdd(d, s[0].data(), g.contiguous())});
    }

    static Variable indexAdd(Variable x, int dim, Tensor index, Variable src) {
        Tensor result = x.data().indexAdd(dim, index, src.data());
        int d = Shape.normalizeDim("indexAdd", dim, x.dim());
        return Node.record("indexAdd", result, new Variable[] {x, src}, new Variable[] {Variable.constant(index)},
                false, (g, s, needs) -> new Variable[] {
                        needs[0] ? g : null,
                        needs[1] ? g.indexSelect(d, s[0].data()) : null});
    }

    /** An index-select of rows: the gradient of the table adds each looked-up row's gradient back. */
    static Variable embedding(Variable weight, Tensor ids) {
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("embedding: weight must be [vocab, dim], got " + Shape.str(weight.shape()));
        }
        Tensor.requireIndex("embedding", ids);
        int[] out = Arrays.copyOf(ids.shape(), ids.dim() + 1);
        out[ids.dim()] = weight.size(1);
        return weight.indexSelect(0, ids.reshape(-1)).view(out);
    }

    /** The values are a gather at the top-k indices, so their gradient is gather's. */
    static Variable.TopK topk(Variable x, int k, int dim, boolean largest) {
        Tensor indices = x.data().topk(k, dim, largest).indices();
        return new Variable.TopK(x.gather(dim, indices), indices);
    }
}
