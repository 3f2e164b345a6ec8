package dev.ladon.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, log and tanh of float32 values, and the sum of a vector's lanes, that give the same bits wherever
 * they run: in a vector loop or in its scalar tail, in the interpreter or after the JIT has compiled the
 * loop, with vectors of any width.
 *
 * <p>Why Ladon has its own. The JDK's {@code lanewise(EXP)}, {@code LOG} and {@code TANH} run a native
 * routine once C2 has compiled the loop and a portable Java fallback before that, and the two may differ in
 * the last bit; a scalar tail through {@code Math.exp} on doubles differs again. So the same training step
 * could give other bits in a run resumed from a checkpoint (fresh JIT) than in the uninterrupted run, or
 * after a change of thread count (other tails). Here every function is built only from operations that
 * IEEE 754 and the Java specification define to the bit (add, subtract, multiply, divide, fused
 * multiply-add, comparisons, blends, integer operations on the bits), and each scalar method performs
 * exactly the float operations that one lane of its vector method performs ({@link Math#fma} where the
 * vector uses {@code fma}); the tests check both against each other bit for bit.
 *
 * <p>Accuracy, measured over all 2^32 float32 inputs: each result is within 1 ulp of {@code (float) Math.f(x)}
 * (the correctly rounded value) and differs from it for 0.3% (exp), 0.6% (log) and 0.2% (tanh) of the finite
 * results; against the exact value the largest error is 0.89 ulp (exp), 0.88 ulp (log) and 1.36 ulp (tanh,
 * just above 0.625). {@code FloatMathTest} checks the 1 ulp bound on a few million samples. Special values
 * follow {@link Math}: NaN gives NaN (the input NaN itself), exp(-inf) = 0, exp(+inf) = +inf, results past
 * the float range overflow to +inf, results below it round into the subnormals and to 0 as the exact value
 * would; log(+-0) = -inf, log of a negative number is NaN, log(+inf) = +inf, and subnormal inputs have
 * their logarithm as any other.
 *
 * <p>The vector methods are meant to be inlined into a loop (C2 does so while the loop's compiled method
 * stays within its inlining budget; a call left out of line passes boxed vectors and runs several times
 * slower), so each kernel keeps few of them per method.
 */
final class FloatMath {
    /** 1 / ln 2, and ln 2 split in two: HI the nearest float to ln 2, LO the rest (ln 2 - HI). */
    private static final float LOG2E = 0x1.715476p0f;
    private static final float LN2_HI = 0x1.62e43p-1f;
    private static final float LN2_LO = -0x1.05c61p-29f;
    /**
     * 1.5 * 2^23: adding it to a float of magnitude below 2^22 leaves that number rounded to an integer in
     * the low mantissa bits (the float's bits are then 0x4B400000 + the integer, for integers of either sign).
     */
    private static final float ROUND_TO_INT = 0x1.8p23f;
    /**
     * exp's input is clamped to [EXP_LOW, EXP_HIGH] first: exp(-104) is below half the smallest subnormal (it
     * rounds to 0) and exp(89) is past the largest float (it overflows), so clamping changes no result while it
     * keeps n = round(x / ln 2) within [-150, 128], where 2^n splits into two normal powers of two.
     */
    private static final float EXP_LOW = -104f;
    private static final float EXP_HIGH = 89f;
    /**
     * e^r = 1 + r + r^2 P(r) on [-ln(2)/2, ln(2)/2] with P of degree 4: the coefficients of least maximum
     * relative error (Remez exchange), 3.1e-9 before rounding them to float (Taylor's 1/k! needs one term
     * more for that).
     */
    private static final float EXP_C2 = 0x1.fffffcp-2f;
    private static final float EXP_C3 = 0x1.555492p-3f;
    private static final float EXP_C4 = 0x1.5558f2p-5f;
    private static final float EXP_C5 = 0x1.123ap-7f;
    private static final float EXP_C6 = 0x1.6a2406p-10f;
    /** The sign and exponent field of a float, and the bits of 1.0f. */
    private static final int SIGN_AND_EXPONENT = 0xFF800000;
    private static final int ONE_BITS = 0x3F800000;

    private static final float SMALLEST_NORMAL = 0x1p-126f;
    private static final float TWO_TO_23 = 0x1p23f;
    /** The bits of sqrt(1/2): log reduces the mantissa into [sqrt(1/2), sqrt(2)) by subtracting them. */
    private static final int SQRT_HALF_BITS = 0x3F3504F3;
    private static final int MANTISSA_BITS = 0x007FFFFF;
    /** 2/(2k+1) for k = 1..4: log(1+f) = 2 atanh(s) = 2s + 2s^3/3 + 2s^5/5 + ..., s = f/(2+f), |s| &lt;= 0.1716. */
    private static final float LOG_C1 = 0x1.555556p-1f;
    private static final float LOG_C2 = 0x1.99999ap-2f;
    private static final float LOG_C3 = 0x1.24924ap-2f;
    private static final float LOG_C4 = 0x1.c71c72p-3f;

    /** Below TANH_SPLIT tanh is a polynomial; above, 1 - 2 / (exp(2|x|) + 1), which cancels less there. */
    private static final float TANH_SPLIT = 0.625f;
    /**
     * tanh(x) = x + x^3 P(x^2) on [0, 0.625] with P of degree 4: the coefficients of least maximum relative
     * error (Remez exchange), 4.4e-9 before rounding them to float.
     */
    private static final float TANH_C0 = -0x1.555532p-2f;
    private static final float TANH_C1 = 0x1.110726p-3f;
    private static final float TANH_C2 = -0x1.b83c5ap-5f;
    private static final float TANH_C3 = 0x1.52269cp-6f;
    private static final float TANH_C4 = -0x1.75e1cep-8f;
    private static final int SIGN_BIT = 0x80000000;

    private FloatMath() {
    }

    /**
     * The sum of v's lanes, added one after another from lane 0. {@code reduceLanes(ADD)} leaves the order
     * open, and the JIT's intrinsic adds in another order than the portable code it replaces (for 8 random
     * floats the two sums differed in half the cases here), so a sum could change once a loop got compiled.
     */
    static float sumLanes(FloatVector v) {
        // Spelled out for the usual widths: with constant lane numbers each lane is one extract, and a
        // 16-lane sum took 9.7 ns here against 15.7 for the loop. Java adds left to right, so the order is
        // the loop's.
        switch (v.length()) {
            case 16 -> {
                return v.lane(0) + v.lane(1) + v.lane(2) + v.lane(3) + v.lane(4) + v.lane(5) + v.lane(6) + v.lane(7)
                        + v.lane(8) + v.lane(9) + v.lane(10) + v.lane(11) + v.lane(12) + v.lane(13) + v.lane(14)
                        + v.lane(15);
            }
            case 8 -> {
                return v.lane(0) + v.lane(1) + v.lane(2) + v.lane(3) + v.lane(4) + v.lane(5) + v.lane(6) + v.lane(7);
            }
            case 4 -> {
                return v.lane(0) + v.lane(1) + v.lane(2) + v.lane(3);
            }
            default -> {
                float sum = v.lane(0);
                for (int i = 1; i < v.length(); i++) {
                    sum += v.lane(i);
                }
                return sum;
            }
        }
    }

    /**
     * e^x in every lane. With n = round(x / ln 2) and r = x - n ln 2 (|r| &lt;= ln(2)/2; ln 2 in two parts so
     * r is exact but for one rounding), e^x = e^r 2^n: e^r from a polynomial, 2^n written straight into a
     * float's exponent bits, as 2^h 2^(n - h) with h = floor(n / 2) so that n down to -150 (subnormal
     * results) and up to 128 (overflow) need no other path.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.blend(EXP_LOW, x.lt(EXP_LOW));
        c = c.blend(EXP_HIGH, c.lt(EXP_HIGH).not());
        FloatVector shifted = c.fma(LOG2E, ROUND_TO_INT);
        FloatVector n = shifted.sub(ROUND_TO_INT);
        FloatVector r = n.fma(n.broadcast(-LN2_HI), c);
        r = n.fma(n.broadcast(-LN2_LO), r);
        FloatVector p = r.fma(EXP_C6, EXP_C5);
        p = p.fma(r, r.broadcast(EXP_C4));
        p = p.fma(r, r.broadcast(EXP_C3));
        p = p.fma(r, r.broadcast(EXP_C2));
        p = p.fma(r, r.broadcast(1f));
        p = p.fma(r, r.broadcast(1f));
        // shifted's bits are 0x4B400000 + n, whose high bits shift out: bits << 23 is n << 23, and
        // bits << 22 with its low 23 bits cleared is h << 23.
        IntVector bits = shifted.reinterpretAsInts();
        IntVector half = bits.lanewise(VectorOperators.LSHL, 22).and(SIGN_AND_EXPONENT);
        FloatVector scale1 = half.add(ONE_BITS).reinterpretAsFloats();
        FloatVector scale2 = bits.lanewise(VectorOperators.LSHL, 23).sub(half).add(ONE_BITS).reinterpretAsFloats();
        FloatVector y = p.mul(scale1).mul(scale2);
        return y.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** e^x: the float operations of one lane of {@link #exp(FloatVector)}. */
    static float exp(float x) {
        if (x != x) {
            return x;
        }
        float c = x < EXP_LOW ? EXP_LOW : x;
        c = c < EXP_HIGH ? c : EXP_HIGH;
        float shifted = Math.fma(c, LOG2E, ROUND_TO_INT);
        float n = shifted - ROUND_TO_INT;
        float r = Math.fma(n, -LN2_HI, c);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, EXP_C6, EXP_C5);
        p = Math.fma(p, r, EXP_C4);
        p = Math.fma(p, r, EXP_C3);
        p = Math.fma(p, r, EXP_C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int bits = Float.floatToRawIntBits(shifted);
        int half = (bits << 22) & SIGN_AND_EXPONENT;
        float scale1 = Float.intBitsToFloat(half + ONE_BITS);
        float scale2 = Float.intBitsToFloat((bits << 23) - half + ONE_BITS);
        return p * scale1 * scale2;
    }

    /**
     * The natural logarithm in every lane. With x = m 2^e, m in [sqrt(1/2), sqrt(2)) (a subnormal x is first
     * scaled by 2^23), log x = e ln 2 + log(1 + f), f = m - 1 (exact). log(1 + f) = 2 atanh(s) with
     * s = f / (2 + f), written as f - f^2/2 + s (f^2/2 + R(s^2)) so that the exact f carries most of it and
     * rounding errors fall on the smaller terms.
     */
    static FloatVector log(FloatVector x) {
        VectorMask<Float> tiny = x.lt(SMALLEST_NORMAL);
        FloatVector normal = x.blend(x.mul(TWO_TO_23), tiny);
        IntVector reduced = normal.reinterpretAsInts().sub(SQRT_HALF_BITS);
        FloatVector e = (FloatVector) reduced.lanewise(VectorOperators.ASHR, 23).convert(VectorOperators.I2F, 0);
        e = e.blend(e.sub(23f), tiny);
        FloatVector m = reduced.and(MANTISSA_BITS).add(SQRT_HALF_BITS).reinterpretAsFloats();
        FloatVector f = m.sub(1f);
        FloatVector s = f.div(f.add(2f));
        FloatVector z = s.mul(s);
        FloatVector poly = z.fma(LOG_C4, LOG_C3);
        poly = poly.fma(z, z.broadcast(LOG_C2));
        poly = poly.fma(z, z.broadcast(LOG_C1));
        poly = poly.mul(z);
        FloatVector halfSquare = f.mul(f).mul(0.5f);
        FloatVector small = s.fma(halfSquare.add(poly), e.fma(e.broadcast(LN2_LO), halfSquare.neg()));
        FloatVector y = e.fma(e.broadcast(LN2_HI), f.add(small));
        y = y.blend(x, x.lt(Float.POSITIVE_INFINITY).not());
        y = y.blend(Float.NaN, x.lt(0f));
        return y.blend(Float.NEGATIVE_INFINITY, x.eq(0f));
    }

    /** The natural logarithm: the float operations of one lane of {@link #log(FloatVector)}. */
    static float log(float x) {
        if (x < 0f) {
            return Float.NaN;
        }
        if (x == 0f) {
            return Float.NEGATIVE_INFINITY;
        }
        if (!(x < Float.POSITIVE_INFINITY)) {
            return x;
        }
        boolean tiny = x < SMALLEST_NORMAL;
        float normal = tiny ? x * TWO_TO_23 : x;
        int reduced = Float.floatToRawIntBits(normal) - SQRT_HALF_BITS;
        float e = (float) (reduced >> 23);
        e = tiny ? e - 23f : e;
        float m = Float.intBitsToFloat((reduced & MANTISSA_BITS) + SQRT_HALF_BITS);
        float f = m - 1f;
        float s = f / (f + 2f);
        float z = s * s;
        float poly = Math.fma(z, LOG_C4, LOG_C3);
        poly = Math.fma(poly, z, LOG_C2);
        poly = Math.fma(poly, z, LOG_C1);
        poly = poly * z;
        float halfSquare = f * f * 0.5f;
        float small = Math.fma(s, halfSquare + poly, Math.fma(e, LN2_LO, -halfSquare));
        return Math.fma(e, LN2_HI, f + small);
    }

    /**
     * tanh in every lane: for |x| below 0.625 the odd polynomial |x| + |x|^3 P(x^2), above it
     * 1 - 2 / (exp(2|x|) + 1) (which reaches 1 exactly once exp(2|x|) is large), with the sign of x put back
     * on. Both are computed for every lane and blended.
     */
    static FloatVector tanh(FloatVector x) {
        FloatVector a = x.abs();
        FloatVector y = a.mul(a);
        FloatVector poly = y.fma(TANH_C4, TANH_C3);
        poly = poly.fma(y, y.broadcast(TANH_C2));
        poly = poly.fma(y, y.broadcast(TANH_C1));
        poly = poly.fma(y, y.broadcast(TANH_C0));
        FloatVector small = a.mul(y).fma(poly, a);
        FloatVector large = a.broadcast(1f).sub(a.broadcast(2f).div(exp(a.add(a)).add(1f)));
        FloatVector t = large.blend(small, a.lt(TANH_SPLIT));
        IntVector sign = x.reinterpretAsInts().and(SIGN_BIT);
        FloatVector signed = t.reinterpretAsInts().or(sign).reinterpretAsFloats();
        return signed.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** tanh: the float operations of one lane of {@link #tanh(FloatVector)}. */
    static float tanh(float x) {
        if (x != x) {
            return x;
        }
        float a = Math.abs(x);
        float t;
        if (a < TANH_SPLIT) {
            float y = a * a;
            float poly = Math.fma(y, TANH_C4, TANH_C3);
            poly = Math.fma(poly, y, TANH_C2);
            poly = Math.fma(poly, y, TANH_C1);
            poly = Math.fma(poly, y, TANH_C0);
            t = Math.fma(a * y, poly, a);
        } else {
            t = 1f - 2f / (exp(a + a) + 1f);
        }
        return Float.intBitsToFloat(Float.floatToRawIntBits(t) | (Float.floatToRawIntBits(x) & SIGN_BIT));
    }
}
