// NEON kernels of the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and of IQ4_XS against Q8_K
// activations (super-blocks of 256), built twice: namespace neon (ARMv8-A, DotI8 = smull +
// sadalp) and neondot (ARMv8.2 sdot). Same integer sums as the references in
// kernels/ref/quants_{k23,k456}.cc, exact in int32; the float scaling differs from the
// reference only in summation order (one float term per block and lane, lanes added last).
//
// Every type is an "unpacker" T: T::Unpack turns one weight super-block into 16 int8x16
// registers (sub-block order = activation order, so register i pairs with activation bytes
// 16 i .. 16 i + 15) plus its scales; T::IntSums forms the exact int32x4 sums of those
// registers against NT Q8_K blocks (sub-block by sub-block, tokens innermost, so each weight
// register serves every token while it is live) and T::Finish scales them into the token's
// float accumulator. MatMul (prefill) unpacks each weight block once for up to 4 tokens (2 on
// the plain set); VecDot and decode are the 1-token case of the same loop.
//
// Decode inner loop, per super-block and row (everything inlined into one loop body, no stack
// traffic):
//   - loads the block's bytes once (84 .. 210 bytes: 4 .. 14 q-register loads) and the 256
//     activation bytes (16 loads) plus, for Q2_K/Q4_K/Q5_K, the 32 bytes of bsums;
//   - unpacks with and/shift/or (Q3_K, Q5_K, Q6_K add the high bits; IQ4_XS maps nibbles
//     through its 16 levels with one tbl each), 16 int8x16 weight registers in all;
//   - 16 DotI8 (16 sdot, or 32 smull/smull2 + 32 sadalp without the dot product), each
//     sub-block's int32x4 sum multiplied by its scale with one mla by lane (Q2_K instead
//     multiplies its 4-bit scales into the weights while unpacking: |q * sc| <= 45 fits int8,
//     so its 16 products go into one accumulator);
//   - mins (Q2_K, Q4_K, Q5_K): 2 .. 4 smull/smlal of the bsums by the mins;
//   - one int -> float conversion and one or two fmla into a float32x4 accumulator per row,
//     added across lanes once at the end of the row.
// No heap, no static mutable state; rows and activations may sit at any byte address (every
// multi-byte field is read with vld1 on bytes or memcpy).
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/arm/arm.h"
#include "kernels/arm/neon_util.h"
#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/dispatch.h"

