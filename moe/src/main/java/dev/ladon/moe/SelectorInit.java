package dev.ladon.moe;

import dev.ladon.nn.Parameter;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;

/**
 * The selector initialisation shared by SwitchHead, MoA and sigma-MoE (switchhead.md section 5,
 * sigma-moe.md section 4): draw N(0, std^2), divide every row by its L2 norm, then scale everything by
 * (std of the draw) / (std after the division). All rows end with the same norm, so no expert starts out
 * favoured, while the overall spread stays what the plain draw had.
 */
final class SelectorInit {
    private SelectorInit() {
    }

    /** Fills the 2-D parameter [rows, d] as described in the class comment. */
    static void equalNormRows(Parameter p, double std, Generator gen) {
        int rows = p.shape()[0];
        int cols = p.numel() / rows;
        double[] w = Tensor.normal(0, std, gen, DType.FLOAT64, Device.CPU, rows, cols).toDoubleArray();
        double before = standardDeviation(w);
        for (int r = 0; r < rows; r++) {
            double sq = 0;
            for (int c = 0; c < cols; c++) {
                sq += w[r * cols + c] * w[r * cols + c];
            }
            double norm = Math.sqrt(sq);
            for (int c = 0; c < cols; c++) {
                w[r * cols + c] /= norm;
            }
        }
        double factor = before / standardDeviation(w);
        for (int i = 0; i < w.length; i++) {
            w[i] *= factor;
        }
        Tensor value = Tensor.of(w, p.shape()).to(p.data().dtype()).to(p.data().device());
        p.data().copyFrom(value);
    }

    private static double standardDeviation(double[] v) {
        double mean = 0;
        for (double x : v) {
            mean += x;
        }
        mean /= v.length;
        double sq = 0;
        for (double x : v) {
            sq += (x - mean) * (x - mean);
        }
        return Math.sqrt(sq / Math.max(1, v.length - 1));
    }
}
