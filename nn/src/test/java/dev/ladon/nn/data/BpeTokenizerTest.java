package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTokenizerTest {
    @TempDir
    Path dir;

    // ---- a plain reference: recount every pair before every merge ----------------------------------

    /** Words joined by single spaces: the pieces are the first word and " word" for the others. */
    private static List<String> referencePieces(String text) {
        String[] words = text.split(" ", -1);
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < words.length; i++) {
            pieces.add(i == 0 ? words[i] : " " + words[i]);
        }
        return pieces;
    }

    private static List<Integer> bytesOf(String piece) {
        List<Integer> s = new ArrayList<>();
        for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
            s.add(b & 0xFF);
        }
        return s;
    }

    private static List<Integer> applyMerge(List<Integer> s, int a, int b, int id) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            if (i + 1 < s.size() && s.get(i) == a && s.get(i + 1) == b) {
                out.add(id);
                i++;
            } else {
                out.add(s.get(i));
            }
        }
        return out;
    }

    private static List<int[]> referenceTrain(String text, int vocabSize) {
        Map<String, Integer> freq = new LinkedHashMap<>();
        for (String p : referencePieces(text)) {
            freq.merge(p, 1, Integer::sum);
        }
        List<List<Integer>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        freq.forEach((p, c) -> {
            words.add(bytesOf(p));
            counts.add(c);
        });
        List<int[]> merges = new ArrayList<>();
        while (256 + merges.size() < vocabSize) {
            Map<List<Integer>, Long> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<Integer> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairCounts.merge(List.of(s.get(i), s.get(i + 1)), (long) counts.get(w), Long::sum);
                }
            }
            List<Integer> best = null;
            long bestCount = 0;
            for (Map.Entry<List<Integer>, Long> e : pairCounts.entrySet()) {
                List<Integer> p = e.getKey();
                long c = e.getValue();
                boolean better = c > bestCount || (c == bestCount && best != null
                        && (p.get(0) < best.get(0) || (p.get(0).equals(best.get(0)) && p.get(1) < best.get(1))));
                if (better) {
                    best = p;
                    bestCount = c;
                }
            }
            if (best == null) {
                break;
            }
            int id = 256 + merges.size();
            merges.add(new int[] {best.get(0), best.get(1)});
            for (int w = 0; w < words.size(); w++) {
                words.set(w, applyMerge(words.get(w), best.get(0), best.get(1), id));
            }
        }
        return merges;
    }

    private static int[] referenceEncode(String text, List<int[]> merges) {
        List<Integer> out = new ArrayList<>();
        for (String p : referencePieces(text)) {
            List<Integer> s = bytesOf(p);
            for (int k = 0; k < merges.size(); k++) {
                s = applyMerge(s, merges.get(k)[0], merges.get(k)[1], 256 + k);
            }
            out.addAll(s);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Words drawn from a skewed distribution over syllables, some of them multi-byte in UTF-8. */
    private static String randomText(long seed, int words) {
        String[] syllables = {"th", "e", "an", "ré", "жи", "日本", "qu", "x", "é", "o", "ing", "語"};
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < words; w++) {
            if (w > 0) {
                sb.append(' ');
            }
            int n = 1 + r.nextInt(4);
            for (int i = 0; i < n; i++) {
                // min of two draws favours the first syllables, as natural text favours common ones
                sb.append(syllables[Math.min(r.nextInt(syllables.length), r.nextInt(syllables.length))]);
            }
        }
        return sb.toString();
    }

    @Test
    void smallExampleMergesByHand() {
        // "aaabdaaabac": (a,a) occurs 4 times (left to right: aa|a...), so 256 = "aa".
        // Then (256,a) and (a,b) both occur twice; the smaller left id wins: 257 = "ab".
        // Then (256,257) occurs twice: 258 = "aaab".
        BpeTokenizer t = BpeTokenizer.train("aaabdaaabac", 259);
        assertThat(t.vocabSize()).isEqualTo(259);
        assertThat(new String(t.tokenBytes(256), StandardCharsets.UTF_8)).isEqualTo("aa");
        assertThat(new String(t.tokenBytes(257), StandardCharsets.UTF_8)).isEqualTo("ab");
        assertThat(new String(t.tokenBytes(258), StandardCharsets.UTF_8)).isEqualTo("aaab");
        assertThat(t.encode("aaabdaaabac")).containsExactly(258, 'd', 258, 'a', 'c');
    }

    @Test
    void trainingMatchesAFullRecountReference() {
        String text = randomText(1, 3000);
        List<int[]> expected = referenceTrain(text, 256 + 150);
        BpeTokenizer t = BpeTokenizer.train(text, 256 + 150);
        assertThat(t.mergeCount()).isEqualTo(expected.size());
        BpeTokenizer fromReference = BpeTokenizer.fromMerges(
                expected.stream().mapToInt(m -> m[0]).toArray(), expected.stream().mapToInt(m -> m[1]).toArray());
        for (int id = 256; id < t.vocabSize(); id++) {
            assertThat(t.tokenBytes(id)).as("token %d", id).isEqualTo(fromReference.tokenBytes(id));
        }
        // Encoding other text of the same kind: same ids as applying every merge in order.
        String other = randomText(2, 500);
        assertThat(t.encode(other)).containsExactly(referenceEncode(other, expected));
    }

    @Test
    void stopsWhenNoPairIsLeft() {
        BpeTokenizer t = BpeTokenizer.train("ab ab ab", 1000);
        // pieces "ab", " ab": merges (a,b), then (' ', ab); then every piece is one token.
        assertThat(t.mergeCount()).isEqualTo(2);
        assertThat(t.encode("ab ab")).containsExactly(256, 257);
    }

    @Test
    void roundTripsArbitraryTextIncludingUnseenCharacters() {
        BpeTokenizer t = BpeTokenizer.train(randomText(5, 2000) + " Grüße 😀", 256 + 100);
        for (String s : new String[] {"", "Grüße, 世界! 😀\n\ttab  two  spaces", "e\u0301", "日本語жиé",
                "never seen: ΩΨ 𝔘 \u0000 end", randomText(9, 100)}) {
            assertThat(t.decode(t.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void compressesTheTextItWasTrainedOn() {
        String text = randomText(4, 2000);
        BpeTokenizer t = BpeTokenizer.train(text, 256 + 200);
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        assertThat(t.encode(text).length).isLessThan(bytes / 2);
    }

    @Test
    void saveAndLoadGiveTheSameTokenizer() throws IOException {
        String text = randomText(6, 1500);
        BpeTokenizer t = BpeTokenizer.train(text, 256 + 80);
        Path p = dir.resolve("bpe.txt");
        t.save(p);
        Tokenizer loaded = Tokenizer.load(p);
        assertThat(loaded).isInstanceOf(BpeTokenizer.class);
        assertThat(loaded.vocabSize()).isEqualTo(t.vocabSize());
        for (int id = 0; id < t.vocabSize(); id++) {
            assertThat(((BpeTokenizer) loaded).tokenBytes(id)).isEqualTo(t.tokenBytes(id));
        }
        String other = randomText(7, 300);
        assertThat(loaded.encode(other)).containsExactly(t.encode(other));
    }

    @Test
    void loadRejectsMalformedFilesNamingTheLine() throws IOException {
        Path p = dir.resolve("bad.txt");
        Files.writeString(p, "ladon-tokenizer bpe 1\nmerges 2\n97 98\n300 97\n");
        assertThatThrownBy(() -> Tokenizer.load(p)).isInstanceOf(IOException.class)
                .hasMessageContaining("merge 1 joins ids 300 and 97");
        Files.writeString(p, "ladon-tokenizer bpe 1\nmerges 2\n97 98\n");
        assertThatThrownBy(() -> Tokenizer.load(p)).hasMessageContaining("1 merges, but 2 announced");
        Files.writeString(p, "ladon-tokenizer bpe 1\nmerges 1\n97 x\n");
        assertThatThrownBy(() -> Tokenizer.load(p)).hasMessageContaining(":3: not an integer");
        Files.writeString(p, "something else\n");
        assertThatThrownBy(() -> Tokenizer.load(p)).hasMessageContaining("first line is 'something else'");
        Files.writeString(p, "");
        assertThatThrownBy(() -> Tokenizer.load(p)).isInstanceOf(IOException.class)
                .hasMessage("tokenizer file " + p + " is empty; expected its first line to be 'ladon-tokenizer byte 1' "
                        + "or 'ladon-tokenizer bpe 1'");
    }

    @Test
    void decodeRejectsUnknownIds() {
        BpeTokenizer t = BpeTokenizer.train("ab ab", 258);
        assertThatThrownBy(() -> t.decode(new int[] {t.vocabSize()}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside [0, " + t.vocabSize());
    }
}