namespace ondo::kernels::ONDO_ARM_NS {
namespace {

using Byte = unsigned char;

// The unpackers' functions are inlined into the row loop, so the 16 weight registers never go
// through memory.
#define ONDO_K_INLINE inline __attribute__((always_inline))
#define ONDO_K_LAMBDA_INLINE __attribute__((always_inline))

// f(integral_constant<int, 0>) ... f(integral_constant<int, N - 1>): compile-time indices for
// lane and shift immediates.
template <int N, class F>
ONDO_K_INLINE void Unroll(F&& f) {
  [&]<int... J>(std::integer_sequence<int, J...>) ONDO_K_LAMBDA_INLINE {
    (f(std::integral_constant<int, J>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

inline float LoadF32(const Byte* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline int8x16_t LoadS8(const Byte* p) { return vld1q_s8(reinterpret_cast<const int8_t*>(p)); }
inline int16x8_t LoadS16(const Byte* p) { return vreinterpretq_s16_u8(vld1q_u8(p)); }
inline int8x16_t AsS8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// 8 unsigned bytes -> int32 lanes 0..3 and 4..7.
inline void WidenU8x8(uint8x8_t v, int32x4_t out[2]) {
  const uint16x8_t w = vmovl_u8(v);
  out[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
  out[1] = vreinterpretq_s32_u32(vmovl_high_u16(w));
}
// 16 signed bytes -> int32 lanes 0..3, 4..7, 8..11, 12..15.
inline void WidenS8x16(int8x16_t v, int32x4_t out[4]) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(v));
  const int16x8_t hi = vmovl_high_s8(v);
  out[0] = vmovl_s16(vget_low_s16(lo));
  out[1] = vmovl_high_s16(lo);
  out[2] = vmovl_s16(vget_low_s16(hi));
  out[3] = vmovl_high_s16(hi);
}

// Bit B of every byte of v moved to bit T (other bits cleared).
template <int B, int T>
inline uint8x16_t MoveBit(uint8x16_t v) {
  uint8x16_t s;
  if constexpr (B < T) {
    s = vshlq_n_u8(v, T - B);
  } else if constexpr (B > T) {
    s = vshrq_n_u8(v, B - T);
  } else {
    s = v;
  }
  return vandq_u8(s, vdupq_n_u8(static_cast<uint8_t>(1u << T)));
}

// Bits 2S, 2S + 1 of every byte.
template <int S>
inline uint8x16_t Crumb(uint8x16_t v) {
  if constexpr (S == 0) {
    return vandq_u8(v, vdupq_n_u8(3));
  } else if constexpr (S == 3) {
    return vshrq_n_u8(v, 6);
  } else {
    return vandq_u8(vshrq_n_u8(v, 2 * S), vdupq_n_u8(3));
  }
}

// Integer sums of one unpacked super-block against NT activation blocks (xq[t]: the 256 quants
// of token t), sub-block by sub-block with the tokens innermost: each weight register is used
// for every token while it is live.
//
// Sixteen sub-blocks of 16 (Q3_K, Q6_K): isum[t] += sc_j * (w_j . x_j), the scale in lane j % 4
// of sc[j / 4].
template <int NT>
ONDO_K_INLINE void ScaledDot16(const int8x16_t* w, const int32x4_t* sc, const Byte* const* xq,
                               int32x4_t* isum) {
  for (int t = 0; t < NT; ++t) isum[t] = vdupq_n_s32(0);
  Unroll<16>([&](auto jc) ONDO_K_LAMBDA_INLINE {
    constexpr int j = decltype(jc)::value;
    Unroll<NT>([&](auto tc) ONDO_K_LAMBDA_INLINE {
      constexpr int t = decltype(tc)::value;
      const int32x4_t p = DotI8(vdupq_n_s32(0), w[j], LoadS8(xq[t] + 16 * j));
      isum[t] = vmlaq_laneq_s32(isum[t], p, sc[j / 4], j % 4);
    });
  });
}
// Eight sub-blocks of 32 (Q4_K, Q5_K, IQ4_XS): registers 2j and 2j + 1, scale in lane j % 4 of
// sc[j / 4].
template <int NT>
ONDO_K_INLINE void ScaledDot8(const int8x16_t* w, const int32x4_t* sc, const Byte* const* xq,
                              int32x4_t* isum) {
  for (int t = 0; t < NT; ++t) isum[t] = vdupq_n_s32(0);
  Unroll<8>([&](auto jc) ONDO_K_LAMBDA_INLINE {
    constexpr int j = decltype(jc)::value;
    Unroll<NT>([&](auto tc) ONDO_K_LAMBDA_INLINE {
      constexpr int t = decltype(tc)::value;
      int32x4_t p = DotI8(vdupq_n_s32(0), w[2 * j], LoadS8(xq[t] + 32 * j));
      p = DotI8(p, w[2 * j + 1], LoadS8(xq[t] + 32 * j + 16));
      isum[t] = vmlaq_laneq_s32(isum[t], p, sc[j / 4], j % 4);
    });
  });
}
// Scales already in the weights (Q2_K): one accumulator per token.
template <int NT>
ONDO_K_INLINE void PlainDot16(const int8x16_t* w, const Byte* const* xq, int32x4_t* isum) {
  for (int t = 0; t < NT; ++t) isum[t] = vdupq_n_s32(0);
  Unroll<16>([&](auto jc) ONDO_K_LAMBDA_INLINE {
    constexpr int j = decltype(jc)::value;
    Unroll<NT>([&](auto tc) ONDO_K_LAMBDA_INLINE {
      constexpr int t = decltype(tc)::value;
      isum[t] = DotI8(isum[t], w[j], LoadS8(xq[t] + 16 * j));
    });
  });
}

// --- Q2_K: x ~= d * sc_j * q - dmin * m_j over 16 sub-blocks of 16, q in 0..3 ----------------
// Value 128 h + 32 s + l is bits 2s of qs[32 h + l]: register 8 h + 2 s + (l >= 16). The 4-bit
// scale is multiplied into the weights (q * sc <= 45 fits int8; products with any int8
// activation fit int16 on the plain path), so every sub-block adds into one accumulator.
struct Q2K {
  static constexpr size_t kBytes = sizeof(block_q2_K);
  struct Unpacked {
    int8x16_t q[16];
    int16x8_t mins[2];  // m_j, j = 0..7 and 8..15
    float d, dmin;
  };
  ONDO_K_INLINE static void Unpack(const Byte* b, Unpacked& u) {
    const uint8x16_t sc8 = vld1q_u8(b + offsetof(block_q2_K, scales));
    const uint8x16_t sc = vandq_u8(sc8, vdupq_n_u8(0x0F));
    const uint8x16_t mn = vshrq_n_u8(sc8, 4);
    u.mins[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn)));
    u.mins[1] = vreinterpretq_s16_u16(vmovl_high_u8(mn));
    u.d = LoadHalf(b + offsetof(block_q2_K, d));
    u.dmin = LoadHalf(b + offsetof(block_q2_K, dmin));
    const Byte* qs = b + offsetof(block_q2_K, qs);
    Unroll<2>([&](auto hc) ONDO_K_LAMBDA_INLINE {
      constexpr int h = decltype(hc)::value;
      const uint8x16_t v0 = vld1q_u8(qs + 32 * h);
      const uint8x16_t v1 = vld1q_u8(qs + 32 * h + 16);
      Unroll<4>([&](auto sc_) ONDO_K_LAMBDA_INLINE {
        constexpr int s = decltype(sc_)::value;
        constexpr int j = 8 * h + 2 * s;
        u.q[j] = AsS8(vmulq_u8(Crumb<s>(v0), vdupq_laneq_u8(sc, j)));
        u.q[j + 1] = AsS8(vmulq_u8(Crumb<s>(v1), vdupq_laneq_u8(sc, j + 1)));
      });
    });
  }
  template <int NT>
  ONDO_K_INLINE static void IntSums(const Unpacked& u, const Byte* const* xq, int32x4_t* isum) {
    PlainDot16<NT>(u.q, xq, isum);
  }
  ONDO_K_INLINE static void Finish(const Unpacked& u, const Byte* xb, int32x4_t isum,
                                   float32x4_t& acc) {
    const float dy = LoadF32(xb);
    const int16x8_t b0 = LoadS16(xb + kQ8KBsums);
    const int16x8_t b1 = LoadS16(xb + kQ8KBsums + 16);
    int32x4_t mins = vmull_s16(vget_low_s16(b0), vget_low_s16(u.mins[0]));
    mins = vmlal_high_s16(mins, b0, u.mins[0]);
    mins = vmlal_s16(mins, vget_low_s16(b1), vget_low_s16(u.mins[1]));
    mins = vmlal_high_s16(mins, b1, u.mins[1]);
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), dy * u.d);
    acc = vfmsq_f32(acc, vcvtq_f32_s32(mins), vdupq_n_f32(dy * u.dmin));
  }
};

// --- Q3_K: x ~= d * (sc_j - 32) * q over 16 sub-blocks of 16, q in -4..3 --------------------
// Value 128 h + 32 s + l: bits 2s of qs[32 h + l], minus 4 unless bit 4 h + s of hmask[l].
struct Q3K {
  static constexpr size_t kBytes = sizeof(block_q3_K);
  struct Unpacked {
    int8x16_t q[16];
    int32x4_t sc[4];  // sc_j - 32
    float d;
  };
  ONDO_K_INLINE static void Unpack(const Byte* b, Unpacked& u) {
    // The 16 6-bit scales from their 12 packed bytes (ggml's kmask1/kmask2 unpacking).
    uint64_t a01;
    uint32_t tmp;
    std::memcpy(&a01, b + offsetof(block_q3_K, scales), 8);
    std::memcpy(&tmp, b + offsetof(block_q3_K, scales) + 8, 4);
    const uint32_t a0 = static_cast<uint32_t>(a01), a1 = static_cast<uint32_t>(a01 >> 32);
    const uint32_t s0 = (a0 & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
    const uint32_t s1 = (a1 & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
    const uint32_t s2 = ((a0 >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
    const uint32_t s3 = ((a1 >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
    const uint64_t lo = s0 | (static_cast<uint64_t>(s1) << 32);
    const uint64_t hi = s2 | (static_cast<uint64_t>(s3) << 32);
    const int8x16_t sc = vsubq_s8(
        vreinterpretq_s8_u64(vcombine_u64(vcreate_u64(lo), vcreate_u64(hi))), vdupq_n_s8(32));
    WidenS8x16(sc, u.sc);
    u.d = LoadHalf(b + offsetof(block_q3_K, d));
    const uint8x16_t hm0 = vld1q_u8(b + offsetof(block_q3_K, hmask));
    const uint8x16_t hm1 = vld1q_u8(b + offsetof(block_q3_K, hmask) + 16);
    const Byte* qs = b + offsetof(block_q3_K, qs);
    const int8x16_t four = vdupq_n_s8(4);
    Unroll<2>([&](auto hc) ONDO_K_LAMBDA_INLINE {
      constexpr int h = decltype(hc)::value;
      const uint8x16_t v0 = vld1q_u8(qs + 32 * h);
      const uint8x16_t v1 = vld1q_u8(qs + 32 * h + 16);
      Unroll<4>([&](auto sc_) ONDO_K_LAMBDA_INLINE {
        constexpr int s = decltype(sc_)::value;
        constexpr int j = 8 * h + 2 * s;
        u.q[j] = vsubq_s8(AsS8(vorrq_u8(Crumb<s>(v0), MoveBit<4 * h + s, 2>(hm0))), four);
        u.q[j + 1] = vsubq_s8(AsS8(vorrq_u8(Crumb<s>(v1), MoveBit<4 * h + s, 2>(hm1))), four);
      });
    });
  }
  template <int NT>
  ONDO_K_INLINE static void IntSums(const Unpacked& u, const Byte* const* xq, int32x4_t* isum) {
    ScaledDot16<NT>(u.q, u.sc, xq, isum);
  }
  ONDO_K_INLINE static void Finish(const Unpacked& u, const Byte* xb, int32x4_t isum,
                                   float32x4_t& acc) {
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), u.d * LoadF32(xb));
  }
};

// --- Q4_K and Q5_K: x ~= d * sc_j * q - dmin * m_j over 8 sub-blocks of 32 ----------------------
// Sub-block j: low (j even) or high (j odd) nibbles of qs[32 (j / 2) ..], registers 2j, 2j + 1;
// Q5_K adds 16 where bit j of qh[l] is set.
template <bool kQ5>
struct Q45K {
  static constexpr size_t kBytes = kQ5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
  static constexpr size_t kQs = kQ5 ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
  struct Unpacked {
    int8x16_t q[16];
    int32x4_t sc[2];  // scales 0..3, 4..7
    int16x8_t mins;   // mins 0..7
    float d, dmin;
  };
  ONDO_K_INLINE static void Unpack(const Byte* b, Unpacked& u) {
    u.d = LoadHalf(b);
    u.dmin = LoadHalf(b + 2);
    // ggml get_scale_min_k4 for all 8 at once (kmask1 = 0x3f.., kmask2 = 0x0f.., kmask3 = 0x03..).
    uint64_t a01;
    uint32_t a2;
    std::memcpy(&a01, b + 4, 8);
    std::memcpy(&a2, b + 12, 4);
    const uint32_t a0 = static_cast<uint32_t>(a01), a1 = static_cast<uint32_t>(a01 >> 32);
    const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | (((a0 >> 6) & 0x03030303u) << 4);
    const uint32_t mn_lo = a1 & 0x3f3f3f3fu;
    const uint32_t mn_hi = ((a2 >> 4) & 0x0f0f0f0fu) | (((a1 >> 6) & 0x03030303u) << 4);
    WidenU8x8(vcreate_u8(sc_lo | (static_cast<uint64_t>(sc_hi) << 32)), u.sc);
    u.mins =
        vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mn_lo | (static_cast<uint64_t>(mn_hi) << 32))));
    const Byte* qs = b + kQs;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if constexpr (kQ5) {
      h0 = vld1q_u8(b + offsetof(block_q5_K, qh));
      h1 = vld1q_u8(b + offsetof(block_q5_K, qh) + 16);
    }
    Unroll<4>([&](auto cc) ONDO_K_LAMBDA_INLINE {
      constexpr int c = decltype(cc)::value;
      const uint8x16_t v0 = vld1q_u8(qs + 32 * c);
      const uint8x16_t v1 = vld1q_u8(qs + 32 * c + 16);
      uint8x16_t l0 = vandq_u8(v0, m4), l1 = vandq_u8(v1, m4);
      uint8x16_t g0 = vshrq_n_u8(v0, 4), g1 = vshrq_n_u8(v1, 4);
      if constexpr (kQ5) {
        l0 = vorrq_u8(l0, MoveBit<2 * c, 4>(h0));
        l1 = vorrq_u8(l1, MoveBit<2 * c, 4>(h1));
        g0 = vorrq_u8(g0, MoveBit<2 * c + 1, 4>(h0));
        g1 = vorrq_u8(g1, MoveBit<2 * c + 1, 4>(h1));
      }
      u.q[4 * c + 0] = AsS8(l0);
      u.q[4 * c + 1] = AsS8(l1);
      u.q[4 * c + 2] = AsS8(g0);
      u.q[4 * c + 3] = AsS8(g1);
    });
  }
  template <int NT>
  ONDO_K_INLINE static void IntSums(const Unpacked& u, const Byte* const* xq, int32x4_t* isum) {
    ScaledDot8<NT>(u.q, u.sc, xq, isum);
  }
  ONDO_K_INLINE static void Finish(const Unpacked& u, const Byte* xb, int32x4_t isum,
                                   float32x4_t& acc) {
    const float dy = LoadF32(xb);
    // Pair sums of the bsums (sub-block j of 32 = bsums 2j, 2j + 1; |pair| <= 4096) by the mins.
    const int16x8_t pairs = vpaddq_s16(LoadS16(xb + kQ8KBsums), LoadS16(xb + kQ8KBsums + 16));
    int32x4_t mins = vmull_s16(vget_low_s16(pairs), vget_low_s16(u.mins));
    mins = vmlal_high_s16(mins, pairs, u.mins);
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), u.d * dy);
    acc = vfmsq_f32(acc, vcvtq_f32_s32(mins), vdupq_n_f32(u.dmin * dy));
  }
};

// --- Q6_K: x ~= d * sc_j * (q - 32) over 16 sub-blocks of 16, q in 0..63 ------------------------
// Value 128 h + 32 m + l: low nibble (m = 0, 1) or high nibble (m = 2, 3) of
// ql[64 h + 32 (m % 2) + l], bits 2m of qh[32 h + l] as bits 4, 5: register 8 h + 2 m + (l >= 16).
struct Q6K {
  static constexpr size_t kBytes = sizeof(block_q6_K);
  struct Unpacked {
    int8x16_t q[16];  // q - 32
    int32x4_t sc[4];
    float d;
  };
  ONDO_K_INLINE static void Unpack(const Byte* b, Unpacked& u) {
    WidenS8x16(LoadS8(b + offsetof(block_q6_K, scales)), u.sc);
    u.d = LoadHalf(b + offsetof(block_q6_K, d));
    const Byte* ql = b + offsetof(block_q6_K, ql);
    const Byte* qh = b + offsetof(block_q6_K, qh);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const uint8x16_t m30 = vdupq_n_u8(0x30);
    const int8x16_t k32 = vdupq_n_s8(32);
    Unroll<2>([&](auto hc) ONDO_K_LAMBDA_INLINE {
      constexpr int h = decltype(hc)::value;
      uint8x16_t l[4];
      for (int i = 0; i < 4; ++i) l[i] = vld1q_u8(ql + 64 * h + 16 * i);
      const uint8x16_t hb[2] = {vld1q_u8(qh + 32 * h), vld1q_u8(qh + 32 * h + 16)};
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t q0 = vorrq_u8(vandq_u8(l[i], m4), vandq_u8(vshlq_n_u8(hb[i], 4), m30));
        const uint8x16_t q1 = vorrq_u8(vandq_u8(l[i + 2], m4), vandq_u8(vshlq_n_u8(hb[i], 2), m30));
        const uint8x16_t q2 = vorrq_u8(vshrq_n_u8(l[i], 4), vandq_u8(hb[i], m30));
        const uint8x16_t q3 =
            vorrq_u8(vshrq_n_u8(l[i + 2], 4), vandq_u8(vshrq_n_u8(hb[i], 2), m30));
        u.q[8 * h + 0 + i] = vsubq_s8(AsS8(q0), k32);
        u.q[8 * h + 2 + i] = vsubq_s8(AsS8(q1), k32);
        u.q[8 * h + 4 + i] = vsubq_s8(AsS8(q2), k32);
        u.q[8 * h + 6 + i] = vsubq_s8(AsS8(q3), k32);
      }
    });
  }
  template <int NT>
  ONDO_K_INLINE static void IntSums(const Unpacked& u, const Byte* const* xq, int32x4_t* isum) {
    ScaledDot16<NT>(u.q, u.sc, xq, isum);
  }
  ONDO_K_INLINE static void Finish(const Unpacked& u, const Byte* xb, int32x4_t isum,
                                   float32x4_t& acc) {
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), u.d * LoadF32(xb));
  }
};

