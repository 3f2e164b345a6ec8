package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Cases where Ladon once disagreed with NumPy and PyTorch, found by comparing random ops with both: each
 * now gives the peers' answer.
 */
class PeerSemanticsTest {
    @Test
    void int64ToInt32KeepsTheLow32BitsInCastsAndInMixedOps() {
        Tensor big = Tensor.of(new long[] {4294967297L, 1L << 40, -5000000000L}, 3);
        assertThat(big.to(DType.INT32).toLongArray()).containsExactly(1, 0, -705032704);
        Tensor ints = Tensor.of(new int[] {1, 2}, 2);
        assertThat(ints.addInPlace(Tensor.of(new long[] {4294967296L}, 1)).toLongArray()).containsExactly(1, 2);
    }

    @Test
    void int64ToFloat32RoundsOnceNotThroughADouble() {
        long v = (1L << 60) + (1L << 36) + 1;
        Tensor x = Tensor.of(new long[] {v}, 1);
        assertThat(x.to(DType.FLOAT32).toDoubleArray()[0]).isEqualTo((double) (float) v);
        assertThat(x.eq(Tensor.of(new float[] {0x1p60f}, 1)).toLongArray()).containsExactly(0);
    }

    @Test
    void powOfOneIsOneForEveryExponentAsInC99() {
        double inf = Double.POSITIVE_INFINITY;
        Tensor base = Tensor.of(new float[] {1, -1, 1, -1}, 4);
        Tensor exponent = Tensor.of(new float[] {Float.NaN, (float) inf, (float) -inf, (float) -inf}, 4);
        assertThat(base.pow(exponent).toDoubleArray()).containsExactly(1, 1, 1, 1);
        assertThat(Tensor.of(new double[] {2}, 1).pow(Tensor.of(new double[] {Double.NaN}, 1)).toDoubleArray()[0])
                .isNaN();
    }

    @Test
    void softmaxAndLogSoftmaxKeepTheirPrecisionWhenTheValuesAreLarge() {
        assertThat(Tensor.of(new float[] {1e4f, 1e4f}, 2).logSoftmax(0).toDoubleArray())
                .containsExactly((float) Math.log(0.5), (float) Math.log(0.5));
        assertThat(Tensor.of(new float[] {1e8f, 1e8f, 1e8f}, 3).logSoftmax(0).toDoubleArray()[0])
                .isEqualTo((float) Math.log(1.0 / 3));
        assertThat(Tensor.of(new double[] {1e17, 1e17}, 2).softmax(0).toDoubleArray()).containsExactly(0.5, 0.5);
        assertThat(Tensor.scalar(Double.NaN).softmax(0).item()).isNaN();
        assertThat(Tensor.scalar(Double.POSITIVE_INFINITY).logSoftmax(0).item()).isNaN();
        assertThat(Tensor.scalar(3).softmax(0).item()).isEqualTo(1.0);
    }

    @Test
    void geluOfTheLargestFloatsIsTheirValueNotInfinity() {
        assertThat(Tensor.of(new float[] {3e38f, -3e38f}, 2).gelu().toDoubleArray()).containsExactly(3e38f, -0.0);
    }

    @Test
    void boolTensorsFilledWithTrueOrFalseStayBool() {
        Tensor mask = Tensor.of(new boolean[] {true, false}, 2);
        assertThat(mask.maskedFill(mask, 0).dtype()).isEqualTo(DType.BOOL);
        assertThat(Tensor.of(new boolean[] {true, true, true, true}, 2, 2).tril(0).dtype()).isEqualTo(DType.BOOL);
    }

    @Test
    void emptyViewsWhoseOffsetIsPastTheStorageReadAsEmpty() {
        Tensor empty = Tensor.zeros(DType.FLOAT64, 2, 0, 4).select(0, 1);
        assertThat(empty.toDoubleArray()).isEmpty();
        assertThat(Tensor.zeros(DType.INT64, 2, 0, 4).select(0, 1).sum().item()).isZero();
        assertThat(Tensor.zeros(DType.FLOAT64, 3, 1, 0, 3).select(0, 2).indexSelect(0, Tensor.of(new long[] {0, 0}, 2))
                .shape()).containsExactly(2, 0, 3);
    }

    @Test
    void topkOfNothingAndPiecesOfAnEmptyDim() {
        assertThat(Tensor.scalar(1).topk(0, 0, true).values().shape()).containsExactly(0);
        List<Tensor> split = Tensor.zeros(0, 3).split(2, 0);
        assertThat(split).hasSize(1);
        assertThat(split.get(0).shape()).containsExactly(0, 3);
        assertThat(Tensor.zeros(0, 3).chunk(2, 0)).hasSize(2);
    }

    @Test
    void anInPlaceOpReadingItsOwnMemoryInAnotherLayoutSeesTheOldValues() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
        x.addInPlace(x.mT());
        assertThat(x.toDoubleArray()).containsExactly(2, 6, 10, 6, 10, 14, 10, 14, 18);
        Tensor y = Tensor.of(new double[] {1, 2, 3, 4}, 4);
        y.narrow(0, 1, 3).copyFrom(y.narrow(0, 0, 3));
        assertThat(y.toDoubleArray()).containsExactly(1, 1, 2, 3);
    }
}
