package dev.ladon.nn.io;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backends;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes tensors in the <a href="https://github.com/huggingface/safetensors">safetensors</a>
 * format, so that PyTorch ({@code safetensors.torch.load_file}) opens Ladon checkpoints and Ladon opens
 * theirs.
 *
 * <p>The format, byte by byte:
 * <pre>
 *   [0, 8)          N, the header length: an unsigned 64-bit little-endian integer
 *   [8, 8 + N)      the header: a UTF-8 JSON object
 *                     { "__metadata__": {"key": "value", ...},            (optional, string values only)
 *                       "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ... }
 *   [8 + N, EOF)    the data section; tensor "name" is bytes [begin, end) of it, row-major, little-endian
 * </pre>
 * Ladon reads and writes the dtypes {@code F32, F64, I32, I64, BOOL} (one byte, 0 or 1). Ladon writes the
 * metadata first, then the tensors in the map's iteration order with their data packed in the same order,
 * and pads the header with spaces to a multiple of 8 bytes so every tensor's data is 8-byte aligned, as the
 * reference implementation does.
 *
 * <p>{@link #save} is atomic ({@link AtomicFile}): a run killed while saving leaves the previous checkpoint
 * intact. {@link #load} checks the header before trusting any of it: header length within the file and at
 * most {@value #MAX_HEADER_BYTES} bytes, well-formed JSON, known dtypes, sizes equal to
 * {@code numel * dtype size}, offsets inside the data section and not overlapping. Every problem is an
 * {@link IOException} naming the file and the tensor.
 */
public final class SafeTensors {
    /** The largest header accepted, the same bound as the reference implementation's. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    // Bytes moved per read or write call: large tensors stream through this window instead of being copied
    // into one byte array of their full size.
    private static final int CHUNK_BYTES = 1 << 20;

    private SafeTensors() {
    }

    /** Saves {@code tensors} with no metadata; see {@link #save(Path, Map, Map)}. */
    public static void save(Path path, Map<String, Tensor> tensors) throws IOException {
        save(path, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (any device, any strides; written row-major) and the string {@code metadata}
     * to {@code path}, replacing it atomically.
     *
     * @throws IllegalArgumentException if a name is empty or {@code "__metadata__"}, or a metadata key or
     *     value is null
     * @throws IOException if writing fails; the previous file at {@code path} is then unchanged
     */
    public static void save(Path path, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        AtomicFile.write(path, channel -> writeTo(channel, header, tensors));
    }

    /**
     * The header bytes for {@code tensors} (in map order, packed) and {@code metadata}, space-padded to a
     * multiple of 8, without the 8-byte length prefix.
     */
    static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata) {
        Map<String, Object> json = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            Map<String, Object> meta = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("safetensors save: metadata keys and values must not be "
                            + "null, got " + e.getKey() + "=" + e.getValue());
                }
                meta.put(e.getKey(), e.getValue());
            }
            json.put(METADATA_KEY, meta);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null || name.isEmpty() || name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("safetensors save: invalid tensor name '" + name
                        + "' (must be non-empty and not " + METADATA_KEY + ")");
            }
            long bytes = (long) t.numel() * t.dtype().byteSize();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", SafeTensorsDType.code(t.dtype()));
            List<Object> shape = new ArrayList<>();
            for (int s : t.shape()) {
                shape.add((long) s);
            }
            info.put("shape", shape);
            info.put("data_offsets", List.of(offset, offset + bytes));
            json.put(name, info);
            offset += bytes;
        }
        byte[] text = Json.write(json).getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        System.arraycopy(text, 0, header, 0, text.length);
        java.util.Arrays.fill(header, text.length, padded, (byte) ' ');
        return header;
    }

    /** Writes the length prefix, {@code header} and the tensors' data (in map order) to {@code channel}. */
    static void writeTo(WritableByteChannel channel, byte[] header, Map<String, Tensor> tensors)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length);
        flush(channel, buf);
        writeFully(channel, ByteBuffer.wrap(header));
        for (Tensor t : tensors.values()) {
            writeData(channel, buf, t);
        }
    }

    private static void writeData(WritableByteChannel channel, ByteBuffer buf, Tensor t) throws IOException {
        Object host = t.backend().toHost(t); // a row-major copy on the host, whatever the device and strides
        int n = t.numel();
        int perChunk = CHUNK_BYTES / t.dtype().byteSize();
        for (int start = 0; start < n; start += perChunk) {
            int count = Math.min(perChunk, n - start);
            buf.clear();
            switch (t.dtype()) {
                case FLOAT32 -> buf.asFloatBuffer().put((float[]) host, start, count);
                case FLOAT64 -> buf.asDoubleBuffer().put((double[]) host, start, count);
                case INT32 -> buf.asIntBuffer().put((int[]) host, start, count);
                case INT64 -> buf.asLongBuffer().put((long[]) host, start, count);
                case BOOL -> buf.put((byte[]) host, start, count);
            }
            buf.position(0).limit(count * t.dtype().byteSize());
            writeFully(channel, buf);
        }
    }

    private static void flush(WritableByteChannel channel, ByteBuffer buf) throws IOException {
        buf.flip();
        writeFully(channel, buf);
        buf.clear();
    }

    private static void writeFully(WritableByteChannel channel, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    // ---- reading ----------------------------------------------------------------------------------

    /**
     * Reads every tensor of a safetensors file onto the CPU, in header order. {@code BOOL} bytes other than 0
     * read as 1 (true).
     *
     * @throws IOException if the file cannot be read, or its header is malformed or inconsistent with the
     *     file (the message names the file, the tensor and the problem), or it holds a dtype Ladon lacks
     */
    public static LinkedHashMap<String, Tensor> load(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            SafeTensorsHeader header = SafeTensorsHeader.read(path, channel);
            LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
            for (SafeTensorsHeader.Entry e : header.entries()) {
                out.put(e.name(), readTensor(channel, header.dataStart(), e));
            }
            return out;
        }
    }

    /** The {@code __metadata__} map of a safetensors file (empty when absent); reads only the header. */
    public static Map<String, String> loadMetadata(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return SafeTensorsHeader.read(path, channel).metadata();
        }
    }

    private static Tensor readTensor(FileChannel channel, long dataStart, SafeTensorsHeader.Entry e)
            throws IOException {
        DType dtype = e.dtype();
        int n = Shape.numel(e.shape());
        Object host = switch (dtype) {
            case FLOAT32 -> new float[n];
            case FLOAT64 -> new double[n];
            case INT32 -> new int[n];
            case INT64 -> new long[n];
            case BOOL -> new byte[n];
        };
        ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int perChunk = CHUNK_BYTES / dtype.byteSize();
        long position = dataStart + e.begin();
        for (int start = 0; start < n; start += perChunk) {
            int count = Math.min(perChunk, n - start);
            buf.clear().limit(count * dtype.byteSize());
            while (buf.hasRemaining()) {
                int read = channel.read(buf, position + buf.position());
                if (read < 0) {
                    throw new IOException("safetensors: file ended inside the data of tensor '" + e.name() + "'");
                }
            }
            buf.flip();
            switch (dtype) {
                case FLOAT32 -> buf.asFloatBuffer().get((float[]) host, start, count);
                case FLOAT64 -> buf.asDoubleBuffer().get((double[]) host, start, count);
                case INT32 -> buf.asIntBuffer().get((int[]) host, start, count);
                case INT64 -> buf.asLongBuffer().get((long[]) host, start, count);
                case BOOL -> {
                    byte[] b = (byte[]) host;
                    buf.get(b, start, count);
                    for (int i = start; i < start + count; i++) {
                        b[i] = (byte) (b[i] != 0 ? 1 : 0); // Ladon's masks hold exactly 0 or 1
                    }
                }
            }
            position += (long) count * dtype.byteSize();
        }
        return Tensor.wrap(Backends.of(Device.CPU).fromHost(dtype, host), e.shape());
    }
}
