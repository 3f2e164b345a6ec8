package dev.ladon.nn.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A corpus from one plain UTF-8 text file. Lines are kept as they are (line ends become {@code \n}).
 *
 * <p>Split rule: the file is read (up to a byte limit, see {@link TextBudget}: the line crossing the limit is
 * cut), then the last lines form the validation text: validation starts at the first line that begins at or
 * after byte {@code (1 - validationFraction) * total}. There is no test text.
 */
public final class TextFileCorpus {
    private TextFileCorpus() {
    }

    /** The whole file; see {@link #load(Path, double, long)}. */
    public static Corpus load(Path file, double validationFraction) throws IOException {
        return load(file, validationFraction, Long.MAX_VALUE);
    }

    /**
     * Reads at most {@code maxBytes} UTF-8 bytes of {@code file} and splits them by the rule above.
     *
     * @throws IllegalArgumentException if {@code validationFraction} is not in [0, 1) or {@code maxBytes <= 0}
     * @throws IOException if the file cannot be read or is not valid UTF-8
     */
    public static Corpus load(Path file, double validationFraction, long maxBytes) throws IOException {
        if (!(validationFraction >= 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("TextFileCorpus: validationFraction must be in [0, 1), got "
                    + validationFraction);
        }
        TextBudget budget = new TextBudget(maxBytes);
        List<String> lines = new ArrayList<>();
        List<Long> startByte = new ArrayList<>();
        long total = 0;
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = budget.nextLine(reader)) != null) {
                lines.add(line);
                startByte.add(total);
                total += LanguageModelMetrics.utf8Length(line) + 1;
            }
        } catch (CharacterCodingException e) {
            // The decoder's own message is only the length of the bad sequence ("Input length = 1"), and the
            // reader decodes ahead of the lines it has returned, so the place is found again byte by byte.
            throw new IOException(file + " is not UTF-8 text: " + firstInvalidUtf8(file), e);
        }
        double boundary = (1 - validationFraction) * total;
        int cut = lines.size();
        while (cut > 0 && startByte.get(cut - 1) >= boundary) {
            cut--;
        }
        String train = joinLines(lines.subList(0, cut));
        String validation = joinLines(lines.subList(cut, lines.size()));
        String name = file.getFileName() + (maxBytes == Long.MAX_VALUE ? "" : " (first " + maxBytes + " bytes)");
        return new Corpus(name, train, validation, "");
    }

    /** Where the first byte sequence that is not UTF-8 starts, as "byte B (line L)", both counted from 1. */
    static String firstInvalidUtf8(Path file) throws IOException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder();
        CharBuffer chars = CharBuffer.allocate(8192);
        ByteBuffer bytes = ByteBuffer.allocate(8192).flip(); // empty: nothing read yet
        long consumed = 0;
        long line = 1;
        try (InputStream in = Files.newInputStream(file)) {
            boolean end = false;
            while (!end) {
                int n = in.read(bytes.array(), bytes.limit(), bytes.capacity() - bytes.limit());
                end = n < 0;
                bytes.limit(bytes.limit() + Math.max(n, 0));
                int before = bytes.position();
                CoderResult r = decoder.decode(bytes, chars, end);
                for (int i = before; i < bytes.position(); i++) {
                    line += bytes.get(i) == '\n' ? 1 : 0;
                }
                consumed += bytes.position() - before;
                if (r.isError()) {
                    return "byte " + (consumed + 1) + " (line " + line + ") starts a sequence that is not UTF-8";
                }
                chars.clear();
                bytes.compact().flip();
            }
        }
        return "the decoder failed, but no invalid sequence was found on a second reading";
    }

    /** Lines each followed by a newline. */
    static String joinLines(List<String> lines) {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l).append('\n');
        }
        return sb.toString();
    }
}
