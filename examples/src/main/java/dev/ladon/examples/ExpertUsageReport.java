package dev.ladon.examples;

import dev.ladon.moe.ExpertUsage;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Writes the expert-selection statistics of one model (the trackers of
 * {@link dev.ladon.moe.MoeLanguageModel#trackUsage()}) as CSV files and PNG heatmaps:
 * <ul>
 *   <li>{@code PREFIX-usage.csv}: layer, selector, head, expert, count, fraction of that head's choices;</li>
 *   <li>{@code PREFIX-entropy.csv}: layer, selector, head, entropy (nats), its maximum log(E), and
 *       entropy / log(E);</li>
 *   <li>{@code PREFIX-coselection.csv}: layer, selector, head, expert, other expert, tokens choosing both;</li>
 *   <li>{@code PREFIX-SELECTOR-share.png} per selector name (e.g. source, destination): one row of cells per
 *       (layer, head), one column per expert, brightness = the fraction of that head's choices;</li>
 *   <li>{@code PREFIX-SELECTOR-entropy.png}: one row per layer, one column per head, brightness = entropy /
 *       log(E) (black: one expert takes every choice, brightest: perfectly balanced);</li>
 *   <li>{@code PREFIX-SELECTOR-coselection.png}: one E x E block per (layer, head), layers down and heads
 *       across, white gaps between blocks; brightness = that pair's share of the head's co-selections.</li>
 * </ul>
 * Brightness runs along {@link #shade}'s ramp; share and co-selection maps are scaled so that their largest
 * value is the brightest, entropy maps are absolute.
 */
final class ExpertUsageReport {
    /** Side of one heatmap cell in pixels. */
    static final int CELL = 16;
    /** Width in pixels of the white gap between the co-selection blocks. */
    static final int GAP = 4;

    /** One (layer, selector, head) row of the statistics. */
    record Row(String layer, String selector, int head, long[] counts, long[][] coSelection, double entropy) {
        long total() {
            long t = 0;
            for (long c : counts) {
                t += c;
            }
            return t;
        }
    }

    private ExpertUsageReport() {
    }

    /** Flattens the trackers into rows, in layer, selector, head order. */
    static List<Row> rows(Map<String, ExpertUsage> trackers) {
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<String, ExpertUsage> e : trackers.entrySet()) {
            ExpertUsage usage = e.getValue();
            for (String selector : usage.selectors()) {
                long[][] counts = usage.counts(selector);
                long[][][] co = usage.coSelection(selector);
                for (int h = 0; h < counts.length; h++) {
                    rows.add(new Row(e.getKey(), selector, h, counts[h], co[h], usage.entropy(selector, h)));
                }
            }
        }
        return rows;
    }

    /**
     * Writes the CSV files and heatmaps into {@code dir} (created if needed); returns the files written.
     * Writes nothing when no tracker recorded a selection (a dense model).
     */
    static List<Path> write(Path dir, String prefix, Map<String, ExpertUsage> trackers) throws IOException {
        List<Row> rows = rows(trackers);
        List<Path> written = new ArrayList<>();
        if (rows.isEmpty()) {
            return written;
        }
        Files.createDirectories(dir);
        Path usage = dir.resolve(prefix + "-usage.csv");
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(usage))) {
            w.println("layer,selector,head,expert,count,fraction");
            for (Row r : rows) {
                long total = r.total();
                for (int x = 0; x < r.counts().length; x++) {
                    w.printf(Locale.ROOT, "%s,%s,%d,%d,%d,%.6f%n", r.layer(), r.selector(), r.head(), x, r.counts()[x],
                            total == 0 ? 0.0 : (double) r.counts()[x] / total);
                }
            }
        }
        written.add(usage);
        Path entropy = dir.resolve(prefix + "-entropy.csv");
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(entropy))) {
            w.println("layer,selector,head,entropy,max_entropy,normalized");
            for (Row r : rows) {
                double max = Math.log(r.counts().length);
                w.printf(Locale.ROOT, "%s,%s,%d,%.6f,%.6f,%.6f%n", r.layer(), r.selector(), r.head(), r.entropy(), max,
                        max > 0 ? r.entropy() / max : 0.0);
            }
        }
        written.add(entropy);
        Path co = dir.resolve(prefix + "-coselection.csv");
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(co))) {
            w.println("layer,selector,head,expert,other,count");
            for (Row r : rows) {
                long[][] c = r.coSelection();
                for (int a = 0; a < c.length; a++) {
                    for (int b = 0; b < c[a].length; b++) {
                        w.printf(Locale.ROOT, "%s,%s,%d,%d,%d,%d%n", r.layer(), r.selector(), r.head(), a, b, c[a][b]);
                    }
                }
            }
        }
        written.add(co);
        for (String selector : rows.stream().map(Row::selector).distinct().toList()) {
            List<Row> part = rows.stream().filter(r -> r.selector().equals(selector)).toList();
            String name = prefix + "-" + selector.replaceAll("[^A-Za-z0-9_-]", "_");
            written.add(writePng(heatmap(part), dir.resolve(name + "-share.png")));
            written.add(writePng(entropyHeatmap(part), dir.resolve(name + "-entropy.png")));
            written.add(writePng(coSelectionHeatmap(part), dir.resolve(name + "-coselection.png")));
        }
        return written;
    }

    private static Path writePng(BufferedImage image, Path png) throws IOException {
        ImageIO.write(image, "png", png.toFile());
        return png;
    }

    /**
     * A grid of {@link #CELL}-pixel squares, one row per given row and one column per expert (the widest row
     * sets the width); a cell's brightness is its share of the row's choices scaled so that the row maximum
     * over the whole map is white. Headless: only BufferedImage pixels are set.
     */
    static BufferedImage heatmap(List<Row> rows) {
        int experts = 0;
        double maxFraction = 0;
        for (Row r : rows) {
            experts = Math.max(experts, r.counts().length);
            maxFraction = Math.max(maxFraction, max(r.counts()) / (double) Math.max(1, r.total()));
        }
        BufferedImage image = image(Math.max(1, experts) * CELL, Math.max(1, rows.size()) * CELL);
        for (int y = 0; y < rows.size(); y++) {
            Row r = rows.get(y);
            long total = r.total();
            for (int x = 0; x < experts; x++) {
                double f = x < r.counts().length && total > 0 ? (double) r.counts()[x] / total : 0;
                fillCell(image, x * CELL, y * CELL, shade(maxFraction > 0 ? f / maxFraction : 0));
            }
        }
        return image;
    }

    /**
     * One row of cells per layer (in the order the rows first name it) and one column per head; brightness
     * is the head's entropy / log(E), on an absolute scale so maps of different runs compare.
     */
    static BufferedImage entropyHeatmap(List<Row> rows) {
        List<String> layers = rows.stream().map(Row::layer).distinct().toList();
        int heads = rows.stream().mapToInt(r -> r.head() + 1).max().orElse(1);
        BufferedImage image = image(heads * CELL, Math.max(1, layers.size()) * CELL);
        for (Row r : rows) {
            double maxEntropy = Math.log(r.counts().length);
            fillCell(image, r.head() * CELL, layers.indexOf(r.layer()) * CELL,
                    shade(maxEntropy > 0 ? r.entropy() / maxEntropy : 0));
        }
        return image;
    }

    /**
     * One E x E block of cells per (layer, head): block row = layer, block column = head, cell (e1, e2) =
     * tokens choosing both experts as a share of the head's co-selected pairs, scaled so that the largest
     * share on the map is the brightest; the diagonal is always dark (an expert is never paired with itself).
     */
    static BufferedImage coSelectionHeatmap(List<Row> rows) {
        List<String> layers = rows.stream().map(Row::layer).distinct().toList();
        int heads = rows.stream().mapToInt(r -> r.head() + 1).max().orElse(1);
        int experts = rows.stream().mapToInt(r -> r.counts().length).max().orElse(1);
        int block = experts * CELL + GAP;
        double maxShare = 0;
        for (Row r : rows) {
            long pairs = coSelectionTotal(r);
            for (long[] row : r.coSelection()) {
                maxShare = Math.max(maxShare, max(row) / (double) Math.max(1, pairs));
            }
        }
        BufferedImage image = image(heads * block - GAP, Math.max(1, layers.size()) * block - GAP);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                image.setRGB(x, y, Color.WHITE.getRGB());
            }
        }
        for (Row r : rows) {
            long pairs = coSelectionTotal(r);
            int left = r.head() * block;
            int top = layers.indexOf(r.layer()) * block;
            long[][] co = r.coSelection();
            for (int a = 0; a < experts; a++) {
                for (int b = 0; b < experts; b++) {
                    double share = a < co.length && b < co[a].length && pairs > 0 ? (double) co[a][b] / pairs : 0;
                    fillCell(image, left + b * CELL, top + a * CELL, shade(maxShare > 0 ? share / maxShare : 0));
                }
            }
        }
        return image;
    }

    private static long coSelectionTotal(Row r) {
        long total = 0;
        for (long[] row : r.coSelection()) {
            for (long v : row) {
                total += v;
            }
        }
        return total;
    }

    private static long max(long[] values) {
        long m = 0;
        for (long v : values) {
            m = Math.max(m, v);
        }
        return m;
    }

    private static BufferedImage image(int width, int height) {
        return new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    }

    /** Paints the {@link #CELL}-pixel square whose top-left corner is (x, y). */
    private static void fillCell(BufferedImage image, int x, int y, int rgb) {
        for (int dy = 0; dy < CELL; dy++) {
            for (int dx = 0; dx < CELL; dx++) {
                image.setRGB(x + dx, y + dy, rgb);
            }
        }
    }

    /** Dark blue (0) to yellow-white (1): a perceptually ordered ramp that survives greyscale printing. */
    static int shade(double v) {
        double t = Math.max(0, Math.min(1, v));
        int red = (int) Math.round(255 * t);
        int green = (int) Math.round(255 * Math.sqrt(t));
        int blue = (int) Math.round(96 * (1 - t) + 64 * t);
        return new Color(red, green, blue).getRGB();
    }
}
