package dev.ladon.tensor;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.testdevice.TestDeviceProvider;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Bad input fails at the public boundary with an IllegalArgumentException (or IndexOutOfBoundsException for
 * index values) whose message names the op and the offending shapes, dtypes, devices or values; never with
 * an ArrayIndexOutOfBoundsException or NullPointerException from inside a kernel.
 */
class ErrorMessageTest {

    /** Asserts exactly this exception type (subclasses such as ArrayIndexOutOfBounds do not count) and fragments. */
    static void assertFails(ThrowingCallable call, Class<? extends Throwable> type, String... fragments) {
        var a = assertThatThrownBy(call).isExactlyInstanceOf(type);
        for (String f : fragments) {
            a.hasMessageContaining(f);
        }
    }

    static void rejects(ThrowingCallable call, String... fragments) {
        assertFails(call, IllegalArgumentException.class, fragments);
    }

    static void outOfRange(ThrowingCallable call, String... fragments) {
        assertFails(call, IndexOutOfBoundsException.class, fragments);
    }

    static Tensor onTestDevice(DType dtype, int... shape) {
        return Tensor.zeros(dtype, TestDeviceProvider.DEVICE, shape);
    }

    @Nested
    class DeviceMismatch {
        final Tensor cpu = Tensor.zeros(2, 3);
        final Tensor other = onTestDevice(DType.FLOAT32, 2, 3);

        @Test
        void binaryAndInPlaceOpsNameBothDevices() {
            rejects(() -> cpu.add(other), "add", "[2, 3]@cpu", "[2, 3]@test:0");
            rejects(() -> cpu.lt(other), "lt", "cpu", "test:0");
            rejects(() -> cpu.addInPlace(other), "addInPlace", "cpu", "test:0");
            rejects(() -> cpu.copyFrom(other), "copyFrom", "cpu", "test:0");
            rejects(() -> cpu.maximum(other), "maximum", "cpu", "test:0");
        }

        @Test
        void whereAndMaskedFillNameTheirOp() {
            Tensor mask = onTestDevice(DType.BOOL, 2, 3);
            rejects(() -> Tensor.where(mask, cpu, cpu), "where", "cpu", "test:0");
            rejects(() -> cpu.maskedFill(mask, 1), "maskedFill", "cpu", "test:0");
        }

        @Test
        void matmulAndIndexingOpsNameTheirOp() {
            rejects(() -> cpu.matmul(onTestDevice(DType.FLOAT32, 3, 2)), "matmul", "[2, 3]@cpu", "[3, 2]@test:0");
            Tensor idx = onTestDevice(DType.INT64, 2, 3);
            rejects(() -> cpu.gather(0, idx), "gather", "cpu", "test:0");
            rejects(() -> cpu.scatterAdd(0, idx, cpu), "scatterAdd", "cpu", "test:0");
            rejects(() -> cpu.indexSelect(0, onTestDevice(DType.INT64, 2)), "indexSelect", "cpu", "test:0");
            rejects(() -> cpu.indexAdd(0, onTestDevice(DType.INT64, 2), cpu), "indexAdd", "cpu", "test:0");
            rejects(() -> Tensor.embedding(cpu, onTestDevice(DType.INT64, 4)), "embedding", "cpu", "test:0");
            rejects(() -> Tensor.cat(List.of(cpu, other), 0), "cat", "cpu", "test:0");
        }

        @Test
        void fusedOpsNameTheirOp() {
            rejects(() -> FusedOps.layerNorm(cpu, onTestDevice(DType.FLOAT32, 3), null, 1e-5), "layerNorm", "test:0");
            rejects(() -> FusedOps.rmsNorm(cpu, onTestDevice(DType.FLOAT32, 3), 1e-5), "rmsNorm", "test:0");
            rejects(() -> FusedOps.crossEntropy(cpu, onTestDevice(DType.INT64, 2), -100, 0), "crossEntropy", "test:0");
            rejects(() -> FusedOps.adamW(cpu, other, Tensor.zeros(2, 3), Tensor.zeros(2, 3), 1e-3, 0.9, 0.999, 1e-8, 0, 1),
                    "adamW", "test:0");
        }

        @Test
        void requireSameDeviceListsEveryTensor() {
            rejects(() -> Tensor.requireSameDevice("myOp", cpu, cpu, other), "myOp", "[2, 3]@cpu [2, 3]@cpu [2, 3]@test:0");
        }
    }

