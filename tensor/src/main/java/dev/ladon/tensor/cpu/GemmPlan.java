package dev.ladon.tensor.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * How {@link Gemm} cuts one batched product into tasks, and the bookkeeping that lets the threads share
 * packed panels of B.
 *
 * <p>A <em>group</em> is one batch entry's block of {@link #nc} columns of C. A <em>task</em> is one block of MC
 * rows of a group, computed over the whole depth K, so the depth blocks of a C tile always run in order on
 * one thread. Threads take tasks from a shared counter, so a thread slowed down by other work on the
 * machine simply takes fewer; there is no fixed split to wait for.
 *
 * <p>Every task of a group multiplies by the same B columns. Their packed panels live in one buffer
 * shared by the threads, and each panel is packed once, by the first thread that needs it: it claims the
 * panel, packs it and marks it ready; a thread that finds it claimed but not ready waits the few
 * microseconds packing takes. Groups are processed in <em>waves</em> whose packed B fits a bounded
 * buffer, one pool dispatch per wave.
 */
final class GemmPlan {
    /** Elements of packed B one wave may use: 4 Mi floats (16 MiB) or doubles. */
    static final int WAVE_ELEMENTS = 1 << 22;
    /**
     * Flops a thread should get before work is shared: handing work to the pool and back took about
     * 17 us here (a parked pool thread has to wake up), and 2^23 flops are about 100 us of kernel time.
     */
    private static final long MIN_FLOPS_PER_THREAD = 1L << 23;
    private static final int EMPTY = 0;
    private static final int PACKING = 1;
    private static final int READY = 2;
    private static final int FAILED = 3;
    /** Spins before a waiting thread starts yielding its core (the packer may have been descheduled). */
    private static final int SPINS_BEFORE_YIELD = 1 << 12;

    final int batch;
    final int m;
    final int n;
    final int k;
    final int nr;
    /** Depth of a block (at most KC; k split into equal blocks so the last is not a short remainder). */
    final int kcMax;
    final int depthBlocks;
    /**
     * Columns of a group: NC at full depth, wider when the product is shallower, so that the packed B of
     * a group stays near KC x NC elements. Each group packs every row block of A once more, so a shallow
     * product (K = 256 in a Transformer's projections) with NC columns per group would pack A twice or
     * more for no cache benefit.
     */
    final int nc;
    final int rowBlocks;
    final int colBlocks;
    /** Panels of NR columns in a full column block. */
    final int panelsPerGroup;
    /** Packed B elements of one group: every depth block's panels, each panel kcMax x nr. */
    final int groupElements;
    final int groupsPerWave;
    final int threads;

    GemmPlan(int batch, int m, int n, int k, int nr) {
        this.batch = batch;
        this.m = m;
        this.n = n;
        this.k = k;
        this.nr = nr;
        this.depthBlocks = (k + Gemm.KC - 1) / Gemm.KC;
        this.kcMax = (k + depthBlocks - 1) / depthBlocks;
        this.rowBlocks = (m + Gemm.MC - 1) / Gemm.MC;
        int widest = Math.max(Gemm.NC, (int) ((long) Gemm.KC * Gemm.NC / kcMax) / nr * nr);
        int columnBlocks = (n + widest - 1) / widest;
        // Equal groups (in whole panels) rather than full ones and a thin remainder.
        this.nc = ((n + columnBlocks - 1) / columnBlocks + nr - 1) / nr * nr;
        this.colBlocks = (n + nc - 1) / nc;
        this.panelsPerGroup = (Math.min(n, nc) + nr - 1) / nr;
        this.groupElements = depthBlocks * panelsPerGroup * kcMax * nr;
        this.groupsPerWave = Math.max(1, Math.min(groups(), WAVE_ELEMENTS / groupElements));
        long flops = 2L * batch * m * n * k;
        long byWork = Math.max(1, flops / MIN_FLOPS_PER_THREAD);
        long tasks = (long) Math.min(groups(), groupsPerWave) * rowBlocks;
        this.threads = (int) Math.min(Parallel.numThreads(), Math.min(tasks, byWork));
    }

    int groups() {
        return batch * colBlocks;
    }

    /** Packed B elements a wave needs. */
    int waveElements() {
        return groupsPerWave * groupElements;
    }

    int entryOf(int group) {
        return group / colBlocks;
    }

    int firstColumnOf(int group) {
        return (group % colBlocks) * nc;
    }

    /** Where panel {@code panel} of depth block {@code depth} of the wave's {@code groupInWave}-th group starts. */
    int panelOffset(int groupInWave, int depth, int panel) {
        return groupInWave * groupElements + (depth * panelsPerGroup + panel) * kcMax * nr;
    }

    /**
     * The panel a row block starts its sweep at. Tasks running side by side have neighbouring row blocks;
     * starting them at different panels means they pack different panels instead of one packing while
     * the other waits.
     */
    int firstPanel(int rowBlock, int panels) {
        return (rowBlock % threads) * panels / threads;
    }

    Wave wave(int firstGroup) {
        return new Wave(firstGroup, Math.min(groupsPerWave, groups() - firstGroup));
    }

    /** One wave of groups: the task counter and the state of each packed panel. */
    final class Wave {
        final int firstGroup;
        final int groups;
        private final AtomicInteger nextTask = new AtomicInteger();
        private final AtomicIntegerArray panelState;

        private Wave(int firstGroup, int groups) {
            this.firstGroup = firstGroup;
            this.groups = groups;
            this.panelState = new AtomicIntegerArray(groups * depthBlocks * panelsPerGroup);
        }

        /** The next task's index, or -1 when all are taken. Task t is row block t % rowBlocks of group t / rowBlocks. */
        int nextTask() {
            int t = nextTask.getAndIncrement();
            return t < groups * rowBlocks ? t : -1;
        }

        private int slot(int groupInWave, int depth, int panel) {
            return (groupInWave * depthBlocks + depth) * panelsPerGroup + panel;
        }

        /** Whether the panel is packed and published (what {@link #claim} checks first). */
        boolean ready(int groupInWave, int depth, int panel) {
            return panelState.get(slot(groupInWave, depth, panel)) == READY;
        }

        /**
         * True if the caller must pack this panel and then call {@link #markPacked} (or {@link #markFailed});
         * false once another thread has packed it.
         */
        boolean claim(int groupInWave, int depth, int panel) {
            int s = slot(groupInWave, depth, panel);
            int state = panelState.get(s);
            if (state == READY) {
                return false;
            }
            if (state == EMPTY && panelState.compareAndSet(s, EMPTY, PACKING)) {
                return true;
            }
            for (int spins = 0; (state = panelState.get(s)) == PACKING; spins++) {
                if (spins < SPINS_BEFORE_YIELD) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            if (state == FAILED) {
                throw new IllegalStateException("matmul: another thread failed while packing a panel of B");
            }
            return false;
        }

        /** Publishes a packed panel (the volatile write orders the packing before other threads' reads). */
        void markPacked(int groupInWave, int depth, int panel) {
            panelState.set(slot(groupInWave, depth, panel), READY);
        }

        /** Releases threads waiting for a panel whose packing threw. */
        void markFailed(int groupInWave, int depth, int panel) {
            panelState.set(slot(groupInWave, depth, panel), FAILED);
        }
    }
}
