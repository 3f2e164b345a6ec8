import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Paired comparison of two builds of the tensor module on the lm-step model's fused attention (16 x 4 heads,
 * T = 128, d_h = 64, causal): each build in its own class loader, forward-and-backward calls alternating
 * between them, as {@link StepAB} does for whole training steps.
 *
 * <p>Usage (see {@code bench/ab/run}): {@code AttentionAB TENSOR_CLASSES_A TENSOR_CLASSES_B THREADS ROUNDS [rope]};
 * with {@code rope}, the queries and keys are rotated inside the kernel (half of each head's channels), as in
 * the lm-step model.
 */
public class AttentionAB {
    /** One build's attention, called through reflection on its own classes. */
    static final class Build {
        private final Method attention;
        private final Method backward;
        private final Object q;
        private final Object k;
        private final Object v;
        private final Object grad;
        /** The RoPE tables (half of each head's channels rotated, as the lm-step model), or null without RoPE. */
        private final Object rotation;
        private final Method rotatedAttention;
        private final Method rotatedBackward;

        Build(String classes, int threads, boolean rope) throws Exception {
            ClassLoader loader = new URLClassLoader(new URL[] {Path.of(classes).toUri().toURL()},
                    AttentionAB.class.getClassLoader().getParent());
            Thread.currentThread().setContextClassLoader(loader);
            loader.loadClass("dev.ladon.tensor.cpu.Parallel").getMethod("setNumThreads", int.class)
                    .invoke(null, threads);
            Class<?> tensor = loader.loadClass("dev.ladon.tensor.Tensor");
            Class<?> fused = loader.loadClass("dev.ladon.tensor.FusedOps");
            Method randn = tensor.getMethod("randn", int[].class);
            Method permute = tensor.getMethod("permute", int[].class);
            // heads split off a [B, T, H, D] projection, as the model feeds them
            int[] heads = {0, 2, 1, 3};
            q = permute.invoke(randn.invoke(null, (Object) new int[] {16, 128, 4, 64}), (Object) heads);
            k = permute.invoke(randn.invoke(null, (Object) new int[] {16, 128, 4, 64}), (Object) heads);
            v = permute.invoke(randn.invoke(null, (Object) new int[] {16, 128, 4, 64}), (Object) heads);
            // the output gradient as the output projection's input gradient hands it back: [B, T, H, D] by heads
            grad = permute.invoke(randn.invoke(null, (Object) new int[] {16, 128, 4, 64}), (Object) heads);
            attention = fused.getMethod("attention", tensor, tensor, tensor, tensor, double.class, boolean.class);
            Class<?> result = loader.loadClass("dev.ladon.tensor.FusedOps$AttentionResult");
            backward = fused.getMethod("attentionBackward", tensor, tensor, tensor, tensor, tensor, result, double.class,
                    boolean.class);
            Class<?> rotationType = loader.loadClass("dev.ladon.tensor.FusedOps$AttentionRotation");
            Object angles = randn.invoke(null, (Object) new int[] {128, 16});
            Object cos = tensor.getMethod("cos").invoke(angles);
            Object sin = tensor.getMethod("sin").invoke(angles);
            rotation = rope ? rotationType.getConstructor(tensor, tensor, tensor, tensor).newInstance(cos, sin, cos, sin)
                    : null;
            rotatedAttention = fused.getMethod("attention", tensor, tensor, tensor, tensor, rotationType, double.class,
                    boolean.class);
            rotatedBackward = fused.getMethod("attentionBackward", tensor, tensor, tensor, tensor, tensor, rotationType,
                    result, double.class, boolean.class);
        }

        /** Milliseconds of one forward and backward, averaged over {@code reps}. */
        double millis(int reps) throws Exception {
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                if (rotation == null) {
                    Object saved = attention.invoke(null, q, k, v, null, 0.125, true);
                    backward.invoke(null, grad, q, k, v, null, saved, 0.125, true);
                } else {
                    Object saved = rotatedAttention.invoke(null, q, k, v, null, rotation, 0.125, true);
                    rotatedBackward.invoke(null, grad, q, k, v, null, rotation, saved, 0.125, true);
                }
            }
            return (System.nanoTime() - t0) / 1e6 / reps;
        }
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[2]);
        int rounds = Integer.parseInt(args[3]);
        boolean rope = args.length > 4 && args[4].equals("rope");
        Build a = new Build(args[0], threads, rope);
        Build b = new Build(args[1], threads, rope);
        for (int w = 0; w < 10; w++) {
            a.millis(3);
            b.millis(3);
        }
        double[] ta = new double[rounds];
        double[] tb = new double[rounds];
        double[] ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            if (r % 2 == 0) {
                ta[r] = a.millis(5);
                tb[r] = b.millis(5);
            } else {
                tb[r] = b.millis(5);
                ta[r] = a.millis(5);
            }
            ratio[r] = tb[r] / ta[r];
        }
        Arrays.sort(ta);
        Arrays.sort(tb);
        Arrays.sort(ratio);
        System.out.printf("attention%s forward+backward, %d threads: A median %.2f ms | B median %.2f ms | B/A per pair: "
                + "median %.3f, quartiles %.3f %.3f%n", rope ? " with RoPE" : "", threads, ta[rounds / 2], tb[rounds / 2], ratio[rounds / 2],
                ratio[rounds / 4], ratio[3 * rounds / 4]);
    }
}
