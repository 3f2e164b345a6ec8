package dev.ladon.examples;

import dev.ladon.cuda.CudaBackend;
import dev.ladon.cuda.MatmulPrecision;
import dev.ladon.cuda.bench.GemmBench;
import dev.ladon.examples.bench.PeerProcess;
import dev.ladon.examples.bench.PeerScript;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backends;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/ladon bench gemm --device cuda}: square float32 matmul throughput on a GPU for each matmul
 * precision, measured by cuda-backend's {@link GemmBench}, then the same cases on PyTorch
 * ({@code cuda-backend/bench/gemm_peer.py}) in the same run, one line per case:
 * <pre>gemm cuda precision=tf32 layout=nn n=4096 ladon_tflops=.. torch_tflops=.. ratio=.. max_rel_err=..</pre>
 * ratio is Ladon's TFLOP/s over PyTorch's, which is measured for row-major operands (layout nn) only; the
 * other layouts ({@link GemmBench#LAYOUTS}) show Ladon's other kernels. fp32 is full float32 on both sides (TF32 off), tf32 rounds the
 * inputs to TF32 on tensor cores, bf16 runs the products on bfloat16 tensor cores (Ladon: float32 tensors,
 * inputs rounded to bfloat16 in the kernel; PyTorch: bfloat16 tensors), both accumulating in float32.
 */
final class CudaGemmBench {
    private CudaGemmBench() {
    }

    /**
     * Runs the cases; returns the exit code (1 when the device is unavailable, after saying why).
     *
     * @param usePeer whether to run the PyTorch peer after Ladon
     */
    static int run(Device device, int[] sizes, List<MatmulPrecision> precisions, List<String> layouts, int iters,
            boolean usePeer, String python) throws InterruptedException {
        String reason = Backends.unavailableReason(device);
        if (reason != null) {
            System.out.println("gemm " + device + " unavailable: " + reason);
            return 1;
        }
        CudaBackend backend = (CudaBackend) Backends.of(device);
        System.out.println("# device: " + backend.deviceName());
        List<GemmBench.Result> results = new ArrayList<>();
        for (MatmulPrecision p : precisions) {
            for (String layout : layouts) {
                for (int n : sizes) {
                    results.add(GemmBench.measure(backend, p, layout, n, iters));
                }
            }
        }
        backend.emptyCache();
        Map<String, Double> torch = usePeer ? runPeer(python, device, sizes, precisions, iters) : Map.of();
        for (GemmBench.Result r : results) {
            String precision = r.precision().name().toLowerCase(Locale.ROOT);
            Double peer = r.layout().equals("nn") ? torch.get(precision + " " + r.n()) : null;
            System.out.println(String.format(Locale.ROOT, "gemm %s precision=%s layout=%s n=%d ladon_tflops=%.1f "
                    + "torch_tflops=%s ratio=%s max_rel_err=%.1e", device.type(), precision, r.layout(), r.n(), r.tflops(),
                    peer == null ? "-" : String.format(Locale.ROOT, "%.1f", peer),
                    peer == null ? "-" : String.format(Locale.ROOT, "%.2f", r.tflops() / peer), r.maxRelativeError()));
        }
        return 0;
    }

    /** PyTorch's TFLOP/s by "precision n", or an empty map (with the reason) when the peer gave none. */
    private static Map<String, Double> runPeer(String python, Device device, int[] sizes,
            List<MatmulPrecision> precisions, int iters) throws InterruptedException {
        Path script = PeerScript.find("cuda-backend/bench/gemm_peer.py");
        if (script == null) {
            System.out.println("peer: skipped (cuda-backend/bench/gemm_peer.py not found; run from the repository root)");
            return Map.of();
        }
        List<String> names = new ArrayList<>();
        for (MatmulPrecision p : precisions) {
            names.add(p.name().toLowerCase(Locale.ROOT));
        }
        List<String> sizeWords = new ArrayList<>();
        for (int n : sizes) {
            sizeWords.add(Integer.toString(n));
        }
        // The peer uses its cuda:0; make that the same GPU as Ladon's.
        Map<String, String> env = device.index() == 0 ? Map.of()
                : Map.of("CUDA_VISIBLE_DEVICES", Integer.toString(device.index()));
        PeerProcess.Result r = PeerProcess.run(List.of(python, script.toString(), "--sizes", String.join(",", sizeWords),
                "--precisions", String.join(",", names), "--iters", Integer.toString(iters)), env, line -> {
                    if (!line.startsWith("gemm torch ")) {
                        System.out.println("peer: " + line);
                    }
                });
        Map<String, Double> tflops = new HashMap<>();
        for (String line : r.lines()) {
            if (line.startsWith("gemm torch ")) {
                Map<String, String> f = PeerProcess.fields(line);
                tflops.put(f.get("precision") + " " + f.get("n"), Double.parseDouble(f.get("torch_tflops")));
            }
        }
        if (r.exitCode() != 0 || tflops.isEmpty()) {
            System.out.println("peer: no result (" + r.explanation() + ")");
        }
        return tflops;
    }
}
