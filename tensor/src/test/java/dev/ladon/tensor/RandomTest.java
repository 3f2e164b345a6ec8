package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.cpu.Parallel;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Philox 4x32-10 against the Random123 known-answer vectors; Ladon's stream definition (element i of a fill
 * from block (seed, offset + i)); identical streams for any thread count; the distributions' moments.
 */
class RandomTest {

    static int[] philox(int c0, int c1, int c2, int c3, int k0, int k1) {
        int[] out = new int[4];
        Philox.block(c0, c1, c2, c3, k0, k1, out);
        return out;
    }

    @Test
    void philoxMatchesRandom123KnownAnswers() {
        // Random123's kat_vectors, "philox4x32 10": counter (4 words), key (2 words), expected output (4 words)
        assertThat(philox(0, 0, 0, 0, 0, 0))
                .containsExactly(0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
        assertThat(philox(-1, -1, -1, -1, -1, -1))
                .containsExactly(0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd);
        assertThat(philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0))
                .containsExactly(0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1);
    }

    @Test
    void ladonsStreamIsTheFullCounterFormWithZeroHighWords() {
        long seed = 0x1234_5678_9abc_def0L;
        long counter = 0x0fed_cba9_8765_4321L;
        int[] words = new int[4];
        Philox.block(seed, counter, words);
        assertThat(words).containsExactly(philox((int) counter, (int) (counter >>> 32), 0, 0, (int) seed,
                (int) (seed >>> 32)));
    }

    @Test
    void fillElementIComesFromBlockAtOffsetPlusI() {
        Generator gen = new Generator(42);
        gen.advance(1000); // start mid-stream
        Tensor u32 = Tensor.uniform(-2, 3, gen, DType.FLOAT32, Device.CPU, 5, 7);
        Tensor u64 = Tensor.rand(gen, DType.FLOAT64, Device.CPU, 35);
        Tensor n32 = Tensor.normal(1, 2, gen, DType.FLOAT32, Device.CPU, 35);
        Tensor n64 = Tensor.randn(gen, DType.FLOAT64, Device.CPU, 35);
        assertThat(gen.offset()).isEqualTo(1000 + 4 * 35);
        double[] a = Elements.read(u32);
        double[] b = Elements.read(u64);
        double[] c = Elements.read(n32);
        double[] d = Elements.read(n64);
        int[] w = new int[4];
        for (int i = 0; i < 35; i++) {
            Philox.block(42, 1000 + i, w);
            assertThat(a[i]).isEqualTo((float) (-2 + 5 * ((w[0] >>> 8) * 0x1p-24)));
            Philox.block(42, 1035 + i, w);
            assertThat(b[i]).isEqualTo((((w[0] & 0xFFFFFFFFL) << 21) | ((w[1] & 0xFFFFFFFFL) >>> 11)) * 0x1p-53);
            Philox.block(42, 1070 + i, w);
            assertThat(c[i]).isEqualTo((float) (1 + 2 * boxMuller((w[0] >>> 8) + 1, w[2] >>> 8, 0x1p-24)));
            Philox.block(42, 1105 + i, w);
            long b1 = ((w[0] & 0xFFFFFFFFL) << 21) | ((w[1] & 0xFFFFFFFFL) >>> 11);
            long b2 = ((w[2] & 0xFFFFFFFFL) << 21) | ((w[3] & 0xFFFFFFFFL) >>> 11);
            assertThat(d[i]).isEqualTo(boxMuller(b1 + 1, b2, 0x1p-53));
        }
    }

    static double boxMuller(long bits1, long bits2, double scale) {
        return Math.sqrt(-2 * Math.log(bits1 * scale)) * Math.cos(2 * Math.PI * (bits2 * scale));
    }

