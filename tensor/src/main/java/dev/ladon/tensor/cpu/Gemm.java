package dev.ladon.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM: C = A B for strided A [M, K] and B [K, N], C contiguous [M, N] (row-major).
 * This first version packs B's rows contiguously and streams them with FMA vectors (i-k-j order);
 * a register-blocked micro-kernel replaces it.
 */
final class Gemm {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Gemm() {
    }

    /** For each batch entry: C[bi] = A[bi] B[bi]; C is dense with entries of M*N floats one after another. */
    static void batched(int batch, int m, int n, int k, float[] a, int[] aOff, int ars, int acs, float[] b, int[] bOff,
            int brs, int bcs, float[] c) {
        Parallel.forRange(batch * m, Math.max(1, 32768 / Math.max(n * k, 1)), (r0, r1) -> {
            float[] packedB = null;
            int packedFor = -1;
            for (int r = r0; r < r1; r++) {
                int bi = r / m;
                int i = r % m;
                if (packedFor != bi) {
                    packedB = packB(b, bOff[bi], brs, bcs, k, n, packedB);
                    packedFor = bi;
                }
                int co = r * n;
                int ao = aOff[bi] + i * ars;
                for (int p = 0; p < k; p++) {
                    float av = a[ao + p * acs];
                    FloatVector va = FloatVector.broadcast(F, av);
                    int bo = p * n;
                    int j = 0;
                    for (int bound = F.loopBound(n); j < bound; j += F.length()) {
                        va.fma(FloatVector.fromArray(F, packedB, bo + j), FloatVector.fromArray(F, c, co + j))
                                .intoArray(c, co + j);
                    }
                    for (; j < n; j++) {
                        c[co + j] += av * packedB[bo + j];
                    }
                }
            }
        });
    }

    private static float[] packB(float[] b, int off, int rs, int cs, int k, int n, float[] reuse) {
        float[] p = reuse != null && reuse.length >= k * n ? reuse : new float[k * n];
        for (int q = 0; q < k; q++) {
            for (int j = 0; j < n; j++) {
                p[q * n + j] = b[off + q * rs + j * cs];
            }
        }
        return p;
    }
}