    @Nested
    class DtypeMismatch {
        @Test
        void floatingOnlyOpsNameTheDtype() {
            Tensor ints = Tensor.arange(3);
            rejects(ints::exp, "exp", "int64", "[3]");
            rejects(ints::abs, "abs", "int64");
            rejects(() -> ints.softmax(0), "softmax", "int64");
            rejects(() -> ints.logSoftmax(0), "logSoftmax", "int64");
            rejects(() -> FusedOps.layerNorm(ints, null, null, 1e-5), "layerNorm", "int64");
            rejects(() -> FusedOps.reluBackward(ints, ints), "reluBackward", "int64");
        }

        @Test
        void matmulNeedsOneFloatingDtype() {
            rejects(() -> Tensor.zeros(2, 3).matmul(Tensor.zeros(DType.FLOAT64, 3, 2)), "matmul", "float32 [2, 3]",
                    "float64 [3, 2]");
            rejects(() -> Tensor.arange(3).matmul(Tensor.arange(3)), "matmul", "int64");
        }

        @Test
        void indicesMustBeIntegers() {
            Tensor x = Tensor.zeros(2, 3);
            rejects(() -> x.gather(0, Tensor.zeros(2, 3)), "gather", "int32 or int64", "float32");
            rejects(() -> x.indexSelect(0, Tensor.zeros(2)), "indexSelect", "float32");
            rejects(() -> Tensor.embedding(x, Tensor.zeros(DType.BOOL, 2)), "embedding", "bool");
            rejects(() -> FusedOps.crossEntropy(x, Tensor.zeros(2), -100, 0), "crossEntropy", "float32");
            rejects(() -> Tensor.zeros(3).oneHot(4), "oneHot", "float32");
        }

        @Test
        void masksMustBeBool() {
            Tensor x = Tensor.zeros(2, 3);
            rejects(() -> Tensor.where(x, x, x), "where", "condition must be bool", "float32");
            rejects(() -> x.maskedFill(x, 0), "maskedFill", "bool", "float32");
            rejects(x::logicalNot, "logicalNot", "float32");
        }

        @Test
        void randomFillsNeedAFloatingDtype() {
            rejects(() -> Tensor.rand(new Generator(1), DType.INT64, Device.CPU, 3), "uniform", "int64");
            rejects(() -> Tensor.randn(new Generator(1), DType.INT32, Device.CPU, 3), "normal", "int32");
        }

        @Test
        void fusedOpParametersMustMatchTheInput() {
            Tensor x = Tensor.zeros(2, 3);
            rejects(() -> FusedOps.layerNorm(x, Tensor.zeros(DType.FLOAT64, 3), null, 1e-5), "layerNorm", "float64",
                    "[2, 3]");
            rejects(() -> FusedOps.adamW(x, Tensor.zeros(DType.FLOAT64, 2, 3), Tensor.zeros(2, 3), Tensor.zeros(2, 3), 1e-3,
                    0.9, 0.999, 1e-8, 0, 1), "adamW", "float64", "float32");
        }
    }

    @Nested
    class ShapeMismatch {
        @Test
        void broadcastingFailuresNameBothShapes() {
            rejects(() -> Tensor.zeros(2, 3).add(Tensor.zeros(4)), "add", "[2, 3]", "[4]");
            rejects(() -> Tensor.zeros(2, 3).mul(Tensor.zeros(3, 3)), "mul", "[2, 3]", "[3, 3]");
            rejects(() -> Tensor.where(Tensor.zeros(DType.BOOL, 2), Tensor.zeros(3), Tensor.zeros(2)), "where", "[2]",
                    "[3]");
            rejects(() -> Tensor.zeros(3).addInPlace(Tensor.zeros(2, 3)), "addInPlace", "[3]", "[2, 3]");
            rejects(() -> Tensor.zeros(3).copyFrom(Tensor.zeros(2)), "copyFrom", "[3]", "[2]");
        }

        @Test
        void fusedBackwardsNameTheirOperands() {
            rejects(() -> FusedOps.reluBackward(Tensor.zeros(2, 3), Tensor.zeros(3, 2)), "reluBackward", "[2, 3]",
                    "[3, 2]");
            rejects(() -> FusedOps.reluBackward(Tensor.zeros(3), Tensor.zeros(DType.FLOAT64, Device.CPU, 3)),
                    "reluBackward", "float32", "float64");
        }

