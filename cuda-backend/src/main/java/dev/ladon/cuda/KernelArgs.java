package dev.ladon.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameters of one kernel launch, in the order of the kernel's C signature. Each entry knows its
 * PTX kind and size, so the tests can check every launch against the {@code .entry} declarations of
 * the generated PTX without a GPU.
 */
final class KernelArgs {
    /** How a parameter is declared in PTX. */
    enum Kind {
        /** A device pointer ({@code .u64}). */
        POINTER(8),
        /** {@code int} ({@code .u32}/{@code .s32}). */
        INT(4),
        /** {@code long long} ({@code .u64}/{@code .s64}). */
        LONG(8),
        FLOAT(4),
        DOUBLE(8),
        /** A struct of ints passed by value ({@code .align 4 .b8 name[4 n]}). */
        INT_STRUCT(-1);

        final int bytes;

        Kind(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One parameter; {@code value} is a Long, Integer, Float, Double or int[] by kind. */
    record Arg(Kind kind, Object value) {
        int bytes() {
            return kind == Kind.INT_STRUCT ? 4 * ((int[]) value).length : kind.bytes;
        }
    }

    private final List<Arg> args = new ArrayList<>();

    KernelArgs pointer(long deviceAddress) {
        args.add(new Arg(Kind.POINTER, deviceAddress));
        return this;
    }

    KernelArgs i32(int v) {
        args.add(new Arg(Kind.INT, v));
        return this;
    }

    KernelArgs i64(long v) {
        args.add(new Arg(Kind.LONG, v));
        return this;
    }

    KernelArgs f32(float v) {
        args.add(new Arg(Kind.FLOAT, v));
        return this;
    }

    KernelArgs f64(double v) {
        args.add(new Arg(Kind.DOUBLE, v));
        return this;
    }

    /** A by-value struct made only of ints (the Layout struct and its relatives). */
    KernelArgs struct(int[] ints) {
        args.add(new Arg(Kind.INT_STRUCT, ints.clone()));
        return this;
    }

    List<Arg> list() {
        return args;
    }
}
