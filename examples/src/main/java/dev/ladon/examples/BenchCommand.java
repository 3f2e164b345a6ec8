package dev.ladon.examples;

import dev.ladon.cuda.MatmulPrecision;
import dev.ladon.cuda.bench.GemmBench;
import dev.ladon.examples.bench.BenchCase;
import dev.ladon.examples.bench.BenchCases;
import dev.ladon.examples.bench.NumpyPeer;
import dev.ladon.examples.bench.Timing;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.cpu.Parallel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code bin/ladon bench}: times Ladon against a peer in the same run and prints one line per case with both
 * numbers and their ratio. Suites: {@code gemm} and {@code ops} time the CPU kernels against NumPy with
 * OpenBLAS ({@code bench/gemm_peer.py}); {@code gemm --device cuda} times GPU matmuls against PyTorch
 * ({@link CudaGemmBench}); {@code lm-step} times a language-model training step against PyTorch
 * ({@link LmStepBench}).
 */
final class BenchCommand implements Command {
    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "benchmarks against a peer: kernels vs NumPy, GPU matmul and an LM training step vs PyTorch";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon bench [gemm|ops|all|lm-step] [options]   (the suite comes first)
                  gemm:    float32 square products and an attention-shaped batch (64 x [128x64] @ [64x128])
                  ops:     float32 elementwise maps and reductions over --elements values
                  all:     both (default)
                  lm-step: one language-model training step against PyTorch (its options below)
                CPU options (gemm, ops, all):
                  --threads LIST   thread counts to run, comma-separated (default 1,2); Ladon's pool and the
                                   peer's OPENBLAS_NUM_THREADS are both set to each
                  --sizes LIST     square matrix sizes (default 256,512,1024,2048)
                  --shapes LIST    these products instead of the square sizes and the attention batch: MxKxN[:ab],
                                   a and b each n or t (that operand used transposed, as a view), e.g. the lm-step
                                   model's linear layers: 2048x256x256:nt (forward, x @ w^T), 2048x256x256:nn
                                   (input gradient), 256x2048x256:tn (weight gradient)
                  --elements N     elements for the ops cases (default 16777216, a multiple of 4096)
                  --reps N         at least N timed runs (and 0.3 s) per median after warm-up (default 7)
                  --rounds N       alternating rounds per case, Ladon then the peer (default 4); the best
                                   median of each side is printed (more rounds: steadier on a drifting machine)
                  --python PATH    interpreter for the NumPy peer (default /usr/bin/python3)
                  --no-peer        time Ladon only
                Lines read: gemm f32 n=1024 threads=1 ladon_gflops=.. openblas_gflops=.. ratio=..
                            elementwise f32 op=add n=16777216 threads=2 ladon_ms=.. numpy_ms=.. ratio=..
                ratio is Ladon's speed over the peer's: 1.0 or more means Ladon is at least as fast.
                The peer needs Debian's NumPy with threaded OpenBLAS: %s

                gemm --device cuda[:N]: [n, n] @ [n, n] in float32 on the GPU against PyTorch (python3 with torch
                on that machine, cuda-backend/bench/gemm_peer.py), one line per case:
                  gemm cuda precision=fp32 layout=nn n=4096 ladon_tflops=.. torch_tflops=.. ratio=.. max_rel_err=..
                  --sizes LIST       square sizes (default 4096)
                  --precisions LIST  fp32 (TF32 off), tf32, bf16 (default all three)
                  --layouts LIST     nn (row-major), nt (B transposed), tn (A transposed), strided (rows
                                     n + 1 floats apart) (default all four; PyTorch runs nn only)
                  --iters N          products timed back to back between two synchronisations (default 20)
                  --python PATH      interpreter for the peer (default python3); --no-peer: Ladon only
                Without a usable GPU it says why and exits with 1.

