package dev.ladon.nn.plot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinePlotTest {
    @TempDir
    Path dir;

    private static boolean near(int rgb, Color c, int tolerance) {
        int r = (rgb >> 16) & 0xFF;
        int g = (rgb >> 8) & 0xFF;
        int b = rgb & 0xFF;
        return Math.abs(r - c.getRed()) <= tolerance && Math.abs(g - c.getGreen()) <= tolerance
                && Math.abs(b - c.getBlue()) <= tolerance;
    }

    /** Mean row of the pixels of colour c in column x inside the plot area, or NaN if there are none. */
    private static double meanRowOf(BufferedImage img, Rectangle area, int x, Color c) {
        double sum = 0;
        int n = 0;
        for (int y = area.y + 1; y < area.y + area.height; y++) {
            if (near(img.getRGB(x, y), c, 40)) {
                sum += y;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    @Test
    void writesAPngOfTheRequestedSize() throws IOException {
        double[] steps = {0, 100, 200, 300, 400};
        Path png = dir.resolve("loss.png");
        new LinePlot("loss", "step", "nats/token")
                .series("train", steps, new double[] {5.5, 4.1, 3.2, 2.9, 2.7})
                .series("validation", steps, new double[] {5.6, 4.3, 3.5, 3.3, 3.2})
                .write(png, 640, 400);

        byte[] bytes = Files.readAllBytes(png);
        byte[] signature = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
        assertThat(java.util.Arrays.copyOf(bytes, 8)).isEqualTo(signature);
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(640);
        assertThat(img.getHeight()).isEqualTo(400);
        int train = 0;
        int validation = 0;
        for (int y = 0; y < 400; y++) {
            for (int x = 0; x < 640; x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                train += rgb == (LinePlot.colorOf(0).getRGB() & 0xFFFFFF) ? 1 : 0;
                validation += rgb == (LinePlot.colorOf(1).getRGB() & 0xFFFFFF) ? 1 : 0;
            }
        }
        assertThat(train).isGreaterThan(100);
        assertThat(validation).isGreaterThan(100);
    }

    @Test
    void linesGoWhereTheirDataIs() {
        // A rising and a falling line cross in the middle: left of it the rising one is lower on screen
        // (a larger row index), right of it higher.
        double[] x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        double[] up = new double[11];
        double[] down = new double[11];
        for (int i = 0; i <= 10; i++) {
            up[i] = i;
            down[i] = 10 - i;
        }
        int w = 500;
        int h = 360;
        BufferedImage img = new LinePlot("cross", "x", "y").series("up", x, up).series("down", x, down).render(w, h);
        Rectangle area = LinePlot.plotArea(w, h);
        int left = area.x + area.width / 5;
        int right = area.x + area.width * 4 / 5;
        double upLeft = meanRowOf(img, area, left, LinePlot.colorOf(0));
        double downLeft = meanRowOf(img, area, left, LinePlot.colorOf(1));
        double upRight = meanRowOf(img, area, right, LinePlot.colorOf(0));
        double downRight = meanRowOf(img, area, right, LinePlot.colorOf(1));
        assertThat(upLeft).isGreaterThan(downLeft + 50);
        assertThat(upRight).isLessThan(downRight - 50);
        // Symmetry of the data shows in the picture: up at 20% sits where down sits at 80%.
        assertThat(Math.abs(upLeft - downRight)).isLessThan(4);
        // The plot area's bottom-left corner is the data minimum, so the line "up" starts near the bottom.
        assertThat(meanRowOf(img, area, area.x + 2, LinePlot.colorOf(0))).isGreaterThan(area.y + area.height * 0.9);
    }

    @Test
    void nonFinitePointsAreGapsAndFlatSeriesStillDraw() {
        double[] x = {0, 1, 2, 3};
        BufferedImage img = new LinePlot("flat", "x", "y")
                .series("flat", x, new double[] {2, 2, Double.NaN, 2}).render(300, 200);
        Rectangle area = LinePlot.plotArea(300, 200);
        assertThat(meanRowOf(img, area, area.x + area.width / 6, LinePlot.colorOf(0))).isNotNaN();
    }

    @Test
    void rejectsBadInput() {
        assertThatThrownBy(() -> new LinePlot("t", "x", "y").series("s", new double[2], new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 x values but 3 y values");
        assertThatThrownBy(() -> new LinePlot("t", "x", "y").render(400, 300))
                .hasMessageContaining("no series has a finite point");
        assertThatThrownBy(() -> new LinePlot("t", "x", "y").series("s", new double[] {1}, new double[] {1})
                .render(50, 50)).hasMessageContaining("smaller than the minimum");
    }
}
