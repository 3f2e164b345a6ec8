package dev.ladon.examples;

import dev.ladon.moe.ExpertUsage;
import dev.ladon.nn.plot.Drawing;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

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
 * The pictures are drawn by {@link ExpertUsageHeatmaps}, when the Java runtime can draw.
 */
final class ExpertUsageReport {
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
        if (!Drawing.available()) {
            System.out.println("expert usage pictures not written: this Java runtime has no java.desktop module to "
                    + "draw with (the CSV files hold the same numbers)");
            return written;
        }
        for (String selector : rows.stream().map(Row::selector).distinct().toList()) {
            List<Row> part = rows.stream().filter(r -> r.selector().equals(selector)).toList();
            written.addAll(ExpertUsageHeatmaps.write(part, dir, prefix + "-" + selector.replaceAll("[^A-Za-z0-9_-]", "_")));
        }
        return written;
    }
}
