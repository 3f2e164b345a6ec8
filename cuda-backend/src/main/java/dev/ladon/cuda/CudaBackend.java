package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Storage;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.RandomDistribution;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.backend.UnaryOp;
import java.util.function.Consumer;

/**
 * The backend of one CUDA device. Each SPI call routes to the kernel class of its family, which launches
 * the kernels of the {@code .cu} file of {@code src/main/cuda} that its {@code MODULE} names. One class has
 * two: {@link ReduceKernels} launches reductions and cumsum from {@code reduce.cu} and softmax from
 * {@code softmax.cu} ({@code SOFTMAX_MODULE}), so "where is softmax on the GPU?" is answered by
 * {@link ReduceKernels} and {@code softmax.cu}.
 *
 * <p>Not every fused op has a CUDA kernel: rotary, the dropout mask, linear and its backward, ReLU's backward,
 * attention with a rotation and {@code attentionBackwardInto} are not overridden here, so on a GPU they run as
 * {@link Backend}'s default methods, composed of the ops this class does launch.
 *
 * <p>Execution is asynchronous: kernels are queued on one stream and a call returns before its result is
 * computed. The host waits only where data crosses to it ({@link #toHost}, hence {@code item()},
 * {@code toFloatArray()}, {@code to(Device.CPU)}) or on {@link #synchronize()}. Memory comes from a
 * caching allocator ({@link #memoryStats()}); index values are checked on the device (see
 * {@link IndexErrors}).
 *
 * <p>Obtain it with {@code Backends.of(Device.cuda(0))} ({@code Tensor.backend()} is a timing wrapper while the
 * {@code OpProfiler} is on).
 */
public final class CudaBackend implements Backend {
    /** Threads per block of the elementwise-style kernels: enough warps to hide latency, small enough for many blocks per SM. */
    static final int THREADS = 256;
    /** Grid-stride kernels need no more blocks than this to fill any current GPU. */
    static final int MAX_BLOCKS = 65535;
    private static final boolean SYNC_INDEX_CHECKS = Boolean.getBoolean("ladon.cuda.syncIndexChecks");
    /** Default soft limit of the allocator, as a fraction of the device's memory. */
    private static final double MEMORY_FRACTION =
            Double.parseDouble(System.getProperty("ladon.cuda.memoryFraction", "0.8"));
    private static volatile MatmulPrecision matmulPrecision =
            MatmulPrecision.parse(System.getProperty("ladon.cuda.matmulPrecision", "fp32"));

    private final Device device;
    private final DriverApi driver;
    private final CachingAllocator allocator;
    private final CudaStorage indexErrors;

    CudaBackend(Device device, DriverApi driver) {
        this.device = device;
        this.driver = driver;
        this.allocator = new CachingAllocator(driver, (long) (MEMORY_FRACTION * driver.totalBytes()), System::gc);
        this.indexErrors = new CudaStorage(this, DType.INT64, IndexErrors.RECORD_BYTES / 8);
        driver.memsetZero(indexErrors.address(), IndexErrors.RECORD_BYTES);
    }

    // =============================================================================================
    // Public controls beyond the SPI
    // =============================================================================================

    /** How float32 matmuls run on every CUDA device from now on (default FP32, or {@code -Dladon.cuda.matmulPrecision}). */
    public static void setMatmulPrecision(MatmulPrecision precision) {
        matmulPrecision = java.util.Objects.requireNonNull(precision, "precision");
    }

    public static MatmulPrecision matmulPrecision() {
        return matmulPrecision;
    }

    /** The allocator's statistics for this device. */
    public MemoryStats memoryStats() {
        return allocator.stats();
    }

    /** Restarts the peak-memory statistic from what is allocated now. */
    public void resetPeakMemory() {
        allocator.resetPeak();
    }

