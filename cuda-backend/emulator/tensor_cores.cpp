// The tensor-core instructions gemm.cu uses (mma.sync m16n8k8 TF32 and m16n8k16 BF16, row.col, FP32
// accumulation), computed from the fragment layouts of the PTX ISA: the warp's lanes publish their
// fragments, then each lane computes its own four accumulators. A kernel that puts an element in the wrong
// register gets the wrong product here as it would on a GPU.
#include <cstring>

#include "launch.h"

namespace ladon_emu {

namespace {

struct MmaFragments {
    uint32_t a[4];
    uint32_t b[2];
};

float tf32_value(uint32_t bits) {
    bits &= 0xffffe000u;  // the instruction reads 19 bits: sign, exponent, 10 mantissa bits
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_value(uint32_t word, int half) {
    uint32_t bits = (half == 0 ? word & 0xffffu : word >> 16) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <typename ElementOfA, typename ElementOfB>
void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], int depth, ElementOfA element_of_a,
         ElementOfB element_of_b) {
    int lane = (int)(thread_index.x & 31);
    int warp_start = (int)(thread_index.x & ~31u);
    if (warp_start + 32 > (int)block_dim.x) {
        fail_launch("%s: an mma instruction in a warp of fewer than 32 threads", current_launch.kernel);
    }
    MmaFragments mine;
    std::memcpy(mine.a, a, sizeof mine.a);
    std::memcpy(mine.b, b, sizeof mine.b);
    unsigned char* slots = warp_exchange();
    std::memcpy(slots + 64 * lane, &mine, sizeof mine);
    sync_warp();
    MmaFragments all[32];
    for (int l = 0; l < 32; l++) std::memcpy(&all[l], slots + 64 * l, sizeof(MmaFragments));
    int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; q++) {
        int row = g + 8 * (q >> 1), col = 2 * t + (q & 1);
        double sum = 0;
        for (int k = 0; k < depth; k++) sum += (double)element_of_a(all, row, k) * element_of_b(all, k, col);
        d[q] = (float)(d[q] + sum);
    }
}

}  // namespace

uint32_t tf32_round(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf and NaN unchanged
    return (u + 0x1000u) & 0xffffe000u;              // to nearest, ties away from zero (cvt.rna)
}

// m16n8k8, one tf32 per register. A's element (row, k) is in lane 4 (row % 8) + k % 4, register
// (row / 8) + 2 (k / 4); B's (k, col) in lane 4 col + k % 4, register k / 4.
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma(
        d, a, b, 8,
        [](const MmaFragments* all, int row, int k) {
            return tf32_value(all[4 * (row % 8) + k % 4].a[row / 8 + 2 * (k / 4)]);
        },
        [](const MmaFragments* all, int k, int col) { return tf32_value(all[4 * col + k % 4].b[k / 4]); });
}

// m16n8k16, two bf16 per register (the lower k in the low half). A's element (row, k) is in lane
// 4 (row % 8) + (k % 8) / 2, register (row / 8) + 2 (k / 8); B's (k, col) in lane 4 col + (k % 8) / 2,
// register k / 8.
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma(
        d, a, b, 16,
        [](const MmaFragments* all, int row, int k) {
            return bf16_value(all[4 * (row % 8) + (k % 8) / 2].a[row / 8 + 2 * (k / 8)], k % 2);
        },
        [](const MmaFragments* all, int k, int col) {
            return bf16_value(all[4 * col + (k % 8) / 2].b[k / 8], k % 2);
        });
}

}  // namespace ladon_emu
