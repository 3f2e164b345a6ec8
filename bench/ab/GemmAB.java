import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Paired comparison of two builds of the tensor module on float32 products: each build in its own class
 * loader, calls alternating between them, as {@link AttentionAB} does for attention. A shape is
 * {@code MxKxN} with an optional {@code :ab} (a, b each n or t: that operand a transposed view) or
 * {@code :linear} (x [M, K] W^T + b then ReLU, {@code FusedOps.linear} with its epilogue) or {@code :reluback}
 * (g [M, K] W [K, N] masked by a ReLU output, {@code FusedOps.linearBackward}'s input gradient), or
 * {@code BxMxKxN} for a batch of B products.
 *
 * <p>Usage (see {@code bench/ab/run}): {@code GemmAB TENSOR_CLASSES_A TENSOR_CLASSES_B THREADS ROUNDS SHAPES}.
 */
public class GemmAB {
    /** One build's products, called through reflection on its own classes. */
    static final class Build {
        private final Method matmul;
        private final Method linear;
        private final Method linearBackward;
        private final List<Object[]> operands = new ArrayList<>();

        Build(String classes, int threads, List<String> shapes) throws Exception {
            ClassLoader loader = new URLClassLoader(new URL[] {Path.of(classes).toUri().toURL()},
                    GemmAB.class.getClassLoader().getParent());
            Thread.currentThread().setContextClassLoader(loader);
            loader.loadClass("dev.ladon.tensor.cpu.Parallel").getMethod("setNumThreads", int.class)
                    .invoke(null, threads);
            Class<?> tensor = loader.loadClass("dev.ladon.tensor.Tensor");
            Method randn = tensor.getMethod("randn", int[].class);
            Method transposed = tensor.getMethod("mT");
            matmul = tensor.getMethod("matmul", tensor);
            linear = loader.loadClass("dev.ladon.tensor.FusedOps").getMethod("linear", tensor, tensor, tensor,
                    boolean.class);
            linearBackward = loader.loadClass("dev.ladon.tensor.FusedOps").getMethod("linearBackward", tensor, tensor,
                    tensor, boolean.class, boolean.class, boolean.class, boolean.class);
            for (String spec : shapes) {
                String[] parts = spec.split(":");
                int[] d = Arrays.stream(parts[0].split("x")).mapToInt(Integer::parseInt).toArray();
                String layout = parts.length > 1 ? parts[1] : "nn";
                if (d.length == 4) {
                    operands.add(new Object[] {randn.invoke(null, (Object) new int[] {d[0], d[1], d[2]}),
                            randn.invoke(null, (Object) new int[] {d[0], d[2], d[3]})});
                    continue;
                }
                if (layout.equals("reluback")) {
                    // g [M, K] W [K, N] masked by a ReLU output [M, N]: a linear layer's input gradient
                    // (FusedOps.linearBackward with reluInput)
                    operands.add(new Object[] {randn.invoke(null, (Object) new int[] {d[0], d[1]}),
                            randn.invoke(null, (Object) new int[] {d[1], d[2]}),
                            randn.invoke(null, (Object) new int[] {d[0], d[2]}), null});
                    continue;
                }
                if (layout.equals("linear")) {
                    // x [M, K] W^T + b, then ReLU: the product with its epilogue (FusedOps.linear)
                    operands.add(new Object[] {randn.invoke(null, (Object) new int[] {d[0], d[1]}),
                            randn.invoke(null, (Object) new int[] {d[2], d[1]}),
                            randn.invoke(null, (Object) new int[] {d[2]})});
                    continue;
                }
                Object a = layout.charAt(0) == 't' ? transposed.invoke(randn.invoke(null, (Object) new int[] {d[1], d[0]}))
                        : randn.invoke(null, (Object) new int[] {d[0], d[1]});
                Object b = layout.charAt(1) == 't' ? transposed.invoke(randn.invoke(null, (Object) new int[] {d[2], d[1]}))
                        : randn.invoke(null, (Object) new int[] {d[1], d[2]});
                operands.add(new Object[] {a, b});
            }
        }

        /** Milliseconds of one product of shape {@code s}, averaged over {@code reps}. */
        double millis(int s, int reps) throws Exception {
            Object[] ab = operands.get(s);
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                if (ab.length == 4) {
                    linearBackward.invoke(null, ab[0], ab[2], ab[1], true, false, false, true);
                } else if (ab.length == 3) {
                    linear.invoke(null, ab[0], ab[1], ab[2], true);
                } else {
                    matmul.invoke(ab[0], ab[1]);
                }
            }
            return (System.nanoTime() - t0) / 1e6 / reps;
        }
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[2]);
        int rounds = Integer.parseInt(args[3]);
        List<String> shapes = List.of(args[4].split(","));
        Build a = new Build(args[0], threads, shapes);
        Build b = new Build(args[1], threads, shapes);
        for (int s = 0; s < shapes.size(); s++) {
            for (int w = 0; w < 20; w++) {
                a.millis(s, 3);
                b.millis(s, 3);
            }
        }
        for (int s = 0; s < shapes.size(); s++) {
            double[] ta = new double[rounds];
            double[] tb = new double[rounds];
            double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    ta[r] = a.millis(s, 5);
                    tb[r] = b.millis(s, 5);
                } else {
                    tb[r] = b.millis(s, 5);
                    ta[r] = a.millis(s, 5);
                }
                ratio[r] = tb[r] / ta[r];
            }
            Arrays.sort(ta);
            Arrays.sort(tb);
            Arrays.sort(ratio);
            System.out.printf("gemm %s, %d threads: A median %.3f ms | B median %.3f ms | B/A per pair: median %.3f, "
                    + "quartiles %.3f %.3f%n", shapes.get(s), threads, ta[rounds / 2], tb[rounds / 2],
                    ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
        }
    }
}