// --- IQ4_XS: x ~= d * (ls_j - 32) * kIq4nlValues[q] over 8 sub-blocks of 32 ---------------------
// Sub-block j: low nibbles of qs[16 j ..] are its values 0..15 (register 2j), high ones 16..31.
struct IQ4XS {
  static constexpr size_t kBytes = sizeof(block_iq4_xs);
  struct Unpacked {
    int8x16_t q[16];
    int32x4_t sc[2];  // ls_j - 32
    float d;
  };
  ONDO_K_INLINE static void Unpack(const Byte* b, Unpacked& u) {
    u.d = LoadHalf(b);
    uint16_t sh;
    std::memcpy(&sh, b + offsetof(block_iq4_xs, scales_h), 2);
    const Byte* sl = b + offsetof(block_iq4_xs, scales_l);
    // ls_j = nibble j % 2 of scales_l[j / 2] | bits 2j, 2j + 1 of scales_h << 4, all 8 at once.
    uint32_t slw;
    std::memcpy(&slw, sl, 4);
    const uint8x8_t s8 = vcreate_u8(slw);
    const uint8x8_t lo = vzip1_u8(vand_u8(s8, vdup_n_u8(0x0F)), vshr_n_u8(s8, 4));
    const int16x8_t shifts = {0, -2, -4, -6, -8, -10, -12, -14};
    const uint8x8_t hi = vmovn_u16(vandq_u16(vshlq_u16(vdupq_n_u16(sh), shifts), vdupq_n_u16(3)));
    const int16x8_t ls =
        vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vorr_u8(lo, vshl_n_u8(hi, 4)))), vdupq_n_s16(32));
    u.sc[0] = vmovl_s16(vget_low_s16(ls));
    u.sc[1] = vmovl_high_s16(ls);
    const int8x16_t levels = vld1q_s8(kIq4nlValues);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const Byte* qs = b + offsetof(block_iq4_xs, qs);
    for (int j = 0; j < 8; ++j) {
      const uint8x16_t v = vld1q_u8(qs + 16 * j);
      u.q[2 * j] = vqtbl1q_s8(levels, vandq_u8(v, m4));
      u.q[2 * j + 1] = vqtbl1q_s8(levels, vshrq_n_u8(v, 4));
    }
  }
  template <int NT>
  ONDO_K_INLINE static void IntSums(const Unpacked& u, const Byte* const* xq, int32x4_t* isum) {
    ScaledDot8<NT>(u.q, u.sc, xq, isum);
  }
  ONDO_K_INLINE static void Finish(const Unpacked& u, const Byte* xb, int32x4_t isum,
                                   float32x4_t& acc) {
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(isum), u.d * LoadF32(xb));
  }
};

