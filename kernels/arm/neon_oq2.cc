// NEON kernels of OQ2, ondo's 2-bit type (layout in blocks.h), against Q8_K activations.
//
// The levels kOq2Grid lie in [-31, 31], so unlike the x86 kernels (vpmaddubsw needs unsigned
// bytes, hence the +32 offset and the bsums correction) NEON multiplies the signed levels
// directly with the int8 activations: no offset, the Q8_K bsums are never read. Every integer
// sum is exact: sdot sums 4 products in int32; without the dot product, vmull_s8/vmlal_s8 add
// 4 products per int16 lane (|sum| <= 4 * 31 * 128 = 15872 < 2^15) and vpadal widens them.
//
// Decode inner loop, per 256-value super-block of a weight row (72 bytes, each read once):
//  - tables (18 vector ops): the 16-bit grid field, broadcast and shifted per lane, indexes
//    a constant table of all four grids to give R_h (h = 0, 1): bytes 4s..4s+3 = the levels
//    of sub-block 4h + s. One tbl of R_h per sub-block j then gives its 16-byte table T_j:
//    byte i = level[i & 3] for even s (indices at bits 0-1 of a nibble of qs), level[i >> 2]
//    for odd s (bits 2-3);
//  - per 16 bytes of qs (4 loads a block): one and (low nibbles: sub-blocks 4h, 4h+1) and one
//    ushr (high nibbles: 4h+2, 4h+3), then four tbl give the signed levels of 4 x 16 values;
//  - per sub-block of 32: two 16-byte activation loads and two sdot (or 4 vmull/vmlal + one
//    vpadal) into a fresh int32x4;
//  - per half: two levels of vpaddq turn the four sub-block accumulators into one int32x4 of
//    sub-block sums, multiplied (vmul / vmla) by the 4-bit scales (two vmovl, and, ushr);
//  - per block: one int -> float conversion and one fma by d_w * d_x into the f32 lanes.
// So about 16 tbl + 16 sdot + 30 other vector ops per 72 weight bytes; the 8 sub-block chains
// are independent, which an in-order core (A53/A55) needs. llvm-mca 14 on the compiled loops
// (no hardware here): Cortex-A55 about 148 cycles a block with or without sdot, Cortex-A53
// about 200 (so 1.7-1.3 weights a cycle: near the DRAM bandwidth of the 4-core boards).
// Tried and dropped: two rows a pass (spills: 310 cycles for two blocks on the A55 model) and
// building block ib + 1's tables during block ib (GCC does not interleave them: 3%).
//
// Prefill (n_tok > 1): each weight row is taken with up to 4 tokens at once (DotRowTokens<NT>):
// the tables and levels of a block are built once and multiplied with each token's
// activations, so weights are read and unpacked once per 4 tokens (llvm-mca: 4 tokens a block
// in about 442 cycles on the A55 with sdot, 618 on the A53 without).
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/arm/arm.h"
#include "kernels/arm/neon_util.h"
#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/dispatch.h"

