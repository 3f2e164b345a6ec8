package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Storage;
import dev.ladon.tensor.Workspace;

/**
 * CPU storage is a plain Java array of the dtype's element type (float[], double[], int[], long[], byte[]
 * for bool). On-heap arrays were chosen over off-heap memory because the Vector API loads and stores them
 * directly ({@code FloatVector.fromArray}) with bounds checks the JIT hoists out of loops, the garbage
 * collector frees them without a cleaner, and JCuda copies them to the GPU in one call
 * ({@code Pointer.to(float[])}), so host-device transfers need no extra staging copy.
 */
public final class CpuStorage extends Storage {
    /** Null once a workspace took the memory back: see {@link #array()}. */
    private Object array;

    /** A zero-filled storage; within a {@link dev.ladon.tensor.Workspace} scope its memory may be reused. */
    CpuStorage(DType dtype, int size) {
        this(dtype, size, true);
    }

    /**
     * A storage whose memory, when a workspace scope lends it, is zero-filled only if {@code zeroFilled}:
     * a kernel that writes every element of its output spares the fill (new memory is zero either way).
     */
    CpuStorage(DType dtype, int size, boolean zeroFilled) {
        super(dtype, size);
        Object reused = memoryFromWorkspace();
        if (reused != null && zeroFilled) {
            zeroFill(reused, size);
        }
        this.array = reused != null ? reused : newArray(dtype, size);
    }

    CpuStorage(DType dtype, Object array, int size) {
        super(dtype, size);
        this.array = array;
    }

    static Object newArray(DType dtype, int size) {
        return switch (dtype) {
            case FLOAT32 -> new float[size];
            case FLOAT64 -> new double[size];
            case INT32 -> new int[size];
            case INT64 -> new long[size];
            case BOOL -> new byte[size];
        };
    }

    /**
     * Zero-fills reused memory as the JVM does a new array, but over the pool's threads: a training step
     * reuses hundreds of megabytes, which the JVM would have zeroed on the calling thread alone.
     */
    private static void zeroFill(Object memory, int size) {
        Parallel.forRange(size, 1 << 16, (start, end) -> {
            switch (memory) {
                case float[] a -> java.util.Arrays.fill(a, start, end, 0f);
                case double[] a -> java.util.Arrays.fill(a, start, end, 0.0);
                case int[] a -> java.util.Arrays.fill(a, start, end, 0);
                case long[] a -> java.util.Arrays.fill(a, start, end, 0L);
                case byte[] a -> java.util.Arrays.fill(a, start, end, (byte) 0);
                default -> throw new IllegalStateException("not a CPU array: " + memory.getClass());
            }
        });
    }

