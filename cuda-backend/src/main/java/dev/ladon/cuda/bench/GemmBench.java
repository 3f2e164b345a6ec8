package dev.ladon.cuda.bench;

import dev.ladon.cuda.CudaBackend;
import dev.ladon.cuda.MatmulPrecision;
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Square float32 matmul throughput on cuda:0 for each {@link MatmulPrecision}, one line per (precision,
 * n) in the format bench/gemm_peer.py prints for PyTorch, so both can run in one command and be compared:
 * <pre>gemm cuda precision=fp32 layout=nn n=4096 ladon_tflops=41.2 ms=3.336 max_rel_err=2.1e-06</pre>
 * The layout says how the operands lie: {@code nn} both row-major, {@code nt} B a transposed view,
 * {@code tn} A a transposed view, {@code strided} both row-major with rows n + 1 floats apart (so not in
 * 16-byte chunks: the kernels for operands of any strides run). PyTorch's figure is for {@code nn}.
 * Timing: a warm-up run, then {@code iters} products queued back to back between two synchronisations
 * (host clock). max_rel_err compares a 64 x 64 corner of the result with a float64 product on the CPU,
 * relative to the largest magnitude in that corner.
 *
 * <p>Usage: {@code GemmBench [--sizes 1024,2048,4096] [--precisions fp32,tf32,bf16] [--layouts nn,nt,tn,strided]
 * [--iters 20]}. The same
 * measurement, with the PyTorch peer run alongside and a ratio per case, is {@code bin/ladon bench gemm
 * --device cuda}, which calls {@link #measure}.
 */
public final class GemmBench {
    /**
     * One timed case.
     *
     * @param precision        how the float32 product ran
     * @param layout           how the operands lay in memory: nn, nt, tn or strided
     * @param n                the square size: [n, n] @ [n, n]
     * @param tflops           2 n^3 / seconds per product / 1e12
     * @param millis           milliseconds per product
     * @param maxRelativeError max |C - A B| over the top-left 64 x 64 block against float64 on the CPU,
     *                         relative to the largest |A B| there
     */
    public record Result(MatmulPrecision precision, String layout, int n, double tflops, double millis,
            double maxRelativeError) {
    }

    /** The operand layouts {@link #measure} takes. */
    public static final List<String> LAYOUTS = List.of("nn", "nt", "tn", "strided");

    private GemmBench() {
    }

    public static void main(String[] args) {
        List<Integer> sizes = List.of(1024, 2048, 4096);
        List<MatmulPrecision> precisions = List.of(MatmulPrecision.FP32, MatmulPrecision.TF32, MatmulPrecision.BF16);
        List<String> layouts = LAYOUTS;
        int iters = 20;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--sizes" -> sizes = parseInts(args[i + 1]);
                case "--precisions" -> {
                    List<MatmulPrecision> ps = new ArrayList<>();
                    for (String s : args[i + 1].split(",")) {
                        ps.add(MatmulPrecision.parse(s));
                    }
                    precisions = ps;
                }
                case "--iters" -> iters = Integer.parseInt(args[i + 1]);
                case "--layouts" -> layouts = List.of(args[i + 1].split(","));
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (expected --sizes, --precisions, --layouts, --iters)");
            }
        }
        Device cuda = Device.cuda(0);
        String reason = Backends.unavailableReason(cuda);
        if (reason != null) {
            System.out.println("gemm cuda unavailable: " + reason);
            return;
        }
        CudaBackend backend = (CudaBackend) Backends.of(cuda);
        System.out.println("# device: " + backend.deviceName());
        for (MatmulPrecision p : precisions) {
            for (String layout : layouts) {
                for (int n : sizes) {
                    Result r = measure(backend, p, layout, n, iters);
                    System.out.println(String.format(Locale.ROOT, "gemm cuda precision=%s layout=%s n=%d ladon_tflops=%.1f "
                            + "ms=%.3f max_rel_err=%.1e", p.name().toLowerCase(Locale.ROOT), layout, n, r.tflops(),
                            r.millis(), r.maxRelativeError()));
                }
            }
        }
    }

    /**
     * Times [n, n] @ [n, n] in float32 on {@code backend} with matmul precision {@code p}, the operands laid
     * out as {@code layout} says (one of {@link #LAYOUTS}): a warm-up product, then {@code iters} products
     * queued back to back between two synchronisations (host clock). The backend's precision setting is
     * restored afterwards.
     *
     * @throws IllegalArgumentException if n or iters is not positive, or the layout is unknown
     */
    public static Result measure(CudaBackend backend, MatmulPrecision p, String layout, int n, int iters) {
        if (n < 1 || iters < 1) {
            throw new IllegalArgumentException("GemmBench.measure: n and iters must be positive, got n=" + n
                    + " iters=" + iters);
        }
        if (!LAYOUTS.contains(layout)) {
            throw new IllegalArgumentException("GemmBench.measure: unknown layout '" + layout + "' (expected one of "
                    + String.join(", ", LAYOUTS) + ")");
        }
        MatmulPrecision saved = CudaBackend.matmulPrecision();
        CudaBackend.setMatmulPrecision(p);
        try {
            Tensor a = operand(backend, 1, n, layout.equals("tn"), layout.equals("strided"));
            Tensor b = operand(backend, 2, n, layout.equals("nt"), layout.equals("strided"));
            Tensor c = a.matmul(b);
            backend.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                c = a.matmul(b);
            }
            backend.synchronize();
            double seconds = (System.nanoTime() - t0) / 1e9 / iters;
            return new Result(p, layout, n, 2.0 * n * n * n / seconds / 1e12, seconds * 1e3, cornerError(a, b, c));
        } finally {
            CudaBackend.setMatmulPrecision(saved);
        }
    }

    /** A random [n, n] operand: row-major, a transposed view, or rows n + 1 floats apart. */
    private static Tensor operand(CudaBackend backend, long seed, int n, boolean transposed, boolean strided) {
        Tensor x = Tensor.randn(new Generator(seed), DType.FLOAT32, backend.device(), n, strided ? n + 1 : n);
        if (strided) {
            return x.narrow(1, 0, n);
        }
        return transposed ? x.mT() : x;
    }

    /** Max |C - A B| over the top-left 64 x 64 block, against float64 on the CPU, relative to max |A B| there. */
    private static double cornerError(Tensor a, Tensor b, Tensor c) {
        int m = Math.min(64, a.size(0));
        Tensor aRows = a.narrow(0, 0, m).to(Device.CPU).to(DType.FLOAT64);
        Tensor bCols = b.narrow(1, 0, m).to(Device.CPU).to(DType.FLOAT64);
        double[] exact = aRows.matmul(bCols).toDoubleArray();
        double[] got = c.narrow(0, 0, m).narrow(1, 0, m).to(Device.CPU).toDoubleArray();
        double maxErr = 0;
        double scale = 0;
        for (int i = 0; i < exact.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(got[i] - exact[i]));
            scale = Math.max(scale, Math.abs(exact[i]));
        }
        return maxErr / scale;
    }

    private static List<Integer> parseInts(String s) {
        List<Integer> out = new ArrayList<>();
        for (String part : s.split(",")) {
            out.add(Integer.parseInt(part.trim()));
        }
        return out;
    }
}