                %s""".formatted(NumpyPeer.INSTALL_HINT, LmStepBench.HELP);
    }

    @Override
    public int run(String[] args) throws Exception {
        boolean suiteGiven = args.length > 0 && !args[0].startsWith("--");
        String suite = suiteGiven ? args[0] : "all";
        String[] rest = suiteGiven ? Arrays.copyOfRange(args, 1, args.length) : args;
        if (suite.equals("lm-step")) {
            return LmStepBench.run(rest);
        }
        if (!List.of("gemm", "ops", "all").contains(suite)) {
            throw new IllegalArgumentException("unknown suite '" + suite + "' (expected gemm, ops, all or lm-step)");
        }
        // A positional is accepted here only to be refused with a message of its own: a suite given after the
        // options (bench --threads 1 gemm) is told that the suite comes first, where plain Options would say
        // that options start with --.
        Options opts = Options.withPositional(rest, "SUITE", "threads", "sizes", "shapes", "elements", "reps",
                "rounds", "python", "no-peer!", "device", "precisions", "layouts", "iters");
        if (opts.positional() != null) {
            throw new IllegalArgumentException("unexpected argument '" + opts.positional() + "' (the suite comes first)");
        }
        Device device = Device.parse(opts.get("device", "cpu"));
        if (!device.isCpu()) {
            if (!suite.equals("gemm") || !device.type().equals("cuda")) {
                throw new IllegalArgumentException("--device " + device + ": only 'gemm --device cuda[:N]' runs on a GPU");
            }
            for (String cpuOnly : List.of("threads", "elements", "reps", "rounds")) {
                if (opts.has(cpuOnly)) {
                    throw new IllegalArgumentException("--" + cpuOnly + " applies to the CPU suites only");
                }
            }
            List<MatmulPrecision> precisions = new ArrayList<>();
            for (String p : opts.get("precisions", "fp32,tf32,bf16").split(",")) {
                precisions.add(MatmulPrecision.parse(p));
            }
            int iters = opts.getInt("iters", 20);
            if (iters < 1) {
                throw new IllegalArgumentException("--iters must be positive, got " + iters);
            }
            List<String> layouts = List.of(opts.get("layouts", String.join(",", GemmBench.LAYOUTS)).split(","));
            for (String layout : layouts) {
                if (!GemmBench.LAYOUTS.contains(layout)) {
                    throw new IllegalArgumentException("--layouts: unknown layout '" + layout + "' (expected "
                            + String.join(", ", GemmBench.LAYOUTS) + ")");
                }
            }
            return CudaGemmBench.run(device, intList(opts.get("sizes", "4096"), "sizes"), precisions, layouts, iters,
                    !opts.flag("no-peer"), opts.get("python", "python3"));
        }
        for (String gpuOnly : List.of("precisions", "layouts", "iters")) {
            if (opts.has(gpuOnly)) {
                throw new IllegalArgumentException("--" + gpuOnly + " applies to gemm --device cuda only");
            }
        }
        int[] threadCounts = intList(opts.get("threads", "1,2"), "threads");
        int[] sizes = intList(opts.get("sizes", "256,512,1024,2048"), "sizes");
        int elements = opts.getInt("elements", 1 << 24);
        if (elements <= 0 || elements % 4096 != 0) {
            throw new IllegalArgumentException("--elements must be a positive multiple of 4096, got " + elements);
        }
        int reps = opts.getInt("reps", 7);
        int rounds = opts.getInt("rounds", 4);
        if (reps < 1 || rounds < 1) {
            throw new IllegalArgumentException("--reps and --rounds must be positive, got " + reps + " and " + rounds);
        }
        String python = opts.get("python", "/usr/bin/python3");
        boolean usePeer = !opts.flag("no-peer");

        List<BenchCase> cases = new ArrayList<>();
        if (!suite.equals("ops")) {
            cases.addAll(opts.has("shapes") ? BenchCases.gemmShapes(List.of(opts.get("shapes", "").split(",")))
                    : BenchCases.gemm(sizes));
        }
        if (!suite.equals("gemm")) {
            cases.addAll(BenchCases.ops(elements));
        }
        int threadsBefore = Parallel.numThreads();
        try {
            for (int threads : threadCounts) {
                Parallel.setNumThreads(threads);
                NumpyPeer peer = usePeer ? NumpyPeer.start(python, Path.of("bench", "gemm_peer.py"), threads, reps) : null;
                if (peer != null) {
                    System.out.println("peer threads=" + threads + " " + peer.description());
                    if (!peer.description().contains("openblas")) {
                        System.out.println("peer: NumPy is not using OpenBLAS, so its matmul numbers are not OpenBLAS's;"
                                + " install it with: " + NumpyPeer.INSTALL_HINT);
                    }
                }
                usePeer &= peer != null; // a missing peer is reported once, then Ladon runs alone
                for (BenchCase c : cases) {
                    // Alternating rounds (Ladon, NumPy, Ladon, NumPy, ...), the best median of each side:
                    // the machine's speed drifts over seconds, and with several rounds each side is
                    // likely to be timed in at least one of its fast phases.
                    Runnable ladon = c.setup().get();
                    double ladonMs = Double.POSITIVE_INFINITY;
                    double peerMs = peer == null ? Double.NaN : Double.POSITIVE_INFINITY;
                    for (int round = 0; round < rounds; round++) {
                        ladonMs = Math.min(ladonMs, Timing.medianMillis(ladon, reps, round == 0 ? 1.0 : 0.2));
                        if (peer != null) {
                            peerMs = Math.min(peerMs, peer.medianMillis(c.request()));
                        }
                    }
                    System.out.println(line(c, threads, ladonMs, peerMs));
                }
                if (peer != null) {
                    peer.close();
                }
            }
        } finally {
            Parallel.setNumThreads(threadsBefore);
        }
        return 0;
    }

    private static String line(BenchCase c, int threads, double ladonMs, double peerMs) {
        String head = c.kind() + " " + c.label() + " threads=" + threads;
        String ratio = Double.isNaN(peerMs) ? "-" : fmt("%.2f", peerMs / ladonMs);
        if (c.reportsFlops()) {
            return head + " ladon_gflops=" + fmt("%.1f", c.flops() / ladonMs / 1e6) + " openblas_gflops="
                    + (Double.isNaN(peerMs) ? "-" : fmt("%.1f", c.flops() / peerMs / 1e6)) + " ratio=" + ratio;
        }
        return head + " ladon_ms=" + fmt("%.2f", ladonMs) + " numpy_ms=" + (Double.isNaN(peerMs) ? "-" : fmt("%.2f", peerMs))
                + " ratio=" + ratio;
    }

    private static String fmt(String pattern, double v) {
        return String.format(Locale.ROOT, pattern, v);
    }

    private static int[] intList(String text, String option) {
        try {
            int[] values = Arrays.stream(text.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
            for (int v : values) {
                if (v <= 0) {
                    throw new NumberFormatException();
                }
            }
            return values;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + option + " expects positive integers separated by commas, got '"
                    + text + "'");
        }
    }
}
