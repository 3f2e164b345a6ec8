package dev.ladon.nn.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;

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

    /**
     * The longest prefix of {@code line} (a line without its end) that fits (the whole line when it does),
     * charged with its newline.
     */
    String take(String line) {
        try {
            String kept = nextLine(new BufferedReader(new StringReader(line + "\n")));
            return kept == null ? "" : kept;
        } catch (IOException e) {
            throw new UncheckedIOException("a StringReader cannot fail", e);
        }
    }

    /**
     * The next line of {@code in} without its end ({@code \n}, {@code \r} or {@code \r\n}), cut and charged
     * as {@link #take} would; null at the end of the input or once the allowance is spent. Unlike
     * {@link BufferedReader#readLine} it never holds more of a line than the allowance, so a file that is one
     * endless line ({@code /dev/zero}) costs only the allowance.
     */
    String nextLine(BufferedReader in) throws IOException {
        if (exhausted()) {
            return null;
        }
        int c = in.read();
        if (c < 0) {
            return null;
        }
        StringBuilder line = new StringBuilder();
        long used = 0;
        while (c >= 0 && c != '\n' && c != '\r') {
            // A surrogate pair is one code point of 4 UTF-8 bytes: both halves are taken or neither.
            int low = Character.isHighSurrogate((char) c) ? in.read() : -1;
            int bytes = low >= 0 ? 4 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
            if (used + bytes + 1 > remaining) { // the newline still counts
                remaining = 0;
                return line.toString();
            }
            used += bytes;
            line.append((char) c);
            if (low >= 0) {
                line.append((char) low);
            }
            c = in.read();
        }
        if (c == '\r') {
            in.mark(1);
            if (in.read() != '\n') {
                in.reset();
            }
        }
        remaining -= used + 1;
        return line.toString();
    }
}
