// NEON kernels of the legacy block-of-32 weight types Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL
// (against Q8_0 / Q8_1 activations, as the reference kernels/ref/quants_legacy.cc), and the
// Q8_1 activation quantizer (bit-identical to the reference). Built twice (kernels/arm/arm.h):
// namespace neon (ARMv8-A) and neondot (ARMv8.2 sdot); DotI8 picks the integer dot product.
//
// Every block is unpacked to two int8x16 vectors, lo = elements 0..15 and hi = 16..31, holding
// the integer that multiplies the activation quant: Q4_0 q - 8, Q5_0 q - 16, IQ4_NL the level
// (tbl lookup in the 16 levels), Q4_1 / Q5_1 the quant itself (0..31; the min term m_w * s_x
// is accumulated apart, as ggml does). The 5th bits of Q5_0 / Q5_1 are spread to bytes with a
// tbl (byte j takes qh byte j / 8) and a tst against bit j % 8. The block's sum is exact in
// int32 lanes (|sum| <= 32 * 127 * 128): two sdot on neondot; on neon smull + smlal in int16
// lanes (BlockDot: 2 products per lane for IQ4_NL, 4 for the others) widened by saddlp.
//
// Decode (one token, MatMul with n_tok == 1): four weight rows at a time against the token.
// Per block: the token's 32 quants are loaded once (2 x ld1) for the 4 rows; per row, one
// 16-byte load of the nibbles (+ the qh word), and/ushr (+ tbl/tst/bic/sub for the 5th bits,
// sub for the offset, tbl for IQ4_NL), two DotI8 into an int32x4; the four rows' int32x4 are
// folded by three addp into one vector (lane r = row r's block sum), converted once (scvtf),
// and added with one fmla scaled by [d_w(r) * d_x] (the four f16 d_w gathered and widened by
// one fcvtl). So each weight byte is loaded once, and the float work is 3 vector ops per 4
// blocks; the 4 per-row results are the 4 lanes of the accumulator (no horizontal sum).
//
// Prefill (n_tok > 1): tiles of 2 rows x up to 4 tokens, lane t = token t: each weight block is
// unpacked once for the 4 tokens, each activation block loaded once for the 2 rows. Rows are
// taken in chunks of ~64 KiB of weights, every group of 4 tokens passing over one chunk before
// the next: the weights come from DRAM once, each token group's activations stay in L1.
#include <arm_neon.h>

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

inline uint16_t LoadU16(const Byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t LoadU32(const Byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

using Kind = LegacyKind;

// The block layout (block_layout.h), and the offset taken from the stored quant.
template <Kind K>
struct Traits : LegacyLayout<K> {
  static constexpr uint8_t kOffset = K == Kind::kQ4_0 ? 8 : K == Kind::kQ5_0 ? 16 : 0;
};

// The 32 weights of the block at b as the int8 factors of the activation quants: lo holds
// elements 0..15 (low nibbles), hi elements 16..31 (high nibbles).
template <Kind K>
inline void Unpack(const Byte* b, int8x16_t* lo, int8x16_t* hi) {
  using Tr = Traits<K>;
  const uint8x16_t q = vld1q_u8(b + Tr::kQsOffset);
  uint8x16_t l = vandq_u8(q, vdupq_n_u8(0x0f));
  uint8x16_t h = vshrq_n_u8(q, 4);
  if constexpr (K == Kind::kIQ4_NL) {
    const int8x16_t levels = vld1q_s8(kIq4nlValues);
    *lo = vqtbl1q_s8(levels, l);
    *hi = vqtbl1q_s8(levels, h);
    return;
  } else {
    if constexpr (Tr::kHasQh) {
      // Byte j of lo wants bit j of qh (qh byte j / 8, bit j % 8), byte j of hi bit 16 + j.
      const uint8x16_t qh = vreinterpretq_u8_u32(vdupq_n_u32(LoadU32(b + Tr::kQhOffset)));
      const uint8x16_t idx_lo = vcombine_u8(vdup_n_u8(0), vdup_n_u8(1));
      const uint8x16_t idx_hi = vcombine_u8(vdup_n_u8(2), vdup_n_u8(3));
      const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
      const uint8x16_t set_lo = vtstq_u8(vqtbl1q_u8(qh, idx_lo), bit);  // 0xff: bit set
      const uint8x16_t set_hi = vtstq_u8(vqtbl1q_u8(qh, idx_hi), bit);
      const uint8x16_t b5 = vdupq_n_u8(0x10);
      if constexpr (Tr::kHasMin) {  // q | 16 h
        l = vorrq_u8(l, vandq_u8(set_lo, b5));
        h = vorrq_u8(h, vandq_u8(set_hi, b5));
      } else {  // (q | 16 h) - 16 = q - 16 (1 - h), wrapping to the signed value
        l = vsubq_u8(l, vbicq_u8(b5, set_lo));
        h = vsubq_u8(h, vbicq_u8(b5, set_hi));
      }
    } else if constexpr (Tr::kOffset != 0) {
      l = vsubq_u8(l, vdupq_n_u8(Tr::kOffset));
      h = vsubq_u8(h, vdupq_n_u8(Tr::kOffset));
    }
    *lo = vreinterpretq_s8_u8(l);
    *hi = vreinterpretq_s8_u8(h);
  }
}

inline int8x16_t LoadS8x16(const Byte* p) { return vld1q_s8(reinterpret_cast<const int8_t*>(p)); }

// The exact integer sum of one block (in the 4 lanes). Without sdot, products are summed in
// int16 before widening: |w| <= 127 and |x| <= 128 bound two products by 32512; the 4-bit and
// 5-bit types (|w| <= 31) allow four, 4 * 31 * 128 = 15872.
template <Kind K>
inline int32x4_t BlockDot(int8x16_t wlo, int8x16_t whi, int8x16_t xlo, int8x16_t xhi) {
#if defined(__ARM_FEATURE_DOTPROD)
  return DotI8(DotI8(vdupq_n_s32(0), wlo, xlo), whi, xhi);
#else
  int16x8_t a = vmull_s8(vget_low_s8(wlo), vget_low_s8(xlo));
  a = vmlal_s8(a, vget_low_s8(whi), vget_low_s8(xhi));
  if constexpr (K == Kind::kIQ4_NL) {
    int16x8_t b = vmull_high_s8(wlo, xlo);
    b = vmlal_high_s8(b, whi, xhi);
    return vpadalq_s16(vpaddlq_s16(a), b);
  } else {
    a = vmlal_high_s8(a, wlo, xlo);
    a = vmlal_high_s8(a, whi, xhi);
    return vpaddlq_s16(a);
  }
#endif
}

// Lane i = the sum of the lanes of p[i].
inline int32x4_t Fold4(const int32x4_t (&p)[4]) {
  return vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));
}

