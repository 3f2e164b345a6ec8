package dev.ladon.nn.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    // ---- little-endian bytes written by hand, independent of the code under test -------------------

    private static void putLong(ByteArrayOutputStream out, long v) {
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }

    private static void putInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) {
            out.write((v >>> (8 * i)) & 0xFF);
        }
    }

    /** A file laid out as the spec says: length prefix, header bytes, data. */
    private Path handBuiltFile(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        putLong(out, h.length);
        out.writeBytes(h);
        out.writeBytes(data);
        Path p = dir.resolve(name);
        Files.write(p, out.toByteArray());
        return p;
    }

    @Test
    void savedFileMatchesTheSpecByteForByte() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("w", Tensor.of(new float[] {1f, -2.5f, 3f, 0.125f}, 2, 2));
        tensors.put("ids", Tensor.of(new long[] {5, -1, 1L << 40}, 3));
        Path p = dir.resolve("model.safetensors");
        SafeTensors.save(p, tensors, Map.of("step", "10"));

        String json = "{\"__metadata__\":{\"step\":\"10\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[16,40]}}";
        int padded = (json.length() + 7) / 8 * 8;
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        putLong(expected, padded);
        expected.writeBytes(json.getBytes(StandardCharsets.US_ASCII));
        for (int i = json.length(); i < padded; i++) {
            expected.write(' ');
        }
        for (float f : new float[] {1f, -2.5f, 3f, 0.125f}) {
            putInt(expected, Float.floatToRawIntBits(f));
        }
        for (long v : new long[] {5, -1, 1L << 40}) {
            putLong(expected, v);
        }
        assertThat(Files.readAllBytes(p)).isEqualTo(expected.toByteArray());
    }

    @Test
    void roundTripsEveryDTypeScalarsEmptyAndStridedTensors() throws IOException {
        Generator g = new Generator(7);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("f32", Tensor.randn(g, DType.FLOAT32, dev.ladon.tensor.Device.CPU, 3, 5));
        tensors.put("f64", Tensor.randn(g, DType.FLOAT64, dev.ladon.tensor.Device.CPU, 4));
        tensors.put("i32", Tensor.of(new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE}, 3));
        tensors.put("i64", Tensor.of(new long[] {Long.MIN_VALUE, 3, Long.MAX_VALUE}, 1, 3));
        tensors.put("mask", Tensor.of(new boolean[] {true, false, false, true}, 2, 2));
        tensors.put("scalar", Tensor.scalar(3.5));
        tensors.put("empty", Tensor.zeros(DType.FLOAT32, 0, 4));
        // A transposed view is saved row-major in its own (transposed) shape.
        tensors.put("transposed", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).transpose(0, 1));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "ünïcödé \"quoted\"\nline");
        Path p = dir.resolve("all.safetensors");
        SafeTensors.save(p, tensors, meta);

        LinkedHashMap<String, Tensor> loaded = SafeTensors.load(p);
        assertThat(loaded.keySet()).containsExactlyElementsOf(tensors.keySet());
        for (String name : tensors.keySet()) {
            Tensor want = tensors.get(name);
            Tensor got = loaded.get(name);
            assertThat(got.shape()).as(name).containsExactly(want.shape());
            assertThat(got.dtype()).as(name).isEqualTo(want.dtype());
            assertThat(got.toDoubleArray()).as(name).containsExactly(want.toDoubleArray());
        }
        assertThat(loaded.get("i64").toLongArray()).containsExactly(Long.MIN_VALUE, 3, Long.MAX_VALUE);
        assertThat(loaded.get("transposed").toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
        assertThat(SafeTensors.loadMetadata(p)).containsExactlyEntriesOf(meta);
    }

    @Test
    void readsForeignLayoutsOrderAndWhitespace() throws IOException {
        // Data in the opposite order of the header, metadata last, a newline in the header, an extra field,
        // and a bool byte of 2 (read as true).
        String header = "{ \"b\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [0, 8], \"extra\": 1},\n"
                + "  \"a\": {\"dtype\": \"BOOL\", \"shape\": [3], \"data_offsets\": [8, 11]},\n"
                + "  \"__metadata__\": {\"k\": \"v\"} }";
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        putInt(data, -7);
        putInt(data, 300);
        data.write(0);
        data.write(2);
        data.write(1);
        Path p = handBuiltFile("foreign.safetensors", header, data.toByteArray());

        LinkedHashMap<String, Tensor> loaded = SafeTensors.load(p);
        assertThat(loaded.keySet()).containsExactly("b", "a");
        assertThat(loaded.get("b").toIntArray()).containsExactly(-7, 300);
        assertThat(loaded.get("a").dtype()).isEqualTo(DType.BOOL);
        assertThat(loaded.get("a").toIntArray()).containsExactly(0, 1, 1);
        assertThat(SafeTensors.loadMetadata(p)).containsExactly(Map.entry("k", "v"));
    }

    private void assertRejected(String header, byte[] data, String messagePart) throws IOException {
        Path p = handBuiltFile("bad.safetensors", header, data);
        assertThatThrownBy(() -> SafeTensors.load(p)).isInstanceOf(IOException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining(messagePart);
    }

    @Test
    void rejectsInconsistentHeadersWithClearErrors() throws IOException {
        byte[] eight = new byte[8];
        assertRejected("[]", eight, "does not start with '{'");
        assertRejected("{\"a\": ", eight, "not well-formed");
        assertRejected("{\"a\": {\"dtype\": \"Q7\", \"shape\": [2], \"data_offsets\": [0, 8]}}", eight,
                "unknown dtype \"Q7\"");
        assertRejected("{\"a\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [0, 8]}}", eight,
                "BF16, which Ladon does not support");
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", eight,
                "span 8 bytes but shape [3] of F32 needs 12");
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", eight,
                "inside the 8-byte data section");
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 8]}}", eight,
                "invalid dimension -1");
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                + "\"b\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", eight, "overlap");
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", eight, "no array \"shape\"");
        assertRejected("{\"__metadata__\": {\"k\": 1}}", eight, "is not a string");
    }

    @Test
    void rejectsBadHeaderLengths() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafeTensors.load(tiny)).hasMessageContaining("too short");

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        putLong(out, 1000);
        out.writeBytes("{}".getBytes(StandardCharsets.US_ASCII));
        Path pastEnd = dir.resolve("past-end.safetensors");
        Files.write(pastEnd, out.toByteArray());
        assertThatThrownBy(() -> SafeTensors.load(pastEnd)).hasMessageContaining("runs past the end");

        out.reset();
        putLong(out, -1L); // 2^64 - 1 as the format's unsigned length
        out.writeBytes("{}".getBytes(StandardCharsets.US_ASCII));
        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, out.toByteArray());
        assertThatThrownBy(() -> SafeTensors.load(huge)).hasMessageContaining("18446744073709551615");

        out.reset();
        putLong(out, 2);
        out.write(0xC3); // a lone UTF-8 lead byte
        out.write('{');
        Path badUtf8 = dir.resolve("bad-utf8.safetensors");
        Files.write(badUtf8, out.toByteArray());
        assertThatThrownBy(() -> SafeTensors.load(badUtf8)).hasMessageContaining("UTF-8");
    }

    @Test
    void saveRejectsReservedAndEmptyNames() {
        Path p = dir.resolve("x.safetensors");
        assertThatThrownBy(() -> SafeTensors.save(p, Map.of("__metadata__", Tensor.zeros(1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid tensor name");
        assertThatThrownBy(() -> SafeTensors.save(p, Map.of("", Tensor.zeros(1))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(p).doesNotExist();
    }

    @Test
    void failureMidWriteLeavesThePreviousCheckpointAndNoTemporaryFile() throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        Map<String, Tensor> old = Map.of("w", Tensor.of(new float[] {1, 2, 3}, 3));
        SafeTensors.save(p, old);
        byte[] before = Files.readAllBytes(p);

        Map<String, Tensor> next = new LinkedHashMap<>();
        next.put("w", Tensor.of(new float[] {9, 9, 9}, 3));
        next.put("big", Tensor.zeros(DType.FLOAT64, 1000));
        byte[] header = SafeTensors.header(next, Map.of());
        // The disk "fails" after 100 bytes: header written, data half-way.
        assertThatThrownBy(() -> AtomicFile.write(p,
                channel -> SafeTensors.writeTo(new FailingChannel(channel, 100), header, next)))
                .isInstanceOf(IOException.class).hasMessageContaining("simulated");

        assertThat(Files.readAllBytes(p)).isEqualTo(before);
        assertThat(SafeTensors.load(p).get("w").toFloatArray()).containsExactly(1, 2, 3);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).toList()).containsExactly("ckpt.safetensors");
        }
    }

    @Test
    @Timeout(120) // guards against a child that neither reports nor exits; normally about a second
    void processKilledMidWriteLeavesThePreviousCheckpoint() throws Exception {
        Path p = dir.resolve("ckpt.safetensors");
        SafeTensors.save(p, Map.of("w", Tensor.of(new float[] {4, 5}, 2)), Map.of("step", "1"));
        byte[] before = Files.readAllBytes(p);

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), KilledWriter.class.getName(), p.toString())
                .redirectErrorStream(true).start();
        // The child prints READY once it is stuck half-way through its write; then it is killed (SIGKILL).
        // Other lines (the JVM's incubator-module warning) are kept for the failure message.
        StringBuilder output = new StringBuilder();
        boolean ready = false;
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (!ready && (line = reader.readLine()) != null) {
                ready = line.equals(KilledWriter.READY);
                output.append(line).append('\n');
            }
            child.destroyForcibly().waitFor();
        }
        assertThat(ready).as("child output:%n%s", output).isTrue();

        assertThat(Files.readAllBytes(p)).isEqualTo(before);
        assertThat(SafeTensors.loadMetadata(p)).containsEntry("step", "1");
        // The killed writer's temporary file is the only leftover, and the next save still works.
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            assertThat(names).hasSize(2).contains("ckpt.safetensors");
            assertThat(names).anyMatch(n -> n.startsWith(".ckpt.safetensors.tmp-"));
        }
        SafeTensors.save(p, Map.of("w", Tensor.of(new float[] {6, 7}, 2)));
        assertThat(SafeTensors.load(p).get("w").toFloatArray()).containsExactly(6, 7);
    }
}
