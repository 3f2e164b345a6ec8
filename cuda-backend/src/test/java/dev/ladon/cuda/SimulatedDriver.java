package dev.ladon.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link DriverApi} without a GPU, for checking the host side of every kernel launch: each launch must
 * name a kernel that exists in the shipped PTX, pass arguments that match its parameter list in number,
 * kind and size, point every non-null pointer argument into a live allocation, and stay within the
 * launch limits of the GPU (grid, block, shared memory). Memory holds no data: copies to the host
 * return zeros. Violations are collected, not thrown, so a test reports all of them.
 */
final class SimulatedDriver implements DriverApi {
    static final long CAPACITY = 64L << 30;
    static final int MAX_SHARED = 227 * 1024;  // H100: 227 KiB of opt-in shared memory per block

    private final Map<String, Map<String, List<PtxSignatures.Param>>> modules = new HashMap<>();
    private final TreeMap<Long, Long> live = new TreeMap<>();
    private final List<String> violations = new ArrayList<>();
    private final Map<String, Integer> launches = new TreeMap<>();
    private long next = 1L << 32;

    @Override
    public synchronized String deviceName() {
        return "simulated CUDA device (no GPU)";
    }

    @Override
    public int maxSharedBytesPerBlock() {
        return MAX_SHARED;
    }

    /** A small GPU, as the emulator's: the op cases' small shapes then reach the kernels large problems use. */
    @Override
    public int multiprocessors() {
        return 4;
    }

    @Override
    public synchronized long allocate(long bytes) {
        long a = next;
        next += (bytes + 511) / 256 * 256;
        live.put(a, bytes);
        return a;
    }

    @Override
    public synchronized void free(long address) {
        if (live.remove(address) == null) {
            violations.add("free of unknown address " + address);
        }
    }

    @Override
    public void synchronize() {
    }

    @Override
    public String describe() {
        return "simulated";
    }

    @Override
    public long totalBytes() {
        return CAPACITY;
    }

    private synchronized boolean inside(long address, long bytes) {
        var e = live.floorEntry(address);
        return e != null && address + bytes <= e.getKey() + e.getValue();
    }

    private void checkRange(String what, long address, long bytes) {
        if (bytes > 0 && !inside(address, bytes)) {
            synchronized (this) {
                violations.add(what + ": " + bytes + " bytes at " + address + " are not inside one allocation");
            }
        }
    }

    @Override
    public void memsetZero(long address, long bytes) {
        checkRange("memsetZero", address, bytes);
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes) {
        checkRange("copyDeviceToDevice dst", dst, bytes);
        checkRange("copyDeviceToDevice src", src, bytes);
    }

    @Override
    public void copyHostToDevice(long dst, Object hostArray, long bytes) {
        checkRange("copyHostToDevice", dst, bytes);
    }

    @Override
    public void copyDeviceToHost(Object hostArray, long src, long bytes) {
        checkRange("copyDeviceToHost", src, bytes);
        if (bytes > (long) java.lang.reflect.Array.getLength(hostArray) * elementBytes(hostArray)) {
            synchronized (this) {
                violations.add("copyDeviceToHost of " + bytes + " bytes into a smaller host array");
            }
        }
    }

    private static int elementBytes(Object array) {
        return switch (array) {
            case double[] d -> 8;
            case long[] l -> 8;
            case float[] f -> 4;
            case int[] i -> 4;
            default -> 1;
        };
    }

    @Override
    public synchronized void launch(String module, String kernel, int gridX, int gridY, int gridZ, int blockX,
            int sharedBytes, KernelArgs args) {
        String name = module + "." + kernel;
        launches.merge(name, 1, Integer::sum);
        List<PtxSignatures.Param> params = modules.computeIfAbsent(module, PtxSignatures::parse).get(kernel);
        if (params == null) {
            violations.add(name + ": no such kernel in " + module + ".ptx");
            return;
        }
        List<KernelArgs.Arg> list = args.list();
        if (list.size() != params.size()) {
            violations.add(name + ": " + list.size() + " arguments for " + params.size() + " parameters");
            return;
        }
        for (int i = 0; i < list.size(); i++) {
            String m = PtxSignatures.mismatch(list.get(i), params.get(i));
            if (m != null) {
                violations.add(name + " parameter " + i + ": " + m);
            }
            if (list.get(i).kind() == KernelArgs.Kind.POINTER) {
                long p = (Long) list.get(i).value();
                if (p != 0 && !inside(p, 1)) {
                    violations.add(name + " parameter " + i + ": pointer " + p + " is not inside an allocation");
                }
            }
        }
        if (gridX < 1 || gridY < 1 || gridZ < 1 || gridY > 65535 || gridZ > 65535) {
            violations.add(name + ": grid " + gridX + "x" + gridY + "x" + gridZ + " is outside the launch limits");
        }
        if (blockX < 32 || blockX > 1024 || blockX % 32 != 0) {
            violations.add(name + ": block of " + blockX + " threads (kernels assume whole warps, at most 1024)");
        }
        if (sharedBytes < 0 || sharedBytes > MAX_SHARED) {
            violations.add(name + ": " + sharedBytes + " bytes of dynamic shared memory");
        }
    }

    synchronized List<String> violations() {
        return List.copyOf(violations);
    }

    synchronized Map<String, Integer> launches() {
        return new TreeMap<>(launches);
    }

    synchronized void clear() {
        violations.clear();
        launches.clear();
    }
}
