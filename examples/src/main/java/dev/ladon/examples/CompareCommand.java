package dev.ladon.examples;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.moe.ExpertUsage;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.moe.accounting.AttentionCost;
import dev.ladon.moe.accounting.CountFormat;
import dev.ladon.moe.accounting.ParameterCount;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.GradientClipping;
import dev.ladon.nn.optim.LearningRateSchedule;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.nn.data.ByteTokenizer;
import dev.ladon.nn.data.Corpus;
import dev.ladon.nn.data.EuroparlCorpus;
import dev.ladon.nn.data.LanguageModelMetrics;
import dev.ladon.nn.data.TokenDataset;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Workspace;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/ladon compare}: trains the dense, SwitchHead, MoA and SwitchAll CPU-sized models
 * (the catalogue's {@code *-small} configurations, widened or narrowed until their parameter counts match
 * the dense one) on the same byte-level Europarl text, for the same steps, batch, context and seed, and
 * prints a table shaped like SwitchHead's Table 1: parameters, attention MACs and memory (the papers'
 * accounting, {@link AttentionCost}), validation perplexity and bits per byte, training throughput and
 * peak heap. The table also goes to {@code OUT/compare.csv}, and the expert-selection statistics of the
 * final validation to {@code OUT/MODEL-*.csv|png} ({@link ExpertUsageReport}). {@code --size 47m} (the
 * default on a GPU) trains the papers' 47M Wikitext-103 configurations instead.
 */
final class CompareCommand implements Command {
    /** The four models of the comparison, in table order. */
    static final List<String> MODELS = List.of("dense", "switchhead", "moa", "switchall");

    /** The model sizes a comparison can run at. */
    static final List<String> SIZES = List.of("small", "47m");

    /** Relative parameter-count tolerance the matching aims for. */
    static final double MATCH_TOLERANCE = 0.05;

    /** Validation tokens evaluated when --eval-tokens is not given. */
    static final int DEFAULT_EVAL_TOKENS = 32768;

    /** How one model is trained and evaluated; identical for every model of a comparison. */
    record Settings(int steps, int batch, int context, long seed, double lr, int warmup, double clip, int evalTokens,
            Device device) {
        /**
         * The settings compare and analyze read from --steps (default {@code defaultSteps}), --batch,
         * --context, --seed, --lr, --eval-tokens and --device: warm-up a tenth of the steps, clipping at 0.25.
         */
        static Settings from(Options o, int defaultSteps) {
            int steps = o.getPositiveInt("steps", defaultSteps);
            return new Settings(steps, o.getPositiveInt("batch", 16), o.getPositiveInt("context", 64),
                    o.getLong("seed", 0), o.getNonNegativeDouble("lr", 2e-3), Math.max(1, steps / 10), 0.25,
                    o.getInt("eval-tokens", DEFAULT_EVAL_TOKENS, 1, Integer.MAX_VALUE - 1), o.device());
        }
    }

    /** --corpus-bytes: how much of Europarl compare and analyze read. */
    static long corpusBytes(Options o) {
        return o.getPositiveLong("corpus-bytes", EuroparlCorpus.DEFAULT_MAX_BYTES);
    }

    /** One row of the table, plus the usage trackers filled by the final validation. */
    record Result(ModelConfig config, long parameters, long attentionMacs, long attentionMemory, double validationNll,
            double perplexity, double bitsPerByte, double tokensPerSecond, long peakHeapBytes, long evaluatedTokens,
            Map<String, ExpertUsage> usage) {
    }

    @Override
    public String name() {
        return "compare";
    }