        @Test
        void matmulNamesShapesAndInnerDims() {
            rejects(() -> Tensor.zeros(2, 3).matmul(Tensor.zeros(4, 5)), "matmul", "[2, 3]", "[4, 5]", "3 vs 4");
            rejects(() -> Tensor.zeros(2, 2, 3).matmul(Tensor.zeros(3, 3, 5)), "matmul", "[2]", "[3]");
            rejects(() -> Tensor.scalar(1).matmul(Tensor.zeros(3)), "matmul", "at least 1 dim");
        }

        @Test
        void joinFailuresNameTheShapes() {
            rejects(() -> Tensor.cat(List.of(Tensor.zeros(2, 3), Tensor.zeros(2, 4)), 0), "cat", "[2, 3]", "[2, 4]");
            rejects(() -> Tensor.cat(List.of(Tensor.zeros(2, 3), Tensor.zeros(3)), 0), "cat", "[2, 3]", "[3]");
            rejects(() -> Tensor.cat(List.of(), 0), "cat");
            rejects(() -> Tensor.stack(List.of(Tensor.zeros(2), Tensor.zeros(3)), 0), "stack", "[2]", "[3]");
        }

        @Test
        void indexingFailuresNameTheShapes() {
            Tensor x = Tensor.zeros(2, 3);
            rejects(() -> x.gather(0, Tensor.zeros(DType.INT64, 2)), "gather", "[2]", "[2, 3]");
            rejects(() -> x.gather(0, Tensor.zeros(DType.INT64, 2, 4)), "gather", "[2, 4]", "[2, 3]");
            rejects(() -> x.scatterAdd(0, Tensor.zeros(DType.INT64, 2, 3), Tensor.zeros(2, 2)), "scatterAdd", "[2, 3]",
                    "[2, 2]");
            rejects(() -> x.indexSelect(0, Tensor.zeros(DType.INT64, 1, 1)), "indexSelect", "1-D", "[1, 1]");
            rejects(() -> x.indexAdd(1, Tensor.zeros(DType.INT64, 2), Tensor.zeros(2, 3)), "indexAdd", "[2, 3]", "[2, 2]");
            rejects(() -> Tensor.embedding(Tensor.zeros(4), Tensor.zeros(DType.INT64, 2)), "embedding", "[4]");
        }

        @Test
        void fusedOpsNameTheShapes() {
            Tensor x = Tensor.zeros(2, 3);
            rejects(() -> FusedOps.layerNorm(x, Tensor.zeros(4), null, 1e-5), "layerNorm", "[4]", "[2, 3]");
            rejects(() -> FusedOps.layerNorm(Tensor.scalar(1), null, null, 1e-5), "layerNorm", "0-dim");
            rejects(() -> FusedOps.rmsNorm(x, Tensor.zeros(2), 1e-5), "rmsNorm", "[2]", "[2, 3]");
            FusedOps.LayerNormResult ln = FusedOps.layerNorm(x, null, null, 1e-5);
            rejects(() -> FusedOps.layerNormBackward(Tensor.zeros(3, 2), x, null, ln), "layerNormBackward", "[3, 2]",
                    "[2, 3]");
            rejects(() -> FusedOps.crossEntropy(Tensor.zeros(2, 3, 4), Tensor.zeros(DType.INT64, 2), -100, 0),
                    "crossEntropy", "[2, 3, 4]", "[2]");
            rejects(() -> FusedOps.crossEntropy(x, Tensor.zeros(DType.INT64, 3), -100, 0), "crossEntropy", "[2, 3]", "[3]");
            rejects(() -> FusedOps.adamW(x, Tensor.zeros(3, 2), Tensor.zeros(2, 3), Tensor.zeros(2, 3), 1e-3, 0.9, 0.999,
                    1e-8, 0, 1), "adamW", "[3, 2]", "[2, 3]");
            rejects(() -> FusedOps.adamW(x.mT(), Tensor.zeros(3, 2), Tensor.zeros(3, 2), Tensor.zeros(3, 2), 1e-3, 0.9,
                    0.999, 1e-8, 0, 1), "adamW", "contiguous");
        }

