package dev.ladon.examples.bench;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** The cases of {@code bin/ladon bench}: float32 matrix products, elementwise maps and reductions. */
public final class BenchCases {
    /** Attention-shaped batch: heads x [T, Dh] @ [Dh, T], as in scores = q k^T. */
    private static final int ATTENTION_BATCH = 64;
    private static final int ATTENTION_T = 128;
    private static final int ATTENTION_DH = 64;
    /** Row length for the row-wise cases (softmax over rows, a bias added to every row). */
    private static final int ROW = 4096;

    private BenchCases() {
    }

    /** Square products n x n x n for each size, then the attention-shaped batch. */
    public static List<BenchCase> gemm(int[] sizes) {
        List<BenchCase> cases = new ArrayList<>();
        for (int n : sizes) {
            cases.add(new BenchCase("gemm", "f32 n=" + n, "gemm m=" + n + " k=" + n + " n=" + n + " batch=1",
                    2.0 * n * n * n, () -> {
                        Generator gen = new Generator(n);
                        Tensor a = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, n);
                        Tensor b = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, n);
                        return () -> a.matmul(b);
                    }));
        }
        int bt = ATTENTION_BATCH;
        int t = ATTENTION_T;
        int dh = ATTENTION_DH;
        String shape = "batch=" + bt + " m=" + t + " k=" + dh + " n=" + t;
        cases.add(new BenchCase("gemm", "f32 " + shape, "gemm " + shape, 2.0 * bt * t * t * dh, () -> {
            Generator gen = new Generator(7);
            Tensor q = Tensor.randn(gen, DType.FLOAT32, Device.CPU, bt, t, dh);
            Tensor kT = Tensor.randn(gen, DType.FLOAT32, Device.CPU, bt, dh, t);
            return () -> q.matmul(kT);
        }));
        return cases;
    }

    /**
     * Products of given shapes, written {@code MxKxN} with an optional {@code :ab} suffix saying whether A and
     * B are used transposed ({@code n} or {@code t} each): {@code 2048x256x1024:nt} is x @ w^T for x [2048, 256]
     * and a weight w [1024, 256], the forward product of a linear layer. A transposed operand is a view of a
     * row-major matrix (its {@code mT()}), never a copy, on both sides.
     */
    public static List<BenchCase> gemmShapes(List<String> shapes) {
        List<BenchCase> cases = new ArrayList<>();
        for (String spec : shapes) {
            String[] parts = spec.split(":", -1);
            String[] dims = parts[0].split("x", -1);
            String layout = parts.length == 2 ? parts[1] : "nn";
            if (parts.length > 2 || dims.length != 3 || !layout.matches("[nt][nt]")) {
                throw new IllegalArgumentException("--shapes: expected MxKxN or MxKxN:ab with a and b each n or t, got '"
                        + spec + "'");
            }
            int m = positive(dims[0], spec);
            int k = positive(dims[1], spec);
            int n = positive(dims[2], spec);
            boolean transA = layout.charAt(0) == 't';
            boolean transB = layout.charAt(1) == 't';
            String shape = "m=" + m + " k=" + k + " n=" + n + " ab=" + layout;
            cases.add(new BenchCase("gemm", "f32 " + shape, "gemm " + shape + " batch=1", 2.0 * m * k * n, () -> {
                Generator gen = new Generator(m + 31L * k + 961L * n);
                Tensor a = transA ? Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, m).mT()
                        : Tensor.randn(gen, DType.FLOAT32, Device.CPU, m, k);
                Tensor b = transB ? Tensor.randn(gen, DType.FLOAT32, Device.CPU, n, k).mT()
                        : Tensor.randn(gen, DType.FLOAT32, Device.CPU, k, n);
                return () -> a.matmul(b);
            }));
        }
        return cases;
    }

    private static int positive(String dim, String spec) {
        try {
            int v = Integer.parseInt(dim);
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("--shapes: dimensions must be positive integers, got '" + dim + "' in '"
                + spec + "'");
    }

    /** Elementwise maps and reductions over n float32 elements (n a multiple of 4096). */
    public static List<BenchCase> ops(int n) {
        List<BenchCase> cases = new ArrayList<>();
        cases.add(elementwise("add", n, in -> () -> in.x.add(in.y)));
        cases.add(elementwise("mul", n, in -> () -> in.x.mul(in.y)));
        cases.add(elementwise("exp", n, in -> () -> in.x.exp()));
        cases.add(elementwise("add_row_bias", n, in -> () -> in.rows.add(in.bias)));
        cases.add(reduction("sum", n, in -> () -> in.x.sum()));
        cases.add(reduction("max", n, in -> () -> in.x.max()));
        cases.add(reduction("sum_rows", n, in -> () -> in.rows.sum(1)));
        cases.add(reduction("sum_cols", n, in -> () -> in.rows.sum(0)));
        cases.add(reduction("softmax_rows", n, in -> () -> in.rows.softmax(1)));
        return cases;
    }

    /** x and y of n elements; rows is x viewed as [n / ROW, ROW]; bias has ROW elements. */
    private record Inputs(Tensor x, Tensor y, Tensor rows, Tensor bias) {
        static Inputs of(int n) {
            Generator gen = new Generator(n);
            Tensor x = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n);
            Tensor y = Tensor.randn(gen, DType.FLOAT32, Device.CPU, n);
            return new Inputs(x, y, x.view(n / ROW, ROW), Tensor.randn(gen, DType.FLOAT32, Device.CPU, ROW));
        }
    }

    private static BenchCase elementwise(String op, int n, Function<Inputs, Runnable> body) {
        return opCase("elementwise", op, n, body);
    }

    private static BenchCase reduction(String op, int n, Function<Inputs, Runnable> body) {
        return opCase("reduce", op, n, body);
    }

    private static BenchCase opCase(String kind, String op, int n, Function<Inputs, Runnable> body) {
        String params = "op=" + op + " n=" + n;
        String request = kind + " " + params + " cols=" + ROW;
        return new BenchCase(kind, "f32 " + params, request, 0, () -> body.apply(Inputs.of(n)));
    }
}
