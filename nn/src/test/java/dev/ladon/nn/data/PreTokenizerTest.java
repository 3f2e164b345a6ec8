package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {

    private static List<String> pieces(String text) {
        List<String> out = new ArrayList<>();
        PreTokenizer.split(text, (start, end) -> out.add(text.substring(start, end)));
        return out;
    }

    @Test
    void wordsTakeOneLeadingSpaceAndPunctuationStandsApart() {
        assertThat(pieces("Hello, world!")).containsExactly("Hello", ",", " world", "!");
        assertThat(pieces("a  b\n")).containsExactly("a", " ", " b", "\n");
        assertThat(pieces("x=42.5 über")).containsExactly("x", "=", "42", ".", "5", " über");
        assertThat(pieces("\n\nfoo\tbar")).containsExactly("\n\n", "foo", "\t", "bar");
        assertThat(pieces(" ")).containsExactly(" ");
        assertThat(pieces("")).isEmpty();
    }

    @Test
    void combiningMarksAndSupplementaryCharactersStayInTheirWord() {
        String decomposed = "cafe\u0301 \uD835\uDC00bc 日本語 😀!";
        assertThat(pieces(decomposed)).containsExactly("cafe\u0301", " \uD835\uDC00bc", " 日本語", " 😀!");
    }

    @Test
    void piecesConcatenateToTheText() {
        Random r = new Random(3);
        String alphabet = "ab é日 \n\t.,9😀-";
        for (int trial = 0; trial < 200; trial++) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(40);
            for (int i = 0; i < n; i++) {
                int cp = alphabet.codePoints().toArray()[r.nextInt((int) alphabet.codePoints().count())];
                sb.appendCodePoint(cp);
            }
            String text = sb.toString();
            List<String> p = pieces(text);
            assertThat(String.join("", p)).isEqualTo(text);
            assertThat(p).allMatch(s -> !s.isEmpty());
        }
    }
}
