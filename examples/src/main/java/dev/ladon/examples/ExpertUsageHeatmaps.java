package dev.ladon.examples;

import dev.ladon.examples.ExpertUsageReport.Row;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * The PNG heatmaps of {@link ExpertUsageReport}, for the rows of one selector. Apart from the report because
 * a class that draws cannot even be loaded by a Java runtime without java.desktop, while the CSV files can
 * always be written. Brightness runs along {@link #shade}'s ramp; share and co-selection maps are scaled so
 * that their largest value is the brightest, entropy maps are absolute.
 */
final class ExpertUsageHeatmaps {
    /** Side of one heatmap cell in pixels. */
    static final int CELL = 16;
    /** Width in pixels of the white gap between the co-selection blocks. */
    static final int GAP = 4;

    private ExpertUsageHeatmaps() {
    }

    /** NAME-share.png, NAME-entropy.png and NAME-coselection.png in dir; their paths. */
    static List<Path> write(List<Row> rows, Path dir, String name) throws IOException {
        List<Path> written = new ArrayList<>();
        written.add(writePng(heatmap(rows), dir.resolve(name + "-share.png")));
        written.add(writePng(entropyHeatmap(rows), dir.resolve(name + "-entropy.png")));
        written.add(writePng(coSelectionHeatmap(rows), dir.resolve(name + "-coselection.png")));
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
