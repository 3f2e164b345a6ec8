package dev.ladon.examples;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.moe.ExpertUsage;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.moe.accounting.ParameterCount;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.TokenSampler;
import dev.ladon.nn.data.BpeTokenizer;
import dev.ladon.nn.data.ByteTokenizer;
import dev.ladon.nn.data.Corpus;
import dev.ladon.nn.data.EuroparlCorpus;
import dev.ladon.nn.data.LanguageModelMetrics;
import dev.ladon.nn.data.TextFileCorpus;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.nn.data.WikitextCorpus;
import dev.ladon.nn.io.SafeTensors;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.GradientClipping;
import dev.ladon.nn.optim.LearningRateSchedule;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.nn.plot.Drawing;
import dev.ladon.nn.plot.LinePlot;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/ladon train}: trains a decoder-only language model (a named {@link ModelConfig}: dense,
 * SwitchHead, MoA or SwitchAll) on Europarl (default), a text file or a WikiText-103 directory, tokenized as
 * bytes or with a BPE learned on the training split. Transformer-XL style batching: the training tokens are
 * cut into {@code batch} parallel streams and each step reads the next {@code context} tokens of every
 * stream, carrying the memory from step to step. AdamW with warm-up and cosine decay, gradient clipping,
 * gradient accumulation, the models' auxiliary (regularisation) losses. Checkpoints to {@code --out}
 * (see {@link TrainingCheckpoint}) and resumes from there exactly; ends with the validation perplexity, bits
 * per byte, a loss-curve PNG and a sample. For a model with experts it also writes {@link ExpertUsageReport}s
 * to {@code --out/usage}: one of the selections the training forward passes made ({@code training-*}, counted
 * as they happen, saved with the checkpoints), one of the final validation ({@code validation-*}).
 */
final class TrainCommand implements Command {
    /** Validation tokens evaluated when --eval-tokens is not given (bounds the evaluation time). */
    static final int DEFAULT_EVAL_TOKENS = 16_384;

    @Override
    public String name() {
        return "train";
    }