namespace ondo::kernels::ONDO_ARM_NS {
namespace {

using Byte = unsigned char;

constexpr bool Oq2LevelsFitI16Sums() {
  for (const auto& g : kOq2Grid) {
    for (int8_t l : g) {
      if (l < -31 || l > 31) return false;
    }
  }
  return true;
}
// 4 * 31 * 128 = 15872: four products of a level and an int8 (even -128) fit an int16 lane.
static_assert(Oq2LevelsFitI16Sums(), "levels must lie in [-31, 31] (int16 sums of 4 products)");

// Constant tables (read-only).
struct Oq2Consts {
  int8_t levels[16];  // byte 4g + q = kOq2Grid[g][q]
  uint8_t sel[16];    // bytes 0..7 <- grid byte 0, 8..15 <- grid byte 1
  int8_t shift0[16];  // R_0: g_s at bits 4 (s % 2) of its byte -> bits 2-3
  int8_t shift1[16];  // R_1: g_{4+s} at bits 4 (s % 2) + 2 -> bits 2-3
  uint8_t pat[16];    // b & 3: the level index within each 4-byte group of R_h
  uint8_t tab[4][16];  // T_j = R_h[tab[s]]: s even: 4s + (i & 3), s odd: 4s + (i >> 2)
};
constexpr Oq2Consts MakeConsts() {
  Oq2Consts c{};
  for (int g = 0; g < 4; ++g) {
    for (int q = 0; q < 4; ++q) c.levels[4 * g + q] = kOq2Grid[g][q];
  }
  for (int b = 0; b < 16; ++b) {
    const int s = b / 4;
    c.sel[b] = static_cast<uint8_t>(b < 8 ? 0 : 1);
    c.shift0[b] = static_cast<int8_t>(s % 2 == 0 ? 2 : -2);
    c.shift1[b] = static_cast<int8_t>(s % 2 == 0 ? 0 : -4);
    c.pat[b] = static_cast<uint8_t>(b & 3);
    for (int t = 0; t < 4; ++t) {
      c.tab[t][b] = static_cast<uint8_t>(4 * t + (t % 2 == 0 ? (b & 3) : (b >> 2)));
    }
  }
  return c;
}
constexpr Oq2Consts kConsts = MakeConsts();

// The constants in registers, loaded once per call (outside the block loop).
struct Regs {
  int8x16_t levels;
  uint8x16_t sel, pat, tab[4], m0c, m0f;
  int8x16_t shift0, shift1;
  Regs() {
    levels = vld1q_s8(kConsts.levels);
    sel = vld1q_u8(kConsts.sel);
    pat = vld1q_u8(kConsts.pat);
    for (int t = 0; t < 4; ++t) tab[t] = vld1q_u8(kConsts.tab[t]);
    m0c = vdupq_n_u8(0x0C);
    m0f = vdupq_n_u8(0x0F);
    shift0 = vld1q_s8(kConsts.shift0);
    shift1 = vld1q_s8(kConsts.shift1);
  }
};

// The sum of the 32 products l[i] * x[i] of one sub-block, in the lanes of an int32x4.
inline int32x4_t Sub32(int8x16_t l0, int8x16_t l1, int8x16_t x0, int8x16_t x1) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), l0, x0), l1, x1);
#else
  int16x8_t p = vmull_s8(vget_low_s8(l0), vget_low_s8(x0));
  p = vmlal_high_s8(p, l0, x0);
  p = vmlal_s8(p, vget_low_s8(l1), vget_low_s8(x1));
  p = vmlal_high_s8(p, l1, x1);
  return vpaddlq_s16(p);
#endif
}

// Block b's grid levels: r[h] bytes 4s .. 4s + 3 = the four levels of sub-block 4h + s.
inline void GridLevels(const Regs& c, const Byte* b, int8x16_t r[2]) {
  uint16_t grids;
  std::memcpy(&grids, b + kOq2Grids, sizeof grids);
  const uint8x16_t gb = vqtbl1q_u8(vreinterpretq_u8_u16(vdupq_n_u16(grids)), c.sel);
  const uint8x16_t i0 = vorrq_u8(vandq_u8(vshlq_u8(gb, c.shift0), c.m0c), c.pat);
  const uint8x16_t i1 = vorrq_u8(vandq_u8(vshlq_u8(gb, c.shift1), c.m0c), c.pat);
  r[0] = vqtbl1q_s8(c.levels, i0);
  r[1] = vqtbl1q_s8(c.levels, i1);
}

// The scales of sub-blocks 0..3 (lo) and 4..7 (hi) as int32 lanes.
inline void Scales(const Byte* b, int32x4_t* lo, int32x4_t* hi) {
  uint32_t sc;
  std::memcpy(&sc, b + kOq2Scales, sizeof sc);
  const uint16x8_t s16 = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(sc)));
  const int32x4_t s32 = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(s16)));
  *lo = vandq_s32(s32, vdupq_n_s32(15));
  *hi = vshrq_n_s32(s32, 4);
}

