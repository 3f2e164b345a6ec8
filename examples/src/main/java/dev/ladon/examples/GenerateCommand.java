package dev.ladon.examples;

import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.nn.TokenSampler;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import java.io.IOException;
import java.nio.file.Path;

/**
 * {@code bin/ladon generate}: loads a run directory written by {@code bin/ladon train} (the model rebuilt from
 * its saved configuration, then its weights, and the saved tokenizer) and continues a prompt by sampling.
 */
final class GenerateCommand implements Command {
    /** The most tokens one generation (or train's --sample) may ask for: about an hour at CPU speeds. */
    static final int MAX_TOKENS = 1_000_000;

    @Override
    public String name() {
        return "generate";
    }

    @Override
    public String summary() {
        return "sample text from a checkpoint written by train";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon generate --checkpoint DIR [options]
                  --checkpoint DIR    run directory of bin/ladon train (model.safetensors, tokenizer.txt)
                  --prompt TEXT       text to continue (default: a newline)
                  --tokens N          tokens to generate (default 200, at most 1000000)
                  --temperature T     sampling temperature (default 0.8; 0 for greedy)
                  --top-k K           sample among the K most likely tokens (default 40; 0 for all)
                  --seed S            sampling seed (default 0)
                  --device D          cpu, cuda or cuda:N (default cpu)
                prints the prompt followed by the generated text""";
    }

    @Override
    public int run(String[] args) throws IOException {
        Options o = new Options(args, "checkpoint", "prompt", "tokens", "temperature", "top-k", "seed", "device");
        if (!o.has("checkpoint")) {
            throw new IllegalArgumentException("--checkpoint DIR is required");
        }
        Path dir = Path.of(o.getNonEmpty("checkpoint", null));
        int tokens = o.getInt("tokens", 200, 0, MAX_TOKENS);
        TokenSampler sampler = sampler(o);
        System.out.println(generate(dir, o.get("prompt", "\n"), tokens, sampler, o.getLong("seed", 0), o.device()));
        return 0;
    }

    /** The sampler of --temperature (default 0.8, 0 for greedy) and --top-k (default 40, 0 for all), checked. */
    static TokenSampler sampler(Options o) {
        return new TokenSampler(o.getNonNegativeDouble("temperature", 0.8), o.getNonNegativeInt("top-k", 40));
    }

    /** The prompt followed by {@code tokens} tokens sampled at {@code temperature} among the {@code topK} likeliest. */
    static String generate(Path dir, String prompt, int tokens, double temperature, int topK, long seed, Device device)
            throws IOException {
        return generate(dir, prompt, tokens, new TokenSampler(temperature, topK), seed, device);
    }

    /** The prompt followed by {@code tokens} tokens of {@code sampler}, decoded, by the model on {@code device}. */
    static String generate(Path dir, String prompt, int tokens, TokenSampler sampler, long seed, Device device)
            throws IOException {
        MoeLanguageModel model = TrainingCheckpoint.loadModel(dir);
        model.to(device);
        Tokenizer tokenizer = TrainingCheckpoint.loadTokenizer(dir, model.config());
        int[] ids = tokenizer.encode(prompt.isEmpty() ? "\n" : prompt);
        int[] generated = sampler.generate(model.transformer(), ids, tokens, model.config().context(),
                new Generator(seed));
        return tokenizer.decode(ids) + tokenizer.decode(generated);
    }
}
