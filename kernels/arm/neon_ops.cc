// NEON kernels of the operations: softmax, SwiGLU and the two attentions (f16 and Q8_0 KV
// cache), with the contracts of kernels/kernels.h and the numerics of kernels/ref/ops.cc.
//
// The exponential is the AVX2 kernels' (kernels/x86/avx2.cc Exp: Cody-Waite reduction, the
// degree-7 Taylor polynomial, 2^n applied in two halves; < 0.82 ulp measured there), with the
// same clamp: e^x of NaN is NaN (fmax/fmin propagate it; fcvtzs of NaN is 0), -inf gives 0,
// large x inf. Softmax sums the exponentials in double as the reference does; SwiGLU divides
// (IEEE, exact rounding) as the reference does.
//
// Attention, per KV head and query position (the group of heads that share it):
//  - scores: each K row is loaded and widened (f16 -> f32 in hardware, or Q8_0 -> d * q as
//    one f32 product per element, the value DequantizeRow gives) once for up to 8 heads, the
//    products fused into f32 lanes;
//  - softmax per head on the raw dot products times `scale` (the reference's order: the score
//    is rounded to f32 and then scaled), probabilities rounded to f16 for the f16 cache;
//  - out = P V: 16 columns x up to 4 heads of accumulators stay in registers while every V
//    row goes by, so each V element is widened once per 4 heads and out is written once.
// Nothing is allocated: scores live in the caller's scratch.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/arm/arm.h"
#include "kernels/arm/neon_util.h"
#include "kernels/blocks.h"
#include "kernels/dispatch.h"

namespace ondo::kernels::ONDO_ARM_NS {
namespace {

using Byte = unsigned char;

// e^x for 4 lanes (see the top).
inline float32x4_t Exp(float32x4_t x) {
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  x = vminq_f32(vdupq_n_f32(89.0f), vmaxq_f32(vdupq_n_f32(-104.0f), x));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(kLn2Hi));
  r = vfmsq_f32(r, n, vdupq_n_f32(kLn2Lo));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

inline float32x4_t RoundToF16(float32x4_t v) { return vcvt_f32_f16(vcvt_f16_f32(v)); }

// Softmax over n values after multiplying them by `scale` (1: plain softmax, where x * 1 is x);
// with `round_f16` the probabilities are rounded to f16 (kept as f32).
void ScaledSoftmax(float* x, int64_t n, float scale, bool round_f16) {
  if (n <= 0) return;
  const float32x4_t vscale = vdupq_n_f32(scale);
  float32x4_t vmax = vdupq_n_f32(-__builtin_inff());
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vmulq_f32(vld1q_f32(x + i), vscale);
    vst1q_f32(x + i, v);
    vmax = vmaxnmq_f32(vmax, v);  // fmax: a NaN never wins, as std::fmax in the reference
  }
  float max = vmaxnmvq_f32(vmax);
  for (; i < n; ++i) {
    x[i] *= scale;
    max = __builtin_fmaxf(max, x[i]);
  }
  const float32x4_t vm = vdupq_n_f32(max);
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
  for (i = 0; i + 4 <= n; i += 4) {
    const float32x4_t e = Exp(vsubq_f32(vld1q_f32(x + i), vm));
    vst1q_f32(x + i, e);
    s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
    s1 = vaddq_f64(s1, vcvt_high_f64_f32(e));
  }
  double sum = vaddvq_f64(vaddq_f64(s0, s1));
  if (i < n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j];
    vst1q_f32(t, Exp(vsubq_f32(vld1q_f32(t), vm)));
    for (int64_t j = i; j < n; ++j) {
      x[j] = t[j - i];
      sum += static_cast<double>(t[j - i]);
    }
  }
  const float inv = static_cast<float>(1.0 / sum);
  const float32x4_t vinv = vdupq_n_f32(inv);
  for (i = 0; i + 4 <= n; i += 4) {
    float32x4_t p = vmulq_f32(vld1q_f32(x + i), vinv);
    if (round_f16) p = RoundToF16(p);
    vst1q_f32(x + i, p);
  }
  if (i < n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j] * inv;
    float32x4_t p = vld1q_f32(t);
    if (round_f16) p = RoundToF16(p);
    vst1q_f32(t, p);
    for (int64_t j = i; j < n; ++j) x[j] = t[j - i];
  }
}

void Softmax(float* x, int64_t n) { ScaledSoftmax(x, n, 1.0f, false); }

// g / (1 + e^-g) * u, the reference's operations in its order.
inline float32x4_t SwiGlu4(float32x4_t g, float32x4_t u) {
  const float32x4_t e = Exp(vnegq_f32(g));
  return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

void SwiGlu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t a = SwiGlu4(vld1q_f32(gate + i), vld1q_f32(up + i));
    const float32x4_t b = SwiGlu4(vld1q_f32(gate + i + 4), vld1q_f32(up + i + 4));
    vst1q_f32(out + i, a);
    vst1q_f32(out + i + 4, b);
  }
  for (; i < n; i += 4) {
    const int64_t m = n - i < 4 ? n - i : 4;
    float g[4] = {0.0f, 0.0f, 0.0f, 0.0f}, u[4] = {0.0f, 0.0f, 0.0f, 0.0f}, o[4];
    for (int64_t j = 0; j < m; ++j) {
      g[j] = gate[i + j];
      u[j] = up[i + j];
    }
    vst1q_f32(o, SwiGlu4(vld1q_f32(g), vld1q_f32(u)));
    for (int64_t j = 0; j < m; ++j) out[i + j] = o[j];
  }
}

