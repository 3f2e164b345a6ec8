package dev.ladon.nn.data;

/**
 * Cuts text into the pieces that byte-pair merges may not cross, so that a token never spans two words.
 *
 * <p>The rule (GPT-2's idea, without its English contraction cases): a piece is an optional single space
 * followed by a maximal run of characters of one class: letters (with combining marks), digits, or other
 * visible characters (punctuation and symbols). Whitespace that does not directly precede such a run forms
 * pieces of its own, one per maximal run. Examples, with pieces in brackets:
 * <pre>
 *   "Hello, world!"   → [Hello][,][ world][!]
 *   "a  b\n"          → [a][ ][ b][\n]
 *   "x=42.5 über"     → [x][=][42][.][5][ über]
 * </pre>
 * Concatenating the pieces gives back the text.
 */
final class PreTokenizer {
    private static final int WHITESPACE = 0;
    private static final int LETTER = 1;
    private static final int DIGIT = 2;
    private static final int OTHER = 3;

    private PreTokenizer() {
    }

    /** Receives each piece as the char range [start, end) of the text. */
    @FunctionalInterface
    interface PieceSink {
        void piece(int start, int end);
    }

    static void split(CharSequence text, PieceSink sink) {
        int n = text.length();
        int i = 0;
        while (i < n) {
            int start = i;
            if (classOf(Character.codePointAt(text, i)) == WHITESPACE) {
                int j = i;
                while (j < n && classOf(Character.codePointAt(text, j)) == WHITESPACE) {
                    j += Character.charCount(Character.codePointAt(text, j));
                }
                if (j == n || text.charAt(j - 1) != ' ') {
                    sink.piece(start, j);
                    i = j;
                    continue;
                }
                // The run ends in a space and a word follows: that space belongs to the word.
                if (j - 1 > start) {
                    sink.piece(start, j - 1);
                }
                start = j - 1;
                i = j;
            }
            int cls = classOf(Character.codePointAt(text, i));
            while (i < n) {
                int cp = Character.codePointAt(text, i);
                if (classOf(cp) != cls) {
                    break;
                }
                i += Character.charCount(cp);
            }
            sink.piece(start, i);
        }
    }

    private static int classOf(int cp) {
        if (Character.isWhitespace(cp) || Character.isSpaceChar(cp)) {
            return WHITESPACE;
        }
        if (Character.isLetter(cp)) {
            return LETTER;
        }
        int type = Character.getType(cp);
        if (type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK) {
            return LETTER; // accents written as separate code points stay with their letter
        }
        return Character.isDigit(cp) ? DIGIT : OTHER;
    }
}
