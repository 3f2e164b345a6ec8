package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.autograd.GradMode;
import dev.ladon.moe.ExpertUsage;
import dev.ladon.moe.LanguageModels;
import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.MoeLanguageModel;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExpertUsageReportTest {
    @TempDir
    Path dir;

    /** A two-layer SwitchAll model (H=2, E=4, k=2; sigma-MoE 8 experts, K=2) run on B x T random ids. */
    private static Map<String, ExpertUsage> usageOf(ModelConfig c, int batch, int context) {
        MoeLanguageModel model = LanguageModels.build(c, new Generator(3));
        Map<String, ExpertUsage> usage = model.trackUsage();
        model.eval();
        try (var ng = GradMode.noGrad()) {
            model.forward(Tensor.randint(0, c.vocabSize(), new Generator(4), Device.CPU, batch, context), null);
        }
        return usage;
    }

    private static ModelConfig tinySwitchAll() {
        return ModelConfig.named("switchall-small").toBuilder().layers(2).dModel(32).context(8).vocabSize(64)
                .dHead(8).sigmaMoe(8, 8, 2).build();
    }

    @Test
    void countsSumToTokensTimesKAndCoSelectionMatchesCounts() {
        ModelConfig c = tinySwitchAll();
        int tokens = 3 * 8;
        List<ExpertUsageReport.Row> rows = ExpertUsageReport.rows(usageOf(c, 3, 8));
        // 2 layers x (source, destination) x 2 heads, plus 2 layers x 1 feedforward selector.
        assertThat(rows).hasSize(2 * 2 * 2 + 2);
        for (ExpertUsageReport.Row r : rows) {
            int k = r.selector().equals("feedForward") ? c.ffActiveExperts() : c.activeExperts();
            assertThat(r.total()).as(r.layer() + " " + r.selector()).isEqualTo((long) tokens * k);
            // With k = 2 distinct choices, every selection of e1 pairs with exactly one other expert.
            for (int e = 0; e < r.counts().length; e++) {
                long paired = 0;
                for (long v : r.coSelection()[e]) {
                    paired += v;
                }
                assertThat(paired).isEqualTo(r.counts()[e]);
            }
            // Entropy against a plain reference.
            double h = 0;
            for (long v : r.counts()) {
                if (v > 0) {
                    double p = (double) v / r.total();
                    h -= p * Math.log(p);
                }
            }
            assertThat(r.entropy()).isCloseTo(h, org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    @Test
    void writesCsvAndHeatmapsOfTheRightSize() throws Exception {
        ModelConfig c = tinySwitchAll();
        List<Path> files = ExpertUsageReport.write(dir, "m", usageOf(c, 2, 8));
        assertThat(files).extracting(p -> p.getFileName().toString()).containsExactlyInAnyOrder("m-usage.csv",
                "m-entropy.csv", "m-coselection.csv", "m-source-share.png", "m-source-entropy.png",
                "m-source-coselection.png", "m-destination-share.png", "m-destination-entropy.png",
                "m-destination-coselection.png", "m-feedForward-share.png", "m-feedForward-entropy.png",
                "m-feedForward-coselection.png");
        // usage: one line per (layer, selector, head, expert): 2 layers x 2 selectors x 2 heads x 4 + 2 x 8.
        assertThat(Files.readAllLines(dir.resolve("m-usage.csv"))).hasSize(1 + 2 * 2 * 2 * 4 + 2 * 8);
        assertThat(Files.readAllLines(dir.resolve("m-entropy.csv"))).hasSize(1 + 2 * 2 * 2 + 2);
        assertThat(Files.readAllLines(dir.resolve("m-coselection.csv"))).hasSize(1 + 2 * 2 * 2 * 16 + 2 * 64);
        int cell = ExpertUsageHeatmaps.CELL;
        int gap = ExpertUsageHeatmaps.GAP;
        assertSize("m-source-share.png", 4 * cell, 2 * 2 * cell); // experts x (layers x heads)
        assertSize("m-feedForward-share.png", 8 * cell, 2 * cell);
        assertSize("m-source-entropy.png", 2 * cell, 2 * cell); // heads x layers
        assertSize("m-feedForward-entropy.png", cell, 2 * cell);
        // (heads x E) x (layers x E) cells, with a gap between neighbouring blocks.
        assertSize("m-source-coselection.png", 2 * 4 * cell + gap, 2 * 4 * cell + gap);
        assertSize("m-feedForward-coselection.png", 8 * cell, 2 * 8 * cell + gap);
    }

    private void assertSize(String png, int width, int height) throws Exception {
        BufferedImage image = ImageIO.read(dir.resolve(png).toFile());
        assertThat(image).as(png).isNotNull();
        assertThat(image.getWidth()).as(png + " width").isEqualTo(width);
        assertThat(image.getHeight()).as(png + " height").isEqualTo(height);
    }

    @Test
    void entropyHeatmapIsAbsoluteAndCoSelectionHeatmapPlacesBlocksByLayerAndHead() {
        // Layer l0: head 0 balanced over 4 experts (entropy log 4), head 1 always expert 2 (entropy 0).
        long[][] none = new long[4][4];
        long[][] pairs = new long[4][4];
        pairs[1][3] = 3;
        pairs[3][1] = 3;
        pairs[0][2] = 1;
        pairs[2][0] = 1;
        var rows = List.of(new ExpertUsageReport.Row("l0", "s", 0, new long[] {2, 2, 2, 2}, none, Math.log(4)),
                new ExpertUsageReport.Row("l0", "s", 1, new long[] {0, 0, 8, 0}, none, 0),
                new ExpertUsageReport.Row("l1", "s", 1, new long[] {1, 3, 1, 3}, pairs, 0.5));
        int cell = ExpertUsageHeatmaps.CELL;
        BufferedImage entropy = ExpertUsageHeatmaps.entropyHeatmap(rows);
        assertThat(entropy.getWidth()).isEqualTo(2 * cell);
        assertThat(entropy.getHeight()).isEqualTo(2 * cell);
        assertThat(entropy.getRGB(3, 3)).isEqualTo(ExpertUsageHeatmaps.shade(1.0));
        assertThat(entropy.getRGB(cell + 3, 3)).isEqualTo(ExpertUsageHeatmaps.shade(0.0));
        assertThat(entropy.getRGB(cell + 3, cell + 3)).isEqualTo(ExpertUsageHeatmaps.shade(0.5 / Math.log(4)));

        BufferedImage co = ExpertUsageHeatmaps.coSelectionHeatmap(rows);
        int block = 4 * cell + ExpertUsageHeatmaps.GAP;
        assertThat(co.getWidth()).isEqualTo(2 * block - ExpertUsageHeatmaps.GAP);
        // Layer l1, head 1 is the lower right block; pair (1, 3) holds 3 of its 8 pairs, the map's maximum.
        assertThat(co.getRGB(block + 3 * cell + 2, block + cell + 2)).isEqualTo(ExpertUsageHeatmaps.shade(1.0));
        assertThat(co.getRGB(block + 2 * cell + 2, block + 2)).isEqualTo(ExpertUsageHeatmaps.shade(1.0 / 3));
        assertThat(co.getRGB(block + 2, block + 2)).isEqualTo(ExpertUsageHeatmaps.shade(0.0));
        // The gap between blocks is white.
        assertThat(co.getRGB(4 * cell + 1, 2)).isEqualTo(java.awt.Color.WHITE.getRGB());
    }

    @Test
    void heatmapBrightestCellIsTheMostChosenExpert() {
        long[][] none = new long[3][3];
        var rows = List.of(new ExpertUsageReport.Row("l0", "s", 0, new long[] {1, 6, 3}, none, 0),
                new ExpertUsageReport.Row("l1", "s", 0, new long[] {0, 0, 10}, none, 0));
        BufferedImage img = ExpertUsageHeatmaps.heatmap(rows);
        int cell = ExpertUsageHeatmaps.CELL;
        assertThat(img.getWidth()).isEqualTo(3 * cell);
        assertThat(img.getHeight()).isEqualTo(2 * cell);
        // Row l1 expert 2 has fraction 1.0, the maximum; row l1 expert 0 has 0.
        assertThat(img.getRGB(2 * cell + 3, cell + 3)).isEqualTo(ExpertUsageHeatmaps.shade(1.0));
        assertThat(img.getRGB(3, cell + 3)).isEqualTo(ExpertUsageHeatmaps.shade(0.0));
        assertThat(img.getRGB(cell + 5, 5)).isEqualTo(ExpertUsageHeatmaps.shade(0.6));
        assertThat(ExpertUsageHeatmaps.shade(1.0)).isNotEqualTo(ExpertUsageHeatmaps.shade(0.0));
    }

    @Test
    void denseModelWritesNothing() throws Exception {
        ModelConfig c = ModelConfig.named("dense-small").toBuilder().layers(1).dModel(16).heads(2).dHead(8).dFF(16)
                .context(4).vocabSize(16).build();
        assertThat(ExpertUsageReport.write(dir, "d", usageOf(c, 1, 4))).isEmpty();
        try (var s = Files.list(dir)) {
            assertThat(s).isEmpty();
        }
    }
}