// --- KV row loaders: element c of a row as f32 -----------------------------------------------
// F16 rows (uint16_t elements, 2-byte aligned as the contract says).
struct F16Rows {
  // 8 elements from c.
  static void Load8(const Byte* row, int64_t c, float32x4_t v[2]) {
    const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(row) + c);
    v[0] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h)));
    v[1] = vcvt_high_f32_f16(vreinterpretq_f16_u16(h));
  }
  static float32x4_t Load4(const Byte* row, int64_t c) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(row) + c)));
  }
  static float Load1(const Byte* row, int64_t c) { return LoadHalf(row + 2 * c); }
};

// Q8_0 rows: element c is d * q (one f32 product, as DequantizeRow). Load8 and Load4 REQUIRE
// c % 8 == 0 / c % 4 == 0 (a load never straddles a block).
struct Q8Rows {
  static const Byte* Block(const Byte* row, int64_t c) {
    return row + (c / kQK8_0) * sizeof(block_q8_0);
  }
  static void Load8(const Byte* row, int64_t c, float32x4_t v[2]) {
    const Byte* b = Block(row, c);
    const int16x8_t q = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(b + 2 + c % kQK8_0)));
    const float d = LoadHalf(b);
    v[0] = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q))), d);
    v[1] = vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(q)), d);
  }
  static float32x4_t Load4(const Byte* row, int64_t c) {
    const Byte* b = Block(row, c);
    int32_t bits;
    std::memcpy(&bits, b + 2 + c % kQK8_0, 4);
    const int16x8_t q = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(bits)));
    return vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q))), LoadHalf(b));
  }
  static float Load1(const Byte* row, int64_t c) {
    const Byte* b = Block(row, c);
    return static_cast<float>(static_cast<int8_t>(b[2 + c % kQK8_0])) * LoadHalf(b);
  }
};

// --- scores: s[g * n_kv + j] = q_g . K_j (unscaled) -----------------------------------------
// One K row against G query heads (hd floats each, q rows hd apart).
template <class Rows, int G>
void ScoreRow(const Byte* krow, const float* q, int64_t hd, float* s, int64_t n_kv) {
  float32x4_t acc[G][2];
  for (int g = 0; g < G; ++g) acc[g][0] = acc[g][1] = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= hd; i += 8) {
    float32x4_t kv[2];
    Rows::Load8(krow, i, kv);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      acc[g][0] = vfmaq_f32(acc[g][0], vld1q_f32(q + g * hd + i), kv[0]);
      acc[g][1] = vfmaq_f32(acc[g][1], vld1q_f32(q + g * hd + i + 4), kv[1]);
    }
  }
  for (int g = 0; g < G; ++g) {
    float sum = vaddvq_f32(vaddq_f32(acc[g][0], acc[g][1]));
    for (int64_t c = i; c < hd; ++c) sum += q[g * hd + c] * Rows::Load1(krow, c);
    s[g * n_kv] = sum;
  }
}

template <class Rows>
void Scores(const Byte* k, size_t krb, const float* q, int ng, int64_t hd, int64_t n_kv,
            float* scores) {
  for (int64_t j = 0; j < n_kv; ++j) {
    const Byte* krow = k + static_cast<size_t>(j) * krb;
    for (int g0 = 0; g0 < ng; g0 += 8) {
      const float* qg = q + g0 * hd;
      float* s = scores + g0 * n_kv + j;
      switch (ng - g0 < 8 ? ng - g0 : 8) {
        case 1: ScoreRow<Rows, 1>(krow, qg, hd, s, n_kv); break;
        case 2: ScoreRow<Rows, 2>(krow, qg, hd, s, n_kv); break;
        case 3: ScoreRow<Rows, 3>(krow, qg, hd, s, n_kv); break;
        case 4: ScoreRow<Rows, 4>(krow, qg, hd, s, n_kv); break;
        case 5: ScoreRow<Rows, 5>(krow, qg, hd, s, n_kv); break;
        case 6: ScoreRow<Rows, 6>(krow, qg, hd, s, n_kv); break;
        case 7: ScoreRow<Rows, 7>(krow, qg, hd, s, n_kv); break;
        default: ScoreRow<Rows, 8>(krow, qg, hd, s, n_kv); break;
      }
    }
  }
}

