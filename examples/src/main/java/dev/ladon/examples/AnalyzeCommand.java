package dev.ladon.examples;

import dev.ladon.moe.ModelConfig;
import dev.ladon.nn.data.ByteTokenizer;
import dev.ladon.nn.data.Corpus;
import dev.ladon.nn.data.EuroparlCorpus;
import dev.ladon.nn.data.TokenDataset;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code bin/ladon analyze}: expert-usage analysis of one model. Trains the named model in this process
 * (the same recipe as {@code compare}), runs the validation tokens with usage tracking, prints per layer,
 * selector and head the normalised entropy of the expert choice, and writes the CSV files and heatmaps of
 * {@link ExpertUsageReport}. Loading a checkpoint written by {@code train} is not implemented: no checkpoint
 * format existed on main when this was written.
 */
final class AnalyzeCommand implements Command {
    @Override
    public String name() {
        return "analyze";
    }

    @Override
    public String summary() {
        return "train one expert model briefly and write its expert-usage statistics (CSV, PNG heatmaps)";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon analyze [options]
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
                  --out DIR           output directory (default runs/analyze)
                (analysing a checkpoint directory written by train is not supported yet)""";
    }

    @Override
    public int run(String[] args) throws IOException {
        Options o = new Options(args, "model", "steps", "batch", "context", "lr", "eval-tokens", "corpus-bytes", "seed",
                "device", "threads", "out");
        if (o.positional() != null) {
            throw new IllegalArgumentException("checkpoint directories are not supported yet (" + o.positional()
                    + "); use --model NAME to train one in this process");
        }
        if (o.has("threads")) {
            Parallel.setNumThreads(o.getInt("threads", 1));
        }
        int steps = o.getInt("steps", 100);
        CompareCommand.Settings s = new CompareCommand.Settings(steps, o.getInt("batch", 16), o.getInt("context", 64),
                o.getLong("seed", 0), o.getDouble("lr", 2e-3), Math.max(1, steps / 10), 0.25,
                o.getInt("eval-tokens", 32768), Device.parse(o.get("device", "cpu")));
        if (s.steps() < 1 || s.batch() < 1 || s.context() < 1 || s.evalTokens() < 1) {
            throw new IllegalArgumentException("--steps, --batch, --context and --eval-tokens must be positive");
        }
        String modelName = o.get("model", "switchhead-small");
        ByteTokenizer tokenizer = new ByteTokenizer();
        ModelConfig config = ModelConfig.named(modelName).toBuilder().context(s.context())
                .vocabSize(tokenizer.vocabSize()).build();
        if (!config.variant().expertAttention() && !config.variant().expertFeedForward()) {
            throw new IllegalArgumentException("--model " + modelName + " has no experts to analyse");
        }
        Path out = Path.of(o.get("out", "runs/analyze"));
        Corpus corpus = EuroparlCorpus.load(o.getLong("corpus-bytes", EuroparlCorpus.DEFAULT_MAX_BYTES));
        TokenDataset train = new TokenDataset(tokenizer.encode(corpus.train()));
        int[] v = tokenizer.encode(corpus.validation());
        TokenDataset validation = new TokenDataset(Arrays.copyOf(v, Math.min(v.length, s.evalTokens() + 1)));
        CompareCommand.Result r = CompareCommand.trainAndEvaluate(config, train, validation, s, System.out);
        System.out.println("normalised entropy of the expert choice (1 = perfectly balanced):");
        for (ExpertUsageReport.Row row : ExpertUsageReport.rows(r.usage())) {
            System.out.printf(Locale.ROOT, "  %-22s %-12s head %d: %.3f%n", row.layer(), row.selector(), row.head(),
                    row.entropy() / Math.log(row.counts().length));
        }
        List<Path> files = ExpertUsageReport.write(out, config.name(), r.usage());
        files.forEach(f -> System.out.println("wrote " + f));
        return 0;
    }
}
