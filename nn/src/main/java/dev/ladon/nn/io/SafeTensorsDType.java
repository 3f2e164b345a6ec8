package dev.ladon.nn.io;

import dev.ladon.tensor.DType;
import java.util.Set;

/** The safetensors names of Ladon's dtypes, and the names of those Ladon cannot hold. */
final class SafeTensorsDType {
    /** Dtypes of the format that Ladon has no counterpart for (named so the error can say "unsupported"). */
    private static final Set<String> UNSUPPORTED = Set.of("F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "U8", "I16",
            "U16", "U32", "U64");

    private SafeTensorsDType() {
    }

    static String code(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case INT32 -> "I32";
            case INT64 -> "I64";
            case BOOL -> "BOOL";
        };
    }

    /** The Ladon dtype of a safetensors dtype name; the message says whether the name is unknown or unsupported. */
    static DType parse(String code, String tensorName) {
        return switch (code) {
            case "F32" -> DType.FLOAT32;
            case "F64" -> DType.FLOAT64;
            case "I32" -> DType.INT32;
            case "I64" -> DType.INT64;
            case "BOOL" -> DType.BOOL;
            default -> throw new IllegalArgumentException(UNSUPPORTED.contains(code)
                    ? "tensor '" + tensorName + "' has dtype " + code + ", which Ladon does not support "
                            + "(supported: F32, F64, I32, I64, BOOL)"
                    : "tensor '" + tensorName + "' has unknown dtype \"" + code + "\"");
        };
    }
}
