package dev.ladon.cuda;

import java.util.Locale;

/**
 * How float32 matrix products run on the GPU (float64 always runs in float64).
 * <ul>
 *   <li>{@link #FP32}: CUDA cores in full float32 (the default; matches the CPU backend to rounding).</li>
 *   <li>{@link #TF32}: tensor cores, inputs rounded to TF32 (10-bit mantissa), float32 accumulation;
 *       relative error about 1e-3, several times faster.</li>
 *   <li>{@link #BF16}: tensor cores, inputs rounded to bfloat16 (7-bit mantissa), float32
 *       accumulation; relative error about 1e-2, fastest.</li>
 * </ul>
 * Set with {@link CudaBackend#setMatmulPrecision} or the system property {@code ladon.cuda.matmulPrecision}
 * ({@code fp32}, {@code tf32} or {@code bf16}).
 */
public enum MatmulPrecision {
    FP32, TF32, BF16;

    /** Parses {@code fp32}, {@code tf32} or {@code bf16} (any case). */
    public static MatmulPrecision parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown matmul precision '" + s + "': expected fp32, tf32 or bf16");
        }
    }
}
