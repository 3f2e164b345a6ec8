package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * {@link FloatMath} against {@link Math} (in double, rounded to float), its vector methods against its
 * scalar methods bit for bit with every vector width, and its sum of lanes against a loop over the lanes. The accuracy sweeps sample a few million inputs:
 * strided over each function's whole range, every float in the windows where the algorithm switches or the
 * result leaves the normal range, and random bit patterns. The bound asserted, 1 ulp from the rounded
 * reference for all three, is the one measured over all 2^32 inputs.
 */
class FloatMathTest {
    /** One function: its scalar and vector forms, and the double reference. */
    private record Function(String name, UnaryOperator<Float> scalar, UnaryOperator<FloatVector> vector,
            DoubleUnaryOperator reference, long maxUlps) {
    }

    private static final Function EXP = new Function("exp", FloatMath::exp, FloatMath::exp, Math::exp, 1);
    private static final Function LOG = new Function("log", FloatMath::log, FloatMath::log, Math::log, 1);
    private static final Function TANH = new Function("tanh", FloatMath::tanh, FloatMath::tanh, Math::tanh, 1);

    private static final List<VectorSpecies<Float>> SPECIES = List.of(FloatVector.SPECIES_64,
            FloatVector.SPECIES_128, FloatVector.SPECIES_256, FloatVector.SPECIES_512, CpuSpecies.FLOAT);

    /** The float's position on the number line counted in ulps (-0 and +0 both at 0). */
    private static long ordinal(float f) {
        int bits = Float.floatToRawIntBits(f);
        return bits >= 0 ? bits : (long) Integer.MIN_VALUE - bits;
    }

    private static long ulpsApart(float a, float b) {
        return Math.abs(ordinal(a) - ordinal(b));
    }

    /**
     * The largest distance from the rounded reference seen over a sweep and where; infinite results and NaN
     * must match exactly (counted as distance Long.MAX_VALUE otherwise).
     */
    private static final class Worst {
        private final Function f;
        private long ulps;
        private float at;

        Worst(Function f) {
            this.f = f;
        }

        void check(float x) {
            float actual = f.scalar().apply(x);
            float expected = (float) f.reference().applyAsDouble(x);
            long d;
            if (Float.isNaN(expected) || Float.isInfinite(expected) || Float.isNaN(actual) || Float.isInfinite(actual)) {
                d = Float.floatToIntBits(actual) == Float.floatToIntBits(expected) ? 0 : Long.MAX_VALUE;
            } else {
                d = ulpsApart(actual, expected);
            }
            if (d > ulps) {
                ulps = d;
                at = x;
            }
        }

        /** Every float from a to b (same sign, |a| &lt;= |b|), taking every step-th bit pattern. */
        Worst sweep(float a, float b, int step) {
            for (long bits = Float.floatToRawIntBits(a); bits <= Float.floatToRawIntBits(b); bits += step) {
                check(Float.intBitsToFloat((int) bits));
            }
            check(b);
            return this;
        }

        Worst randomBitPatterns(long seed) {
            Random random = new Random(seed);
            for (int i = 0; i < 300_000; i++) {
                check(Float.intBitsToFloat(random.nextInt()));
            }
            return this;
        }

        void assertWithinBound() {
            assertThat(ulps).as("%s: worst at x = %s (%s): %s, reference %s", f.name(), at, Float.toHexString(at),
                    f.scalar().apply(at), (float) f.reference().applyAsDouble(at)).isLessThanOrEqualTo(f.maxUlps());
        }
    }

