package dev.ladon.nn.data;

import dev.ladon.nn.io.AtomicFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One token per UTF-8 byte: 256 ids, id = the byte's unsigned value. The baseline every subword tokenizer is
 * compared with; its bits per token are bits per byte. Its file is the single line {@value #HEADER}.
 */
public final class ByteTokenizer implements Tokenizer {
    static final String HEADER = "ladon-tokenizer byte 1";

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        byte[] bytes = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > 255) {
                throw new IllegalArgumentException("ByteTokenizer.decode: id " + ids[i] + " at position " + i
                        + " is outside [0, 256)");
            }
            bytes[i] = (byte) ids[i];
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public void save(Path path) throws IOException {
        byte[] content = (HEADER + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(path, channel -> channel.write(ByteBuffer.wrap(content)));
    }

    @Override
    public String toString() {
        return "ByteTokenizer(vocabSize=256)";
    }
}
