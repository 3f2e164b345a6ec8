package dev.ladon.tensor.cpu;

import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species the CPU kernels use. Normally the widest the CPU supports ({@code SPECIES_PREFERRED}:
 * 512 bits with AVX-512, 256 with AVX2, 128 on NEON). The system property {@code ladon.cpu.vectorBits}
 * (64, 128, 256 or 512) overrides it, so the tests can check that every kernel is also right with the
 * narrower vectors other users' CPUs have; a width wider than the hardware's still runs, only slowly.
 *
 * <p>The species are static finals on purpose: the JIT only turns vector code into SIMD instructions when
 * the species is a compile-time constant.
 */
final class CpuSpecies {
    static final VectorSpecies<Float> FLOAT = VectorSpecies.of(float.class, shape());
    static final VectorSpecies<Double> DOUBLE = VectorSpecies.of(double.class, shape());
    static final VectorSpecies<Long> LONG = VectorSpecies.of(long.class, shape());

    private CpuSpecies() {
    }

    private static VectorShape shape() {
        String bits = System.getProperty("ladon.cpu.vectorBits");
        if (bits == null || bits.isBlank()) {
            return VectorShape.preferredShape();
        }
        return switch (bits.trim()) {
            case "64" -> VectorShape.S_64_BIT;
            case "128" -> VectorShape.S_128_BIT;
            case "256" -> VectorShape.S_256_BIT;
            case "512" -> VectorShape.S_512_BIT;
            default -> throw new IllegalArgumentException(
                    "ladon.cpu.vectorBits must be 64, 128, 256 or 512, got '" + bits + "'");
        };
    }
}
