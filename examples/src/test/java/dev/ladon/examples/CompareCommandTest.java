package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.accounting.ParameterCount;
import dev.ladon.tensor.Generator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareCommandTest {
    @TempDir
    Path dir;

    @Test
    void matchedConfigsAreWithinToleranceOfDenseAndModelsHaveThatManyParameters() {
        List<ModelConfig> configs = CompareCommand.matchedConfigs(CompareCommand.MODELS, 32, 256);
        assertThat(configs).hasSize(4);
        long dense = ParameterCount.of(configs.get(0)).total();
        for (ModelConfig c : configs) {
            long count = ParameterCount.of(c).total();
            assertThat(Math.abs(count - dense) / (double) dense).as(c.name()).isLessThan(CompareCommand.MATCH_TOLERANCE);
            // The accounting must describe the model actually built, to the parameter: compare prints the
            // count before training and train prints the built model's.
            assertThat(LanguageModels.build(c, new Generator(1)).parameterCount()).as(c.name() + " built")
                    .isEqualTo(count);
        }
    }

    @Test
    void compareWritesAFourRowTableWithFiniteNumbersAndUsageFiles() throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(captured, true));
        int code;
        try {
            code = new CompareCommand().run(new String[] {"--steps", "2", "--batch", "2", "--context", "16",
                    "--eval-tokens", "96", "--corpus-bytes", "60000", "--out", dir.toString()});
        } finally {
            System.setOut(old);
        }
        assertThat(code).isZero();
        String printed = captured.toString();
        for (String m : CompareCommand.MODELS) {
            assertThat(printed).contains(m + "-small");
        }
        List<String> csv = Files.readAllLines(dir.resolve("compare.csv"));
        assertThat(csv).hasSize(5);
        for (String line : csv.subList(1, 5)) {
            String[] f = line.split(",");
            assertThat(f).hasSize(10);
            for (int i = 1; i < f.length; i++) {
                double v = Double.parseDouble(f[i]);
                assertThat(Double.isFinite(v) && v > 0).as(line + " column " + i).isTrue();
            }
            // ppl = exp(nll) and bits per byte = nll / ln 2 for byte tokens.
            double nll = Double.parseDouble(f[4]);
            assertThat(Double.parseDouble(f[5])).isCloseTo(Math.exp(nll), org.assertj.core.data.Percentage.withPercentage(1e-3));
            assertThat(Double.parseDouble(f[6])).isCloseTo(nll / Math.log(2), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(Long.parseLong(f[9])).isEqualTo(96);
        }
        // Dense has no experts; the three expert models each leave usage CSVs and at least one heatmap.
        for (String m : List.of("switchhead-small", "moa-small", "switchall-small")) {
            assertThat(dir.resolve(m + "-usage.csv")).exists();
            assertThat(dir.resolve(m + "-entropy.csv")).exists();
            try (var files = Files.list(dir)) {
                assertThat(files.filter(p -> p.getFileName().toString().startsWith(m) && p.toString().endsWith(".png")))
                        .isNotEmpty();
            }
        }
        assertThat(dir.resolve("dense-small-usage.csv")).doesNotExist();
    }

    @Test
    void paperSizeUsesThePublished47mConfigurationsAtTheGivenContextAndVocabulary() {
        List<ModelConfig> configs = CompareCommand.paperConfigs(CompareCommand.MODELS, 128, 256);
        assertThat(configs).extracting(ModelConfig::name)
                .containsExactly("xl-47m", "switchhead-47m", "moa-47m-k4", "switchall-47m");
        long dense = ParameterCount.of(configs.get(0)).total();
        for (ModelConfig c : configs) {
            assertThat(c.context()).as(c.name()).isEqualTo(128);
            assertThat(c.vocabSize()).as(c.name()).isEqualTo(256);
            // The papers matched these to the dense model; a byte vocabulary shifts every count alike.
            long count = ParameterCount.of(c).total();
            assertThat(Math.abs(count - dense) / (double) dense).as(c.name()).isLessThan(0.1);
        }
    }

    @Test
    void unknownSizeIsRejected() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new CompareCommand().run(new String[] {"--size", "huge"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("huge");
    }

    @Test
    void unknownModelIsRejected() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> CompareCommand.parseModels("dense,foo"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("foo");
        assertThat(CompareCommand.parseModels("moa, dense,moa")).containsExactly("moa", "dense");
    }

    @Test
    void analyzeTrainsInProcessAndWritesUsage() throws IOException {
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
        try {
            new AnalyzeCommand().run(new String[] {"--model", "switchhead-small", "--steps", "1", "--batch", "2",
                    "--context", "16", "--eval-tokens", "64", "--corpus-bytes", "40000", "--out", dir.toString()});
        } finally {
            System.setOut(old);
        }
        assertThat(dir.resolve("switchhead-small-usage.csv")).exists();
        assertThat(dir.resolve("switchhead-small-coselection.csv")).exists();
    }

    @Test
    void aModelThatDivergesStopsTheComparisonInsteadOfFillingTheTableWithInfinity() throws Exception {
        MainTest.Result r = MainTest.ladon("compare", "--models", "dense", "--steps", "3", "--batch", "2", "--context",
                "16", "--eval-tokens", "96", "--corpus-bytes", "60000", "--lr", "1e6", "--out", dir.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).contains("dense-small diverged").contains("try a lower --lr (now 1000000.0)");
        assertThat(r.out()).doesNotContain("Infinity");
        assertThat(dir.resolve("compare.csv")).doesNotExist();
    }

    @Test
    void analyzeRefusesWhatItWouldIgnoreOrCouldNotWriteBeforeAnyWork() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AnalyzeCommand().run(new String[] {"--steps", "1",
            "--out", file.toString()})).hasMessage("--out " + file + " is a file, not a directory");
        // With a checkpoint, the training options have nothing to change: refused, not ignored.
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AnalyzeCommand().run(new String[] {
            dir.toString(), "--steps", "99", "--lr", "-1"}))
                .hasMessage("--steps applies only when analyze trains a model (without CHECKPOINT_DIR); the "
                        + "checkpoint's model is analysed as saved");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AnalyzeCommand().run(new String[] {
            dir.toString(), "--eval-tokens", "-5"})).hasMessage("--eval-tokens must be positive, got -5");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AnalyzeCommand().run(new String[] {
            dir.toString(), "other"})).hasMessage("one CHECKPOINT_DIR expected, got '" + dir + "' and 'other'");
    }
}
