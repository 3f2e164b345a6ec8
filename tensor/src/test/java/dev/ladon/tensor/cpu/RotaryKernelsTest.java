package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.ThreadCount;
import dev.ladon.tensor.backend.Backend;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/**
 * The one-pass rotary kernel against a scalar loop and against the backend SPI's default composition, on
 * contiguous rows, head-split views (the layout attention feeds it), rows with a non-unit channel stride,
 * and numbers of rotated pairs that leave a tail after the last full vector (also run with 128-bit vectors).
 */
class RotaryKernelsTest {
    /** x [2, 3, T, D] in one of four layouts over the same values [B=2, H=3, T, D]. */
    private static Tensor layout(int kind, Tensor x) {
        return switch (kind) {
            case 0 -> x;
            // stored [B, T, H, D], seen as [B, H, T, D]: what splitting heads after a projection gives
            case 1 -> x.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3);
            // channels apart in memory: the kernel must copy or stride
            case 2 -> x.mT().contiguous().mT();
            // a narrowed view with an offset
            default -> Tensor.cat(3, Tensor.zeros(x.dtype(), Device.CPU, 2, 3, x.size(2), 2), x).narrow(3, 2, x.size(3));
        };
    }

    private static double[] reference(double[] x, double[] cos, double[] sin, int positions, int width, int half,
            boolean single) {
        double[] out = new double[x.length];
        for (int row = 0; row < x.length / width; row++) {
            int t = row % positions;
            int o = row * width;
            for (int c = 0; c < half; c++) {
                double x1 = x[o + c];
                double x2 = x[o + half + c];
                double co = cos[t * half + c];
                double si = sin[t * half + c];
                if (single) {
                    // each product and sum rounded to float, as the kernel and the composition do
                    out[o + c] = (float) x1 * (float) co - (float) x2 * (float) si;
                    out[o + half + c] = (float) x2 * (float) co + (float) x1 * (float) si;
                } else {
                    out[o + c] = x1 * co - x2 * si;
                    out[o + half + c] = x2 * co + x1 * si;
                }
            }
            for (int c = 2 * half; c < width; c++) {
                out[o + c] = x[o + c];
            }
        }
        return out;
    }

    /** The CPU backend with rotary left to the Backend interface's default composition. */
    private static Backend composed() {
        Backend cpu = CpuBackend.INSTANCE;
        InvocationHandler h = (proxy, method, args) -> method.getName().equals("rotary")
                ? InvocationHandler.invokeDefault(proxy, method, args)
                : method.invoke(cpu, args);
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    @Test
    void rotaryMatchesAScalarLoopAndTheComposedDefaultOnEveryLayout() {
        // 2 x 3 x 172 rows make four parallel chunks on four threads, starting mid-head (row 258 is position
        // 86 of a head): the kernel works out the offsets of each run of positions that shares a head.
        for (int threads : new int[] {1, 4}) {
            for (int positions : new int[] {7, 172}) {
                ThreadCount.run(threads, () -> checkRotaryOnEveryLayout(positions));
            }
        }
    }

    private static void checkRotaryOnEveryLayout(int positions) {
        Generator gen = new Generator(31);
        Backend composed = composed();
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            for (int half : positions > 7 ? new int[] {19} : new int[] {1, 5, 16, 19}) {
                // 37: copied by vectors and a tail; 32 with half 16 (the lm-step heads: 64 channels, half of them
                // rotated): whole vectors at every vector width, no tails
                for (int extra : positions > 7 ? new int[] {3} : new int[] {0, 3, 32, 37}) {
                    int width = 2 * half + extra;
                    Tensor x = Tensor.randn(gen, dtype, Device.CPU, 2, 3, positions, width);
                    Tensor cos = Tensor.randn(gen, dtype, Device.CPU, positions, half);
                    Tensor sin = Tensor.randn(gen, dtype, Device.CPU, positions, half);
                    double[] expected = reference(x.toDoubleArray(), cos.toDoubleArray(), sin.toDoubleArray(), positions,
                            width, half, dtype == DType.FLOAT32);
                    for (int kind = 0; kind < 4; kind++) {
                        Tensor view = layout(kind, x);
                        Tensor fused = FusedOps.rotary(view, cos, sin);
                        assertThat(fused.shape()).containsExactly(2, 3, positions, width);
                        // laid out like a permuted dense input (no copy back through the permute), else contiguous
                        Tensor storageOrder = kind == 1 ? fused.permute(0, 2, 1, 3) : fused;
                        assertThat(storageOrder.isContiguous()).as("layout %d", kind).isTrue();
                        assertThat(fused.toDoubleArray()).as("%s half=%d width=%d layout %d", dtype, half, width, kind)
                                .containsExactly(expected);
                        assertThat(composed.rotary(view, cos, sin).toDoubleArray())
                                .as("composed %s half=%d width=%d layout %d", dtype, half, width, kind)
                                .containsExactly(expected);
                    }
                }
            }
        }
    }

    @Test
    void rotatingWithNegatedSineUndoesARotation() {
        Generator gen = new Generator(32);
        int positions = 5;
        int half = 4;
        Tensor x = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 1, 2, positions, 10);
        double[] angles = Tensor.randn(gen, DType.FLOAT64, Device.CPU, positions * half).toDoubleArray();
        double[] c = new double[angles.length];
        double[] s = new double[angles.length];
        for (int i = 0; i < angles.length; i++) {
            c[i] = Math.cos(angles[i]);
            s[i] = Math.sin(angles[i]);
        }
        Tensor cos = Tensor.of(c, positions, half);
        Tensor sin = Tensor.of(s, positions, half);
        Tensor back = FusedOps.rotary(FusedOps.rotary(x, cos, sin), cos, sin.neg());
        assertThat(back.allClose(x, 0, 1e-14)).isTrue();
    }

    @Test
    void rotaryRejectsTablesThatDoNotFit() {
        Tensor x = Tensor.zeros(2, 3, 4, 6);
        assertThatThrownBy(() -> FusedOps.rotary(x, Tensor.zeros(4, 4), Tensor.zeros(4, 4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rotary").hasMessageContaining("x [2, 3, 4, 6]").hasMessageContaining("cos [4, 4]");
        assertThatThrownBy(() -> FusedOps.rotary(x, Tensor.zeros(3, 2), Tensor.zeros(3, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[T, n/2]");
        assertThatThrownBy(() -> FusedOps.rotary(x, Tensor.zeros(DType.FLOAT64, 4, 2), Tensor.zeros(DType.FLOAT64, 4, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dtypes differ");
    }
}
