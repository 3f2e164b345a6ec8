package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * A lookup table: int ids of any shape [...] to rows of the weight [num, dim], giving [..., dim]. Default
 * init N(0, 1) as in PyTorch; language models re-initialise it (see {@link TransformerLM}).
 */
public final class Embedding extends Module {
    private final int numEmbeddings;
    private final int dim;
    private final Parameter weight;

    public Embedding(int numEmbeddings, int dim) {
        this(numEmbeddings, dim, Generator.defaultGenerator());
    }

    public Embedding(int numEmbeddings, int dim, Generator gen) {
        if (numEmbeddings < 1 || dim < 1) {
            throw new IllegalArgumentException("Embedding: sizes must be positive, got num=" + numEmbeddings + " dim="
                    + dim);
        }
        this.numEmbeddings = numEmbeddings;
        this.dim = dim;
        this.weight = registerParameter("weight", Tensor.zeros(numEmbeddings, dim));
        Init.normal(weight, 1.0, gen);
    }

    /**
     * ids (int32 or int64) [...] to [..., dim]. An id outside [0, num) is an IndexOutOfBoundsException naming
     * it and this table's rows; on the GPU the lookup kernel records it and the backend reports it at the next
     * host synchronisation, in the kernel's words.
     */
    public Variable forward(Tensor ids) {
        try {
            return Variable.embedding(weight.variable(), ids);
        } catch (IndexOutOfBoundsException e) {
            // The lookup checks every id anyway: a lookup that succeeds pays nothing for this message.
            IndexOutOfBoundsException named = new IndexOutOfBoundsException("Embedding.forward: ids "
                    + Shape.str(ids.shape()) + " hold an id outside the table's " + numEmbeddings + " rows [0, "
                    + numEmbeddings + "): " + e.getMessage());
            named.initCause(e);
            throw named;
        }
    }

    public Parameter weight() {
        return weight;
    }

    public int numEmbeddings() {
        return numEmbeddings;
    }

    public int dim() {
        return dim;
    }

    @Override
    protected String extraRepr() {
        return numEmbeddings + ", " + dim;
    }
}
