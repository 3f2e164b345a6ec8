package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Casts with to(dtype), element access (item, get, toXArray) and the text form of toString. */
class ConversionTest {

    /** What a cast from double must give, written out per target type. */
    static double castReference(double v, DType to) {
        return switch (to) {
            case FLOAT32 -> (float) v;
            case FLOAT64 -> v;
            case INT32 -> (int) v; // truncation toward zero
            case INT64 -> (long) v;
            case BOOL -> v != 0 ? 1 : 0;
        };
    }

    @Test
    void castsBetweenEveryPairOfDtypesOnEveryLayout() {
        Random rng = new Random(1);
        for (DType from : DType.values()) {
            for (DType to : DType.values()) {
                for (Layout layout : Layout.values()) {
                    int[] shape = {3, 1, 5};
                    double lo = from == DType.BOOL ? 0 : -9;
                    double hi = from == DType.BOOL ? 2 : 9;
                    Tensor x = layout.random(rng, from, shape, lo, hi);
                    double[] v = Elements.read(x);
                    double[] expected = new double[v.length];
                    for (int i = 0; i < v.length; i++) {
                        expected[i] = castReference(v[i], to);
                    }
                    Tensor y = x.to(to);
                    Elements.assertClose(from + " -> " + to + " " + layout, y, to, shape, expected, 0);
                    if (from == to) {
                        assertThat(y).isSameAs(x);
                    } else {
                        assertThat(y.storage()).isNotSameAs(x.storage());
                    }
                }
            }
        }
    }

    @Test
    void castOfSpecialFloatsToIntegersFollowsJava() {
        Tensor x = Tensor.of(new double[] {-0.7, 0.7, 2.5, -2.5, 1e20}, 5);
        assertThat(Elements.readLongs(x.to(DType.INT64))).containsExactly(0, 0, 2, -2, Long.MAX_VALUE);
        assertThat(Elements.readLongs(x.to(DType.INT32))).containsExactly(0, 0, 2, -2, Integer.MAX_VALUE);
        assertThat(Elements.readLongs(Tensor.of(new float[] {Float.NaN, 0, -0.0f}, 3).to(DType.BOOL)))
                .containsExactly(1, 0, 0);
    }

    @Test
    void toDeviceOfTheSameDeviceIsIdentity() {
        Tensor x = Tensor.ones(2);
        assertThat(x.to(Device.CPU)).isSameAs(x);
    }

    @Test
    void elementAccessReadsThroughStrides() {
        Tensor x = Tensor.of(new double[] {0, 1, 2, 3, 4, 5}, 2, 3).mT(); // [[0, 3], [1, 4], [2, 5]]
        assertThat(x.get(2, 1)).isEqualTo(5);
        assertThat(x.get(0, 1)).isEqualTo(3);
        assertThat(x.get(-1, -2)).isEqualTo(2);
        assertThat(x.select(0, 1).select(0, 1).item()).isEqualTo(4);
        assertThat(x.toDoubleArray()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(x.toFloatArray()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(x.toIntArray()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(x.toLongArray()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(Tensor.of(new long[] {(1L << 62) + 1}, 1).toLongArray()).containsExactly((1L << 62) + 1);
    }

    @Test
    void allCloseComparesWithToleranceAndRejectsNaNAndShapeMismatch() {
        Tensor a = Tensor.of(new double[] {1, 2}, 2);
        assertThat(a.allClose(Tensor.of(new double[] {1 + 1e-9, 2}, 2), 0, 1e-8)).isTrue();
        assertThat(a.allClose(Tensor.of(new double[] {1.1, 2}, 2), 0, 1e-8)).isFalse();
        assertThat(a.allClose(Tensor.of(new double[] {1.1, 2.2}, 2), 0.11, 0)).isTrue();
        assertThat(a.allClose(a.view(1, 2), 1, 1)).isFalse();
        Tensor nan = Tensor.of(new double[] {Double.NaN}, 1);
        assertThat(nan.allClose(nan, 1, 1)).isFalse();
    }

    // ---- toString -------------------------------------------------------------------------------

    @Test
    void toStringNestsBracketsAndNamesShapeAndDtype() {
        assertThat(Tensor.of(new float[] {1, 2.5f, -3, 4, 5, 6}, 2, 3).toString())
                .isEqualTo("tensor([[1.0000, 2.5000, -3.0000], [4.0000, 5.0000, 6.0000]], shape=[2, 3], dtype=float32)");
        assertThat(Tensor.of(new long[] {1, 2, 3, 4}, 2, 2).mT().toString())
                .isEqualTo("tensor([[1, 3], [2, 4]], shape=[2, 2], dtype=int64)");
        assertThat(Tensor.of(new boolean[] {true, false}, 2).toString())
                .isEqualTo("tensor([true, false], shape=[2], dtype=bool)");
        assertThat(Tensor.scalar(0.5, DType.FLOAT64, Device.CPU).toString())
                .isEqualTo("tensor(0.5000, shape=[], dtype=float64)");
        assertThat(Tensor.zeros(0, 3).toString()).isEqualTo("tensor([], shape=[0, 3], dtype=float32)");
    }

    @Test
    void toStringSwitchesToScientificNotationWhereFourDecimalsWouldMislead() {
        assertThat(Tensor.of(new float[] {1e-6f, 0.5f}, 2).toString())
                .isEqualTo("tensor([1.0000e-06, 5.0000e-01], shape=[2], dtype=float32)");
        assertThat(Tensor.of(new double[] {1e10, -2}, 2).toString())
                .isEqualTo("tensor([1.0000e+10, -2.0000e+00], shape=[2], dtype=float64)");
        assertThat(Tensor.of(new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0, 1.5f}, 5)
                .toString()).as("specials do not decide the notation")
                .isEqualTo("tensor([nan, inf, -inf, 0.0000, 1.5000], shape=[5], dtype=float32)");
    }

    @Test
    void toStringElidesTheMiddleOfLargeTensors() {
        String s = Tensor.arange(2000).toString();
        assertThat(s).isEqualTo("tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=[2000], dtype=int64)");
        String m = Tensor.arange(1100).view(100, 11).toString();
        assertThat(m).startsWith("tensor([[0, 1, 2, ..., 8, 9, 10], [11, 12, 13, ..., 19, 20, 21], [22,")
                .contains("[22, 23, 24, ..., 30, 31, 32], ..., [1067, 1068, 1069, ..., 1075, 1076, 1077], [1078,")
                .endsWith("[1089, 1090, 1091, ..., 1097, 1098, 1099]], shape=[100, 11], dtype=int64)");
        // a small tensor is printed in full
        assertThat(Tensor.arange(7).toString()).isEqualTo("tensor([0, 1, 2, 3, 4, 5, 6], shape=[7], dtype=int64)");
    }
}