constexpr int kLanes = 4;

// The f16 fields at p[i] + off (i < N) as f32 lanes; lanes N.. are 0.
template <int N>
inline float32x4_t LoadHalves(const Byte* const (&p)[kLanes], size_t off) {
  uint16x4_t v = vdup_n_u16(0);
  if constexpr (N > 0) v = vset_lane_u16(LoadU16(p[0] + off), v, 0);
  if constexpr (N > 1) v = vset_lane_u16(LoadU16(p[1] + off), v, 1);
  if constexpr (N > 2) v = vset_lane_u16(LoadU16(p[2] + off), v, 2);
  if constexpr (N > 3) v = vset_lane_u16(LoadU16(p[3] + off), v, 3);
  return vcvt_f32_f16(vreinterpret_f16_u16(v));
}

// One row against one token (VecDot).
template <Kind K>
float DotOne(int64_t nb, const Byte* w, const Byte* x) {
  using Tr = Traits<K>;
  float32x4_t acc = vdupq_n_f32(0.0f);
  float summ = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Byte* wb = w + ib * Tr::kBlockBytes;
    const Byte* xb = x + ib * Tr::kXBlockBytes;
    int8x16_t lo, hi;
    Unpack<K>(wb, &lo, &hi);
    const int32x4_t p = BlockDot<K>(lo, hi, LoadS8x16(xb + Tr::kXQsOffset),
                                 LoadS8x16(xb + Tr::kXQsOffset + 16));
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), LoadHalf(wb) * LoadHalf(xb));
    if constexpr (Tr::kHasMin) summ += LoadHalf(wb + 2) * LoadHalf(xb + 2);
  }
  return vaddvq_f32(acc) + summ;
}

