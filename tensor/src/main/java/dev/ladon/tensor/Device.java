package dev.ladon.tensor;

import java.util.Locale;

/**
 * Where a tensor's storage lives: {@code cpu}, or {@code cuda:N}. Ops run on the backend of their
 * inputs' device; mixing devices in one op is an error.
 *
 * @param type  {@code "cpu"} or {@code "cuda"}
 * @param index device ordinal (0 for the CPU)
 */
public record Device(String type, int index) {
    public static final Device CPU = new Device("cpu", 0);

    public Device {
        type = type.toLowerCase(Locale.ROOT);
        // Other types than cpu and cuda may come from backends on the class path, so only the form is checked.
        if (!type.matches("[a-z][a-z0-9_]*")) {
            throw new IllegalArgumentException("device type must be a name such as cpu or cuda, got '" + type + "'");
        }
        if (index < 0) {
            throw new IllegalArgumentException("device index must be >= 0, got " + index);
        }
        if (type.equals("cpu") && index != 0) {
            throw new IllegalArgumentException("there is one cpu device, cpu:0; got cpu:" + index);
        }
    }

    public static Device cuda(int index) {
        return new Device("cuda", index);
    }

    /** Parses {@code "cpu"}, {@code "cuda"} (meaning cuda:0) or {@code "cuda:1"}. */
    public static Device parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        if (colon < 0) {
            if (s.equals("cpu")) {
                return CPU;
            }
            if (!s.matches("[a-z][a-z0-9_]*")) {
                throw new IllegalArgumentException("cannot parse device '" + spec + "': expected cpu, cuda or cuda:N");
            }
            return new Device(s, 0);
        }
        try {
            return new Device(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cannot parse device '" + spec + "': expected cpu, cuda or cuda:N");
        }
    }

    public boolean isCpu() {
        return type.equals("cpu");
    }

    @Override
    public String toString() {
        return isCpu() ? "cpu" : type + ":" + index;
    }
}
