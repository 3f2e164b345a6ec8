package dev.ladon.nn;

import dev.ladon.autograd.GradMode;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.Arrays;

/**
 * Picks the next token from a language model's logits: greedy at temperature 0, otherwise a draw from
 * softmax(logits / temperature) restricted to the {@code topK} most likely tokens (all when topK is 0).
 * Draws come from a counter-based {@link Generator}, so a seed reproduces a generation.
 *
 * @param temperature 0 for greedy decoding, else &gt; 0
 * @param topK        how many of the most likely tokens stay candidates; 0 for all
 */
public record TokenSampler(double temperature, int topK) {
    public TokenSampler {
        if (!(temperature >= 0) || topK < 0) {
            throw new IllegalArgumentException("TokenSampler: need temperature >= 0 and topK >= 0, got " + temperature
                    + " and " + topK);
        }
    }

    /**
     * The next token for logits [V], V &gt;= 1. A logit is finite or -infinity (a masked token); at least one is
     * finite.
     */
    public int next(Tensor logits, Generator gen) {
        if (logits.dim() != 1 || logits.size(0) == 0) {
            throw new IllegalArgumentException("TokenSampler.next: expected logits [V] with V >= 1, got "
                    + Shape.str(logits.shape()));
        }
        double[] z = logits.toDoubleArray();
        boolean anyFinite = false;
        for (int i = 0; i < z.length; i++) {
            // NaN would sort as the largest logit, +infinity makes the softmax inf / inf.
            if (Double.isNaN(z[i]) || z[i] == Double.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("TokenSampler.next: logit " + i + " of " + z.length + " is " + z[i]
                        + " (a logit must be finite or -Infinity)");
            }
            anyFinite |= z[i] != Double.NEGATIVE_INFINITY;
        }
        if (!anyFinite) {
            throw new IllegalArgumentException("TokenSampler.next: all " + z.length
                    + " logits are -Infinity, no token can be drawn");
        }
        Integer[] order = new Integer[z.length];
        for (int i = 0; i < z.length; i++) {
            order[i] = i;
        }
        // Most likely first; ties keep the lower id first, so greedy decoding is deterministic.
        Arrays.sort(order, (a, b) -> z[a] != z[b] ? Double.compare(z[b], z[a]) : Integer.compare(a, b));
        if (temperature == 0) {
            return order[0];
        }
        int candidates = topK == 0 ? z.length : Math.min(topK, z.length);
        double[] p = new double[candidates];
        double sum = 0;
        for (int c = 0; c < candidates; c++) {
            p[c] = Math.exp((z[order[c]] - z[order[0]]) / temperature);
            sum += p[c];
        }
        double u = Tensor.rand(gen, DType.FLOAT64, Device.CPU, 1).item() * sum;
        for (int c = 0; c < candidates; c++) {
            u -= p[c];
            if (u < 0) {
                return order[c];
            }
        }
        return order[candidates - 1];
    }

    /**
     * Extends {@code prompt} by {@code count} tokens, each predicted from the last {@code window} tokens (the
     * model's training context) without memory and without recording a graph. The model is put in eval mode.
     * Returns the new tokens only.
     */
    public int[] generate(TransformerLM model, int[] prompt, int count, int window, Generator gen) {
        if (prompt.length == 0 || window < 1 || count < 0) {
            throw new IllegalArgumentException("generate: need a non-empty prompt, window >= 1 and count >= 0, got "
                    + prompt.length + " tokens, window " + window + ", count " + count);
        }
        model.eval();
        Device device = model.embedding().weight().data().device();
        int[] tokens = Arrays.copyOf(prompt, prompt.length + count);
        // Once the window is full, each token's forward reuses the memory of the one before.
        Workspace workspace = new Workspace("generate");
        try (var ng = GradMode.noGrad()) {
            for (int n = prompt.length; n < tokens.length; n++) {
                try (Workspace.Scope scope = workspace.open()) {
                    int start = Math.max(0, n - window);
                    Tensor ids = Tensor.of(Arrays.copyOfRange(tokens, start, n), 1, n - start).to(device);
                    Tensor logits = model.forward(ids).data();
                    tokens[n] = next(logits.select(0, 0).select(0, n - start - 1), gen);
                }
            }
        }
        return Arrays.copyOfRange(tokens, prompt.length, tokens.length);
    }
}
