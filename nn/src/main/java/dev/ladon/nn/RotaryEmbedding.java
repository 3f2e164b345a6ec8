package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * Rotary position embedding (Su et al., 2021) in the "rotate-half" layout, on the first
 * {@code rotated} channels of each head; the other channels pass unchanged (SwitchHead spec section 2,
 * RoPE variant: the first half of d_h). With n rotated channels and x1, x2 their two halves,
 * channel pairs (c, c + n/2) are rotated by the angle pos * theta_c, theta_c = base^(-2c/n):
 * [x1 cos - x2 sin, x2 cos + x1 sin]. Queries sit at positions offset by the memory length.
 */
public final class RotaryEmbedding {
    private final int headDim;
    private final int rotated;
    private final double base;
    // The cos/sin tables of the last call, reused by the next one of the same length and placement.
    private Tensor cachedCos;
    private Tensor cachedSin;
    private int cachedLength = -1;
    private int cachedOffset = -1;

    /**
     * @param headDim  channels per head
     * @param fraction share of channels to rotate; the count is rounded down to an even number
     * @param base     the frequency base, 10000 in most models
     */
    public RotaryEmbedding(int headDim, double fraction, double base) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("RotaryEmbedding: fraction must be in (0, 1], got " + fraction);
        }
        this.headDim = headDim;
        this.rotated = 2 * (int) Math.floor(fraction * headDim / 2);
        this.base = base;
        if (rotated == 0) {
            throw new IllegalArgumentException("RotaryEmbedding: rotating " + fraction + " of " + headDim
                    + " channels leaves no channel pair to rotate");
        }
    }

    /** The number of rotated channels (even). */
    public int rotatedChannels() {
        return rotated;
    }

    /** x [B, H, T, headDim] at positions offset .. offset + T - 1, rotated; same shape. */
    public Variable apply(Variable x, int offset) {
        if (x.dim() != 4 || x.size(3) != headDim) {
            throw new IllegalArgumentException("RotaryEmbedding.apply: expected [B, H, T, " + headDim + "], got "
                    + Shape.str(x.shape()));
        }
        int t = x.size(2);
        int half = rotated / 2;
        tables(t, offset, x.dtype(), x.device());
        Variable cos = Variable.constant(cachedCos);
        Variable sin = Variable.constant(cachedSin);
        Variable x1 = x.narrow(3, 0, half);
        Variable x2 = x.narrow(3, half, half);
        Variable r1 = x1.mul(cos).sub(x2.mul(sin));
        Variable r2 = x2.mul(cos).add(x1.mul(sin));
        if (rotated == headDim) {
            return Variable.cat(java.util.List.of(r1, r2), 3);
        }
        return Variable.cat(java.util.List.of(r1, r2, x.narrow(3, rotated, headDim - rotated)), 3);
    }

    /** Fills the cache with cos and sin of pos * theta_c, [T, n/2], for positions offset .. offset + T - 1. */
    private void tables(int length, int offset, DType dtype, Device device) {
        if (cachedCos != null && length == cachedLength && offset == cachedOffset && cachedCos.dtype() == dtype
                && cachedCos.device().equals(device)) {
            return;
        }
        int half = rotated / 2;
        double[] cos = new double[length * half];
        double[] sin = new double[length * half];
        for (int p = 0; p < length; p++) {
            for (int c = 0; c < half; c++) {
                double angle = (offset + p) * Math.pow(base, -2.0 * c / rotated);
                cos[p * half + c] = Math.cos(angle);
                sin[p * half + c] = Math.sin(angle);
            }
        }
        cachedCos = Tensor.of(cos, length, half).to(dtype).to(device);
        cachedSin = Tensor.of(sin, length, half).to(dtype).to(device);
        cachedLength = length;
        cachedOffset = offset;
    }

    @Override
    public String toString() {
        return "RotaryEmbedding(rotated=" + rotated + " of " + headDim + ", base=" + base + ")";
    }
}
