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

    private static final int H100_SHARED = 227 * 1024;
    private static final int H100_SMS = 132;

    private static String kernel(DType dtype, MatmulPrecision p, int m, int n, long batch, boolean chunked,
            boolean aT, boolean bT, int shared) {
        return MatmulKernels.choose(dtype, p, m, n, batch, chunked, aT, bT, H100_SMS, shared).kernel();
    }

    @Test
    void theKernelFollowsPrecisionChunkingLayoutAndSize() {
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.FP32, 4096, 4096, 1, true, false, false, H100_SHARED))
                .isEqualTo("gemm_simt_f32_128_c4");
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.FP32, 256, 256, 1, false, false, false, H100_SHARED))
                .as("4 tiles of 128: too few for the SMs").isEqualTo("gemm_simt_f32_64");
        MatmulKernels.Choice tf32 = MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.TF32, 4096, 4096, 1, true, true,
                false, H100_SMS, H100_SHARED);
        assertThat(tf32.kernel()).isEqualTo("gemm_tf32_tn");
        assertThat(tf32.tileN()).isEqualTo(256);
        assertThat(tf32.sharedBytes()).isEqualTo(MatmulKernels.PIPELINED_SHARED_BYTES).isGreaterThan(48 * 1024);
        MatmulKernels.Choice bf16 = MatmulKernels.choose(DType.FLOAT32, MatmulPrecision.BF16, 2048, 2048, 3, true, false,
                true, H100_SMS, H100_SHARED);
        assertThat(bf16.kernel()).isEqualTo("gemm_bf16s_nt");
        assertThat(bf16.bf16Operands()).isTrue();
        assertThat(bf16.sharedBytes()).isEqualTo(MatmulKernels.BF16_STORED_SHARED_BYTES);
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.BF16, 4096, 4096, 1, false, false, false, H100_SHARED))
                .as("BF16 converts operands of any strides").isEqualTo("gemm_bf16s_nn");
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.BF16, 4096, 4096, 1, true, false, false, 99 * 1024))
                .as("72 KiB of shared memory fit Ada's 99").isEqualTo("gemm_bf16s_nn");
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.BF16, 412, 2053, 1, true, true, false, H100_SHARED))
                .as("36 tiles for 132 SMs").isEqualTo("gemm_bf16");
        assertThat(MatmulKernels.bf16Floats(3, 1000, 3)).as("rows of 3 padded to 8").isEqualTo(3 * 1000 * 8 / 2);
        assertThat(MatmulKernels.bf16Pitch(70)).isEqualTo(72);
        assertThat(MatmulKernels.bf16Pitch(72)).isEqualTo(72);
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.TF32, 412, 2053, 1, true, true, false, H100_SHARED))
                .as("a 47M model's weight gradient: 36 tiles of 128 x 256 for 132 SMs").isEqualTo("gemm_tf32");
        assertThat(kernel(DType.FLOAT32, MatmulPrecision.TF32, 4096, 4096, 1, true, false, false, 99 * 1024))
                .as("99 KiB of shared memory (Ada): too little for three stages").isEqualTo("gemm_tf32");
        assertThat(kernel(DType.FLOAT64, MatmulPrecision.TF32, 4096, 4096, 1, true, false, false, H100_SHARED))
                .as("float64 ignores the precision").isEqualTo("gemm_simt_f64_64");
    }
}
