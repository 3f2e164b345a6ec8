package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.backend.UnaryOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Every Backend op as test cases written once and run on any device: on the GPU each result is compared
 * with the CPU backend (or, for attention and the grouped matmul, with the plain loops of
 * {@link References}); on the simulated device each case checks the host side of every launch.
 * Inputs are made on the CPU from fixed seeds and copied to the device; ops build their strided,
 * transposed and broadcast views from them on the device, so those layouts are exercised too.
 *
 * @param reference computes the expected result from the CPU inputs; null means "the op itself on the CPU"
 */
record OpCases(String name, List<Tensor> inputs, Function<List<Tensor>, Object> op,
        Function<List<Tensor>, Object> reference, double rtol, double atol) {

    static final DType F32 = DType.FLOAT32;
    static final DType F64 = DType.FLOAT64;
    static final DType I32 = DType.INT32;
    static final DType I64 = DType.INT64;
    static final DType BOOL = DType.BOOL;

    @Override
    public String toString() {
        return name;
    }

    /** The inputs on {@code device}: fresh copies, so in-place ops never touch the shared CPU inputs. */
    List<Tensor> inputsOn(Device device) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : inputs) {
            out.add(device.isCpu() ? t.copy() : t.to(device));
        }
        return out;
    }

    /** Results of an op as a flat list (a Tensor, or an array of tensors some of which may be null). */
    static List<Tensor> results(Object r) {
        if (r instanceof Tensor t) {
            return List.of(t);
        }
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : (Tensor[]) r) {
            out.add(t);
        }
        return out;
    }

    // ---- input makers ---------------------------------------------------------------------------

    static Tensor randn(long seed, DType dtype, int... shape) {
        return Tensor.randn(new Generator(seed), dtype, Device.CPU, shape);
    }

    static Tensor uniform(long seed, double lo, double hi, DType dtype, int... shape) {
        return Tensor.uniform(lo, hi, new Generator(seed), dtype, Device.CPU, shape);
    }

    static Tensor ints(long seed, long lo, long hi, DType dtype, int... shape) {
        return Tensor.randint(lo, hi, new Generator(seed), Device.CPU, shape).to(dtype);
    }

    private static OpCases of(String name, List<Tensor> inputs, Function<List<Tensor>, Object> op, double rtol,
            double atol) {
        return new OpCases(name, inputs, op, null, rtol, atol);
    }

    /**
     * A case whose expected values come from the same op on float64 copies of the inputs (cast back to
     * each result's dtype): for sums over many elements, where the CPU's float32 accumulation order would
     * otherwise dominate the comparison.
     */
    private static OpCases viaFloat64(String name, List<Tensor> inputs, Function<List<Tensor>, Object> op, double rtol,
            double atol) {
        Function<List<Tensor>, Object> reference = in -> {
            List<Tensor> wide = new ArrayList<>();
            for (Tensor t : in) {
                wide.add(t.dtype() == F32 ? t.to(F64) : t);
            }
            List<Tensor> r = results(op.apply(wide));
            Tensor[] out = new Tensor[r.size()];
            List<Tensor> plain = results(op.apply(in));  // for each result's dtype
            for (int i = 0; i < out.length; i++) {
                out[i] = r.get(i) == null ? null : r.get(i).to(plain.get(i).dtype());
            }
            return out;
        };
        return new OpCases(name, inputs, op, reference, rtol, atol);
    }

    private static double rtol(DType t) {
        return t == F64 ? 1e-10 : 2e-5;
    }

    private static double atol(DType t) {
        return t == F64 ? 1e-12 : 1e-5;
    }

    // ---- the cases ------------------------------------------------------------------------------

    static List<OpCases> all() {
        List<OpCases> c = new ArrayList<>();
        elementwise(c);
        reductions(c);
        matmul(c);
        tensorCoreMatmul(c);
        indexing(c);
        sorting(c);
        fused(c);
        layerPaths(c);
        attention(c);
        grouped(c);
        return c;
    }

    static void elementwise(List<OpCases> c) {
        double[] specials = {-3.7, -1.5, -0.5, -0.0, 0.0, 0.49, 2.5, 1e10, -1e10, Double.NaN, 3e9, 255.9};
        DType[] all = {F32, F64, I32, I64, BOOL};
        for (DType from : all) {
            for (DType to : all) {
                Tensor x = Tensor.of(specials, 3, 4).to(from);
                c.add(of("copy " + from + " -> " + to + " (transposed)", List.of(x), in -> in.get(0).mT().to(to), 0, 0));
            }
        }
        // Integers convert as integers: int64 past 2^53 rounds once to float32, and past 2^31 keeps its low bits.
        long[] wide = {(1L << 60) + (1L << 36) + 1, -(1L << 55) - 3, 4294967297L, -5000000000L};
        for (DType to : new DType[] {F32, F64, I32, BOOL}) {
            c.add(of("copy int64 past 2^53 -> " + to, List.of(Tensor.of(wide, 4)), in -> in.get(0).to(to), 0, 0));
        }
        for (DType t : new DType[] {F32, F64}) {
            for (UnaryOp op : UnaryOp.values()) {
                boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.POW;
                Tensor x = positive ? uniform(11, 0.1, 4, t, 9, 33) : uniform(11, -4, 4, t, 9, 33);
                double p = op == UnaryOp.POW ? 1.7 : 0;
                c.add(of("unary " + op + " " + t + " (transposed)", List.of(x),
                        in -> in.get(0).backend().unary(op, in.get(0).mT(), p), rtol(t) * 5, atol(t)));
            }
        }
        for (DType t : new DType[] {F32, F64, I32, I64}) {
            for (BinaryOp op : BinaryOp.values()) {
                Tensor a;
                Tensor b;
                if (t.isFloating()) {
                    a = op == BinaryOp.POW ? uniform(21, 0.2, 3, t, 3, 1, 5) : randn(21, t, 3, 1, 5).mul(2).add(0.3);
                    b = randn(22, t, 4, 5);
                    if (op.isComparison()) {
                        b = a.expand(3, 4, 5).narrow(0, 1, 1).squeeze(0).add(randn(23, t, 4, 5).gt(0.5).to(t));
                    }
                } else {
                    a = ints(21, -6, 7, t, 3, 1, 5);
                    b = op == BinaryOp.DIV ? ints(22, 1, 5, t, 4, 5) : op == BinaryOp.POW ? ints(22, 0, 4, t, 4, 5)
                            : ints(22, -6, 7, t, 4, 5);
                }
                DType result = op.isComparison() ? BOOL : t;
                c.add(of("binary " + op + " " + t + " (broadcast)", List.of(a, b), in -> in.get(0).backend().binary(op,
                        in.get(0).expand(3, 4, 5), in.get(1).expand(3, 4, 5), result), rtol(t), atol(t)));
            }
        }
        c.add(of("compare bool eq", List.of(randn(31, F32, 6, 7).gt(0), randn(32, F32, 6, 7).gt(0)),
                in -> in.get(0).eq(in.get(1)), 0, 0));
        c.add(of("logicalNot and where on bool", List.of(randn(33, F32, 6, 7).gt(0), randn(34, F32, 1, 7).gt(0)),
                in -> Tensor.where(in.get(0), in.get(0).logicalNot(), in.get(1)), 0, 0));
        for (DType t : new DType[] {F32, F64, I32, I64}) {
            c.add(of("where " + t + " (broadcast)", List.of(randn(35, F32, 4, 1).gt(0), ints(36, -9, 9, I64, 4, 6).to(t),
                    ints(37, -9, 9, I64, 1, 6).to(t)), in -> Tensor.where(in.get(0), in.get(1), in.get(2)), 0, 0));
        }
        c.add(of("maskedFill", List.of(randn(38, F32, 5, 8), randn(39, F32, 5, 8).gt(0.3)),
                in -> in.get(0).maskedFill(in.get(1), -1e9), 0, 0));
        c.add(of("fill a strided view", List.of(randn(40, F32, 6, 5)), in -> {
            in.get(0).narrow(1, 1, 3).mT().fillInPlace(2.5);
            return in.get(0);
        }, 0, 0));
        for (DType t : new DType[] {F32, F64, I32, I64, BOOL}) {
            c.add(of("full " + t, List.of(randn(41, F32, 2)), in -> Tensor.full(7.25, t, in.get(0).device(), 3, 5), 0, 0));
        }
        c.add(of("addInPlace with a broadcast source", List.of(randn(42, F32, 4, 6), randn(43, F32, 6)), in -> {
            in.get(0).addInPlace(in.get(1));
            return in.get(0);
        }, 1e-6, 1e-6));
        c.add(of("mulInPlace on a transposed view", List.of(randn(44, F64, 5, 5), randn(45, F64, 5, 5)), in -> {
            in.get(0).mT().mulInPlace(in.get(1));
            return in.get(0);
        }, 1e-12, 1e-12));
        // Ten dims that no coalescing can merge: the walk is split into launches over the leading dims.
        c.add(of("binary over 10 unmergeable dims", List.of(randn(46, F32, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3),
                randn(47, F32, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2)), in -> in.get(0).add(
                in.get(1).permute(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)), 1e-6, 1e-6));
        c.add(of("contiguous of a transposed bool mask", List.of(randn(50, F32, 7, 9).gt(0)),
                in -> in.get(0).mT().contiguous(), 0, 0));
        c.add(of("contiguous of a permuted slice", List.of(randn(48, F32, 4, 5, 6)),
                in -> in.get(0).permute(2, 0, 1).narrow(0, 1, 4).contiguous(), 0, 0));
        c.add(of("random uniform float32 (exact)", List.of(randn(49, F32, 1)),
                in -> Tensor.uniform(-2, 3, new Generator(99), F32, in.get(0).device(), 1000, 7), 0, 0));
        c.add(of("random uniform float64 (exact)", List.of(randn(49, F32, 1)),
                in -> Tensor.uniform(0, 1, new Generator(98), F64, in.get(0).device(), 3001), 0, 0));
        // Within 2 ulps: the GPU's log/cos may differ from the JVM's in the last bit of the double.
        c.add(of("random normal float32", List.of(randn(49, F32, 1)),
                in -> Tensor.normal(1, 2, new Generator(97), F32, in.get(0).device(), 5000), 2.5e-7, 1e-7));
        c.add(of("random normal float64", List.of(randn(49, F32, 1)),
                in -> Tensor.normal(0, 1, new Generator(96), F64, in.get(0).device(), 5000), 1e-13, 1e-13));
    }

    static void reductions(List<OpCases> c) {
        int[][] dimSets = {{2}, {0}, {0, 2}, {0, 1, 2}, {1}};
        for (DType t : new DType[] {F32, F64}) {
            Tensor x = randn(51, t, 6, 40, 7);
            for (ReduceOp op : ReduceOp.values()) {
                for (int[] dims : dimSets) {
                    boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
                    if (arg && dims.length != 1) {
                        continue;
                    }
                    for (boolean keep : new boolean[] {false, true}) {
                        c.add(of("reduce " + op + " " + t + " dims " + Arrays.toString(dims) + (keep ? " keepDim" : ""),
                                List.of(x), in -> in.get(0).backend().reduce(op, in.get(0), dims, keep), rtol(t) * 10,
                                atol(t) * 10));
                    }
                }
            }
            for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.MAX, ReduceOp.ARGMAX, ReduceOp.LOGSUMEXP,
                    ReduceOp.MEAN}) {
                c.add(viaFloat64("reduce " + op + " " + t + " long rows (block per row)", List.of(randn(52, t, 3, 5000)),
                        in -> in.get(0).backend().reduce(op, in.get(0), new int[] {1}, false), 1e-5, 1e-4));
                c.add(viaFloat64("reduce " + op + " " + t + " one huge row (split rows)", List.of(randn(53, t, 1, 200_003)),
                        in -> in.get(0).backend().reduce(op, in.get(0), new int[] {1}, false), 1e-5, 1e-3));
            }
            c.add(viaFloat64("sum " + t + " over leading dim (column kernel, split)", List.of(randn(54, t, 5000, 40)),
                    in -> in.get(0).sum(new int[] {0}, false), 1e-5, 1e-3));
            c.add(of("mean " + t + " over leading dims (column kernel)", List.of(randn(55, t, 30, 4, 70)),
                    in -> in.get(0).mean(new int[] {0, 1}, true), 1e-5, 1e-5));
        }
        c.add(of("sum int64", List.of(ints(56, -1000, 1000, I64, 50, 30)), in -> in.get(0).sum(new int[] {1}, false), 0, 0));
        c.add(of("sum int64 of one huge row (split rows)", List.of(ints(59, -1000, 1000, I64, 1, 300_001)),
                in -> in.get(0).sum(new int[] {1}, false), 0, 0));
        c.add(of("max int32 of long rows and of one huge row", List.of(ints(60, -100_000, 100_000, I32, 3, 70_000)),
                in -> new Tensor[] {in.get(0).max(1, false), in.get(0).narrow(0, 1, 1).max(1, false)}, 0, 0));
        c.add(of("max of bool masks: short, long and huge rows", List.of(randn(71, F32, 3, 90_000).gt(4.2)),
                in -> new Tensor[] {in.get(0).narrow(1, 0, 20).max(1, false), in.get(0).max(1, false),
                    in.get(0).narrow(0, 0, 1).max(1, false)}, 0, 0));
        c.add(of("sum of a bool mask", List.of(randn(57, F32, 50, 30).gt(0)), in -> in.get(0).sum(), 0, 0));
        c.add(of("empty reductions: sum 0, mean NaN, logsumexp -inf; int32 sums are int64",
                List.of(randn(72, F32, 3, 0), ints(73, -5, 5, I32, 4, 6)), in -> new Tensor[] {in.get(0).sum(1),
                    in.get(0).mean(1), in.get(0).logsumexp(1), in.get(1).sum(1), in.get(1).sum()}, 0, 0));
        c.add(of("max and argmin int32", List.of(ints(58, -5, 5, I32, 20, 9)), in -> new Tensor[] {
            in.get(0).max(1, false), in.get(0).argmin(0, false)}, 0, 0));
        double[] withNan = {1, 5, Double.NaN, 7, 2, -1, Double.NaN, 0, 3, 3, 3, 1};
        c.add(of("NaN propagates through max and argmax", List.of(Tensor.of(withNan, 3, 4)), in -> new Tensor[] {
            in.get(0).max(1, false), in.get(0).argmax(1, false), in.get(0).logsumexp(1)}, 0, 0));
        double[] ties = {2, 7, 7, 1, 7, 0, -1, -1, -1};
        c.add(of("argmax and argmin take the first of ties", List.of(Tensor.of(ties, 3, 3)), in -> new Tensor[] {
            in.get(0).argmax(1, false), in.get(0).argmin(1, false), in.get(0).argmax(0, true)}, 0, 0));
        for (DType t : new DType[] {F32, F64}) {
            for (boolean log : new boolean[] {false, true}) {
                String kind = log ? "logSoftmax " : "softmax ";
                c.add(of(kind + t + " last dim", List.of(randn(61, t, 5, 37)),
                        in -> in.get(0).backend().softmax(in.get(0), 1, log), 1e-5, 1e-6));
                c.add(of(kind + t + " middle dim", List.of(randn(62, t, 3, 17, 4)),
                        in -> in.get(0).backend().softmax(in.get(0), 1, log), 1e-5, 1e-6));
                c.add(of(kind + t + " long rows", List.of(randn(63, t, 3, 5000)),
                        in -> in.get(0).backend().softmax(in.get(0), 1, log), 1e-5, 1e-6));
                // Values near 1e4 (float32) or 1e8: max + log(sum) would round log(sum) away.
                double large = t == F32 ? 1e4 : 1e8;
                c.add(of(kind + t + " rows of large values", List.of(randn(68, t, 4, 9).mul(1e-3).add(large)),
                        in -> in.get(0).backend().softmax(in.get(0), 1, log), 1e-4, 1e-6));
                c.add(of(kind + "backward " + t, List.of(randn(64, t, 6, 33), randn(65, t, 6, 33)), in -> {
                    Tensor y = in.get(0).backend().softmax(in.get(0), 1, log);
                    return in.get(0).backend().softmaxBackward(y, in.get(1), 1, log);
                }, 1e-5, 1e-6));
                c.add(of(kind + "backward " + t + " dim 0", List.of(randn(66, t, 6, 33), randn(67, t, 6, 33)), in -> {
                    Tensor y = in.get(0).backend().softmax(in.get(0), 0, log);
                    return in.get(0).backend().softmaxBackward(y, in.get(1), 0, log);
                }, 1e-5, 1e-6));
            }
            c.add(of("cumsum " + t + " both dims", List.of(randn(68, t, 4, 100)), in -> new Tensor[] {
                in.get(0).cumsum(1), in.get(0).cumsum(0)}, 1e-5, 1e-5));
            c.add(viaFloat64("cumsum " + t + " long rows", List.of(randn(69, t, 2, 3000)), in -> in.get(0).cumsum(-1), 1e-5, 1e-4));
        }
        c.add(of("cumsum int32 promotes to int64", List.of(ints(70, -50, 50, I32, 3, 77)), in -> in.get(0).cumsum(1), 0, 0));
    }

    static void matmul(List<OpCases> c) {
        int[][] shapes = {{1, 1, 1}, {5, 7, 3}, {64, 64, 64}, {130, 70, 129}, {257, 33, 300}, {5, 0, 3}, {1, 300, 7}};
        for (DType t : new DType[] {F32, F64}) {
            double tol = t == F64 ? 1e-11 : 1e-4;
            for (int[] s : shapes) {
                c.add(viaFloat64("matmul " + t + " " + Arrays.toString(s), List.of(randn(81, t, s[0], s[1]), randn(82, t, s[1], s[2])),
                        in -> in.get(0).matmul(in.get(1)), tol, tol));
            }
            c.add(of("matmul " + t + " transposed operands", List.of(randn(83, t, 70, 45), randn(84, t, 90, 70)),
                    in -> in.get(0).mT().matmul(in.get(1).mT()), tol, tol));
            c.add(of("matmul " + t + " batched", List.of(randn(85, t, 3, 17, 19), randn(86, t, 3, 19, 23)),
                    in -> in.get(0).matmul(in.get(1)), tol, tol));
            c.add(of("matmul " + t + " broadcast batch dims", List.of(randn(87, t, 2, 1, 9, 8), randn(88, t, 1, 3, 8, 5)),
                    in -> in.get(0).matmul(in.get(1)), tol, tol));
            c.add(of("matmul " + t + " vector @ matrix @ vector", List.of(randn(89, t, 12), randn(90, t, 12, 6),
                    randn(91, t, 6)), in -> in.get(0).matmul(in.get(1)).matmul(in.get(2)), tol, tol));
            // K = 65: rows 65 elements apart, so the kernel for any strides.
            c.add(viaFloat64("matmul " + t + " with enough tiles for the 128 x 128 kernel", List.of(randn(94, t, 1536, 65),
                    randn(95, t, 65, 1536)), in -> in.get(0).matmul(in.get(1)), tol, tol));
            c.add(of("matmul " + t + " with a sliced (offset) operand", List.of(randn(92, t, 40, 50), randn(93, t, 30, 20)),
                    in -> in.get(0).narrow(0, 3, 30).narrow(1, 7, 30).matmul(in.get(1)), tol, tol));
            // Operands that the float kernels read in chunks of four (rows a multiple of four apart, 16-byte
            // aligned), with row ends inside a chunk: K = 70 and N = 130 are not multiples of four.
            c.add(of("matmul " + t + " rows in chunks of four, ragged ends", List.of(randn(140, t, 96, 72), randn(141, t, 70, 136)),
                    in -> in.get(0).narrow(1, 0, 70).matmul(in.get(1).narrow(1, 0, 130)), tol, tol));
            c.add(of("matmul " + t + " transposed operands in chunks of four", List.of(randn(142, t, 70, 132), randn(143, t, 90, 72)),
                    in -> in.get(0).narrow(1, 0, 130).mT().matmul(in.get(1).narrow(1, 0, 70).mT()), tol, tol));
            c.add(of("matmul " + t + " batched in chunks of four", List.of(randn(144, t, 3, 64, 36), randn(145, t, 3, 36, 44)),
                    in -> in.get(0).matmul(in.get(1)), tol, tol));
            c.add(of("matmul " + t + " with an aligned sliced operand", List.of(randn(146, t, 40, 52), randn(147, t, 40, 20)),
                    in -> in.get(0).narrow(0, 4, 30).narrow(1, 4, 40).matmul(in.get(1)), tol, tol));
        }
        c.add(viaFloat64("matmul " + F32 + " 128 x 128 kernel in chunks of four, ragged ends", List.of(randn(148, F32, 1541, 68),
                randn(149, F32, 68, 1544)), in -> in.get(0).matmul(in.get(1).narrow(1, 0, 1542)), 1e-4, 1e-4));
    }

    /** matmul under a precision setting (restored after); the CPU reference ignores the setting. */
    static Tensor matmulWith(MatmulPrecision p, Tensor a, Tensor b) {
        MatmulPrecision before = CudaBackend.matmulPrecision();
        CudaBackend.setMatmulPrecision(p);
        try {
            return a.matmul(b);
        } finally {
            CudaBackend.setMatmulPrecision(before);
        }
    }

    static void tensorCoreMatmul(List<OpCases> c) {
        // Inputs rounded to TF32 (10-bit mantissa) or BF16 (7 bits): relative error per product about 5e-4
        // or 4e-3, growing like sqrt(K) over a sum of K random terms.
        for (MatmulPrecision p : new MatmulPrecision[] {MatmulPrecision.TF32, MatmulPrecision.BF16}) {
            double tol = p == MatmulPrecision.TF32 ? 2e-2 : 1.5e-1;
            int[][] shapes = {{5, 7, 3}, {130, 70, 129}, {256, 256, 256}, {257, 100, 300}};
            for (int[] s : shapes) {
                c.add(of("matmul " + p + " " + Arrays.toString(s), List.of(randn(96, F32, s[0], s[1]),
                        randn(97, F32, s[1], s[2])), in -> matmulWith(p, in.get(0), in.get(1)), tol, tol));
            }
            c.add(of("matmul " + p + " transposed and batched", List.of(randn(98, F32, 3, 70, 45), randn(99, F32, 3, 90, 70)),
                    in -> matmulWith(p, in.get(0).mT(), in.get(1).mT()), tol, tol));
            // The pipelined kernels (operands in 16-byte chunks) in their four layouts, with ragged edges and
            // more k slices (of 32) than pipeline stages; batches of 4, so that each case has a 128 x 256 tile
            // for each of the 4 multiprocessors the emulated and simulated devices report.
            c.add(of("matmul " + p + " pipelined nt", List.of(randn(150, F32, 4, 96, 72), randn(151, F32, 4, 300, 72)),
                    in -> matmulWith(p, in.get(0).narrow(2, 0, 70), in.get(1).narrow(2, 0, 70).mT()), tol, tol));
            c.add(of("matmul " + p + " pipelined tn", List.of(randn(152, F32, 4, 200, 132), randn(153, F32, 4, 200, 136)),
                    in -> matmulWith(p, in.get(0).narrow(2, 0, 130).mT(), in.get(1).narrow(2, 0, 130)), tol, tol));
            c.add(of("matmul " + p + " pipelined tt", List.of(randn(154, F32, 4, 70, 132), randn(155, F32, 4, 90, 72)),
                    in -> matmulWith(p, in.get(0).narrow(2, 0, 130).mT(), in.get(1).narrow(2, 0, 70).mT()), tol, tol));
            c.add(of("matmul " + p + " pipelined nn batched", List.of(randn(156, F32, 4, 40, 100), randn(157, F32, 4, 100, 36)),
                    in -> matmulWith(p, in.get(0), in.get(1)), tol, tol));
            // B broadcast over the batch (as a tied output layer's x [B, T, d] @ E^T): converted once.
            c.add(of("matmul " + p + " pipelined, B broadcast", List.of(randn(160, F32, 4, 40, 100), randn(161, F32, 70, 100)),
                    in -> matmulWith(p, in.get(0), in.get(1).mT()), tol, tol));
            // Neither matrix stride 1 (every other element of a last dim): BF16 converts such operands too.
            c.add(of("matmul " + p + " pipelined, no unit stride", List.of(randn(158, F32, 4, 50, 30, 2), randn(159, F32, 4, 30, 70, 2)),
                    in -> matmulWith(p, in.get(0).select(3, 0), in.get(1).select(3, 1)), tol, tol));
        }
    }

    static void indexing(List<OpCases> c) {
        for (DType it : new DType[] {I32, I64}) {
            for (DType t : new DType[] {F32, F64, I32, I64, BOOL}) {
                Tensor x = t == BOOL ? randn(101, F32, 5, 8).gt(0) : randn(101, F64, 5, 8).mul(10).to(t);
                c.add(of("gather dim 1 " + t + " index " + it, List.of(x, ints(102, 0, 8, it, 5, 3)),
                        in -> in.get(0).gather(1, in.get(1)), 0, 0));
                c.add(of("gather dim 0 " + t + " index " + it, List.of(x, ints(103, 0, 5, it, 7, 8)),
                        in -> in.get(0).gather(0, in.get(1)), 0, 0));
                c.add(of("indexSelect dim 1 " + t + " index " + it, List.of(x, ints(104, 0, 8, it, 11)),
                        in -> in.get(0).indexSelect(1, in.get(1)), 0, 0));
            }
            for (DType t : new DType[] {F32, F64, I32, I64, BOOL}) {
                Tensor x = t == BOOL ? randn(105, F32, 6, 4).gt(0.8) : randn(105, F64, 6, 4).mul(10).to(t);
                Tensor src = t == BOOL ? randn(106, F32, 10, 4).gt(0.5) : randn(106, F64, 10, 4).mul(10).to(t);
                double tol = t.isFloating() ? 1e-5 : 0;
                c.add(of("scatterAdd with collisions " + t + " index " + it, List.of(x, ints(107, 0, 6, it, 10, 4), src),
                        in -> in.get(0).scatterAdd(0, in.get(1), in.get(2)), tol, tol));
                c.add(of("indexAdd with repeats " + t + " index " + it, List.of(x, ints(108, 0, 6, it, 10), src),
                        in -> in.get(0).indexAdd(0, in.get(1), in.get(2)), tol, tol));
            }
            c.add(of("embedding " + it, List.of(randn(109, F32, 50, 16), ints(110, 0, 50, it, 4, 7)),
                    in -> Tensor.embedding(in.get(0), in.get(1)), 0, 0));
            c.add(of("indexAdd dim 1 on a transposed source " + it, List.of(randn(111, F32, 4, 6), ints(112, 0, 6, it, 9),
                    randn(113, F32, 9, 4)), in -> in.get(0).indexAdd(1, in.get(1), in.get(2).mT()), 1e-5, 1e-5));
        }
    }

    static void sorting(List<OpCases> c) {
        for (DType t : new DType[] {F32, F64, I32, I64}) {
            Tensor x = randn(121, F64, 4, 37).mul(3).to(I64).to(t);  // many ties
            for (boolean desc : new boolean[] {false, true}) {
                c.add(of("sort " + t + (desc ? " descending" : " ascending") + " with ties", List.of(x),
                        in -> in.get(0).backend().sort(in.get(0), 1, desc), 0, 0));
                c.add(of("topk 5 " + t + (desc ? " largest" : " smallest"), List.of(x),
                        in -> in.get(0).backend().topk(in.get(0), 5, 1, desc), 0, 0));
            }
            c.add(of("sort " + t + " along dim 0", List.of(x), in -> in.get(0).backend().sort(in.get(0), 0, false), 0, 0));
        }
        double[] special = {3, Double.NaN, -0.0, 0.0, Double.NEGATIVE_INFINITY, 1, Double.POSITIVE_INFINITY, Double.NaN};
        c.add(of("sort places NaN last and -0.0 before 0.0", List.of(Tensor.of(special, 1, 8)),
                in -> in.get(0).backend().sort(in.get(0), 1, false), 0, 0));
        c.add(of("sort a bool mask", List.of(randn(122, F32, 3, 20).gt(0)),
                in -> in.get(0).backend().sort(in.get(0), 1, true), 0, 0));
        c.add(of("sort rows of exactly 2048 (shared memory)", List.of(randn(123, F32, 2, 2048)),
                in -> in.get(0).backend().sort(in.get(0), 1, true), 0, 0));
        c.add(of("sort rows of 5000 (global network)", List.of(randn(124, F32, 3, 5000).mul(4).to(I64).to(F32)),
                in -> in.get(0).backend().sort(in.get(0), 1, false), 0, 0));
        for (DType t : new DType[] {F64, I32, I64}) {
            c.add(of("sort rows of 3000 " + t + " (global network)", List.of(randn(126, F64, 2, 3000).mul(100).to(t)),
                    in -> in.get(0).backend().sort(in.get(0), 1, true), 0, 0));
        }
        c.add(of("sort a bool row of 3000 (global network)", List.of(randn(127, F32, 1, 3000).gt(0)),
                in -> in.get(0).backend().sort(in.get(0), 1, false), 0, 0));
        c.add(of("topk 10 of 3000", List.of(randn(125, F64, 2, 3000)), in -> in.get(0).backend().topk(in.get(0), 10, 1, true),
                0, 0));
    }

    static void fused(List<OpCases> c) {
        for (DType t : new DType[] {F32, F64}) {
            double tol = t == F64 ? 1e-10 : 2e-5;
            for (boolean affine : new boolean[] {true, false}) {
                String w = affine ? " with weight and bias" : " without weight";
                for (int[] shape : new int[][] {{6, 48}, {1000, 64}, {3, 5, 2000}}) {
                    int d = shape[shape.length - 1];
                    List<Tensor> in0 = List.of(randn(131, t, shape).mul(3).add(1), randn(132, t, shape),
                            randn(133, t, d), randn(134, t, d));
                    c.add(of("layerNorm " + t + w + " " + Arrays.toString(shape) + " forward and backward", in0, in -> {
                        Tensor wt = affine ? in.get(2) : null;
                        Tensor bt = affine ? in.get(3) : null;
                        FusedOps.LayerNormResult r = FusedOps.layerNorm(in.get(0), wt, bt, 1e-5);
                        Tensor[] g = FusedOps.layerNormBackward(in.get(1), in.get(0), wt, r);
                        return new Tensor[] {r.output(), r.mean(), r.rstd(), g[0], g[1], g[2]};
                    }, tol * 10, tol * 10));
                    c.add(of("rmsNorm " + t + w + " " + Arrays.toString(shape) + " forward and backward", in0, in -> {
                        Tensor wt = affine ? in.get(2) : null;
                        FusedOps.RmsNormResult r = FusedOps.rmsNorm(in.get(0), wt, 1e-6);
                        Tensor[] g = FusedOps.rmsNormBackward(in.get(1), in.get(0), wt, r);
                        return new Tensor[] {r.output(), r.rstd(), g[0], g[1]};
                    }, tol * 10, tol * 10));
                }
            }
            for (DType it : new DType[] {I32, I64}) {
                for (double smoothing : new double[] {0, 0.1}) {
                    long[] targets = {3, -100, 0, 10, 7, -100, 1, 2, 5};
                    Tensor target = Tensor.of(targets, 9).to(it);
                    c.add(of("crossEntropy " + t + " target " + it + " smoothing " + smoothing,
                            List.of(randn(141, t, 9, 11).mul(3), target, randn(142, t, 9)), in -> {
                                FusedOps.CrossEntropyResult r = FusedOps.crossEntropy(in.get(0), in.get(1), -100, smoothing);
                                Tensor g = FusedOps.crossEntropyBackward(in.get(2), in.get(0), in.get(1), r, -100, smoothing);
                                Tensor g1 = FusedOps.crossEntropyBackward(in.get(2).sum(), in.get(0), in.get(1), r, -100,
                                        smoothing);
                                return new Tensor[] {r.losses(), r.logSumExp(), g, g1};
                            }, tol * 10, tol * 10));
                }
            }
            c.add(of("crossEntropy " + t + " vocabulary-sized rows", List.of(randn(143, t, 4, 50257),
                    ints(144, 0, 50257, I64, 4)), in -> {
                        FusedOps.CrossEntropyResult r = FusedOps.crossEntropy(in.get(0), in.get(1), -1, 0);
                        return new Tensor[] {r.losses(), r.logSumExp()};
                    }, 1e-5, 1e-5));
            c.add(of("adamW " + t + " three steps, transposed gradient", List.of(randn(151, t, 7, 9), randn(152, t, 9, 7),
                    randn(153, t, 7, 9).mul(0.1), randn(154, t, 7, 9).abs().mul(0.01)), in -> {
                        for (int step = 1; step <= 3; step++) {
                            FusedOps.adamW(in.get(0), in.get(1).mT(), in.get(2), in.get(3), 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
                        }
                        return new Tensor[] {in.get(0), in.get(2), in.get(3)};
                    }, tol * 10, tol * 10));
        }
    }

    /**
     * The fused ops the layers call whose CUDA path is Backend's composed default while the CPU runs a kernel
     * of its own: a linear layer's product with its epilogue and its gradients (the bias gradient summed in
     * another order on the CPU), attention with RoPE inside, its backward into slices of one buffer (as the
     * fused Q, K, V projection takes it), and the dropout mask from the counter-based generator.
     */
    static void layerPaths(List<OpCases> c) {
        for (DType t : new DType[] {F32, F64}) {
            double tol = t == F64 ? 1e-10 : 2e-4;
            List<Tensor> layer = List.of(randn(181, t, 70, 40), randn(182, t, 50, 40), randn(183, t, 50),
                    randn(184, t, 70, 50));
            c.add(of("linear " + t + " with bias and ReLU, and without bias", layer, in -> new Tensor[] {
                FusedOps.linear(in.get(0), in.get(1), in.get(2), true),
                FusedOps.linear(in.get(0).mT().contiguous().mT(), in.get(1), null, false)}, tol, tol));
            c.add(of("linearBackward " + t + ", input from a ReLU and plain", layer, in -> {
                Tensor reluOutput = in.get(0).relu();
                FusedOps.LinearGradients masked = FusedOps.linearBackward(in.get(3), reluOutput, in.get(1), true, true,
                        true, true);
                FusedOps.LinearGradients plain = FusedOps.linearBackward(in.get(3), in.get(0), in.get(1), true, false,
                        true, false);
                return new Tensor[] {masked.input(), masked.weight(), masked.bias(), plain.input(), plain.bias()};
            }, tol, tol));
            int b = 2;
            int h = 3;
            int tq = 20;
            int tk = 36;
            int d = 16;
            List<Tensor> heads = List.of(randn(185, t, b, tq, h, d), randn(186, t, b, h, tk, d), randn(187, t, b, h, tk, d),
                    randn(188, t, b, h, tq, d), randn(189, t, tk, d / 4));
            c.add(of("attention " + t + " with RoPE inside, backward into slices of one buffer", heads, in -> {
                Tensor q = in.get(0).permute(0, 2, 1, 3);
                Tensor angles = in.get(4);
                // A quarter of the pairs of channels rotated; the queries sit at the last tq positions.
                FusedOps.AttentionRotation rotation = new FusedOps.AttentionRotation(angles.narrow(0, tk - tq, tq).cos(),
                        angles.narrow(0, tk - tq, tq).sin(), angles.cos(), angles.sin());
                double scale = 1 / Math.sqrt(d);
                FusedOps.AttentionResult r = FusedOps.attention(q, in.get(1), in.get(2), null, rotation, scale, true);
                Tensor[] g = FusedOps.attentionBackward(in.get(3), q, in.get(1), in.get(2), null, rotation, r, scale,
                        true);
                Tensor buffer = Tensor.zeros(t, q.device(), b, h, 3, tq, d);
                Tensor qk = in.get(1).narrow(2, tk - tq, tq);
                Tensor vv = in.get(2).narrow(2, tk - tq, tq);
                FusedOps.AttentionRotation self = new FusedOps.AttentionRotation(rotation.queryCos(),
                        rotation.querySin(), rotation.queryCos(), rotation.querySin());
                FusedOps.AttentionResult rs = FusedOps.attention(q, qk, vv, null, self, scale, true);
                FusedOps.attentionBackwardInto(in.get(3), q, qk, vv, self, rs, scale, true, buffer.select(2, 0),
                        buffer.select(2, 1), buffer.select(2, 2));
                return new Tensor[] {r.output(), r.logSumExp(), g[0], g[1], g[2], rs.output(), buffer};
            }, tol, tol));
            c.add(of("dropoutMask " + t + " p = 0.3", List.of(randn(190, t, 3)), in -> Tensor.dropoutMask(0.3,
                    new Generator(191), t, in.get(0).device(), 33, 65), 0, 0));
        }
    }

    /** An attention case: the same views on both sides, the fused op on the device, References on the CPU. */
    private static void attentionCase(List<OpCases> c, String name, DType t, int b, int h, int tq, int tk, int d, int dv,
            boolean causal, boolean withRel, boolean broadcastK, double tol) {
        int kh = broadcastK ? 1 : h;
        List<Tensor> inputs = new ArrayList<>(List.of(randn(161, t, b, h, tq, d), randn(162, t, b, kh, tk, d),
                randn(163, t, b, kh, tk, dv), randn(164, t, b, h, tq, dv), randn(165, t, h, tk, d).mul(0.5)));
        double scale = 1 / Math.sqrt(d);
        Function<List<Tensor>, Tensor[]> views = in -> new Tensor[] {in.get(0), in.get(1).expand(b, h, tk, d),
            in.get(2).expand(b, h, tk, dv), in.get(3), withRel ? in.get(4) : null};
        Function<List<Tensor>, Object> op = in -> {
            Tensor[] v = views.apply(in);
            FusedOps.AttentionResult r = FusedOps.attention(v[0], v[1], v[2], v[4], scale, causal);
            Tensor[] g = FusedOps.attentionBackward(v[3], v[0], v[1], v[2], v[4], r, scale, causal);
            return new Tensor[] {r.output(), r.logSumExp(), g[0], g[1], g[2], g[3]};
        };
        Function<List<Tensor>, Object> reference = in -> {
            Tensor[] v = views.apply(in);
            Tensor[] f = References.attention(v[0], v[1], v[2], v[4], scale, causal);
            Tensor[] g = References.attentionBackward(v[3], v[0], v[1], v[2], v[4], scale, causal);
            return new Tensor[] {f[0], f[1], g[0], g[1], g[2], g[3]};
        };
        c.add(new OpCases("attention " + t + " " + name, inputs, op, reference, tol, tol));
    }

    static void attention(List<OpCases> c) {
        for (DType t : new DType[] {F32, F64}) {
            double tol = t == F64 ? 1e-10 : 2e-4;
            attentionCase(c, "small, not causal", t, 2, 3, 5, 5, 8, 8, false, false, false, tol);
            attentionCase(c, "causal", t, 2, 3, 37, 37, 16, 16, true, false, false, tol);
            attentionCase(c, "causal with memory keys (Tk > Tq)", t, 1, 2, 20, 45, 16, 24, true, false, false, tol);
            attentionCase(c, "causal with the relative term", t, 2, 2, 19, 40, 32, 32, true, true, false, tol);
            attentionCase(c, "relative term, head dim 48", t, 1, 2, 24, 24, 48, 48, true, true, false, tol);
            attentionCase(c, "relative term, head dim 100, memory keys", t, 1, 1, 33, 50, 100, 64, true, true, false, tol);
            attentionCase(c, "keys shared by all heads (broadcast)", t, 2, 4, 33, 33, 40, 24, true, false, true, tol);
            attentionCase(c, "head dim 128, several tiles", t, 1, 2, 70, 70, 128, 128, false, false, false, tol);
            attentionCase(c, "head dim 256", t, 1, 1, 20, 20, 256, 200, true, true, false, tol);
        }
    }

    static void grouped(List<OpCases> c) {
        for (DType t : new DType[] {F32, F64}) {
            double tol = t == F64 ? 1e-10 : 1e-4;
            for (DType it : new DType[] {I32, I64}) {
                // 40 pairs of 5 experts: one tile (of 64 pairs) of mixed experts. 300 pairs of 2, sorted or not
                // (the kernels group them by expert first): tiles of one expert (the staged-weight path) around a
                // mixed one, and two runs of the weight gradient.
                for (int variant = 0; variant < 4; variant++) {
                    boolean sortedPairs = variant != 1 && variant != 3;
                    int pairs = variant >= 2 ? 300 : 40;
                    int experts = variant >= 2 ? 2 : 5;
                    Tensor row = ints(171, 0, 13, it, pairs);
                    Tensor expert = sortedPairs ? ints(172, 0, experts, I64, pairs).sort(0, false).values().to(it)
                            : ints(172, 0, experts, it, pairs);
                    List<Tensor> inputs = List.of(randn(173, t, 13, 70), randn(174, t, experts, 70, 90), row, expert,
                            randn(175, t, pairs), randn(176, t, pairs, 90));
                    for (boolean gated : new boolean[] {true, false}) {
                        String name = "groupedMatmul " + t + " index " + it + (sortedPairs ? " sorted" : " unsorted")
                                + (variant >= 2 ? " long runs" : "") + (gated ? " gated" : "");
                        c.add(new OpCases(name, inputs, in -> {
                            Tensor g = gated ? in.get(4) : null;
                            Tensor out = FusedOps.groupedMatmul(in.get(0), in.get(1), in.get(2), in.get(3), g);
                            Tensor[] b = FusedOps.groupedMatmulBackward(in.get(5), in.get(0), in.get(1), in.get(2), in.get(3), g);
                            return new Tensor[] {out, b[0], b[1], b[2]};
                        }, in -> {
                            Tensor g = gated ? in.get(4) : null;
                            Tensor out = References.groupedMatmul(in.get(0), in.get(1), in.get(2), in.get(3), g);
                            Tensor[] b = References.groupedMatmulBackward(in.get(5), in.get(0), in.get(1), in.get(2), in.get(3), g);
                            return new Tensor[] {out, b[0], b[1], b[2]};
                        }, tol, tol));
                    }
                }
            }
        }
    }
}
