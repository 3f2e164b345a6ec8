import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleSupplier;

/**
 * Paired comparison of two builds of Ladon on the lm-step training step: each build gets its own class
 * loader (so its own JIT-compiled code and thread pool) in one JVM, and the two take steps in alternation,
 * A B, B A, ... On a machine whose speed drifts by tens of percent from one second to the next, two runs
 * made minutes apart compare the drift; steps taken side by side share it, and the median of the per-pair
 * ratios B/A is what a change did.
 *
 * <p>Usage (see {@code bench/ab/run}): {@code StepAB CLASSPATH_A CLASSPATH_B PAIRS}; each class path lists
 * one build's tensor, autograd, nn and moe classes and the compiled {@link StepDriver}.
 */
public class StepAB {
    /** One build: its step, and its class loader (for the op profiler's class of that build). */
    record Build(DoubleSupplier step, ClassLoader loader) {
        /** Calls a static method of the build's {@code OpProfiler}. */
        Object profiler(String method, Class<?>[] types, Object... args) throws Exception {
            return loader.loadClass("dev.ladon.tensor.OpProfiler").getMethod(method, types).invoke(null, args);
        }

        /** Whether the build's {@code OpProfiler} times the parts of products ({@code LADON_PROFILE=products}). */
        boolean hasProductProfile() throws Exception {
            try {
                loader.loadClass("dev.ladon.tensor.OpProfiler").getMethod("productTable", int.class);
                return true;
            } catch (NoSuchMethodException e) {
                return false;
            }
        }
    }

    static Build load(String classPath) throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : classPath.split(":")) {
            if (!entry.isBlank()) {
                urls.add(Path.of(entry).toUri().toURL());
            }
        }
        ClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), StepAB.class.getClassLoader().getParent());
        // Backends are found with ServiceLoader through the context loader when the first tensor is made.
        Thread.currentThread().setContextClassLoader(loader);
        return new Build((DoubleSupplier) loader.loadClass("StepDriver").getConstructor().newInstance(), loader);
    }

    public static void main(String[] args) throws Exception {
        Build buildA = load(args[0]);
        Build buildB = load(args[1]);
        DoubleSupplier a = buildA.step();
        DoubleSupplier b = buildB.step();
        int pairs = Integer.parseInt(args[2]);
        for (int w = 0; w < 4; w++) {
            a.getAsDouble();
            b.getAsDouble();
        }
        // LADON_PROFILE=ops (or shapes) also prints each build's op profile over the timed pairs; =products also
        // each build's product profile, where the build has one (from the eleventh session on).
        String profile = System.getenv("LADON_PROFILE");
        boolean products = "products".equals(profile);
        boolean profiling = "ops".equals(profile) || "shapes".equals(profile) || products;
        if (profiling) {
            for (Build build : List.of(buildA, buildB)) {
                if (products && build.hasProductProfile()) {
                    build.profiler("enable", new Class<?>[] {boolean.class, boolean.class}, false, true);
                } else {
                    build.profiler("enable", new Class<?>[] {boolean.class}, "shapes".equals(profile));
                }
            }
        }
        double[] ta = new double[pairs];
        double[] tb = new double[pairs];
        double[] ratio = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            if (p % 2 == 0) {
                ta[p] = a.getAsDouble();
                tb[p] = b.getAsDouble();
            } else {
                tb[p] = b.getAsDouble();
                ta[p] = a.getAsDouble();
            }
            ratio[p] = tb[p] / ta[p];
        }
        Arrays.sort(ta);
        Arrays.sort(tb);
        Arrays.sort(ratio);
        System.out.printf("A median %.1f ms | B median %.1f ms | B/A per pair: median %.3f, quartiles %.3f %.3f%n",
                ta[pairs / 2], tb[pairs / 2], ratio[pairs / 2], ratio[pairs / 4], ratio[3 * pairs / 4]);
        if (profiling) {
            for (Build build : List.of(buildA, buildB)) {
                System.out.println((build == buildA ? "A " : "B ") + build.profiler("table", new Class<?>[0]));
                if (products) {
                    System.out.println(build.hasProductProfile()
                            ? build.profiler("productTable", new Class<?>[] {int.class}, 2)
                            : "(this build has no product profile)");
                }
            }
        }
    }
}
