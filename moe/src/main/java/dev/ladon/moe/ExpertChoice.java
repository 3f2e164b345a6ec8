package dev.ladon.moe;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;

/**
 * The routing of one expert layer as index tensors for {@link ExpertMatmul}. The choice is
 * {@code indices} [N, H, k]: for token n and head (expert group) h, the k chosen experts of that group,
 * each in 0..E-1. Pairs p = (n * H + h) * k + r are laid out token-major, so a [P, D] result viewed as
 * [N, H * k, D] sums over heads and choices with one reduction.
 *
 * @param tokenRows p to n: the row of a [N, Din] input (each token feeds all its heads)
 * @param pairRows  p to n * H + h: the row of a [N * H, Din] per-head input
 * @param experts   p to h * E + e: the flat expert index into an [H * E, Din, Dout] weight table
 */
record ExpertChoice(Tensor tokenRows, Tensor pairRows, Tensor experts, int tokens, int groups, int k) {

    /** indices [N, H, k] integer, each in [0, E). */
    static ExpertChoice of(Tensor indices, int expertsPerGroup, Device device) {
        int n = indices.size(0);
        int h = indices.size(1);
        int k = indices.size(2);
        long[] chosen = indices.contiguous().to(Device.CPU).to(dev.ladon.tensor.DType.INT64).toLongArray();
        int pairs = n * h * k;
        long[] tokenRows = new long[pairs];
        long[] pairRows = new long[pairs];
        long[] experts = new long[pairs];
        for (int p = 0; p < pairs; p++) {
            int group = (p / k) % h;
            tokenRows[p] = p / (h * k);
            pairRows[p] = p / k;
            experts[p] = (long) group * expertsPerGroup + chosen[p];
        }
        return new ExpertChoice(Tensor.of(tokenRows, pairs).to(device), Tensor.of(pairRows, pairs).to(device),
                Tensor.of(experts, pairs).to(device), n, h, k);
    }

    int pairs() {
        return tokens * groups * k;
    }
}
