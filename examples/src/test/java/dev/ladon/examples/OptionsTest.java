package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptionsTest {
    private static Options parse(String... args) {
        return new Options(args, "steps", "lr", "prompt", "out", "data", "resume!");
    }

    @Test
    void valuesComeAfterTheNameOrAfterAnEqualsSign() {
        Options o = parse("--steps", "5", "--lr=0.01", "--resume");
        assertThat(o.getInt("steps", 1)).isEqualTo(5);
        assertThat(o.getDouble("lr", 1)).isEqualTo(0.01);
        assertThat(o.flag("resume")).isTrue();
        assertThat(parse().getInt("steps", 7)).isEqualTo(7);
    }

    @Test
    void savedValuesFillTheOptionsNotGivenAndTheOnesGivenDifferentlyAreListed() {
        Options o = parse("--lr", "1e-3", "--steps", "10");
        java.util.Map<String, String> saved = new java.util.LinkedHashMap<>();
        saved.put("steps", "10");
        saved.put("lr", "0.002");
        saved.put("data", "corpus.txt");
        saved.put("out", "");
        assertThat(o.takeUnsetFrom(saved)).containsExactly("--lr 1e-3 (saved: 0.002)");
        assertThat(o.get("data", null)).isEqualTo("corpus.txt");
        assertThat(o.has("out")).as("an empty saved value means none was given").isFalse();
        assertThat(o.getDouble("lr", 0)).isEqualTo(1e-3);
        assertThat(parse("--lr", "0.001").takeUnsetFrom(java.util.Map.of("lr", "1e-3"))).as("equal as numbers")
                .isEmpty();
    }

    @Test
    void aFlagGivenAValueIsRefusedNotReadAsYes() {
        // --resume=false used to resume: the value was dropped.
        assertThatThrownBy(() -> parse("--resume=false")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--resume is a flag and takes no value, got '--resume=false' (leave it out for no)");
    }

    @Test
    void argumentsThatAreNotOptionsAreRefusedUnlessTheCommandTakesOne() {
        assertThatThrownBy(() -> parse("--steps", "5", "extra")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unexpected argument 'extra' (options start with --)");
        Options one = Options.withPositional(new String[] {"run/a", "--steps", "2"}, "CHECKPOINT_DIR", "steps");
        assertThat(one.positional()).isEqualTo("run/a");
        // Two are not joined into one path with a space.
        assertThatThrownBy(() -> Options.withPositional(new String[] {"run/a", "run/b"}, "CHECKPOINT_DIR"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("one CHECKPOINT_DIR expected, got 'run/a' and 'run/b'");
    }

    @Test
    void helpIsAskedForOnlyWhereAnOptionNameIsExpected() {
        assertThat(parse("--prompt", "-h").get("prompt", null)).isEqualTo("-h");
        assertThat(parse("--prompt", "--help").get("prompt", null)).isEqualTo("--help");
        assertThatThrownBy(() -> parse("--prompt", "x", "-h")).isInstanceOf(Options.HelpRequested.class);
        // Help wins over a mistake made on the same line.
        assertThatThrownBy(() -> parse("--bogus", "--help")).isInstanceOf(Options.HelpRequested.class);
        assertThatThrownBy(() -> parse("--bogus")).hasMessage("unknown option --bogus");
    }

    @Test
    void numbersOutsideTheirRangeNameTheOptionTheBoundAndTheValue() {
        assertThatThrownBy(() -> parse("--steps", "0").getInt("steps", 1, 1, Integer.MAX_VALUE))
                .hasMessage("--steps must be positive, got 0");
        assertThatThrownBy(() -> parse("--steps", "-5").getInt("steps", 1, 0, 1_000_000))
                .hasMessage("--steps must be >= 0, got -5");
        assertThatThrownBy(() -> parse("--steps", "2147483647").getInt("steps", 1, 0, 1_000_000))
                .hasMessage("--steps must be <= 1000000, got 2147483647");
        assertThatThrownBy(() -> parse("--steps", "3000000000").getInt("steps", 1))
                .hasMessage("--steps must be <= 2147483647, got 3000000000");
        assertThatThrownBy(() -> parse("--steps", "x").getInt("steps", 1))
                .hasMessage("--steps expects an integer, got 'x'");
        assertThatThrownBy(() -> parse("--lr", "-1").getDouble("lr", 1, 0, Double.POSITIVE_INFINITY))
                .hasMessage("--lr must be >= 0, got -1");
        for (String notFinite : new String[] {"NaN", "Infinity", "-Infinity"}) {
            assertThatThrownBy(() -> parse("--lr", notFinite).getDouble("lr", 1))
                    .hasMessage("--lr expects a finite number, got '" + notFinite + "'");
        }
    }

    @Test
    void theNamedRangesArePositiveFromOneAndNonNegativeFromZero() {
        assertThat(parse("--steps", "1").getPositiveInt("steps", 7)).isEqualTo(1);
        assertThatThrownBy(() -> parse("--steps", "0").getPositiveInt("steps", 7))
                .hasMessage("--steps must be positive, got 0");
        assertThat(parse("--steps", "0").getNonNegativeInt("steps", 7)).isZero();
        assertThatThrownBy(() -> parse("--steps", "-1").getNonNegativeInt("steps", 7))
                .hasMessage("--steps must be >= 0, got -1");
        assertThatThrownBy(() -> parse("--steps", "0").getPositiveLong("steps", 7))
                .hasMessage("--steps must be positive, got 0");
        assertThat(parse("--lr", "0").getNonNegativeDouble("lr", 1)).isZero();
        assertThatThrownBy(() -> parse("--lr", "-0.5").getNonNegativeDouble("lr", 1))
                .hasMessage("--lr must be >= 0, got -0.5");
        assertThat(parse().getPositiveInt("steps", 7)).as("the fallback when not given").isEqualTo(7);
    }

    @Test
    void emptyTextAndOptionsAModeDoesNotUseAreRefused() {
        assertThatThrownBy(() -> parse("--data", "").getNonEmpty("data", null)).hasMessage("--data is empty");
        assertThat(parse().getNonEmpty("data", "fallback")).isEqualTo("fallback");
        Options o = parse("--steps", "3");
        o.refuse("applies only when training", "lr");
        assertThatThrownBy(() -> o.refuse("applies only when training", "lr", "steps"))
                .hasMessage("--steps applies only when training");
    }

    @Test
    void anOutputDirectoryThatIsAFileIsSaidToBeOne(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertThatThrownBy(() -> parse("--out", file.toString()).outputPath("runs/x"))
                .hasMessage("--out " + file + " is a file, not a directory");
        assertThatThrownBy(() -> parse("--out", "").outputPath("runs/x")).hasMessage("--out is empty");
        assertThat(parse("--out", dir.toString()).outputPath("runs/x")).isEqualTo(dir);
    }

    @Test
    void devicesAreCpuCudaOrCudaN() {
        assertThat(new Options(new String[] {"--device", "CPU"}, "device").device().isCpu()).isTrue();
        for (String bad : new String[] {"bogus", "", "cuda:x", "cpu:1", "gpu"}) {
            assertThatThrownBy(() -> new Options(new String[] {"--device", bad}, "device").device())
                    .hasMessage("--device expects cpu, cuda or cuda:N, got '" + bad + "'");
        }
    }
}
