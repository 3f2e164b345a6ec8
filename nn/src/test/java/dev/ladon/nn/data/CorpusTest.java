package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    @TempDir
    Path dir;

    private static long utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    // ---- plain text files ----------------------------------------------------------------------------

    @Test
    void textFileValidationIsTheLinesStartingInTheLastFraction() throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            lines.add(String.format("line %04d", i)); // 9 bytes + newline: line i starts at byte 10 * i
        }
        Path f = dir.resolve("t.txt");
        Files.write(f, lines, StandardCharsets.UTF_8);
        Corpus c = TextFileCorpus.load(f, 0.2);
        // 100 bytes; validation starts at the first line beginning at or after byte 80: lines 8 and 9.
        assertThat(c.train()).isEqualTo(String.join("\n", lines.subList(0, 8)) + "\n");
        assertThat(c.validation()).isEqualTo("line 0008\nline 0009\n");
        assertThat(c.test()).isEmpty();

        Corpus none = TextFileCorpus.load(f, 0.0);
        assertThat(none.validation()).isEmpty();
        assertThat(none.train()).isEqualTo(String.join("\n", lines) + "\n");
    }

    @Test
    void textFileByteLimitCutsAtACharacterBoundary() throws IOException {
        Path f = dir.resolve("u.txt");
        Files.writeString(f, "ab\nééé\nlast\n", StandardCharsets.UTF_8);
        // "ab\n" costs 3; 5 bytes leave 2, of which the newline takes 1: one byte cannot hold 'é' (2 bytes).
        Corpus c = TextFileCorpus.load(f, 0.0, 5);
        assertThat(c.train()).isEqualTo("ab\n\n");
        Corpus d = TextFileCorpus.load(f, 0.0, 6);
        assertThat(d.train()).isEqualTo("ab\né\n");
    }

    @Test
    void anEndlessLineIsReadOnlyAsFarAsTheByteLimit() throws IOException {
        // A reader that never ends and never sends a newline, like /dev/zero: counting what was read.
        long[] served = {0};
        Reader endless = new Reader() {
            @Override
            public int read(char[] buffer, int offset, int length) {
                java.util.Arrays.fill(buffer, offset, offset + length, 'z');
                served[0] += length;
                return length;
            }

            @Override
            public void close() {
            }
        };
        TextBudget budget = new TextBudget(100_000);
        BufferedReader in = new BufferedReader(endless);
        // 100,000 bytes: 99,999 of text and the newline the cut line is still charged with.
        assertThat(budget.nextLine(in)).isEqualTo("z".repeat(99_999));
        assertThat(budget.nextLine(in)).isNull();
        assertThat(served[0]).isLessThan(100_000 + 2 * 8192); // the buffer reads ahead, by a buffer at most
    }

    @Test
    void linesEndAtNewlineReturnOrBothAndNeverSplitACharacter() throws IOException {
        TextBudget budget = new TextBudget(Long.MAX_VALUE);
        BufferedReader in = new BufferedReader(new StringReader("a\nb\r\nc\rd"));
        List<String> lines = new ArrayList<>();
        for (String line; (line = budget.nextLine(in)) != null; ) {
            lines.add(line);
        }
        assertThat(lines).containsExactly("a", "b", "c", "d");
        // "\uD83D\uDE00" is one 4-byte character: 4 bytes leave 3 after the newline, too few, so none of it.
        TextBudget four = new TextBudget(4);
        assertThat(four.nextLine(new BufferedReader(new StringReader("\uD83D\uDE00x")))).isEmpty();
        TextBudget five = new TextBudget(5);
        assertThat(five.nextLine(new BufferedReader(new StringReader("\uD83D\uDE00x")))).isEqualTo("\uD83D\uDE00");
    }

    @Test
    void aOneLineFileLongerThanTheLimitGivesTheLimitsWorth() throws IOException {
        Path f = dir.resolve("one-line.txt");
        Files.writeString(f, "word ".repeat(50_000), StandardCharsets.UTF_8); // 250,000 bytes, no newline
        Corpus c = TextFileCorpus.load(f, 0.1, 1000);
        // One line: validation would start at a line beginning in the last 10%, and there is none.
        assertThat(c.train()).hasSize(1000);
        assertThat(c.validation()).isEmpty();
    }

    @Test
    void textFileRejectsInvalidUtf8AndBadFractions() throws IOException {
        Path f = dir.resolve("bad.txt");
        Files.write(f, new byte[] {'a', (byte) 0xC3, '\n'});
        assertThatThrownBy(() -> TextFileCorpus.load(f, 0.1)).isInstanceOf(IOException.class)
                .hasMessage(f + " is not UTF-8 text: byte 2 (line 1) starts a sequence that is not UTF-8");
        Path later = dir.resolve("later.txt");
        Files.write(later, new byte[] {'o', 'k', '\n', 'a', 'l', 's', 'o', '\n', (byte) 0xFF, '\n'});
        assertThatThrownBy(() -> TextFileCorpus.load(later, 0.1))
                .hasMessageEndingWith("byte 9 (line 3) starts a sequence that is not UTF-8");
        // Far into a file, past the reader's first buffer: found all the same.
        Path far = dir.resolve("far.txt");
        byte[] big = "0123456789\n".repeat(2000).getBytes(StandardCharsets.UTF_8);
        byte[] bad = java.util.Arrays.copyOf(big, big.length + 2);
        bad[big.length] = (byte) 0xE2; // a 3-byte lead cut short by the newline after it
        bad[big.length + 1] = '\n';
        Files.write(far, bad);
        assertThatThrownBy(() -> TextFileCorpus.load(far, 0.1))
                .hasMessageEndingWith("byte " + (big.length + 1) + " (line 2001) starts a sequence that is not UTF-8");
        assertThatThrownBy(() -> TextFileCorpus.load(f, 1.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[0, 1)");
    }

    // ---- WikiText --------------------------------------------------------------------------------

    @Test
    void wikitextReadsThePublishedSplitsUnchanged() throws IOException {
        String train = " \n = Valkyria Chronicles = \n \n Senjō no Valkyria 3 : 1 @,@ 000 <unk> @-@ style\n";
        Files.writeString(dir.resolve("wiki.train.tokens"), train, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("wiki.valid.tokens"), " = Valid = \n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("wiki.test.tokens"), " = Test = \n", StandardCharsets.UTF_8);
        Corpus c = WikitextCorpus.load(dir);
        assertThat(c.train()).isEqualTo(train);
        assertThat(c.validation()).isEqualTo(" = Valid = \n");
        assertThat(c.test()).isEqualTo(" = Test = \n");
        assertThat(c.name()).contains(".tokens");

        Corpus limited = WikitextCorpus.load(dir, 10);
        assertThat(utf8(limited.train())).isLessThanOrEqualTo(10);
        // " \n" costs 2 bytes; of the 8 left, the cut line's newline takes 1.
        assertThat(limited.train()).isEqualTo(" \n = Valk\n");
    }

    @Test
    void wikitextNamesTheSplitThatIsNotUtf8() throws IOException {
        Files.writeString(dir.resolve("wiki.train.tokens"), " = A = \n", StandardCharsets.UTF_8);
        Files.write(dir.resolve("wiki.valid.tokens"), new byte[] {' ', 'b', (byte) 0x80, '\n'});
        Files.writeString(dir.resolve("wiki.test.tokens"), " c \n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> WikitextCorpus.load(dir)).isInstanceOf(IOException.class).hasMessage("WikiText: "
                + dir.resolve("wiki.valid.tokens") + " is not UTF-8 text: byte 3 (line 1) starts a sequence that is"
                + " not UTF-8");
    }

    @Test
    void wikitextFallsBackToRawFilesAndNamesMissingOnes() throws IOException {
        Files.writeString(dir.resolve("wiki.train.raw"), "Raw text, 1,000 words.\n");
        Files.writeString(dir.resolve("wiki.valid.raw"), "v\n");
        assertThatThrownBy(() -> WikitextCorpus.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("wiki.test.raw not found");
        Files.writeString(dir.resolve("wiki.test.raw"), "t\n");
        Corpus c = WikitextCorpus.load(dir);
        assertThat(c.train()).isEqualTo("Raw text, 1,000 words.\n");
        assertThat(c.name()).contains(".raw");
    }

    // ---- Europarl --------------------------------------------------------------------------------

    private static ByteArrayInputStream lineFile(int documents) {
        StringBuilder sb = new StringBuilder("FIELDS_HEADER_INDICATOR###\ttitle\tdate\tbody\n");
        for (int i = 0; i < documents; i++) {
            sb.append("Title ").append(i).append("\t2004-03-30\tDocument ").append(i).append(" über   x\n");
        }
        return new ByteArrayInputStream(sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void europarlKeepsTheTextFieldAndSendsEvery20thDocumentToValidation() throws IOException {
        Corpus c = EuroparlCorpus.read(lineFile(45), Long.MAX_VALUE, "test");
        StringBuilder train = new StringBuilder();
        StringBuilder validation = new StringBuilder();
        for (int i = 0; i < 45; i++) {
            String doc = "Document " + i + " über   x\n";
            (i % 20 == 19 ? validation : train).append(doc);
        }
        assertThat(c.train()).isEqualTo(train.toString());
        assertThat(c.validation()).isEqualTo("Document 19 über   x\nDocument 39 über   x\n");
        assertThat(c.test()).isEmpty();
    }

    @Test
    void europarlStopsAtTheByteLimit() throws IOException {
        // Each document costs 21 bytes ("Document 1 über   x" is 20 bytes with the 2-byte 'ü', plus '\n'):
        // two whole documents leave 8 bytes, 7 for text and 1 for the newline.
        Corpus c = EuroparlCorpus.read(lineFile(45), 50, "test");
        assertThat(c.train()).isEqualTo("Document 0 über   x\nDocument 1 über   x\nDocumen\n");
        assertThat(utf8(c.train() + c.validation())).isEqualTo(50);
    }

    @Test
    void europarlRejectsLinesWithoutThreeFields() {
        ByteArrayInputStream bad = new ByteArrayInputStream("a\tb\tc\nno tabs here\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> EuroparlCorpus.read(bad, Long.MAX_VALUE, "bad"))
                .isInstanceOf(IOException.class).hasMessageContaining("line 2");
    }

    @Test
    void europarlResourceComesFromTheClassPath() throws IOException {
        Corpus c = EuroparlCorpus.load(200_000);
        long total = utf8(c.train()) + utf8(c.validation());
        assertThat(total).isBetween(200_000L - 3, 200_000L); // the last document is cut at a character boundary
        assertThat(c.validation()).isNotEmpty();
        assertThat(c.train()).doesNotContain("\t");
        // Not only English: letters with diacritics occur within the first 200 kB.
        assertThat(c.train() + c.validation()).containsPattern("[äöüéèàçñ]");
        assertThat(c.name()).contains("200000");
    }
}