        @Test
        void attentionAndGroupedMatmulCheckShapesBeforeAnyKernelRuns() {
            Tensor q = Tensor.zeros(1, 2, 3, 4);
            Tensor k = Tensor.zeros(1, 2, 5, 4);
            rejects(() -> FusedOps.attention(Tensor.zeros(2, 3, 4), k, k, null, 1, false), "attention", "4-D",
                    "q [2, 3, 4]");
            rejects(() -> FusedOps.attention(q, Tensor.zeros(1, 2, 5, 3), k, null, 1, false), "attention",
                    "k [1, 2, 5, 3]");
            rejects(() -> FusedOps.attention(Tensor.zeros(1, 2, 6, 4), k, k, null, 1, true), "attention",
                    "at least as many keys as queries");
            rejects(() -> FusedOps.attention(q, k, k, Tensor.zeros(2, 5, 4), 1, false), "attention", "causal");
            rejects(() -> FusedOps.attention(q, k, Tensor.zeros(DType.FLOAT64, 1, 2, 5, 4), null, 1, false), "attention",
                    "float64");
            Tensor x = Tensor.zeros(3, 4);
            Tensor w = Tensor.zeros(2, 4, 5);
            Tensor rows = Tensor.of(new long[] {0, 2}, 2);
            rejects(() -> FusedOps.groupedMatmul(x, Tensor.zeros(2, 3, 5), rows, rows, null), "groupedMatmul",
                    "weight [2, 3, 5]");
            rejects(() -> FusedOps.groupedMatmul(x, w, rows, Tensor.of(new long[] {0}, 1), null), "groupedMatmul",
                    "expert [1]");
            rejects(() -> FusedOps.groupedMatmul(x, w, rows, rows, Tensor.zeros(DType.FLOAT64, 2)), "groupedMatmul",
                    "float64");
            rejects(() -> FusedOps.groupedMatmulBackward(Tensor.zeros(2, 4), x, w, rows, rows, null),
                    "groupedMatmulBackward", "[2, 5]", "[2, 4]");
        }

        @Test
        void crossEntropyBackwardChecksItsGradientAndTargets() {
            Tensor logits = Tensor.zeros(3, 4);
            Tensor target = Tensor.of(new long[] {0, 1, 2}, 3);
            FusedOps.CrossEntropyResult saved = FusedOps.crossEntropy(logits, target, -100, 0);
            rejects(() -> FusedOps.crossEntropyBackward(Tensor.zeros(2), logits, target, saved, -100, 0),
                    "crossEntropyBackward", "[2]", "[3, 4]");
            rejects(() -> FusedOps.crossEntropyBackward(Tensor.zeros(3), logits, Tensor.of(new long[] {0, 1}, 2), saved,
                    -100, 0), "crossEntropyBackward", "[2]");
        }

        @Test
        void viewAndReshapeNameBothShapes() {
            rejects(() -> Tensor.zeros(2, 3).reshape(4, 2), "reshape", "[2, 3]", "[4, 2]");
            rejects(() -> Tensor.zeros(2, 3).view(7), "view", "[2, 3]", "[7]");
            rejects(() -> Tensor.zeros(2, 3).mT().view(6), "view", "[3, 2]", "[6]");
            rejects(() -> Tensor.zeros(2, 3).expand(4, 3), "expand", "[2, 3]", "[4, 3]");
            rejects(() -> Tensor.zeros(2, 3).expand(3), "expand", "[2, 3]", "[3]");
            rejects(() -> Tensor.zeros(2, 3).broadcastTo(3, 3), "broadcastTo", "[2, 3]", "[3, 3]");
            rejects(() -> Tensor.zeros(2, 3).permute(0), "permute", "[0]", "[2, 3]");
            rejects(() -> Tensor.zeros(2, 3).permute(1, 1), "permute", "repeated");
            rejects(() -> Tensor.zeros(3).mT(), "mT", "[3]");
        }

        @Test
        void hostArraysMustFillTheShape() {
            rejects(() -> Tensor.of(new float[] {1, 2, 3}, 2, 2), "of", "3 values", "[2, 2]");
            rejects(() -> Tensor.zeros(2, 3).item(), "item", "[2, 3]", "6 elements");
            rejects(() -> Tensor.zeros(2, 3).get(1), "get", "[1]", "[2, 3]");
        }
    }