    @Override
    protected Object releaseMemory(Workspace workspace) {
        Object memory = array();
        array = null;
        markReleased(workspace);
        return memory;
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    /**
     * The backing array; its type follows {@link #dtype()}.
     *
     * @throws IllegalStateException if a workspace scope released this storage
     */
    public Object array() {
        Object a = array;
        if (a == null) {
            throw releasedError();
        }
        return a;
    }

    public float[] floats() {
        return (float[]) array();
    }

    public double[] doubles() {
        return (double[]) array();
    }

    public int[] ints() {
        return (int[]) array();
    }

    public long[] longs() {
        return (long[]) array();
    }

    public byte[] bools() {
        return (byte[]) array();
    }

    /** Element i widened to double (exact for float types and for ints below 2^53). */
    public double getDouble(int i) {
        return switch (dtype()) {
            case FLOAT32 -> ((float[]) array())[i];
            case FLOAT64 -> ((double[]) array())[i];
            case INT32 -> ((int[]) array())[i];
            case INT64 -> ((long[]) array())[i];
            case BOOL -> ((byte[]) array())[i];
        };
    }

    /** Element i as a long (for index tensors). */
    public long getLong(int i) {
        return switch (dtype()) {
            case INT32 -> ((int[]) array())[i];
            case INT64 -> ((long[]) array())[i];
            case BOOL -> ((byte[]) array())[i];
            case FLOAT32 -> (long) ((float[]) array())[i];
            case FLOAT64 -> (long) ((double[]) array())[i];
        };
    }

    /**
     * Stores v converted to the dtype: int64 as is, int32 keeps the low 32 bits (Java's narrowing, so int32
     * arithmetic carried out in long wraps exactly as int arithmetic does), bool is v != 0, floats round to
     * nearest.
     */
    public void setLong(int i, long v) {
        switch (dtype()) {
            case FLOAT32 -> ((float[]) array())[i] = v;
            case FLOAT64 -> ((double[]) array())[i] = v;
            case INT32 -> ((int[]) array())[i] = (int) v;
            case INT64 -> ((long[]) array())[i] = v;
            case BOOL -> ((byte[]) array())[i] = (byte) (v != 0 ? 1 : 0);
        }
    }

    /** Stores v rounded to the dtype: floats round to nearest, ints truncate toward zero, bool is v != 0. */
    public void setDouble(int i, double v) {
        switch (dtype()) {
            case FLOAT32 -> ((float[]) array())[i] = (float) v;
            case FLOAT64 -> ((double[]) array())[i] = v;
            case INT32 -> ((int[]) array())[i] = (int) v;
            case INT64 -> ((long[]) array())[i] = (long) v;
            case BOOL -> ((byte[]) array())[i] = (byte) (v != 0 ? 1 : 0);
        }
    }

    /** Reads len elements from offset with stride into dst[0..len). */
    void load(int offset, int stride, double[] dst, int len) {
        switch (dtype()) {
            case FLOAT32 -> {
                float[] a = (float[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
            case FLOAT64 -> {
                double[] a = (double[]) array();
                if (stride == 1) {
                    System.arraycopy(a, offset, dst, 0, len);
                } else {
                    for (int i = 0; i < len; i++) {
                        dst[i] = a[offset + i * stride];
                    }
                }
            }
            case INT32 -> {
                int[] a = (int[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
            case INT64 -> {
                long[] a = (long[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
            case BOOL -> {
                byte[] a = (byte[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
        }
    }

    /** Writes src[0..len) to offset with stride, rounding to the dtype as {@link #setDouble} does. */
    void store(int offset, int stride, double[] src, int len) {
        switch (dtype()) {
            case FLOAT32 -> {
                float[] a = (float[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (float) src[i];
                }
            }
            case FLOAT64 -> {
                double[] a = (double[]) array();
                if (stride == 1) {
                    System.arraycopy(src, 0, a, offset, len);
                } else {
                    for (int i = 0; i < len; i++) {
                        a[offset + i * stride] = src[i];
                    }
                }
            }
            case INT32 -> {
                int[] a = (int[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (int) src[i];
                }
            }
            case INT64 -> {
                long[] a = (long[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (long) src[i];
                }
            }
            case BOOL -> {
                byte[] a = (byte[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (byte) (src[i] != 0 ? 1 : 0);
                }
            }
        }
    }

    /**
     * Reads len elements of an integer or bool storage from offset with stride into dst[0..len), exactly
     * (the double {@link #load} rounds int64 values past 2^53).
     */
    void loadLongs(int offset, int stride, long[] dst, int len) {
        switch (dtype()) {
            case INT32 -> {
                int[] a = (int[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
            case INT64 -> {
                long[] a = (long[]) array();
                if (stride == 1) {
                    System.arraycopy(a, offset, dst, 0, len);
                } else {
                    for (int i = 0; i < len; i++) {
                        dst[i] = a[offset + i * stride];
                    }
                }
            }
            case BOOL -> {
                byte[] a = (byte[]) array();
                for (int i = 0; i < len; i++) {
                    dst[i] = a[offset + i * stride];
                }
            }
            case FLOAT32, FLOAT64 -> throw new IllegalStateException("loadLongs: " + dtype() + " is not an integer dtype");
        }
    }

    /** Writes src[0..len) to an integer or bool storage at offset with stride, converting as {@link #setLong} does. */
    void storeLongs(int offset, int stride, long[] src, int len) {
        switch (dtype()) {
            case INT32 -> {
                int[] a = (int[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (int) src[i];
                }
            }
            case INT64 -> {
                long[] a = (long[]) array();
                if (stride == 1) {
                    System.arraycopy(src, 0, a, offset, len);
                } else {
                    for (int i = 0; i < len; i++) {
                        a[offset + i * stride] = src[i];
                    }
                }
            }
            case BOOL -> {
                byte[] a = (byte[]) array();
                for (int i = 0; i < len; i++) {
                    a[offset + i * stride] = (byte) (src[i] != 0 ? 1 : 0);
                }
            }
            case FLOAT32, FLOAT64 -> throw new IllegalStateException("storeLongs: " + dtype() + " is not an integer dtype");
        }
    }
}
