package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.function.BinaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The float32 vector paths of binary ops with a broadcast operand on either side (x + bias, bias - x,
 * 2 / x), against a scalar loop, on row lengths that leave a tail after the last full vector. The
 * surefire run with {@code ladon.cpu.vectorBits=128} repeats them with narrow vectors.
 */
class FloatElementwisePathsTest {
    private record Op(String name, BinaryOperator<Tensor> tensors, BinaryOperator<Float> scalars) {
    }

    private static final Op[] OPS = {
        new Op("add", Tensor::add, (p, q) -> p + q),
        new Op("sub", Tensor::sub, (p, q) -> p - q),
        new Op("mul", Tensor::mul, (p, q) -> p * q),
        new Op("div", Tensor::div, (p, q) -> p / q),
        new Op("maximum", Tensor::maximum, Math::max),
        new Op("minimum", Tensor::minimum, Math::min),
    };

    @Test
    void aBroadcastOperandOnEitherSideMatchesAScalarLoop() {
        Generator gen = new Generator(21);
        for (int cols : new int[] {1, 7, 37}) {
            int rows = 5;
            float[] x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, rows * cols).toFloatArray();
            float[] row = Tensor.randn(gen, DType.FLOAT32, Device.CPU, cols).toFloatArray();
            x[0] = Float.NaN; // maximum and minimum propagate NaN like Math.max
            Tensor tx = Tensor.of(x, rows, cols);
            Tensor trow = Tensor.of(row, cols);
            Tensor tscalar = Tensor.of(new float[] {2.5f}, 1);
            for (Op op : OPS) {
                float[] right = op.tensors().apply(tx, trow).toFloatArray();
                float[] left = op.tensors().apply(trow, tx).toFloatArray();
                float[] scalarLeft = op.tensors().apply(tscalar, tx).toFloatArray();
                for (int i = 0; i < rows * cols; i++) {
                    float r = row[i % cols];
                    assertThat(right[i]).as("%s x op row, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(x[i], r));
                    assertThat(left[i]).as("%s row op x, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(r, x[i]));
                    assertThat(scalarLeft[i]).as("%s 2.5 op x, cols=%d, i=%d", op.name(), cols, i)
                            .isEqualTo(op.scalars().apply(2.5f, x[i]));
                }
            }
        }
    }
}