    @Nested
    class IndexOutOfRange {
        final Tensor x = Tensor.zeros(2, 3);

        @Test
        void gatherAndScatterAddNameTheBadIndexAndTheRange() {
            Tensor bad = Tensor.of(new long[] {0, 5, 1, 0, 0, 0}, 2, 3);
            outOfRange(() -> x.gather(1, bad), "gather", "index 5", "size 3");
            outOfRange(() -> x.gather(0, Tensor.of(new int[] {-1}, 1, 1)), "gather", "index -1", "size 2");
            outOfRange(() -> x.scatterAdd(1, bad, Tensor.ones(2, 3)), "scatterAdd", "index 5", "size 3");
        }

        @Test
        void indexSelectIndexAddAndEmbeddingNameTheBadIndex() {
            outOfRange(() -> x.indexSelect(1, Tensor.of(new long[] {0, 3}, 2)), "indexSelect", "index 3", "size 3");
            outOfRange(() -> x.indexSelect(0, Tensor.of(new int[] {-1}, 1)), "indexSelect", "index -1");
            outOfRange(() -> x.indexAdd(0, Tensor.of(new long[] {2}, 1), Tensor.ones(1, 3)), "indexAdd", "index 2",
                    "size 2");
            outOfRange(() -> Tensor.embedding(Tensor.zeros(4, 2), Tensor.of(new long[] {1, 4}, 2)), "embedding", "4",
                    "[4, 2]");
        }

        @Test
        void crossEntropyTargetsOutsideTheClassesAreRejectedUnlessIgnored() {
            Tensor logits = Tensor.zeros(3, 5);
            outOfRange(() -> FusedOps.crossEntropy(logits, Tensor.of(new long[] {0, 7, 1}, 3), -100, 0), "crossEntropy",
                    "target 7", "5 classes");
            outOfRange(() -> FusedOps.crossEntropy(logits, Tensor.of(new long[] {0, -3, 1}, 3), -100, 0), "crossEntropy",
                    "target -3");
            FusedOps.CrossEntropyResult ok = FusedOps.crossEntropy(logits, Tensor.of(new long[] {0, -100, 1}, 3), -100, 0);
            outOfRange(() -> FusedOps.crossEntropyBackward(Tensor.ones(3), logits, Tensor.of(new long[] {0, 9, 1}, 3), ok,
                    -100, 0), "crossEntropyBackward", "target 9", "5 classes");
        }

        @Test
        void oneHotRejectsClassesOutsideTheRange() {
            outOfRange(() -> Tensor.of(new long[] {0, 4}, 2).oneHot(4), "oneHot", "4", "4 classes");
            outOfRange(() -> Tensor.of(new long[] {-1}, 1).oneHot(4), "oneHot", "-1");
        }

        @Test
        void viewOpsNameTheBadPosition() {
            outOfRange(() -> x.select(1, 3), "select", "index 3", "size 3", "[2, 3]");
            outOfRange(() -> x.get(2, 0), "select", "index 2");
            rejects(() -> x.narrow(1, 2, 2), "narrow", "[2, 4)", "size 3");
            rejects(() -> x.topk(4, 1, true), "topk", "k=4", "size 3");
        }
    }

    @Nested
    class InvalidDim {
        final Tensor x = Tensor.zeros(2, 3);

