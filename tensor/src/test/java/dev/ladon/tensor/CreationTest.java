package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Factories: zeros, ones, full, scalar, arange, eye and Tensor.of over every host array type. */
class CreationTest {

    @Test
    void zerosOnesAndFullFillEveryElementInTheRequestedDtype() {
        for (DType dtype : DType.values()) {
            Tensor z = Tensor.zeros(dtype, 2, 3);
            Tensor o = Tensor.ones(dtype, Device.CPU, 4);
            Tensor f = Tensor.full(dtype == DType.BOOL ? 1 : 7, dtype, Device.CPU, 3, 1, 2);
            assertThat(z.dtype()).isEqualTo(dtype);
            assertThat(z.shape()).containsExactly(2, 3);
            assertThat(Elements.read(z)).containsOnly(0.0);
            assertThat(o.dtype()).isEqualTo(dtype);
            assertThat(Elements.read(o)).hasSize(4).containsOnly(1.0);
            assertThat(f.shape()).containsExactly(3, 1, 2);
            assertThat(Elements.read(f)).hasSize(6).containsOnly(dtype == DType.BOOL ? 1.0 : 7.0);
        }
        assertThat(Tensor.zeros(3).dtype()).isEqualTo(DType.FLOAT32);
        assertThat(Tensor.ones(2, 2).dtype()).isEqualTo(DType.FLOAT32);
        assertThat(Elements.read(Tensor.full(-0.5, 2))).containsExactly(-0.5, -0.5);
        assertThat(Tensor.zeros(0, 4).numel()).isZero();
    }

    @Test
    void fullRoundsToTheDtype() {
        assertThat(Elements.readLongs(Tensor.full(2.9, DType.INT32, Device.CPU, 2))).containsExactly(2, 2);
        assertThat(Elements.read(Tensor.full(0.1, DType.FLOAT32, Device.CPU, 1))).containsExactly((double) 0.1f);
    }

    @Test
    void scalarIsA0DimTensorWithOneElement() {
        Tensor s = Tensor.scalar(2.5);
        assertThat(s.shape()).isEmpty();
        assertThat(s.dim()).isZero();
        assertThat(s.numel()).isEqualTo(1);
        assertThat(s.item()).isEqualTo(2.5);
        assertThat(Tensor.scalar(3, DType.INT64, Device.CPU).dtype()).isEqualTo(DType.INT64);
    }

