package dev.ladon.tensor.cpu;

import dev.ladon.tensor.OpProfiler;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * General matrix multiply, C = A B, for float32 and float64: A [M, K] and B [K, N] are read through any
 * strides (so transposed and sliced views cost no copy), C is dense row-major [M, N]; one product per
 * batch entry.
 *
 * <p>The loop nest is Goto's (GotoBLAS, OpenBLAS, BLIS). Each level keeps one block of an operand in one
 * level of cache while the loop inside it streams the other:
 *
 * <pre>
 * for jc: NC columns of C                       the packed B block [K x NC] stays in L3
 *   for ic: MC rows of C                        (one task; tasks are shared out between threads)
 *     for pc: KC of the shared dimension
 *       pack A[ic.., pc..] into panels of MR rows          the packed A block stays in L2
 *       for each B panel [KC x NR]                         packed once, by the first task that needs it
 *         for each A panel [MR x KC]
 *           micro-kernel: C[MR x NR] (+)= A panel B panel, the MR x NR sums held in vector registers
 * </pre>
 *
 * The first depth block stores its sums into C, later ones add to them, so C is never read before it
 * has been written (the fresh output of a product is not in cache, and each read would be a miss).
 *
 * <p>Packing copies each block into the exact order the micro-kernel reads it (B panel: row p's NR values
 * side by side; A panel: column p's MR values side by side), with zeros past the matrix edge, so the
 * micro-kernel runs only unit-stride loads whatever the operands' strides were. The exception is an A
 * whose rows are runs (row-major, as the activations of a linear layer): its block is read where it lies
 * by a second micro-kernel that takes each of its MR rows' start, which saves the packing pass over A
 * (products with it 2-6% faster at K = 256, the training step 2.6%). Each row's index is then the loop
 * counter plus a constant, whose bounds the JIT checks once before the loop; a kernel taking A's column
 * stride as well ran at about two thirds of the packed one's rate (the JIT keeps the bounds checks of an
 * index that multiplies the counter by a variable), so a transposed A, as in the weight gradient X^T dY,
 * is still packed, MR neighbours at a time. A tile that hangs over the edge of C is computed into a
 * scratch tile and only its valid part is copied out.
 *
 * <p>The micro-kernel keeps MR x 2 vector accumulators in local variables, never in arrays or fields
 * (a boxed vector is a heap object and ran about 18x slower). MR is 4 (8 accumulators) for 128- and
 * 256-bit vectors, which have 16 registers: with 12 (6 x 2 or 4 x 3) or even 10 accumulators the JIT
 * loads several broadcasts ahead, runs out of registers and keeps one accumulator on the stack, and the
 * store-to-load chain through it halves the kernel's rate (~84 to ~40 GFLOP/s on AVX2). With 512-bit
 * vectors (32 registers) MR is 8. After the last depth block the micro-kernel also adds a linear layer's
 * bias and takes its ReLU ({@link Epilogue}) in registers, before its one store of the tile. Each kernel
 * spells its stores out: a helper taking the vectors is not always inlined, and then boxes them.
 *
 * <p>{@link GemmPlan} cuts the work into tasks (MC rows of one entry's NC columns) that threads take
 * from a shared counter, and keeps the packed B panels the tasks share. While {@code LADON_PROFILE=products}
 * is on, each task times its packing, waiting and micro-kernels for {@link OpProfiler#recordProduct}.
 */
final class Gemm {
    private static final VectorSpecies<Float> F = CpuSpecies.FLOAT;
    private static final VectorSpecies<Double> D = CpuSpecies.DOUBLE;
    /** Rows of a float micro-tile: 8 with 512-bit vectors (16 of 32 registers), else 4 (8 of 16). */
    static final int MR = F.vectorBitSize() >= 512 ? 8 : 4;
    /** Columns of a float micro-tile: two vectors. */
    static final int NR = 2 * F.length();
    /** Four floats, the unit of {@link #transpose4x4}. */
    private static final VectorSpecies<Float> QUAD = FloatVector.SPECIES_128;
    // Two-vector shuffles: an index of 4 or more picks lane (index - 4) of the second vector.
    private static final VectorShuffle<Float> INTERLEAVE_LOW = VectorShuffle.fromValues(QUAD, 0, 4, 1, 5);
    private static final VectorShuffle<Float> INTERLEAVE_HIGH = VectorShuffle.fromValues(QUAD, 2, 6, 3, 7);
    private static final VectorShuffle<Float> JOIN_LOW = VectorShuffle.fromValues(QUAD, 0, 1, 4, 5);
    private static final VectorShuffle<Float> JOIN_HIGH = VectorShuffle.fromValues(QUAD, 2, 3, 6, 7);
    /** MR floats of one column of A, copied into a panel as one vector when A is transposed. */
    private static final VectorSpecies<Float> A_PANEL_ROW = MR == 8 ? FloatVector.SPECIES_256 : FloatVector.SPECIES_128;
    /** Rows and columns of a double micro-tile: 4 rows of two vectors everywhere. */
    static final int MR_D = 4;
    static final int NR_D = 2 * D.length();
    /**
     * Depth of a block. Long, because every depth block is one more pass over C, and a pass walks C
     * tile by tile down a column strip, which the hardware prefetchers do not follow: with KC = 256 those
     * passes cost about 10% at n = 1024. A B panel (KC x NR floats, 64 KiB with 256-bit vectors) and the
     * A block then stream from L2 rather than sit in L1, which the measured kernel rate did not mind
     * (KC = 1024, MC = 32, NC = 512 ran at 86-90 GFLOP/s for n = 512..2048 on one Zen 3 core; KC = 256,
     * MC = 128, NC = 2048 at 75-85).
     */
    static final int KC = 1024;
    /** Rows of a packed A block: MC x KC floats is 128 KiB of a 512 KiB L2, next to the B panel. */
    static final int MC = 32;
    /**
     * Columns of a packed B block at full depth: KC x NC floats is 2 MiB, a share of L3. Shallower
     * products get proportionally wider blocks ({@link GemmPlan#nc}).
     */
    static final int NC = 512;

    private static final ThreadLocal<FloatWorkspace> FLOAT_WORKSPACE = ThreadLocal.withInitial(FloatWorkspace::new);
    private static final ThreadLocal<DoubleWorkspace> DOUBLE_WORKSPACE = ThreadLocal.withInitial(DoubleWorkspace::new);
    /**
     * Packed B panels live off-heap, 64-byte aligned. The kernel reads each panel row as vectors, and a
     * float[] is only 8-byte aligned by the JVM: depending on where the array happened to land, loads
     * split across cache lines and the kernel ran at 57-62 instead of 86-90 GFLOP/s, so whole runs were
     * fast or slow by chance.
     */
    private static final long PANEL_ALIGNMENT = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** The panel buffer of the last finished product, lent to the next one so it is not reallocated. */
    private static final AtomicReference<MemorySegment> SPARE_PANELS = new AtomicReference<>();

    private Gemm() {
    }

    /**
     * For each batch entry bi: C[bi] = A[bi] B[bi], where A[bi][i, p] = a[aOff[bi] + i ars + p acs],
     * B[bi][p, j] = b[bOff[bi] + p brs + j bcs] and C[bi] is the dense M x N block at c[bi M N]. C is
     * overwritten, except when K is 0: then it is left as it is (the caller passes zeros).
     */
    static void batched(int batch, int m, int n, int k, float[] a, int[] aOff, int ars, int acs, float[] b, int[] bOff,
            int brs, int bcs, float[] c) {
        batched(batch, m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, null);
    }

    /**
     * What a product does to C once the last depth block is done, while C is in cache: adds
     * bias[biasOffset + j] to column j (when bias is not null), then takes max(x, 0) with Java's rules (when
     * relu), then keeps an element only where reluOutput, laid out as C, is above 0 (when reluOutput is not
     * null; 0 elsewhere, also where it is NaN: ReLU's backward from its output). The same floats as a
     * separate bias add, ReLU or ReLU backward would give, without their passes over the whole output.
     *
     * <p>Without reluOutput the micro-kernels apply it to each full tile in registers before storing it (the
     * same float operations in the same order); edge tiles get it after they are copied out. Applied to each
     * panel's block after the store, it read C back while C's lines were still arriving from memory, which in a
     * training step took 7% as long as the feed-forward product's kernels. With reluOutput, it runs once on
     * the task's MC whole rows (in L2), so that reluOutput is read in runs of full rows, which the prefetchers
     * follow: read 32 columns at a time down 32 rows 4 KiB apart, the masked product took 1.24 times as long
     * (`bench/ab/run gemm ... 2048x256x1024:reluback`), as long as the separate ReLU backward pass.
     */
    record Epilogue(float[] bias, int biasOffset, boolean relu, float[] reluOutput, int reluOutputOffset) {
        Epilogue(float[] bias, int biasOffset, boolean relu) {
            this(bias, biasOffset, relu, null, 0);
        }

        /** Only ReLU's backward: C[i, j] where reluOutput[offset + i N + j] &gt; 0, else 0. */
        static Epilogue reluGradient(float[] reluOutput, int offset) {
            return new Epilogue(null, 0, false, reluOutput, offset);
        }
    }

    /**
     * {@link #batched(int, int, int, int, float[], int[], int, int, float[], int[], int, int, float[])}, then
     * the epilogue (null for none) on C. K must be at least 1.
     */
    static void batched(int batch, int m, int n, int k, float[] a, int[] aOff, int ars, int acs, float[] b, int[] bOff,
            int brs, int bcs, float[] c, Epilogue epilogue) {
        run(batch, m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, epilogue, null, 0);
    }

    /**
     * One product C = A B (as {@link #batched} with one entry) that also writes the sum of each row of A,
     * rowSums[rowSumsOffset + i] = sum over p of A[i, p]: a linear layer's bias gradient (the column sums of
     * the output gradient g) comes out of the weight gradient g^T x, whose A is g^T, while the packing pass
     * has each block of A in cache. Each row is summed in four interleaved partial sums down each depth
     * block, the same order on every run and thread count. With rowSums null, the plain product. K must be at
     * least 1.
     */
    static void productWithRowSums(int m, int n, int k, float[] a, int aOff, int ars, int acs, float[] b, int bOff,
            int brs, int bcs, float[] c, float[] rowSums, int rowSumsOffset) {
        run(1, m, n, k, a, new int[] {aOff}, ars, acs, b, new int[] {bOff}, brs, bcs, c, null, rowSums, rowSumsOffset);
    }

    private static void run(int batch, int m, int n, int k, float[] a, int[] aOff, int ars, int acs, float[] b,
            int[] bOff, int brs, int bcs, float[] c, Epilogue epilogue, float[] rowSums, int rowSumsOffset) {
        if (batch == 0 || m == 0 || n == 0 || k == 0) {
            return;
        }
        PartTimes times = OpProfiler.productsEnabled() ? new PartTimes() : null;
        long start = times == null ? 0 : System.nanoTime();
        GemmPlan plan = new GemmPlan(batch, m, n, k, NR);
        MemorySegment packedB = panelBuffer((long) plan.waveElements() * Float.BYTES);
        for (int g = 0; g < plan.groups(); g += plan.groupsPerWave) {
            GemmPlan.Wave wave = plan.wave(g);
            // One body per thread; each takes tasks until none are left (run inline, one body takes all).
            Parallel.forRange(plan.threads, 1, (unusedStart, unusedEnd) -> {
                FloatWorkspace ws = FLOAT_WORKSPACE.get();
                for (int task = wave.nextTask(); task >= 0; task = wave.nextTask()) {
                    runTask(plan, wave, task, a, aOff, ars, acs, b, bOff, brs, bcs, c, packedB, ws, epilogue, rowSums,
                            rowSumsOffset, times);
                }
            });
        }
        SPARE_PANELS.set(packedB);
        if (times != null) {
            String label = (batch > 1 ? batch + "x[" : "") + m + "x" + k + "x" + n + (batch > 1 ? "]" : "") + ":"
                    + (acs == 1 ? 'n' : 't') + (bcs == 1 ? 'n' : 't')
                    + (epilogue == null ? "" : epilogue.reluOutput() != null ? "+relugrad"
                            : (epilogue.bias() != null ? "+bias" : "") + (epilogue.relu() ? "+relu" : ""))
                    + (rowSums != null ? "+rowsums" : "");
            OpProfiler.recordProduct(label, System.nanoTime() - start, times.task.get(), times.packA.get(),
                    times.packB.get(), times.waitB.get(), times.kernel.get(), 2L * batch * m * n * k);
        }
    }

    /** The threads' time in the parts of one product's tasks, for {@link OpProfiler#recordProduct}. */
    private static final class PartTimes {
        final AtomicLong task = new AtomicLong();
        final AtomicLong packA = new AtomicLong();
        final AtomicLong packB = new AtomicLong();
        final AtomicLong waitB = new AtomicLong();
        final AtomicLong kernel = new AtomicLong();
    }

    /** The float64 counterpart of {@link #batched(int, int, int, int, float[], int[], int, int, float[], int[], int, int, float[])}. */
    static void batched(int batch, int m, int n, int k, double[] a, int[] aOff, int ars, int acs, double[] b,
            int[] bOff, int brs, int bcs, double[] c) {
        if (batch == 0 || m == 0 || n == 0 || k == 0) {
            return;
        }
        GemmPlan plan = new GemmPlan(batch, m, n, k, NR_D);
        MemorySegment packedB = panelBuffer((long) plan.waveElements() * Double.BYTES);
        for (int g = 0; g < plan.groups(); g += plan.groupsPerWave) {
            GemmPlan.Wave wave = plan.wave(g);
            Parallel.forRange(plan.threads, 1, (unusedStart, unusedEnd) -> {
                DoubleWorkspace ws = DOUBLE_WORKSPACE.get();
                for (int task = wave.nextTask(); task >= 0; task = wave.nextTask()) {
                    runTask(plan, wave, task, a, aOff, ars, acs, b, bOff, brs, bcs, c, packedB, ws);
                }
            });
        }
        SPARE_PANELS.set(packedB);
    }

    /** A buffer of at least {@code bytes} for packed B panels: the spare one if it is big enough, else new. */
    private static MemorySegment panelBuffer(long bytes) {
        MemorySegment spare = SPARE_PANELS.getAndSet(null);
        return spare != null && spare.byteSize() >= bytes ? spare : Arena.ofAuto().allocate(bytes, PANEL_ALIGNMENT);
    }

    // =============================================================================================
    // float32
    // =============================================================================================

    /** Per-thread packed A block and edge tile, grown on demand and kept for the thread's life. */
    private static final class FloatWorkspace {
        float[] packedA = new float[0];
        final float[] tile = new float[MR * NR];
        /** One panel's MR row sums, on their way out of a vector ({@link #sumPackedRows}). */
        final float[] rowSumLanes = new float[MR];

        float[] packedA(int size) {
            if (packedA.length < size) {
                packedA = new float[size];
            }
            return packedA;
        }
    }

    /** One task: MC rows of one entry's block of NC columns, over the whole depth (see {@link GemmPlan}). */
    private static void runTask(GemmPlan plan, GemmPlan.Wave wave, int task, float[] a, int[] aOff, int ars, int acs,
            float[] b, int[] bOff, int brs, int bcs, float[] c, MemorySegment packedB, FloatWorkspace ws,
            Epilogue epilogue, float[] rowSums, int rowSumsOffset, PartTimes times) {
        // With times, the parts are timed and added up once at the end of the task. The kernels' time (with the
        // bias and ReLU they apply) is the panel loop's less what packing and waiting took in it, so a panel
        // that is already packed costs no clock reads beyond the loop's own.
        long taskStart = times == null ? 0 : System.nanoTime();
        long packingA = 0;
        long packingB = 0;
        long waitingB = 0;
        long loops = 0;
        int groupInWave = task / plan.rowBlocks;
        int group = wave.firstGroup + groupInWave;
        int rowBlock = task % plan.rowBlocks;
        int bi = plan.entryOf(group);
        int i0 = rowBlock * MC;
        int j0 = plan.firstColumnOf(group);
        int mc = Math.min(MC, plan.m - i0);
        int nc = Math.min(plan.nc, plan.n - j0);
        int panels = (nc + NR - 1) / NR;
        int firstPanel = plan.firstPanel(rowBlock, panels);
        float[] packedA = ws.packedA(plan.kcMax * roundUp(MC, MR));
        // The first column block's tasks sum the rows of A, each row block once, from its packed panels.
        boolean sumRows = rowSums != null && j0 == 0;
        // A block of whole panels whose rows are runs (row-major A) is read where it lies, not packed.
        boolean direct = rowSums == null && acs == 1 && mc % MR == 0;
        for (int depth = 0; depth < plan.depthBlocks; depth++) {
            int pc = depth * plan.kcMax;
            int kc = Math.min(plan.kcMax, plan.k - pc);
            int src = aOff[bi] + i0 * ars + pc * acs;
            if (!direct) {
                long t = times == null ? 0 : System.nanoTime();
                packA(a, src, ars, acs, mc, kc, packedA);
                if (sumRows) {
                    sumPackedRows(packedA, mc, kc, rowSums, rowSumsOffset + i0, depth == 0, ws.rowSumLanes);
                }
                if (times != null) {
                    packingA += System.nanoTime() - t;
                }
            }
            // Bias and ReLU are applied by the micro-kernels to the last depth block's tiles, in registers.
            Epilogue tileEpilogue = epilogue != null && epilogue.reluOutput() == null && depth == plan.depthBlocks - 1
                    ? epilogue : null;
            long loopStart = times == null ? 0 : System.nanoTime();
            for (int step = 0; step < panels; step++) {
                int panel = (firstPanel + step) % panels;
                int cols = Math.min(NR, nc - panel * NR);
                int bo = plan.panelOffset(groupInWave, depth, panel);
                boolean timed = times != null && !wave.ready(groupInWave, depth, panel);
                long t = timed ? System.nanoTime() : 0;
                boolean packs = wave.claim(groupInWave, depth, panel);
                if (packs) {
                    try {
                        packB(b, bOff[bi] + pc * brs + (j0 + panel * NR) * bcs, brs, bcs, kc, cols, packedB, bo);
                    } catch (RuntimeException | Error e) {
                        wave.markFailed(groupInWave, depth, panel);
                        throw e;
                    }
                    wave.markPacked(groupInWave, depth, panel);
                }
                if (timed) {
                    long spent = System.nanoTime() - t;
                    if (packs) {
                        packingB += spent;
                    } else {
                        waitingB += spent;
                    }
                }
                int co = (bi * plan.m + i0) * plan.n + j0 + panel * NR;
                if (direct) {
                    rowsKernel(kc, mc, cols, a, src, ars, packedB, bo, ws.tile, c, co, plan.n, depth > 0, tileEpilogue,
                            j0 + panel * NR);
                } else {
                    panelKernel(kc, mc, cols, packedA, packedB, bo, ws.tile, c, co, plan.n, depth > 0, tileEpilogue,
                            j0 + panel * NR);
                }
            }
            if (times != null) {
                loops += System.nanoTime() - loopStart;
            }
        }
        if (epilogue != null && epilogue.reluOutput() != null) {
            applyEpilogue(epilogue, j0, c, (bi * plan.m + i0) * plan.n + j0, plan.n, mc, nc);
        }
        if (times != null) {
            times.task.addAndGet(System.nanoTime() - taskStart);
            times.packA.addAndGet(packingA);
            times.packB.addAndGet(packingB);
            times.waitB.addAndGet(waitingB);
            times.kernel.addAndGet(loops - packingB - waitingB);
        }
    }

    /**
     * The epilogue on the finished block C[rows x cols] at co, whose first column is column j of C (C starts
     * at index 0 of its array, so co is also the block's position in a reluOutput laid out as C).
     */
    private static void applyEpilogue(Epilogue e, int j, float[] c, int co, int ldc, int rows, int cols) {
        int vl = F.length();
        float[] bias = e.bias();
        int bo = e.biasOffset() + j;
        float[] mask = e.reluOutput();
        int mo = e.reluOutputOffset();
        for (int r = 0; r < rows; r++) {
            int at = co + r * ldc;
            int x = 0;
            for (; x + vl <= cols; x += vl) {
                FloatVector v = FloatVector.fromArray(F, c, at + x);
                if (bias != null) {
                    v = v.add(FloatVector.fromArray(F, bias, bo + x));
                }
                if (e.relu()) {
                    v = v.max(0f);
                }
                if (mask != null) {
                    // Zero where the output is not above 0; a NaN output compares false and gives 0 too.
                    FloatVector out = FloatVector.fromArray(F, mask, mo + at + x);
                    v = FloatVector.zero(F).blend(v, out.compare(VectorOperators.GT, 0f));
                }
                v.intoArray(c, at + x);
            }
            for (; x < cols; x++) {
                float v = c[at + x];
                if (bias != null) {
                    v += bias[bo + x];
                }
                if (e.relu()) {
                    v = Math.max(v, 0f);
                }
                if (mask != null && !(mask[mo + at + x] > 0f)) {
                    v = 0f;
                }
                c[at + x] = v;
            }
        }
    }

    /**
     * Adds up the rows of a packed block of A (see {@link #packA}): rowSums[at + i] becomes (when first) or
     * gains the sum over p of A[i, p] for i &lt; mc, in four partial sums (p mod 4) added pairwise at the end.
     */
    private static void sumPackedRows(float[] packedA, int mc, int kc, float[] rowSums, int at, boolean first,
            float[] lanes) {
        for (int q = 0; q * MR < mc; q++) {
            int d = q * MR * kc;
            FloatVector s0 = FloatVector.zero(A_PANEL_ROW);
            FloatVector s1 = s0;
            FloatVector s2 = s0;
            FloatVector s3 = s0;
            int p = 0;
            for (; p + 4 <= kc; p += 4) {
                s0 = s0.add(FloatVector.fromArray(A_PANEL_ROW, packedA, d + p * MR));
                s1 = s1.add(FloatVector.fromArray(A_PANEL_ROW, packedA, d + (p + 1) * MR));
                s2 = s2.add(FloatVector.fromArray(A_PANEL_ROW, packedA, d + (p + 2) * MR));
                s3 = s3.add(FloatVector.fromArray(A_PANEL_ROW, packedA, d + (p + 3) * MR));
            }
            for (; p < kc; p++) {
                s0 = s0.add(FloatVector.fromArray(A_PANEL_ROW, packedA, d + p * MR));
            }
            s0.add(s1).add(s2.add(s3)).intoArray(lanes, 0);
            int rows = Math.min(MR, mc - q * MR);
            for (int r = 0; r < rows; r++) {
                int i = at + q * MR + r;
                rowSums[i] = first ? lanes[r] : rowSums[i] + lanes[r];
            }
        }
    }

    /**
     * {@link #panelKernel} for an A block read in place: its row i is the run of kc floats at
     * a[ao + i lda], and mc is a multiple of MR.
     */
    private static void rowsKernel(int kc, int mc, int cols, float[] a, int ao, int lda, MemorySegment packedB, int bo,
            float[] tile, float[] c, int co, int ldc, boolean accumulate, Epilogue epilogue, int column) {
        float[] bias = epilogue == null ? null : epilogue.bias();
        int biasAt = epilogue == null ? 0 : epilogue.biasOffset() + column;
        boolean relu = epilogue != null && epilogue.relu();
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = ao + ir * lda;
            int ci = co + ir * ldc;
            if (cols == NR) {
                rowsMicroKernel(kc, a, rows, lda, packedB, bo, c, ci, ldc, accumulate, bias, biasAt, relu);
            } else {
                rowsMicroKernel(kc, a, rows, lda, packedB, bo, tile, 0, NR, false, null, 0, false);
                copyTile(tile, MR, cols, c, ci, ldc, accumulate);
                if (epilogue != null) {
                    applyEpilogue(epilogue, column, c, ci, ldc, MR, cols);
                }
            }
        }
    }

    /**
     * C[mc x cols] (+)= packed A block [mc x kc] times one packed B panel: the micro-kernel down the
     * panel, adding into C when {@code accumulate} (depth blocks after the first), else overwriting it.
     */
    private static void panelKernel(int kc, int mc, int cols, float[] packedA, MemorySegment packedB, int bo,
            float[] tile, float[] c, int co, int ldc, boolean accumulate, Epilogue epilogue, int column) {
        float[] bias = epilogue == null ? null : epilogue.bias();
        int biasAt = epilogue == null ? 0 : epilogue.biasOffset() + column;
        boolean relu = epilogue != null && epilogue.relu();
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int ao = ir * kc;
            int ci = co + ir * ldc;
            if (rows == MR && cols == NR) {
                microKernel(kc, packedA, ao, packedB, bo, c, ci, ldc, accumulate, bias, biasAt, relu);
            } else {
                microKernel(kc, packedA, ao, packedB, bo, tile, 0, NR, false, null, 0, false);
                copyTile(tile, rows, cols, c, ci, ldc, accumulate);
                if (epilogue != null) {
                    applyEpilogue(epilogue, column, c, ci, ldc, rows, cols);
                }
            }
        }
    }

    /** The valid rows x cols corner of a scratch tile into (or, accumulating, onto) C at ci. */
    private static void copyTile(float[] tile, int rows, int cols, float[] c, int ci, int ldc, boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                int e = ci + r * ldc + j;
                c[e] = accumulate ? c[e] + tile[r * NR + j] : tile[r * NR + j];
            }
        }
    }

    /**
     * Packs the mc x kc block of A at src into panels of MR rows: panel q holds A[q MR + r, p] at
     * q MR kc + p MR + r. Rows past mc are zero.
     */
    private static void packA(float[] a, int src, int ars, int acs, int mc, int kc, float[] dst) {
        int fullPanels = mc / MR;
        if (ars == 1) {
            // Transposed A: column p of the block is contiguous, so walk it once and hand each panel its MR
            // neighbours as one short vector. Going panel by panel instead reads every cache line of A
            // MR-at-a-time in MC / MR separate sweeps down kc lines, which do not fit in L1.
            for (int p = 0; p < kc; p++) {
                int s = src + p * acs;
                for (int q = 0; q < fullPanels; q++) {
                    FloatVector.fromArray(A_PANEL_ROW, a, s + q * MR).intoArray(dst, q * MR * kc + p * MR);
                }
            }
        } else if (acs == 1) {
            // Row-major A: four rows, four columns at a time, turned into four panel steps by a 4 x 4
            // transpose in registers (MR / 4 of them per step). About 2.5x faster than element by element,
            // which mattered when a product has few columns to spread the packing over (N = 256 has only
            // 16 B panels) or a shallow depth (the attention batch, K = 64: with MR = 8 and packing element
            // by element, 0.3-0.5 ms of a 2 ms call went into packing A).
            for (int q = 0; q < fullPanels; q++) {
                int s0 = src + q * MR * ars;
                int d = q * MR * kc;
                int p = 0;
                for (; p + 4 <= kc; p += 4) {
                    for (int r = 0; r < MR; r += 4) {
                        transpose4x4(a, s0 + r * ars + p, ars, dst, d + p * MR + r, MR);
                    }
                }
                for (; p < kc; p++) {
                    for (int r = 0; r < MR; r++) {
                        dst[d + p * MR + r] = a[s0 + r * ars + p];
                    }
                }
            }
        } else {
            // Down the shared dimension with the panel's MR rows side by side: the writes are sequential.
            for (int q = 0; q < fullPanels; q++) {
                int d = q * MR * kc;
                int s = src + q * MR * ars;
                for (int p = 0; p < kc; p++) {
                    for (int r = 0; r < MR; r++) {
                        dst[d + p * MR + r] = a[s + r * ars + p * acs];
                    }
                }
            }
        }
        if (fullPanels * MR < mc) {
            int d = fullPanels * MR * kc;
            for (int p = 0; p < kc; p++) {
                for (int r = 0; r < MR; r++) {
                    int i = fullPanels * MR + r;
                    dst[d + p * MR + r] = i < mc ? a[src + i * ars + p * acs] : 0f;
                }
            }
        }
    }

    /**
     * dst[to + c dstStride + r] = a[from + r stride + c] for r, c &lt; 4: four rows of four floats written as
     * four columns (dstStride 4: one block of 16). Two rounds of two-vector shuffles: the first interleaves
     * rows 0 and 1 (and 2 and 3) pairwise, the second joins the halves. Also packs attention's key blocks.
     */
    static void transpose4x4(float[] a, int from, int stride, float[] dst, int to, int dstStride) {
        FloatVector r0 = FloatVector.fromArray(QUAD, a, from);
        FloatVector r1 = FloatVector.fromArray(QUAD, a, from + stride);
        FloatVector r2 = FloatVector.fromArray(QUAD, a, from + 2 * stride);
        FloatVector r3 = FloatVector.fromArray(QUAD, a, from + 3 * stride);
        FloatVector low01 = r0.rearrange(INTERLEAVE_LOW, r1);   // r0[0] r1[0] r0[1] r1[1]
        FloatVector high01 = r0.rearrange(INTERLEAVE_HIGH, r1); // r0[2] r1[2] r0[3] r1[3]
        FloatVector low23 = r2.rearrange(INTERLEAVE_LOW, r3);
        FloatVector high23 = r2.rearrange(INTERLEAVE_HIGH, r3);
        low01.rearrange(JOIN_LOW, low23).intoArray(dst, to);
        low01.rearrange(JOIN_HIGH, low23).intoArray(dst, to + dstStride);
        high01.rearrange(JOIN_LOW, high23).intoArray(dst, to + 2 * dstStride);
        high01.rearrange(JOIN_HIGH, high23).intoArray(dst, to + 3 * dstStride);
    }

    /**
     * {@link #transpose4x4(float[], int, int, float[], int, int)} into a packed-panel segment: row c of the
     * result goes to float index to + c rowStride. (One method writing through MemorySegment.ofArray for
     * both made packing A about 10% slower, so the array and segment versions stay separate.)
     */
    private static void transpose4x4(float[] a, int from, int stride, MemorySegment dst, int to, int rowStride) {
        FloatVector r0 = FloatVector.fromArray(QUAD, a, from);
        FloatVector r1 = FloatVector.fromArray(QUAD, a, from + stride);
        FloatVector r2 = FloatVector.fromArray(QUAD, a, from + 2 * stride);
        FloatVector r3 = FloatVector.fromArray(QUAD, a, from + 3 * stride);
        FloatVector low01 = r0.rearrange(INTERLEAVE_LOW, r1);
        FloatVector high01 = r0.rearrange(INTERLEAVE_HIGH, r1);
        FloatVector low23 = r2.rearrange(INTERLEAVE_LOW, r3);
        FloatVector high23 = r2.rearrange(INTERLEAVE_HIGH, r3);
        long row = (long) rowStride * Float.BYTES;
        long at = (long) to * Float.BYTES;
        low01.rearrange(JOIN_LOW, low23).intoMemorySegment(dst, at, NATIVE);
        low01.rearrange(JOIN_HIGH, low23).intoMemorySegment(dst, at + row, NATIVE);
        high01.rearrange(JOIN_LOW, high23).intoMemorySegment(dst, at + 2 * row, NATIVE);
        high01.rearrange(JOIN_HIGH, high23).intoMemorySegment(dst, at + 3 * row, NATIVE);
    }

    /**
     * Packs the kc x cols block of B at src (cols at most NR) into one panel at float index d of dst:
     * B[p, j] goes to d + p NR + j. Columns past cols are zero.
     */
    private static void packB(float[] b, int src, int brs, int bcs, int kc, int cols, MemorySegment dst, int d) {
        int vl = F.length();
        if (cols == NR && bcs == 1) {
            // Row-major B: each panel row is two vector loads.
            for (int p = 0; p < kc; p++) {
                int row = src + p * brs;
                long to = (long) (d + p * NR) * Float.BYTES;
                FloatVector.fromArray(F, b, row).intoMemorySegment(dst, to, NATIVE);
                FloatVector.fromArray(F, b, row + vl).intoMemorySegment(dst, to + (long) vl * Float.BYTES, NATIVE);
            }
        } else if (cols == NR && brs == 1) {
            // Transposed B (columns contiguous, as W^T in a linear layer): 4 x 4 blocks turned in registers,
            // then the columns one by one for a depth that is not a multiple of 4.
            int p4 = kc / 4 * 4;
            for (int j = 0; j < NR; j += 4) {
                for (int p = 0; p < p4; p += 4) {
                    transpose4x4(b, src + j * bcs + p, bcs, dst, d + p * NR + j, NR);
                }
            }
            for (int j = 0; j < NR; j++) {
                int col = src + j * bcs;
                for (int p = p4; p < kc; p++) {
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT, d + p * NR + j, b[col + p]);
                }
            }
        } else {
            for (int p = 0; p < kc; p++) {
                for (int j = 0; j < NR; j++) {
                    float v = j < cols ? b[src + p * brs + j * bcs] : 0f;
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT, d + p * NR + j, v);
                }
            }
        }
    }

    private static void microKernel(int kc, float[] pa, int ao, MemorySegment pb, int bo, float[] c, int co, int ldc,
            boolean accumulate, float[] bias, int biasAt, boolean relu) {
        if (MR == 8) {
            kernel8x2(kc, pa, ao, pb, bo, c, co, ldc, accumulate, bias, biasAt, relu);
        } else {
            kernel4x2(kc, pa, ao, pb, bo, c, co, ldc, accumulate, bias, biasAt, relu);
        }
    }

    /**
     * C[4 x 2 vectors] = (or +=, when accumulating) packed A panel [kc x 4] times B panel [kc x 2 vectors]:
     * 8 accumulators; each step loads 2 vectors of B and broadcasts 4 neighbouring values of A.
     */
    private static void kernel4x2(int kc, float[] pa, int ao, MemorySegment pb, int bo, float[] c, int co, int ldc,
            boolean accumulate, float[] bias, int biasAt, boolean relu) {
        int vl = F.length();
        FloatVector c00 = FloatVector.zero(F);
        FloatVector c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F);
        FloatVector c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F);
        FloatVector c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F);
        FloatVector c31 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * 4;
            long bi = ((long) bo + (long) p * 2 * vl) * Float.BYTES;
            FloatVector b0 = FloatVector.fromMemorySegment(F, pb, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, pb, bi + (long) vl * Float.BYTES, NATIVE);
            FloatVector av = FloatVector.broadcast(F, pa[ai]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, pa[ai + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, pa[ai + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, pa[ai + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(F, c, co));
            c01 = c01.add(FloatVector.fromArray(F, c, co + vl));
            c10 = c10.add(FloatVector.fromArray(F, c, co + ldc));
            c11 = c11.add(FloatVector.fromArray(F, c, co + ldc + vl));
            c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + vl));
            c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + vl));
        }
        if (bias != null) {
            FloatVector b0 = FloatVector.fromArray(F, bias, biasAt);
            FloatVector b1 = FloatVector.fromArray(F, bias, biasAt + vl);
            c00 = c00.add(b0);
            c01 = c01.add(b1);
            c10 = c10.add(b0);
            c11 = c11.add(b1);
            c20 = c20.add(b0);
            c21 = c21.add(b1);
            c30 = c30.add(b0);
            c31 = c31.add(b1);
        }
        if (relu) {
            c00 = c00.max(0f);
            c01 = c01.max(0f);
            c10 = c10.max(0f);
            c11 = c11.max(0f);
            c20 = c20.max(0f);
            c21 = c21.max(0f);
            c30 = c30.max(0f);
            c31 = c31.max(0f);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + vl);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + vl);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + vl);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + vl);
    }

    /** The 512-bit counterpart of {@link #kernel4x2}: 8 rows, 16 accumulators out of 32 registers. */
    private static void kernel8x2(int kc, float[] pa, int ao, MemorySegment pb, int bo, float[] c, int co, int ldc,
            boolean accumulate, float[] bias, int biasAt, boolean relu) {
        int vl = F.length();
        FloatVector c00 = FloatVector.zero(F);
        FloatVector c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F);
        FloatVector c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F);
        FloatVector c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F);
        FloatVector c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F);
        FloatVector c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F);
        FloatVector c51 = FloatVector.zero(F);
        FloatVector c60 = FloatVector.zero(F);
        FloatVector c61 = FloatVector.zero(F);
        FloatVector c70 = FloatVector.zero(F);
        FloatVector c71 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * 8;
            long bi = ((long) bo + (long) p * 2 * vl) * Float.BYTES;
            FloatVector b0 = FloatVector.fromMemorySegment(F, pb, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, pb, bi + (long) vl * Float.BYTES, NATIVE);
            FloatVector av = FloatVector.broadcast(F, pa[ai]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, pa[ai + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, pa[ai + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, pa[ai + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(F, pa[ai + 4]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(F, pa[ai + 5]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
            av = FloatVector.broadcast(F, pa[ai + 6]);
            c60 = av.fma(b0, c60);
            c61 = av.fma(b1, c61);
            av = FloatVector.broadcast(F, pa[ai + 7]);
            c70 = av.fma(b0, c70);
            c71 = av.fma(b1, c71);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(F, c, co));
            c01 = c01.add(FloatVector.fromArray(F, c, co + vl));
            c10 = c10.add(FloatVector.fromArray(F, c, co + ldc));
            c11 = c11.add(FloatVector.fromArray(F, c, co + ldc + vl));
            c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + vl));
            c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + vl));
            c40 = c40.add(FloatVector.fromArray(F, c, co + 4 * ldc));
            c41 = c41.add(FloatVector.fromArray(F, c, co + 4 * ldc + vl));
            c50 = c50.add(FloatVector.fromArray(F, c, co + 5 * ldc));
            c51 = c51.add(FloatVector.fromArray(F, c, co + 5 * ldc + vl));
            c60 = c60.add(FloatVector.fromArray(F, c, co + 6 * ldc));
            c61 = c61.add(FloatVector.fromArray(F, c, co + 6 * ldc + vl));
            c70 = c70.add(FloatVector.fromArray(F, c, co + 7 * ldc));
            c71 = c71.add(FloatVector.fromArray(F, c, co + 7 * ldc + vl));
        }
        if (bias != null) {
            FloatVector b0 = FloatVector.fromArray(F, bias, biasAt);
            FloatVector b1 = FloatVector.fromArray(F, bias, biasAt + vl);
            c00 = c00.add(b0);
            c01 = c01.add(b1);
            c10 = c10.add(b0);
            c11 = c11.add(b1);
            c20 = c20.add(b0);
            c21 = c21.add(b1);
            c30 = c30.add(b0);
            c31 = c31.add(b1);
            c40 = c40.add(b0);
            c41 = c41.add(b1);
            c50 = c50.add(b0);
            c51 = c51.add(b1);
            c60 = c60.add(b0);
            c61 = c61.add(b1);
            c70 = c70.add(b0);
            c71 = c71.add(b1);
        }
        if (relu) {
            c00 = c00.max(0f);
            c01 = c01.max(0f);
            c10 = c10.max(0f);
            c11 = c11.max(0f);
            c20 = c20.max(0f);
            c21 = c21.max(0f);
            c30 = c30.max(0f);
            c31 = c31.max(0f);
            c40 = c40.max(0f);
            c41 = c41.max(0f);
            c50 = c50.max(0f);
            c51 = c51.max(0f);
            c60 = c60.max(0f);
            c61 = c61.max(0f);
            c70 = c70.max(0f);
            c71 = c71.max(0f);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + vl);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + vl);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + vl);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + vl);
        c40.intoArray(c, co + 4 * ldc);
        c41.intoArray(c, co + 4 * ldc + vl);
        c50.intoArray(c, co + 5 * ldc);
        c51.intoArray(c, co + 5 * ldc + vl);
        c60.intoArray(c, co + 6 * ldc);
        c61.intoArray(c, co + 6 * ldc + vl);
        c70.intoArray(c, co + 7 * ldc);
        c71.intoArray(c, co + 7 * ldc + vl);
    }

    private static void rowsMicroKernel(int kc, float[] a, int ao, int lda, MemorySegment pb, int bo, float[] c, int co,
            int ldc, boolean accumulate, float[] bias, int biasAt, boolean relu) {
        if (MR == 8) {
            kernel8x2Rows(kc, a, ao, lda, pb, bo, c, co, ldc, accumulate, bias, biasAt, relu);
        } else {
            kernel4x2Rows(kc, a, ao, lda, pb, bo, c, co, ldc, accumulate, bias, biasAt, relu);
        }
    }

    /**
     * {@link #kernel4x2} with A read in place, as {@link #kernel8x2Rows}.
     */
    private static void kernel4x2Rows(int kc, float[] a, int ao, int lda, MemorySegment pb, int bo, float[] c, int co,
            int ldc, boolean accumulate, float[] bias, int biasAt, boolean relu) {
        int vl = F.length();
        int a0 = ao;
        int a1 = ao + lda;
        int a2 = ao + 2 * lda;
        int a3 = ao + 3 * lda;
        FloatVector c00 = FloatVector.zero(F);
        FloatVector c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F);
        FloatVector c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F);
        FloatVector c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F);
        FloatVector c31 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            long bi = ((long) bo + (long) p * 2 * vl) * Float.BYTES;
            FloatVector b0 = FloatVector.fromMemorySegment(F, pb, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, pb, bi + (long) vl * Float.BYTES, NATIVE);
            FloatVector av = FloatVector.broadcast(F, a[a0 + p]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, a[a1 + p]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, a[a2 + p]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, a[a3 + p]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(F, c, co));
            c01 = c01.add(FloatVector.fromArray(F, c, co + vl));
            c10 = c10.add(FloatVector.fromArray(F, c, co + ldc));
            c11 = c11.add(FloatVector.fromArray(F, c, co + ldc + vl));
            c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + vl));
            c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + vl));
        }
        if (bias != null) {
            FloatVector b0 = FloatVector.fromArray(F, bias, biasAt);
            FloatVector b1 = FloatVector.fromArray(F, bias, biasAt + vl);
            c00 = c00.add(b0);
            c01 = c01.add(b1);
            c10 = c10.add(b0);
            c11 = c11.add(b1);
            c20 = c20.add(b0);
            c21 = c21.add(b1);
            c30 = c30.add(b0);
            c31 = c31.add(b1);
        }
        if (relu) {
            c00 = c00.max(0f);
            c01 = c01.max(0f);
            c10 = c10.max(0f);
            c11 = c11.max(0f);
            c20 = c20.max(0f);
            c21 = c21.max(0f);
            c30 = c30.max(0f);
            c31 = c31.max(0f);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + vl);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + vl);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + vl);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + vl);
    }

    /**
     * {@link #kernel8x2} with A read in place: row r of the tile is the run at a[ao + r lda]. Each index is
     * the loop counter plus a constant, so the JIT checks the bounds once before the loop; with a
     * variable stride multiplying the counter (A's column stride) it would check every access, which is why
     * A is packed when its rows are not runs.
     */
    private static void kernel8x2Rows(int kc, float[] a, int ao, int lda, MemorySegment pb, int bo, float[] c, int co,
            int ldc, boolean accumulate, float[] bias, int biasAt, boolean relu) {
        int vl = F.length();
        int a0 = ao;
        int a1 = ao + lda;
        int a2 = ao + 2 * lda;
        int a3 = ao + 3 * lda;
        int a4 = ao + 4 * lda;
        int a5 = ao + 5 * lda;
        int a6 = ao + 6 * lda;
        int a7 = ao + 7 * lda;
        FloatVector c00 = FloatVector.zero(F);
        FloatVector c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F);
        FloatVector c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F);
        FloatVector c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F);
        FloatVector c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F);
        FloatVector c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F);
        FloatVector c51 = FloatVector.zero(F);
        FloatVector c60 = FloatVector.zero(F);
        FloatVector c61 = FloatVector.zero(F);
        FloatVector c70 = FloatVector.zero(F);
        FloatVector c71 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            long bi = ((long) bo + (long) p * 2 * vl) * Float.BYTES;
            FloatVector b0 = FloatVector.fromMemorySegment(F, pb, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, pb, bi + (long) vl * Float.BYTES, NATIVE);
            FloatVector av = FloatVector.broadcast(F, a[a0 + p]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, a[a1 + p]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, a[a2 + p]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, a[a3 + p]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(F, a[a4 + p]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(F, a[a5 + p]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
            av = FloatVector.broadcast(F, a[a6 + p]);
            c60 = av.fma(b0, c60);
            c61 = av.fma(b1, c61);
            av = FloatVector.broadcast(F, a[a7 + p]);
            c70 = av.fma(b0, c70);
            c71 = av.fma(b1, c71);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(F, c, co));
            c01 = c01.add(FloatVector.fromArray(F, c, co + vl));
            c10 = c10.add(FloatVector.fromArray(F, c, co + ldc));
            c11 = c11.add(FloatVector.fromArray(F, c, co + ldc + vl));
            c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + vl));
            c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + vl));
            c40 = c40.add(FloatVector.fromArray(F, c, co + 4 * ldc));
            c41 = c41.add(FloatVector.fromArray(F, c, co + 4 * ldc + vl));
            c50 = c50.add(FloatVector.fromArray(F, c, co + 5 * ldc));
            c51 = c51.add(FloatVector.fromArray(F, c, co + 5 * ldc + vl));
            c60 = c60.add(FloatVector.fromArray(F, c, co + 6 * ldc));
            c61 = c61.add(FloatVector.fromArray(F, c, co + 6 * ldc + vl));
            c70 = c70.add(FloatVector.fromArray(F, c, co + 7 * ldc));
            c71 = c71.add(FloatVector.fromArray(F, c, co + 7 * ldc + vl));
        }
        if (bias != null) {
            FloatVector b0 = FloatVector.fromArray(F, bias, biasAt);
            FloatVector b1 = FloatVector.fromArray(F, bias, biasAt + vl);
            c00 = c00.add(b0);
            c01 = c01.add(b1);
            c10 = c10.add(b0);
            c11 = c11.add(b1);
            c20 = c20.add(b0);
            c21 = c21.add(b1);
            c30 = c30.add(b0);
            c31 = c31.add(b1);
            c40 = c40.add(b0);
            c41 = c41.add(b1);
            c50 = c50.add(b0);
            c51 = c51.add(b1);
            c60 = c60.add(b0);
            c61 = c61.add(b1);
            c70 = c70.add(b0);
            c71 = c71.add(b1);
        }
        if (relu) {
            c00 = c00.max(0f);
            c01 = c01.max(0f);
            c10 = c10.max(0f);
            c11 = c11.max(0f);
            c20 = c20.max(0f);
            c21 = c21.max(0f);
            c30 = c30.max(0f);
            c31 = c31.max(0f);
            c40 = c40.max(0f);
            c41 = c41.max(0f);
            c50 = c50.max(0f);
            c51 = c51.max(0f);
            c60 = c60.max(0f);
            c61 = c61.max(0f);
            c70 = c70.max(0f);
            c71 = c71.max(0f);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + vl);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + vl);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + vl);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + vl);
        c40.intoArray(c, co + 4 * ldc);
        c41.intoArray(c, co + 4 * ldc + vl);
        c50.intoArray(c, co + 5 * ldc);
        c51.intoArray(c, co + 5 * ldc + vl);
        c60.intoArray(c, co + 6 * ldc);
        c61.intoArray(c, co + 6 * ldc + vl);
        c70.intoArray(c, co + 7 * ldc);
        c71.intoArray(c, co + 7 * ldc + vl);
    }

    // =============================================================================================
    // float64: the same tasks with DoubleVector and one 4 x 2 micro-kernel
    // =============================================================================================

    private static final class DoubleWorkspace {
        double[] packedA = new double[0];
        final double[] tile = new double[MR_D * NR_D];

        double[] packedA(int size) {
            if (packedA.length < size) {
                packedA = new double[size];
            }
            return packedA;
        }
    }

    private static void runTask(GemmPlan plan, GemmPlan.Wave wave, int task, double[] a, int[] aOff, int ars,
            int acs, double[] b, int[] bOff, int brs, int bcs, double[] c, MemorySegment packedB, DoubleWorkspace ws) {
        int groupInWave = task / plan.rowBlocks;
        int group = wave.firstGroup + groupInWave;
        int rowBlock = task % plan.rowBlocks;
        int bi = plan.entryOf(group);
        int i0 = rowBlock * MC;
        int j0 = plan.firstColumnOf(group);
        int mc = Math.min(MC, plan.m - i0);
        int nc = Math.min(plan.nc, plan.n - j0);
        int panels = (nc + NR_D - 1) / NR_D;
        int firstPanel = plan.firstPanel(rowBlock, panels);
        double[] packedA = ws.packedA(plan.kcMax * roundUp(MC, MR_D));
        for (int depth = 0; depth < plan.depthBlocks; depth++) {
            int pc = depth * plan.kcMax;
            int kc = Math.min(plan.kcMax, plan.k - pc);
            packA(a, aOff[bi] + i0 * ars + pc * acs, ars, acs, mc, kc, packedA);
            for (int step = 0; step < panels; step++) {
                int panel = (firstPanel + step) % panels;
                int cols = Math.min(NR_D, nc - panel * NR_D);
                int bo = plan.panelOffset(groupInWave, depth, panel);
                if (wave.claim(groupInWave, depth, panel)) {
                    try {
                        packB(b, bOff[bi] + pc * brs + (j0 + panel * NR_D) * bcs, brs, bcs, kc, cols, packedB, bo);
                    } catch (RuntimeException | Error e) {
                        wave.markFailed(groupInWave, depth, panel);
                        throw e;
                    }
                    wave.markPacked(groupInWave, depth, panel);
                }
                int co = (bi * plan.m + i0) * plan.n + j0 + panel * NR_D;
                panelKernel(kc, mc, cols, packedA, packedB, bo, ws.tile, c, co, plan.n, depth > 0);
            }
        }
    }

    private static void panelKernel(int kc, int mc, int cols, double[] packedA, MemorySegment packedB, int bo,
            double[] tile, double[] c, int co, int ldc, boolean accumulate) {
        for (int ir = 0; ir < mc; ir += MR_D) {
            int rows = Math.min(MR_D, mc - ir);
            int ao = ir * kc;
            int ci = co + ir * ldc;
            if (rows == MR_D && cols == NR_D) {
                kernel4x2(kc, packedA, ao, packedB, bo, c, ci, ldc, accumulate);
            } else {
                kernel4x2(kc, packedA, ao, packedB, bo, tile, 0, NR_D, false);
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < cols; j++) {
                        int e = ci + r * ldc + j;
                        c[e] = accumulate ? c[e] + tile[r * NR_D + j] : tile[r * NR_D + j];
                    }
                }
            }
        }
    }

    private static void packA(double[] a, int src, int ars, int acs, int mc, int kc, double[] dst) {
        for (int p = 0; p < kc; p++) {
            int s = src + p * acs;
            for (int i = 0; i < mc; i++) {
                dst[(i / MR_D) * MR_D * kc + p * MR_D + i % MR_D] = a[s + i * ars];
            }
        }
        if (mc % MR_D != 0) {
            int d = (mc / MR_D) * MR_D * kc;
            for (int p = 0; p < kc; p++) {
                for (int r = mc % MR_D; r < MR_D; r++) {
                    dst[d + p * MR_D + r] = 0.0;
                }
            }
        }
    }

    private static void packB(double[] b, int src, int brs, int bcs, int kc, int cols, MemorySegment dst, int d) {
        for (int p = 0; p < kc; p++) {
            for (int j = 0; j < NR_D; j++) {
                double v = j < cols ? b[src + p * brs + j * bcs] : 0.0;
                dst.setAtIndex(ValueLayout.JAVA_DOUBLE, d + p * NR_D + j, v);
            }
        }
    }

    private static void kernel4x2(int kc, double[] pa, int ao, MemorySegment pb, int bo, double[] c, int co, int ldc,
            boolean accumulate) {
        int vl = D.length();
        DoubleVector c00 = DoubleVector.zero(D);
        DoubleVector c01 = DoubleVector.zero(D);
        DoubleVector c10 = DoubleVector.zero(D);
        DoubleVector c11 = DoubleVector.zero(D);
        DoubleVector c20 = DoubleVector.zero(D);
        DoubleVector c21 = DoubleVector.zero(D);
        DoubleVector c30 = DoubleVector.zero(D);
        DoubleVector c31 = DoubleVector.zero(D);
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * 4;
            long bi = ((long) bo + (long) p * 2 * vl) * Double.BYTES;
            DoubleVector b0 = DoubleVector.fromMemorySegment(D, pb, bi, NATIVE);
            DoubleVector b1 = DoubleVector.fromMemorySegment(D, pb, bi + (long) vl * Double.BYTES, NATIVE);
            DoubleVector av = DoubleVector.broadcast(D, pa[ai]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = DoubleVector.broadcast(D, pa[ai + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = DoubleVector.broadcast(D, pa[ai + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = DoubleVector.broadcast(D, pa[ai + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
        }
        if (accumulate) {
            c00 = c00.add(DoubleVector.fromArray(D, c, co));
            c01 = c01.add(DoubleVector.fromArray(D, c, co + vl));
            c10 = c10.add(DoubleVector.fromArray(D, c, co + ldc));
            c11 = c11.add(DoubleVector.fromArray(D, c, co + ldc + vl));
            c20 = c20.add(DoubleVector.fromArray(D, c, co + 2 * ldc));
            c21 = c21.add(DoubleVector.fromArray(D, c, co + 2 * ldc + vl));
            c30 = c30.add(DoubleVector.fromArray(D, c, co + 3 * ldc));
            c31 = c31.add(DoubleVector.fromArray(D, c, co + 3 * ldc + vl));
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + vl);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + vl);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + vl);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + vl);
    }

    private static int roundUp(int x, int multiple) {
        return (x + multiple - 1) / multiple * multiple;
    }
}