        @Test
        void dimArgumentsOutOfRangeNameTheOpAndTheRank() {
            rejects(() -> x.sum(2), "sum", "dim 2", "rank 2");
            rejects(() -> x.mean(new int[] {-3}, false), "mean", "dim -3");
            rejects(() -> x.max(5, false), "max", "dim 5");
            rejects(() -> x.argmax(2, false), "argmax", "dim 2");
            rejects(() -> x.var(new int[] {4}, 1, false), "var", "dim 4");
            rejects(() -> x.logsumexp(2), "logsumexp", "dim 2");
            rejects(() -> x.softmax(2), "softmax", "dim 2");
            rejects(() -> x.logSoftmax(-3), "logSoftmax", "dim -3");
            rejects(() -> x.cumsum(2), "cumsum", "dim 2");
            rejects(() -> x.sort(2, false), "sort", "dim 2");
            rejects(() -> x.topk(1, 2, true), "topk", "dim 2");
            rejects(() -> x.transpose(0, 2), "transpose", "dim 2");
            rejects(() -> x.narrow(2, 0, 1), "narrow", "dim 2");
            rejects(() -> x.select(-3, 0), "select", "dim -3");
            rejects(() -> x.unsqueeze(3), "unsqueeze", "dim 3");
            rejects(() -> x.squeeze(2), "squeeze", "dim 2");
            rejects(() -> x.flatten(1, 0), "flatten", "start dim 1", "end dim 0");
            rejects(() -> x.split(1, 2), "split", "dim 2");
            rejects(() -> x.chunk(2, 2), "chunk", "dim 2");
            rejects(() -> x.gather(2, Tensor.zeros(DType.INT64, 2, 3)), "gather", "dim 2");
            rejects(() -> x.indexSelect(2, Tensor.zeros(DType.INT64, 1)), "indexSelect", "dim 2");
            rejects(() -> Tensor.cat(List.of(x, x), 2), "cat", "dim 2");
            rejects(() -> Tensor.stack(List.of(x, x), 3), "stack", "dim 3");
            rejects(() -> x.size(2), "size", "dim 2");
        }

        @Test
        void dimOpsOnA0DimTensorFailClearly() {
            Tensor s = Tensor.scalar(1);
            rejects(() -> s.size(0), "size", "0-dim");
            rejects(() -> s.stride(0), "stride", "0-dim");
            rejects(() -> s.narrow(0, 0, 1), "narrow", "0-dim");
            rejects(() -> s.slice(0, 0, 1, 1), "slice", "0-dim");
            rejects(() -> s.select(0, 0), "select", "0-dim");
            rejects(() -> s.transpose(0, 0), "transpose", "0-dim");
            rejects(() -> s.split(1, 0), "split", "0-dim");
            rejects(() -> s.chunk(1, 0), "chunk", "0-dim");
            rejects(() -> Tensor.cat(List.of(s, s), 0), "cat", "0-dim");
            rejects(() -> s.indexSelect(0, Tensor.zeros(DType.INT64, 1)), "indexSelect", "0-dim");
            rejects(() -> s.indexAdd(0, Tensor.zeros(DType.INT64, 1), Tensor.zeros(1)), "indexAdd", "0-dim");
            rejects(() -> s.gather(0, Tensor.scalar(0, DType.INT64, Device.CPU)), "gather", "0-dim");
            rejects(() -> s.scatterAdd(0, Tensor.scalar(0, DType.INT64, Device.CPU), s), "scatterAdd", "0-dim");
        }
    }

    @Nested
    class InvalidArgument {
        @Test
        void factoriesRejectImpossibleArguments() {
            rejects(() -> Tensor.arange(-1), "arange", "-1");
            rejects(() -> Tensor.arange(0, 1, 0, DType.FLOAT32), "arange", "step=0.0");
            rejects(() -> Tensor.randint(5, 5, new Generator(1), Device.CPU, 2), "randint", "[5, 5)");
            rejects(() -> Tensor.bernoulli(1.5, new Generator(1), DType.FLOAT32, Device.CPU, 2), "bernoulli", "1.5");
            rejects(() -> Tensor.zeros(2, -1), "[2, -1]");
        }

        @Test
        void splittingAndSlicingRejectNonPositiveSizes() {
            Tensor x = Tensor.zeros(4);
            rejects(() -> x.split(0, 0), "split", "0");
            rejects(() -> x.chunk(0, 0), "chunk", "0");
            rejects(() -> x.slice(0, 0, 4, 0), "slice", "step", "0");
            rejects(() -> x.topk(-1, 0, true), "topk", "k=-1");
        }

        @Test
        void crossEntropyRejectsSmoothingOutsideZeroToOne() {
            rejects(() -> FusedOps.crossEntropy(Tensor.zeros(2, 3), Tensor.zeros(DType.INT64, 2), -100, 1.5),
                    "crossEntropy", "1.5");
        }

        @Test
        void adamWRejectsStepZero() {
            Tensor p = Tensor.zeros(2);
            rejects(() -> FusedOps.adamW(p, p, Tensor.zeros(2), Tensor.zeros(2), 1e-3, 0.9, 0.999, 1e-8, 0, 0), "adamW",
                    "step 0");
        }
    }
}