// Decode: NR (1..4) rows against one token; lane r of the accumulator is row r.
template <Kind K, int NR>
void RowsTile(int64_t nb, const Byte* w, size_t wrb, const Byte* x, float* y) {
  using Tr = Traits<K>;
  float32x4_t acc = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
  const Byte* wb[kLanes] = {w, w, w, w};
  for (int r = 0; r < NR; ++r) wb[r] = w + r * wrb;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Byte* xb = x + ib * Tr::kXBlockBytes;
    const int8x16_t xlo = LoadS8x16(xb + Tr::kXQsOffset);
    const int8x16_t xhi = LoadS8x16(xb + Tr::kXQsOffset + 16);
    int32x4_t p[kLanes];
    #pragma GCC unroll 4
    for (int r = 0; r < kLanes; ++r) {
      if (r < NR) {
        int8x16_t lo, hi;
        Unpack<K>(wb[r], &lo, &hi);
        p[r] = BlockDot<K>(lo, hi, xlo, xhi);
      } else {
        p[r] = vdupq_n_s32(0);
      }
    }
    const float32x4_t dw = LoadHalves<NR>(wb, 0);
    acc = vfmaq_f32(acc, vcvtq_f32_s32(Fold4(p)), vmulq_n_f32(dw, LoadHalf(xb)));
    if constexpr (Tr::kHasMin) accm = vfmaq_n_f32(accm, LoadHalves<NR>(wb, 2), LoadHalf(xb + 2));
    #pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) wb[r] += Tr::kBlockBytes;
  }
  if constexpr (Tr::kHasMin) acc = vaddq_f32(acc, accm);
  float out[kLanes];
  vst1q_f32(out, acc);
  for (int r = 0; r < NR; ++r) y[r] = out[r];
}

// RowsTile as a tile of DecodeRows (neon_util.h).
template <Kind K>
struct RowsTiles {
  int64_t nb;
  template <int NR>
  void Run(const Byte* w, size_t wrb, const Byte* x, float* y) const {
    RowsTile<K, NR>(nb, w, wrb, x, y);
  }
};

// Prefill: NR (1..2) rows against NT (1..4) tokens; lane t of row r's accumulator is token t.
template <Kind K, int NR, int NT>
void TokensTile(int64_t nb, const Byte* w, size_t wrb, const Byte* const (&xs)[kLanes], float* y,
                int64_t ys) {
  using Tr = Traits<K>;
  float32x4_t acc[NR], accm[NR];
  for (int r = 0; r < NR; ++r) acc[r] = accm[r] = vdupq_n_f32(0.0f);
  const Byte* xb[kLanes] = {xs[0], xs[0], xs[0], xs[0]};
  for (int t = 0; t < NT; ++t) xb[t] = xs[t];
  for (int64_t ib = 0; ib < nb; ++ib) {
    int8x16_t xlo[NT], xhi[NT];
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      xlo[t] = LoadS8x16(xb[t] + Tr::kXQsOffset);
      xhi[t] = LoadS8x16(xb[t] + Tr::kXQsOffset + 16);
    }
    const float32x4_t dx = LoadHalves<NT>(xb, 0);
    float32x4_t sx = dx;
    if constexpr (Tr::kHasMin) sx = LoadHalves<NT>(xb, 2);
    #pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      const Byte* wb = w + r * wrb + ib * Tr::kBlockBytes;
      int8x16_t lo, hi;
      Unpack<K>(wb, &lo, &hi);
      int32x4_t p[kLanes];
      #pragma GCC unroll 4
      for (int t = 0; t < kLanes; ++t) {
        p[t] = t < NT ? BlockDot<K>(lo, hi, xlo[t < NT ? t : 0], xhi[t < NT ? t : 0])
                      : vdupq_n_s32(0);
      }
      acc[r] = vfmaq_f32(acc[r], vcvtq_f32_s32(Fold4(p)), vmulq_n_f32(dx, LoadHalf(wb)));
      if constexpr (Tr::kHasMin) accm[r] = vfmaq_n_f32(accm[r], sx, LoadHalf(wb + 2));
    }
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) xb[t] += Tr::kXBlockBytes;
  }
  for (int r = 0; r < NR; ++r) {
    float out[kLanes];
    vst1q_f32(out, Tr::kHasMin ? vaddq_f32(acc[r], accm[r]) : acc[r]);
    for (int t = 0; t < NT; ++t) y[t * ys + r] = out[t];
  }
}

// Rows [r0, r1) of a chunk against NT tokens, two rows at a time.
template <Kind K, int NT>
void TokensRows(int64_t nb, const Byte* w, size_t wrb, int64_t r0, int64_t r1,
                const Byte* const (&xs)[kLanes], float* y, int64_t ys) {
  int64_t r = r0;
  for (; r + 2 <= r1; r += 2) {
    TokensTile<K, 2, NT>(nb, w + static_cast<size_t>(r) * wrb, wrb, xs, y + r, ys);
  }
  if (r < r1) TokensTile<K, 1, NT>(nb, w + static_cast<size_t>(r) * wrb, wrb, xs, y + r, ys);
}

// Weights of the rows that every group of 4 tokens passes over before the next rows (prefill).
constexpr size_t kChunkBytes = 64 * 1024;

