package dev.ladon.tensor.backend;

/** Reductions over a set of dimensions. ARGMAX and ARGMIN reduce exactly one dimension and give int64 indices. */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN, LOGSUMEXP, ARGMAX, ARGMIN
}
