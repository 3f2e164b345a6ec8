package dev.ladon.examples;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.nn.CrossEntropyLoss;
import dev.ladon.nn.FeedForward;
import dev.ladon.nn.TokenSampler;
import dev.ladon.nn.TransformerConfig;
import dev.ladon.nn.TransformerLM;
import dev.ladon.nn.optim.AdamW;
import dev.ladon.nn.optim.GradientClipping;
import dev.ladon.nn.optim.LearningRateSchedule;
import dev.ladon.nn.optim.ParamGroup;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code bin/ladon train}: trains a dense decoder-only Transformer LM on a text file read as bytes
 * (vocabulary 256), Transformer-XL style: the training bytes are cut into {@code batch} parallel streams
 * and each step reads the next {@code context} bytes of every stream, carrying the memory (XL positions)
 * from one step to the next. AdamW with warm-up and cosine decay, gradient clipping, gradient
 * accumulation. Reports validation loss (in bits per byte) and finally samples text from the model.
 */
final class TrainCommand implements Command {
    @Override
    public String name() {
        return "train";
    }

    @Override
    public String summary() {
        return "train a byte-level Transformer LM (XL or RoPE) on a text file and sample from it";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon train --text FILE [options]
                  --text FILE         UTF-8 text; its bytes are the tokens (the last 10% is the validation set)
                  --positions P       xl (relative, with memory) or rope (default xl)
                  --d-model D         width (default 128)
                  --layers L          blocks (default 2)
                  --heads H           attention heads (default 4)
                  --head-dim K        channels per head (default d-model / heads)
                  --d-ff F            feed-forward width (default 4 * d-model)
                  --dropout P         dropout rate (default 0.1)
                  --context T         tokens per segment (default 64)
                  --batch B           parallel streams per step (default 16)
                  --accumulate N      micro-batches per optimizer step (default 1)
                  --steps S           optimizer steps (default 200)
                  --lr R              peak learning rate (default 1e-3)
                  --warmup W          warm-up steps (default 20)
                  --min-lr R          final learning rate of the cosine (default lr / 10)
                  --weight-decay W    AdamW decay on matrices (default 0)
                  --clip C            gradient clipping by global norm (default 0.25; 0 for none)
                  --eval-every N      validation every N steps (default 100)
                  --sample N          bytes to generate at the end (default 200)
                  --temperature T     sampling temperature (default 0.8; 0 for greedy)
                  --top-k K           sample among the K most likely bytes (default 40)
                  --seed S            initialisation, dropout and sampling seed (default 0)
                  --threads N         CPU threads (default: all cores)""";
    }

    @Override
    public int run(String[] args) throws IOException {
        Options o = new Options(args, "text", "positions", "d-model", "layers", "heads", "head-dim", "d-ff", "dropout",
                "context", "batch", "accumulate", "steps", "lr", "warmup", "min-lr", "weight-decay", "clip", "eval-every",
                "sample", "temperature", "top-k", "seed", "threads");
        if (!o.has("text")) {
            throw new IllegalArgumentException("--text FILE is required");
        }
        if (o.has("threads")) {
            Parallel.setNumThreads(o.getInt("threads", 1));
        }
        int d = o.getInt("d-model", 128);
        int heads = o.getInt("heads", 4);
        TransformerConfig.Positions positions = switch (o.get("positions", "xl")) {
            case "xl" -> TransformerConfig.Positions.XL_RELATIVE;
            case "rope" -> TransformerConfig.Positions.ROPE;
            default -> throw new IllegalArgumentException("--positions expects xl or rope");
        };
        TransformerConfig config = new TransformerConfig(256, d, heads, o.getInt("head-dim", Math.max(1, d / heads)),
                o.getInt("layers", 2), o.getInt("d-ff", 4 * d), o.getDouble("dropout", 0.1), positions, 0.5,
                FeedForward.Activation.RELU, false);
        int context = o.getInt("context", 64);
        int batch = o.getInt("batch", 16);
        int accumulate = o.getInt("accumulate", 1);
        int steps = o.getInt("steps", 200);
        double lr = o.getDouble("lr", 1e-3);
        double clip = o.getDouble("clip", 0.25);
        int evalEvery = o.getInt("eval-every", 100);
        long seed = o.getLong("seed", 0);
        if (context < 1 || batch < 1 || accumulate < 1 || steps < 1 || evalEvery < 1) {
            throw new IllegalArgumentException("--context, --batch, --accumulate, --steps and --eval-every must be positive");
        }

        byte[] text = Files.readAllBytes(Path.of(o.get("text", "")));
        int split = (int) (text.length * 0.9);
        Streams train = new Streams(Arrays.copyOfRange(text, 0, split), batch, context);
        Streams validation = new Streams(Arrays.copyOfRange(text, split, text.length), Math.min(batch, 4), context);

        Generator.manualSeed(seed);
        TransformerLM model = new TransformerLM(config, new Generator(seed));
        AdamW optimizer = new AdamW(ParamGroup.decayMatricesOnly(model, o.getDouble("weight-decay", 0)), lr);
        LearningRateSchedule schedule = LearningRateSchedule.cosine(lr, o.getInt("warmup", 20), steps,
                o.getDouble("min-lr", lr / 10));
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        System.out.printf(Locale.ROOT, "model: %s positions, d=%d, %d layers, %d heads x %d, d_ff=%d, %,d parameters%n",
                positions, d, config.layers(), heads, config.headDim(), config.dFF(), model.parameterCount());
        System.out.printf(Locale.ROOT, "data: %,d training bytes in %d streams, %,d validation bytes; %d threads%n",
                split, batch, text.length - split, Parallel.numThreads());

        ProgressBar progress = new ProgressBar(System.out, 0, steps, 10);
        List<Tensor> memory = null;
        long start = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            optimizer.setLearningRate(schedule.at(step));
            optimizer.zeroGrad();
            double loss = 0;
            for (int micro = 0; micro < accumulate; micro++) {
                Streams.Segment segment = train.next();
                if (segment.restarted()) {
                    memory = null;
                }
                TransformerLM.Output out = model.forward(segment.inputs(), memory);
                Variable l = lossFn.forward(out.logits(), segment.targets());
                l.div(accumulate).backward();
                memory = model.usesMemory() ? out.memory() : null;
                loss += l.item() / accumulate;
            }
            double norm = clip > 0 ? GradientClipping.clipByGlobalNorm(model.parameters(), clip) : Double.NaN;
            optimizer.step();
            double seconds = (System.nanoTime() - start) / 1e9;
            double tokensPerSecond = (step + 1.0) * accumulate * batch * context / seconds;
            progress.update(step + 1, String.format(Locale.ROOT, "loss %.3f | grad norm %.2f | lr %.2e | %,.0f tok/s",
                    loss, norm, optimizer.learningRate(), tokensPerSecond));
            if ((step + 1) % evalEvery == 0 || step + 1 == steps) {
                progress.interrupt();
                double v = evaluate(model, validation, lossFn);
                System.out.printf(Locale.ROOT, "step %d: validation loss %.4f (%.3f bits per byte)%n", step + 1, v,
                        v / Math.log(2));
                model.train();
            }
        }

        int sample = o.getInt("sample", 200);
        if (sample > 0) {
            TokenSampler sampler = new TokenSampler(o.getDouble("temperature", 0.8), o.getInt("top-k", 40));
            byte[] promptBytes = Arrays.copyOfRange(text, split, Math.min(text.length, split + 32));
            int[] prompt = new int[Math.max(1, promptBytes.length)];
            for (int i = 0; i < promptBytes.length; i++) {
                prompt[i] = promptBytes[i] & 0xff;
            }
            int[] generated = sampler.generate(model, prompt, sample, context, new Generator(seed + 1));
            byte[] out = new byte[prompt.length + generated.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (byte) (i < prompt.length ? prompt[i] : generated[i - prompt.length]);
            }
            System.out.println("sample (prompt from the validation text, then the model):");
            System.out.println(new String(out, StandardCharsets.UTF_8));
        }
        return 0;
    }

    /** Mean loss over every validation segment, in order, with memory; no dropout, no graph. */
    private static double evaluate(TransformerLM model, Streams validation, CrossEntropyLoss lossFn) {
        model.eval();
        double total = 0;
        int count = 0;
        List<Tensor> memory = null;
        try (var ng = GradMode.noGrad()) {
            for (Streams.Segment s : validation.all()) {
                TransformerLM.Output out = model.forward(s.inputs(), memory);
                total += lossFn.forward(out.logits(), s.targets()).item();
                count++;
                memory = model.usesMemory() ? out.memory() : null;
            }
        }
        return total / Math.max(count, 1);
    }

    /**
     * The bytes cut into {@code rows} equal streams (Transformer-XL's batching): segment k holds positions
     * [k T, (k + 1) T] of every stream, so a segment continues the previous one and the memory stays valid.
     */
    static final class Streams {
        /** Inputs [rows, T] and next-byte targets [rows, T]; restarted when it wrapped to the start. */
        record Segment(Tensor inputs, Tensor targets, boolean restarted) {
        }

        private final byte[] data;
        private final int rows;
        private final int context;
        private final int length;
        private int position;

        Streams(byte[] data, int rows, int context) {
            this.data = data;
            this.rows = rows;
            this.context = context;
            this.length = data.length / rows;
            if (length < context + 1) {
                throw new IllegalArgumentException("text too short: " + data.length + " bytes give " + rows
                        + " streams of " + length + " bytes, fewer than context + 1 = " + (context + 1));
            }
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
                    in[r * context + t] = data[base + t] & 0xff;
                    target[r * context + t] = data[base + t + 1] & 0xff;
                }
            }
            return new Segment(Tensor.of(in, rows, context), Tensor.of(target, rows, context), restarted);
        }
    }
}
