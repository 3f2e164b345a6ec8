package dev.ladon.examples;

import dev.ladon.moe.ExpertUsage;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.nn.data.ByteTokenizer;
import dev.ladon.nn.data.Corpus;
import dev.ladon.nn.data.EuroparlCorpus;
import dev.ladon.nn.data.TokenDataset;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.tensor.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/ladon analyze}: expert-usage analysis of one model. Trains the named model in this process
 * (the same recipe as {@code compare}), runs the validation tokens with usage tracking, prints per layer,
 * selector and head the normalised entropy of the expert choice, and writes the CSV files and heatmaps of
 * {@link ExpertUsageReport}. Given a run directory written by {@code train}, it analyses that checkpoint
 * instead: the model is rebuilt from its saved config and weights and run over the validation text with its
 * own tokenizer.
 */
final class AnalyzeCommand implements Command {
    @Override
    public String name() {
        return "analyze";
    }

    @Override
    public String summary() {
        return "expert-usage statistics (CSV, PNG heatmaps) of a train checkpoint, or of a model trained briefly here";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon analyze [CHECKPOINT_DIR] [options]
                  CHECKPOINT_DIR      a run directory written by bin/ladon train (model.safetensors and
                                      tokenizer.txt); without it, --model is trained here first
                  --model NAME        a catalogue configuration (default switchhead-small); see bin/ladon stats
                  --steps S           training steps before the analysis (default 100)
                  --batch B           sequences per step (default 16)
                  --context T         tokens per sequence (default 64)
                  --lr R              peak learning rate (default 2e-3)
                  --eval-tokens N     validation tokens analysed (default 32768)
                  --corpus-bytes N    bytes of Europarl read (default 8388608)
                  --seed S            seed (default 0)
                  --device D          cpu or cuda:N (default cpu)
                  --threads N         CPU threads (default: all cores)
                  --out DIR           output directory (default runs/analyze, or CHECKPOINT_DIR/usage)""";
    }

    @Override
    public int run(String[] args) throws IOException {
        Options o = Options.withPositional(args, "CHECKPOINT_DIR", "model", "steps", "batch", "context", "lr",
                "eval-tokens", "corpus-bytes", "seed", "device", "threads", "out");
        o.applyThreads();
        if (o.positional() != null) {
            return analyzeCheckpoint(Path.of(o.positional()), o);
        }
        CompareCommand.Settings s = CompareCommand.Settings.from(o, 100);
        String modelName = o.get("model", "switchhead-small");
        ByteTokenizer tokenizer = new ByteTokenizer();
        ModelConfig config = ModelConfig.named(modelName).toBuilder().context(s.context())
                .vocabSize(tokenizer.vocabSize()).build();
        if (!config.variant().expertAttention() && !config.variant().expertFeedForward()) {
            throw new IllegalArgumentException("--model " + modelName + " has no experts to analyse");
        }
        Path out = Files.createDirectories(o.outputPath("runs/analyze"));
        Corpus corpus = EuroparlCorpus.load(CompareCommand.corpusBytes(o));
        TokenDataset train = new TokenDataset(tokenizer.encode(corpus.train()));
        int[] v = tokenizer.encode(corpus.validation());
        TokenDataset validation = new TokenDataset(Arrays.copyOf(v, Math.min(v.length, s.evalTokens() + 1)));
        CompareCommand.Result r = CompareCommand.trainAndEvaluate(config, train, validation, s, System.out);
        report(r.usage(), out, config.name());
        return 0;
    }

    /** Runs a saved model over the first --eval-tokens validation tokens of Europarl with usage tracking. */
    private static int analyzeCheckpoint(Path dir, Options o) throws IOException {
        o.refuse("applies only when analyze trains a model (without CHECKPOINT_DIR); the checkpoint's model is "
                + "analysed as saved", "model", "steps", "context", "lr", "seed");
        Device device = o.device();
        int batch = o.getPositiveInt("batch", 16);
        int evalTokens = o.getInt("eval-tokens", CompareCommand.DEFAULT_EVAL_TOKENS, 1, Integer.MAX_VALUE - 1);
        long corpusBytes = CompareCommand.corpusBytes(o);
        // Checked before the work, made after the checkpoint is found (the default lies inside it).
        Path out = o.outputPath(dir.resolve("usage").toString());
        MoeLanguageModel model = TrainingCheckpoint.loadModel(dir);
        model.to(device);
        ModelConfig config = model.config();
        if (!config.variant().expertAttention() && !config.variant().expertFeedForward()) {
            throw new IllegalArgumentException("checkpoint " + dir + " holds " + config.name() + ", which has no experts");
        }
        Tokenizer tokenizer = TrainingCheckpoint.loadTokenizer(dir, config);
        CompareCommand.Settings s = new CompareCommand.Settings(1, batch, config.context(), 0, 0, 1, 0, evalTokens,
                device);
        Corpus corpus = EuroparlCorpus.load(corpusBytes);
        int[] v = tokenizer.encode(corpus.validation());
        TokenDataset validation = new TokenDataset(Arrays.copyOf(v, Math.min(v.length, s.evalTokens() + 1)));
        Map<String, ExpertUsage> usage = model.trackUsage();
        CompareCommand.validate(model, validation, s);
        report(usage, out, config.name());
        return 0;
    }

    private static void report(Map<String, ExpertUsage> usage, Path out, String name) throws IOException {
        System.out.println("normalised entropy of the expert choice (1 = perfectly balanced):");
        for (ExpertUsageReport.Row row : ExpertUsageReport.rows(usage)) {
            System.out.printf(Locale.ROOT, "  %-22s %-12s head %d: %.3f%n", row.layer(), row.selector(), row.head(),
                    row.entropy() / Math.log(row.counts().length));
        }
        List<Path> files = ExpertUsageReport.write(out, name, usage);
        files.forEach(f -> System.out.println("wrote " + f));
    }
}
