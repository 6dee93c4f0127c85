// Byte layouts of the blocks (blocks.h) as compile-time constants, for the SIMD kernels, which
// read blocks at any byte address with unaligned loads at these offsets. constexpr only: one
// definition shared by the x86 and ARM kernel files, each of which adds what is particular to
// its instructions (e.g. the offset that makes a weight an unsigned byte).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/blocks.h"

namespace ondo::kernels {

// --- the legacy block-of-32 types against Q8_0 / Q8_1 activations ------------------------

enum class LegacyKind { kQ4_0, kQ4_1, kQ5_0, kQ5_1, kIQ4_NL };

template <LegacyKind K>
struct LegacyLayout {
  static constexpr bool kHasMin = K == LegacyKind::kQ4_1 || K == LegacyKind::kQ5_1;  // d q + m
  static constexpr bool kHasQh = K == LegacyKind::kQ5_0 || K == LegacyKind::kQ5_1;   // 5th bits
  static constexpr size_t kBlockBytes = K == LegacyKind::kQ4_0   ? sizeof(block_q4_0)
                                        : K == LegacyKind::kQ4_1 ? sizeof(block_q4_1)
                                        : K == LegacyKind::kQ5_0 ? sizeof(block_q5_0)
                                        : K == LegacyKind::kQ5_1 ? sizeof(block_q5_1)
                                                                 : sizeof(block_iq4_nl);
  static constexpr size_t kQhOffset = kHasMin ? 4 : 2;
  static constexpr size_t kQsOffset = kQhOffset + (kHasQh ? 4 : 0);
  // The activation block: Q8_1 for the types with a min, else Q8_0.
  static constexpr size_t kXBlockBytes = kHasMin ? sizeof(block_q8_1) : sizeof(block_q8_0);
  static constexpr size_t kXQsOffset = kHasMin ? 4 : 2;
};
static_assert(LegacyLayout<LegacyKind::kQ4_0>::kQsOffset == offsetof(block_q4_0, qs), "Q4_0");
static_assert(LegacyLayout<LegacyKind::kQ4_1>::kQsOffset == offsetof(block_q4_1, qs), "Q4_1");
static_assert(LegacyLayout<LegacyKind::kQ5_0>::kQhOffset == offsetof(block_q5_0, qh) &&
                  LegacyLayout<LegacyKind::kQ5_0>::kQsOffset == offsetof(block_q5_0, qs),
              "Q5_0");
static_assert(LegacyLayout<LegacyKind::kQ5_1>::kQhOffset == offsetof(block_q5_1, qh) &&
                  LegacyLayout<LegacyKind::kQ5_1>::kQsOffset == offsetof(block_q5_1, qs),
              "Q5_1");
static_assert(LegacyLayout<LegacyKind::kIQ4_NL>::kQsOffset == offsetof(block_iq4_nl, qs),
              "IQ4_NL");
static_assert(offsetof(block_q4_1, m) == 2 && offsetof(block_q5_1, m) == 2 &&
                  offsetof(block_q8_1, s) == 2,
              "d and m (s) are adjacent f16 fields: the kernels load them as one pair");
static_assert(offsetof(block_q8_0, qs) == 2 && offsetof(block_q8_1, qs) == 4, "Q8_0 / Q8_1");

// --- Q8_K, the activation type of the K-quants and OQ2 ------------------------------------

inline constexpr size_t kQ8KBytes = sizeof(block_q8_K);  // 292
inline constexpr size_t kQ8KD = offsetof(block_q8_K, d);
inline constexpr size_t kQ8KQs = offsetof(block_q8_K, qs);
inline constexpr size_t kQ8KBsums = offsetof(block_q8_K, bsums);
static_assert(kQ8KBytes == 292 && kQ8KD == 0 && kQ8KQs == 4 && kQ8KBsums == 260, "Q8_K layout");

// --- Q2_K and Q3_K -------------------------------------------------------------------------

inline constexpr size_t kQ2Bytes = sizeof(block_q2_K);  // 84
inline constexpr size_t kQ2Scales = offsetof(block_q2_K, scales);
inline constexpr size_t kQ2Qs = offsetof(block_q2_K, qs);
inline constexpr size_t kQ2D = offsetof(block_q2_K, d);
inline constexpr size_t kQ2Dmin = offsetof(block_q2_K, dmin);
static_assert(kQ2Bytes == 84 && kQ2Scales == 0 && kQ2Qs == 16 && kQ2D == 80 && kQ2Dmin == 82,
              "Q2_K layout");

inline constexpr size_t kQ3Bytes = sizeof(block_q3_K);  // 110
inline constexpr size_t kQ3Hmask = offsetof(block_q3_K, hmask);
inline constexpr size_t kQ3Qs = offsetof(block_q3_K, qs);
inline constexpr size_t kQ3Scales = offsetof(block_q3_K, scales);
inline constexpr size_t kQ3D = offsetof(block_q3_K, d);
static_assert(kQ3Bytes == 110 && kQ3Hmask == 0 && kQ3Qs == 32 && kQ3Scales == 96 && kQ3D == 108,
              "Q3_K layout");

// --- OQ2 -----------------------------------------------------------------------------------

inline constexpr size_t kOq2Bytes = sizeof(block_oq2);  // 72
inline constexpr size_t kOq2D = offsetof(block_oq2, d);
inline constexpr size_t kOq2Grids = offsetof(block_oq2, grids);
inline constexpr size_t kOq2Scales = offsetof(block_oq2, scales);
inline constexpr size_t kOq2Qs = offsetof(block_oq2, qs);
static_assert(kOq2Bytes == 72 && kOq2D == 0 && kOq2Grids == 2 && kOq2Scales == 4 && kOq2Qs == 8,
              "OQ2 layout as blocks.h documents it: d, grids, scales, qs packed in that order");
static_assert(kOq2SubBlock == 32 && kQK_K == 256, "8 sub-blocks of 32 per super-block");

}  // namespace ondo::kernels
