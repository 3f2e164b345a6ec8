package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.RandomDistribution;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.backend.UnaryOp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Kernels receive ops as enum ordinals; the constants in the .cu files must follow the Java enums, or a
 * kernel would silently compute a different op. These tests read the constants from the sources.
 */
class OpCodesTest {
    private static String source(String file) throws IOException {
        return Files.readString(PtxFreshnessTest.CUDA_SOURCES.resolve(file));
    }

    private static int constant(String text, String name) {
        Matcher m = Pattern.compile("\\b" + name + "\\s*=\\s*(\\d+)").matcher(text);
        if (!m.find()) {
            Matcher d = Pattern.compile("#define\\s+" + name + "\\s+(\\d+)").matcher(text);
            assertThat(d.find()).as("constant %s", name).isTrue();
            return Integer.parseInt(d.group(1));
        }
        return Integer.parseInt(m.group(1));
    }

    @Test
    void unaryCodesAreUnaryOpOrdinals() throws IOException {
        String cu = source("elementwise.cu");
        for (UnaryOp op : UnaryOp.values()) {
            assertThat(constant(cu, "UNARY_" + op.name())).as("UNARY_%s", op).isEqualTo(op.ordinal());
        }
    }

    @Test
    void binaryCodesAreBinaryOpOrdinals() throws IOException {
        String cu = source("elementwise.cu");
        for (BinaryOp op : BinaryOp.values()) {
            assertThat(constant(cu, "BINARY_" + op.name())).as("BINARY_%s", op).isEqualTo(op.ordinal());
        }
    }

    @Test
    void reduceCodesAreReduceOpOrdinals() throws IOException {
        String cu = source("reduce.cu");
        for (ReduceOp op : ReduceOp.values()) {
            assertThat(constant(cu, "R_" + op.name())).as("R_%s", op).isEqualTo(op.ordinal());
        }
    }

    @Test
    void indexErrorOpCodesMatchIndexErrorsOp() throws IOException {
        assertThat(constant(source("loss.cu"), "CROSS_ENTROPY_OP")).isEqualTo(IndexErrors.Op.CROSS_ENTROPY.ordinal());
        assertThat(constant(source("grouped.cu"), "GROUPED_ROW_OP")).isEqualTo(IndexErrors.Op.GROUPED_MATMUL_ROW.ordinal());
        assertThat(constant(source("grouped.cu"), "GROUPED_EXPERT_OP"))
                .isEqualTo(IndexErrors.Op.GROUPED_MATMUL_EXPERT.ordinal());
    }

    @Test
    void randomKernelReadsUniformAsZeroAndNormalAsOne() throws IOException {
        assertThat(RandomDistribution.UNIFORM.ordinal()).isZero();
        assertThat(RandomDistribution.NORMAL.ordinal()).isEqualTo(1);
        assertThat(source("random.cu")).contains("dist: 0 = uniform").contains("1 = normal");
    }

    @Test
    void layoutStructSizesAgreeWithJava() throws IOException {
        String h = source("ladon.cuh");
        assertThat(constant(h, "LADON_MAX_DIMS")).isEqualTo(StridedLayout.MAX_DIMS);
        assertThat(constant(h, "LADON_MAX_OPERANDS")).isEqualTo(StridedLayout.MAX_OPERANDS);
        assertThat(constant(source("gemm.cu"), "GEMM_MAX_BATCH_DIMS")).isEqualTo(MatmulKernels.MAX_BATCH_DIMS);
        assertThat(constant(source("sort.cu"), "SORT_SHARED_MAX")).isEqualTo(SortKernels.SHARED_MAX);
    }

    @Test
    void indexErrorRecordDecodes() {
        // flag 1, op 2 (indexSelect) in the first long; dim 1; value 7; size 5.
        long[] record = {1L | (2L << 32), 1, 7, 5};
        assertThat(IndexErrors.describe(record)).startsWith("indexSelect: index 7 is out of range for dim 1 of size 5");
        assertThat(IndexErrors.describe(new long[4])).isNull();
        long[] ce = {1L | ((long) IndexErrors.Op.CROSS_ENTROPY.ordinal() << 32), 3, 12, 10};
        assertThat(IndexErrors.describe(ce)).startsWith("crossEntropy: target 12 at row 3 is out of range for 10 classes");
    }
}
