package dev.ladon.moe;

import dev.ladon.tensor.Generator;

/**
 * Builds the language model of a configuration or of a catalogue name ({@link ModelConfig#names()}), e.g.
 * {@code LanguageModels.build("switchhead-small")}. Variants: dense, SwitchHead, MoA, SwitchAll, sigma-MoE.
 */
public final class LanguageModels {
    private LanguageModels() {
    }

    /** The model of the catalogue entry {@code name}, initialised from {@code gen}. */
    public static MoeLanguageModel build(String name, Generator gen) {
        return MoeLanguageModel.build(ModelConfig.named(name), gen);
    }

    /** The model of {@code config}, initialised from the default generator. */
    public static MoeLanguageModel build(ModelConfig config) {
        return MoeLanguageModel.build(config, Generator.defaultGenerator());
    }

    public static MoeLanguageModel build(ModelConfig config, Generator gen) {
        return MoeLanguageModel.build(config, gen);
    }
}