template <Kind K>
void MatMulLegacy(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (r1 <= r0 || n_tok <= 0) return;
  const Byte* wb = static_cast<const Byte*>(w);
  const Byte* xb = static_cast<const Byte*>(x_vd);
  const int64_t nb = k / kQK4_0;
  if (n_tok == 1) {
    DecodeRows(RowsTiles<K>{nb}, wb, w_row_bytes, r0, r1, xb, y);
    return;
  }
  int64_t chunk = static_cast<int64_t>(kChunkBytes / (w_row_bytes > 0 ? w_row_bytes : 1));
  chunk = chunk < 2 ? 2 : chunk & ~int64_t{1};
  for (int64_t rc = r0; rc < r1; rc += chunk) {
    const int64_t rce = r1 - rc < chunk ? r1 : rc + chunk;
    for (int t0 = 0; t0 < n_tok; t0 += kLanes) {
      const int nt = n_tok - t0 < kLanes ? n_tok - t0 : kLanes;
      const Byte* xs[kLanes] = {};
      for (int t = 0; t < nt; ++t) xs[t] = xb + static_cast<size_t>(t0 + t) * x_row_bytes;
      float* yt = y + static_cast<int64_t>(t0) * y_stride;
      switch (nt) {
        case 4: TokensRows<K, 4>(nb, wb, w_row_bytes, rc, rce, xs, yt, y_stride); break;
        case 3: TokensRows<K, 3>(nb, wb, w_row_bytes, rc, rce, xs, yt, y_stride); break;
        case 2: TokensRows<K, 2>(nb, wb, w_row_bytes, rc, rce, xs, yt, y_stride); break;
        default: TokensRows<K, 1>(nb, wb, w_row_bytes, rc, rce, xs, yt, y_stride); break;
      }
    }
  }
}

template <Kind K>
float VecDotLegacy(int64_t n, const void* w_row, const void* x_vd) {
  return DotOne<K>(n / kQK4_0, static_cast<const Byte*>(w_row), static_cast<const Byte*>(x_vd));
}

// Q8_1 as ref::QuantizeRowQ8_1, bit for bit: amax = max |x|, d = amax / 127, id = 1 / d (0 for
// d = 0), q = roundf(x * id) saturated to int8 (fcvtas: ties away from zero, NaN -> 0;
// sqxtn: the clamp), s = f16((float)sum(q) * d). f16 conversions by fcvt (round to nearest
// even, as FloatToHalfBits).
void QuantizeRowQ8_1(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK8_1; ++ib) {
    const float* xb = x + ib * kQK8_1;
    float32x4_t v[8];
    for (int i = 0; i < 8; ++i) v[i] = vld1q_f32(xb + 4 * i);
    float32x4_t m = vabsq_f32(v[0]);
    for (int i = 1; i < 8; ++i) m = vmaxq_f32(m, vabsq_f32(v[i]));
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int16x8_t q16[4];
    for (int i = 0; i < 4; ++i) {
      const int32x4_t a = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i], id));
      const int32x4_t b = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i + 1], id));
      q16[i] = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    }
    const int8x16_t q0 = vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1]));
    const int8x16_t q1 = vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3]));
    const int sum = vaddlvq_s8(q0) + vaddlvq_s8(q1);
    const float16x4_t h = vcvt_f16_f32(
        vsetq_lane_f32(static_cast<float>(sum) * d, vdupq_n_f32(d), 1));  // [d, s, d, d]
    Byte* b = o + ib * sizeof(block_q8_1);
    const uint32_t ds = vget_lane_u32(vreinterpret_u32_f16(h), 0);
    std::memcpy(b, &ds, sizeof ds);
    vst1q_s8(reinterpret_cast<int8_t*>(b + 4), q0);
    vst1q_s8(reinterpret_cast<int8_t*>(b + 20), q1);
  }
}

}  // namespace

void RegisterLegacy(KernelSet* s) {
  auto set = [s](DType t, VecDotFn dot, MatMulFn mm) {
    TypeKernels& k = s->types[static_cast<uint32_t>(t)];
    k.vec_dot = dot;
    k.mat_mul = mm;
  };
  set(DType::kQ4_0, VecDotLegacy<Kind::kQ4_0>, MatMulLegacy<Kind::kQ4_0>);
  set(DType::kQ4_1, VecDotLegacy<Kind::kQ4_1>, MatMulLegacy<Kind::kQ4_1>);
  set(DType::kQ5_0, VecDotLegacy<Kind::kQ5_0>, MatMulLegacy<Kind::kQ5_0>);
  set(DType::kQ5_1, VecDotLegacy<Kind::kQ5_1>, MatMulLegacy<Kind::kQ5_1>);
  set(DType::kIQ4_NL, VecDotLegacy<Kind::kIQ4_NL>, MatMulLegacy<Kind::kIQ4_NL>);
  s->types[static_cast<uint32_t>(DType::kQ8_1)].quantize_row = QuantizeRowQ8_1;
}

}  // namespace ondo::kernels::ONDO_ARM_NS