// --- drivers ----------------------------------------------------------------------------------

// One weight row against NT activation rows: each super-block is unpacked once and used for
// every token. Not inlined into MatMul: one register allocation per tile width.
template <class T, int NT>
__attribute__((noinline)) void DotRowTokens(int64_t n, const Byte* w, const Byte* const* x,
                                            float* out) {
  const int64_t nb = n / kQK_K;
  float32x4_t acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
  for (int64_t ib = 0; ib < nb; ++ib) {
    typename T::Unpacked u;
    T::Unpack(w + ib * T::kBytes, u);
    const Byte* xb[NT];
    const Byte* xq[NT];
    for (int t = 0; t < NT; ++t) {
      xb[t] = x[t] + ib * kQ8KBytes;
      xq[t] = xb[t] + kQ8KQs;
    }
    int32x4_t isum[NT];
    T::template IntSums<NT>(u, xq, isum);
    for (int t = 0; t < NT; ++t) T::Finish(u, xb[t], isum[t], acc[t]);
  }
  for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(acc[t]);
}

template <class T>
float VecDotK(int64_t n, const void* w_row, const void* x_vd) {
  const Byte* x = static_cast<const Byte*>(x_vd);
  float out;
  DotRowTokens<T, 1>(n, static_cast<const Byte*>(w_row), &x, &out);
  return out;
}

