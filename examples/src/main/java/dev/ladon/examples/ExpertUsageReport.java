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
 *   <li>{@code PREFIX-SELECTOR.png} per selector name (e.g. source, destination): one row of cells per
 *       (layer, head), one column per expert, brightness = the fraction of that head's choices.</li>
 * </ul>
 */
final class ExpertUsageReport {
    /** Side of one heatmap cell in pixels. */
    static final int CELL = 16;

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
            Path png = dir.resolve(prefix + "-" + selector.replaceAll("[^A-Za-z0-9_-]", "_") + ".png");
            ImageIO.write(heatmap(part), "png", png.toFile());
            written.add(png);
        }
        return written;
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
            long total = r.total();
            for (long c : r.counts()) {
                maxFraction = Math.max(maxFraction, total == 0 ? 0 : (double) c / total);
            }
        }
        BufferedImage image = new BufferedImage(Math.max(1, experts) * CELL, Math.max(1, rows.size()) * CELL,
                BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < rows.size(); y++) {
            Row r = rows.get(y);
            long total = r.total();
            for (int x = 0; x < experts; x++) {
                double f = x < r.counts().length && total > 0 ? (double) r.counts()[x] / total : 0;
                int rgb = shade(maxFraction > 0 ? f / maxFraction : 0);
                for (int dy = 0; dy < CELL; dy++) {
                    for (int dx = 0; dx < CELL; dx++) {
                        image.setRGB(x * CELL + dx, y * CELL + dy, rgb);
                    }
                }
            }
        }
        return image;
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
