package dev.ladon.nn.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks Ladon's files against the reference implementation: Python's {@code safetensors} package reads
 * what Ladon writes, and Ladon reads what it writes. Skipped unless a Python with {@code safetensors} and
 * {@code numpy} is found: {@code $LADON_PYTHON}, else {@code python3} on the PATH.
 */
class SafeTensorsPythonInteropTest {
    private static String python;

    @TempDir
    Path dir;

    @BeforeAll
    static void findPython() {
        String candidate = System.getenv().getOrDefault("LADON_PYTHON", "python3");
        try {
            Result r = run(List.of(candidate, "-c", "import safetensors.numpy, numpy"));
            python = r.exitCode == 0 ? candidate : null;
        } catch (IOException e) {
            python = null;
        }
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            return new Result(p.waitFor(), out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static String runPython(String script, String... args) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of(python, "-c", script));
        command.addAll(List.of(args));
        Result r = run(command);
        assertThat(r.exitCode).as("python failed:%n%s", r.output).isZero();
        return r.output;
    }

    @Test
    void pythonReadsWhatLadonWrites() throws IOException {
        assumeTrue(python != null, "no Python with safetensors and numpy (set LADON_PYTHON)");
        Generator g = new Generator(11);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("f32", Tensor.randn(g, DType.FLOAT32, Device.CPU, 2, 3));
        tensors.put("f64", Tensor.randn(g, DType.FLOAT64, Device.CPU, 3));
        tensors.put("i32", Tensor.of(new int[] {-5, 0, 7, Integer.MAX_VALUE}, 2, 2));
        tensors.put("i64", Tensor.of(new long[] {Long.MIN_VALUE + 1, 42}, 2));
        tensors.put("mask", Tensor.of(new boolean[] {true, false, true}, 3));
        tensors.put("scalar", Tensor.scalar(2.5));
        Path p = dir.resolve("from-ladon.safetensors");
        SafeTensors.save(p, tensors, Map.of("written_by", "ladon"));

        String script = """
                import json, sys
                from safetensors import safe_open
                from safetensors.numpy import load_file
                tensors = load_file(sys.argv[1])
                with safe_open(sys.argv[1], framework="np") as f:
                    meta = f.metadata()
                print(json.dumps({"__metadata__": meta, **{k: {"dtype": str(v.dtype), "shape": list(v.shape),
                    "values": [repr(x) for x in v.ravel().tolist()]} for k, v in tensors.items()}}))
                """;
        Map<?, ?> seen = (Map<?, ?>) Json.parse(runPython(script, p.toString()).trim());
        assertThat(seen.get("__metadata__")).isEqualTo(Map.of("written_by", "ladon"));
        Map<String, String> numpyDtype = Map.of("f32", "float32", "f64", "float64", "i32", "int32", "i64", "int64",
                "mask", "bool", "scalar", "float32");
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Map<?, ?> info = (Map<?, ?>) seen.get(e.getKey());
            Tensor t = e.getValue();
            assertThat(info.get("dtype")).as(e.getKey()).isEqualTo(numpyDtype.get(e.getKey()));
            List<Long> shape = java.util.Arrays.stream(t.shape()).mapToObj(s -> (long) s).toList();
            assertThat(info.get("shape")).as(e.getKey()).isEqualTo(shape);
            // Python prints each value with repr, which round-trips floats exactly.
            List<?> values = (List<?>) info.get("values");
            double[] expected = t.toDoubleArray();
            assertThat(values).hasSize(expected.length);
            for (int i = 0; i < expected.length; i++) {
                String v = (String) values.get(i);
                double actual = v.equals("True") ? 1 : v.equals("False") ? 0 : Double.parseDouble(v);
                assertThat(actual).as("%s[%d]", e.getKey(), i).isEqualTo(expected[i]);
            }
        }
    }

    @Test
    void ladonReadsWhatPythonWrites() throws IOException {
        assumeTrue(python != null, "no Python with safetensors and numpy (set LADON_PYTHON)");
        Path p = dir.resolve("from-python.safetensors");
        String script = """
                import sys, numpy as np
                from safetensors.numpy import save_file
                save_file({
                    "w": (np.arange(12, dtype=np.float32) * 0.25 - 1.0).reshape(3, 4),
                    "d": np.arange(5, dtype=np.float64) / 3.0,
                    "ids": np.array([[1, -2], [3, 2**40]], dtype=np.int64),
                    "small": np.array([7, -8, 9], dtype=np.int32),
                    "mask": np.array([True, False, False, True]),
                }, sys.argv[1], metadata={"format": "np"})
                """;
        runPython(script, p.toString());

        LinkedHashMap<String, Tensor> loaded = SafeTensors.load(p);
        assertThat(loaded.keySet()).containsExactlyInAnyOrder("w", "d", "ids", "small", "mask");
        Tensor w = loaded.get("w");
        assertThat(w.dtype()).isEqualTo(DType.FLOAT32);
        assertThat(w.shape()).containsExactly(3, 4);
        float[] wv = w.toFloatArray();
        for (int i = 0; i < 12; i++) {
            assertThat(wv[i]).isEqualTo(i * 0.25f - 1.0f);
        }
        double[] dv = loaded.get("d").toDoubleArray();
        for (int i = 0; i < 5; i++) {
            assertThat(dv[i]).isEqualTo(i / 3.0);
        }
        assertThat(loaded.get("ids").shape()).containsExactly(2, 2);
        assertThat(loaded.get("ids").toLongArray()).containsExactly(1, -2, 3, 1L << 40);
        assertThat(loaded.get("small").dtype()).isEqualTo(DType.INT32);
        assertThat(loaded.get("small").toIntArray()).containsExactly(7, -8, 9);
        assertThat(loaded.get("mask").dtype()).isEqualTo(DType.BOOL);
        assertThat(loaded.get("mask").toIntArray()).containsExactly(1, 0, 0, 1);
        assertThat(SafeTensors.loadMetadata(p)).containsEntry("format", "np");
    }
}