// Tokens per weight-block unpack. With sdot a tile of 4 tokens keeps the 16 weight registers,
// 4 int32 and 4 float accumulators in the 32 vector registers; the plain path needs two more
// temporaries per product (smull, smull2) and spills at 3 and 4 tokens, so it tiles by 2.
#if defined(__ARM_FEATURE_DOTPROD)
constexpr int kMaxTok = 4;
#else
constexpr int kMaxTok = 2;
#endif

template <class T>
struct KKernel {
  template <int NT>
  static void Run(int64_t n, const Byte* w, const Byte* const* x, float* o) {
    DotRowTokens<T, NT>(n, w, x, o);
  }
};

template <class T>
void MatMulK(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd,
             size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulTokenTiles<KKernel<T>, kMaxTok>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,
                                        y_stride);
}

}  // namespace

void RegisterK(KernelSet* s) {
  auto set = [s](DType t, VecDotFn dot, MatMulFn mm) {
    TypeKernels& k = s->types[static_cast<uint32_t>(t)];
    k.vec_dot = dot;
    k.mat_mul = mm;
  };
  set(DType::kQ2_K, VecDotK<Q2K>, MatMulK<Q2K>);
  set(DType::kQ3_K, VecDotK<Q3K>, MatMulK<Q3K>);
  set(DType::kQ4_K, VecDotK<Q45K<false>>, MatMulK<Q45K<false>>);
  set(DType::kQ5_K, VecDotK<Q45K<true>>, MatMulK<Q45K<true>>);
  set(DType::kQ6_K, VecDotK<Q6K>, MatMulK<Q6K>);
  set(DType::kIQ4_XS, VecDotK<IQ4XS>, MatMulK<IQ4XS>);
}

}  // namespace ondo::kernels::ONDO_ARM_NS
