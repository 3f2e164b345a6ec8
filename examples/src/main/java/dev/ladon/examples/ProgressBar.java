package dev.ladon.examples;

import java.io.PrintStream;
import java.util.Locale;

/**
 * One status line for long work: step, a bar, caller-supplied fields (loss, tokens/s) and the ETA. On a
 * terminal it redraws in place; when output goes to a file or pipe it prints a full line every
 * {@code everyLines}-th update so logs stay short but still show progress.
 */
final class ProgressBar {
    private static final int WIDTH = 24;

    private final PrintStream out;
    private final long total;
    private final long startNanos = System.nanoTime();
    private final boolean terminal = System.console() != null;
    private final int everyLines;
    private final long firstStep;
    private int updates;

    ProgressBar(PrintStream out, long firstStep, long total, int everyLines) {
        this.out = out;
        this.firstStep = firstStep;
        this.total = total;
        this.everyLines = Math.max(1, everyLines);
    }

    /** Shows progress at {@code step} (1-based, of total) with extra text such as "loss 2.31 | 5,400 tok/s". */
    void update(long step, String fields) {
        updates++;
        boolean last = step >= total;
        if (!terminal && !last && updates % everyLines != 0) {
            return;
        }
        double frac = total == 0 ? 1 : (double) step / total;
        int filled = (int) Math.round(frac * WIDTH);
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        long done = step - firstStep;
        double eta = done <= 0 ? Double.NaN : elapsed / done * (total - step);
        String line = String.format(Locale.ROOT, "step %d/%d [%s%s] %s | elapsed %s | ETA %s", step, total,
                "=".repeat(filled), " ".repeat(WIDTH - filled), fields, duration(elapsed), duration(eta));
        if (terminal) {
            out.print("\r" + line + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    /** Ends an in-place line before other output is printed. */
    void interrupt() {
        if (terminal) {
            out.println();
        }
    }

    static String duration(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        return s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
    }
}
