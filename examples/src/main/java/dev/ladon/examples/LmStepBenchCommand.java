package dev.ladon.examples;

import dev.ladon.autograd.Variable;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.FeedForward;
import dev.ladon.nn.TransformerConfig;
import dev.ladon.nn.TransformerLM;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.cpu.Parallel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code bin/ladon bench-lm-step}: times one full training step (forward, cross-entropy, backward, AdamW)
 * of a dense decoder-only Transformer LM on a fixed random batch, and, when Python with PyTorch is at hand,
 * the same step of the PyTorch peer {@code bench/lm_step_peer.py} (same model: RoPE on half of each
 * head's channels, ReLU FF, untied output with bias; AdamW lr 1e-3, weight decay 0.01) with the same
 * thread count, then prints the ratio.
 */
final class LmStepBenchCommand implements Command {
    @Override
    public String name() {
        return "bench-lm-step";
    }

    @Override
    public String summary() {
        return "time one LM training step (forward, backward, AdamW) against the PyTorch peer";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon bench-lm-step [options]
                  --vocab N      vocabulary size (default 256)
                  --d-model D    model width (default 256)
                  --layers L     blocks (default 4)
                  --heads H      attention heads; head width is d-model / heads (default 4)
                  --d-ff F       feed-forward width (default 1024)
                  --context T    tokens per sequence (default 128)
                  --batch B      sequences per step (default 16)
                  --threads N    CPU threads for Ladon and the peer (default: all cores)
                  --steps S      timed steps; the median is printed (default 10)
                  --warmup W     untimed steps first (default 3)
                  --no-peer      do not run the PyTorch peer
                  --python P     interpreter for the peer (default python3)
                Prints ladon_ms=.. ladon_peak_mb=.. ladon_loss=.., then torch_ms=.. torch_peak_mb=.. and
                ratio=ladon/torch when the peer ran. Peak memory is the process's resident high-water mark.""";
    }

    @Override
    public int run(String[] args) throws Exception {
        Options o = new Options(args, "vocab", "d-model", "layers", "heads", "d-ff", "context", "batch", "threads",
                "steps", "warmup", "no-peer!", "python");
        int vocab = o.getInt("vocab", 256);
        int d = o.getInt("d-model", 256);
        int layers = o.getInt("layers", 4);
        int heads = o.getInt("heads", 4);
        int dff = o.getInt("d-ff", 1024);
        int context = o.getInt("context", 128);
        int batch = o.getInt("batch", 16);
        int steps = o.getInt("steps", 10);
        int warmup = o.getInt("warmup", 3);
        if (o.has("threads")) {
            Parallel.setNumThreads(o.getInt("threads", 1));
        }
        if (vocab < 1 || d < 1 || layers < 1 || heads < 1 || dff < 1 || context < 1 || batch < 1 || steps < 1
                || warmup < 0) {
            throw new IllegalArgumentException("sizes and --steps must be positive, --warmup >= 0");
        }
        if (d % heads != 0) {
            throw new IllegalArgumentException("--d-model " + d + " must be divisible by --heads " + heads);
        }
        TransformerConfig config = new TransformerConfig(vocab, d, heads, d / heads, layers, dff, 0.0,
                TransformerConfig.Positions.ROPE, 0.5, FeedForward.Activation.RELU, false);
        TransformerLM model = new TransformerLM(config, new Generator(0));
        AdamW optimizer = new AdamW(ParamGroup.all(model, 0.01), 1e-3);
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        Tensor ids = Tensor.randint(0, vocab, new Generator(1), Device.CPU, batch, context + 1);
        Tensor inputs = ids.narrow(1, 0, context).contiguous();
        Tensor targets = ids.narrow(1, 1, context).contiguous();
        System.out.printf(Locale.ROOT, "lm-step: vocab=%d d=%d layers=%d heads=%d d_ff=%d context=%d batch=%d, "
                + "%,d parameters, %d threads%n", vocab, d, layers, heads, dff, context, batch, model.parameterCount(),
                Parallel.numThreads());
        double[] times = new double[steps];
        double loss = 0;
        for (int i = 0; i < warmup + steps; i++) {
            long t0 = System.nanoTime();
            optimizer.zeroGrad();
            Variable l = lossFn.forward(model.forward(inputs), targets);
            l.backward();
            optimizer.step();
            loss = l.item();
            if (i >= warmup) {
                times[i - warmup] = (System.nanoTime() - t0) / 1e6;
            }
        }
        Arrays.sort(times);
        double ladonMs = times[steps / 2];
        System.out.printf(Locale.ROOT, "ladon_ms=%.1f ladon_peak_mb=%d ladon_loss=%.4f%n", ladonMs, peakResidentMb(),
                loss);
        if (o.flag("no-peer")) {
            return 0;
        }
        List<String> command = new ArrayList<>(List.of(o.get("python", "python3"), "bench/lm_step_peer.py", "--vocab",
                "" + vocab, "--d-model", "" + d, "--layers", "" + layers, "--heads", "" + heads, "--d-ff", "" + dff,
                "--context", "" + context, "--batch", "" + batch, "--threads", "" + Parallel.numThreads(), "--steps",
                "" + steps, "--warmup", "" + warmup));
        Double torchMs = runPeer(command);
        if (torchMs != null) {
            System.out.printf(Locale.ROOT, "ratio=%.2f (ladon / torch step time)%n", ladonMs / torchMs);
        }
        return 0;
    }

    /** Runs the peer, echoes its line and returns its torch_ms, or null (with the reason) when it cannot run. */
    private static Double runPeer(List<String> command) throws InterruptedException {
        if (!Files.exists(Path.of("bench/lm_step_peer.py"))) {
            System.out.println("peer: skipped (bench/lm_step_peer.py not found; run from the repository root)");
            return null;
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        // The peer's best thread settings: OpenMP threads sleep rather than spin between steps.
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        try {
            Process p = pb.start();
            String last = null;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    last = line;
                }
            }
            int rc = p.waitFor();
            if (rc != 0 || last == null || !last.startsWith("torch_ms=")) {
                System.out.println("peer: skipped (exit " + rc + ": " + last + ")");
                return null;
            }
            System.out.println(last);
            return Double.parseDouble(last.split("\\s+")[0].substring("torch_ms=".length()));
        } catch (IOException e) {
            System.out.println("peer: skipped (" + e.getMessage() + ")");
            return null;
        }
    }

    /** The resident-set high-water mark (VmHWM) in MB, or -1 where /proc is unavailable. */
    static long peakResidentMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through: not Linux, or an unexpected format
        }
        return -1;
    }
}
