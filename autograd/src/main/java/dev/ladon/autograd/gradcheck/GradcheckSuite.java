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

    /**
     * How far two backward passes may differ on a device other than the CPU, for cases that ask for
     * bit-identical ones. A GPU adds with atomics where several threads update one element (scatterAdd,
     * indexAdd, the grouped expert matmul's backward), in an order that varies from run to run, so float64
     * sums may differ in their last bits; a wrong or racing kernel differs by far more.
     */
    public static final double DEVICE_NONDETERMINISM_TOLERANCE = 1e-12;

    /**
     * Every provider's cases built on {@code device} ({@link GradcheckCaseProvider#cases(Device)}); off the
     * CPU, a case that asks for a deterministic backward allows {@link #DEVICE_NONDETERMINISM_TOLERANCE}.
     */
    public static List<GradcheckCase> load(ClassLoader loader, Device device) {
        List<GradcheckCase> cases = new ArrayList<>();
        for (GradcheckCaseProvider provider : ServiceLoader.load(GradcheckCaseProvider.class, loader)) {
            for (GradcheckCase c : provider.cases(device)) {
                boolean atomicSums = !device.isCpu() && c.options().nondetTolerance() == 0;
                cases.add(atomicSums
                        ? c.withOptions(c.options().withNondetTolerance(DEVICE_NONDETERMINISM_TOLERANCE)) : c);
            }
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
