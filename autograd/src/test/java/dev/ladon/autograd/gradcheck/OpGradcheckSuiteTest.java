package dev.ladon.autograd.gradcheck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every registered op case passes gradcheck, and every differentiable op has a case. */
class OpGradcheckSuiteTest {
    /** Public methods of Variable that return Variables but are not ops (they make or cut leaves). */
    private static final Set<String> NOT_OPS = Set.of("constant", "parameter", "detach");

    private static List<GradcheckCase> autogradCases() {
        return new AutogradOpCases().cases();
    }

    @TestFactory
    Stream<DynamicTest> everyOpPassesGradcheck() {
        return autogradCases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            GradcheckResult r = c.run();
            assertThat(r.passed()).as(c.name() + ": " + r.summary()).isTrue();
        }));
    }

    /** Names of the public differentiable ops: methods returning a Variable, a list of them, or top-k values. */
    static Set<String> differentiableOps() {
        Set<String> ops = new TreeSet<>();
        for (Class<?> api : List.of(Variable.class, Functional.class)) {
            for (Method m : api.getDeclaredMethods()) {
                boolean returnsGraph = m.getReturnType() == Variable.class || m.getReturnType() == List.class
                        || m.getReturnType() == Variable.TopK.class;
                if (Modifier.isPublic(m.getModifiers()) && returnsGraph && !NOT_OPS.contains(m.getName())) {
                    ops.add(m.getName());
                }
            }
        }
        return ops;
    }

    @Test
    void everyDifferentiableOpHasAGradcheckCase() {
        Set<String> covered = new HashSet<>();
        autogradCases().forEach(c -> covered.addAll(c.covers()));
        Set<String> ops = differentiableOps();
        Set<String> missing = new TreeSet<>(ops);
        missing.removeAll(covered);
        assertThat(missing).as("differentiable ops without a gradcheck case in AutogradOpCases").isEmpty();
        // And no case claims an op that does not exist (a typo would hide a missing case).
        Set<String> unknown = new TreeSet<>(covered);
        unknown.removeAll(ops);
        assertThat(unknown).as("covered names that are not differentiable ops").isEmpty();
        assertThat(ops).contains("matmul", "softmax", "layerNorm", "crossEntropy", "topk", "split", "cat");
    }

    @Test
    void theSuiteFindsTheAutogradProviderThroughServiceLoader() {
        List<GradcheckCase> loaded = GradcheckSuite.load(getClass().getClassLoader());
        assertThat(loaded.stream().map(GradcheckCase::name)).containsAll(autogradCases().stream().map(GradcheckCase::name)
                .toList());
    }

    @Test
    void caseNamesAreUnique() {
        List<String> names = autogradCases().stream().map(GradcheckCase::name).toList();
        assertThat(names).doesNotHaveDuplicates();
    }
}
