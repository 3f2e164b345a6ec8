package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckCaseProvider;
import dev.ladon.autograd.gradcheck.GradcheckResult;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Every nn layer passes the gradient check in float64, and the suite finds nn's cases through the service file. */
class NnGradcheckCasesTest {
    @Test
    void everyLayerCasePassesGradcheck() {
        StringBuilder failures = new StringBuilder();
        List<GradcheckCase> cases = new NnGradcheckCases().cases();
        for (GradcheckCase c : cases) {
            GradcheckResult r = c.run();
            if (!r.passed()) {
                failures.append(c.name()).append(": ").append(r.summary()).append('\n');
            }
        }
        assertThat(failures.toString()).isEmpty();
        assertThat(cases).hasSizeGreaterThanOrEqualTo(18);
    }

    @Test
    void serviceLoaderFindsTheNnProvider() {
        boolean found = false;
        for (GradcheckCaseProvider p : ServiceLoader.load(GradcheckCaseProvider.class)) {
            found |= p instanceof NnGradcheckCases;
        }
        assertThat(found).isTrue();
    }
}
