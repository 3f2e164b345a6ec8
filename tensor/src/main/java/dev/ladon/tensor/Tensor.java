package dev.ladon.tensor;

import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.Backends;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.RandomDistribution;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.backend.UnaryOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An n-dimensional array: a view (shape, strides, offset) onto a {@link Storage} that lives on one
 * {@link Device}. View methods ({@link #view}, {@link #permute}, {@link #narrow}, {@link #expand}, ...) share
 * storage and copy nothing; every other op checks its arguments here and then runs a kernel of the device's
 * {@link Backend}. Tensors are not differentiable by themselves: the {@code autograd} module records graphs
 * over them.
 *
 * <p>Shapes follow NumPy: a 0-dimensional tensor has shape {@code []} and one element; binary ops broadcast.
 * Errors are {@link IllegalArgumentException}s whose message names the op, the shapes and dtypes involved.
 *
 * <p>Integer tensors are exact over their whole range: arithmetic, comparisons, where, indexing
 * (gather, scatterAdd, indexSelect, indexAdd), sum, max, min, argmax, argmin, cumsum and sorting compute
 * on the integers themselves, never through a {@code double}, which holds integers only up to 2^53. What
 * produces floats (div, pow, mean, a cast to a float dtype) or returns a double ({@link #item()},
 * {@link #get}) is exact only up to 2^53. Integer arithmetic wraps on overflow, as Java's {@code int} and
 * {@code long} arithmetic do. {@link #div} of integers promotes to float32;
 * {@link #divInPlace} on an integer tensor truncates toward zero, and x / 0 gives the dtype's largest
 * (x &gt; 0) or smallest (x &lt; 0) value, 0 / 0 gives 0.
 *
 * <p>Scalar operands given as a {@code double} ({@link #add(double)}, {@link #sub(double)},
 * {@link #mul(double)}, the comparisons, {@link #clamp}, {@link #maskedFill}): on an integer tensor a
 * value the dtype holds (integral and in its range) keeps the tensor's dtype, and the op is exact. Any other
 * value (a fraction, one past the range, infinity or NaN) promotes the result to float32 ({@code ints.add(0.5)}
 * and {@code int32s.mul(1e10)} are float32); a comparison with such a value is made in float64, exact for
 * every int32. In-place ops and the index adds keep the destination's dtype, so they refuse a floating
 * operand on an integer tensor rather than round it, as PyTorch does. Integers above 2^53
 * in magnitude are not all representable as a double (the cast {@code (double) ((1L << 53) + 1)} already
 * gives 2^53), so give such an int64 operand as a tensor: {@code x.add(Tensor.of(new long[] {v}))}.
 */
public final class Tensor {
    private final Storage storage;
    private final int[] shape;
    private final int[] strides;
    private final int offset;

    private Tensor(Storage storage, int[] shape, int[] strides, int offset) {
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        // An empty view reads nothing, but its offset may lie past the storage's end (the second row of a
        // [2, 0, 4] tensor); kernels that copy a run from the offset would then fail on a run of length 0.
        this.offset = Shape.numel(shape) == 0 ? 0 : offset;
    }

    // =============================================================================================
    // Construction
    // =============================================================================================

    /** A contiguous tensor over a whole storage (for backends). */
    public static Tensor wrap(Storage storage, int... shape) {
        int[] s = shape.clone();
        if (Shape.numel(s) != storage.size()) {
            throw new IllegalArgumentException("wrap: shape " + Shape.str(s) + " does not match storage of "
                    + storage.size() + " elements");
        }
        return new Tensor(storage, s, Shape.contiguousStrides(s), 0);
    }

    /** An arbitrary strided view of a storage (for backends and view ops); bounds are the caller's duty. */
    public static Tensor asStrided(Storage storage, int[] shape, int[] strides, int offset) {
        return new Tensor(storage, shape.clone(), strides.clone(), offset);
    }

    /** An uninitialised-looking (actually zero-filled) contiguous tensor. */
    public static Tensor empty(DType dtype, Device device, int... shape) {
        int[] s = shape.clone();
        return new Tensor(Backends.of(device).allocate(dtype, Shape.numel(s)), s, Shape.contiguousStrides(s), 0);
    }

    public static Tensor zeros(int... shape) {
        return empty(DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor zeros(DType dtype, int... shape) {
        return empty(dtype, Device.CPU, shape);
    }

    public static Tensor zeros(DType dtype, Device device, int... shape) {
        return empty(dtype, device, shape);
    }

    public static Tensor ones(int... shape) {
        return full(1.0, DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor ones(DType dtype, int... shape) {
        return full(1.0, dtype, Device.CPU, shape);
    }

    public static Tensor ones(DType dtype, Device device, int... shape) {
        return full(1.0, dtype, device, shape);
    }

    public static Tensor full(double value, int... shape) {
        return full(value, DType.FLOAT32, Device.CPU, shape);
    }

    /**
     * A new tensor of value everywhere, truncated toward zero for an integer dtype (NaN, infinity or a value past
     * the dtype's range is refused there); for bool any nonzero value is true.
     */
    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        requireHeldBy("full", dtype, value, true);
        Tensor t = empty(dtype, device, shape);
        if (value != 0.0) {
            t.backend().fill(t, value);
        }
        return t;
    }

    /** A 0-dimensional float32 tensor. */
    public static Tensor scalar(double value) {
        return full(value, DType.FLOAT32, Device.CPU);
    }

    public static Tensor scalar(double value, DType dtype, Device device) {
        return full(value, dtype, device);
    }

    /** int64 values 0, 1, ..., n-1. */
    public static Tensor arange(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("arange: n must be >= 0, got " + n);
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return of(v, n);
    }

    /** Values start, start+step, ... below end (above end when step is negative), in {@code dtype}. */
    public static Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0 || !Double.isFinite(step) || !Double.isFinite(start) || !Double.isFinite(end)) {
            throw new IllegalArgumentException("arange: step must be finite and non-zero and bounds finite, got start="
                    + start + " end=" + end + " step=" + step);
        }
        double count = Math.max(0, Math.ceil((end - start) / step));
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("arange: " + count + " values from start=" + start + " to end=" + end
                    + " by step=" + step + " are more than a tensor holds");
        }
        int n = (int) count;
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = start + i * step;
        }
        return of(v, n).to(dtype);
    }

    /** The n x n identity. */
    public static Tensor eye(int n, DType dtype, Device device) {
        Tensor t = zeros(dtype, device, n, n);
        // The diagonal of a row-major n x n matrix is a 1-D view with stride n + 1.
        t.backend().fill(asStrided(t.storage, new int[] {n}, new int[] {n + 1}, 0), 1.0);
        return t;
    }

    public static Tensor eye(int n) {
        return eye(n, DType.FLOAT32, Device.CPU);
    }

    public static Tensor of(float[] data, int... shape) {
        return fromHost(DType.FLOAT32, data, data.length, shape);
    }

    public static Tensor of(double[] data, int... shape) {
        return fromHost(DType.FLOAT64, data, data.length, shape);
    }

    public static Tensor of(int[] data, int... shape) {
        return fromHost(DType.INT32, data, data.length, shape);
    }

    public static Tensor of(long[] data, int... shape) {
        return fromHost(DType.INT64, data, data.length, shape);
    }

    /** A bool mask. */
    public static Tensor of(boolean[] data, int... shape) {
        byte[] b = new byte[data.length];
        for (int i = 0; i < data.length; i++) {
            b[i] = (byte) (data[i] ? 1 : 0);
        }
        return fromHost(DType.BOOL, b, b.length, shape);
    }

    private static Tensor fromHost(DType dtype, Object array, int length, int[] shape) {
        int[] s = shape.length == 0 && length != 1 ? new int[] {length} : shape.clone();
        if (Shape.numel(s) != length) {
            throw new IllegalArgumentException("of: " + length + " values cannot fill shape " + Shape.str(s));
        }
        return new Tensor(Backends.of(Device.CPU).fromHost(dtype, array), s, Shape.contiguousStrides(s), 0);
    }

    // ---- random ---------------------------------------------------------------------------------

    /** Uniform [0, 1) float32 from the default generator. */
    public static Tensor rand(int... shape) {
        return rand(Generator.defaultGenerator(), DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor rand(Generator gen, DType dtype, Device device, int... shape) {
        return uniform(0.0, 1.0, gen, dtype, device, shape);
    }

    /** Uniform [low, high). */
    public static Tensor uniform(double low, double high, Generator gen, DType dtype, Device device, int... shape) {
        return random("uniform", RandomDistribution.UNIFORM, low, high, gen, dtype, device, shape);
    }

    /** Standard normal float32 from the default generator. */
    public static Tensor randn(int... shape) {
        return randn(Generator.defaultGenerator(), DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor randn(Generator gen, DType dtype, Device device, int... shape) {
        return normal(0.0, 1.0, gen, dtype, device, shape);
    }

    public static Tensor normal(double mean, double std, Generator gen, DType dtype, Device device, int... shape) {
        return random("normal", RandomDistribution.NORMAL, mean, std, gen, dtype, device, shape);
    }

    /** Integers uniform in [low, high), int64. */
    public static Tensor randint(long low, long high, Generator gen, Device device, int... shape) {
        if (high <= low) {
            throw new IllegalArgumentException("randint: need low < high, got [" + low + ", " + high + ")");
        }
        // Drawn in float64 (53 random bits) so that ranges up to 2^31 stay unbiased to within 2^-22;
        // u in [0, high - low) truncates to its floor because it is never negative.
        Tensor u = uniform(0, high - low, gen, DType.FLOAT64, device, shape);
        // low as a tensor: a double operand would round it past 2^53
        return u.to(DType.INT64).add(of(new long[] {low}).to(device));
    }

    /**
     * The mask inverted dropout multiplies by: 1 / (1 - p) with probability 1 - p, else 0. The same numbers,
     * and the same draws from gen, as {@code bernoulli(1 - p, gen, dtype, device, shape).div(1 - p)}, made in
     * one pass where the backend can.
     *
     * @throws IllegalArgumentException unless 0 &lt;= p &lt; 1 and dtype is floating
     */
    public static Tensor dropoutMask(double p, Generator gen, DType dtype, Device device, int... shape) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropoutMask: p must be in [0, 1), got " + p);
        }
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("dropoutMask: the mask needs a floating dtype, got " + dtype);
        }
        Tensor t = empty(dtype, device, shape);
        long start = gen.advance(t.numel());
        t.backend().dropoutMask(t, gen.seed(), start, 1 - p);
        return t;
    }

    /** 1.0 with probability p, else 0.0 (a dropout keep-mask when p is the keep probability). */
    public static Tensor bernoulli(double p, Generator gen, DType dtype, Device device, int... shape) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("bernoulli: p must be in [0, 1], got " + p);
        }
        return rand(gen, dtype, device, shape).lt(p).to(dtype);
    }

    private static Tensor random(String op, RandomDistribution dist, double a, double b, Generator gen, DType dtype,
            Device device, int[] shape) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException(op + ": random fills need a floating dtype, got " + dtype);
        }
        boolean valid = dist == RandomDistribution.UNIFORM ? Double.isFinite(a) && Double.isFinite(b) && a <= b
                : Double.isFinite(a) && Double.isFinite(b) && b >= 0;
        if (!valid) {
            throw new IllegalArgumentException(op + (dist == RandomDistribution.UNIFORM
                    ? ": need finite bounds with low <= high, got low=" + a + " high=" + b
                    : ": need a finite mean and a finite std >= 0, got mean=" + a + " std=" + b));
        }
        Tensor t = empty(dtype, device, shape);
        long start = gen.advance(t.numel());
        t.backend().random(t, dist, gen.seed(), start, a, b);
        return t;
    }

    // =============================================================================================
    // Properties
    // =============================================================================================

    public int[] shape() {
        return shape.clone();
    }

    /** Size of one dimension (negative dims count from the end). */
    public int size(int dim) {
        return shape[existingDim("size", dim)];
    }

    public int dim() {
        return shape.length;
    }

    public int numel() {
        return Shape.numel(shape);
    }

    public DType dtype() {
        return storage.dtype();
    }

    public Device device() {
        return storage.device();
    }

    public int[] strides() {
        return strides.clone();
    }

    public int stride(int dim) {
        return strides[existingDim("stride", dim)];
    }

    /** Index of element [0, ..., 0] in the storage. */
    public int offset() {
        return offset;
    }

    public Storage storage() {
        return storage;
    }

    /** The storage's version counter, bumped by every in-place write (used by autograd). */
    public int version() {
        return storage.version();
    }

    /**
     * The backend this tensor's ops run on. While the {@link OpProfiler} is on, this is a wrapper that times
     * each call; {@link Backends#of} gives the backend itself (for a cast to a concrete backend class).
     */
    public Backend backend() {
        return OpProfiler.dispatch(Backends.of(storage.device()));
    }

    /** Row-major contiguous: the layout {@link #contiguous()} produces. */
    public boolean isContiguous() {
        int expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && strides[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    // =============================================================================================
    // Views (no copy)
    // =============================================================================================

    /** A view with a new shape; one dim may be -1. Fails when the strides cannot express it (use reshape). */
    public Tensor view(int... newShape) {
        int[] s = inferShape("view", newShape);
        int[] st = viewStrides(s);
        if (st == null) {
            throw new IllegalArgumentException("view: shape " + Shape.str(s) + " is not compatible with the strides "
                    + Shape.str(strides) + " of a tensor of shape " + Shape.str(shape) + "; use reshape(), which copies");
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Like {@link #view} but copies when the current layout cannot be viewed in the new shape. */
    public Tensor reshape(int... newShape) {
        int[] s = inferShape("reshape", newShape);
        int[] st = viewStrides(s);
        if (st != null) {
            return new Tensor(storage, s, st, offset);
        }
        return contiguous().view(s);
    }

    private int[] inferShape(String op, int[] newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException(op + ": only one dimension can be -1 in " + Shape.str(newShape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException(op + ": invalid dimension " + s[i] + " in " + Shape.str(newShape));
            } else {
                known *= s[i];
            }
        }
        int n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException(op + ": cannot reshape tensor of shape " + Shape.str(shape) + " ("
                        + n + " elements) into " + Shape.str(newShape));
            }
            s[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": cannot reshape tensor of shape " + Shape.str(shape) + " (" + n
                    + " elements) into " + Shape.str(newShape) + " (" + known + " elements)");
        }
        return s;
    }

    /**
     * Strides that let this tensor's elements be seen in shape {@code s} without a copy, or null. The old
     * dims are walked from the right in chunks that are contiguous in memory; within a chunk the new dims
     * may split or merge freely, but a new dim may not straddle two chunks.
     */
    private int[] viewStrides(int[] s) {
        if (isContiguous()) {
            return Shape.contiguousStrides(s);
        }
        int[] out = new int[s.length];
        if (numel() == 0) {
            return Shape.contiguousStrides(s);
        }
        int newDim = s.length - 1;
        long chunkBase = strides[shape.length - 1];
        long chunkElements = 1;
        long viewElements = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            chunkElements *= shape[d];
            boolean chunkEnds = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != chunkElements * chunkBase);
            if (chunkEnds) {
                while (newDim >= 0 && (viewElements < chunkElements || s[newDim] == 1)) {
                    out[newDim] = (int) (viewElements * chunkBase);
                    viewElements *= s[newDim];
                    newDim--;
                }
                if (viewElements != chunkElements) {
                    return null;
                }
                if (d > 0) {
                    chunkBase = strides[d - 1];
                    chunkElements = 1;
                    viewElements = 1;
                }
            }
        }
        return newDim == -1 ? out : null;
    }

    /** Reorders dimensions: result dim i is this tensor's dim {@code order[i]}. */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not match rank "
                    + shape.length + " of shape " + Shape.str(shape));
        }
        int[] s = new int[order.length];
        int[] st = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int d = Shape.normalizeDim("permute", order[i], shape.length);
            if (seen[d]) {
                throw new IllegalArgumentException("permute: dim " + d + " repeated in " + Arrays.toString(order));
            }
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        return new Tensor(storage, s, st, offset);
    }

    public Tensor transpose(int dim0, int dim1) {
        int a = existingDim("transpose", dim0);
        int b = existingDim("transpose", dim1);
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** Transpose of the last two dims (a matrix transpose, batched). */
    public Tensor mT() {
        if (shape.length < 2) {
            throw new IllegalArgumentException("mT: needs at least 2 dims, got shape " + Shape.str(shape));
        }
        return transpose(-2, -1);
    }

    /** Elements start..start+length-1 of one dim. */
    public Tensor narrow(int dim, int start, int length) {
        int d = existingDim("narrow", dim);
        if (start < 0 || length < 0 || start + length > shape[d]) {
            throw new IllegalArgumentException("narrow: range [" + start + ", " + (start + length) + ") is outside dim "
                    + d + " of size " + shape[d] + " (shape " + Shape.str(shape) + ")");
        }
        int[] s = shape.clone();
        s[d] = length;
        return new Tensor(storage, s, strides.clone(), offset + start * strides[d]);
    }

    /** Python-style slice start:end:step along dim (negative start/end count from the end; step > 0). */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = existingDim("slice", dim);
        if (step <= 0) {
            throw new IllegalArgumentException("slice: step must be positive, got " + step);
        }
        int n = shape[d];
        int lo = Math.clamp(start < 0 ? start + n : start, 0, n);
        int hi = Math.clamp(end < 0 ? end + n : end, lo, n);
        int[] s = shape.clone();
        int[] st = strides.clone();
        s[d] = (hi - lo + step - 1) / step;
        st[d] = strides[d] * step;
        return new Tensor(storage, s, st, offset + lo * strides[d]);
    }

    /** Removes dim {@code dim} by taking element {@code index} of it. */
    public Tensor select(int dim, int index) {
        int d = existingDim("select", dim);
        int i = index < 0 ? index + shape[d] : index;
        if (i < 0 || i >= shape[d]) {
            throw new IndexOutOfBoundsException("select: index " + index + " is out of range for dim " + d + " of size "
                    + shape[d] + " (shape " + Shape.str(shape) + ")");
        }
        int[] s = new int[shape.length - 1];
        int[] st = new int[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (k != d) {
                s[j] = shape[k];
                st[j++] = strides[k];
            }
        }
        return new Tensor(storage, s, st, offset + i * strides[d]);
    }

    /** Broadcasts size-1 dims (and new leading dims) to {@code newShape} with stride 0; -1 keeps a size. */
    public Tensor expand(int... newShape) {
        if (newShape.length < shape.length) {
            throw new IllegalArgumentException("expand: cannot expand shape " + Shape.str(shape) + " to fewer dims "
                    + Shape.str(newShape));
        }
        int lead = newShape.length - shape.length;
        int[] s = new int[newShape.length];
        int[] st = new int[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            int target = newShape[i];
            if (i < lead) {
                if (target < 0) {
                    throw new IllegalArgumentException("expand: -1 not allowed for new leading dim in " + Shape.str(newShape));
                }
                s[i] = target;
                st[i] = 0;
                continue;
            }
            int cur = shape[i - lead];
            if (target == -1 || target == cur) {
                s[i] = cur;
                st[i] = strides[i - lead];
            } else if (cur == 1) {
                s[i] = target;
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("expand: cannot expand shape " + Shape.str(shape) + " to "
                        + Shape.str(newShape) + " (dim " + i + " has size " + cur + ", not 1)");
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Removes every size-1 dim. */
    public Tensor squeeze() {
        int n = 0;
        for (int s : shape) {
            if (s != 1) {
                n++;
            }
        }
        int[] s = new int[n];
        int[] st = new int[n];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (shape[k] != 1) {
                s[j] = shape[k];
                st[j++] = strides[k];
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Removes dim {@code dim} if its size is 1 (otherwise returns this tensor, as PyTorch does). */
    public Tensor squeeze(int dim) {
        int d = Shape.normalizeDim("squeeze", dim, shape.length);
        if (shape.length == 0 || shape[d] != 1) {
            return this;
        }
        return select(d, 0);
    }

    /** Inserts a size-1 dim at position {@code dim} (0..rank). */
    public Tensor unsqueeze(int dim) {
        int d = Shape.normalizeDim("unsqueeze", dim, shape.length + 1);
        int[] s = new int[shape.length + 1];
        int[] st = new int[shape.length + 1];
        for (int k = 0, j = 0; k < s.length; k++) {
            if (k == d) {
                s[k] = 1;
                st[k] = d < shape.length ? strides[d] * shape[d] : 1;
            } else {
                s[k] = shape[j];
                st[k] = strides[j++];
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    public Tensor flatten() {
        return reshape(numel());
    }

    /** Merges dims start..end (inclusive) into one. */
    public Tensor flatten(int startDim, int endDim) {
        if (shape.length == 0) {
            return reshape(1);
        }
        int a = Shape.normalizeDim("flatten", startDim, shape.length);
        int b = Shape.normalizeDim("flatten", endDim, shape.length);
        if (a > b) {
            throw new IllegalArgumentException("flatten: start dim " + a + " is after end dim " + b);
        }
        int[] s = new int[shape.length - (b - a)];
        int j = 0;
        for (int k = 0; k < a; k++) {
            s[j++] = shape[k];
        }
        int merged = 1;
        for (int k = a; k <= b; k++) {
            merged *= shape[k];
        }
        s[j++] = merged;
        for (int k = b + 1; k < shape.length; k++) {
            s[j++] = shape[k];
        }
        return reshape(s);
    }

    /** This tensor if already contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        return isContiguous() ? this : copyAsContiguous();
    }

    private Tensor copyAsContiguous() {
        Tensor out = empty(dtype(), device(), shape);
        backend().copy(out, this);
        return out;
    }

    /** A contiguous copy that shares nothing with this tensor. */
    public Tensor copy() {
        return copyAsContiguous();
    }

    /** This tensor broadcast to {@code target} (NumPy rules), as a view. */
    public Tensor broadcastTo(int... target) {
        int[] b = Shape.broadcast("broadcastTo", shape, target);
        if (!Arrays.equals(b, target)) {
            throw new IllegalArgumentException("broadcastTo: shape " + Shape.str(shape) + " cannot be broadcast to "
                    + Shape.str(target));
        }
        return expand(target);
    }

    // =============================================================================================
    // Conversions and transfers
    // =============================================================================================

    /** A copy on {@code target} (this tensor when it is already there). */
    public Tensor to(Device target) {
        if (target.equals(device())) {
            return this;
        }
        Object host = backend().toHost(this);
        return new Tensor(Backends.of(target).fromHost(dtype(), host), shape.clone(), Shape.contiguousStrides(shape), 0);
    }

    /**
     * A copy converted to {@code target} (this tensor when it already has that dtype). Integers convert as
     * integers (int64 to int32 keeps the low 32 bits, to float32 rounds once, as PyTorch); a float to an integer
     * truncates toward zero, saturating at the range and NaN giving 0 (Java's cast); bool is "nonzero".
     */
    public Tensor to(DType target) {
        if (target == dtype()) {
            return this;
        }
        Tensor out = empty(target, device(), shape);
        backend().copy(out, this);
        return out;
    }

    // =============================================================================================
    // Element access
    // =============================================================================================

    /**
     * The single value of a one-element tensor, as a double: exact for floats and for integers up to 2^53
     * in magnitude; read larger int64 values with {@link #toLongArray()}.
     */
    public double item() {
        if (numel() != 1) {
            throw new IllegalArgumentException("item: tensor of shape " + Shape.str(shape) + " has " + numel()
                    + " elements, not 1");
        }
        return toDoubleArray()[0];
    }

    /** The element at a full index, as a double (see {@link #item()}). */
    public double get(int... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("get: index " + Arrays.toString(index) + " does not match shape "
                    + Shape.str(shape));
        }
        Tensor t = this;
        for (int i = index.length - 1; i >= 0; i--) {
            t = t.select(i, index[i]);
        }
        return t.item();
    }

    public float[] toFloatArray() {
        Tensor t = to(DType.FLOAT32);
        return (float[]) t.backend().toHost(t);
    }

    public double[] toDoubleArray() {
        Tensor t = to(DType.FLOAT64);
        return (double[]) t.backend().toHost(t);
    }

    public int[] toIntArray() {
        Tensor t = to(DType.INT32);
        return (int[]) t.backend().toHost(t);
    }

    public long[] toLongArray() {
        Tensor t = to(DType.INT64);
        return (long[]) t.backend().toHost(t);
    }

    /** Elementwise |a - b| &lt;= atol + rtol * |b| on equal shapes; NaN is never close. */
    public boolean allClose(Tensor other, double rtol, double atol) {
        if (!Arrays.equals(shape, other.shape)) {
            return false;
        }
        double[] a = toDoubleArray();
        double[] b = other.toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return TensorFormat.format(this);
    }

    // =============================================================================================
    // Elementwise
    // =============================================================================================

    private Tensor unary(UnaryOp op, double parameter) {
        requireFloating(op.name().toLowerCase(), this);
        return backend().unary(op, this, parameter);
    }

    public Tensor neg() {
        if (!dtype().isFloating()) {
            return mul(-1);
        }
        return unary(UnaryOp.NEG, 0);
    }

    public Tensor abs() {
        return unary(UnaryOp.ABS, 0);
    }

    public Tensor exp() {
        return unary(UnaryOp.EXP, 0);
    }

    public Tensor log() {
        return unary(UnaryOp.LOG, 0);
    }

    public Tensor sqrt() {
        return unary(UnaryOp.SQRT, 0);
    }

    public Tensor rsqrt() {
        return unary(UnaryOp.RSQRT, 0);
    }

    public Tensor tanh() {
        return unary(UnaryOp.TANH, 0);
    }

    public Tensor sigmoid() {
        return unary(UnaryOp.SIGMOID, 0);
    }

    public Tensor relu() {
        return unary(UnaryOp.RELU, 0);
    }

    /** GELU with the tanh approximation (PyTorch's {@code approximate='tanh'}). */
    public Tensor gelu() {
        return unary(UnaryOp.GELU, 0);
    }

    /** d gelu(x) / dx, for backward passes. */
    public Tensor geluDerivative() {
        return unary(UnaryOp.GELU_DERIVATIVE, 0);
    }

    public Tensor silu() {
        return unary(UnaryOp.SILU, 0);
    }

    public Tensor sin() {
        return unary(UnaryOp.SIN, 0);
    }

    public Tensor cos() {
        return unary(UnaryOp.COS, 0);
    }

    public Tensor square() {
        return unary(UnaryOp.SQUARE, 0);
    }

    public Tensor reciprocal() {
        return unary(UnaryOp.RECIPROCAL, 0);
    }

    public Tensor sign() {
        return unary(UnaryOp.SIGN, 0);
    }

    /** x^exponent elementwise. */
    public Tensor pow(double exponent) {
        return unary(UnaryOp.POW, exponent);
    }

    private Tensor binary(String op, BinaryOp kind, Tensor other) {
        requireSameDevice(op, this, other);
        DType common = DType.resultType(dtype(), dim() == 0, other.dtype(), other.dim() == 0);
        if (!kind.isComparison() && common == DType.BOOL) {
            common = DType.INT64;
        }
        if ((kind == BinaryOp.POW) && !common.isFloating()) {
            common = DType.FLOAT32;
        }
        int[] outShape = Shape.broadcast(op, shape, other.shape);
        Tensor a = to(common).expand(outShape);
        Tensor b = other.to(common).expand(outShape);
        return backend().binary(kind, a, b, kind.isComparison() ? DType.BOOL : common);
    }

    /**
     * A 0-dim tensor of this tensor's dtype for a scalar op's operand. On an integer tensor a value the dtype
     * does not hold exactly (a fraction, one past its range, infinity, NaN) makes the operand float32, or
     * float64 for a comparison, which then holds every int32 exactly (x.lt(3e9) is true for every int32).
     */
    private Tensor scalarLike(double value, boolean comparison) {
        DType t = dtype() == DType.BOOL ? DType.INT64 : dtype();
        if (!t.isFloating() && !holdsExactly(t, value)) {
            t = comparison ? DType.FLOAT64 : DType.FLOAT32;
        }
        return full(value, t, device());
    }

    private Tensor scalarLike(double value) {
        return scalarLike(value, false);
    }

    /** Whether the integer (or bool) dtype t holds value exactly. */
    private static boolean holdsExactly(DType t, double value) {
        return switch (t) {
            case BOOL -> value == 0 || value == 1;
            case INT32 -> value == Math.rint(value) && value >= Integer.MIN_VALUE && value <= Integer.MAX_VALUE;
            // 2^63 itself is the first double past Long.MAX_VALUE.
            case INT64 -> value == Math.rint(value) && value >= Long.MIN_VALUE && value < 0x1p63;
            default -> true;
        };
    }

    /**
     * Refuses to write a value an integer or bool tensor cannot hold: NaN, infinity or one past its range (PyTorch
     * raises the same), and a fraction unless the op converts on purpose ({@link #full} truncates toward zero and
     * makes any nonzero value true, as PyTorch's).
     */
    private static void requireHeldBy(String op, DType t, double value, boolean truncates) {
        if (t.isFloating() || (truncates && t == DType.BOOL)) {
            return; // floats hold any double (rounded); for bool, as a cast, any nonzero value is true
        }
        String problem;
        if (Double.isNaN(value)) {
            problem = "is NaN";
        } else if (Double.isInfinite(value)) {
            problem = "is infinite";
        } else if (!truncates && value != Math.rint(value)) {
            problem = "would be rounded";
        } else if (!holdsExactly(t, value < 0 ? Math.ceil(value) : Math.floor(value))) {
            problem = "is outside the " + t + " range";
        } else {
            return;
        }
        throw new IllegalArgumentException(op + ": the value " + value + " " + problem + ", so a tensor of dtype " + t
                + " cannot hold it; use a floating dtype");
    }

    /**
     * Refuses in-place writes (and the index adds, which keep this tensor's dtype) that would have to round a
     * float into an integer tensor or turn numbers into bools, as PyTorch does: the result type must be castable
     * to the destination's.
     */
    private void requireCastableInto(String op, DType source) {
        DType t = dtype();
        boolean narrowing = (source.isFloating() && !t.isFloating()) || (t == DType.BOOL && source != DType.BOOL);
        if (narrowing) {
            throw new IllegalArgumentException(op + ": a " + source + " operand cannot be written into this " + t
                    + " tensor of shape " + Shape.str(shape) + " (its values would be rounded); convert with to()");
        }
    }

    public Tensor add(Tensor other) {
        return binary("add", BinaryOp.ADD, other);
    }

    /** this + value; on an integer tensor an integral value keeps the dtype (see the class comment). */
    public Tensor add(double value) {
        return binary("add", BinaryOp.ADD, scalarLike(value));
    }

    public Tensor sub(Tensor other) {
        return binary("sub", BinaryOp.SUB, other);
    }

    /** this - value; on an integer tensor an integral value keeps the dtype (see the class comment). */
    public Tensor sub(double value) {
        return binary("sub", BinaryOp.SUB, scalarLike(value));
    }

    public Tensor mul(Tensor other) {
        return binary("mul", BinaryOp.MUL, other);
    }

    /** this * value; on an integer tensor an integral value keeps the dtype (see the class comment). */
    public Tensor mul(double value) {
        return binary("mul", BinaryOp.MUL, scalarLike(value));
    }

    public Tensor div(Tensor other) {
        if (!DType.promote(dtype(), other.dtype()).isFloating()) {
            return to(DType.FLOAT32).div(other.to(DType.FLOAT32));
        }
        return binary("div", BinaryOp.DIV, other);
    }

    public Tensor div(double value) {
        if (!dtype().isFloating()) {
            return to(DType.FLOAT32).div(value);
        }
        return binary("div", BinaryOp.DIV, scalarLike(value));
    }

    /** this^exponent elementwise, with broadcasting. */
    public Tensor pow(Tensor exponent) {
        return binary("pow", BinaryOp.POW, exponent);
    }

    public Tensor maximum(Tensor other) {
        return binary("maximum", BinaryOp.MAXIMUM, other);
    }

    public Tensor minimum(Tensor other) {
        return binary("minimum", BinaryOp.MINIMUM, other);
    }

    /** Elementwise clamp to [min, max]. */
    public Tensor clamp(double min, double max) {
        return maximum(scalarLike(min)).minimum(scalarLike(max));
    }

    public Tensor eq(Tensor other) {
        return binary("eq", BinaryOp.EQ, other);
    }

    public Tensor eq(double value) {
        return binary("eq", BinaryOp.EQ, scalarLike(value, true));
    }

    public Tensor ne(Tensor other) {
        return binary("ne", BinaryOp.NE, other);
    }

    public Tensor ne(double value) {
        return binary("ne", BinaryOp.NE, scalarLike(value, true));
    }

    public Tensor lt(Tensor other) {
        return binary("lt", BinaryOp.LT, other);
    }

    public Tensor lt(double value) {
        return binary("lt", BinaryOp.LT, scalarLike(value, true));
    }

    public Tensor le(Tensor other) {
        return binary("le", BinaryOp.LE, other);
    }

    public Tensor le(double value) {
        return binary("le", BinaryOp.LE, scalarLike(value, true));
    }

    public Tensor gt(Tensor other) {
        return binary("gt", BinaryOp.GT, other);
    }

    public Tensor gt(double value) {
        return binary("gt", BinaryOp.GT, scalarLike(value, true));
    }

    public Tensor ge(Tensor other) {
        return binary("ge", BinaryOp.GE, other);
    }

    public Tensor ge(double value) {
        return binary("ge", BinaryOp.GE, scalarLike(value, true));
    }

    /** condition ? a : b elementwise, broadcasting all three; condition must be BOOL. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        requireSameDevice("where", condition, a, b);
        if (condition.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("where: condition must be bool, got " + condition.dtype());
        }
        DType common = DType.resultType(a.dtype(), a.dim() == 0, b.dtype(), b.dim() == 0);
        int[] s = Shape.broadcast("where", Shape.broadcast("where", condition.shape, a.shape), b.shape);
        return a.backend().where(condition.expand(s), a.to(common).expand(s), b.to(common).expand(s));
    }

    /** Where mask is true, {@code value}; elsewhere this tensor's element (mask broadcasts). */
    public Tensor maskedFill(Tensor mask, double value) {
        requireSameDevice("maskedFill", this, mask);
        if (mask.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("maskedFill: mask must be bool, got " + mask.dtype() + " of shape "
                    + Shape.str(mask.shape) + " (input " + Shape.str(shape) + ")");
        }
        Shape.broadcast("maskedFill", shape, mask.shape);
        // A bool tensor filled with false or true stays bool (scalarLike makes bool operands int64 for arithmetic).
        Tensor fill = dtype() == DType.BOOL && (value == 0 || value == 1) ? full(value, DType.BOOL, device())
                : scalarLike(value);
        return where(mask, fill, this);
    }

    // ---- in place: each bumps the storage version; a broadcast (expanded) destination is rejected -----

    private Tensor inPlace(String op, BinaryOp kind, Tensor other) {
        requireSameDevice(op, this, other);
        requireDistinctElements(op);
        requireCastableInto(op, other.dtype());
        Shape.broadcast(op, shape, other.shape);
        Tensor src = snapshotIfOverlapping(other.to(dtype()).broadcastToForInPlace(op, shape));
        backend().binaryInPlace(kind, this, src);
        storage.bumpVersion();
        return this;
    }

    /**
     * The operand of an in-place op, copied first when it reads this tensor's memory in another layout (x +=
     * x.mT()): the kernel would otherwise read elements it has already overwritten. Reading each element at
     * the position it is written (x += x) needs no copy.
     */
    private Tensor snapshotIfOverlapping(Tensor src) {
        boolean sameLayout = src.offset == offset && Arrays.equals(src.strides, strides);
        return src.storage == storage && !sameLayout ? src.copy() : src;
    }

    /** In-place writes into a broadcast view would hit one memory location several times, each with another result. */
    private void requireDistinctElements(String op) {
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] > 1 && strides[d] == 0) {
                throw new IllegalArgumentException(op + ": cannot write in place into a broadcast view of shape "
                        + Shape.str(shape) + " with strides " + Shape.str(strides)
                        + " (several elements share one memory location); make it contiguous() first");
            }
        }
    }

    private Tensor broadcastToForInPlace(String op, int[] target) {
        int[] b = Shape.broadcast(op, shape, target);
        if (!Arrays.equals(b, target)) {
            throw new IllegalArgumentException(op + ": result shape " + Shape.str(b) + " of an in-place op differs from "
                    + "the destination's shape " + Shape.str(target));
        }
        return expand(target);
    }

    /** this = relu(this), the same values {@link #relu()} gives (NaN stays NaN), written in place. */
    public Tensor reluInPlace() {
        return inPlace("reluInPlace", BinaryOp.MAXIMUM, full(0.0, dtype(), device()));
    }

    /** this += other (other broadcasts to this shape). */
    public Tensor addInPlace(Tensor other) {
        return inPlace("addInPlace", BinaryOp.ADD, other);
    }

    public Tensor subInPlace(Tensor other) {
        return inPlace("subInPlace", BinaryOp.SUB, other);
    }

    public Tensor mulInPlace(Tensor other) {
        return inPlace("mulInPlace", BinaryOp.MUL, other);
    }

    /** this *= value; on an integer tensor the value must be an integer the dtype holds. */
    public Tensor mulInPlace(double value) {
        requireHeldBy("mulInPlace", dtype(), value, false);
        return inPlace("mulInPlace", BinaryOp.MUL, full(value, dtype(), device()));
    }

    /**
     * this /= other. On an integer tensor the quotient truncates toward zero; x / 0 gives the dtype's
     * largest (x &gt; 0) or smallest (x &lt; 0) value and 0 / 0 gives 0. (Exact on the CPU; the CUDA
     * backend still divides integers through a double, so int64 quotients past 2^53 may differ there.)
     */
    public Tensor divInPlace(Tensor other) {
        return inPlace("divInPlace", BinaryOp.DIV, other);
    }

    /** Copies other's elements (broadcast, cast) into this tensor. */
    public Tensor copyFrom(Tensor other) {
        requireSameDevice("copyFrom", this, other);
        requireDistinctElements("copyFrom");
        backend().copy(this, snapshotIfOverlapping(other.broadcastToForInPlace("copyFrom", shape)));
        storage.bumpVersion();
        return this;
    }

    /** Every element set to value, truncated toward zero on an integer tensor (NaN or overflow is refused). */
    public Tensor fillInPlace(double value) {
        requireDistinctElements("fillInPlace");
        requireHeldBy("fillInPlace", dtype(), value, true);
        backend().fill(this, value);
        storage.bumpVersion();
        return this;
    }

    public Tensor zeroInPlace() {
        return fillInPlace(0.0);
    }

    // =============================================================================================
    // Reductions
    // =============================================================================================

    private Tensor reduce(String op, ReduceOp kind, int[] dims, boolean keepDim) {
        boolean[] picked = new boolean[shape.length];
        for (int d : dims) {
            int n = Shape.normalizeDim(op, d, shape.length);
            if (shape.length > 0) {
                picked[n] = true;
            }
        }
        int count = 0;
        for (boolean p : picked) {
            if (p) {
                count++;
            }
        }
        int[] sorted = new int[count];
        for (int d = 0, j = 0; d < picked.length; d++) {
            if (picked[d]) {
                sorted[j++] = d;
            }
        }
        for (int d : sorted) {
            // An empty sum is 0 and an empty logsumexp -inf; an empty mean is 0 / 0 = NaN, as in PyTorch. The
            // others have no value to give.
            if (shape[d] == 0 && kind != ReduceOp.SUM && kind != ReduceOp.LOGSUMEXP && kind != ReduceOp.MEAN) {
                throw new IllegalArgumentException(op + ": cannot reduce an empty dim " + d + " of shape " + Shape.str(shape));
            }
        }
        Tensor x = this;
        if ((kind == ReduceOp.MEAN || kind == ReduceOp.LOGSUMEXP) && !dtype().isFloating()) {
            x = to(DType.FLOAT32);
        }
        if (kind == ReduceOp.SUM && (dtype() == DType.BOOL || dtype() == DType.INT32)) {
            // As PyTorch (and cumsum here): integer sums are int64, so counts past 2^31 do not wrap.
            x = to(DType.INT64);
        }
        return backend().reduce(kind, x, sorted, keepDim);
    }

    private int[] allDims() {
        int[] d = new int[shape.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = i;
        }
        return d;
    }

    /** Sum of all elements (0-dim). Sums of bool and int32 tensors are int64, floats keep their dtype. */
    public Tensor sum() {
        return reduce("sum", ReduceOp.SUM, allDims(), false);
    }

    public Tensor sum(int dim) {
        return reduce("sum", ReduceOp.SUM, new int[] {dim}, false);
    }

    /**
     * Sum over {@code dims} (negative ones count from the end). An empty {@code dims} reduces nothing and
     * returns the values unchanged, as NumPy's {@code axis=()} (PyTorch's {@code dim=[]} sums everything: use
     * {@link #sum()} for that).
     */
    public Tensor sum(int[] dims, boolean keepDim) {
        return reduce("sum", ReduceOp.SUM, dims, keepDim);
    }

    public Tensor mean() {
        return reduce("mean", ReduceOp.MEAN, allDims(), false);
    }

    public Tensor mean(int dim) {
        return reduce("mean", ReduceOp.MEAN, new int[] {dim}, false);
    }

    public Tensor mean(int[] dims, boolean keepDim) {
        return reduce("mean", ReduceOp.MEAN, dims, keepDim);
    }

    public Tensor max() {
        return reduce("max", ReduceOp.MAX, allDims(), false);
    }

    public Tensor max(int dim, boolean keepDim) {
        return reduce("max", ReduceOp.MAX, new int[] {dim}, keepDim);
    }

    public Tensor max(int[] dims, boolean keepDim) {
        return reduce("max", ReduceOp.MAX, dims, keepDim);
    }

    public Tensor min() {
        return reduce("min", ReduceOp.MIN, allDims(), false);
    }

    public Tensor min(int dim, boolean keepDim) {
        return reduce("min", ReduceOp.MIN, new int[] {dim}, keepDim);
    }

    public Tensor min(int[] dims, boolean keepDim) {
        return reduce("min", ReduceOp.MIN, dims, keepDim);
    }

    /** Index (int64) of the largest element along dim; ties give the first. */
    public Tensor argmax(int dim, boolean keepDim) {
        return reduce("argmax", ReduceOp.ARGMAX, new int[] {dim}, keepDim);
    }

    public Tensor argmin(int dim, boolean keepDim) {
        return reduce("argmin", ReduceOp.ARGMIN, new int[] {dim}, keepDim);
    }

    /** log(sum(exp(x))) over dims, computed stably. */
    public Tensor logsumexp(int[] dims, boolean keepDim) {
        return reduce("logsumexp", ReduceOp.LOGSUMEXP, dims, keepDim);
    }

    public Tensor logsumexp(int dim) {
        return logsumexp(new int[] {dim}, false);
    }

    /** Variance over dims with Bessel-style {@code correction} (1 = unbiased, as PyTorch's default). */
    public Tensor var(int[] dims, int correction, boolean keepDim) {
        int n = 1;
        for (int d : dims) {
            n *= shape.length == 0 ? 1 : shape[Shape.normalizeDim("var", d, shape.length)];
        }
        Tensor x = dtype().isFloating() ? this : to(DType.FLOAT32);
        Tensor centered = x.sub(x.mean(dims, true));
        return centered.square().sum(dims, keepDim).div(Math.max(n - correction, 0));
    }

    // =============================================================================================
    // Softmax, scans, matmul
    // =============================================================================================

    public Tensor softmax(int dim) {
        requireFloating("softmax", this);
        return backend().softmax(this, Shape.normalizeDim("softmax", dim, shape.length), false);
    }

    public Tensor logSoftmax(int dim) {
        requireFloating("logSoftmax", this);
        return backend().softmax(this, Shape.normalizeDim("logSoftmax", dim, shape.length), true);
    }

    public Tensor cumsum(int dim) {
        Tensor x = dtype() == DType.BOOL || dtype() == DType.INT32 ? to(DType.INT64) : this;
        return backend().cumsum(x, Shape.normalizeDim("cumsum", dim, shape.length));
    }

    /**
     * Matrix product with NumPy semantics: 1-D operands are promoted to a row/column and the added dim
     * removed after; leading (batch) dims broadcast. Transposed views are used without copying.
     */
    public Tensor matmul(Tensor other) {
        requireSameDevice("matmul", this, other);
        if (shape.length == 0 || other.shape.length == 0) {
            throw new IllegalArgumentException("matmul: both operands need at least 1 dim, got " + Shape.str(shape)
                    + " and " + Shape.str(other.shape));
        }
        if (dtype() != other.dtype() || !dtype().isFloating()) {
            throw new IllegalArgumentException("matmul: operands must share a floating dtype, got " + dtype() + " "
                    + Shape.str(shape) + " and " + other.dtype() + " " + Shape.str(other.shape));
        }
        Tensor a = shape.length == 1 ? unsqueeze(0) : this;
        Tensor b = other.shape.length == 1 ? other.unsqueeze(1) : other;
        int m = a.size(-2);
        int k = a.size(-1);
        int k2 = b.size(-2);
        int n = b.size(-1);
        if (k != k2) {
            throw new IllegalArgumentException("matmul: inner dims differ: " + Shape.str(shape) + " @ " + Shape.str(other.shape)
                    + " (" + k + " vs " + k2 + ")");
        }
        int[] batchA = Arrays.copyOf(a.shape, a.shape.length - 2);
        int[] batchB = Arrays.copyOf(b.shape, b.shape.length - 2);
        int[] batch = Shape.broadcast("matmul", batchA, batchB);
        int[] sa = concat(batch, new int[] {m, k});
        int[] sb = concat(batch, new int[] {k, n});
        Tensor out = backend().matmul(a.expand(sa), b.expand(sb));
        if (shape.length == 1) {
            out = out.squeeze(-2);
        }
        if (other.shape.length == 1) {
            out = out.squeeze(-1);
        }
        return out;
    }

    // =============================================================================================
    // Indexing
    // =============================================================================================

    /** out[i][j] = this[index[i][j]][j] for dim 0 (and likewise for other dims); index is int. */
    public Tensor gather(int dim, Tensor index) {
        int d = existingDim("gather", dim);
        requireIndex("gather", index);
        requireSameDevice("gather", this, index);
        if (index.dim() != dim()) {
            throw new IllegalArgumentException("gather: index rank " + index.dim() + " " + Shape.str(index.shape)
                    + " must equal input rank " + dim() + " " + Shape.str(shape));
        }
        for (int i = 0; i < shape.length; i++) {
            if (i != d && index.shape[i] > shape[i]) {
                throw new IllegalArgumentException("gather: index shape " + Shape.str(index.shape)
                        + " exceeds input shape " + Shape.str(shape) + " in dim " + i);
            }
        }
        return backend().gather(this, d, index);
    }

    /** A copy of this tensor with src added at the positions index names along dim (the reverse of gather). */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) {
        int d = existingDim("scatterAdd", dim);
        requireIndex("scatterAdd", index);
        requireSameDevice("scatterAdd", this, index, src);
        if (index.dim() != dim() || !Arrays.equals(index.shape, src.shape)) {
            throw new IllegalArgumentException("scatterAdd: index " + Shape.str(index.shape) + " and src "
                    + Shape.str(src.shape) + " must have equal shapes of the input's rank " + dim() + " " + Shape.str(shape));
        }
        for (int i = 0; i < shape.length; i++) {
            if (i != d && index.shape[i] > shape[i]) {
                throw new IllegalArgumentException("scatterAdd: index shape " + Shape.str(index.shape)
                        + " exceeds input shape " + Shape.str(shape) + " in dim " + i);
            }
        }
        requireCastableInto("scatterAdd", src.dtype());
        return backend().scatterAdd(this, d, index, src.to(dtype()));
    }

    /** Slices along dim picked by a 1-D int index (repeats allowed). */
    public Tensor indexSelect(int dim, Tensor index) {
        int d = existingDim("indexSelect", dim);
        requireIndex("indexSelect", index);
        requireSameDevice("indexSelect", this, index);
        if (index.dim() != 1) {
            throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Shape.str(index.shape));
        }
        return backend().indexSelect(this, d, index);
    }

    /** A copy with slice j of src added to slice index[j] along dim. */
    public Tensor indexAdd(int dim, Tensor index, Tensor src) {
        int d = existingDim("indexAdd", dim);
        requireIndex("indexAdd", index);
        requireSameDevice("indexAdd", this, index, src);
        int[] expected = shape.clone();
        if (index.dim() != 1) {
            throw new IllegalArgumentException("indexAdd: index must be 1-D, got shape " + Shape.str(index.shape));
        }
        expected[d] = index.numel();
        if (!Arrays.equals(expected, src.shape)) {
            throw new IllegalArgumentException("indexAdd: src shape " + Shape.str(src.shape) + " must be "
                    + Shape.str(expected) + " for input " + Shape.str(shape) + ", dim " + d + " and index of "
                    + index.numel() + " entries");
        }
        requireCastableInto("indexAdd", src.dtype());
        return backend().indexAdd(this, d, index, src.to(dtype()));
    }

    /** Rows of {@code weight} [V, D] picked by int ids of any shape: result [*ids.shape, D]. */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("embedding: weight must be [vocab, dim], got " + Shape.str(weight.shape));
        }
        requireIndex("embedding", ids);
        int[] out = concat(ids.shape, new int[] {weight.size(1)});
        try {
            return weight.indexSelectChecked("embedding", ids.reshape(-1)).view(out);
        } catch (IndexOutOfBoundsException e) {
            // the kernel checks the ids (they are data); say which op and which tensors they came from
            throw new IndexOutOfBoundsException("embedding: an id is outside the vocabulary of weight "
                    + Shape.str(weight.shape) + " (ids " + Shape.str(ids.shape) + "): " + e.getMessage());
        }
    }

    private Tensor indexSelectChecked(String op, Tensor index) {
        requireSameDevice(op, this, index);
        return backend().indexSelect(this, 0, index);
    }

    /** Values and int64 indices of the k largest (or smallest) along dim, sorted; ties keep lower index first. */
    public TopK topk(int k, int dim, boolean largest) {
        int d = Shape.normalizeDim("topk", dim, shape.length);
        int n = shape.length == 0 ? 1 : shape[d];
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("topk: k=" + k + " is out of range for dim " + d + " of size " + n
                    + " (shape " + Shape.str(shape) + ")");
        }
        Tensor[] r = backend().topk(this, k, d, largest);
        return new TopK(r[0], r[1]);
    }

    /** Stable sort along dim: values and int64 indices. */
    public Sorted sort(int dim, boolean descending) {
        Tensor[] r = backend().sort(this, Shape.normalizeDim("sort", dim, shape.length), descending);
        return new Sorted(r[0], r[1]);
    }

    public Tensor argsort(int dim, boolean descending) {
        return sort(dim, descending).indices();
    }

    /** Values and indices of {@link #topk}. */
    public record TopK(Tensor values, Tensor indices) {
    }

    /** Values and indices of {@link #sort}. */
    public record Sorted(Tensor values, Tensor indices) {
    }

    /**
     * One-hot int64 encoding of an int tensor: result [*shape, numClasses]. A class outside [0, numClasses) is an
     * IndexOutOfBoundsException.
     */
    public Tensor oneHot(int numClasses) {
        requireIndex("oneHot", this);
        if (numClasses < 0) {
            throw new IllegalArgumentException("oneHot: number of classes must be >= 0, got " + numClasses);
        }
        if (numel() > 0) {
            long lo = min().toLongArray()[0];
            long hi = max().toLongArray()[0];
            if (lo < 0 || hi >= numClasses) {
                throw new IndexOutOfBoundsException("oneHot: class " + (lo < 0 ? lo : hi) + " is out of range for "
                        + numClasses + " classes (input shape " + Shape.str(shape) + ")");
            }
        }
        Tensor classes = arange(numClasses).to(device());
        return unsqueeze(-1).to(DType.INT64).eq(classes).to(DType.INT64);
    }

    /** Keeps elements on and below the k-th diagonal of the last two dims, zeroing the rest. */
    public Tensor tril(int k) {
        return maskedFill(triangleMask(k, true).logicalNot(), 0);
    }

    /** Keeps elements on and above the k-th diagonal of the last two dims, zeroing the rest. */
    public Tensor triu(int k) {
        return maskedFill(triangleMask(k, false).logicalNot(), 0);
    }

    /** Bool [rows, cols]: true where column - row &lt;= k (lower) or &gt;= k (upper). */
    private Tensor triangleMask(int k, boolean lower) {
        if (shape.length < 2) {
            throw new IllegalArgumentException((lower ? "tril" : "triu") + ": needs at least 2 dims, got "
                    + Shape.str(shape));
        }
        Tensor rows = arange(size(-2)).to(device()).unsqueeze(1);
        Tensor cols = arange(size(-1)).to(device()).unsqueeze(0);
        Tensor diff = cols.sub(rows);
        return lower ? diff.le(k) : diff.ge(k);
    }

    /** Elementwise not of a bool mask. */
    public Tensor logicalNot() {
        if (dtype() != DType.BOOL) {
            throw new IllegalArgumentException("logicalNot: needs a bool tensor, got " + dtype());
        }
        return eq(full(0, DType.BOOL, device()));
    }

    // =============================================================================================
    // Joining and splitting
    // =============================================================================================

    /** Joins tensors along an existing dim; all other dims must match. */
    public static Tensor cat(List<Tensor> tensors, int dim) {
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("cat: needs at least one tensor");
        }
        Tensor first = tensors.get(0);
        if (first.dim() == 0) {
            throw new IllegalArgumentException("cat: cannot join 0-dim tensors (shape []) along dim " + dim
                    + "; use stack");
        }
        int d = Shape.normalizeDim("cat", dim, first.dim());
        int total = 0;
        DType dtype = first.dtype();
        for (Tensor t : tensors) {
            requireSameDevice("cat", first, t);
            if (t.dim() != first.dim()) {
                throw new IllegalArgumentException("cat: tensors have different ranks: " + Shape.str(first.shape) + " and "
                        + Shape.str(t.shape));
            }
            for (int i = 0; i < first.dim(); i++) {
                if (i != d && t.shape[i] != first.shape[i]) {
                    throw new IllegalArgumentException("cat: shapes " + Shape.str(first.shape) + " and " + Shape.str(t.shape)
                            + " differ in dim " + i + " (joining along dim " + d + ")");
                }
            }
            total += t.shape[d];
            dtype = DType.promote(dtype, t.dtype());
        }
        int[] outShape = first.shape();
        outShape[d] = total;
        Tensor out = empty(dtype, first.device(), outShape);
        int at = 0;
        for (Tensor t : tensors) {
            if (t.shape[d] > 0) {
                out.backend().copy(out.narrow(d, at, t.shape[d]), t);
            }
            at += t.shape[d];
        }
        return out;
    }

    public static Tensor cat(int dim, Tensor... tensors) {
        return cat(List.of(tensors), dim);
    }

    /** Joins equal-shaped tensors along a new dim. */
    public static Tensor stack(List<Tensor> tensors, int dim) {
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("stack: needs at least one tensor");
        }
        int[] s = tensors.get(0).shape;
        int d = Shape.normalizeDim("stack", dim, s.length + 1);
        List<Tensor> unsq = new ArrayList<>();
        for (Tensor t : tensors) {
            if (!Arrays.equals(t.shape, s)) {
                throw new IllegalArgumentException("stack: shapes " + Shape.str(s) + " and " + Shape.str(t.shape) + " differ");
            }
            unsq.add(t.unsqueeze(d));
        }
        return cat(unsq, d);
    }

    /** Pieces of {@code splitSize} along dim (the last may be smaller), as views. */
    public List<Tensor> split(int splitSize, int dim) {
        int d = existingDim("split", dim);
        if (splitSize <= 0) {
            throw new IllegalArgumentException("split: size must be positive, got " + splitSize);
        }
        List<Tensor> out = new ArrayList<>();
        if (shape[d] == 0) {
            return List.of(narrow(d, 0, 0)); // one empty piece, as torch.split
        }
        for (int start = 0; start < shape[d]; start += splitSize) {
            out.add(narrow(d, start, Math.min(splitSize, shape[d] - start)));
        }
        return out;
    }

    /** {@code chunks} nearly equal pieces along dim, as views (like torch.chunk). */
    public List<Tensor> chunk(int chunks, int dim) {
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk: number of chunks must be positive, got " + chunks);
        }
        int d = existingDim("chunk", dim);
        if (shape[d] == 0) {
            return java.util.Collections.nCopies(chunks, narrow(d, 0, 0)); // as torch.chunk: that many empty pieces
        }
        return split(Math.max(1, (shape[d] + chunks - 1) / chunks), d);
    }

    // =============================================================================================
    // Argument checks shared by the ops above (and by autograd and nn, which validate the same way)
    // =============================================================================================

    /** Fails unless all tensors are on one device, naming the op and each tensor's device. */
    public static void requireSameDevice(String op, Tensor... tensors) {
        Device d = tensors[0].device();
        for (Tensor t : tensors) {
            if (!t.device().equals(d)) {
                StringBuilder sb = new StringBuilder(op + ": tensors are on different devices:");
                for (Tensor u : tensors) {
                    sb.append(' ').append(Shape.str(u.shape)).append('@').append(u.device());
                }
                throw new IllegalArgumentException(sb.toString());
            }
        }
    }

    public static void requireFloating(String op, Tensor t) {
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": needs a floating tensor, got " + t.dtype() + " of shape "
                    + Shape.str(t.shape));
        }
    }

    public static void requireIndex(String op, Tensor t) {
        if (!t.dtype().isIntegral()) {
            throw new IllegalArgumentException(op + ": indices must be int32 or int64, got " + t.dtype() + " of shape "
                    + Shape.str(t.shape));
        }
    }

    /**
     * A dim of this tensor, for ops that index an existing dim. Shape.normalizeDim lets a 0-dim tensor take
     * dim 0 or -1 (reductions and softmax treat it as one element); these ops have no dim to index there.
     */
    private int existingDim(String op, int dim) {
        if (shape.length == 0) {
            throw new IllegalArgumentException(op + ": a 0-dim tensor (shape []) has no dim " + dim);
        }
        return Shape.normalizeDim(op, dim, shape.length);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