    /**
     * Sets the reserved bytes past which the allocator collects garbage before it asks the driver for
     * more (default: {@code ladon.cuda.memoryFraction}, 0.8, of the device's memory).
     */
    public void setSoftMemoryLimit(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("setSoftMemoryLimit: needs a positive byte count, got " + bytes);
        }
        allocator.setSoftLimit(bytes);
    }

    /** The allocator's soft limit in bytes (see {@link #setSoftMemoryLimit}). */
    public long softMemoryLimit() {
        return allocator.softLimit();
    }

    /** Returns every cached (unused) block to the driver; returns the bytes released. */
    public long emptyCache() {
        return allocator.emptyCache();
    }

    /** Waits until every queued kernel has finished, then reports any bad index the kernels found. */
    public void synchronize() {
        driver.synchronize();
        checkIndexErrors();
    }

    /** The GPU's name as the driver reports it. */
    public String deviceName() {
        return driver.deviceName();
    }

    /** The device's memory in bytes, as the driver reports it. */
    public long deviceBytes() {
        return driver.totalBytes();
    }

    // =============================================================================================
    // Helpers for the kernel classes
    // =============================================================================================

    /** The most dynamic shared memory a kernel launch may ask for on this device. */
    int maxSharedBytesPerBlock() {
        return driver.maxSharedBytesPerBlock();
    }

    /** The device's streaming multiprocessors. */
    int multiprocessors() {
        return driver.multiprocessors();
    }

    DriverApi driver() {
        return driver;
    }

    CachingAllocator allocator() {
        return allocator;
    }

    /** A new contiguous tensor whose elements are not initialised: the caller's kernel writes them all. */
    Tensor empty(DType dtype, int... shape) {
        return Tensor.wrap(new CudaStorage(this, dtype, Shape.numel(shape)), shape);
    }

    /** A new contiguous zero-filled tensor. */
    Tensor zeros(DType dtype, int... shape) {
        Tensor t = empty(dtype, shape);
        driver.memsetZero(address(t), (long) t.numel() * dtype.byteSize());
        return t;
    }

    /** Device address of t's first element (its storage offset applied). */
    long address(Tensor t) {
        return ((CudaStorage) t.storage()).address() + (long) t.offset() * t.dtype().byteSize();
    }

    long indexErrorAddress() {
        return indexErrors.address();
    }

    /** Called after a kernel that checks indices: reads the record now when eager checks are on. */
    void afterIndexCheck() {
        if (SYNC_INDEX_CHECKS) {
            checkIndexErrors();
        }
    }

    /** Reads the device's index-error record (a synchronising copy) and throws if a kernel reported. */
    void checkIndexErrors() {
        long[] record = new long[IndexErrors.RECORD_BYTES / 8];
        driver.copyDeviceToHost(record, indexErrors.address(), IndexErrors.RECORD_BYTES);
        String message = IndexErrors.describe(record);
        if (message != null) {
            driver.memsetZero(indexErrors.address(), IndexErrors.RECORD_BYTES);
            throw new IndexOutOfBoundsException(message);
        }
    }

    /** The kernel-name suffix of a dtype: f32, f64, i32, i64, u8 (bool). */
    static String suffix(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "f32";
            case FLOAT64 -> "f64";
            case INT32 -> "i32";
            case INT64 -> "i64";
            case BOOL -> "u8";
        };
    }

    /** Blocks of {@code threads} for a grid-stride loop over n items. */
    static int gridFor(long n, int threads) {
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (n + threads - 1) / threads));
    }

    void launch(String module, String kernel, int grid, int threads, int sharedBytes, KernelArgs args) {
        driver.launch(module, kernel, grid, 1, 1, threads, sharedBytes, args);
    }

    void launch(String module, String kernel, int gridX, int gridY, int gridZ, int threads, int sharedBytes,
            KernelArgs args) {
        driver.launch(module, kernel, gridX, gridY, gridZ, threads, sharedBytes, args);
    }

    /**
     * Launches an elementwise-style kernel {@code kernel(T0* op0, ..., Layout L, extras...)} over
     * {@code shape}, walked by every operand with its own strides (broadcast views included). Layouts of
     * more than {@link StridedLayout#MAX_DIMS} coalesced dims run as several launches.
     */
    void walk(String module, String kernel, int[] shape, Tensor[] operands, Consumer<KernelArgs> extras) {
        int[][] strides = new int[operands.length][];
        for (int k = 0; k < operands.length; k++) {
            strides[k] = operands[k].strides();
        }
        StridedLayout layout = StridedLayout.coalesce(shape, strides);
        if (layout.numel() == 0) {
            return;
        }
        for (StridedLayout.Piece piece : layout.pieces()) {
            KernelArgs args = new KernelArgs();
            for (int k = 0; k < operands.length; k++) {
                args.pointer(address(operands[k]) + piece.offsets()[k] * operands[k].dtype().byteSize());
            }
            args.struct(piece.layout().toKernelArgument());
            extras.accept(args);
            launch(module, kernel, gridFor(piece.layout().numel(), THREADS), THREADS, 0, args);
        }
    }

    /** t itself when contiguous, else a contiguous copy made on this device. */
    Tensor contiguous(Tensor t) {
        if (t.isContiguous()) {
            return t;
        }
        Tensor out = empty(t.dtype(), t.shape());
        ElementwiseKernels.copy(this, out, t);
        return out;
    }

    // =============================================================================================
    // Storage and transfers
    // =============================================================================================

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Storage allocate(DType dtype, int size) {
        CudaStorage s = new CudaStorage(this, dtype, size);
        driver.memsetZero(s.address(), (long) size * dtype.byteSize());
        return s;
    }

    @Override
    public Storage fromHost(DType dtype, Object hostArray) {
        int n = java.lang.reflect.Array.getLength(hostArray);
        CudaStorage s = new CudaStorage(this, dtype, n);
        driver.copyHostToDevice(s.address(), hostArray, (long) n * dtype.byteSize());
        return s;
    }

    @Override
    public Object toHost(Tensor t) {
        Tensor c = contiguous(t);
        int n = c.numel();
        Object out = switch (t.dtype()) {
            case FLOAT32 -> new float[n];
            case FLOAT64 -> new double[n];
            case INT32 -> new int[n];
            case INT64 -> new long[n];
            case BOOL -> new byte[n];
        };
        driver.copyDeviceToHost(out, address(c), (long) n * t.dtype().byteSize());
        checkIndexErrors();
        return out;
    }

    // =============================================================================================
    // Data movement and elementwise
    // =============================================================================================

    @Override
    public void copy(Tensor dst, Tensor src) {
        ElementwiseKernels.copy(this, dst, src);
    }

    @Override
    public void fill(Tensor dst, double value) {
        ElementwiseKernels.fill(this, dst, value);
    }

    @Override
    public void random(Tensor dst, RandomDistribution distribution, long seed, long offset, double a, double b) {
        RandomKernels.random(this, dst, distribution, seed, offset, a, b);
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x, double parameter) {
        return ElementwiseKernels.unary(this, op, x, parameter);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType resultType) {
        return ElementwiseKernels.binary(this, op, a, b, resultType);
    }

    @Override
    public void binaryInPlace(BinaryOp op, Tensor dst, Tensor src) {
        ElementwiseKernels.binaryInPlace(this, op, dst, src);
    }

    @Override
    public Tensor where(Tensor condition, Tensor a, Tensor b) {
        return ElementwiseKernels.where(this, condition, a, b);
    }

    // =============================================================================================
    // Reductions, scans, softmax
    // =============================================================================================

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepDim) {
        return ReduceKernels.reduce(this, op, x, dims, keepDim);
    }

    @Override
    public Tensor softmax(Tensor x, int dim, boolean log) {
        return ReduceKernels.softmax(this, x, dim, log);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor gradY, int dim, boolean log) {
        return ReduceKernels.softmaxBackward(this, y, gradY, dim, log);
    }

    @Override
    public Tensor cumsum(Tensor x, int dim) {
        return ReduceKernels.cumsum(this, x, dim);
    }

    // =============================================================================================
    // Linear algebra
    // =============================================================================================

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return MatmulKernels.matmul(this, a, b, matmulPrecision);
    }

    // =============================================================================================
    // Indexing, sorting
    // =============================================================================================

    @Override
    public Tensor gather(Tensor x, int dim, Tensor index) {
        return IndexKernels.gather(this, x, dim, index);
    }

    @Override
    public Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        return IndexKernels.scatterAdd(this, x, dim, index, src);
    }

    @Override
    public Tensor indexSelect(Tensor x, int dim, Tensor index) {
        return IndexKernels.indexSelect(this, x, dim, index);
    }

    @Override
    public Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        return IndexKernels.indexAdd(this, x, dim, index, src);
    }

    @Override
    public Tensor[] topk(Tensor x, int k, int dim, boolean largest) {
        return SortKernels.topk(this, x, k, dim, largest);
    }

    @Override
    public Tensor[] sort(Tensor x, int dim, boolean descending) {
        return SortKernels.sort(this, x, dim, descending);
    }

    // =============================================================================================
    // Fused layers
    // =============================================================================================

    @Override
    public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return NormKernels.layerNorm(this, x, weight, bias, eps);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        return NormKernels.layerNormBackward(this, gradY, x, weight, mean, rstd);
    }

    @Override
    public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) {
        return NormKernels.rmsNorm(this, x, weight, eps);
    }

    @Override
    public Tensor[] rmsNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor rstd) {
        return NormKernels.rmsNormBackward(this, gradY, x, weight, rstd);
    }

    @Override
    public Tensor[] crossEntropy(Tensor logits, Tensor target, int ignoreIndex, double labelSmoothing) {
        return LossKernels.crossEntropy(this, logits, target, ignoreIndex, labelSmoothing);
    }

    @Override
    public Tensor crossEntropyBackward(Tensor gradLoss, Tensor logits, Tensor target, Tensor logSumExp,
            int ignoreIndex, double labelSmoothing) {
        return LossKernels.crossEntropyBackward(this, gradLoss, logits, target, logSumExp, ignoreIndex,
                labelSmoothing);
    }

    @Override
    public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        return AttentionKernels.attention(this, q, k, v, rel, scale, causal);
    }

    @Override
    public Tensor[] attentionBackward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, Tensor out,
            Tensor logSumExp, double scale, boolean causal) {
        return AttentionKernels.attentionBackward(this, gradOut, q, k, v, rel, out, logSumExp, scale, causal);
    }

    @Override
    public Tensor groupedMatmul(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        return GroupedMatmulKernels.forward(this, x, weight, row, expert, gate);
    }

    @Override
    public Tensor[] groupedMatmulBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert,
            Tensor gate) {
        return GroupedMatmulKernels.backward(this, gradOut, x, weight, row, expert, gate);
    }

    @Override
    public void adamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
            double eps, double weightDecay, long step) {
        OptimizerKernels.adamW(this, param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    public String toString() {
        return "CudaBackend(" + device + ")";
    }
}
