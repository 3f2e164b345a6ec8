package dev.ladon.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * {@link DriverApi} through JCuda's driver-API bindings: the device's primary context, one stream, and
 * the PTX modules shipped in this jar (loaded on first use of one of their kernels; the driver compiles
 * the PTX for the GPU at hand).
 *
 * <p>The driver binds a context to the calling thread, so every method first makes the context current:
 * tensors may be used from any Java thread. Launches are checked for launch errors only; a fault inside a
 * kernel surfaces at the next synchronising call. With {@code -Dladon.cuda.debugSync=true} every launch
 * is followed by a synchronisation, so a fault names its kernel (slow; for debugging).
 */
final class JCudaDriverApi implements DriverApi {
    private static final boolean DEBUG_SYNC = Boolean.getBoolean("ladon.cuda.debugSync");
    private static final int STATIC_SHARED_LIMIT = 48 * 1024;

    private final int index;
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final String name;
    private final int maxSharedBytesPerBlock;
    private final int multiprocessors;
    private final Map<String, CUmodule> modules = new ConcurrentHashMap<>();
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> sharedLimits = new ConcurrentHashMap<>();
    private final Map<Long, DevicePointer> allocations = new ConcurrentHashMap<>();

    /** A device pointer whose address Java can read (JCuda keeps it in a protected field). */
    private static final class DevicePointer extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    JCudaDriverApi(int index) {
        this.index = index;
        JCudaDriver.setExceptionsEnabled(false);
        check(cuInit(0), "cuInit");
        CUdevice device = new CUdevice();
        check(cuDeviceGet(device, index), "cuDeviceGet(" + index + ")");
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        makeCurrent();
        // A blocking stream (not CU_STREAM_NON_BLOCKING): the synchronous host copies, which run on the
        // legacy default stream, are then ordered after every kernel queued here.
        check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
        byte[] raw = new byte[256];
        check(cuDeviceGetName(raw, raw.length, device), "cuDeviceGetName");
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        this.name = new String(raw, 0, end, StandardCharsets.US_ASCII);
        int[] shared = new int[1];
        check(cuDeviceGetAttribute(shared, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                device), "cuDeviceGetAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)");
        this.maxSharedBytesPerBlock = shared[0];
        int[] sms = new int[1];
        check(cuDeviceGetAttribute(sms, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device),
                "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)");
        this.multiprocessors = sms[0];
    }

