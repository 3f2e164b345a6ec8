package dev.ladon.nn.io;

import dev.ladon.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated safetensors header: every entry's dtype is one Ladon holds, its byte range lies inside the
 * data section, matches {@code numel * dtype size}, and overlaps no other entry's range.
 *
 * @param entries   the tensors in header order
 * @param metadata  the {@code __metadata__} strings (empty when absent)
 * @param dataStart file offset of the data section ({@code 8 + header length})
 */
record SafeTensorsHeader(List<Entry> entries, Map<String, String> metadata, long dataStart) {

    /** One tensor: bytes [begin, end) of the data section hold its row-major little-endian elements. */
    record Entry(String name, DType dtype, int[] shape, long begin, long end) {
    }

    /** Reads and checks the header of {@code channel}'s file; errors are IOExceptions naming {@code path}. */
    static SafeTensorsHeader read(Path path, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        try {
            return parse(readHeaderBytes(channel, fileSize), fileSize);
        } catch (IllegalArgumentException e) {
            throw new IOException("safetensors file " + path + ": " + e.getMessage(), e);
        }
    }

    private static byte[] readHeaderBytes(FileChannel channel, long fileSize) throws IOException {
        if (fileSize < 8) {
            throw new IllegalArgumentException("file is " + fileSize + " bytes, too short for the 8-byte header length");
        }
        ByteBuffer lengthBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBuf, 0);
        long n = lengthBuf.flip().getLong(); // unsigned in the format: a negative long is > 2^63 and fails below
        if (n < 2 || n > SafeTensors.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("header length " + Long.toUnsignedString(n)
                    + " is outside [2, " + SafeTensors.MAX_HEADER_BYTES + "]");
        }
        if (8 + n > fileSize) {
            throw new IllegalArgumentException("header length " + n + " runs past the end of the " + fileSize
                    + "-byte file");
        }
        ByteBuffer header = ByteBuffer.allocate((int) n);
        readFully(channel, header, 8);
        return header.array();
    }

    private static void readFully(FileChannel channel, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            if (channel.read(buf, position + buf.position()) < 0) {
                throw new IllegalArgumentException("unexpected end of file");
            }
        }
    }

    /** Parses and checks header bytes (without the length prefix) of a file of {@code fileSize} bytes. */
    static SafeTensorsHeader parse(byte[] headerBytes, long fileSize) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("header is not valid UTF-8");
        }
        if (!text.startsWith("{")) {
            throw new IllegalArgumentException("header does not start with '{'");
        }
        Object json;
        try {
            json = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("header is not well-formed: " + e.getMessage(), e);
        }
        if (!(json instanceof Map<?, ?> root)) {
            throw new IllegalArgumentException("header is not a JSON object");
        }
        long dataStart = 8L + headerBytes.length;
        long dataSize = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : root.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(SafeTensors.METADATA_KEY)) {
                readMetadata(e.getValue(), metadata);
            } else {
                entries.add(readEntry(name, e.getValue(), dataSize));
            }
        }
        checkNoOverlap(entries);
        return new SafeTensorsHeader(List.copyOf(entries), Collections.unmodifiableMap(metadata), dataStart);
    }

    private static void readMetadata(Object value, Map<String, String> out) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(SafeTensors.METADATA_KEY + " is not a JSON object");
        }
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new IllegalArgumentException(SafeTensors.METADATA_KEY + " value of \"" + e.getKey()
                        + "\" is not a string");
            }
            out.put((String) e.getKey(), s);
        }
    }

    private static Entry readEntry(String name, Object value, long dataSize) {
        if (!(value instanceof Map<?, ?> info)) {
            throw new IllegalArgumentException("entry of tensor '" + name + "' is not a JSON object");
        }
        if (!(info.get("dtype") instanceof String code)) {
            throw new IllegalArgumentException("tensor '" + name + "' has no string \"dtype\"");
        }
        DType dtype = SafeTensorsDType.parse(code, name);
        long[] shapeValues = integers(info.get("shape"), "shape", name);
        long[] offsets = integers(info.get("data_offsets"), "data_offsets", name);
        if (offsets.length != 2) {
            throw new IllegalArgumentException("tensor '" + name + "': data_offsets must hold 2 integers, got "
                    + offsets.length);
        }
        int[] shape = new int[shapeValues.length];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            long s = shapeValues[i];
            if (s < 0 || s > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tensor '" + name + "': invalid dimension " + s + " in shape "
                        + Arrays.toString(shapeValues));
            }
            shape[i] = (int) s;
            numel *= s;
            if (numel > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shapeValues)
                        + " has more than 2^31-1 elements, the most one Ladon tensor holds");
            }
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin || end > dataSize) {
            throw new IllegalArgumentException("tensor '" + name + "': data_offsets [" + begin + ", " + end
                    + "] do not lie inside the " + dataSize + "-byte data section");
        }
        long expected = numel * dtype.byteSize();
        if (end - begin != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': data_offsets span " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + code + " needs " + expected);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long[] integers(Object value, String field, String name) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException("tensor '" + name + "' has no array \"" + field + "\"");
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l)) {
                throw new IllegalArgumentException("tensor '" + name + "': " + field + " holds a non-integer "
                        + list.get(i));
            }
            out[i] = l;
        }
        return out;
    }

    private static void checkNoOverlap(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1);
            Entry cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw new IllegalArgumentException("tensors '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end()
                        + ") overlap in the data section");
            }
        }
    }
}
