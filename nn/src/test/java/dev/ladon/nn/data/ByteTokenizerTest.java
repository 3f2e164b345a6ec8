package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ByteTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void idsAreTheUtf8Bytes() {
        ByteTokenizer t = new ByteTokenizer();
        // 'é' is C3 A9 in UTF-8, '€' is E2 82 AC.
        assertThat(t.encode("aé€")).containsExactly(0x61, 0xC3, 0xA9, 0xE2, 0x82, 0xAC);
        assertThat(t.vocabSize()).isEqualTo(256);
    }

    @Test
    void roundTripsNonAsciiText() {
        ByteTokenizer t = new ByteTokenizer();
        for (String s : new String[] {"", "plain", "Grüße, 世界! 😀\n\ttab", "e\u0301"}) {
            assertThat(t.decode(t.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> new ByteTokenizer().decode(new int[] {65, 256}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id 256 at position 1");
    }

    @Test
    void savesAndLoadsThroughTheTokenizerInterface() throws IOException {
        Path p = dir.resolve("tok.txt");
        new ByteTokenizer().save(p);
        Tokenizer loaded = Tokenizer.load(p);
        assertThat(loaded).isInstanceOf(ByteTokenizer.class);
        assertThat(loaded.encode("ok")).containsExactly('o', 'k');
    }
}
