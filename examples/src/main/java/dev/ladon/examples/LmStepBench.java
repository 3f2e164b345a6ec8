package dev.ladon.examples;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.cuda.CudaBackend;
import dev.ladon.cuda.MatmulPrecision;
import dev.ladon.examples.bench.PeerProcess;
import dev.ladon.examples.bench.PeerScript;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.io.SafeTensors;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.OpProfiler;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import dev.ladon.tensor.backend.Backends;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/ladon bench lm-step}: times one training step (forward, cross-entropy, backward, AdamW) of a
 * dense or SwitchHead language model on the CPU or a CUDA device and, in the same run, the same step of the
 * PyTorch peer {@code bench/lm_step_peer.py}, which builds the same architecture and loads Ladon's initial
 * weights. On the CPU the two take turns, one timed step each (the peer waits for a request per step), so
 * that both medians come from the same minutes of a machine whose speed drifts; on a GPU the peer runs after
 * Ladon has released its memory. Before a ratio is printed, both sides must report the same parameter count
 * and the same evaluation loss on two check segments (the second with the first's Transformer-XL memory);
 * otherwise the models differ and the ratio is refused.
 *
 * <p>The result is one line. On the CPU (step times, ratio = Ladon's time over the peer's, lower is better;
 * peak = resident-set high-water mark):
 * <pre>lm-step cpu ladon_ms=240 torch_ms=353 ratio=0.68 ladon_peak_mb=400 torch_peak_mb=516</pre>
 * On a GPU (ratio = Ladon's tokens/s over the peer's, higher is better; peak = bytes held by live tensors,
 * Ladon's caching allocator against torch.cuda.max_memory_allocated):
 * <pre>lm-step cuda model=switchhead-47m ladon_tok_s=.. torch_tok_s=.. ratio=.. ladon_peak_mb=.. torch_peak_mb=..</pre>
 */
final class LmStepBench {
    /** Debian's interpreter, which has python3-torch; a python3 earlier on the PATH may lack torch. */
    private static final String DEBIAN_PYTHON = "/usr/bin/python3";

    static final String HELP = """
            lm-step: one training step (forward, cross-entropy, backward, AdamW) against the PyTorch peer
              bin/ladon bench lm-step [--device cpu|cuda[:N]] [--model dense|switchhead | --config NAME] [options]
              --device D         cpu (default) or cuda[:N]
              --model M          the paper's 47M Wikitext-103 models: dense = xl-47m (Transformer-XL, 10 heads of
                                 41), switchhead = switchhead-47m (2 heads of 76, E=5, k=2); L=16, d=412, T=256
                                 with a memory of 256 tokens, dropout 0.1, vocabulary 8000
              --config NAME      any dense or SwitchHead configuration of `bin/ladon stats --all` instead
                                 (default: on cuda xl-47m; on the CPU a small dense RoPE model: vocabulary 256,
                                 d=256, 4 layers, 4 heads of 64, d_ff 1024, T=128, no memory, no dropout)
              --vocab --d-model --layers --heads --d-head --d-ff --experts --k --context --position xl|rope
                                 change one field of the configuration, as in `bin/ladon stats`
              --batch B          sequences per step (default 64; 16 for the small CPU model)
              --steps S          timed steps, the median is reported (default 10)
              --warmup W         untimed steps first (default 3); the memory of each step feeds the next
              --threads N        CPU threads for Ladon and the peer (default: all cores)
              --precision P      cuda float32 matmuls: fp32 (default, TF32 off on both sides) or tf32
              --attention A      the peer's attention: sdpa (default, torch's fused kernel) or math
              --expert-compute C the peer's SwitchHead experts: masked (default, every expert in one product,
                                 gated) or gathered (only the chosen rows, expert by expert)
              --python P         interpreter for the peer (default /usr/bin/python3 on the CPU, whose Debian
                                 python3-torch is the CPU peer; python3 with --device cuda)
              --no-peer          time Ladon only
            Optimiser on both sides: AdamW lr 2.5e-4, betas (0.9, 0.999), eps 1e-8, no weight decay, no clipping
            (torch's fused AdamW on a GPU). On the CPU the two sides take turns, one timed step each.
            Result, one line:
              lm-step cpu ladon_ms=.. torch_ms=.. ratio=.. ladon_peak_mb=.. torch_peak_mb=..
                (ratio = Ladon's step time / torch's; peak = resident memory)
              lm-step cuda model=.. ladon_tok_s=.. torch_tok_s=.. ratio=.. ladon_peak_mb=.. torch_peak_mb=..
                (ratio = Ladon's tokens/s / torch's; peak = GPU memory held by tensors)
            No ratio (ratio=-, exit 1) when the parameter counts or the check losses of the two models differ.""";

    /** The CPU default: the small dense model this benchmark has always timed on the CPU. */
    static final ModelConfig SMALL_CPU = ModelConfig.builder("lm-step-small", ModelConfig.Variant.DENSE)
            .positionEncoding(ModelConfig.PositionEncoding.ROPE).memoryBlocks(0).layers(4).dModel(256).heads(4)
            .dHead(64).dFF(1024).context(128).vocabSize(256).dropout(0).build();
    static final double LEARNING_RATE = 2.5e-4;
    /** Sequences of the check segments. */
    static final int CHECK_BATCH = 2;

    private LmStepBench() {
    }

    /** One side's timing; workspaceBytes: what the steps' workspace holds between steps (CPU tensors). */
    private record Timing(double medianMillis, double lastLoss, long workspaceBytes) {
    }

    static int run(String[] args) throws Exception {
        Options o = new Options(args, "device", "model", "config", "vocab", "d-model", "layers", "heads", "d-head",
                "d-ff", "experts", "k", "context", "position", "batch", "steps", "warmup", "threads", "precision",
                "attention", "expert-compute", "python", "no-peer!");
        Device device = Device.parse(o.get("device", "cpu"));
        if (!device.isCpu() && !device.type().equals("cuda")) {
            throw new IllegalArgumentException("lm-step: --device must be cpu or cuda[:N], got " + device);
        }
        ModelConfig base = baseConfig(o, device);
        ModelConfig config = StatsCommand.withOverrides(base, o);
        int batch = o.getInt("batch", base == SMALL_CPU ? 16 : 64);
        int steps = o.getInt("steps", 10);
        int warmup = o.getInt("warmup", 3);
        if (batch < 1 || steps < 1 || warmup < 0) {
            throw new IllegalArgumentException("lm-step: --batch and --steps must be positive and --warmup >= 0, got "
                    + batch + ", " + steps + ", " + warmup);
        }
        MatmulPrecision precision = MatmulPrecision.parse(o.get("precision", "fp32"));
        if (precision == MatmulPrecision.BF16 || device.isCpu() && precision != MatmulPrecision.FP32) {
            throw new IllegalArgumentException("lm-step: --precision is fp32 or tf32, and tf32 only on cuda; got "
                    + o.get("precision", "fp32") + " on " + device);
        }
        String attention = oneOf(o, "attention", "sdpa", "sdpa", "math");
        String expertCompute = oneOf(o, "expert-compute", "masked", "masked", "gathered");
        if (!device.isCpu()) {
            String reason = Backends.unavailableReason(device);
            if (reason != null) {
                System.out.println("lm-step " + device + " unavailable: " + reason);
                return 1;
            }
        }
        int threadsBefore = Parallel.numThreads();
        MatmulPrecision precisionBefore = device.isCpu() ? null : CudaBackend.matmulPrecision();
        try {
            if (o.has("threads")) {
                Parallel.setNumThreads(o.getInt("threads", threadsBefore));
            }
            if (!device.isCpu()) {
                CudaBackend.setMatmulPrecision(precision);
            }
            return measure(base.name(), config, device, batch, steps, warmup, precision, !o.flag("no-peer"),
                    o.get("python", device.isCpu() ? DEBIAN_PYTHON : "python3"), attention, expertCompute);
        } finally {
            Parallel.setNumThreads(threadsBefore);
            if (precisionBefore != null) {
                CudaBackend.setMatmulPrecision(precisionBefore);
            }
        }
    }

    private static int measure(String label, ModelConfig config, Device device, int batch, int steps, int warmup,
            MatmulPrecision precision, boolean usePeer, String python, String attention, String expertCompute)
            throws Exception {
        CudaBackend gpu = device.isCpu() ? null : (CudaBackend) Backends.of(device);
        MoeLanguageModel model = LanguageModels.build(config, new Generator(0));
        model.to(device);
        long parameters = model.parameterCount();
        int t = config.context();
        int memoryTokens = model.usesMemory() ? t : 0;
        System.out.printf(Locale.ROOT, "lm-step: %s (%s, %s), vocab=%d d=%d layers=%d heads=%dx%d%s d_ff=%d "
                        + "context=%d memory=%d batch=%d dropout=%s; %,d parameters; device %s%s%n", config.name(),
                config.variant(), config.positionEncoding(), config.vocabSize(), config.dModel(), config.layers(),
                config.heads(), config.dHead(), config.variant().switchHeadAttention()
                        ? " experts=" + config.experts() + " k=" + config.activeExperts() : "",
                config.dFF(), t, memoryTokens, batch, config.dropout(), parameters, device,
                gpu == null ? ", " + Parallel.numThreads() + " threads"
                        : " (" + gpu.deviceName() + "), matmul " + precision.name().toLowerCase(Locale.ROOT));

        Tensor ids = Tensor.randint(0, config.vocabSize(), new Generator(1), Device.CPU, batch, t + 1);
        Tensor checkIds = Tensor.randint(0, config.vocabSize(), new Generator(2), Device.CPU, CHECK_BATCH, 2 * t + 1);
        Path weights = null;
        double[] ladonCheck = null;
        if (usePeer) {
            // The peer starts from exactly these weights and batches, so both sides route tokens alike.
            weights = Files.createTempFile("ladon-lm-step-", ".safetensors");
            Map<String, Tensor> state = new LinkedHashMap<>();
            model.stateDict().forEach((name, tensor) -> state.put(name, tensor.to(Device.CPU)));
            state.put("bench.ids", ids);
            state.put("check.ids", checkIds);
            SafeTensors.save(weights, state);
            ladonCheck = checkLosses(model, checkIds.to(device));
        }
        PeerProcess.Session session = null;
        try {
            AdamW optimizer = new AdamW(ParamGroup.all(model, 0), LEARNING_RATE);
            Tensor inputs = ids.narrow(1, 0, t).contiguous().to(device);
            Tensor targets = ids.narrow(1, 1, t).contiguous().to(device);
            if (gpu != null) {
                gpu.synchronize();
                System.gc();
                gpu.resetPeakMemory();
            }
            // On the CPU the peer runs beside Ladon, one step each in turn, so that both medians come from the
            // same minutes: this machine's speed drifts by tens of percent from one minute to the next.
            if (usePeer && gpu == null) {
                List<String> command = peerCommand(python, config, device, batch, steps, warmup, precision,
                        memoryTokens, attention, expertCompute, weights);
                if (command != null) {
                    List<String> interleaved = new ArrayList<>(command);
                    interleaved.add("--interleave");
                    session = PeerProcess.Session.start(interleaved, PEER_ENVIRONMENT, LmStepBench::echoPeer);
                }
            }
            Map<String, long[]> collectorsBefore = collectorCounts();
            Timing ladon = time(model, optimizer, inputs, targets, warmup, steps, gpu, session);
            long ladonPeakMb = gpu == null ? peakResidentMb() : gpu.memoryStats().peakAllocatedBytes() >> 20;
            double ladonTokens = batch * t / (ladon.medianMillis() / 1e3);
            System.out.printf(Locale.ROOT, "ladon: median step %.2f ms over %d steps after %d warm-up, %.0f tokens/s, "
                    + "loss %.4f, peak %d MB%n", ladon.medianMillis(), steps, warmup, ladonTokens, ladon.lastLoss(),
                    ladonPeakMb);
            if (gpu == null) {
                // On the CPU the peak is the JVM's: how often it collected and how large it let the heap grow.
                System.out.println("ladon: " + collectorSummary(collectorsBefore) + "; the step's workspace holds "
                        + (ladon.workspaceBytes() >> 20) + " MB between steps");
            }
            Map<String, String> peer = null;
            String refusal = null;
            if (usePeer) {
                if (gpu != null) {
                    // Give the GPU memory Ladon cached back to the driver before the peer starts.
                    optimizer = null;
                    model = null;
                    System.gc();
                    gpu.emptyCache();
                }
                if (gpu == null) {
                    peer = session == null ? null : peerResult(session.finish("done"));
                } else {
                    List<String> command = peerCommand(python, config, device, batch, steps, warmup, precision,
                            memoryTokens, attention, expertCompute, weights);
                    peer = command == null ? null : runPeer(command);
                }
                if (peer != null) {
                    refusal = compare(parameters, ladonCheck, peer, precision, device);
                }
            }
            System.out.println(resultLine(device, label, ladon, ladonTokens, ladonPeakMb, peer, refusal));
            return refusal == null ? 0 : 1;
        } finally {
            if (session != null) {
                session.close(); // a no-op after finish; after a failure it stops the peer
            }
            if (weights != null) {
                Files.deleteIfExists(weights);
            }
        }
    }

    /** The configuration named by --model or --config, or the device's default. */
    private static ModelConfig baseConfig(Options o, Device device) {
        String name = o.get("config", null);
        String model = o.get("model", null);
        if (name != null && model != null) {
            throw new IllegalArgumentException("lm-step: give --model or --config, not both");
        }
        ModelConfig base;
        if (name != null) {
            base = ModelConfig.named(name);
        } else if (model != null) {
            base = switch (model) {
                case "dense" -> ModelConfig.named("xl-47m");
                case "switchhead" -> ModelConfig.named("switchhead-47m");
                default -> throw new IllegalArgumentException("lm-step: --model is dense or switchhead, got '" + model
                        + "'");
            };
        } else {
            base = device.isCpu() ? SMALL_CPU : ModelConfig.named("xl-47m");
        }
        if (base.variant() != ModelConfig.Variant.DENSE && base.variant() != ModelConfig.Variant.SWITCHHEAD) {
            throw new IllegalArgumentException("lm-step: times dense and SwitchHead models (the peer has no other), got "
                    + base.name() + " (" + base.variant() + ")");
        }
        return base;
    }

    private static String oneOf(Options o, String option, String fallback, String... allowed) {
        String v = o.get(option, fallback);
        if (!Arrays.asList(allowed).contains(v)) {
            throw new IllegalArgumentException("lm-step: --" + option + " is one of " + String.join(", ", allowed)
                    + ", got '" + v + "'");
        }
        return v;
    }

    /**
     * Median step time over {@code steps} after {@code warmup}; each step's Transformer-XL memory feeds the next.
     * With a ready peer session, each timed step is paired with one of the peer's, Ladon's first in even pairs
     * and the peer's first in odd ones.
     */
    private static Timing time(MoeLanguageModel model, AdamW optimizer, Tensor inputs, Tensor targets, int warmup,
            int steps, CudaBackend gpu, PeerProcess.Session peer) {
        boolean paired = peer != null && peer.isReady();
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        model.train();
        List<Tensor> memory = null;
        double[] millis = new double[steps];
        double lastLoss = Double.NaN;
        boolean profiling = OpProfiler.isEnabled();
        // Each step's tensors reuse the memory of the step before (see Workspace): no zero-filling by the JVM
        // and no garbage for the collector, as a training loop would run.
        Workspace workspace = new Workspace("lm-step");
        for (int i = 0; i < warmup + steps; i++) {
            if (profiling && i == warmup) {
                OpProfiler.reset(); // LADON_PROFILE's table then shows the timed steps, not the warm-up
            }
            boolean timed = i >= warmup;
            if (paired && timed && (i - warmup) % 2 == 1) {
                peer.ask("step", "step_ms=");
            }
            long t0 = System.nanoTime();
            try (Workspace.Scope scope = workspace.open()) {
                optimizer.zeroGrad();
                var output = model.forward(inputs, memory);
                Variable loss = lossFn.forward(output.logits(), targets);
                loss.backward();
                optimizer.step();
                memory = model.usesMemory() ? scope.keepAll(output.memory()) : null;
                if (gpu != null) {
                    gpu.synchronize(); // kernels are queued: the step ends when the GPU is done
                }
                if (i == warmup + steps - 1) {
                    lastLoss = loss.item();
                }
            }
            if (timed) {
                millis[i - warmup] = (System.nanoTime() - t0) / 1e6;
                if (paired && (i - warmup) % 2 == 0) {
                    peer.ask("step", "step_ms=");
                }
            }
        }
        if (profiling) {
            OpProfiler.disable();
            System.err.println("lm-step: the op profile below covers the " + steps + " timed steps");
        }
        Arrays.sort(millis);
        return new Timing(millis[steps / 2], lastLoss, workspace.freeBytes());
    }

    /** Eval-mode losses of two consecutive segments of ids [B, 2T + 1], the second with the first's memory. */
    static double[] checkLosses(MoeLanguageModel model, Tensor ids) {
        int t = model.config().context();
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        model.eval();
        try (var ng = GradMode.noGrad()) {
            var first = model.forward(ids.narrow(1, 0, t).contiguous(), null);
            double l1 = lossFn.forward(first.logits(), ids.narrow(1, 1, t).contiguous()).item();
            var second = model.forward(ids.narrow(1, t, t).contiguous(), model.usesMemory() ? first.memory() : null);
            double l2 = lossFn.forward(second.logits(), ids.narrow(1, t + 1, t).contiguous()).item();
            return new double[] {l1, l2};
        } finally {
            model.train();
        }
    }

    private static List<String> peerCommand(String python, ModelConfig c, Device device, int batch, int steps,
            int warmup, MatmulPrecision precision, int memoryTokens, String attention, String expertCompute,
            Path weights) {
        Path script = PeerScript.find("bench/lm_step_peer.py");
        if (script == null) {
            System.out.println("peer: skipped (bench/lm_step_peer.py not found; run from the repository root)");
            return null;
        }
        boolean switchHead = c.variant() == ModelConfig.Variant.SWITCHHEAD;
        return List.of(python, script.toString(), "--variant", switchHead ? "switchhead" : "dense", "--positions",
                c.positionEncoding() == ModelConfig.PositionEncoding.XL ? "xl" : "rope", "--vocab", "" + c.vocabSize(),
                "--d-model", "" + c.dModel(), "--layers", "" + c.layers(), "--heads", "" + c.heads(), "--d-head",
                "" + c.dHead(), "--d-ff", "" + c.dFF(), "--experts", "" + c.experts(), "--active",
                "" + c.activeExperts(), "--context", "" + c.context(), "--memory", "" + memoryTokens, "--batch",
                "" + batch, "--dropout", "" + c.dropout(), "--lr", "" + LEARNING_RATE, "--weight-decay", "0",
                "--device", device.toString(), "--precision", precision.name().toLowerCase(Locale.ROOT), "--threads",
                "" + Parallel.numThreads(), "--steps", "" + steps, "--warmup", "" + warmup, "--weights",
                weights.toString(), "--attention", attention, "--expert-compute", expertCompute);
    }

    /** OpenMP threads that sleep between steps rather than spin: the peer's best CPU setting. */
    private static final Map<String, String> PEER_ENVIRONMENT = Map.of("OMP_WAIT_POLICY", "PASSIVE");

    private static void echoPeer(String line) {
        if (!line.startsWith("torch_ms=")) {
            System.out.println("peer: " + line);
        }
    }

    /** Runs the peer, showing its lines; returns the fields of its result line, or null (with the reason). */
    private static Map<String, String> runPeer(List<String> command) throws InterruptedException {
        return peerResult(PeerProcess.run(command, PEER_ENVIRONMENT, LmStepBench::echoPeer));
    }

    /** The fields of the peer's result line, or null (saying why there is none). */
    private static Map<String, String> peerResult(PeerProcess.Result r) {
        String last = r.lastLineStartingWith("torch_ms=");
        if (r.exitCode() != 0 || last == null) {
            System.out.println("peer: no result (" + r.explanation() + ")");
            return null;
        }
        return PeerProcess.fields(last);
    }

    /**
     * Null when the peer's model matches Ladon's (same parameter count, same check losses within the
     * precision's tolerance), else why not. Prints the comparison.
     */
    static String compare(long ladonParams, double[] ladonCheck, Map<String, String> peer, MatmulPrecision precision,
            Device device) {
        long torchParams = Long.parseLong(peer.getOrDefault("torch_params", "-1"));
        System.out.printf(Locale.ROOT, "parameters: ladon %,d torch %,d%n", ladonParams, torchParams);
        if (ladonParams != torchParams) {
            return "parameter counts differ (ladon " + ladonParams + ", torch " + torchParams + ")";
        }
        String[] torch = peer.getOrDefault("torch_check", "").split(",");
        if (torch.length != 2) {
            return "the peer reported no check losses";
        }
        // Float32 summation orders differ; TF32 rounds matmul inputs to 10 bits.
        double tolerance = precision == MatmulPrecision.TF32 ? 1e-2 : 1e-4;
        double worst = 0;
        for (int i = 0; i < 2; i++) {
            worst = Math.max(worst, Math.abs(Double.parseDouble(torch[i]) - ladonCheck[i]) / Math.abs(ladonCheck[i]));
        }
        System.out.printf(Locale.ROOT, "check (eval loss, 2 segments on %s): ladon %.6f %.6f torch %s %s, "
                + "max relative difference %.1e (tolerance %.0e)%n", device, ladonCheck[0], ladonCheck[1], torch[0],
                torch[1], worst, tolerance);
        return worst <= tolerance ? null : "the check losses differ by " + String.format(Locale.ROOT, "%.1e", worst)
                + " (relative), more than " + tolerance;
    }

    private static String resultLine(Device device, String label, Timing ladon, double ladonTokens,
            long ladonPeakMb, Map<String, String> peer, String refusal) {
        if (refusal != null) {
            System.out.println("lm-step: no ratio: " + refusal);
        }
        boolean ratio = peer != null && refusal == null;
        String torchPeak = peer == null ? "-" : peer.getOrDefault("torch_peak_mb", "-");
        if (device.isCpu()) {
            String torchMs = peer == null ? "-" : millis(Double.parseDouble(peer.get("torch_ms")));
            return "lm-step cpu ladon_ms=" + millis(ladon.medianMillis()) + " torch_ms=" + torchMs + " ratio="
                    + (ratio ? fmt("%.2f", ladon.medianMillis() / Double.parseDouble(peer.get("torch_ms"))) : "-")
                    + " ladon_peak_mb=" + ladonPeakMb + " torch_peak_mb=" + torchPeak;
        }
        double torchTokens = peer == null ? Double.NaN : Double.parseDouble(peer.get("torch_tok_s"));
        return "lm-step " + device.type() + " model=" + label + " ladon_tok_s=" + fmt("%.0f", ladonTokens)
                + " torch_tok_s=" + (peer == null ? "-" : fmt("%.0f", torchTokens)) + " ratio="
                + (ratio ? fmt("%.2f", ladonTokens / torchTokens) : "-") + " ladon_peak_mb=" + ladonPeakMb
                + " torch_peak_mb=" + torchPeak;
    }

    /** Three significant digits at most, no more decimals than needed: 240, 35.3, 4.12. */
    private static String millis(double ms) {
        return fmt(ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : "%.2f", ms);
    }

    private static String fmt(String pattern, double v) {
        return String.format(Locale.ROOT, pattern, v);
    }

    /** Each garbage collector's collection count and accumulated time in ms, by name. */
    static Map<String, long[]> collectorCounts() {
        Map<String, long[]> counts = new LinkedHashMap<>();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            counts.put(gc.getName(), new long[] {gc.getCollectionCount(), gc.getCollectionTime()});
        }
        return counts;
    }

    /**
     * What the collectors did since {@code before} (warm-up and timed steps), and the heap the JVM has
     * committed now, e.g. {@code Java heap over the steps: G1 Young Generation 25 in 71 ms, ...; committed
     * 1132 MB}. A collector's time is its pauses for G1's young and full collections, but concurrent work for
     * "G1 Concurrent GC".
     */
    static String collectorSummary(Map<String, long[]> before) {
        StringBuilder sb = new StringBuilder("Java heap over the steps:");
        String separator = " ";
        for (Map.Entry<String, long[]> now : collectorCounts().entrySet()) {
            long[] was = before.getOrDefault(now.getKey(), new long[2]);
            sb.append(separator).append(now.getKey()).append(' ').append(now.getValue()[0] - was[0]).append(" in ")
                    .append(now.getValue()[1] - was[1]).append(" ms");
            separator = ", ";
        }
        long committedMb = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted() >> 20;
        return sb.append("; committed ").append(committedMb).append(" MB").toString();
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
