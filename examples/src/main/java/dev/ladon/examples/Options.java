package dev.ladon.examples;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backends;
import dev.ladon.tensor.cpu.Parallel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Parses {@code --name value}, {@code --name=value} and {@code --flag} options, failing on unknown ones, on a
 * value given to a flag and on arguments that are not options (unless the command takes one, see
 * {@link #withPositional}). {@code -h} or {@code --help} where an option name is expected asks for the
 * command's help ({@link HelpRequested}); as the value of an option it is just a value.
 *
 * <p>The typed getters check what every command's numbers have in common (an integer, a finite number, a
 * range) and name the option and the value in the message.
 */
final class Options {
    /** Thrown for {@code -h} or {@code --help} in place of an option: the caller prints the help. */
    static final class HelpRequested extends RuntimeException {
        HelpRequested() {
            super("help requested", null, false, false);
        }
    }

    private final Map<String, String> values = new HashMap<>();
    private final List<String> positionals = new ArrayList<>();

    /**
     * @param args  the command's arguments; none of them may be positional
     * @param known option names (without dashes) this command accepts; a name ending in '!' is a flag
     */
    Options(String[] args, String... known) {
        this(args, null, known);
    }

    /**
     * Options of a command that takes at most one positional argument, {@code name} in messages (e.g.
     * {@code CHECKPOINT_DIR}); read it with {@link #positional()}.
     */
    static Options withPositional(String[] args, String name, String... known) {
        return new Options(args, name, known);
    }

    private Options(String[] args, String positionalName, String... known) {
        Map<String, Boolean> isFlag = new HashMap<>();
        for (String k : known) {
            boolean flag = k.endsWith("!");
            isFlag.put(flag ? k.substring(0, k.length() - 1) : k, flag);
        }
        // A mistake is reported only once the whole line is read, so "--bogus --help" still shows the help.
        IllegalArgumentException mistake = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                throw new HelpRequested();
            }
            if (mistake != null) {
                continue;
            }
            if (!a.startsWith("--")) {
                positionals.add(a);
                if (positionalName == null) {
                    mistake = new IllegalArgumentException("unexpected argument '" + a + "' (options start with --)");
                } else if (positionals.size() > 1) {
                    mistake = new IllegalArgumentException("one " + positionalName + " expected, got '"
                            + positionals.get(0) + "' and '" + a + "'");
                }
                continue;
            }
            String name = a.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            Boolean flag = isFlag.get(name);
            if (flag == null) {
                mistake = new IllegalArgumentException("unknown option --" + name);
            } else if (flag && inline != null) {
                mistake = new IllegalArgumentException("--" + name + " is a flag and takes no value, got '" + a
                        + "' (leave it out for no)");
            } else if (flag) {
                values.put(name, "true");
            } else if (inline != null) {
                values.put(name, inline);
            } else if (i + 1 < args.length) {
                values.put(name, args[++i]);
            } else {
                mistake = new IllegalArgumentException("option --" + name + " needs a value");
            }
        }
        if (mistake != null) {
            throw mistake;
        }
    }

    /** The positional argument of a command made {@link #withPositional}, or null. */
    String positional() {
        return positionals.isEmpty() ? null : positionals.get(0);
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    /** The option's text, refused when given empty ({@code --data ""}). */
    String getNonEmpty(String name, String fallback) {
        String v = values.get(name);
        if (v != null && v.isBlank()) {
            throw new IllegalArgumentException("--" + name + " is empty");
        }
        return v == null ? fallback : v;
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    /**
     * Takes each of {@code saved}'s values (option name to value, "" for none) for an option that was not given;
     * returns, as "--name given (saved: value)", each option that was given with another value. A resumed run
     * uses this to continue with the options it was started with.
     */
    List<String> takeUnsetFrom(Map<String, String> saved) {
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, String> e : saved.entrySet()) {
            String given = values.get(e.getKey());
            if (given == null) {
                if (!e.getValue().isEmpty()) {
                    values.put(e.getKey(), e.getValue());
                }
            } else if (!sameValue(given, e.getValue())) {
                changed.add("--" + e.getKey() + " " + given + " (saved: "
                        + (e.getValue().isEmpty() ? "none" : e.getValue()) + ")");
            }
        }
        return changed;
    }

    /** Equal as text, or as numbers ("1e-3" and "0.001"). */
    private static boolean sameValue(String a, String b) {
        if (a.strip().equals(b.strip())) {
            return true;
        }
        try {
            return Double.parseDouble(a.strip()) == Double.parseDouble(b.strip());
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** Refuses each of {@code names} that was given, saying why: "--steps applies only ...". */
    void refuse(String why, String... names) {
        for (String n : names) {
            if (has(n)) {
                throw new IllegalArgumentException("--" + n + " " + why);
            }
        }
    }

    int getInt(String name, int fallback) {
        return getInt(name, fallback, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    /** An integer in [min, max]. */
    int getInt(String name, int fallback, int min, int max) {
        return (int) getLong(name, fallback, min, max);
    }

    /** An integer of at least 1 (a count, a size). */
    int getPositiveInt(String name, int fallback) {
        return getInt(name, fallback, 1, Integer.MAX_VALUE);
    }

    /** An integer of at least 0 (where 0 means none, or all). */
    int getNonNegativeInt(String name, int fallback) {
        return getInt(name, fallback, 0, Integer.MAX_VALUE);
    }

    long getLong(String name, long fallback) {
        return getLong(name, fallback, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** An integer in [min, max]. */
    long getLong(String name, long fallback, long min, long max) {
        String v = values.get(name);
        if (v == null) {
            return fallback;
        }
        long parsed;
        try {
            parsed = Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects an integer, got '" + v + "'");
        }
        if (parsed < min || parsed > max) {
            throw new IllegalArgumentException("--" + name + " " + range(parsed, min, max) + ", got " + v.strip());
        }
        return parsed;
    }

    /** An integer of at least 1. */
    long getPositiveLong(String name, long fallback) {
        return getLong(name, fallback, 1, Long.MAX_VALUE);
    }

    /** A finite number. */
    double getDouble(String name, double fallback) {
        return getDouble(name, fallback, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
    }

    /** A finite number in [min, max]. */
    double getDouble(String name, double fallback, double min, double max) {
        String v = values.get(name);
        if (v == null) {
            return fallback;
        }
        double parsed;
        try {
            parsed = Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects a number, got '" + v + "'");
        }
        if (!Double.isFinite(parsed)) {
            throw new IllegalArgumentException("--" + name + " expects a finite number, got '" + v + "'");
        }
        if (parsed < min || parsed > max) {
            throw new IllegalArgumentException("--" + name + " " + range(parsed, min, max) + ", got " + v.strip());
        }
        return parsed;
    }

    /** A finite number of at least 0 (a rate, a temperature). */
    double getNonNegativeDouble(String name, double fallback) {
        return getDouble(name, fallback, 0, Double.POSITIVE_INFINITY);
    }

    /** What the value breaks: "must be positive", "must be >= 0", "must be <= 1000000". */
    private static String range(double value, double min, double max) {
        if (value < min) {
            return min == 1 ? "must be positive" : "must be >= " + number(min);
        }
        return "must be <= " + number(max);
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    /**
     * --device (cpu, cuda or cuda:N; default cpu), checked now: an unusable device is reported before any
     * data is read or model built, not by the first op that runs on it.
     */
    Device device() {
        String spec = get("device", "cpu");
        if (!spec.strip().toLowerCase(Locale.ROOT).matches("cpu(:0)?|cuda(:[0-9]+)?")) {
            throw new IllegalArgumentException("--device expects cpu, cuda or cuda:N, got '" + spec + "'");
        }
        Device device = Device.parse(spec);
        String reason = Backends.unavailableReason(device);
        if (reason != null) {
            throw new IllegalArgumentException("--device " + device + " is unavailable: " + reason);
        }
        return device;
    }

    /**
     * The output directory --out (or {@code fallback}), checked now, before any work: not empty, not a file.
     * Whether it exists yet is the caller's to decide (train --resume needs it, the others make it).
     */
    Path outputPath(String fallback) {
        Path out = Path.of(getNonEmpty("out", fallback));
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a file, not a directory");
        }
        return out;
    }

    /** --threads, when given, sets the CPU pool's size for the rest of the process. */
    void applyThreads() {
        if (has("threads")) {
            Parallel.setNumThreads(getPositiveInt("threads", 1));
        }
    }
}
