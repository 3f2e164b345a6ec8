package dev.ladon.tensor;

import dev.ladon.tensor.backend.Backend;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where the time of a program goes, op by op: while enabled, every backend call that a tensor op makes is
 * timed and added to a table keyed by the op ({@code matmul}, {@code binary.add}, {@code attentionBackward},
 * ...), optionally with its operands' shapes. {@code bin/ladon} turns it on with the environment variable
 * {@code LADON_PROFILE=ops} (or {@code shapes}) and prints the table when the command ends.
 *
 * <p>How: {@link Tensor#backend()} hands out a timing wrapper around the device's backend instead of the
 * backend itself (so while profiling, cast {@link dev.ladon.tensor.backend.Backends#of} rather than
 * {@code backend()} to a concrete backend class). Only the outermost call on a thread is counted: a kernel
 * that calls other ops on the way (a copy to make an operand contiguous, say) is charged their time, and the
 * total is not counted twice. Times are wall time on the calling thread, which is what a step waits for on
 * the CPU; on a GPU, whose kernels run asynchronously, they are the time to launch (and any synchronising
 * copy), not the kernels' run time. When disabled (the default) nothing is wrapped and nothing is timed.
 *
 * <p>With {@code LADON_PROFILE=products} a second table follows: the CPU backend's float32 products by shape, and
 * how the threads spent each product's time (packing A, packing B, the micro-kernels, the rest of a task),
 * which {@link #recordProduct} collects from the kernel. The op table says which ops a step waits for; this one
 * says why a product is as fast as it is.
 */
public final class OpProfiler {
    /** One line of the table: an op (with shapes if asked for), how often it ran and for how long in total. */
    public record Entry(String op, long calls, long nanos) {
    }

    /**
     * One line of the product table: a product's label ({@code 2048x256x768:nt}: M x K x N, then whether A and
     * B were read as stored, n, or transposed, t), how often it ran, and in total its wall time, the threads'
     * time in its tasks and, within that, packing A, packing B, waiting for a panel of B that another thread
     * is packing, and the micro-kernels, and its floating-point operations.
     */
    public record ProductEntry(String product, long calls, long wallNanos, long taskNanos, long packANanos,
            long packBNanos, long waitBNanos, long kernelNanos, long flops) {
        /** The share of the threads' time (threads x wall) spent in tasks. */
        public double busy(int threads) {
            return wallNanos == 0 ? 0 : taskNanos / (double) (threads * wallNanos);
        }
    }

    private static volatile boolean enabled;
    private static volatile boolean byShape;
    private static volatile boolean products;
    private static final Map<String, LongAdder[]> PRODUCTS = new ConcurrentHashMap<>();
    private static final Map<String, LongAdder[]> TABLE = new ConcurrentHashMap<>();
    private static final Map<Backend, Backend> WRAPPED = new ConcurrentHashMap<>();
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private OpProfiler() {
    }

    /**
     * Starts timing ops (adding to what is already recorded).
     *
     * @param withShapes key the table by op and operand shapes ({@code matmul [2048, 256] [256, 256]}) rather
     *                   than by op alone
     */
    public static void enable(boolean withShapes) {
        enable(withShapes, false);
    }

    /**
     * Starts timing ops and, with {@code withProducts}, the parts of each CPU float32 product ({@link #productTable}).
     */
    public static void enable(boolean withShapes, boolean withProducts) {
        byShape = withShapes;
        products = withProducts;
        enabled = true;
    }

    /** Whether a product kernel should time its parts and {@link #recordProduct} them. */
    public static boolean productsEnabled() {
        return enabled && products;
    }

    /** Adds one product's times (see {@link ProductEntry}); called by a backend's product kernel. */
    public static void recordProduct(String product, long wallNanos, long taskNanos, long packANanos, long packBNanos,
            long waitBNanos, long kernelNanos, long flops) {
        LongAdder[] v = PRODUCTS.computeIfAbsent(product, k -> {
            LongAdder[] adders = new LongAdder[8];
            for (int i = 0; i < adders.length; i++) {
                adders[i] = new LongAdder();
            }
            return adders;
        });
        v[0].increment();
        v[1].add(wallNanos);
        v[2].add(taskNanos);
        v[3].add(packANanos);
        v[4].add(packBNanos);
        v[5].add(waitBNanos);
        v[6].add(kernelNanos);
        v[7].add(flops);
    }

    /** Stops timing; what was recorded stays until {@link #reset}. */
    public static void disable() {
        enabled = false;
    }

    public static boolean isEnabled() {
        return enabled;
    }

    /** Forgets what was recorded. */
    public static void reset() {
        TABLE.clear();
        PRODUCTS.clear();
    }

    /** The recorded ops, the most expensive first. */
    public static List<Entry> entries() {
        List<Entry> list = new ArrayList<>();
        TABLE.forEach((op, v) -> list.add(new Entry(op, v[0].sum(), v[1].sum())));
        list.sort(Comparator.comparingLong(Entry::nanos).reversed().thenComparing(Entry::op));
        return list;
    }

    /** The recorded products, the longest (wall time) first. */
    public static List<ProductEntry> productEntries() {
        List<ProductEntry> list = new ArrayList<>();
        PRODUCTS.forEach((p, v) -> list.add(new ProductEntry(p, v[0].sum(), v[1].sum(), v[2].sum(), v[3].sum(),
                v[4].sum(), v[5].sum(), v[6].sum(), v[7].sum())));
        list.sort(Comparator.comparingLong(ProductEntry::wallNanos).reversed().thenComparing(ProductEntry::product));
        return list;
    }

    /**
     * The product table as text, empty when none was recorded: per product the calls, wall milliseconds, and
     * the threads' milliseconds in packing A, packing B, waiting for B, the micro-kernels and the rest of the
     * tasks (epilogues, bookkeeping), how busy
     * the {@code threads} threads were, and GFLOP/s per thread inside the micro-kernels and over the wall time.
     */
    public static String productTable(int threads) {
        List<ProductEntry> list = productEntries();
        if (list.isEmpty()) {
            return "";
        }
        int width = Math.max(20, list.stream().mapToInt(e -> e.product().length()).max().orElse(0));
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "product profile (CPU float32, %d threads; "
                + "pack, kernel and other are the threads' time, kernel GFLOP/s per thread):%n", threads));
        sb.append(String.format(Locale.ROOT, "%-" + width + "s %6s %9s %8s %8s %8s %9s %8s %5s %8s %8s%n", "product",
                "calls", "wall ms", "pack A", "pack B", "wait B", "kernel", "other", "busy", "kernel/t", "GFLOP/s"));
        for (ProductEntry e : list) {
            long other = e.taskNanos() - e.packANanos() - e.packBNanos() - e.waitBNanos() - e.kernelNanos();
            sb.append(String.format(Locale.ROOT,
                    "%-" + width + "s %6d %9.1f %8.1f %8.1f %8.1f %9.1f %8.1f %5.2f %8.1f %8.1f%n", e.product(),
                    e.calls(), e.wallNanos() / 1e6, e.packANanos() / 1e6, e.packBNanos() / 1e6, e.waitBNanos() / 1e6,
                    e.kernelNanos() / 1e6, other / 1e6, e.busy(threads), gflops(e.flops(), e.kernelNanos()),
                    gflops(e.flops(), e.wallNanos())));
        }
        return sb.toString();
    }

    private static double gflops(long flops, long nanos) {
        return nanos == 0 ? 0 : flops / (double) nanos;
    }

    /** The table as text: per op the calls, total milliseconds, share of the total and mean microseconds. */
    public static String table() {
        List<Entry> list = entries();
        long total = list.stream().mapToLong(Entry::nanos).sum();
        long calls = list.stream().mapToLong(Entry::calls).sum();
        int width = Math.max(24, list.stream().mapToInt(e -> e.op().length()).max().orElse(0));
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "op profile: %,d calls, %.1f ms in ops (outermost calls, wall time on the calling thread)%n",
                calls, total / 1e6));
        sb.append(String.format(Locale.ROOT, "%-" + width + "s %9s %11s %6s %11s%n", "op", "calls", "total ms", "%",
                "mean us"));
        for (Entry e : list) {
            sb.append(String.format(Locale.ROOT, "%-" + width + "s %9d %11.1f %6.1f %11.1f%n", e.op(), e.calls(),
                    e.nanos() / 1e6, total == 0 ? 0 : 100.0 * e.nanos() / total, e.nanos() / 1e3 / e.calls()));
        }
        return sb.toString();
    }

    /** The backend ops should dispatch to: a timing wrapper of {@code backend} while enabled, else itself. */
    static Backend dispatch(Backend backend) {
        return enabled ? WRAPPED.computeIfAbsent(backend, OpProfiler::timing) : backend;
    }

    private static Backend timing(Backend target) {
        InvocationHandler handler = (proxy, method, args) -> {
            if (method.getDeclaringClass() == Object.class || args == null) {
                // equals, hashCode, toString and queries such as device(): not ops
                return invoke(method, target, args);
            }
            int[] depth = DEPTH.get();
            long start = System.nanoTime();
            depth[0]++;
            try {
                return invoke(method, target, args);
            } finally {
                depth[0]--;
                if (depth[0] == 0 && enabled) {
                    LongAdder[] v = TABLE.computeIfAbsent(label(method, args),
                            k -> new LongAdder[] {new LongAdder(), new LongAdder()});
                    v[0].increment();
                    v[1].add(System.nanoTime() - start);
                }
            }
        };
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                handler);
    }

    /** Calls the real backend; its exceptions come out as they are, not wrapped by reflection. */
    private static Object invoke(Method method, Backend target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** The method's name, then the op it was asked for (binary.add), then with shapes the tensor operands'. */
    private static String label(Method method, Object[] args) {
        StringBuilder sb = new StringBuilder(method.getName());
        if (args != null && args.length > 0 && args[0] instanceof Enum<?> op) {
            sb.append('.').append(op.name().toLowerCase(Locale.ROOT));
        }
        if (byShape && args != null) {
            for (Object a : args) {
                if (a instanceof Tensor t) {
                    sb.append(' ').append(Shape.str(t.shape()));
                }
            }
        }
        return sb.toString();
    }
}
