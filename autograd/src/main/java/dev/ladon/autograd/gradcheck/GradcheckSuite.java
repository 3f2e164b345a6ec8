package dev.ladon.autograd.gradcheck;

import dev.ladon.tensor.Device;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** The registered gradient-check cases of every {@link GradcheckCaseProvider} on a class path, and a runner. */
public final class GradcheckSuite {
    private GradcheckSuite() {
    }

    /** Counts of one run. */
    public record Summary(int passed, int failed) {
    }

    /** Every provider's cases on the CPU, providers in class-path order. */
    public static List<GradcheckCase> load(ClassLoader loader) {
        return load(loader, Device.CPU);
    }

    /** Every provider's cases built on {@code device} ({@link GradcheckCaseProvider#cases(Device)}). */
    public static List<GradcheckCase> load(ClassLoader loader, Device device) {
        List<GradcheckCase> cases = new ArrayList<>();
        for (GradcheckCaseProvider provider : ServiceLoader.load(GradcheckCaseProvider.class, loader)) {
            cases.addAll(provider.cases(device));
        }
        return cases;
    }

    /**
     * Runs the cases, printing one line per case ({@code PASS name (...)} or {@code FAIL name: why}) and
     * the closing line {@code N passed, M failed}.
     */
    public static Summary run(List<GradcheckCase> cases, PrintStream out) {
        int passed = 0;
        int failed = 0;
        for (GradcheckCase c : cases) {
            long start = System.nanoTime();
            GradcheckResult r = c.run();
            double ms = (System.nanoTime() - start) / 1e6;
            if (r.passed()) {
                passed++;
                out.printf("PASS %s (%.0f ms; %s)%n", c.name(), ms, r.summary());
            } else {
                failed++;
                out.printf("FAIL %s: %s%n", c.name(), r.summary());
            }
        }
        out.println(passed + " passed, " + failed + " failed");
        return new Summary(passed, failed);
    }
}
