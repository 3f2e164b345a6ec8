package dev.ladon.examples;

import dev.ladon.tensor.Device;
import dev.ladon.tensor.backend.Backends;
import java.util.HashMap;
import java.util.Map;

/** Parses {@code --name value} and {@code --flag} options, failing on unknown ones. */
final class Options {
    private final Map<String, String> values = new HashMap<>();

    /**
     * @param args  the command's arguments
     * @param known option names (without dashes) this command accepts; a name ending in '!' is a flag
     */
    Options(String[] args, String... known) {
        Map<String, Boolean> isFlag = new HashMap<>();
        for (String k : known) {
            boolean flag = k.endsWith("!");
            isFlag.put(flag ? k.substring(0, k.length() - 1) : k, flag);
        }
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                values.merge("", a, (x, y) -> x + " " + y);
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
                throw new IllegalArgumentException("unknown option --" + name);
            }
            if (flag) {
                values.put(name, "true");
            } else if (inline != null) {
                values.put(name, inline);
            } else if (i + 1 < args.length) {
                values.put(name, args[++i]);
            } else {
                throw new IllegalArgumentException("option --" + name + " needs a value");
            }
        }
    }

    /** Positional arguments joined by spaces, or null. */
    String positional() {
        return values.get("");
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    int getInt(String name, int fallback) {
        String v = values.get(name);
        try {
            return v == null ? fallback : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects an integer, got '" + v + "'");
        }
    }

    long getLong(String name, long fallback) {
        String v = values.get(name);
        try {
            return v == null ? fallback : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects an integer, got '" + v + "'");
        }
    }

    double getDouble(String name, double fallback) {
        String v = values.get(name);
        try {
            return v == null ? fallback : Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects a number, got '" + v + "'");
        }
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    /**
     * --device (cpu, cuda or cuda:N; default cpu), checked now: an unusable device is reported before any
     * data is read or model built, not by the first op that runs on it.
     */
    Device device() {
        Device device = Device.parse(get("device", "cpu"));
        String reason = Backends.unavailableReason(device);
        if (reason != null) {
            throw new IllegalArgumentException("--device " + device + " is unavailable: " + reason);
        }
        return device;
    }
}
