package dev.ladon.examples;

import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.moe.ModelConfig;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.nn.io.CheckpointLayout;
import dev.ladon.nn.io.SafeTensors;
import dev.ladon.tensor.Generator;
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
 *       the loss history, and in its metadata the step, the stream position and the default generator's
 *       state (dropout masks);</li>
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

    /** Writes the model (with config and tokenizer kind) and the tokenizer. */
    static void saveModel(Path dir, MoeLanguageModel model, Tokenizer tokenizer, String tokenizerKind, long step)
            throws IOException {
        Files.createDirectories(dir);
        Map<String, String> meta = configMetadata(model.config());
        meta.put("tokenizer", tokenizerKind);
        meta.put("step", Long.toString(step));
        SafeTensors.save(dir.resolve(MODEL), model.stateDict(), meta);
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
        ModelConfig config = configFrom(SafeTensors.loadMetadata(file));
        MoeLanguageModel model = LanguageModels.build(config, new Generator(seed));
        Map<String, Tensor> loaded = SafeTensors.load(file);
        CheckpointLayout.requireMatch(model.stateDict(), loaded);
        model.loadStateDict(loaded);
        return model;
    }

    /** The step recorded in {@code file}'s metadata. */
    static long readStep(Path file) throws IOException {
        String s = SafeTensors.loadMetadata(file).get("step");
        if (s == null) {
            throw new IOException(file + " has no step in its metadata");
        }
        return Long.parseLong(s);
    }
}
