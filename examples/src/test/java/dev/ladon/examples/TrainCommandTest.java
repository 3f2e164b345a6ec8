package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.nn.Parameter;
import dev.ladon.nn.data.BpeTokenizer;
import dev.ladon.nn.data.ByteTokenizer;
import dev.ladon.nn.data.Tokenizer;
import dev.ladon.nn.io.SafeTensors;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    private static int[] tokens(int n) {
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
            b[i] = i;
        }
        return b;
    }

    /** Seeded pseudo-words, so the text is not a single repeated period. */
    static Path textFile(Path dir) throws Exception {
        Random r = new Random(7);
        String[] words = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"};
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 3000) {
            sb.append(words[r.nextInt(words.length)]).append(r.nextInt(8) == 0 ? ".\n" : " ");
        }
        Path text = dir.resolve("text.txt");
        Files.writeString(text, sb, StandardCharsets.UTF_8);
        return text;
    }

    static String[] tiny(Path text, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("--data", text.toString(), "--out", out.toString(),
                "--d-model", "16", "--layers", "1", "--heads", "2", "--head-dim", "8", "--d-ff", "32", "--context", "8",
                "--batch", "2", "--eval-every", "2", "--sample", "4", "--dropout", "0.2", "--threads", "1"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    static String runCapturing(String[] args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            assertThat(new TrainCommand().run(args)).isZero();
        } finally {
            System.setOut(old);
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }

    @Test
    void segmentsContinueEachStreamAndTargetsAreTheNextTokens() {
        // 40 tokens in 2 streams of 20: stream 0 is tokens 0..19, stream 1 is 20..39.
        TrainCommand.Streams streams = new TrainCommand.Streams(tokens(40), 2, 6);
        TrainCommand.Streams.Segment first = streams.next();
        TrainCommand.Streams.Segment second = streams.next();
        assertThat(first.inputs().toLongArray()).containsExactly(0, 1, 2, 3, 4, 5, 20, 21, 22, 23, 24, 25);
        assertThat(first.targets().toLongArray()).containsExactly(1, 2, 3, 4, 5, 6, 21, 22, 23, 24, 25, 26);
        assertThat(second.inputs().toLongArray()).containsExactly(6, 7, 8, 9, 10, 11, 26, 27, 28, 29, 30, 31);
        assertThat(second.restarted()).isFalse();
        streams.next();
        // Position 18 + 7 would run past the stream: the fourth segment starts over.
        assertThat(streams.next().restarted()).isTrue();
        assertThat(streams.all()).hasSize(3);
    }

    @Test
    void tooShortATextIsReportedWithWhatItHasAndNeeds() {
        assertThatThrownBy(() -> new TrainCommand.Streams(tokens(10), 2, 6, "validation text", "because"))
                .hasMessage("the validation text is too short: 10 tokens make 2 streams of 5, and each stream needs "
                        + "context + 1 = 7 (14 tokens in all); because");
    }

    @Test
    void aTextFileOfOneLineHasNoValidationAndTheMessageSaysWhy(@TempDir Path dir) throws Exception {
        // Validation starts at the first line that begins in the last 10%: one long line leaves none.
        Path oneLine = Files.writeString(dir.resolve("one-line.txt"), "the cat sat on the mat ".repeat(200));
        assertThatThrownBy(() -> new TrainCommand().run(tiny(oneLine, dir.resolve("run"), "--steps", "1")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the validation text is too short: 0 tokens make 2 streams of 0")
                .hasMessageContaining("the validation split of one-line.txt is its last 10%, from the first line "
                        + "that starts there");
        // Too few --eval-tokens is said as such, before the split is looked at.
        assertThatThrownBy(() -> new TrainCommand().run(tiny(textFile(dir), dir.resolve("run"), "--steps", "1",
                "--eval-tokens", "10"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--eval-tokens 10 is below the 17 that validation needs: 2 streams of context + 1 = 9 "
                        + "tokens (0 evaluates the whole split)");
    }

    @Test
    void halfARunThenResumeEqualsTheWholeRun(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path whole = dir.resolve("whole");
        Path split = dir.resolve("split");
        String wholeOut = runCapturing(tiny(text, whole, "--steps", "6"));
        String firstOut = runCapturing(tiny(text, split, "--steps", "6", "--stop-after", "3"));
        assertThat(firstOut).contains("stopped after step 3 of 6").doesNotContain("validation perplexity");
        assertThat(Files.exists(split.resolve("loss.png"))).isFalse();
        String resumedOut = runCapturing(tiny(text, split, "--steps", "6", "--resume"));
        assertThat(resumedOut).contains("resuming");

        double[] expected = SafeTensors.load(whole.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        double[] actual = SafeTensors.load(split.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        assertThat(expected).hasSize(6);
        // Dropout is on, so equal losses need the restored generator, memory, position and optimizer moments.
        assertSameRun(actual, expected);
        Map<String, Tensor> a = SafeTensors.load(whole.resolve(TrainingCheckpoint.MODEL));
        Map<String, Tensor> b = SafeTensors.load(split.resolve(TrainingCheckpoint.MODEL));
        assertThat(b.keySet()).isEqualTo(a.keySet());
        for (String name : a.keySet()) {
            assertThat(b.get(name).toDoubleArray()).as(name).containsExactly(a.get(name).toDoubleArray());
        }
        String last = lastLine(wholeOut);
        assertThat(last).matches("validation perplexity [0-9.]+ \\| bits per byte [0-9.]+");
        assertThat(lastLine(resumedOut)).isEqualTo(last);
        assertThat(Files.size(whole.resolve("loss.png"))).isPositive();
    }

    @Test
    void aResumedRunTakesTheOptionsItWasStartedWithUnlessGivenAgain(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path whole = dir.resolve("whole");
        Path split = dir.resolve("split");
        String[] schedule = {"--steps", "6", "--lr", "0.004", "--warmup", "1", "--clip", "0.5"};
        runCapturing(tiny(text, whole, schedule));
        String[] first = tiny(text, split, schedule);
        List<String> firstArgs = new ArrayList<>(List.of(first));
        firstArgs.addAll(List.of("--stop-after", "3"));
        runCapturing(firstArgs.toArray(String[]::new));
        // Only the data and sizes again: steps, lr, warmup and clip come from the checkpoint, not the defaults.
        String resumed = runCapturing(tiny(text, split, "--resume"));
        assertThat(resumed).doesNotContain("note: continuing with");
        double[] expected = SafeTensors.load(whole.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        double[] actual = SafeTensors.load(split.resolve(TrainingCheckpoint.TRAINER)).get("loss.train").toDoubleArray();
        assertSameRun(actual, expected);
        // Given again with another value, an option applies, and the run says so.
        Path other = dir.resolve("other");
        List<String> otherArgs = new ArrayList<>(List.of(tiny(text, other, schedule)));
        otherArgs.addAll(List.of("--stop-after", "3"));
        runCapturing(otherArgs.toArray(String[]::new));
        String changed = runCapturing(tiny(text, other, "--resume", "--lr", "1e-3"));
        assertThat(changed).contains("note: continuing with --lr 1e-3 (saved: 0.004)");
    }

    /**
     * A resumed run repeats the same arithmetic to the last bit: the CPU kernels' exp, log and tanh give the
     * same bits whether the JIT has compiled them yet or not (FloatMath), so a fresh JVM that resumes from a
     * checkpoint computes what the warm one computed. Any missed piece of restored state (dropout masks,
     * memory, optimizer moments, data position) shows as a difference.
     */
    private static void assertSameRun(double[] actual, double[] expected) {
        assertThat(actual).containsExactly(expected);
    }

    private static String lastLine(String out) {
        String[] lines = out.strip().split("\n");
        return lines[lines.length - 1].strip();
    }

    @Test
    void aRunDirectoryThatCannotBeMadeOrResumedFailsBeforeAnyTraining(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
        PrintStream old = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            // --out below a plain file: the directory cannot be made, and nothing is trained first.
            assertThatThrownBy(() -> new TrainCommand().run(tiny(text, file.resolve("run"), "--steps", "2")))
                    .isInstanceOf(java.nio.file.FileSystemException.class);
            assertThatThrownBy(() -> new TrainCommand().run(tiny(text, dir.resolve("never-run"), "--steps", "2",
                    "--resume"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("--resume: no run in " + dir.resolve("never-run"));
        } finally {
            System.setOut(old);
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).doesNotContain("step 1");
        assertThat(dir.resolve("never-run")).doesNotExist();
    }

    @Test
    void aDeviceWithoutABackendIsRefusedBeforeAnythingIsMade(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path out = dir.resolve("run");
        for (String device : List.of("tpu", "cuda:x", "", "cpu:1")) {
            assertThatThrownBy(() -> new TrainCommand().run(tiny(text, out, "--steps", "1", "--device", device)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("--device expects cpu, cuda or cuda:N, got '" + device + "'");
        }
        assertThat(out).doesNotExist();
        // cpu is what the other tests run by default; named, it trains the same way.
        String printed = runCapturing(tiny(text, out, "--steps", "1", "--device", "cpu"));
        assertThat(lastLine(printed)).startsWith("validation perplexity");
    }

    @Test
    void perplexityAndBitsPerByteAgreeForByteTokens(@TempDir Path dir) throws Exception {
        // With one byte per token, bits per byte = log2(perplexity).
        String out = runCapturing(tiny(textFile(dir), dir.resolve("run"), "--steps", "2"));
        // A dense model has no experts: no usage files, no line about them.
        assertThat(dir.resolve("run").resolve("usage")).doesNotExist();
        assertThat(out).doesNotContain("expert usage");
        String[] parts = lastLine(out).replace("validation perplexity ", "").split(" \\| bits per byte ");
        double ppl = Double.parseDouble(parts[0]);
        double bpb = Double.parseDouble(parts[1]);
        assertThat(bpb).isCloseTo(Math.log(ppl) / Math.log(2), org.assertj.core.data.Offset.offset(2e-3));
    }

    @Test
    void bpeRunSavesItsTokenizerAndGenerateReloadsEverything(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("bpe");
        runCapturing(tiny(textFile(dir), out, "--steps", "2", "--tokenizer", "bpe", "--vocab", "270"));
        Tokenizer saved = Tokenizer.load(out.resolve(TrainingCheckpoint.TOKENIZER));
        assertThat(saved).isInstanceOf(BpeTokenizer.class);
        assertThat(saved.vocabSize()).isEqualTo(270);
        ModelConfig config = TrainingCheckpoint.loadModel(out).config();
        assertThat(config.vocabSize()).isEqualTo(270);
        assertThat(config.dModel()).isEqualTo(16);

        String a = GenerateCommand.generate(out, "the cat", 12, 0.8, 5, 3, Device.CPU);
        String b = GenerateCommand.generate(out, "the cat", 12, 0.8, 5, 3, Device.CPU);
        assertThat(a).startsWith("the cat").isEqualTo(b);
        assertThat(saved.encode(a).length).isGreaterThan(saved.encode("the cat").length);
    }

    @Test
    void anExpertModelTrainsWithItsAuxiliaryLoss(@TempDir Path dir) throws Exception {
        String out = runCapturing(new String[] {"--data", textFile(dir).toString(), "--out", dir.resolve("sa").toString(),
                "--model", "switchall-small", "--layers", "1", "--context", "8", "--batch", "2", "--steps", "2",
                "--sample", "0", "--threads", "1"});
        assertThat(out).contains("SWITCHALL");
        assertThat(lastLine(out)).startsWith("validation perplexity");
        assertThat(TrainingCheckpoint.loadModel(dir.resolve("sa")).config().name()).isEqualTo("switchall-small");
    }

    @Test
    void anExpertRunWritesTrainingAndValidationUsage(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("sa");
        int steps = 3;
        int batch = 2;
        int context = 8;
        int evalTokens = 200;
        // RoPE: no memory, so SwitchHead's source side sees exactly the segment's tokens, as the others do.
        String out = runCapturing(new String[] {"--data", textFile(dir).toString(), "--out", run.toString(), "--model",
                "switchall-small", "--layers", "1", "--d-model", "16", "--heads", "2", "--head-dim", "8", "--context",
                "" + context, "--batch", "" + batch, "--steps", "" + steps, "--eval-every", "2", "--eval-tokens",
                "" + evalTokens, "--positions", "rope", "--sample", "0", "--threads", "1"});
        Path usage = run.resolve("usage");
        assertThat(out).contains("expert usage of training steps 1-3").contains(usage.toString());
        assertThat(lastLine(out)).startsWith("validation perplexity");

        ModelConfig c = ModelConfig.named("switchall-small");
        // Training: every step reads batch x context tokens; the evaluations at steps 2 and 3 are not counted.
        assertUsageFiles(usage, "training", (long) steps * batch * context, c);
        // Validation: the first evalTokens + 1 tokens in min(batch, 4) streams, whole segments of each.
        int rows = Math.min(batch, 4);
        long validationTokens = (long) rows * (((evalTokens + 1) / rows - 1) / context) * context;
        assertUsageFiles(usage, "validation", validationTokens, c);
        for (String phase : List.of("training", "validation")) {
            for (String selector : List.of("source", "destination", "feedForward")) {
                for (String map : List.of("share", "entropy", "coselection")) {
                    Path png = usage.resolve(phase + "-" + selector + "-" + map + ".png");
                    java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
                    assertThat(image).as(png.toString()).isNotNull();
                    assertThat(image.getWidth()).as(png.toString()).isPositive();
                    assertThat(image.getHeight()).as(png.toString()).isPositive();
                }
            }
        }
        assertThat(javax.imageio.ImageIO.read(usage.resolve("training-source-share.png").toFile()).getWidth())
                .isEqualTo(c.experts() * ExpertUsageHeatmaps.CELL);
    }

    /**
     * Checks PHASE-usage.csv, -entropy.csv and -coselection.csv of the one-layer SwitchAll run: per (layer,
     * selector, head) the counts sum to tokens x k, the co-selections to tokens x k x (k - 1), and the entropy
     * is the one of the counts, within [0, log E].
     */
    private static void assertUsageFiles(Path usage, String phase, long tokens, ModelConfig c) throws Exception {
        List<String> counts = Files.readAllLines(usage.resolve(phase + "-usage.csv"));
        assertThat(counts.get(0)).isEqualTo("layer,selector,head,expert,count,fraction");
        // source and destination: 2 heads x E experts each; feedForward: 1 head x N_E experts.
        assertThat(counts).hasSize(1 + 2 * 2 * c.experts() + c.ffExperts());
        Map<String, List<Long>> perHead = new java.util.LinkedHashMap<>();
        for (String line : counts.subList(1, counts.size())) {
            String[] f = line.split(",");
            perHead.computeIfAbsent(f[0] + "," + f[1] + "," + f[2], k -> new ArrayList<>()).add(Long.parseLong(f[4]));
        }
        assertThat(perHead.keySet()).containsExactly("layer 0 attention,source,0", "layer 0 attention,source,1",
                "layer 0 attention,destination,0", "layer 0 attention,destination,1", "layer 0 feedForward,feedForward,0");
        List<String> entropies = Files.readAllLines(usage.resolve(phase + "-entropy.csv"));
        assertThat(entropies.get(0)).isEqualTo("layer,selector,head,entropy,max_entropy,normalized");
        assertThat(entropies).hasSize(1 + perHead.size());
        for (String line : entropies.subList(1, entropies.size())) {
            String[] f = line.split(",");
            String key = f[0] + "," + f[1] + "," + f[2];
            List<Long> head = perHead.get(key);
            int k = f[1].equals("feedForward") ? c.ffActiveExperts() : c.activeExperts();
            long total = head.stream().mapToLong(Long::longValue).sum();
            assertThat(total).as(phase + " " + key).isEqualTo(tokens * k);
            double expected = 0;
            for (long n : head) {
                if (n > 0) {
                    expected -= (double) n / total * Math.log((double) n / total);
                }
            }
            double entropy = Double.parseDouble(f[3]);
            assertThat(entropy).as(key).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-5))
                    .isBetween(0.0, Math.log(head.size()) + 1e-6);
            assertThat(Double.parseDouble(f[4])).isCloseTo(Math.log(head.size()), org.assertj.core.data.Offset.offset(1e-5));
        }
        List<String> pairs = Files.readAllLines(usage.resolve(phase + "-coselection.csv"));
        assertThat(pairs.get(0)).isEqualTo("layer,selector,head,expert,other,count");
        Map<String, Long> pairsPerHead = new java.util.LinkedHashMap<>();
        for (String line : pairs.subList(1, pairs.size())) {
            String[] f = line.split(",");
            pairsPerHead.merge(f[0] + "," + f[1] + "," + f[2], Long.parseLong(f[5]), Long::sum);
        }
        for (Map.Entry<String, Long> e : pairsPerHead.entrySet()) {
            int k = e.getKey().contains("feedForward") ? c.ffActiveExperts() : c.activeExperts();
            assertThat(e.getValue()).as(phase + " " + e.getKey()).isEqualTo(tokens * k * (k - 1));
        }
    }

    @Test
    void analyzeReadsATrainedCheckpointAndWritesUsageFiles(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("sa");
        runCapturing(new String[] {"--data", textFile(dir).toString(), "--out", run.toString(), "--model",
                "switchall-small", "--layers", "1", "--context", "8", "--batch", "2", "--steps", "2", "--sample", "0",
                "--threads", "1"});
        Path usage = dir.resolve("usage");
        assertThat(new AnalyzeCommand().run(new String[] {run.toString(), "--eval-tokens", "64", "--corpus-bytes",
                "100000", "--out", usage.toString()})).isZero();
        List<String> rows = Files.readAllLines(usage.resolve("switchall-small-usage.csv"));
        // A header, then one row per (layer, selector, head, expert) of the one-layer model.
        assertThat(rows).hasSizeGreaterThan(1);
        assertThat(rows.get(0)).contains("count");
        assertThat(usage.resolve("switchall-small-feedForward-share.png")).exists();
    }

    @Test
    void anExpertModelResumesExactly(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        String[] common = {"--data", text.toString(), "--model", "switchall-small", "--layers", "1", "--context", "8",
                "--batch", "2", "--steps", "4", "--sample", "0", "--threads", "1"};
        List<String> whole = new ArrayList<>(List.of(common));
        whole.addAll(List.of("--out", dir.resolve("w").toString()));
        runCapturing(whole.toArray(String[]::new));
        List<String> first = new ArrayList<>(List.of(common));
        first.addAll(List.of("--out", dir.resolve("s").toString(), "--stop-after", "2"));
        runCapturing(first.toArray(String[]::new));
        List<String> second = new ArrayList<>(List.of(common));
        second.addAll(List.of("--out", dir.resolve("s").toString(), "--resume"));
        runCapturing(second.toArray(String[]::new));
        double[] expected = SafeTensors.load(dir.resolve("w").resolve(TrainingCheckpoint.TRAINER)).get("loss.train")
                .toDoubleArray();
        double[] actual = SafeTensors.load(dir.resolve("s").resolve(TrainingCheckpoint.TRAINER)).get("loss.train")
                .toDoubleArray();
        assertThat(expected).hasSize(4);
        assertSameRun(actual, expected);
        // The training usage counted before the stop was saved and restored: both runs counted 4 steps.
        assertThat(usageTotals(dir.resolve("s"))).isEqualTo(usageTotals(dir.resolve("w")));
    }

    /** The training usage counts of a run summed per (layer, selector, head). */
    private static Map<String, Long> usageTotals(Path run) throws Exception {
        Map<String, Long> totals = new java.util.TreeMap<>();
        List<String> lines = Files.readAllLines(run.resolve("usage").resolve("training-usage.csv"));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            totals.merge(f[0] + "," + f[1] + "," + f[2], Long.parseLong(f[4]), Long::sum);
        }
        assertThat(totals).isNotEmpty();
        return totals;
    }

    @Test
    void aDirectoryIsReadAsWikitext(@TempDir Path dir) throws Exception {
        Path wiki = Files.createDirectories(dir.resolve("wikitext"));
        String text = Files.readString(textFile(dir));
        Files.writeString(wiki.resolve("wiki.train.tokens"), text);
        Files.writeString(wiki.resolve("wiki.valid.tokens"), text.substring(0, 400));
        Files.writeString(wiki.resolve("wiki.test.tokens"), text.substring(400, 800));
        String out = runCapturing(tiny(wiki, dir.resolve("run"), "--steps", "1"));
        // Bytes are tokens here: the validation file's 400 bytes, plus the newline ending its last line.
        assertThat(out).contains("wikitext").contains(" 401 validation tokens");
    }

    @Test
    void everyConfigSurvivesTheMetadataRoundTrip() {
        for (String name : ModelConfig.names()) {
            ModelConfig c = ModelConfig.named(name);
            assertThat(TrainingCheckpoint.configFrom(TrainingCheckpoint.configMetadata(c))).as(name).isEqualTo(c);
        }
    }

    @Test
    void missingCheckpointIsReported(@TempDir Path dir) {
        assertThatThrownBy(() -> GenerateCommand.generate(dir, "x", 1, 0, 0, 0, Device.CPU))
                .hasMessageContaining("no checkpoint");
        assertThat(Arrays.asList(new TrainCommand().help().split("\n"))).anyMatch(l -> l.contains("--resume"));
    }

    private static String[] command(String name, String[] args) {
        List<String> all = new ArrayList<>(List.of(name));
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    /** {@code args} without the option {@code name} and its value. */
    private static String[] without(String[] args, String name) {
        List<String> kept = new ArrayList<>(List.of(args));
        int at = kept.indexOf(name);
        kept.remove(at + 1);
        kept.remove(at);
        return kept.toArray(String[]::new);
    }

    @Test
    void aDivergingRunStopsBeforeTheUpdateExitsWithOneAndKeepsItsLastCheckpoint(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path run = dir.resolve("run");
        runCapturing(tiny(text, run, "--steps", "6", "--stop-after", "1"));
        byte[] model = Files.readAllBytes(run.resolve(TrainingCheckpoint.MODEL));
        byte[] trainer = Files.readAllBytes(run.resolve(TrainingCheckpoint.TRAINER));
        // A learning rate of 1e6 blows the weights up at step 2; step 3's gradients are no longer finite.
        MainTest.Result r = MainTest.ladon(command("train", tiny(text, run, "--steps", "6", "--resume", "--lr", "1e6",
                "--eval-every", "6")));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).startsWith("ladon train: dense-small diverged at step 3: loss ")
                .contains("; stopped before that step's update; the checkpoint in " + run + " (step 1) is unchanged; "
                        + "try a lower --lr (now 1000000.0) or a smaller --clip (now 0.25)");
        assertThat(r.out()).doesNotContain("validation perplexity");
        assertThat(Files.readAllBytes(run.resolve(TrainingCheckpoint.MODEL))).isEqualTo(model);
        assertThat(Files.readAllBytes(run.resolve(TrainingCheckpoint.TRAINER))).isEqualTo(trainer);
        // A fresh run that diverges before its first checkpoint says that nothing was saved.
        MainTest.Result fresh = MainTest.ladon(command("train", tiny(text, dir.resolve("fresh"), "--steps", "6",
                "--lr", "1e6", "--clip", "0", "--eval-every", "6")));
        assertThat(fresh.code()).isEqualTo(1);
        assertThat(fresh.err()).contains("nothing was saved; try a lower --lr (now 1000000.0) or clipping, e.g. "
                + "--clip 0.25");
        assertThat(dir.resolve("fresh").resolve(TrainingCheckpoint.MODEL)).doesNotExist();
    }

    @Test
    void weightsThatAreNotFiniteAreNeitherSavedNorLoaded(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        runCapturing(tiny(textFile(dir), run, "--steps", "1"));
        MoeLanguageModel model = TrainingCheckpoint.loadModel(run);
        byte[] saved = Files.readAllBytes(run.resolve(TrainingCheckpoint.MODEL));
        Parameter p = model.parameters().get(0);
        p.data().copyFrom(p.data().mul(Double.NaN));
        assertThatThrownBy(() -> TrainingCheckpoint.saveModel(run, model, new ByteTokenizer(), "byte", 2))
                .isInstanceOf(TrainingDiverged.class).hasMessageContaining("the weights of step 2 were not saved")
                .hasMessageContaining("holds NaN or infinite values");
        assertThat(Files.readAllBytes(run.resolve(TrainingCheckpoint.MODEL))).isEqualTo(saved);

        // A checkpoint written with NaN (by an older Ladon, or by hand) is refused when it is read.
        Path file = run.resolve(TrainingCheckpoint.MODEL);
        Map<String, Tensor> weights = new java.util.LinkedHashMap<>(SafeTensors.load(file));
        String first = weights.keySet().iterator().next();
        weights.put(first, weights.get(first).mul(Double.POSITIVE_INFINITY));
        SafeTensors.save(file, weights, SafeTensors.loadMetadata(file));
        assertThatThrownBy(() -> GenerateCommand.generate(run, "x", 1, 0, 0, 0, Device.CPU))
                .isInstanceOf(TrainingDiverged.class)
                .hasMessage("checkpoint " + file + " holds a diverged model: tensor '" + first
                        + "' holds NaN or infinite values");
    }

    @Test
    void withoutClippingTheGradientNormIsStillMeasuredAndPrinted(@TempDir Path dir) throws Exception {
        String out = runCapturing(tiny(textFile(dir), dir.resolve("run"), "--steps", "2", "--clip", "0"));
        assertThat(out).containsPattern("grad norm [0-9]+\\.[0-9]{2} \\|").doesNotContain("NaN");
        assertThatThrownBy(() -> new TrainCommand().run(tiny(textFile(dir), dir.resolve("run"), "--clip", "-1")))
                .hasMessage("--clip must be >= 0, got -1");
    }

    @Test
    void optionsAreCheckedBeforeAnythingIsReadTrainedOrMade(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path out = dir.resolve("run");
        Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
        refusals.put(List.of("--min-lr", "0.1", "--lr", "0.01"), "--min-lr 0.1 is above --lr 0.01: the cosine would "
                + "raise the learning rate instead of lowering it");
        refusals.put(List.of("--sample", "-5"), "--sample must be >= 0, got -5");
        refusals.put(List.of("--sample", "2147483647"), "--sample must be <= 1000000, got 2147483647");
        refusals.put(List.of("--temperature", "-1"), "--temperature must be >= 0, got -1");
        refusals.put(List.of("--top-k", "-3"), "--top-k must be >= 0, got -3");
        refusals.put(List.of("--sample", "0", "--top-k", "3"), "--top-k applies only when --sample is above 0");
        refusals.put(List.of("--vocab", "300"), "--vocab applies only to --tokenizer bpe (the byte tokenizer's "
                + "vocabulary is 256)");
        refusals.put(List.of("--tokenizer", "bpe", "--vocab", "100"), "--vocab must be >= 256, got 100");
        refusals.put(List.of("--tokenizer", "words"), "--tokenizer expects byte or bpe, got 'words'");
        refusals.put(List.of("--data", ""), "--data is empty");
        refusals.put(List.of("--max-bytes", "0"), "--max-bytes must be positive, got 0");
        for (Map.Entry<List<String>, String> e : refusals.entrySet()) {
            String[] args = tiny(text, out, e.getKey().toArray(String[]::new));
            assertThatThrownBy(() -> new TrainCommand().run(args)).as(e.getKey().toString())
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(e.getValue());
        }
        assertThat(out).doesNotExist();
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertThatThrownBy(() -> new TrainCommand().run(tiny(text, file))).hasMessage("--out " + file
                + " is a file, not a directory");
    }

    @Test
    void aModelWhoseTrainingStateCannotFitTheHeapIsRefusedWithItsSize() {
        ModelConfig c = ModelConfig.named("dense-small");
        // 100M parameters train in 16 bytes each on the CPU: 1.5 GiB, more than a 1 GiB heap.
        assertThatThrownBy(() -> TrainCommand.requireModelFitsTheHeap(c, 100_000_000, true, 1L << 30))
                .hasMessage("dense-small with these sizes has 100,000,000 parameters: 1.5 GiB of weights, gradients "
                        + "and AdamW moments, more than the Java heap's 1.0 GiB; choose smaller sizes or give the JVM "
                        + "more heap, e.g. LADON_JAVA_OPTS=\"-Xmx3g -XX:+UseSerialGC\" bin/ladon train ...");
        // On a GPU the heap holds only the weights while the model is built.
        TrainCommand.requireModelFitsTheHeap(c, 100_000_000, false, 1L << 30);
    }

    @Test
    void resumeRefusesWhatWouldChangeTheSavedRunAndTakesItsBatch(@TempDir Path dir) throws Exception {
        Path text = textFile(dir);
        Path run = dir.resolve("run");
        runCapturing(tiny(text, run, "--steps", "6", "--stop-after", "3"));
        String[] resume = tiny(text, run, "--steps", "6", "--resume");
        Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
        refusals.put(List.of("--batch", "3"), "--batch 3 differs from the checkpoint's 2: a resumed run reads the same "
                + "streams (leave --batch out, or give 2)");
        refusals.put(List.of("--steps", "2"), "--steps 2 is below the step the checkpoint in " + run + " reached, 3: "
                + "give --steps 3 or more");
        refusals.put(List.of("--stop-after", "3"), "--stop-after 3 is not after the step the checkpoint in " + run
                + " reached, 3: nothing would be trained");
        refusals.put(List.of("--d-model", "32", "--layers", "1", "--model", "moa-small"), "--resume continues the "
                + "model saved in " + run + " as it is; --model moa-small (saved: dense-small), --d-model 32 "
                + "(saved: 16) would change it (leave them out, or start a new run in another --out)");
        for (Map.Entry<List<String>, String> e : refusals.entrySet()) {
            List<String> args = new ArrayList<>(List.of(resume));
            args.addAll(e.getKey());
            assertThatThrownBy(() -> new TrainCommand().run(args.toArray(String[]::new))).as(e.getKey().toString())
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(e.getValue());
        }
        // The saved sizes repeated are accepted, and without --batch the saved batch of 2 is used, not 8.
        String out = runCapturing(without(resume, "--batch"));
        assertThat(out).contains("in 2 streams").contains("resuming " + run + " at step 3");
        assertThat(lastLine(out)).startsWith("validation perplexity");
    }

    @Test
    void aCheckpointWhoseFilesDoNotBelongTogetherIsNamedInOneLine(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        runCapturing(tiny(textFile(dir), run, "--steps", "2", "--stop-after", "1"));
        Path tokenizerFile = run.resolve(TrainingCheckpoint.TOKENIZER);
        BpeTokenizer.train("the cat sat on the mat and the dog ran far ".repeat(20), 270).save(tokenizerFile);
        assertThatThrownBy(() -> GenerateCommand.generate(run, "x", 1, 0, 0, 0, Device.CPU))
                .isInstanceOf(java.io.IOException.class)
                .hasMessage(tokenizerFile + " has a vocabulary of 270 tokens, but the model in "
                        + run.resolve(TrainingCheckpoint.MODEL) + " was trained on 256: the two files come from "
                        + "different runs");
        new ByteTokenizer().save(tokenizerFile);

        // trainer.safetensors with its tensors but without the metadata train writes.
        Path trainer = run.resolve(TrainingCheckpoint.TRAINER);
        SafeTensors.save(trainer, SafeTensors.load(trainer));
        assertThatThrownBy(() -> new TrainCommand().run(tiny(textFile(dir), run, "--steps", "2", "--resume")))
                .isInstanceOf(java.io.IOException.class)
                .hasMessage(trainer + " lacks 'step' in its metadata (it was not written by bin/ladon train, or by an "
                        + "older version)");
    }

    @Test
    void generateNamesItsOwnOptionsInItsMessages(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        runCapturing(tiny(textFile(dir), run, "--steps", "1"));
        String checkpoint = run.toString();
        assertThatThrownBy(() -> new GenerateCommand().run(new String[] {"--checkpoint", checkpoint, "--tokens",
            "2147483647"})).hasMessage("--tokens must be <= 1000000, got 2147483647");
        assertThatThrownBy(() -> new GenerateCommand().run(new String[] {"--checkpoint", checkpoint, "--temperature",
            "NaN"})).hasMessage("--temperature expects a finite number, got 'NaN'");
        assertThatThrownBy(() -> new GenerateCommand().run(new String[] {"--checkpoint", checkpoint, "--top-k", "-3"}))
                .hasMessage("--top-k must be >= 0, got -3");
        // -h as the value of --prompt is a prompt, not a request for help.
        MainTest.Result r = MainTest.ladon("generate", "--checkpoint", checkpoint, "--prompt", "-h", "--tokens", "3");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("-h").doesNotContain("usage:");
    }
}
