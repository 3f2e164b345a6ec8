package dev.ladon.nn.data;

/**
 * A byte allowance for corpus loaders: lines are taken while UTF-8 bytes remain (each line costs its bytes
 * plus one for its newline), and the line that crosses the limit is cut at a character boundary.
 */
final class TextBudget {
    private long remaining;

    /** {@code maxBytes} of text, or {@link Long#MAX_VALUE} for no limit. */
    TextBudget(long maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("the byte limit of a corpus must be positive, got " + maxBytes);
        }
        this.remaining = maxBytes;
    }

    boolean exhausted() {
        return remaining <= 0;
    }

    /** The longest prefix of {@code line} that fits (the whole line when it does), charged with its newline. */
    String take(String line) {
        long cost = LanguageModelMetrics.utf8Length(line) + 1;
        if (cost <= remaining) {
            remaining -= cost;
            return line;
        }
        long room = remaining - 1; // the newline still counts
        int end = 0;
        long used = 0;
        while (end < line.length()) {
            int cp = line.codePointAt(end);
            int bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (used + bytes > room) {
                break;
            }
            used += bytes;
            end += Character.charCount(cp);
        }
        remaining = 0;
        return line.substring(0, end);
    }
}
