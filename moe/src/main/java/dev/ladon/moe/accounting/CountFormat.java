package dev.ladon.moe.accounting;

import java.util.Locale;

/** Counts written the way the SwitchHead paper's tables write them: {@code 453.4M}, {@code 5.4G}. */
public final class CountFormat {
    private CountFormat() {
    }

    /**
     * value / 1e6 with one decimal and "M", or value / 1e9 with one decimal and "G" once the value reaches
     * 1000M (the authors' table scripts do the same).
     */
    public static String compact(long value) {
        if (Math.abs(value) >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.1fG", value / 1e9);
        }
        return String.format(Locale.ROOT, "%.1fM", value / 1e6);
    }

    /** The integer with thousands separators: {@code 453,427,200}. */
    public static String exact(long value) {
        return String.format(Locale.ROOT, "%,d", value);
    }
}
