/**
 * Text for language models: {@link dev.ladon.nn.data.Corpus corpora} (the default, Europarl, arrives with
 * the build), {@link dev.ladon.nn.data.Tokenizer tokenizers} (bytes, or byte-level BPE trained by Ladon),
 * {@link dev.ladon.nn.data.TokenDataset batches} of token windows that are reproducible from (seed, step), and
 * the {@link dev.ladon.nn.data.LanguageModelMetrics metrics} (perplexity, bits per byte).
 *
 * <p>A typical pipeline: {@code Corpus c = EuroparlCorpus.load(); Tokenizer t = BpeTokenizer.train(c.train(),
 * 8000); TokenDataset train = new TokenDataset(t.encode(c.train()));} then {@code train.batch(seed, step, B, T)}
 * each step.
 */
package dev.ladon.nn.data;
