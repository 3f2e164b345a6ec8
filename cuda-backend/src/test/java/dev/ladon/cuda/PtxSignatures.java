package dev.ladon.cuda;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The parameter lists of the {@code .entry} kernels of a PTX module, parsed from its text. */
final class PtxSignatures {
    /** One parameter: its PTX type (u64, f32, b8, ...), its size in bytes and its alignment. */
    record Param(String type, int bytes, int align) {
    }

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)", Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile(
            "\\.param\\s+(?:\\.align\\s+(\\d+)\\s+)?\\.(\\w+)\\s+\\w+(?:\\[(\\d+)\\])?");

    private PtxSignatures() {
    }

    static Map<String, List<Param>> parse(String module) {
        byte[] raw = JCudaDriverApi.readPtx(module);
        String text = new String(raw, 0, raw.length - 1, StandardCharsets.US_ASCII);
        Map<String, List<Param>> out = new HashMap<>();
        Matcher m = ENTRY.matcher(text);
        while (m.find()) {
            List<Param> params = new ArrayList<>();
            Matcher p = PARAM.matcher(m.group(2));
            while (p.find()) {
                String type = p.group(2);
                int scalar = switch (type) {
                    case "u64", "s64", "b64", "f64" -> 8;
                    case "u32", "s32", "b32", "f32" -> 4;
                    case "u16", "s16", "b16", "f16" -> 2;
                    default -> 1;
                };
                int count = p.group(3) == null ? 1 : Integer.parseInt(p.group(3));
                int align = p.group(1) == null ? scalar : Integer.parseInt(p.group(1));
                params.add(new Param(type, scalar * count, align));
            }
            out.put(m.group(1), params);
        }
        return out;
    }

    /** Null when the argument fits the parameter, else why not. */
    static String mismatch(KernelArgs.Arg arg, Param p) {
        boolean ok = switch (arg.kind()) {
            case POINTER, LONG -> p.bytes() == 8 && p.type().matches("[usb]64");
            case INT -> p.bytes() == 4 && p.type().matches("[usb]32");
            case FLOAT -> p.type().equals("f32");
            case DOUBLE -> p.type().equals("f64");
            case INT_STRUCT -> p.type().equals("b8") && p.bytes() == arg.bytes() && p.align() == 4;
        };
        return ok ? null : "argument " + arg.kind() + " of " + arg.bytes() + " bytes for a ." + p.type() + " parameter of "
                + p.bytes() + " bytes (align " + p.align() + ")";
    }
}
