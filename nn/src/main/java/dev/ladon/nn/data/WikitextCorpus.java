package dev.ladon.nn.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The WikiText language-modelling benchmark (Merity et al., 2016; WikiText-2 and WikiText-103 share the
 * layout) from a directory holding {@code wiki.train.tokens}, {@code wiki.valid.tokens} and
 * {@code wiki.test.tokens}, or the raw variants {@code wiki.train.raw}, {@code wiki.valid.raw},
 * {@code wiki.test.raw}. Ladon does not download it.
 *
 * <p>The files are read as text lines, unchanged: the tokenized variant keeps its word-level spacing
 * ({@code " @-@ "}, {@code " @,@ "}, {@code "<unk>"}, headings like {@code " = Title = "}), so a Ladon
 * tokenizer sees exactly the published text. The splits are the published ones.
 */
public final class WikitextCorpus {
    private WikitextCorpus() {
    }

    /** All of each split; WikiText-103's training file is about 540 MB, see {@link #load(Path, long)}. */
    public static Corpus load(Path dir) throws IOException {
        return load(dir, Long.MAX_VALUE);
    }

    /**
     * Reads at most {@code maxBytesPerSplit} UTF-8 bytes from each split (whole lines; the line crossing the
     * limit is cut at a character boundary). The {@code .tokens} files are used when present, else the
     * {@code .raw} ones.
     *
     * @throws IOException if a split file is missing (the message lists the names looked for) or unreadable
     */
    public static Corpus load(Path dir, long maxBytesPerSplit) throws IOException {
        String variant = Files.exists(dir.resolve("wiki.train.tokens")) ? "tokens" : "raw";
        String train = readSplit(dir, "train", variant, maxBytesPerSplit);
        String valid = readSplit(dir, "valid", variant, maxBytesPerSplit);
        String test = readSplit(dir, "test", variant, maxBytesPerSplit);
        String name = "wikitext " + dir.getFileName() + " (." + variant + ")"
                + (maxBytesPerSplit == Long.MAX_VALUE ? "" : ", first " + maxBytesPerSplit + " bytes per split");
        return new Corpus(name, train, valid, test);
    }

    private static String readSplit(Path dir, String split, String variant, long maxBytes) throws IOException {
        Path file = dir.resolve("wiki." + split + "." + variant);
        if (!Files.isRegularFile(file)) {
            throw new IOException("WikiText: " + file + " not found (expected wiki.{train,valid,test}.tokens or "
                    + "wiki.{train,valid,test}.raw in " + dir + ")");
        }
        TextBudget budget = new TextBudget(maxBytes);
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = budget.nextLine(reader)) != null) {
                lines.add(line);
            }
        } catch (CharacterCodingException e) {
            throw new IOException("WikiText: " + file + " is not UTF-8 text: "
                    + TextFileCorpus.firstInvalidUtf8(file), e);
        }
        return TextFileCorpus.joinLines(lines);
    }
}
