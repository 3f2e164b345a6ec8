package dev.ladon.examples;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.cpu.Parallel;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code bin/ladon bench-routing}: times the grouped (compacted) expert matmul as the number of experts E
 * grows at a fixed number of tokens and experts per token k. Its work is tokens * k rows, so the time
 * should stay flat in E; the dense "every expert for every token" product, printed next to it, grows
 * linearly in E.
 */
final class RoutingBenchCommand implements Command {
    @Override
    public String name() {
        return "bench-routing";
    }

    @Override
    public String summary() {
        return "time the grouped expert matmul for E = 4..64 at fixed k (flat in E) against dense all-experts";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon bench-routing [options]
                  --tokens N      tokens routed (default 2048)
                  --k K           experts per token (default 2)
                  --d-in D        input width (default 256)
                  --d-out D       output width (default 256)
                  --experts LIST  expert counts, comma-separated (default 4,8,16,32,64)
                  --repeats R     timed runs per point; the median is printed (default 5)
                  --dtype T       float32 or float64 (default float32)
                  --threads N     CPU threads (default: all cores)
                Prints one line per E: routing E=.. k=.. tokens=.. ms=.. (forward), backward_ms=.., and
                dense-all E=.. tokens=.. ms=.. for x [tokens, d_in] @ all E experts [d_in, E*d_out].""";
    }

    @Override
    public int run(String[] args) {
        Options o = new Options(args, "tokens", "k", "d-in", "d-out", "experts", "repeats", "dtype", "threads");
        int tokens = o.getPositiveInt("tokens", 2048);
        int k = o.getPositiveInt("k", 2);
        int din = o.getPositiveInt("d-in", 256);
        int dout = o.getPositiveInt("d-out", 256);
        int repeats = o.getPositiveInt("repeats", 5);
        DType dtype = switch (o.get("dtype", "float32")) {
            case "float32" -> DType.FLOAT32;
            case "float64" -> DType.FLOAT64;
            default -> throw new IllegalArgumentException("--dtype expects float32 or float64");
        };
        o.applyThreads();
        int[] expertCounts;
        try {
            expertCounts = Arrays.stream(o.get("experts", "4,8,16,32,64").split(",")).map(String::trim)
                    .mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--experts expects comma-separated integers");
        }
        // x [tokens, d_in] and the routed rows [tokens k, d_out] must each fit in one tensor.
        long rows = (long) tokens * k;
        if (rows * Math.max(din, dout) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--tokens %d x --k %d = %,d routed rows of "
                    + "width %d: more than the 2^31-1 elements one tensor holds", tokens, k, rows,
                    Math.max(din, dout)));
        }
        for (int e : expertCounts) {
            if (e < k) {
                throw new IllegalArgumentException("every E in --experts must be >= k=" + k + ", got " + e);
            }
            if ((long) e * din * dout > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "--experts %d x --d-in %d x --d-out %d = "
                        + "%,d weights: more than the 2^31-1 elements one tensor holds", e, din, dout,
                        (long) e * din * dout));
            }
        }
        System.out.printf(Locale.ROOT, "grouped matmul: tokens=%d k=%d pairs=%d d_in=%d d_out=%d %s, %d threads%n",
                tokens, k, rows, din, dout, dtype, Parallel.numThreads());
        Generator gen = new Generator(1234);
        Tensor x = Tensor.randn(gen, dtype, Device.CPU, tokens, din);
        // The first case runs more untimed calls: it would otherwise also time the JIT compiling the kernels
        // (E=4 read 30-54 ms, E=8 12 ms).
        int warmUps = 20;
        for (int e : expertCounts) {
            Tensor w = Tensor.randn(gen, dtype, Device.CPU, e, din, dout).mul(1.0 / Math.sqrt(din));
            Routing r = Routing.random(tokens, k, e, 42 + e);
            Tensor gate = Tensor.rand(gen, dtype, Device.CPU, tokens * k);
            Tensor gradOut = Tensor.randn(gen, dtype, Device.CPU, tokens * k, dout);
            double fwd = medianMillis(warmUps, repeats, () -> FusedOps.groupedMatmul(x, w, r.row, r.expert, gate));
            double bwd = medianMillis(warmUps, repeats,
                    () -> FusedOps.groupedMatmulBackward(gradOut, x, w, r.row, r.expert, gate));
            warmUps = 2;
            double gflops = 2.0 * tokens * k * din * dout / (fwd * 1e6);
            System.out.printf(Locale.ROOT, "routing E=%d k=%d tokens=%d ms=%.2f backward_ms=%.2f (forward %.1f GFLOP/s)%n",
                    e, k, tokens, fwd, bwd, gflops);
            // Every expert for every token: one [tokens, d_in] x [d_in, E*d_out] product.
            Tensor all = w.permute(1, 0, 2).reshape(din, e * dout).contiguous();
            double dense = medianMillis(2, repeats, () -> x.matmul(all));
            System.out.printf(Locale.ROOT, "dense-all E=%d tokens=%d ms=%.2f (%.1fx the routed forward)%n", e, tokens,
                    dense, dense / fwd);
        }
        return 0;
    }

    /** Pairs (row, expert): each token picks k distinct experts uniformly at random. */
    private record Routing(Tensor row, Tensor expert) {
        static Routing random(int tokens, int k, int experts, long seed) {
            Random rnd = new Random(seed);
            int[] row = new int[tokens * k];
            int[] expert = new int[tokens * k];
            int[] perm = new int[experts];
            for (int i = 0; i < experts; i++) {
                perm[i] = i;
            }
            for (int t = 0; t < tokens; t++) {
                // partial Fisher-Yates: the first k entries of perm are a uniform k-subset
                for (int j = 0; j < k; j++) {
                    int pick = j + rnd.nextInt(experts - j);
                    int tmp = perm[j];
                    perm[j] = perm[pick];
                    perm[pick] = tmp;
                    row[t * k + j] = t;
                    expert[t * k + j] = perm[j];
                }
            }
            return new Routing(Tensor.of(row, tokens * k), Tensor.of(expert, tokens * k));
        }
    }

    /** Median time of {@code repeats} runs of body, after {@code warmUps} untimed ones. */
    private static double medianMillis(int warmUps, int repeats, Runnable body) {
        for (int i = 0; i < warmUps; i++) {
            body.run();
        }
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            body.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[repeats / 2];
    }
}