    @Test
    void arangeCountsFromZeroOrFromStartByStep() {
        Tensor a = Tensor.arange(5);
        assertThat(a.dtype()).isEqualTo(DType.INT64);
        assertThat(Elements.readLongs(a)).containsExactly(0, 1, 2, 3, 4);
        assertThat(Tensor.arange(0).shape()).containsExactly(0);
        Tensor b = Tensor.arange(1, 2, 0.25, DType.FLOAT64);
        assertThat(Elements.read(b)).containsExactly(1, 1.25, 1.5, 1.75);
        Tensor c = Tensor.arange(5, -1, -2, DType.INT32);
        assertThat(c.dtype()).isEqualTo(DType.INT32);
        assertThat(Elements.readLongs(c)).containsExactly(5, 3, 1);
        assertThat(Tensor.arange(0, 1, 0.3, DType.FLOAT32).numel()).isEqualTo(4); // 0, 0.3, 0.6, 0.9
        assertThat(Tensor.arange(3, 3, 1, DType.FLOAT32).numel()).isZero();
        assertThat(Tensor.arange(3, 0, 1, DType.FLOAT32).numel()).isZero();
        assertThatThrownBy(() -> Tensor.arange(0, Double.POSITIVE_INFINITY, 1, DType.FLOAT32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("arange");
        assertThatThrownBy(() -> Tensor.arange(0, 1e12, 1, DType.FLOAT32)).hasMessageContaining("more than a tensor holds");
    }

    @Test
    void randomFillsRefuseParametersThatDescribeNoDistribution() {
        Generator gen = new Generator(1);
        assertThatThrownBy(() -> Tensor.normal(0, -1, gen, DType.FLOAT32, Device.CPU, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("normal").hasMessageContaining("std");
        assertThatThrownBy(() -> Tensor.normal(0, Double.NaN, gen, DType.FLOAT32, Device.CPU, 3))
                .hasMessageContaining("normal");
        assertThatThrownBy(() -> Tensor.uniform(1, 0, gen, DType.FLOAT32, Device.CPU, 3))
                .hasMessageContaining("uniform").hasMessageContaining("low <= high");
        assertThat(Tensor.normal(2, 0, gen, DType.FLOAT64, Device.CPU, 2).toDoubleArray()).as("std 0 is allowed")
                .containsExactly(2, 2);
    }

    @Test
    void devicesParseFromTheirNamesAndRefuseMalformedOnes() {
        assertThat(Device.parse("cpu")).isEqualTo(Device.CPU);
        assertThat(Device.parse("CUDA:1")).isEqualTo(Device.cuda(1));
        assertThatThrownBy(() -> Device.parse("")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected cpu, cuda or cuda:N");
        assertThatThrownBy(() -> Device.parse("cuda:x")).hasMessageContaining("expected cpu, cuda or cuda:N");
        assertThatThrownBy(() -> Device.parse("cuda:-1")).hasMessage("device index must be >= 0, got -1");
        assertThatThrownBy(() -> Device.parse("cpu:1")).hasMessage("there is one cpu device, cpu:0; got cpu:1");
        assertThatThrownBy(() -> new Device("cpu", 2)).hasMessageContaining("one cpu device");
    }

    @Test
    void fillInPlaceRefusesABroadcastView() {
        assertThatThrownBy(() -> Tensor.ones(1).expand(3).fillInPlace(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fillInPlace").hasMessageContaining("broadcast view");
    }

    @Test
    void eyeHasOnesOnTheDiagonalOnly() {
        for (int n : new int[] {0, 1, 4}) {
            for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.INT64}) {
                Tensor e = Tensor.eye(n, dtype, Device.CPU);
                double[] expected = new double[n * n];
                for (int i = 0; i < n; i++) {
                    expected[i * n + i] = 1;
                }
                Elements.assertClose("eye " + n, e, dtype, new int[] {n, n}, expected, 0);
            }
        }
        assertThat(Tensor.eye(3).dtype()).isEqualTo(DType.FLOAT32);
    }

    @Test
    void ofCopiesHostArraysOfEveryTypeIntoTheGivenShape() {
        float[] f = {1, 2, 3, 4, 5, 6};
        Tensor tf = Tensor.of(f, 2, 3);
        f[0] = 100; // the tensor holds a copy
        assertThat(tf.dtype()).isEqualTo(DType.FLOAT32);
        assertThat(Elements.read(tf)).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(Tensor.of(new double[] {1.5, 2.5}, 2, 1).shape()).containsExactly(2, 1);
        assertThat(Tensor.of(new int[] {7, 8, 9}, 3).dtype()).isEqualTo(DType.INT32);
        assertThat(Elements.readLongs(Tensor.of(new long[] {Long.MAX_VALUE}, 1))).containsExactly(Long.MAX_VALUE);
        Tensor mask = Tensor.of(new boolean[] {true, false, true}, 3);
        assertThat(mask.dtype()).isEqualTo(DType.BOOL);
        assertThat(Elements.readLongs(mask)).containsExactly(1, 0, 1);
    }

    @Test
    void ofWithoutAShapeGivesA1DTensorOrA0DimTensorForOneValue() {
        assertThat(Tensor.of(new float[] {1, 2, 3}).shape()).containsExactly(3);
        assertThat(Tensor.of(new double[0]).shape()).containsExactly(0);
        assertThat(Tensor.of(new float[] {4}).shape()).isEmpty();
    }

    @Test
    void emptyDimsAreAllowed() {
        Tensor t = Tensor.zeros(3, 0, 2);
        assertThat(t.numel()).isZero();
        assertThat(t.add(1).shape()).containsExactly(3, 0, 2);
        assertThat(t.sum(1).shape()).containsExactly(3, 2);
        assertThat(Elements.read(t.sum(1))).containsOnly(0.0);
        assertThat(t.transpose(0, 1).contiguous().shape()).containsExactly(0, 3, 2);
    }
}