    @Test
    void expOfSpecialAndBoundaryValues() {
        assertThat(FloatMath.exp(0f)).isEqualTo(1f);
        assertThat(FloatMath.exp(-0f)).isEqualTo(1f);
        assertThat(FloatMath.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(FloatMath.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatMath.exp(Float.NaN)).isNaN();
        assertThat(FloatMath.exp(Float.MAX_VALUE)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatMath.exp(-Float.MAX_VALUE)).isEqualTo(0f);
        // ln(Float.MAX_VALUE) = 88.722839: the float below it (88.722832) still has a finite exp, the next not.
        assertThat(FloatMath.exp(88.72283f)).isLessThan(Float.POSITIVE_INFINITY);
        assertThat(FloatMath.exp(Math.nextUp(88.72283f))).isEqualTo(Float.POSITIVE_INFINITY);
        // Results below 2^-126 are subnormal, down to 2^-149 at x = -103.28 and 0 below about -103.97.
        assertThat(FloatMath.exp(-100f)).isEqualTo((float) Math.exp(-100));
        assertThat(FloatMath.exp(-103.2789f)).isEqualTo(Float.MIN_VALUE);
        assertThat(FloatMath.exp(-104f)).isEqualTo(0f);
    }

    @Test
    void logOfSpecialAndBoundaryValues() {
        assertThat(FloatMath.log(1f)).isEqualTo(0f);
        assertThat(FloatMath.log(0f)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(FloatMath.log(-0f)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(FloatMath.log(-1f)).isNaN();
        assertThat(FloatMath.log(-Float.MIN_VALUE)).isNaN();
        assertThat(FloatMath.log(Float.NEGATIVE_INFINITY)).isNaN();
        assertThat(FloatMath.log(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatMath.log(Float.NaN)).isNaN();
        assertThat(FloatMath.log(2f)).isEqualTo((float) Math.log(2));
        assertThat(FloatMath.log(0.5f)).isEqualTo((float) -Math.log(2));
        // Subnormal inputs: the smallest is 2^-149, whose log is -149 ln 2 = -103.2789.
        assertThat(FloatMath.log(Float.MIN_VALUE)).isEqualTo((float) Math.log(Float.MIN_VALUE));
        assertThat(FloatMath.log(Float.MIN_NORMAL / 3)).isEqualTo((float) Math.log(Float.MIN_NORMAL / 3));
        assertThat(FloatMath.log(Float.MAX_VALUE)).isEqualTo((float) Math.log(Float.MAX_VALUE));
    }

    @Test
    void tanhOfSpecialAndBoundaryValues() {
        assertThat(Float.floatToRawIntBits(FloatMath.tanh(0f))).isEqualTo(Float.floatToRawIntBits(0f));
        assertThat(Float.floatToRawIntBits(FloatMath.tanh(-0f))).isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(FloatMath.tanh(Float.POSITIVE_INFINITY)).isEqualTo(1f);
        assertThat(FloatMath.tanh(Float.NEGATIVE_INFINITY)).isEqualTo(-1f);
        assertThat(FloatMath.tanh(Float.NaN)).isNaN();
        assertThat(FloatMath.tanh(20f)).isEqualTo(1f);
        assertThat(FloatMath.tanh(-20f)).isEqualTo(-1f);
        // Tiny inputs: tanh(x) = x to float precision, subnormals included.
        assertThat(FloatMath.tanh(1e-20f)).isEqualTo(1e-20f);
        assertThat(FloatMath.tanh(Float.MIN_VALUE)).isEqualTo(Float.MIN_VALUE);
        assertThat(FloatMath.tanh(-0.5f)).isEqualTo(-FloatMath.tanh(0.5f));
    }

    @Test
    void expIsWithinOneUlpOverItsRange() {
        new Worst(EXP)
                .sweep(0f, 89f, 1009)
                .sweep(-0f, -104f, 1013)
                .sweep(88f, 89f, 1) // overflow to +inf past ln(Float.MAX_VALUE)
                .sweep(-87f, -104f, 7) // subnormal results and underflow to 0
                .sweep(-0.35f, -0.34f, 1) // r = x - n ln 2 near its bound ln(2)/2, n = -1 and 0
                .sweep(0.34f, 0.35f, 1)
                .randomBitPatterns(1)
                .assertWithinBound();
    }

    @Test
    void logIsWithinOneUlpOverItsRange() {
        new Worst(LOG)
                .sweep(Float.MIN_VALUE, Float.MAX_VALUE, 997)
                .sweep(Float.MIN_VALUE, Float.MIN_NORMAL, 61) // subnormal inputs
                .sweep(0.99f, 1.01f, 1) // near 1, where log(x) is small and nothing cancels but f
                .sweep(0.70f, 0.72f, 1) // the mantissa's switch at sqrt(1/2) (and at sqrt(2) below)
                .sweep(1.40f, 1.43f, 1)
                .sweep(-0f, -Float.MAX_VALUE, 100_003)
                .randomBitPatterns(2)
                .assertWithinBound();
    }

    @Test
    void tanhIsWithinOneUlpOverItsRange() {
        new Worst(TANH)
                .sweep(0f, 10f, 509)
                .sweep(-0f, -10f, 521)
                .sweep(0.6f, 0.65f, 1) // the switch from the polynomial to the exp form at 0.625
                .sweep(-0.6f, -0.65f, 3)
                .sweep(8f, 10f, 1) // where tanh reaches 1 in float
                .randomBitPatterns(3)
                .assertWithinBound();
    }

    /**
     * Inputs for the bit-for-bit comparisons: random bit patterns (NaN, infinities and subnormals among
     * them), values in each function's working range, and the special values, in an odd count so every
     * vector width leaves a part to the scalar loop.
     */
    private static float[] mixedInputs(long seed) {
        Random random = new Random(seed);
        float[] specials = {0f, -0f, 1f, -1f, Float.NaN, Float.intBitsToFloat(0x7fc01234), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
            -Float.MAX_VALUE, 88.72283f, 88.72284f, -103.2789f, -104f, 0.625f, -0.625f, 89f};
        float[] x = new float[2001];
        System.arraycopy(specials, 0, x, 0, specials.length);
        for (int i = specials.length; i < x.length; i++) {
            x[i] = switch (i % 3) {
                case 0 -> Float.intBitsToFloat(random.nextInt());
                case 1 -> (random.nextFloat() - 0.5f) * 220f;
                default -> (float) random.nextGaussian() * 3f;
            };
        }
        return x;
    }

    private static void assertLanesEqualScalars(Function f, VectorSpecies<Float> species, float[] x) {
        float[] out = new float[x.length];
        int i = 0;
        for (int bound = species.loopBound(x.length); i < bound; i += species.length()) {
            f.vector().apply(FloatVector.fromArray(species, x, i)).intoArray(out, i);
        }
        for (; i < x.length; i++) {
            out[i] = f.scalar().apply(x[i]);
        }
        for (int j = 0; j < x.length; j++) {
            assertThat(Float.floatToRawIntBits(out[j])).as("%s(%s) with %s", f.name(), x[j], species)
                    .isEqualTo(Float.floatToRawIntBits(f.scalar().apply(x[j])));
        }
    }

    @Test
    void everyVectorLaneEqualsTheScalarMethodBitForBitAtEveryWidth() {
        float[] x = mixedInputs(4);
        for (VectorSpecies<Float> species : SPECIES) {
            for (Function f : List.of(EXP, LOG, TANH)) {
                assertLanesEqualScalars(f, species, x);
            }
        }
    }

    /**
     * sumLanes adds lane 0, then lane 1, and so on, at every width: checked on lanes of mixed magnitude,
     * where another order (the JIT's reduceLanes(ADD) uses one) gives other bits about half the time.
     */
    @Test
    void sumLanesAddsTheLanesInLaneOrderAtEveryWidth() {
        Random random = new Random(6);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(8)));
        }
        for (VectorSpecies<Float> species : SPECIES) {
            for (int off = 0; off + species.length() <= x.length; off += species.length()) {
                float expected = 0f;
                for (int lane = 0; lane < species.length(); lane++) {
                    expected += x[off + lane];
                }
                float actual = FloatMath.sumLanes(FloatVector.fromArray(species, x, off));
                assertThat(Float.floatToRawIntBits(actual)).as("%s at %d", species, off)
                        .isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
    }

    /**
     * The JDK's lanewise EXP and reduceLanes(ADD) give other bits once C2 has compiled a loop than before (the
     * native routine and the Java fallback differ in the last bit; the sums add in other orders). FloatMath's
     * results of a first call of a loop (interpreted, unless an earlier test has compiled FloatMath already)
     * must equal those after 400 more calls, by when C2 has compiled FloatMath's methods (tens of thousands
     * of calls each).
     */
    @Test
    void theVectorLoopGivesTheSameBitsBeforeAndAfterTheJitCompilesIt() {
        float[] x = Arrays.copyOf(mixedInputs(5), 1001);
        Random random = new Random(7);
        float[] finite = new float[x.length];
        for (int i = 0; i < finite.length; i++) {
            finite[i] = (float) random.nextGaussian() * 20f;
        }
        float[] first = new float[x.length];
        float[] later = new float[x.length];
        expLogTanhLoop(x, finite, first);
        for (int run = 0; run < 400; run++) {
            expLogTanhLoop(x, finite, later);
        }
        for (int i = 0; i < x.length; i++) {
            assertThat(Float.floatToRawIntBits(later[i])).as("i = %d, x = %s", i, x[i])
                    .isEqualTo(Float.floatToRawIntBits(first[i]));
        }
    }

    /**
     * out = tanh(log(exp(x)) + x) lane by lane, the scalar methods for the tail; then out at the first lane
     * of each vector becomes the sum of that vector's lanes of exp(finite) (values from 1e-26 to 1e26).
     */
    private static void expLogTanhLoop(float[] x, float[] finite, float[] out) {
        VectorSpecies<Float> s = CpuSpecies.FLOAT;
        int i = 0;
        for (int bound = s.loopBound(x.length); i < bound; i += s.length()) {
            FloatVector v = FloatVector.fromArray(s, x, i);
            FloatMath.tanh(FloatMath.log(FloatMath.exp(v)).add(v)).intoArray(out, i);
            out[i] = FloatMath.sumLanes(FloatMath.exp(FloatVector.fromArray(s, finite, i)));
        }
        for (; i < x.length; i++) {
            out[i] = FloatMath.tanh(FloatMath.log(FloatMath.exp(x[i])) + x[i]);
        }
    }
}
