package dev.ladon.nn.data;

import dev.ladon.nn.io.AtomicFile;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level byte-pair encoding. Ids 0-255 are the bytes of UTF-8; id {@code 256 + k} is the concatenation
 * of the two tokens joined by merge k. {@link #train} learns the merges from a text; {@link #encode} splits
 * text into pieces by {@link PreTokenizer}'s rule (no token crosses a word boundary), turns each piece into
 * bytes and applies the merges in the order they were learnt.
 *
 * <p>File format (UTF-8 text, one item per line):
 * <pre>
 *   ladon-tokenizer bpe 1
 *   merges M
 *   L R          (M lines: merge k, on line k, joins ids L and R into id 256 + k; L, R &lt; 256 + k)
 * </pre>
 * The vocabulary is implied: {@code vocabSize = 256 + M}, and the bytes of every id follow from the merges.
 * Lines starting with {@code #} are comments.
 */
public final class BpeTokenizer implements Tokenizer {
    static final String HEADER = "ladon-tokenizer bpe 1";

    private final int[] mergeLeft;
    private final int[] mergeRight;
    private final PairRanks ranks;
    private final byte[][] tokenBytes;

    private BpeTokenizer(int[] mergeLeft, int[] mergeRight) {
        this.mergeLeft = mergeLeft;
        this.mergeRight = mergeRight;
        int merges = mergeLeft.length;
        tokenBytes = new byte[256 + merges][];
        for (int b = 0; b < 256; b++) {
            tokenBytes[b] = new byte[] {(byte) b};
        }
        for (int k = 0; k < merges; k++) {
            int l = mergeLeft[k];
            int r = mergeRight[k];
            if (l < 0 || r < 0 || l >= 256 + k || r >= 256 + k) {
                throw new IllegalArgumentException("BPE merge " + k + " joins ids " + l + " and " + r
                        + ", but only ids below " + (256 + k) + " exist at that point");
            }
            byte[] joined = Arrays.copyOf(tokenBytes[l], tokenBytes[l].length + tokenBytes[r].length);
            System.arraycopy(tokenBytes[r], 0, joined, tokenBytes[l].length, tokenBytes[r].length);
            tokenBytes[256 + k] = joined;
        }
        ranks = new PairRanks(mergeLeft, mergeRight);
    }

    /**
     * Learns merges from {@code text} until the vocabulary has {@code vocabSize} ids, or fewer when the
     * text runs out of pairs (every piece a single token). Deterministic: the same text and size give the
     * same merges (ties go to the smaller left id, then the smaller right id).
     *
     * @throws IllegalArgumentException if {@code vocabSize < 256}
     */
    public static BpeTokenizer train(CharSequence text, int vocabSize) {
        if (vocabSize < 256) {
            throw new IllegalArgumentException("BpeTokenizer.train: vocabSize must be at least 256 (the byte ids), got "
                    + vocabSize);
        }
        List<int[]> merges = BpeTrainer.train(text, vocabSize);
        int[] left = new int[merges.size()];
        int[] right = new int[merges.size()];
        for (int k = 0; k < left.length; k++) {
            left[k] = merges.get(k)[0];
            right[k] = merges.get(k)[1];
        }
        return new BpeTokenizer(left, right);
    }

    /**
     * A tokenizer from explicit merges: merge k joins {@code left[k]} and {@code right[k]} into id 256 + k.
     *
     * @throws IllegalArgumentException if the arrays differ in length, a merge uses an id not yet defined,
     *     or a pair is merged twice
     */
    public static BpeTokenizer fromMerges(int[] left, int[] right) {
        if (left.length != right.length) {
            throw new IllegalArgumentException("BpeTokenizer.fromMerges: " + left.length + " left ids but "
                    + right.length + " right ids");
        }
        return new BpeTokenizer(left.clone(), right.clone());
    }

    /** Number of merges ({@code vocabSize() - 256}). */
    public int mergeCount() {
        return mergeLeft.length;
    }

    /** The UTF-8 bytes id {@code id} stands for (a copy). */
    public byte[] tokenBytes(int id) {
        checkId(id, -1);
        return tokenBytes[id].clone();
    }

    @Override
    public int vocabSize() {
        return tokenBytes.length;
    }

    @Override
    public int[] encode(String text) {
        IntList out = new IntList(Math.max(16, text.length() / 3));
        // Natural text repeats its words: each distinct piece is merged once per call.
        Map<String, int[]> cache = new HashMap<>();
        PreTokenizer.split(text, (start, end) -> {
            String piece = text.substring(start, end);
            int[] ids = cache.get(piece);
            if (ids == null) {
                ids = encodePiece(piece.getBytes(StandardCharsets.UTF_8));
                cache.put(piece, ids);
            }
            out.addAll(ids);
        });
        return out.toArray();
    }

    /** Applies merges to one piece, lowest merge index first, until no adjacent pair has a merge. */
    private int[] encodePiece(byte[] bytes) {
        int[] s = new int[bytes.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = bytes[i] & 0xFF;
        }
        int len = s.length;
        while (len > 1) {
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < len; i++) {
                int rank = ranks.rank(s[i], s[i + 1]);
                if (rank >= 0 && rank < bestRank) {
                    bestRank = rank;
                }
            }
            if (bestRank == Integer.MAX_VALUE) {
                break;
            }
            // Same rule as training: every occurrence, left to right, without overlap.
            int a = mergeLeft[bestRank];
            int b = mergeRight[bestRank];
            int out = 0;
            for (int i = 0; i < len; i++) {
                if (i + 1 < len && s[i] == a && s[i + 1] == b) {
                    s[out++] = 256 + bestRank;
                    i++;
                } else {
                    s[out++] = s[i];
                }
            }
            len = out;
        }
        return Arrays.copyOf(s, len);
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            checkId(ids[i], i);
            bytes.writeBytes(tokenBytes[ids[i]]);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private void checkId(int id, int position) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new IllegalArgumentException("BpeTokenizer: id " + id
                    + (position >= 0 ? " at position " + position : "") + " is outside [0, " + tokenBytes.length + ")");
        }
    }

    @Override
    public void save(Path path) throws IOException {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        sb.append("# byte-level BPE: ids 0-255 are bytes; line k below joins ids L R into id 256 + k\n");
        sb.append("merges ").append(mergeLeft.length).append('\n');
        for (int k = 0; k < mergeLeft.length; k++) {
            sb.append(mergeLeft[k]).append(' ').append(mergeRight[k]).append('\n');
        }
        byte[] content = sb.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(path, channel -> {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
        });
    }

    /**
     * Reads a file written by {@link #save}.
     *
     * @throws IOException if the file is not in the format above; the message names the line
     */
    public static BpeTokenizer load(Path path) throws IOException {
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            int lineNo = 0;
            int[] left = null;
            int[] right = null;
            int read = 0;
            String line;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (lineNo == 1) {
                    if (!line.equals(HEADER)) {
                        throw new IOException(path + ":1: expected '" + HEADER + "', got '" + line + "'");
                    }
                    continue;
                }
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] fields = line.trim().split("\\s+");
                try {
                    if (left == null) {
                        if (fields.length != 2 || !fields[0].equals("merges")) {
                            throw new IOException(path + ":" + lineNo + ": expected 'merges M', got '" + line + "'");
                        }
                        int m = Integer.parseInt(fields[1]);
                        if (m < 0) {
                            throw new IOException(path + ":" + lineNo + ": negative merge count " + m);
                        }
                        left = new int[m];
                        right = new int[m];
                        continue;
                    }
                    if (fields.length != 2) {
                        throw new IOException(path + ":" + lineNo + ": expected two ids 'L R', got '" + line + "'");
                    }
                    if (read == left.length) {
                        throw new IOException(path + ":" + lineNo + ": more merges than the " + left.length
                                + " announced");
                    }
                    left[read] = Integer.parseInt(fields[0]);
                    right[read] = Integer.parseInt(fields[1]);
                    read++;
                } catch (NumberFormatException e) {
                    throw new IOException(path + ":" + lineNo + ": not an integer in '" + line + "'");
                }
            }
            if (left == null) {
                throw new IOException(path + ": missing the 'merges M' line");
            }
            if (read != left.length) {
                throw new IOException(path + ": " + read + " merges, but " + left.length + " announced");
            }
            try {
                return new BpeTokenizer(left, right);
            } catch (IllegalArgumentException e) {
                throw new IOException(path + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "BpeTokenizer(vocabSize=" + vocabSize() + ")";
    }
}
