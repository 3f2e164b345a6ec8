package dev.ladon.nn.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A line chart written as a PNG, for loss curves: one or more named series of (x, y) points, axes with a
 * few round-numbered ticks, a title, axis labels and a legend under the chart.
 *
 * <pre>{@code
 * new LinePlot("loss", "step", "nats/token")
 *         .series("train", steps, trainLoss)
 *         .series("validation", evalSteps, validLoss)
 *         .write(Path.of("loss.png"), 800, 500);
 * }</pre>
 *
 * <p>Series get the colours of {@link #colorOf(int)} in the order they are added. Points whose x or y is
 * NaN or infinite are skipped and break the line there. Drawing uses Java2D off screen; the class sets
 * {@code java.awt.headless=true} (unless the property is already set) so it works on machines without a
 * display. Text needs a font, which every JDK with its usual fontconfig finds.
 */
public final class LinePlot {
    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    // Matplotlib's "tab10" palette: distinct hues that stay apart for the common colour-vision deficiencies.
    private static final Color[] PALETTE = {
        new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40),
        new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
        new Color(188, 189, 34), new Color(23, 190, 207),
    };

    private static final int MARGIN_LEFT = 72;
    private static final int MARGIN_RIGHT = 24;
    private static final int MARGIN_TOP = 32;
    private static final int MARGIN_BOTTOM = 72; // tick labels, x label and the legend
    static final int MIN_WIDTH = MARGIN_LEFT + MARGIN_RIGHT + 40;
    static final int MIN_HEIGHT = MARGIN_TOP + MARGIN_BOTTOM + 40;

    private record Series(String name, double[] x, double[] y) {
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    public LinePlot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** The colour of the series added {@code index}-th (cycling after 10). */
    public static Color colorOf(int index) {
        return PALETTE[Math.floorMod(index, PALETTE.length)];
    }

    /**
     * Adds a series (the arrays are copied).
     *
     * @throws IllegalArgumentException if {@code x} and {@code y} differ in length
     */
    public LinePlot series(String name, double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException("LinePlot.series '" + name + "': " + x.length + " x values but "
                    + y.length + " y values");
        }
        series.add(new Series(name, x.clone(), y.clone()));
        return this;
    }

    /**
     * Writes the chart as a PNG of {@code width x height} pixels (not atomically: a plot is not a checkpoint).
     *
     * @throws IllegalArgumentException if no series has a finite point, or the size is below
     *     {@value #MIN_WIDTH} x {@value #MIN_HEIGHT}
     */
    public void write(Path png, int width, int height) throws IOException {
        BufferedImage image = render(width, height);
        if (!ImageIO.write(image, "png", png.toFile())) {
            throw new IOException("LinePlot: this JDK has no PNG writer");
        }
    }

    /** The area inside the axes for an image of this size (for tests that look at the drawn lines). */
    static Rectangle plotArea(int width, int height) {
        return new Rectangle(MARGIN_LEFT, MARGIN_TOP, width - MARGIN_LEFT - MARGIN_RIGHT,
                height - MARGIN_TOP - MARGIN_BOTTOM);
    }

    /** Draws the chart into a new RGB image; see {@link #write}. */
    public BufferedImage render(int width, int height) {
        if (width < MIN_WIDTH || height < MIN_HEIGHT) {
            throw new IllegalArgumentException("LinePlot: image " + width + "x" + height + " is smaller than the "
                    + "minimum " + MIN_WIDTH + "x" + MIN_HEIGHT);
        }
        double[] xRange = range(true);
        double[] yRange = range(false);
        if (xRange == null) {
            throw new IllegalArgumentException("LinePlot '" + title + "': no series has a finite point to draw");
        }
        Axis xAxis = Axis.of(xRange[0], xRange[1]);
        Axis yAxis = Axis.of(yRange[0], yRange[1]);
        Rectangle area = plotArea(width, height);

        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            drawGridAndTicks(g, area, xAxis, yAxis);
            drawSeries(g, area, xAxis, yAxis);
            drawFrameAndLabels(g, area, width, height);
            drawLegend(g, area, height);
        } finally {
            g.dispose();
        }
        return image;
    }

    /** [min, max] of the finite x (or y) values of all series, or null if there are none. */
    private double[] range(boolean ofX) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                if (Double.isFinite(s.x[i]) && Double.isFinite(s.y[i])) {
                    double v = ofX ? s.x[i] : s.y[i];
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        return min <= max ? new double[] {min, max} : null;
    }

    private static double toPixelX(Rectangle area, Axis axis, double x) {
        return area.x + (x - axis.low) / (axis.high - axis.low) * area.width;
    }

    private static double toPixelY(Rectangle area, Axis axis, double y) {
        return area.y + area.height - (y - axis.low) / (axis.high - axis.low) * area.height;
    }

    private void drawGridAndTicks(Graphics2D g, Rectangle area, Axis xAxis, Axis yAxis) {
        FontMetrics fm = g.getFontMetrics();
        g.setStroke(new BasicStroke(1f));
        for (double v : xAxis.ticks()) {
            int px = (int) Math.round(toPixelX(area, xAxis, v));
            g.setColor(new Color(225, 225, 225));
            g.drawLine(px, area.y, px, area.y + area.height);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(px, area.y + area.height, px, area.y + area.height + 4);
            String label = xAxis.label(v);
            g.drawString(label, px - fm.stringWidth(label) / 2, area.y + area.height + 6 + fm.getAscent());
        }
        for (double v : yAxis.ticks()) {
            int py = (int) Math.round(toPixelY(area, yAxis, v));
            g.setColor(new Color(225, 225, 225));
            g.drawLine(area.x, py, area.x + area.width, py);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(area.x - 4, py, area.x, py);
            String label = yAxis.label(v);
            g.drawString(label, area.x - 6 - fm.stringWidth(label), py + fm.getAscent() / 2 - 1);
        }
    }

    private void drawSeries(Graphics2D g, Rectangle area, Axis xAxis, Axis yAxis) {
        g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        g.clip(area);
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            g.setColor(colorOf(k));
            Path2D.Double path = new Path2D.Double();
            boolean penDown = false;
            for (int i = 0; i < s.x.length; i++) {
                if (!Double.isFinite(s.x[i]) || !Double.isFinite(s.y[i])) {
                    penDown = false; // a gap
                    continue;
                }
                double px = toPixelX(area, xAxis, s.x[i]);
                double py = toPixelY(area, yAxis, s.y[i]);
                if (penDown) {
                    path.lineTo(px, py);
                } else {
                    path.moveTo(px, py);
                    path.lineTo(px, py); // a lone point still shows as a dot with round caps
                    penDown = true;
                }
            }
            g.draw(path);
        }
        g.setClip(null);
    }

    private void drawFrameAndLabels(Graphics2D g, Rectangle area, int width, int height) {
        FontMetrics fm = g.getFontMetrics();
        g.setColor(Color.DARK_GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(area.x, area.y, area.width, area.height);
        g.setColor(Color.BLACK);
        g.drawString(xLabel, area.x + (area.width - fm.stringWidth(xLabel)) / 2,
                area.y + area.height + 8 + 2 * fm.getHeight());
        // The y label reads bottom to top along the left edge.
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, -(area.y + (area.height + fm.stringWidth(yLabel)) / 2), fm.getAscent() + 2);
        rotated.dispose();
        Font titleFont = g.getFont().deriveFont(Font.BOLD, 14f);
        g.setFont(titleFont);
        FontMetrics tm = g.getFontMetrics();
        g.drawString(title, (width - tm.stringWidth(title)) / 2, (MARGIN_TOP + tm.getAscent()) / 2);
        g.setFont(g.getFont().deriveFont(Font.PLAIN, 12f));
    }

    private void drawLegend(Graphics2D g, Rectangle area, int height) {
        FontMetrics fm = g.getFontMetrics();
        int y = height - 10;
        int x = area.x;
        for (int k = 0; k < series.size(); k++) {
            g.setColor(colorOf(k));
            g.fillRect(x, y - fm.getAscent() / 2 - 2, 18, 4);
            g.setColor(Color.BLACK);
            g.drawString(series.get(k).name, x + 24, y);
            x += 24 + fm.stringWidth(series.get(k).name) + 20;
        }
    }

    /**
     * An axis from {@code low} to {@code high} with ticks every {@code step}: the step is 1, 2 or 5 times a
     * power of ten giving about five intervals, and the ends are rounded out to whole steps.
     */
    private record Axis(double low, double high, double step) {
        static Axis of(double min, double max) {
            if (min == max) { // a flat series still needs a non-empty axis
                double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
                min -= pad;
                max += pad;
            }
            double raw = (max - min) / 5;
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double fraction = raw / magnitude;
            double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
            return new Axis(Math.floor(min / step) * step, Math.ceil(max / step) * step, step);
        }

        List<Double> ticks() {
            List<Double> out = new ArrayList<>();
            long first = Math.round(low / step);
            long last = Math.round(high / step);
            for (long i = first; i <= last; i++) {
                out.add(i * step);
            }
            return out;
        }

        String label(double v) {
            if (Math.abs(v) < step * 1e-9) {
                return "0";
            }
            double abs = Math.abs(v);
            if (abs >= 1e6 || abs < 1e-3) {
                return String.format(Locale.ROOT, "%.3g", v);
            }
            // Enough decimals to tell neighbouring ticks apart.
            int decimals = (int) Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
            return String.format(Locale.ROOT, "%." + decimals + "f", v);
        }
    }
}
