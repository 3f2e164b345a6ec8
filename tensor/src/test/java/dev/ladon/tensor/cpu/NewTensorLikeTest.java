package dev.ladon.tensor.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Kernel outputs laid out in the dim order of an operand (preserve format), or contiguous when that is not dense. */
class NewTensorLikeTest {
    private static Tensor like(int[] shape, Tensor operand) {
        return CpuBackend.INSTANCE.newTensorLike(DType.FLOAT32, shape, operand);
    }

    @Test
    void aPermutedDenseOperandGivesThatPermutationOfADenseTensorEvenForANewLastDim() {
        Tensor heads = Tensor.zeros(2, 5, 3, 4).permute(0, 2, 1, 3); // [B, H, T, D] over [B, T, H, D]
        Tensor out = like(new int[] {2, 3, 5, 6}, heads);
        assertThat(out.shape()).containsExactly(2, 3, 5, 6);
        assertThat(out.strides()).containsExactly(90, 6, 18, 1);
        assertThat(out.permute(0, 2, 1, 3).isContiguous()).isTrue();
        assertThat(like(new int[] {4, 3}, Tensor.zeros(3, 4).mT()).strides()).containsExactly(1, 4);
    }

    @Test
    void sizeOneDimsDoNotBreakTheOrder() {
        Tensor view = Tensor.zeros(2, 1, 3).permute(2, 1, 0); // [3, 1, 2], dim 1 of size 1
        Tensor out = like(new int[] {3, 1, 2}, view);
        assertThat(out.permute(2, 1, 0).isContiguous()).isTrue();
    }

    @Test
    void broadcastSlicedOrRankChangingOperandsGiveContiguousResults() {
        int[] shape = {3, 4};
        assertThat(like(shape, Tensor.zeros(1, 4).expand(3, 4)).isContiguous()).isTrue();
        assertThat(like(shape, Tensor.zeros(3, 8).slice(1, 0, 8, 2)).isContiguous()).isTrue();
        assertThat(like(shape, Tensor.zeros(4, 6).narrow(1, 1, 3).mT()).isContiguous()).isTrue();
        assertThat(like(shape, Tensor.zeros(12)).isContiguous()).isTrue();
        // a size-1 dim of the operand that the result spreads out cannot be ordered by it
        assertThat(like(shape, Tensor.zeros(4, 1).mT()).isContiguous()).isTrue();
    }

    @Test
    void inTheOrderOfASliceSuchAsHeadsOfAFusedProjection() {
        // q of a fused Q, K, V projection: [B, T, 3, H, D] with the middle index 0, seen as [B, H, T, D].
        Tensor q = Tensor.zeros(2, 5, 3, 4, 6).select(2, 0).permute(0, 2, 1, 3);
        Tensor out = CpuBackend.INSTANCE.newTensorInOrderOf(DType.FLOAT32, q.shape(), q);
        assertThat(out.permute(0, 2, 1, 3).isContiguous()).isTrue();
        assertThat(like(q.shape(), q).isContiguous()).as("newTensorLike keeps slices contiguous").isTrue();
        // Broadcast dims (stride 0) still give a contiguous result.
        Tensor shared = Tensor.zeros(2, 1, 5, 6).expand(2, 4, 5, 6);
        assertThat(CpuBackend.INSTANCE.newTensorInOrderOf(DType.FLOAT32, shared.shape(), shared).isContiguous()).isTrue();
    }
}