    @Override
    public String summary() {
        return "train a language model (dense, SwitchHead, MoA, SwitchAll) on Europarl or a text file, with checkpoints";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon train [options]          (no options: dense-small, bytes, Europarl, a few minutes)
                data and tokenizer:
                  --data PATH         a UTF-8 text file (its last 10%, from the first line that starts there, is
                                      validation) or a WikiText-103 directory (wiki.train/valid.tokens);
                                      default: Europarl from the Lucene test jar (every 20th document is
                                      validation)
                  --text FILE         same as --data FILE
                  --max-bytes N       read at most N bytes of text (default 8388608): in all for Europarl and
                                      a text file (before the split), per split for WikiText
                  --tokenizer KIND    byte or bpe (default byte); bpe is learned on the training split
                  --vocab N           BPE vocabulary size, at least 256 (default 1024; --tokenizer bpe only)
                model (a named configuration, sizes optionally overridden):
                  --model NAME        dense-small, switchhead-small, moa-small, switchall-small, sigma-moe-small
                                      or any name of ModelConfig.names() (default dense-small)
                  --positions P       xl (relative, with memory) or rope (default: the model's)
                  --d-model D         width
                  --layers L          blocks
                  --heads H           attention heads
                  --head-dim K        channels per head
                  --d-ff F            feed-forward width (dense feed-forward only)
                  --dropout P         dropout rate
                  --context T         tokens per segment (default: the model's, 64 for the small ones)
                training:
                  --batch B           parallel streams per step (default 8)
                  --accumulate N      micro-batches per optimizer step (default 1)
                  --steps S           optimizer steps (default 600)
                  --stop-after S      end this invocation after step S (checkpointed; continue with --resume)
                  --lr R              peak learning rate (default 2e-3)
                  --warmup W          warm-up steps (default 30)
                  --min-lr R          final learning rate of the cosine, at most --lr (default lr / 10)
                  --weight-decay W    AdamW decay on matrices (default 0)
                  --clip C            gradient clipping by global norm (default 0.25; 0 for none); the norm
                                      before clipping is printed either way
                  --eval-every N      validation every N steps (default 200)
                  --eval-tokens N     validation tokens evaluated (default 16384; 0 for the whole split), at
                                      least min(batch, 4) x (context + 1) - 1
                  --seed S            initialisation, dropout and sampling seed (default 0)
                  --threads N         CPU threads (default: all cores)
                  --device D          cpu, cuda or cuda:N (default cpu); checkpoints load on any device
                checkpoints:
                  --out DIR           run directory (default runs/<model>): model.safetensors,
                                      optimizer.safetensors, trainer.safetensors, tokenizer.txt, loss.png;
                                      for models with experts also usage/: expert selection counts, entropy
                                      and co-selection (CSV, PNG heatmaps) over the training steps
                                      (training-*; SwitchHead's source side counts memory tokens too) and
                                      at the final validation (validation-*)
                  --save-every N      also checkpoint every N steps (default 0: only at the end)
                  --resume            continue the run saved in --out exactly where it stopped, with its model,
                                      tokenizer and batch (options that would change them are refused);
                                      left out, the data, steps, learning-rate schedule, accumulation,
                                      weight decay, clipping and validation options take the run's values
                                      (given with other values, they apply, and a note says so)
                output:
                  --sample N          tokens to generate at the end (default 200; 0 for none; at most 1000000)
                  --temperature T     sampling temperature (default 0.8; 0 for greedy)
                  --top-k K           sample among the K most likely tokens (default 40; 0 for all)
                a step whose loss or gradient norm is not finite stops the run (exit code 1) before its update,
                and no checkpoint with NaN or infinite weights is ever written
                the last line is "validation perplexity X | bits per byte Y" (perplexity per token)""";
    }

    /**
     * The parameter count of the model this run trains, once known (-1 before): the message of a heap that
     * runs out names it.
     */
    private long parameters = -1;

    /** Trainer-metadata prefix of the options a run was started with (steps, lr, data, ...). */
    private static final String RUN_OPTION = "option.";

    @Override
    public int run(String[] args) throws IOException {
        try {
            return train(new Options(args, "data", "text", "max-bytes", "tokenizer", "vocab", "model", "positions",
                    "d-model", "layers", "heads", "head-dim", "d-ff", "dropout", "context", "batch", "accumulate",
                    "steps", "stop-after", "lr", "warmup", "min-lr", "weight-decay", "clip", "eval-every",
                    "eval-tokens", "seed", "threads", "device", "out", "save-every", "resume!", "sample",
                    "temperature", "top-k"));
        } catch (OutOfMemoryError e) {
            throw parameters < 0 ? e : new OutOfMemoryError(String.format(Locale.ROOT,
                    "training a model of %,d parameters", parameters));
        }
    }

    private int train(Options o) throws IOException {
        // Every option is checked before any data is read, model built or file written.
        o.applyThreads();
        boolean resume = o.flag("resume");
        String modelName = o.get("model", "dense-small");
        Path out = o.outputPath("runs/" + modelName);
        Map<String, String> savedMeta = resume ? savedTrainerMetadata(out) : Map.of();
        if (resume) {
            continueWithSavedOptions(o, savedMeta);
        }
        Settings settings = new Settings(o, resume, modelName, out);
        // The run directory is made before any work, so a path that cannot hold it fails now, not at the first save.
        Files.createDirectories(out);
        Run run = openRun(o, settings, savedMeta);
        run.trainSteps();
        if (settings.lastStep() < settings.steps) {
            System.out.printf(Locale.ROOT, "stopped after step %d of %d; checkpoint in %s (continue with --resume)%n",
                    settings.lastStep(), settings.steps, out);
            return 0;
        }
        run.finish();
        return 0;
    }

    /** The metadata of the trainer state saved in {@code out}, the run --resume continues. */
    private static Map<String, String> savedTrainerMetadata(Path out) throws IOException {
        if (!Files.isDirectory(out)) {
            throw new IllegalArgumentException("--resume: no run in " + out
                    + " (start it without --resume, or point --out at its directory)");
        }
        return SafeTensors.loadMetadata(out.resolve(TrainingCheckpoint.TRAINER));
    }

    /**
     * Options left out take the values the run was started with, so `--resume --out DIR` alone continues it as
     * it was (a run started with --lr 1e-3 does not go on at the default 2e-3); a note lists those given with
     * other values.
     */
    private static void continueWithSavedOptions(Options o, Map<String, String> savedMeta) {
        Map<String, String> saved = savedRunOptions(savedMeta);
        if (o.has("text")) {
            saved.remove("data");
        }
        if (o.has("lr") && !o.has("min-lr")) {
            saved.remove("min-lr"); // then lr / 10 of the new lr, as --min-lr's help says
        }
        List<String> changed = o.takeUnsetFrom(saved);
        if (!changed.isEmpty()) {
            System.out.println("note: continuing with " + String.join(", ", changed)
                    + "; a run resumed with other options is not the run it continues");
        }
    }

    /**
     * The options of one invocation, read and checked in this order before any data is read or file written.
     * --batch is not among them: a resumed run takes its batch from the checkpoint (see {@link #openRun}).
     */
    private static final class Settings {
        final boolean resume;
        final String modelName;
        final Path out;
        final int accumulate;
        final int steps;
        final int stopAfter;
        final double lr;
        final double minLr;
        final int warmup;
        final double weightDecay;
        final double clip;
        final int evalEvery;
        final int saveEvery;
        final int evalTokens;
        final long seed;
        final int sample;
        /** Null when --sample is 0. */
        final TokenSampler sampler;
        final String tokenizerKind;
        final int vocab;
        final long maxBytes;
        /** --data or --text; null for Europarl. */
        final String dataPath;
        final Device device;

        Settings(Options o, boolean resume, String modelName, Path out) {
            this.resume = resume;
            this.modelName = modelName;
            this.out = out;
            accumulate = o.getPositiveInt("accumulate", 1);
            steps = o.getPositiveInt("steps", 600);
            stopAfter = o.getPositiveInt("stop-after", steps);
            lr = o.getNonNegativeDouble("lr", 2e-3);
            minLr = o.getNonNegativeDouble("min-lr", lr / 10);
            if (minLr > lr) {
                throw new IllegalArgumentException("--min-lr " + minLr + " is above --lr " + lr
                        + ": the cosine would raise the learning rate instead of lowering it");
            }
            warmup = o.getNonNegativeInt("warmup", 30);
            weightDecay = o.getNonNegativeDouble("weight-decay", 0);
            clip = o.getNonNegativeDouble("clip", 0.25);
            evalEvery = o.getPositiveInt("eval-every", 200);
            saveEvery = o.getNonNegativeInt("save-every", 0);
            evalTokens = o.getInt("eval-tokens", DEFAULT_EVAL_TOKENS, 0, Integer.MAX_VALUE - 1);
            seed = o.getLong("seed", 0);
            sample = o.getInt("sample", 200, 0, GenerateCommand.MAX_TOKENS);
            if (sample == 0) {
                o.refuse("applies only when --sample is above 0", "temperature", "top-k");
            }
            sampler = sample > 0 ? GenerateCommand.sampler(o) : null;
            tokenizerKind = o.get("tokenizer", "byte");
            if (!tokenizerKind.equals("byte") && !tokenizerKind.equals("bpe")) {
                throw new IllegalArgumentException("--tokenizer expects byte or bpe, got '" + tokenizerKind + "'");
            }
            if (tokenizerKind.equals("byte")) {
                o.refuse("applies only to --tokenizer bpe (the byte tokenizer's vocabulary is 256)", "vocab");
            }
            vocab = o.getInt("vocab", 1024, 256, Integer.MAX_VALUE);
            maxBytes = o.getPositiveLong("max-bytes", EuroparlCorpus.DEFAULT_MAX_BYTES);
            if (o.has("data") && o.has("text")) {
                throw new IllegalArgumentException("give --data or --text, not both");
            }
            dataPath = o.has("data") ? o.getNonEmpty("data", null) : o.getNonEmpty("text", null);
            device = o.device();
        }

        /** The last step this invocation trains: --steps, or --stop-after when that comes first. */
        int lastStep() {
            return Math.min(steps, stopAfter);
        }

        /** The options saved with every checkpoint, which a resumed run takes back where they are left out. */
        Map<String, String> runOptions() {
            Map<String, String> runOptions = new LinkedHashMap<>();
            runOptions.put("steps", Integer.toString(steps));
            runOptions.put("accumulate", Integer.toString(accumulate));
            runOptions.put("lr", Double.toString(lr));
            runOptions.put("min-lr", Double.toString(minLr));
            runOptions.put("warmup", Integer.toString(warmup));
            runOptions.put("weight-decay", Double.toString(weightDecay));
            runOptions.put("clip", Double.toString(clip));
            runOptions.put("eval-every", Integer.toString(evalEvery));
            runOptions.put("eval-tokens", Integer.toString(evalTokens));
            runOptions.put("max-bytes", Long.toString(maxBytes));
            runOptions.put("data", dataPath == null ? "" : dataPath);
            return runOptions;
        }
    }

    /**
     * The run to train: the one saved in --out when resuming (its checkpoint checked against the options before
     * the data is loaded; its model, tokenizer and trainer state), else a new one. Prints what it trains.
     */
    private Run openRun(Options o, Settings settings, Map<String, String> savedMeta) throws IOException {
        // A resumed run continues from the saved step with the saved batch: its trainer state is read first,
        // so a checkpoint that cannot continue as asked is refused before the data is loaded.
        SavedTrainer saved = settings.resume ? SavedTrainer.read(settings.out, savedMeta) : null;
        int firstStep = saved == null ? 0 : saved.step();
        int batch = o.getPositiveInt("batch", 8);
        if (saved != null) {
            requireResumable(o, settings, firstStep);
            batch = resumedBatch(o, saved, batch);
        }
        long loadStart = System.nanoTime();
        Data data = loadCorpus(settings.dataPath, settings.maxBytes);
        Corpus corpus = data.corpus();
        Generator.manualSeed(settings.seed);
        ModelAndTokenizer m = saved != null ? resumedModel(o, settings) : newModel(o, settings, corpus);
        MoeLanguageModel model = m.model();
        Tokenizer tokenizer = m.tokenizer();
        int[] trainTokens = tokenizer.encode(corpus.train());
        int[] validationTokens = tokenizer.encode(corpus.validation().isEmpty() ? corpus.test() : corpus.validation());
        model.to(settings.device);
        int context = model.config().context();
        int validationRows = Math.min(batch, 4);
        validationTokens = evaluatedPrefix(validationTokens, settings.evalTokens, validationRows, context);
        Streams train = new Streams(trainTokens, batch, context, "training text", data.trainingRule());
        Streams validation = new Streams(validationTokens, validationRows, context, "validation text",
                data.validationRule());
        int[] samplePrompt = Arrays.copyOf(validationTokens, Math.max(1, Math.min(validationTokens.length, 16)));
        Run run = new Run(settings, model, tokenizer, train, validation, samplePrompt, firstStep);
        if (saved != null) {
            run.restore(saved);
        }
        run.printSummary(corpus.name(), trainTokens.length, validationTokens.length, loadStart);
        return run;
    }

    /** The trainer state of the checkpoint a resumed run continues: its metadata and tensors. */
    private record SavedTrainer(Path file, Map<String, String> meta, Map<String, Tensor> tensors) {
        static SavedTrainer read(Path out, Map<String, String> meta) throws IOException {
            Path file = out.resolve(TrainingCheckpoint.TRAINER);
            return new SavedTrainer(file, meta, SafeTensors.load(file));
        }

        long number(String key) throws IOException {
            return TrainingCheckpoint.metadataNumber(meta, key, file);
        }

        /** The step the checkpoint reached. */
        int step() throws IOException {
            return (int) number("step");
        }

        /**
         * The batch the checkpoint was trained with: its metadata's (written since it was saved), else the rows of
         * its saved memory, else 0 (unknown: a RoPE run saved before the batch was).
         */
        int batch() throws IOException {
            if (meta.containsKey("batch")) {
                return (int) number("batch");
            }
            Tensor memory = tensors.get("memory.0");
            return memory == null ? 0 : memory.size(0);
        }

        Tensor tensor(String name) throws IOException {
            Tensor t = tensors.get(name);
            if (t == null) {
                throw new IOException(file + " lacks the tensor '" + name
                        + "' (it was not written by bin/ladon train)");
            }
            return t;
        }
    }

    /**
     * Refuses a checkpoint that cannot continue as asked: its model and trainer state saved at different steps,
     * --steps below the step it reached, or --stop-after not after it.
     */
    private static void requireResumable(Options o, Settings settings, int firstStep) throws IOException {
        Path out = settings.out;
        long modelStep = TrainingCheckpoint.readStep(out.resolve(TrainingCheckpoint.MODEL));
        if (modelStep != firstStep) {
            throw new IOException("checkpoint in " + out + " is inconsistent: model at step " + modelStep
                    + ", trainer state at step " + firstStep);
        }
        if (settings.steps < firstStep) {
            throw new IllegalArgumentException("--steps " + settings.steps + " is below the step the checkpoint in "
                    + out + " reached, " + firstStep + ": give --steps " + firstStep + " or more");
        }
        if (o.has("stop-after") && settings.stopAfter <= firstStep) {
            throw new IllegalArgumentException("--stop-after " + settings.stopAfter + " is not after the step the "
                    + "checkpoint in " + out + " reached, " + firstStep + ": nothing would be trained");
        }
    }

    /** The batch a resumed run reads its streams with: the checkpoint's, which --batch may repeat but not change. */
    private static int resumedBatch(Options o, SavedTrainer saved, int batch) throws IOException {
        int savedBatch = saved.batch();
        if (savedBatch > 0 && o.has("batch") && batch != savedBatch) {
            throw new IllegalArgumentException("--batch " + batch + " differs from the checkpoint's " + savedBatch
                    + ": a resumed run reads the same streams (leave --batch out, or give " + savedBatch + ")");
        }
        return savedBatch > 0 ? savedBatch : batch;
    }

    /** A model and the tokenizer whose ids it reads. */
    private record ModelAndTokenizer(MoeLanguageModel model, Tokenizer tokenizer) {
    }

    /**
     * The saved model and tokenizer of a resumed run. The tokenizer is reloaded rather than learned again: a BPE
     * learned again would be the same, but reading it is faster and guarantees the ids match the saved embedding.
     */
    private ModelAndTokenizer resumedModel(Options o, Settings settings) throws IOException {
        MoeLanguageModel model = TrainingCheckpoint.loadModel(settings.out, settings.seed);
        Tokenizer tokenizer = TrainingCheckpoint.loadTokenizer(settings.out, model.config());
        refuseChangedModelOptions(o, model.config(), tokenizer, settings.out);
        parameters = model.parameterCount();
        if (model.config().attentionExpertDropout() > 0 || model.config().ffExpertDropout() > 0) {
            // Those layers draw from private generators whose positions a checkpoint cannot reach.
            System.out.println("note: expert dropout masks after resuming differ from an uninterrupted run's");
        }
        return new ModelAndTokenizer(model, tokenizer);
    }

    /**
     * A new model, the named configuration with the size options applied, and its tokenizer (a BPE is learned on
     * the training split); a model too large for the Java heap is refused before it is built.
     */
    private ModelAndTokenizer newModel(Options o, Settings settings, Corpus corpus) {
        Tokenizer tokenizer = settings.tokenizerKind.equals("bpe") ? BpeTokenizer.train(corpus.train(), settings.vocab)
                : new ByteTokenizer();
        ModelConfig asked = configFrom(o, settings.modelName, tokenizer.vocabSize());
        parameters = ParameterCount.of(asked).total();
        requireModelFitsTheHeap(asked, parameters, settings.device.isCpu(), Runtime.getRuntime().maxMemory());
        return new ModelAndTokenizer(LanguageModels.build(asked, new Generator(settings.seed)), tokenizer);
    }

    /**
     * The first {@code evalTokens} + 1 validation tokens (all of them for 0), after checking that they fill
     * {@code rows} streams of context + 1.
     */
    private static int[] evaluatedPrefix(int[] tokens, int evalTokens, int rows, int context) {
        long evalMinimum = (long) rows * (context + 1) - 1;
        if (evalTokens > 0 && evalTokens < evalMinimum) {
            throw new IllegalArgumentException("--eval-tokens " + evalTokens + " is below the " + evalMinimum
                    + " that validation needs: " + rows + " streams of context + 1 = " + (context + 1)
                    + " tokens (0 evaluates the whole split)");
        }
        return evalTokens > 0 && tokens.length > evalTokens + 1 ? Arrays.copyOf(tokens, evalTokens + 1) : tokens;
    }

    /** The loss of one optimizer step and the gradients' global norm before clipping. */
    private record StepResult(double loss, double gradientNorm) {
    }

    /**
     * A run opened for training: the model, its data and optimizer, and what the trainer carries from step to
     * step and saves in its checkpoints (the memory, the loss curves, the expert usage).
     */
    private static final class Run {
        private final Settings settings;
        private final MoeLanguageModel model;
        private final Tokenizer tokenizer;
        private final Streams train;
        private final Streams validation;
        /** The start of the validation text: the prompt of the sample at the end. */
        private final int[] samplePrompt;
        /** The step this invocation starts after: 0, or the one the resumed checkpoint reached. */
        private final int firstStep;
        private final AdamW optimizer;
        private final LearningRateSchedule schedule;
        private final CrossEntropyLoss lossFn = new CrossEntropyLoss();
        /** Counting the choices the training forward passes make anyway; empty for a dense model. */
        private final Map<String, ExpertUsage> trainingUsage;
        private final List<Double> trainLoss = new ArrayList<>();
        /** {step, loss} pairs. */
        private final List<double[]> validationLoss = new ArrayList<>();
        /** The memory the next segment attends to; null at the start of the streams, and for a model without. */
        private List<Tensor> memory;
        /** The step after which trainingUsage started counting. */
        private int usageSince;
        /** The step of the checkpoint on disk, -1 for none: what a diverged run is told is left. */
        private int savedStep;

        Run(Settings settings, MoeLanguageModel model, Tokenizer tokenizer, Streams train, Streams validation,
                int[] samplePrompt, int firstStep) {
            this.settings = settings;
            this.model = model;
            this.tokenizer = tokenizer;
            this.train = train;
            this.validation = validation;
            this.samplePrompt = samplePrompt;
            this.firstStep = firstStep;
            this.savedStep = settings.resume ? firstStep : -1;
            optimizer = new AdamW(ParamGroup.decayMatricesOnly(model, settings.weightDecay), settings.lr);
            schedule = LearningRateSchedule.cosine(settings.lr, settings.warmup, settings.steps, settings.minLr);
            trainingUsage = model.trackUsage();
        }

        /** The optimizer, stream position, random generator, memory, usage counts and losses of the checkpoint. */
        void restore(SavedTrainer saved) throws IOException {
            optimizer.loadStateDict(SafeTensors.load(settings.out.resolve(TrainingCheckpoint.OPTIMIZER)));
            train.setPosition((int) saved.number("position"));
            Generator.defaultGenerator().setState(saved.number("rng.seed"), saved.number("rng.offset"));
            int memoryCount = (int) saved.number("memory");
            if (memoryCount > 0) {
                memory = new ArrayList<>();
                for (int i = 0; i < memoryCount; i++) {
                    memory.add(saved.tensor("memory." + i).to(settings.device));
                }
            }
            // A checkpoint written before usage was saved holds none: counting starts here.
            usageSince = TrainingCheckpoint.restoreUsage(saved.tensors(), trainingUsage)
                    ? Integer.parseInt(saved.meta().getOrDefault("usage.since", "0")) : firstStep;
            for (double v : saved.tensor("loss.train").toDoubleArray()) {
                trainLoss.add(v);
            }
            double[] vs = saved.tensor("loss.validation.step").toDoubleArray();
            double[] vl = saved.tensor("loss.validation").toDoubleArray();
            for (int i = 0; i < vs.length; i++) {
                validationLoss.add(new double[] {vs[i], vl[i]});
            }
        }

        void printSummary(String corpusName, int trainTokens, int validationTokens, long loadStart) {
            ModelConfig config = model.config();
            System.out.printf(Locale.ROOT, "model: %s (%s, %s), d=%d, %d layers, %d heads x %d, T=%d, %,d "
                    + "parameters%n", config.name(), config.variant(), config.positionEncoding(), config.dModel(),
                    config.layers(), config.heads(), config.dHead(), config.context(), model.parameterCount());
            System.out.printf(Locale.ROOT, "data: %s, %s tokenizer (vocabulary %d): %,d training tokens in %d "
                            + "streams, %,d validation tokens; %s; loaded in %.1f s%n", corpusName,
                    tokenizerKind(tokenizer), tokenizer.vocabSize(), trainTokens, train.rows(), validationTokens,
                    settings.device.isCpu() ? Parallel.numThreads() + " threads" : "device " + settings.device,
                    (System.nanoTime() - loadStart) / 1e9);
            if (settings.resume) {
                System.out.printf(Locale.ROOT, "resuming %s at step %d%n", settings.out, firstStep);
                if (firstStep == settings.steps) {
                    System.out.printf(Locale.ROOT, "the run already reached --steps %d: nothing to train, "
                            + "evaluating it%n", settings.steps);
                }
            }
        }

        /** Trains up to the last step of this invocation, validating and checkpointing as the options say. */
        void trainSteps() throws IOException {
            ProgressBar progress = new ProgressBar(System.out, firstStep, settings.steps, 10);
            long start = System.nanoTime();
            model.train();
            // Each step's activations and gradients reuse the memory of the step before.
            Workspace workspace = new Workspace("training step");
            try {
                for (int step = firstStep; step < settings.lastStep(); step++) {
                    StepResult result = trainStep(step, workspace);
                    trainLoss.add(result.loss());
                    double seconds = (System.nanoTime() - start) / 1e9;
                    double tokensPerSecond = (step + 1.0 - firstStep) * settings.accumulate * train.rows()
                            * model.config().context() / seconds;
                    progress.update(step + 1, String.format(Locale.ROOT,
                            "loss %.3f | grad norm %.2f | lr %.2e | %,.0f tok/s", result.loss(), result.gradientNorm(),
                            optimizer.learningRate(), tokensPerSecond));
                    if ((step + 1) % settings.evalEvery == 0 || step + 1 == settings.steps) {
                        progress.interrupt();
                        validate(step + 1);
                    }
                    if (step + 1 == settings.lastStep()
                            || (settings.saveEvery > 0 && (step + 1) % settings.saveEvery == 0)) {
                        save(step + 1);
                    }
                }
            } catch (TrainingDiverged e) {
                progress.interrupt(); // the message starts a line of its own
                throw e;
            }
            progress.interrupt();
            model.stopTrackingUsage();
        }

        /**
         * One optimizer step over --accumulate segments of every stream, at the schedule's learning rate; a step
         * whose loss or gradient norm is not finite stops the run before its update.
         */
        private StepResult trainStep(int step, Workspace workspace) {
            optimizer.setLearningRate(schedule.at(step));
            int accumulate = settings.accumulate;
            double loss = 0;
            try (Workspace.Scope scope = workspace.open()) {
                optimizer.zeroGrad();
                for (int micro = 0; micro < accumulate; micro++) {
                    Streams.Segment segment = train.next();
                    if (segment.restarted()) {
                        memory = null;
                    }
                    var output = model.forward(segment.inputs().to(settings.device), memory);
                    Variable l = lossFn.forward(output.logits(), segment.targets().to(settings.device));
                    // The regularisers of the expert layers (zero for a dense model) join the objective.
                    l.add(model.auxLoss()).div(accumulate).backward();
                    memory = model.usesMemory() ? scope.keepAll(output.memory()) : null;
                    loss += l.item() / accumulate;
                }
                // Without --clip the norm is still measured: it is printed, and a NaN in it stops the run.
                double norm = settings.clip > 0
                        ? GradientClipping.clipByGlobalNorm(model.parameters(), settings.clip)
                        : GradientClipping.globalNorm(model.parameters());
                // Before the update: a diverged step leaves the weights of the step before.
                TrainingDiverged.checkStep(model.config().name(), step + 1, loss, norm, divergenceAdvice());
                optimizer.step();
                return new StepResult(loss, norm);
            }
        }

        /** The validation loss after {@code step}, printed and added to the curve; training usage is paused. */
        private void validate(int step) {
            model.stopTrackingUsage();
            Evaluation v = evaluate(model, validation, lossFn, tokenizer);
            TrainingDiverged.checkValidation(model.config().name(), step, v.meanNll(), divergenceAdvice());
            model.trackUsage(trainingUsage);
            validationLoss.add(new double[] {step, v.meanNll()});
            System.out.printf(Locale.ROOT, "step %d: validation loss %.4f (%.3f bits per byte)%n", step, v.meanNll(),
                    v.bitsPerByte());
            model.train();
        }

        /**
         * Writes model, optimizer and trainer state (in that order; see {@link TrainingCheckpoint}), after
         * checking that all of them are finite: a run never saves NaN over its last good checkpoint.
         */
        private void save(int step) throws IOException {
            Map<String, Tensor> optimizerState = optimizer.stateDict();
            Map<String, Tensor> state = trainerTensors();
            TrainingDiverged.checkFinite(optimizerState, "the optimizer state of step " + step + " was not saved");
            TrainingDiverged.checkFinite(state, "the trainer state of step " + step + " was not saved");
            Map<String, String> meta = trainerMetadata(step);
            Path out = settings.out;
            TrainingCheckpoint.saveModel(out, model, tokenizer, tokenizerKind(tokenizer), step);
            SafeTensors.save(out.resolve(TrainingCheckpoint.OPTIMIZER), optimizerState,
                    Map.of("step", Integer.toString(step)));
            SafeTensors.save(out.resolve(TrainingCheckpoint.TRAINER), state, meta);
            savedStep = step;
        }

        /** The memory, the loss curves and the expert usage, as trainer.safetensors holds them. */
        private Map<String, Tensor> trainerTensors() {
            Map<String, Tensor> state = new LinkedHashMap<>();
            for (int i = 0; i < memoryCount(); i++) {
                state.put("memory." + i, memory.get(i));
            }
            double[] losses = trainLoss.stream().mapToDouble(Double::doubleValue).toArray();
            state.put("loss.train", Tensor.of(losses, losses.length));
            double[] vs = validationLoss.stream().mapToDouble(v -> v[0]).toArray();
            double[] vl = validationLoss.stream().mapToDouble(v -> v[1]).toArray();
            state.put("loss.validation.step", Tensor.of(vs, vs.length));
            state.put("loss.validation", Tensor.of(vl, vl.length));
            state.putAll(TrainingCheckpoint.usageState(trainingUsage));
            return state;
        }

        /** Where the run stands after {@code step} (streams, random generator) and the options it was run with. */
        private Map<String, String> trainerMetadata(int step) {
            Generator rng = Generator.defaultGenerator();
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("step", Integer.toString(step));
            meta.put("batch", Integer.toString(train.rows()));
            meta.put("position", Integer.toString(train.position()));
            meta.put("rng.seed", Long.toString(rng.seed()));
            meta.put("rng.offset", Long.toString(rng.offset()));
            meta.put("memory", Integer.toString(memoryCount()));
            meta.put("usage.since", Integer.toString(usageSince));
            settings.runOptions().forEach((name, value) -> meta.put(RUN_OPTION + name, value));
            return meta;
        }

        private int memoryCount() {
            return memory == null ? 0 : memory.size();
        }

        /**
         * After the last step: the loss curve, a sample, the final validation (with the expert usage it makes)
         * and the usage reports.
         */
        void finish() throws IOException {
            if (Drawing.available()) {
                writeLossPlot(settings.out.resolve("loss.png"), trainLoss, validationLoss);
            } else {
                System.out.println("loss.png not written: this Java runtime has no java.desktop module to draw with");
            }
            if (settings.sampler != null) {
                int[] generated = settings.sampler.generate(model.transformer(), samplePrompt, settings.sample,
                        model.config().context(), new Generator(settings.seed + 1));
                System.out.println("sample (prompt from the validation text, then the model):");
                System.out.println(tokenizer.decode(samplePrompt) + tokenizer.decode(generated));
            }
            Map<String, ExpertUsage> validationUsage = model.trackUsage();
            Evaluation last = evaluate(model, validation, lossFn, tokenizer);
            TrainingDiverged.checkValidation(model.config().name(), settings.steps, last.meanNll(), divergenceAdvice());
            model.stopTrackingUsage();
            writeUsageReports(validationUsage);
            System.out.printf(Locale.ROOT, "checkpoint and loss curve in %s%n", settings.out);
            System.out.printf(Locale.ROOT, "validation perplexity %.3f | bits per byte %.4f%n", last.perplexity(),
                    last.bitsPerByte());
        }

        private void writeUsageReports(Map<String, ExpertUsage> validationUsage) throws IOException {
            Path usageDir = settings.out.resolve("usage");
            List<Path> usageFiles = new ArrayList<>(ExpertUsageReport.write(usageDir, "training", trainingUsage));
            usageFiles.addAll(ExpertUsageReport.write(usageDir, "validation", validationUsage));
            if (!usageFiles.isEmpty()) {
                System.out.printf(Locale.ROOT, "expert usage of training steps %d-%d (training-*) and of the final "
                        + "validation (validation-*): %d CSV and PNG files in %s%n", usageSince + 1, settings.steps,
                        usageFiles.size(), usageDir);
            }
        }

        /** The second half of a divergence message: which checkpoint is left, and what to change. */
        private String divergenceAdvice() {
            String left = savedStep < 0 ? "nothing was saved" : "the checkpoint in " + settings.out + " (step "
                    + savedStep + ") is unchanged";
            return left + "; try a lower --lr (now " + settings.lr + ")" + (settings.clip > 0 ? " or a smaller --clip "
                    + "(now " + settings.clip + ")" : " or clipping, e.g. --clip 0.25");
        }
    }

    /** "bpe" or "byte", as checkpoints and messages name a tokenizer. */
    private static String tokenizerKind(Tokenizer tokenizer) {
        return tokenizer instanceof BpeTokenizer ? "bpe" : "byte";
    }

    /**
     * On --resume the model, its sizes and the tokenizer are the checkpoint's. Options that would change them
     * are refused rather than ignored: a run that silently trains another model than the one asked for is
     * worse than a message, and a warning scrolls away in a long log. The same values as saved are accepted.
     */
    private static void refuseChangedModelOptions(Options o, ModelConfig saved, Tokenizer tokenizer, Path out) {
        Map<String, Object> savedValues = new LinkedHashMap<>();
        savedValues.put("model", saved.name());
        savedValues.put("positions", saved.positionEncoding().name().toLowerCase(Locale.ROOT));
        savedValues.put("d-model", saved.dModel());
        savedValues.put("layers", saved.layers());
        savedValues.put("heads", saved.heads());
        savedValues.put("head-dim", saved.dHead());
        savedValues.put("d-ff", saved.dFF());
        savedValues.put("dropout", saved.dropout());
        savedValues.put("context", saved.context());
        savedValues.put("tokenizer", tokenizerKind(tokenizer));
        savedValues.put("vocab", tokenizer.vocabSize());
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, Object> e : savedValues.entrySet()) {
            String name = e.getKey();
            if (!o.has(name)) {
                continue;
            }
            Object given = switch (e.getValue()) {
                case Integer i -> o.getInt(name, i);
                case Double d -> o.getDouble(name, d);
                default -> o.get(name, null);
            };
            if (!given.equals(e.getValue())) {
                changed.add("--" + name + " " + o.get(name, null) + " (saved: " + e.getValue() + ")");
            }
        }
        if (!changed.isEmpty()) {
            throw new IllegalArgumentException("--resume continues the model saved in " + out + " as it is; "
                    + String.join(", ", changed) + " would change it (leave them out, or start a new run in "
                    + "another --out)");
        }
    }

    /**
     * Refuses a model that cannot fit the Java heap: building and training it would end in an
     * OutOfMemoryError after a long wait. On the CPU a parameter holds 16 bytes in training (float32 weight,
     * gradient and AdamW's two moments); on a GPU the heap holds only the weights, while the model is built.
     * The heap suggested is half as much again, for the activations and the data.
     */
    static void requireModelFitsTheHeap(ModelConfig config, long parameters, boolean cpu, long maxHeapBytes) {
        double needed = (cpu ? 16.0 : 4.0) * parameters;
        if (needed > maxHeapBytes) {
            double gib = 1L << 30;
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s with these sizes has %,d parameters: "
                    + "%.1f GiB of %s, more than the Java heap's %.1f GiB; choose smaller sizes or give the JVM more "
                    + "heap, e.g. %s bin/ladon train ...", config.name(), parameters, needed / gib,
                    cpu ? "weights, gradients and AdamW moments" : "weights", maxHeapBytes / gib,
                    Main.javaOptsForHeap(1.5 * needed)));
        }
    }

    /** The corpus and, for messages about a split too short, how each split is made. */
    private record Data(Corpus corpus, String trainingRule, String validationRule) {
    }

    /** The corpus at {@code data} (--data or --text), or Europarl when it is null. */
    private static Data loadCorpus(String data, long maxBytes) throws IOException {
        if (data == null) {
            return new Data(EuroparlCorpus.load(maxBytes), "Europarl's documents but every 20th, of the first "
                    + "--max-bytes " + maxBytes + " bytes read", "Europarl's validation split is every 20th document "
                    + "of the --max-bytes " + maxBytes + " bytes read, about a twentieth of them");
        }
        Path path = Path.of(data);
        if (Files.isDirectory(path)) {
            String limit = " (at most --max-bytes " + maxBytes + " bytes of it)";
            return new Data(WikitextCorpus.load(path, maxBytes), "the training split is wiki.train" + limit,
                    "the validation split is wiki.valid" + limit);
        }
        return new Data(TextFileCorpus.load(path, 0.1, maxBytes), "the training split of " + path.getFileName()
                + " is its first 90% (at most --max-bytes " + maxBytes + " bytes are read)", "the validation split of "
                + path.getFileName() + " is its last 10%, from the first line that starts there: a file of few or "
                + "long lines can leave it short or empty (at most --max-bytes " + maxBytes + " bytes are read)");
    }

    /** The named configuration with the size options of {@code o} applied and the tokenizer's vocabulary. */
    static ModelConfig configFrom(Options o, String name, int vocabSize) {
        ModelConfig.Builder b = ModelConfig.named(name).toBuilder().vocabSize(vocabSize);
        if (o.has("positions")) {
            switch (o.get("positions", "xl")) {
                case "xl" -> b.positionEncoding(ModelConfig.PositionEncoding.XL).memoryBlocks(1);
                case "rope" -> b.positionEncoding(ModelConfig.PositionEncoding.ROPE).memoryBlocks(0);
                default -> throw new IllegalArgumentException("--positions expects xl or rope, got '"
                        + o.get("positions", "") + "'");
            }
        }
        if (o.has("d-model")) {
            b.dModel(o.getInt("d-model", 0));
        }
        if (o.has("layers")) {
            b.layers(o.getInt("layers", 0));
        }
        if (o.has("heads")) {
            b.heads(o.getInt("heads", 0));
        }
        if (o.has("head-dim")) {
            b.dHead(o.getInt("head-dim", 0));
        }
        if (o.has("d-ff")) {
            b.dFF(o.getInt("d-ff", 0));
        }
        if (o.has("dropout")) {
            b.dropout(o.getDouble("dropout", 0));
        }
        if (o.has("context")) {
            b.context(o.getInt("context", 0));
        }
        return b.build();
    }

    /** The options a run was started with, as saved in its trainer metadata (none in older checkpoints). */
    private static Map<String, String> savedRunOptions(Map<String, String> meta) {
        Map<String, String> saved = new LinkedHashMap<>();
        meta.forEach((key, value) -> {
            if (key.startsWith(RUN_OPTION)) {
                saved.put(key.substring(RUN_OPTION.length()), value);
            }
        });
        return saved;
    }

    private static void writeLossPlot(Path png, List<Double> trainLoss, List<double[]> validationLoss)
            throws IOException {
        double[] x = new double[trainLoss.size()];
        double[] y = new double[trainLoss.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = i + 1;
            y[i] = trainLoss.get(i);
        }
        LinePlot plot = new LinePlot("training loss", "step", "loss (nats per token)").series("train", x, y);
        if (!validationLoss.isEmpty()) {
            plot.series("validation", validationLoss.stream().mapToDouble(v -> v[0]).toArray(),
                    validationLoss.stream().mapToDouble(v -> v[1]).toArray());
        }
        plot.write(png, 800, 500);
    }

    /** Summed NLL over the validation targets, their count and their UTF-8 bytes. */
    record Evaluation(double summedNll, long tokens, long bytes) {
        double meanNll() {
            return LanguageModelMetrics.meanNll(summedNll, tokens);
        }

        double perplexity() {
            return LanguageModelMetrics.perplexity(summedNll, tokens);
        }

        double bitsPerByte() {
            return LanguageModelMetrics.bitsPerByte(summedNll, bytes);
        }
    }

    /** Every validation segment, in order, with memory; no dropout, no graph. */
    static Evaluation evaluate(MoeLanguageModel model, Streams validation, CrossEntropyLoss lossFn,
            Tokenizer tokenizer) {
        model.eval();
        Device device = model.transformer().embedding().weight().data().device();
        double total = 0;
        long tokens = 0;
        long bytes = 0;
        List<Tensor> memory = null;
        // Each segment reuses the memory of the one before, as training steps do.
        Workspace workspace = new Workspace("evaluation");
        try (var ng = GradMode.noGrad()) {
            for (Streams.Segment s : validation.all()) {
                try (Workspace.Scope scope = workspace.open()) {
                    var out = model.forward(s.inputs().to(device), memory);
                    long n = s.targets().numel();
                    total += lossFn.forward(out.logits(), s.targets().to(device)).item() * n;
                    tokens += n;
                    for (long id : s.targets().toLongArray()) {
                        bytes += tokenizer instanceof BpeTokenizer bpe ? bpe.tokenBytes((int) id).length : 1;
                    }
                    memory = model.usesMemory() ? scope.keepAll(out.memory()) : null;
                }
            }
        }
        return new Evaluation(total, tokens, bytes);
    }

    /**
     * The tokens cut into {@code rows} equal streams (Transformer-XL's batching): segment k holds positions
     * [k T, (k + 1) T] of every stream, so a segment continues the previous one and the memory stays valid.
     */
    static final class Streams {
        /** Inputs [rows, T] and next-token targets [rows, T]; restarted when it wrapped to the start. */
        record Segment(Tensor inputs, Tensor targets, boolean restarted) {
        }

        private final int[] data;
        private final int rows;
        private final int context;
        private final int length;
        private int position;

        Streams(int[] data, int rows, int context) {
            this(data, rows, context, "text", "");
        }

        /**
         * @param name what the tokens are, for the message when they are too few ("validation text")
         * @param why  how that text is made, appended to that message (empty for nothing)
         */
        Streams(int[] data, int rows, int context, String name, String why) {
            this.data = data;
            this.rows = rows;
            this.context = context;
            this.length = data.length / rows;
            if (length < context + 1) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "the %s is too short: %,d tokens make %d "
                        + "streams of %,d, and each stream needs context + 1 = %d (%,d tokens in all)%s", name,
                        data.length, rows, length, context + 1, (long) rows * (context + 1),
                        why.isEmpty() ? "" : "; " + why));
            }
        }

        /** How many streams are read side by side: the batch. */
        int rows() {
            return rows;
        }

        /** The start of the next segment in every stream (saved in checkpoints). */
        int position() {
            return position;
        }

        void setPosition(int p) {
            position = p;
        }

        Segment next() {
            boolean restarted = position + context + 1 > length;
            if (restarted) {
                position = 0;
            }
            Segment s = segment(position, restarted);
            position += context;
            return s;
        }

        List<Segment> all() {
            int segments = (length - 1) / context;
            java.util.ArrayList<Segment> out = new java.util.ArrayList<>(segments);
            for (int k = 0; k < segments; k++) {
                out.add(segment(k * context, k == 0));
            }
            return out;
        }

        private Segment segment(int at, boolean restarted) {
            long[] in = new long[rows * context];
            long[] target = new long[rows * context];
            for (int r = 0; r < rows; r++) {
                int base = r * length + at;
                for (int t = 0; t < context; t++) {
                    in[r * context + t] = data[base + t];
                    target[r * context + t] = data[base + t + 1];
                }
            }
            return new Segment(Tensor.of(in, rows, context), Tensor.of(target, rows, context), restarted);
        }
    }
}
