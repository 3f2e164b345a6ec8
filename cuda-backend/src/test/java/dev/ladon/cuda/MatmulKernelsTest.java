package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import org.junit.jupiter.api.Test;

class MatmulKernelsTest {
    @Test
    void operandsAreChunkedWhenAlignedWithOneUnitStrideAndTheOthersMultiplesOfFour() {
        int[] none = {};
        assertThat(MatmulKernels.chunked(256, 72, 1, none)).as("row-major, rows 72 apart").isTrue();
        assertThat(MatmulKernels.chunked(256, 1, 132, none)).as("a transposed view").isTrue();
        assertThat(MatmulKernels.chunked(256, 70, 1, none)).as("rows 70 floats apart").isFalse();
        assertThat(MatmulKernels.chunked(260, 72, 1, none)).as("base 4 bytes past alignment").isFalse();
        assertThat(MatmulKernels.chunked(256, 72, 2, none)).as("no unit stride").isFalse();
        assertThat(MatmulKernels.chunked(256, 1, 1, none)).as("unit strides only (a vector)").isFalse();
        assertThat(MatmulKernels.chunked(256, 72, 1, new int[] {64 * 72, 0})).as("batch and broadcast").isTrue();
        assertThat(MatmulKernels.chunked(256, 72, 1, new int[] {7})).as("a batch stride of 7").isFalse();
    }

    @Test
    void theKernelFollowsPrecisionChunkingLayoutAndSize() {
        assertThat(MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.FP32, 4096, 4096, 1, true, false, false).kernel())
                .isEqualTo("gemm_simt_f32_128_c4");
        assertThat(MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.FP32, 256, 256, 1, false, false, false).kernel())
                .as("4 tiles of 128: too few for the SMs").isEqualTo("gemm_simt_f32_64");
        MatmulKernels.Choice tf32 = MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.TF32, 64, 64, 1, true, true, false);
        assertThat(tf32.kernel()).isEqualTo("gemm_tf32_tn");
        assertThat(tf32.tileN()).isEqualTo(256);
        assertThat(tf32.sharedBytes()).isEqualTo(MatmulKernels.PIPELINED_SHARED_BYTES).isGreaterThan(48 * 1024);
        assertThat(MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.BF16, 64, 64, 1, true, false, true).kernel())
                .isEqualTo("gemm_bf16_nt");
        assertThat(MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.BF16, 64, 64, 1, false, false, true).kernel())
                .isEqualTo("gemm_bf16");
        assertThat(MatmulKernels.choose(DType.FLOAT64, MatmulPrecision.TF32, 64, 64, 1, true, false, false).kernel())
                .as("float64 ignores the precision").isEqualTo("gemm_simt_f64_64");
    }
}
