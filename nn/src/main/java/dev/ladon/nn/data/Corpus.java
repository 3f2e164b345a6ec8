package dev.ladon.nn.data;

/**
 * A text corpus split for language modelling. The texts are plain strings; tokenize them with a
 * {@link Tokenizer} and wrap the ids in a {@link TokenDataset}. Loaders: {@link TextFileCorpus},
 * {@link WikitextCorpus}, {@link EuroparlCorpus} (the default, delivered by Maven).
 *
 * @param name       where it came from, for logs (e.g. {@code "europarl (first 8388608 bytes)"})
 * @param train      text to train on
 * @param validation held-out text to evaluate on during training
 * @param test       held-out text for the final evaluation; empty when the source has no test split
 */
public record Corpus(String name, String train, String validation, String test) {
    public Corpus {
        if (name == null || train == null || validation == null || test == null) {
            throw new IllegalArgumentException("Corpus: name and texts must not be null (use \"\" for none)");
        }
    }

    @Override
    public String toString() {
        return "Corpus(" + name + ": train " + LanguageModelMetrics.utf8Length(train) + " B, validation "
                + LanguageModelMetrics.utf8Length(validation) + " B, test "
                + LanguageModelMetrics.utf8Length(test) + " B)";
    }
}