inline float LoadF32(const Byte* p) {
  float f;
  std::memcpy(&f, p, sizeof f);
  return f;
}

// One weight row against NT activation rows (Q8_K): out[t] = dot.
template <int NT>
void DotRowTokens(int64_t n, const Byte* w, const Byte* const* x, float* out) {
  const Regs c;
  const int64_t nb = n / kQK_K;
  float32x4_t acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Byte* b = w + ib * kOq2Bytes;
    int8x16_t r[2];
    GridLevels(c, b, r);
    int32x4_t sc[2];
    Scales(b, &sc[0], &sc[1]);
    int32x4_t isum[NT];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const uint8x16_t q0 = vld1q_u8(b + kOq2Qs + 32 * h);
      const uint8x16_t q1 = vld1q_u8(b + kOq2Qs + 32 * h + 16);
      const uint8x16_t lo0 = vandq_u8(q0, c.m0f), lo1 = vandq_u8(q1, c.m0f);
      const uint8x16_t hi0 = vshrq_n_u8(q0, 4), hi1 = vshrq_n_u8(q1, 4);
      // The tables of sub-blocks 4h + s (see the top), then the levels of the half.
      int8x16_t tab[4];
      for (int t = 0; t < 4; ++t) tab[t] = vqtbl1q_s8(r[h], c.tab[t]);
      int8x16_t lev[4][2];
      lev[0][0] = vqtbl1q_s8(tab[0], lo0);
      lev[0][1] = vqtbl1q_s8(tab[0], lo1);
      lev[1][0] = vqtbl1q_s8(tab[1], lo0);
      lev[1][1] = vqtbl1q_s8(tab[1], lo1);
      lev[2][0] = vqtbl1q_s8(tab[2], hi0);
      lev[2][1] = vqtbl1q_s8(tab[2], hi1);
      lev[3][0] = vqtbl1q_s8(tab[3], hi0);
      lev[3][1] = vqtbl1q_s8(tab[3], hi1);
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const int8_t* xq =
            reinterpret_cast<const int8_t*>(x[t] + ib * kQ8KBytes + kQ8KQs + 128 * h);
        int32x4_t a[4];
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
          a[s] = Sub32(lev[s][0], lev[s][1], vld1q_s8(xq + 32 * s), vld1q_s8(xq + 32 * s + 16));
        }
        // Lane s: the sum of sub-block 4h + s.
        const int32x4_t sums = vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
        isum[t] = h == 0 ? vmulq_s32(sums, sc[0]) : vmlaq_s32(isum[t], sums, sc[1]);
#if !defined(__ARM_FEATURE_DOTPROD)
        // Without sdot, 3-4 tokens' activations and int16 products hoisted together run out
        // of registers (over 100 spills a block); this keeps one token's loads after the
        // previous token's work (llvm-mca, Cortex-A53: 871 -> 618 cycles a block for 4 tokens).
        if constexpr (NT > 2) asm("" ::: "memory");
#endif
      }
    }
    const float d = LoadHalf(b + kOq2D);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const float dd = d * LoadF32(x[t] + ib * kQ8KBytes + kQ8KD);
      acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum[t]), dd);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(acc[t]);
}

float VecDotOq2(int64_t n, const void* w_row, const void* x_vd) {
  const Byte* x = static_cast<const Byte*>(x_vd);
  float out;
  DotRowTokens<1>(n, static_cast<const Byte*>(w_row), &x, &out);
  return out;
}

struct Oq2Kernel {
  template <int NT>
  static void Run(int64_t n, const Byte* w, const Byte* const* x, float* o) {
    DotRowTokens<NT>(n, w, x, o);
  }
};

// Weights unpacked once per group of 4 tokens.
void MatMulOq2(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulTokenTiles<Oq2Kernel, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace

void RegisterOq2(KernelSet* s) {
  TypeKernels& k = s->types[static_cast<uint32_t>(DType::kOQ2)];
  k.vec_dot = VecDotOq2;
  k.mat_mul = MatMulOq2;
}

}  // namespace ondo::kernels::ONDO_ARM_NS