// --- out = P V ---------------------------------------------------------------------------
// Columns [c0, c0 + 4 D) of G heads: sum over the rows j of p[g][j] V[j][c].
template <class Rows, int G, int D>
void PVTile(const Byte* v, size_t vrb, int64_t c0, const float* p, int64_t n_kv, float* out,
            int64_t hd) {
  static_assert(D == 1 || D % 2 == 0, "8-column loads");
  float32x4_t acc[G][D];
  for (int g = 0; g < G; ++g) {
    for (int d = 0; d < D; ++d) acc[g][d] = vdupq_n_f32(0.0f);
  }
  for (int64_t j = 0; j < n_kv; ++j) {
    const Byte* vj = v + static_cast<size_t>(j) * vrb;
    float32x4_t vv[D];
    if constexpr (D == 1) {
      vv[0] = Rows::Load4(vj, c0);
    } else {
#pragma GCC unroll 4
      for (int d = 0; d < D; d += 2) Rows::Load8(vj, c0 + 4 * d, vv + d);
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const float pg = p[g * n_kv + j];
#pragma GCC unroll 4
      for (int d = 0; d < D; ++d) acc[g][d] = vfmaq_n_f32(acc[g][d], vv[d], pg);
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int d = 0; d < D; ++d) vst1q_f32(out + g * hd + c0 + 4 * d, acc[g][d]);
  }
}

template <class Rows, int G>
void PVHeads(const Byte* v, size_t vrb, const float* p, int64_t n_kv, float* out, int64_t hd) {
  int64_t c0 = 0;
  for (; c0 + 16 <= hd; c0 += 16) PVTile<Rows, G, 4>(v, vrb, c0, p, n_kv, out, hd);
  for (; c0 + 4 <= hd; c0 += 4) PVTile<Rows, G, 1>(v, vrb, c0, p, n_kv, out, hd);
  for (; c0 < hd; ++c0) {
    for (int g = 0; g < G; ++g) {
      float s = 0.0f;
      for (int64_t j = 0; j < n_kv; ++j) {
        s += p[g * n_kv + j] * Rows::Load1(v + static_cast<size_t>(j) * vrb, c0);
      }
      out[g * hd + c0] = s;
    }
  }
}

template <class Rows>
void PV(const Byte* v, size_t vrb, const float* scores, int ng, int64_t n_kv, float* out,
        int64_t hd) {
  for (int g0 = 0; g0 < ng; g0 += 4) {
    const float* p = scores + g0 * n_kv;
    float* o = out + g0 * hd;
    switch (ng - g0 < 4 ? ng - g0 : 4) {
      case 1: PVHeads<Rows, 1>(v, vrb, p, n_kv, o, hd); break;
      case 2: PVHeads<Rows, 2>(v, vrb, p, n_kv, o, hd); break;
      case 3: PVHeads<Rows, 3>(v, vrb, p, n_kv, o, hd); break;
      default: PVHeads<Rows, 4>(v, vrb, p, n_kv, o, hd); break;
    }
  }
}

void AttentionF16(const AttentionArgs& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  float* out = a.out;
  float* scores = a.scratch;
  // q rounded to f16, kept as f32 in `out` until the last phase (out may alias q).
  {
    const int64_t nq = ng * hd;
    int64_t i = 0;
    for (; i + 4 <= nq; i += 4) vst1q_f32(out + i, RoundToF16(vld1q_f32(a.q + i)));
    for (; i < nq; ++i) out[i] = static_cast<float>(static_cast<__fp16>(a.q[i]));
  }
  const Byte* kb = reinterpret_cast<const Byte*>(a.k);
  const size_t rb = static_cast<size_t>(a.kv_row_stride) * 2;
  Scores<F16Rows>(kb, rb, out, ng, hd, n_kv, scores);
  for (int g = 0; g < ng; ++g) ScaledSoftmax(scores + g * n_kv, n_kv, a.scale, true);
  PV<F16Rows>(reinterpret_cast<const Byte*>(a.v), rb, scores, ng, n_kv, out, hd);
}

void AttentionQ8_0(const AttentionQ8Args& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  const size_t rb = static_cast<size_t>(a.kv_row_bytes);
  // q is read only here, before `out` (which may alias it) is written.
  Scores<Q8Rows>(static_cast<const Byte*>(a.k), rb, a.q, ng, hd, n_kv, a.scratch);
  for (int g = 0; g < ng; ++g) ScaledSoftmax(a.scratch + g * n_kv, n_kv, a.scale, false);
  PV<Q8Rows>(static_cast<const Byte*>(a.v), rb, a.scratch, ng, n_kv, a.out, hd);
}

}  // namespace

// y[i] = e^x[i] (the Exp above; in-place allowed): declared in arm.h for
// tests/kernels/simd_test.cc (ExpIsWithinTwoUlp).
void ExpF32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Exp(vld1q_f32(x + i)));
  if (i < n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j];
    vst1q_f32(t, Exp(vld1q_f32(t)));
    for (int64_t j = i; j < n; ++j) y[j] = t[j - i];
  }
}

void RegisterOps(KernelSet* s) {
  s->softmax = Softmax;
  s->swiglu = SwiGlu;
  s->attention_f16 = AttentionF16;
  s->attention_q8_0 = AttentionQ8_0;
}

}  // namespace ondo::kernels::ONDO_ARM_NS
