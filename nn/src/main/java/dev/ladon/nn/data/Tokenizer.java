package dev.ladon.nn.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns text into token ids and back. Ids are {@code 0 .. vocabSize() - 1}; a language model's embedding
 * and output layers have {@link #vocabSize()} rows.
 *
 * <p>Ladon's tokenizers work on the UTF-8 bytes of the text, so every string can be encoded (no unknown
 * token) and {@code decode(encode(s)).equals(s)} for every string without unpaired surrogate characters
 * (which UTF-8 cannot represent). Implementations are immutable and safe to share between threads.
 *
 * <p>Saved files are UTF-8 text whose first line names the kind: {@code ladon-tokenizer byte 1} or
 * {@code ladon-tokenizer bpe 1}; {@link #load} reads either.
 */
public interface Tokenizer {

    /** The token ids of {@code text}. */
    int[] encode(String text);

    /**
     * The text of {@code ids}. Byte sequences that are not valid UTF-8 on their own (a slice that cuts a
     * character in two) decode to U+FFFD.
     *
     * @throws IllegalArgumentException if an id is outside {@code [0, vocabSize())}
     */
    String decode(int[] ids);

    /** Number of distinct ids. */
    int vocabSize();

    /** Writes this tokenizer to {@code path} (atomically) in the format its class documents. */
    void save(Path path) throws IOException;

    /**
     * Reads a tokenizer written by {@link #save}.
     *
     * @throws IOException if the file cannot be read or is not a Ladon tokenizer file (the message says
     *     which line is wrong)
     */
    static Tokenizer load(Path path) throws IOException {
        String first;
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            first = reader.readLine();
        }
        if (ByteTokenizer.HEADER.equals(first)) {
            return new ByteTokenizer();
        }
        if (BpeTokenizer.HEADER.equals(first)) {
            return BpeTokenizer.load(path);
        }
        if (first == null) {
            throw new IOException("tokenizer file " + path + " is empty; expected its first line to be '"
                    + ByteTokenizer.HEADER + "' or '" + BpeTokenizer.HEADER + "'");
        }
        throw new IOException("tokenizer file " + path + ": first line is '" + first + "', expected '"
                + ByteTokenizer.HEADER + "' or '" + BpeTokenizer.HEADER + "'");
    }
}
