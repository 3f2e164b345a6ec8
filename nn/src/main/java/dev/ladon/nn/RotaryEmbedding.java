package dev.ladon.nn;

import dev.ladon.autograd.Function;
import dev.ladon.autograd.FunctionContext;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;

/**
 * Rotary position embedding (Su et al., 2021) in the "rotate-half" layout, on the first
 * {@code rotated} channels of each head; the other channels pass unchanged (SwitchHead spec section 2,
 * RoPE variant: the first half of d_h). With n rotated channels and x1, x2 their two halves,
 * channel pairs (c, c + n/2) are rotated by the angle pos * theta_c, theta_c = base^(-2c/n):
 * [x1 cos - x2 sin, x2 cos + x1 sin]. Queries sit at positions offset by the memory length. The rotation
 * runs as one fused op, so it is once-differentiable (a second derivative through it fails with a clear error).
 */
public final class RotaryEmbedding {
    private final int headDim;
    private final int rotated;
    private final double base;
    // The cos/sin tables of the last call, reused by the next one of the same length and placement.
    private Tensor cachedCos;
    private Tensor cachedSin;
    private Tensor cachedNegativeSin;
    private int cachedLength = -1;
    private int cachedOffset = -1;

    /**
     * @param headDim  channels per head, &gt;= 1
     * @param fraction share of channels to rotate, in (0, 1]; the count is rounded down to an even number
     * @param base     the frequency base, finite and &gt; 0 (10000 in most models)
     */
    public RotaryEmbedding(int headDim, double fraction, double base) {
        if (headDim < 1) {
            throw new IllegalArgumentException("RotaryEmbedding: headDim must be >= 1, got " + headDim);
        }
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("RotaryEmbedding: fraction must be in (0, 1], got " + fraction);
        }
        // theta_c = base^(-2c/n): a base <= 0 or infinite makes NaN or infinite angles.
        if (!(base > 0) || Double.isInfinite(base)) {
            throw new IllegalArgumentException("RotaryEmbedding: base must be finite and > 0, got " + base);
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

    /** x [B, H, T, headDim] at positions offset .. offset + T - 1 (offset &gt;= 0), rotated; same shape. */
    public Variable apply(Variable x, int offset) {
        if (x.dim() != 4 || x.size(3) != headDim) {
            throw new IllegalArgumentException("RotaryEmbedding.apply: expected [B, H, T, " + headDim + "], got "
                    + Shape.str(x.shape()));
        }
        if (offset < 0) {
            throw new IllegalArgumentException("RotaryEmbedding.apply: offset must be >= 0, got " + offset
                    + " (positions start at offset)");
        }
        tables(x.size(2), offset, x.dtype(), x.device());
        return new Rotation(cachedCos, cachedSin, cachedNegativeSin).apply(x);
    }

    /**
     * The tables that rotate attention's queries at positions keys - queries .. keys - 1 and its keys at
     * 0 .. keys - 1, for {@link AttentionFunction#attention(Variable, Variable, Variable, Variable,
     * FusedOps.AttentionRotation, double, boolean)}: the same as {@code apply(q, keys - queries)} and
     * {@code apply(k, 0)} before attention, but the rotated q and k need never be written out.
     */
    public FusedOps.AttentionRotation attentionRotation(int queries, int keys, DType dtype, Device device) {
        if (queries < 0 || keys < queries) {
            throw new IllegalArgumentException("RotaryEmbedding.attentionRotation: need 0 <= queries <= keys, got "
                    + queries + " queries and " + keys + " keys");
        }
        tables(keys, 0, dtype, device);
        int first = keys - queries;
        return new FusedOps.AttentionRotation(cachedCos.narrow(0, first, queries), cachedSin.narrow(0, first, queries),
                cachedCos, cachedSin);
    }

    /**
     * The rotation as one fused op ({@link FusedOps#rotary}). It is linear in x and orthogonal per channel pair,
     * so its gradient is the inverse rotation of the output gradient: the same op with -sin.
     */
    private static final class Rotation extends Function {
        private final Tensor cos;
        private final Tensor sin;
        private final Tensor negativeSin;

        Rotation(Tensor cos, Tensor sin, Tensor negativeSin) {
            this.cos = cos;
            this.sin = sin;
            this.negativeSin = negativeSin;
        }

        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            return FusedOps.rotary(in[0], cos, sin);
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor gradOutput) {
            return new Tensor[] {FusedOps.rotary(gradOutput, cos, negativeSin)};
        }

        @Override
        public String name() {
            return "rotaryEmbedding";
        }
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
        // The tables outlive a training step's workspace scope, so they are made outside it.
        cachedCos = Workspace.outside(() -> Tensor.of(cos, length, half).to(dtype).to(device));
        cachedSin = Workspace.outside(() -> Tensor.of(sin, length, half).to(dtype).to(device));
        cachedNegativeSin = Workspace.outside(cachedSin::neg);
        cachedLength = length;
        cachedOffset = offset;
    }

    @Override
    public String toString() {
        return "RotaryEmbedding(rotated=" + rotated + " of " + headDim + ", base=" + base + ")";
    }
}