    @Override
    public String summary() {
        return "train dense, SwitchHead, MoA and SwitchAll at matched size; print the paper-style table";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon compare [options]
                  --models LIST       comma-separated subset of dense,switchhead,moa,switchall (default all four)
                  --steps S           optimizer steps per model (default 800)
                  --batch B           sequences per step (default 16)
                  --context T         tokens per sequence (default 64)
                  --lr R              peak learning rate, cosine decay to lr/10 (default 2e-3)
                  --eval-tokens N     validation tokens evaluated at the end (default 32768)
                  --corpus-bytes N    bytes of Europarl read (default 8388608)
                  --seed S            initialisation and batch-order seed, the same for every model (default 0)
                  --device D          cpu or cuda:N (default cpu)
                  --size S            small (the *-small configurations, parameter-matched to dense-small) or
                                      47m (the papers' Wikitext-103 47M configurations: xl-47m, switchhead-47m,
                                      moa-47m-k4, switchall-47m, at their own widths); default small on the CPU
                                      and 47m on a GPU
                  --threads N         CPU threads (default: all cores)
                  --out DIR           where compare.csv and the expert-usage files go (default runs/compare)""";
    }

    @Override
    public int run(String[] args) throws IOException {
        Options o = new Options(args, "models", "steps", "batch", "context", "lr", "eval-tokens", "corpus-bytes",
                "seed", "device", "threads", "out", "size");
        o.applyThreads();
        List<String> models = parseModels(o.get("models", String.join(",", MODELS)));
        Settings s = Settings.from(o, 800);
        String size = o.get("size", s.device().isCpu() ? "small" : "47m");
        if (!SIZES.contains(size)) {
            throw new IllegalArgumentException("--size must be one of " + SIZES + ", got '" + size + "'");
        }
        Path out = Files.createDirectories(o.outputPath("runs/compare"));
        Corpus corpus = EuroparlCorpus.load(corpusBytes(o));
        List<Result> results = compare(corpus, models, size, s, out, System.out);
        System.out.println();
        System.out.print(table(results));
        Path csv = writeCsv(out, results);
        System.out.println("table written to " + csv);
        return 0;
    }

    /** Trains and evaluates each model in turn, printing progress to {@code log}; writes usage files to out. */
    static List<Result> compare(Corpus corpus, List<String> models, String size, Settings s, Path out,
            PrintStream log) throws IOException {
        ByteTokenizer tokenizer = new ByteTokenizer();
        TokenDataset train = new TokenDataset(tokenizer.encode(corpus.train()));
        int[] validationTokens = tokenizer.encode(corpus.validation());
        TokenDataset validation = new TokenDataset(
                Arrays.copyOf(validationTokens, Math.min(validationTokens.length, s.evalTokens() + 1)));
        List<ModelConfig> configs = size.equals("small") ? matchedConfigs(models, s.context(), tokenizer.vocabSize())
                : paperConfigs(models, s.context(), tokenizer.vocabSize());
        log.printf(Locale.ROOT, "data: %s, byte tokens: %,d training, %,d validation used; %d threads, device %s%n",
                corpus.name(), train.size(), validation.size(), Parallel.numThreads(), s.device());
        log.printf(Locale.ROOT, "budget: %d steps x %d sequences x %d tokens = %,d training tokens per model, seed %d%n",
                s.steps(), s.batch(), s.context(), (long) s.steps() * s.batch() * s.context(), s.seed());
        for (ModelConfig c : configs) {
            log.printf(Locale.ROOT, "  %-16s %s params (%s)%n", c.name(), CountFormat.exact(ParameterCount.of(c).total()),
                    describe(c));
        }
        List<Result> results = new ArrayList<>();
        for (ModelConfig c : configs) {
            Result r = trainAndEvaluate(c, train, validation, s, log);
            results.add(r);
            List<Path> files = ExpertUsageReport.write(out, c.name(), r.usage());
            if (!files.isEmpty()) {
                log.println("  expert usage: " + files.size() + " files in " + out);
            }
        }
        return results;
    }

    /**
     * The {@code *-small} catalogue configurations of {@code models} at context T and the given vocabulary,
     * each non-dense one resized so its parameter count is as close as possible to the dense one's: the
     * feedforward width d_ff for models with a dense feedforward block, the expert size G for sigma-MoE.
     * The target is the dense model's count even when dense is not among {@code models}.
     */
    static List<ModelConfig> matchedConfigs(List<String> models, int context, int vocab) {
        ModelConfig dense = small("dense", context, vocab);
        long target = ParameterCount.of(dense).total();
        List<ModelConfig> configs = new ArrayList<>();
        for (String m : models) {
            ModelConfig c = small(m, context, vocab);
            if (!m.equals("dense")) {
                c = match(c, target);
            }
            configs.add(c);
        }
        return configs;
    }

    /**
     * The papers' 47M Wikitext-103 configurations of {@code models} at context T and the given vocabulary.
     * They are left at their published widths, which the papers matched to the dense model's parameter count
     * with their own vocabulary; with another vocabulary the counts shift together (embedding and output).
     */
    static List<ModelConfig> paperConfigs(List<String> models, int context, int vocab) {
        List<ModelConfig> configs = new ArrayList<>();
        for (String m : models) {
            String name = switch (m) {
                case "dense" -> "xl-47m";
                case "moa" -> "moa-47m-k4";
                default -> m + "-47m";
            };
            configs.add(ModelConfig.named(name).toBuilder().context(context).vocabSize(vocab).build());
        }
        return configs;
    }

    private static ModelConfig small(String model, int context, int vocab) {
        return ModelConfig.named(model + "-small").toBuilder().context(context).vocabSize(vocab).build();
    }

    /** Searches the one free width (d_ff, or G for sigma-MoE) for the count nearest to target. */
    private static ModelConfig match(ModelConfig c, long target) {
        boolean sigma = c.variant().expertFeedForward();
        ModelConfig best = c;
        long bestGap = Math.abs(ParameterCount.of(c).total() - target);
        int start = sigma ? c.ffExpertSize() : c.dFF();
        // Parameter count is monotone in the width, so a scan over a generous range finds the nearest.
        for (int w = Math.max(1, start / 8); w <= start * 4; w++) {
            ModelConfig candidate = sigma
                    ? c.toBuilder().sigmaMoe(c.ffExperts(), w, c.ffActiveExperts()).build()
                    : c.toBuilder().dFF(w).build();
            long gap = Math.abs(ParameterCount.of(candidate).total() - target);
            if (gap < bestGap) {
                best = candidate;
                bestGap = gap;
            }
        }
        return best;
    }

    private static String describe(ModelConfig c) {
        String attention = switch (c.variant()) {
            case DENSE, SIGMA_MOE -> "H=" + c.heads() + " d_h=" + c.dHead();
            default -> "H=" + c.heads() + " E=" + c.experts() + " k=" + c.activeExperts() + " d_h=" + c.dHead();
        };
        String ff = c.variant().expertFeedForward()
                ? "sigma-MoE N_E=" + c.ffExperts() + " G=" + c.ffExpertSize() + " K=" + c.ffActiveExperts()
                : "d_ff=" + c.dFF();
        return "L=" + c.layers() + " d=" + c.dModel() + " " + attention + " " + ff;
    }

    /**
     * Trains one model from seed {@code s.seed()} (random windows of the training text, AdamW, warm-up and
     * cosine decay, clipping, the model's auxiliary losses added), then evaluates the validation tokens with
     * usage tracking on. Throughput counts training tokens over training wall time; peak heap is sampled.
     */
    static Result trainAndEvaluate(ModelConfig config, TokenDataset train, TokenDataset validation, Settings s,
            PrintStream log) {
        HeapPeak heap = HeapPeak.start();
        try {
            Generator.manualSeed(s.seed());
            MoeLanguageModel model = LanguageModels.build(config, new Generator(s.seed()));
            model.to(s.device());
            AdamW optimizer = new AdamW(ParamGroup.decayMatricesOnly(model, 0), s.lr());
            LearningRateSchedule schedule = LearningRateSchedule.cosine(s.lr(), s.warmup(), s.steps(), s.lr() / 10);
            CrossEntropyLoss lossFn = new CrossEntropyLoss();
            log.printf(Locale.ROOT, "training %s (%,d parameters)%n", config.name(), model.parameterCount());
            ProgressBar progress = new ProgressBar(log, 0, s.steps(), 10);
            // Throughput is timed from step `timedFrom` on, so the JIT compiling the first steps does not count.
            int timedFrom = Math.min(s.steps() - 1, s.steps() / 10);
            long start = System.nanoTime();
            Workspace workspace = new Workspace("training step");
            for (int step = 0; step < s.steps(); step++) {
                if (step == timedFrom) {
                    start = System.nanoTime();
                }
                optimizer.setLearningRate(schedule.at(step));
                double loss;
                try (Workspace.Scope scope = workspace.open()) {
                    optimizer.zeroGrad();
                    TokenDataset.Batch b = train.batch(s.seed(), step, s.batch(), s.context());
                    Variable logits = model.forward(b.inputs().to(s.device()), null).logits();
                    Variable lm = lossFn.forward(logits, b.targets().to(s.device()));
                    lm.add(model.auxLoss()).backward();
                    loss = lm.item();
                    // Without clipping the norm is still measured, so that a NaN in it stops the run.
                    double norm = s.clip() > 0 ? GradientClipping.clipByGlobalNorm(model.parameters(), s.clip())
                            : GradientClipping.globalNorm(model.parameters());
                    TrainingDiverged.checkStep("training " + config.name(), step + 1, loss, norm,
                            "try a lower --lr (now " + s.lr() + ")");
                    optimizer.step();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                String rate = step < timedFrom ? "warming up"
                        : String.format(Locale.ROOT, "%,.0f tok/s", (step + 1.0 - timedFrom) * s.batch() * s.context()
                                / seconds);
                progress.update(step + 1, String.format(Locale.ROOT, "loss %.3f | %s", loss, rate));
            }
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            progress.interrupt();
            double tokensPerSecond = (double) (s.steps() - timedFrom) * s.batch() * s.context() / trainSeconds;

            Map<String, ExpertUsage> usage = model.trackUsage();
            double summedNll = validate(model, validation, s);
            long tokens = validation.targetCount();
            double nll = LanguageModelMetrics.meanNll(summedNll, tokens);
            TrainingDiverged.checkValidation(config.name(), s.steps(), nll, "try a lower --lr (now " + s.lr() + ")");
            Result r = new Result(config, ParameterCount.of(config).total(), AttentionCost.of(config).macs(),
                    AttentionCost.of(config).memory(), nll, LanguageModelMetrics.perplexity(summedNll, tokens),
                    LanguageModelMetrics.bitsPerByte(summedNll, tokens), tokensPerSecond, heap.peak(), tokens, usage);
            log.printf(Locale.ROOT, "  %s: validation ppl %.3f, %.4f bits per byte, %,.0f tok/s%n", config.name(),
                    r.perplexity(), r.bitsPerByte(), r.tokensPerSecond());
            return r;
        } finally {
            heap.stop();
        }
    }

    /**
     * The summed cross-entropy (nats) of every validation target, in windows of {@code s.context()} tokens
     * without memory, {@code s.batch()} windows at a time; eval mode, no graph. Usage trackers attached to
     * the model count the choices of these passes.
     */
    static double validate(MoeLanguageModel model, TokenDataset validation, Settings s) {
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        double summedNll = 0;
        model.eval();
        try (var ng = GradMode.noGrad()) {
            for (TokenDataset.Batch b : validation.sequential(s.batch(), s.context())) {
                double mean = lossFn.forward(model.forward(b.inputs().to(s.device()), null).logits(),
                        b.targets().to(s.device())).item();
                summedNll += mean * b.targets().numel();
            }
        }
        return summedNll;
    }

    /** The results as an aligned text table in the shape of SwitchHead's Table 1. */
    static String table(List<Result> results) {
        StringBuilder sb = new StringBuilder();
        String format = "%-16s %10s %10s %11s %9s %9s %10s %10s%n";
        sb.append(String.format(Locale.ROOT, format, "model", "#params", "att MACs", "att Mem", "val ppl", "bpb",
                "tok/s", "peak heap"));
        for (Result r : results) {
            sb.append(String.format(Locale.ROOT, format, r.config().name(), CountFormat.compact(r.parameters()),
                    CountFormat.compact(r.attentionMacs()), String.format(Locale.ROOT, "%,d", r.attentionMemory()),
                    String.format(Locale.ROOT, "%.3f", r.perplexity()), String.format(Locale.ROOT, "%.4f", r.bitsPerByte()),
                    String.format(Locale.ROOT, "%,.0f", r.tokensPerSecond()),
                    String.format(Locale.ROOT, "%.0f MiB", r.peakHeapBytes() / 1048576.0)));
        }
        sb.append("att MACs / Mem (floats): one attention layer, one sequence of T tokens (papers' accounting); peak heap: "
                + "max sampled JVM heap in use (garbage included)\n");
        return sb.toString();
    }

    /** Writes {@code dir/compare.csv}: one header line and one line per result, exact numbers. */
    static Path writeCsv(Path dir, List<Result> results) throws IOException {
        Files.createDirectories(dir);
        Path csv = dir.resolve("compare.csv");
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv))) {
            w.println("model,params,attention_macs,attention_memory_floats,val_nll,val_perplexity,val_bits_per_byte,"
                    + "tokens_per_second,peak_heap_bytes,eval_tokens");
            for (Result r : results) {
                w.printf(Locale.ROOT, "%s,%d,%d,%d,%.6f,%.6f,%.6f,%.1f,%d,%d%n", r.config().name(), r.parameters(),
                        r.attentionMacs(), r.attentionMemory(), r.validationNll(), r.perplexity(), r.bitsPerByte(),
                        r.tokensPerSecond(), r.peakHeapBytes(), r.evaluatedTokens());
            }
        }
        return csv;
    }

    static List<String> parseModels(String list) {
        List<String> models = new ArrayList<>();
        for (String m : list.split(",")) {
            String name = m.trim().toLowerCase(Locale.ROOT);
            if (!MODELS.contains(name)) {
                throw new IllegalArgumentException("--models: unknown model '" + m + "'; choose from " + MODELS);
            }
            if (!models.contains(name)) {
                models.add(name);
            }
        }
        return models;
    }

    /**
     * The largest JVM heap use seen by a daemon thread that samples every 10 ms while a model runs. A sample
     * counts garbage not yet collected, so it is an upper bound on what the model needed.
     */
    static final class HeapPeak {
        private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        private final Thread sampler;
        private volatile boolean running = true;
        private volatile long peak;

        private HeapPeak() {
            sampler = Thread.ofPlatform().daemon().name("heap-peak").start(() -> {
                while (running) {
                    sample();
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        static HeapPeak start() {
            System.gc(); // so the previous model's garbage does not count against this one
            return new HeapPeak();
        }

        private void sample() {
            long used = memory.getHeapMemoryUsage().getUsed();
            if (used > peak) {
                peak = used;
            }
        }

        long peak() {
            sample();
            return peak;
        }

        void stop() {
            running = false;
            sampler.interrupt();
        }
    }
}
