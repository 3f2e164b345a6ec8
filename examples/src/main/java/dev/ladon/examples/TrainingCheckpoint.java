package dev.ladon.examples;

import dev.ladon.moe.ExpertUsage;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.moe.ModelConfig;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.nn.io.CheckpointLayout;
import dev.ladon.nn.io.SafeTensors;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The files of a training run directory, written by {@code bin/ladon train} and read by {@code train --resume}
 * and {@code bin/ladon generate}:
 * <ul>
 *   <li>{@code model.safetensors}: the model's state dict; its metadata holds the {@link ModelConfig} (one key
 *       {@code config.<field>} per record component) and {@code tokenizer} (byte or bpe);</li>
 *   <li>{@code optimizer.safetensors}: the optimizer's state dict;</li>
 *   <li>{@code trainer.safetensors}: the Transformer-XL memory carried into the next step ({@code memory.<i>}),
 *       the loss history, the expert-usage counts of the training steps so far ({@link #usageState}), and
 *       in its metadata the step, the stream position, the default generator's state (dropout masks) and
 *       {@code usage.since}, the steps before the first counted one;</li>
 *   <li>{@code tokenizer.txt}: the tokenizer ({@link Tokenizer#save}).</li>
 * </ul>
 * Every file is written atomically by {@link SafeTensors#save}; the trainer state is written last, so a run
 * killed mid-checkpoint resumes from a consistent older step only if the model and optimizer of that step
 * are still there (they are replaced first): a crash between the writes can mix two steps, which is why the
 * trainer metadata repeats the step and {@link #readStep} is checked against the model's.
 */
final class TrainingCheckpoint {
    static final String MODEL = "model.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String TRAINER = "trainer.safetensors";
    static final String TOKENIZER = "tokenizer.txt";

    private TrainingCheckpoint() {
    }

    /** The config's fields as metadata strings, {@code config.<component>} each. */
    static Map<String, String> configMetadata(ModelConfig config) {
        Map<String, String> out = new LinkedHashMap<>();
        try {
            for (RecordComponent c : ModelConfig.class.getRecordComponents()) {
                Object v = c.getAccessor().invoke(config);
                String text = v instanceof Set<?> set
                        ? set.stream().map(Object::toString).sorted().collect(Collectors.joining())
                        : String.valueOf(v);
                out.put("config." + c.getName(), text);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read ModelConfig fields", e);
        }
        return out;
    }

    /**
     * The config written by {@link #configMetadata}.
     *
     * @throws IllegalArgumentException naming the first missing field
     */
    static ModelConfig configFrom(Map<String, String> metadata) {
        RecordComponent[] components = ModelConfig.class.getRecordComponents();
        Object[] values = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            types[i] = c.getType();
            String text = metadata.get("config." + c.getName());
            if (text == null) {
                throw new IllegalArgumentException("checkpoint metadata lacks config." + c.getName());
            }
            values[i] = parse(c.getType(), text);
        }
        try {
            return ModelConfig.class.getDeclaredConstructor(types).newInstance(values);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot build ModelConfig", e);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object parse(Class<?> type, String text) {
        if (type == int.class) {
            return Integer.parseInt(text);
        } else if (type == double.class) {
            return Double.parseDouble(text);
        } else if (type == String.class) {
            return text;
        } else if (type.isEnum()) {
            return Enum.valueOf((Class<? extends Enum>) type, text);
        } else if (type == Set.class) {
            // The only set field holds projections, written as their letters.
            return text.isEmpty() ? EnumSet.noneOf(ModelConfig.Projection.class)
                    : ModelConfig.Projection.parseSet(text.toLowerCase(Locale.ROOT));
        }
        throw new IllegalStateException("ModelConfig field of unsupported type " + type);
    }

    /**
     * Writes the model (with config and tokenizer kind) and the tokenizer.
     *
     * @throws TrainingDiverged if a weight is NaN or infinite; nothing is written then, so the previous
     *     checkpoint stays whole
     */
    static void saveModel(Path dir, MoeLanguageModel model, Tokenizer tokenizer, String tokenizerKind, long step)
            throws IOException {
        Map<String, Tensor> weights = model.stateDict();
        TrainingDiverged.checkFinite(weights, "the weights of step " + step + " were not saved");
        Files.createDirectories(dir);
        Map<String, String> meta = configMetadata(model.config());
        meta.put("tokenizer", tokenizerKind);
        meta.put("step", Long.toString(step));
        SafeTensors.save(dir.resolve(MODEL), weights, meta);
        tokenizer.save(dir.resolve(TOKENIZER));
    }

    /** A model rebuilt from {@code dir/model.safetensors}: its saved config, then its saved weights. */
    static MoeLanguageModel loadModel(Path dir) throws IOException {
        return loadModel(dir, 0);
    }

    /**
     * As {@link #loadModel(Path)}, built from {@code Generator(seed)} first: the weights are then replaced, but
     * expert layers seed their expert-dropout generators from it, as in the run that wrote the checkpoint.
     */
    static MoeLanguageModel loadModel(Path dir, long seed) throws IOException {
        Path file = dir.resolve(MODEL);
        if (!Files.exists(file)) {
            throw new IOException("no checkpoint: " + file + " does not exist");
        }
        ModelConfig config;
        try {
            config = configFrom(SafeTensors.loadMetadata(file));
        } catch (IllegalArgumentException e) {
            // A field missing, unreadable or out of range: the file's fault, not the command line's.
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        MoeLanguageModel model = LanguageModels.build(config, new Generator(seed));
        Map<String, Tensor> loaded = SafeTensors.load(file);
        CheckpointLayout.requireMatch(model.stateDict(), loaded);
        TrainingDiverged.checkFinite(loaded, "checkpoint " + file + " holds a diverged model");
        model.loadStateDict(loaded);
        return model;
    }

    /**
     * The trackers' statistics as int64 tensors, {@code usage/TRACKER/SELECTOR/counts} [H, E] and
     * {@code usage/TRACKER/SELECTOR/coselection} [H, E, E] (tracker names as {@link MoeLanguageModel#trackUsage()}
     * gives them); empty for a dense model.
     */
    static Map<String, Tensor> usageState(Map<String, ExpertUsage> trackers) {
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (Map.Entry<String, ExpertUsage> e : trackers.entrySet()) {
            for (String selector : e.getValue().selectors()) {
                long[][] counts = e.getValue().counts(selector);
                int heads = counts.length;
                int experts = counts[0].length;
                long[] flatCounts = new long[heads * experts];
                long[] flatCo = new long[heads * experts * experts];
                long[][][] co = e.getValue().coSelection(selector);
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(counts[h], 0, flatCounts, h * experts, experts);
                    for (int x = 0; x < experts; x++) {
                        System.arraycopy(co[h][x], 0, flatCo, (h * experts + x) * experts, experts);
                    }
                }
                String key = "usage/" + e.getKey() + "/" + selector + "/";
                state.put(key + "counts", Tensor.of(flatCounts, heads, experts));
                state.put(key + "coselection", Tensor.of(flatCo, heads, experts, experts));
            }
        }
        return state;
    }

    /**
     * Adds the statistics that {@link #usageState} wrote into {@code state} to {@code trackers} (creating the
     * trackers it names); other entries of {@code state} are ignored. Returns whether there were any.
     */
    static boolean restoreUsage(Map<String, Tensor> state, Map<String, ExpertUsage> trackers) {
        boolean any = false;
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            String[] parts = e.getKey().split("/");
            if (parts.length != 4 || !parts[0].equals("usage") || !parts[3].equals("counts")) {
                continue;
            }
            Tensor counts = e.getValue();
            Tensor co = state.get("usage/" + parts[1] + "/" + parts[2] + "/coselection");
            if (counts.dim() != 2 || co == null || co.numel() != counts.numel() * counts.size(1)) {
                throw new IllegalArgumentException("checkpoint's " + e.getKey() + " " + Shape.str(counts.shape())
                        + " lacks co-selection counts [H, E, E] to match, got "
                        + (co == null ? "none" : Shape.str(co.shape())));
            }
            int heads = counts.size(0);
            int experts = counts.size(1);
            long[] flatCounts = counts.toLongArray();
            long[] flatCo = co.toLongArray();
            long[][] c = new long[heads][experts];
            long[][][] pairs = new long[heads][experts][experts];
            for (int h = 0; h < heads; h++) {
                System.arraycopy(flatCounts, h * experts, c[h], 0, experts);
                for (int x = 0; x < experts; x++) {
                    System.arraycopy(flatCo, (h * experts + x) * experts, pairs[h][x], 0, experts);
                }
            }
            trackers.computeIfAbsent(parts[1], k -> new ExpertUsage()).add(parts[2], c, pairs);
            any = true;
        }
        return any;
    }

    /**
     * {@code dir/tokenizer.txt}, checked against the model it is to feed: its vocabulary must be the model's
     * (a tokenizer from another run would give ids the embedding lacks, or mean other text by them).
     */
    static Tokenizer loadTokenizer(Path dir, ModelConfig config) throws IOException {
        Path file = dir.resolve(TOKENIZER);
        Tokenizer tokenizer = Tokenizer.load(file);
        if (tokenizer.vocabSize() != config.vocabSize()) {
            throw new IOException(String.format(Locale.ROOT, "%s has a vocabulary of %d tokens, but the model in %s "
                    + "was trained on %d: the two files come from different runs", file, tokenizer.vocabSize(),
                    dir.resolve(MODEL), config.vocabSize()));
        }
        return tokenizer;
    }

    /** The step recorded in {@code file}'s metadata. */
    static long readStep(Path file) throws IOException {
        return metadataNumber(SafeTensors.loadMetadata(file), "step", file);
    }

    /**
     * The integer under {@code key} in the metadata of {@code file}.
     *
     * @throws IOException naming the file and the key when it is missing or not an integer
     */
    static long metadataNumber(Map<String, String> metadata, String key, Path file) throws IOException {
        String value = metadata.get(key);
        if (value == null) {
            throw new IOException(file + " lacks '" + key + "' in its metadata (it was not written by bin/ladon train, "
                    + "or by an older version)");
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IOException(file + ": metadata '" + key + "' is '" + value + "', not an integer");
        }
    }
}
