package dev.ladon.nn;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;

/**
 * The sinusoidal position encoding of Transformer-XL's relative attention: for a distance Delta,
 * PE(Delta)[2m] = sin(Delta w_m) and PE(Delta)[2m + 1] = cos(Delta w_m), w_m = 10000^(-2m / dim)
 * (interleaved sin/cos, SwitchHead spec section 2).
 */
public final class SinusoidalEncoding {
    private SinusoidalEncoding() {
    }

    /**
     * The encodings of the distances a query can see among {@code keys} keys: row r holds
     * PE(r - (keys - 1)), so row 0 is distance -(keys - 1) and the last row distance 0. This is the row
     * order of the relative term of {@link AttentionFunction}. Returns [keys, dim].
     */
    public static Tensor relative(int keys, int dim, DType dtype, Device device) {
        double[] pe = new double[keys * dim];
        for (int r = 0; r < keys; r++) {
            double delta = r - (keys - 1);
            for (int c = 0; c < dim; c++) {
                int m = c / 2;
                double angle = delta * Math.pow(10000.0, -2.0 * m / dim);
                pe[r * dim + c] = c % 2 == 0 ? Math.sin(angle) : Math.cos(angle);
            }
        }
        return Tensor.of(pe, keys, dim).to(dtype).to(device);
    }
}