    /** Runs {@code draw} with 1, 2 and 3 threads and asserts identical results. */
    static void assertSameForEveryThreadCount(String what, Supplier<Tensor> draw) {
        int saved = Parallel.numThreads();
        try {
            Parallel.setNumThreads(1);
            long[] one = bits(draw.get());
            for (int threads : new int[] {2, 3}) {
                Parallel.setNumThreads(threads);
                // isEqualTo compares arrays with Arrays.equals; containsExactly is quadratic on 70000 elements
                assertThat(bits(draw.get())).as(what + " with " + threads + " threads").isEqualTo(one);
            }
        } finally {
            Parallel.setNumThreads(saved);
        }
    }

    static long[] bits(Tensor t) {
        double[] v = Elements.read(t);
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Double.doubleToRawLongBits(v[i]);
        }
        return b;
    }

    @Test
    void streamsAreIdenticalForOneTwoAndThreeThreads() {
        // 70000 elements: above the 16384-element grain, so 2 and 3 threads really split the fill
        int n = 70_000;
        assertSameForEveryThreadCount("rand f32", () -> Tensor.rand(new Generator(7), DType.FLOAT32, Device.CPU, n));
        assertSameForEveryThreadCount("rand f64", () -> Tensor.rand(new Generator(7), DType.FLOAT64, Device.CPU, n));
        assertSameForEveryThreadCount("randn f32", () -> Tensor.randn(new Generator(8), DType.FLOAT32, Device.CPU, n));
        assertSameForEveryThreadCount("randn f64", () -> Tensor.randn(new Generator(8), DType.FLOAT64, Device.CPU, n));
        assertSameForEveryThreadCount("randint", () -> Tensor.randint(-5, 1000, new Generator(9), Device.CPU, n));
        assertSameForEveryThreadCount("bernoulli",
                () -> Tensor.bernoulli(0.3, new Generator(10), DType.FLOAT32, Device.CPU, n));
    }

    @Test
    void consecutiveDrawsContinueTheStream() {
        Generator one = new Generator(11);
        double[] whole = Elements.read(Tensor.rand(one, DType.FLOAT32, Device.CPU, 30));
        Generator two = new Generator(11);
        double[] first = Elements.read(Tensor.rand(two, DType.FLOAT32, Device.CPU, 2, 5));
        double[] second = Elements.read(Tensor.rand(two, DType.FLOAT32, Device.CPU, 20));
        for (int i = 0; i < 10; i++) {
            assertThat(first[i]).isEqualTo(whole[i]);
        }
        for (int i = 0; i < 20; i++) {
            assertThat(second[i]).isEqualTo(whole[10 + i]);
        }
    }

    @Test
    void savedGeneratorStateResumesTheStreamAndSeedsDiffer() {
        Generator gen = new Generator(12);
        Tensor.randn(gen, DType.FLOAT32, Device.CPU, 17);
        long seed = gen.seed();
        long offset = gen.offset();
        double[] next = Elements.read(Tensor.randn(gen, DType.FLOAT32, Device.CPU, 9));
        Generator resumed = new Generator(999);
        resumed.setState(seed, offset);
        assertThat(Elements.read(Tensor.randn(resumed, DType.FLOAT32, Device.CPU, 9))).containsExactly(next);
        double[] other = Elements.read(Tensor.randn(new Generator(13), DType.FLOAT32, Device.CPU, 9));
        assertThat(other).isNotEqualTo(Elements.read(Tensor.randn(new Generator(12), DType.FLOAT32, Device.CPU, 9)));
    }

    @Test
    void manualSeedMakesTheDefaultGeneratorReproducible() {
        Generator.manualSeed(5);
        double[] a = Elements.read(Tensor.rand(4, 4));
        double[] b = Elements.read(Tensor.randn(3));
        Generator.manualSeed(5);
        assertThat(Elements.read(Tensor.rand(4, 4))).containsExactly(a);
        assertThat(Elements.read(Tensor.randn(3))).containsExactly(b);
    }

    // ---- distributions --------------------------------------------------------------------------

    static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    static double variance(double[] v) {
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return s / (v.length - 1);
    }

    @Test
    void uniformAndNormalHaveTheRightRangeAndMoments() {
        int n = 60_000;
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            double[] u = Elements.read(Tensor.uniform(-1, 3, new Generator(21), dtype, Device.CPU, n));
            for (double x : u) {
                assertThat(x).isGreaterThanOrEqualTo(-1).isLessThan(3);
            }
            // uniform on [-1, 3): mean 1, variance 16/12; bounds are about 5 standard errors
            assertThat(mean(u)).isCloseTo(1, org.assertj.core.data.Offset.offset(5 * Math.sqrt(16.0 / 12 / n)));
            assertThat(variance(u)).isCloseTo(16.0 / 12, org.assertj.core.data.Offset.offset(0.03));
            double[] z = Elements.read(Tensor.normal(2, 0.5, new Generator(22), dtype, Device.CPU, n));
            assertThat(mean(z)).isCloseTo(2, org.assertj.core.data.Offset.offset(5 * 0.5 / Math.sqrt(n)));
            assertThat(variance(z)).isCloseTo(0.25, org.assertj.core.data.Offset.offset(0.01));
            for (double x : z) {
                assertThat(Double.isFinite(x)).isTrue();
            }
        }
    }

    @Test
    void uniformNeverReturnsHighEvenWhenRoundingWouldReachIt() {
        // counter 8418514 under seed 1 gives the largest 24-bit draw, 1 - 2^-24; 1 + (1 - 2^-24) is halfway
        // between the last float below 2 and 2 itself, and rounds to 2 unless the fill guards the bound
        int[] w = new int[4];
        Philox.block(1, 8418514, w);
        assertThat(w[0] >>> 8).as("precondition: the largest 24-bit draw").isEqualTo(0xFFFFFF);
        Generator gen = new Generator(1);
        gen.advance(8418514);
        double x = Tensor.uniform(1, 2, gen, DType.FLOAT32, Device.CPU, 1).item();
        assertThat(x).isLessThan(2).isEqualTo((double) Math.nextDown(2f));
        Generator again = new Generator(1);
        again.advance(8418514);
        assertThat(Tensor.rand(again, DType.FLOAT32, Device.CPU, 1).item()).isEqualTo(1 - 0x1p-24);
    }

    @Test
    void randintCoversExactlyItsHalfOpenRange() {
        int n = 35_000;
        Tensor r = Tensor.randint(-3, 4, new Generator(23), Device.CPU, 5, n / 5);
        assertThat(r.dtype()).isEqualTo(DType.INT64);
        assertThat(r.shape()).containsExactly(5, n / 5);
        long[] counts = new long[7];
        for (long v : Elements.readLongs(r)) {
            assertThat(v).isBetween(-3L, 3L);
            counts[(int) v + 3]++;
        }
        for (long c : counts) {
            // expected n / 7 = 5000 each, standard deviation about 66
            assertThat(c).isBetween(5000L - 350, 5000L + 350);
        }
    }

    @Test
    void bernoulliKeepsWithProbabilityP() {
        int n = 40_000;
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor b = Tensor.bernoulli(0.25, new Generator(24), dtype, Device.CPU, n);
            assertThat(b.dtype()).isEqualTo(dtype);
            double[] v = Elements.read(b);
            for (double x : v) {
                assertThat(x == 0 || x == 1).isTrue();
            }
            assertThat(mean(v)).isCloseTo(0.25, org.assertj.core.data.Offset.offset(5 * Math.sqrt(0.25 * 0.75 / n)));
        }
        assertThat(Elements.read(Tensor.bernoulli(0, new Generator(1), DType.FLOAT32, Device.CPU, 100))).containsOnly(0.0);
        assertThat(Elements.read(Tensor.bernoulli(1, new Generator(1), DType.FLOAT32, Device.CPU, 100))).containsOnly(1.0);
    }
}