    private void makeCurrent() {
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    private void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("CUDA call " + call + " failed on cuda:" + index + ": "
                    + CUresult.stringFor(result));
        }
    }

    /** A pointer value JCuda passes as a device address: zero plus a byte offset of {@code address}. */
    private static CUdeviceptr at(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    @Override
    public int maxSharedBytesPerBlock() {
        return maxSharedBytesPerBlock;
    }

    @Override
    public int multiprocessors() {
        return multiprocessors;
    }

    @Override
    public String deviceName() {
        return name;
    }

    // ---- memory -----------------------------------------------------------------------------------

    @Override
    public long allocate(long bytes) throws CachingAllocator.DeviceOutOfMemoryException {
        makeCurrent();
        DevicePointer p = new DevicePointer();
        int r = cuMemAlloc(p, bytes);
        if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            throw new CachingAllocator.DeviceOutOfMemoryException("cuMemAlloc(" + bytes + ") out of memory");
        }
        check(r, "cuMemAlloc(" + bytes + ")");
        allocations.put(p.address(), p);
        return p.address();
    }

    @Override
    public void free(long address) {
        makeCurrent();
        DevicePointer p = allocations.remove(address);
        if (p == null) {
            throw new IllegalStateException("cuMemFree of an address this backend did not allocate: " + address);
        }
        check(cuMemFree(p), "cuMemFree");
    }

    @Override
    public void synchronize() {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    @Override
    public String describe() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        if (cuMemGetInfo(free, total) != CUresult.CUDA_SUCCESS) {
            return name + " (free memory unknown)";
        }
        return name + ", " + MemoryStats.mib(free[0]) + " free of " + MemoryStats.mib(total[0]);
    }

    @Override
    public long totalBytes() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return total[0];
    }

    @Override
    public void memsetZero(long address, long bytes) {
        if (bytes == 0) {
            return;
        }
        makeCurrent();
        check(cuMemsetD8Async(at(address), (byte) 0, bytes, stream), "cuMemsetD8Async");
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes) {
        if (bytes == 0) {
            return;
        }
        makeCurrent();
        check(cuMemcpyDtoDAsync(at(dst), at(src), bytes, stream), "cuMemcpyDtoDAsync");
    }

    @Override
    public void copyHostToDevice(long dst, Object hostArray, long bytes) {
        if (bytes == 0) {
            return;
        }
        makeCurrent();
        check(cuMemcpyHtoD(at(dst), hostPointer(hostArray), bytes), "cuMemcpyHtoD");
    }

    @Override
    public void copyDeviceToHost(Object hostArray, long src, long bytes) {
        if (bytes == 0) {
            return;
        }
        makeCurrent();
        check(cuMemcpyDtoH(hostPointer(hostArray), at(src), bytes), "cuMemcpyDtoH");
    }

    private static Pointer hostPointer(Object array) {
        return switch (array) {
            case float[] a -> Pointer.to(a);
            case double[] a -> Pointer.to(a);
            case int[] a -> Pointer.to(a);
            case long[] a -> Pointer.to(a);
            case byte[] a -> Pointer.to(a);
            default -> throw new IllegalArgumentException("not a primitive array: " + array.getClass());
        };
    }

    // ---- kernels ----------------------------------------------------------------------------------

    @Override
    public void launch(String module, String kernel, int gridX, int gridY, int gridZ, int blockX, int sharedBytes,
            KernelArgs args) {
        makeCurrent();
        CUfunction f = function(module, kernel);
        if (sharedBytes > STATIC_SHARED_LIMIT && sharedLimits.getOrDefault(kernel, 0) < sharedBytes) {
            // Above 48 KiB a kernel must opt in to dynamic shared memory.
            check(cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    sharedBytes), "cuFuncSetAttribute(" + kernel + ", " + sharedBytes + " bytes)");
            sharedLimits.put(kernel, sharedBytes);
        }
        List<KernelArgs.Arg> list = args.list();
        NativePointerObject[] params = new NativePointerObject[list.size()];
        for (int i = 0; i < params.length; i++) {
            Object v = list.get(i).value();
            params[i] = switch (list.get(i).kind()) {
                case POINTER, LONG -> Pointer.to(new long[] {(Long) v});
                case INT -> Pointer.to(new int[] {(Integer) v});
                case FLOAT -> Pointer.to(new float[] {(Float) v});
                case DOUBLE -> Pointer.to(new double[] {(Double) v});
                case INT_STRUCT -> Pointer.to((int[]) v);
            };
        }
        int r = cuLaunchKernel(f, gridX, gridY, gridZ, blockX, 1, 1, sharedBytes, stream, Pointer.to(params), null);
        check(r, "cuLaunchKernel(" + module + "." + kernel + ", grid " + gridX + "x" + gridY + "x" + gridZ + ", block "
                + blockX + ", shared " + sharedBytes + ")");
        if (DEBUG_SYNC) {
            check(cuStreamSynchronize(stream), "kernel " + module + "." + kernel);
        }
    }

    private CUfunction function(String module, String kernel) {
        String key = module + "." + kernel;
        CUfunction f = functions.get(key);
        if (f != null) {
            return f;
        }
        CUmodule m = modules.computeIfAbsent(module, this::loadModule);
        CUfunction fresh = new CUfunction();
        check(cuModuleGetFunction(fresh, m, kernel), "cuModuleGetFunction(" + key + ")");
        functions.put(key, fresh);
        return fresh;
    }

    private CUmodule loadModule(String module) {
        byte[] ptx = readPtx(module);
        CUmodule m = new CUmodule();
        check(cuModuleLoadData(m, ptx), "cuModuleLoadData(" + module + ".ptx)");
        return m;
    }

    /**
     * The PTX text of a module from this jar, ending with the NUL byte cuModuleLoadData needs. The modules
     * are stored gzipped (build-ptx.sh): PTX is text that shrinks about tenfold, and the working tree that
     * travels to the GPU machine is limited in size.
     */
    static byte[] readPtx(String module) {
        String path = "/dev/ladon/cuda/ptx/" + module + ".ptx.gz";
        try (InputStream raw = JCudaDriverApi.class.getResourceAsStream(path)) {
            if (raw == null) {
                throw new IllegalStateException("PTX resource " + path + " is missing from the cuda-backend jar");
            }
            byte[] text = new java.util.zip.GZIPInputStream(raw).readAllBytes();
            return Arrays.copyOf(text, text.length + 1);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read PTX resource " + path, e);
        }
    }
}
