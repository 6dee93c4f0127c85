// AVX-512 F/BW/VL/VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni
// -mavx2 -mfma -mf16c; called only when the CPU has them). As in avx2.cc: internal linkage
// everywhere except the entry points, and no std:: templates.

// GCC 12's AVX-512 intrinsics pass "undefined" operands initialised with themselves
// (_mm512_undefined_ps: __m512 __Y = __Y), which -Wuninitialized reports wherever they are
// inlined (GCC PR 105593, fixed in 13). Silence those two diagnostics for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;
using x86::Drive;
using x86::MatMulImpl;
using x86::VecDotImpl;

inline uint16_t LoadU16(const Byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float H2F(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t F2H(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
// Mask with the first n (0..16) lanes set.
inline __mmask16 Mask16(int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

// e^x as avx2::Exp (same reduction and polynomial); 2^n applied by vscalefps, which rounds
// once and handles the subnormal range and overflow. x is clamped to [-104, 89] so r stays
// small for any input (NaN stays NaN).
inline __m512 Exp(__m512 x) {
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// roundf(v): round half away from zero, exactly.
inline __m512 RoundHalfAway(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
  const __m512 one =
      _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(1.0f)), sign));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm512_mask_add_ps(t, up, t, one);
}

inline float HSum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

struct F32Load {
  static __m512 Load16(const Byte* p, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p + 4 * i));
  }
  static __m512 Load16Masked(const Byte* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p + 4 * i));
  }
};
struct F16Load {
  static __m512 Load16(const Byte* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
  static __m512 Load16Masked(const Byte* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
  }
};

// As avx2::FloatKernel with 16 lanes; the k % 16 tail is one masked step (masked-off lanes
// are not read, so nothing past the row is touched).
template <class WL, class XL>
struct FloatKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    __m512 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
      __m512 wv[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wv[r] = WL::Load16(w + r * wrb, i);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 xv = XL::Load16(x + t * xrb, i);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    if (i < k) {
      const __mmask16 m = Mask16(k - i);
      __m512 wv[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wv[r] = WL::Load16Masked(w + r * wrb, i, m);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 xv = XL::Load16Masked(x + t * xrb, i, m);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
    }
  }
};

// Q8_0 x Q8_0 with VNNI (vpdpbusd: unsigned bytes times signed bytes, summed into int32).
// The weights are made unsigned by w + 128 (xor 0x80) and the excess 128 * sum(x) is
// subtracted by starting each accumulation at -128 * sum(x) (computed once per token and
// block, in the same 4-byte lane groups), so the sums are exact for every int8 value.
struct Q8_0Kernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    constexpr size_t kB = sizeof(block_q8_0);
    const int64_t nb = k / kQK8_0;
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      __m256i wu[R];
      __m256 dw[R];  // d_w broadcast; d_w * d_x is then one vector multiply per pair
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kB;
        wu[r] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)), bias);
        dw[r] = _mm256_set1_ps(H2F(LoadU16(b)));
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* b = x + t * xrb + ib * kB;
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
        const __m256 dx = _mm256_set1_ps(H2F(LoadU16(b)));
        const __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(),
                                             _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, xq));
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256 s = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(neg, wu[r], xq));
          acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), s, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum256(acc[r][t]);
    }
  }
};

using F32K = FloatKernel<F32Load, F32Load>;
using F16K = FloatKernel<F16Load, F16Load>;
using KqK = FloatKernel<F16Load, F32Load>;  // f16 K rows x f16-rounded q held as f32

void ScaledSoftmax(float* x, int64_t n, float scale, bool round_f16) {
  if (n <= 0) return;
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale);
    _mm512_mask_storeu_ps(x + i, m, v);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
  }
  const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512d s0 = _mm512_setzero_pd();
  __m512d s1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    const __m512 e =
        _mm512_maskz_mov_ps(m, Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
    _mm512_mask_storeu_ps(x + i, m, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(
        s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
    if (round_f16) p = _mm512_cvtph_ps(_mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT));
    _mm512_mask_storeu_ps(x + i, m, p);
  }
}

// out[g][0 .. 16D) = sum_j p[g][j] * V[j][0 ..] for G heads, rows outer, heads inner. With
// D == 1 and a partial mask, only the masked columns are read and written.
template <int G, int D>
void VTile(const uint16_t* v, int64_t stride, const float* p, int64_t n_kv, float* out, int64_t hd,
           __mmask16 m) {
  __m512 acc[G][D];
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
    for (int d = 0; d < D; ++d) acc[g][d] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < n_kv; ++j) {
    const uint16_t* vj = v + j * stride;
    __m512 vv[D];
#pragma GCC unroll 16
    for (int d = 0; d < D; ++d) {
      vv[d] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, vj + 16 * d));
    }
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m512 pg = _mm512_set1_ps(p[g * n_kv + j]);
#pragma GCC unroll 16
      for (int d = 0; d < D; ++d) acc[g][d] = _mm512_fmadd_ps(pg, vv[d], acc[g][d]);
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int d = 0; d < D; ++d) _mm512_mask_storeu_ps(out + g * hd + 16 * d, m, acc[g][d]);
  }
}

template <int G>
void VHeads(const uint16_t* v, int64_t stride, const float* p, int64_t n_kv, float* out,
            int64_t hd) {
  constexpr int D = G <= 2 ? 8 : (G <= 4 ? 4 : 2);
  int64_t d0 = 0;
  for (; d0 + 16 * D <= hd; d0 += 16 * D) {
    VTile<G, D>(v + d0, stride, p, n_kv, out + d0, hd, 0xffff);
  }
  for (; d0 < hd; d0 += 16) {
    VTile<G, 1>(v + d0, stride, p, n_kv, out + d0, hd, Mask16(hd - d0));
  }
}

}  // namespace

void QuantizeRowF16(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm256_mask_storeu_epi16(
        o + 2 * i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

void QuantizeRowQ8_0(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const float* xb = x + ib * kQK8_0;
    const __m512 v0 = _mm512_loadu_ps(xb);
    const __m512 v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    // Same float operations as the reference: d = amax / 127, x * (1 / d), roundf.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m128i q0 =
        _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(RoundHalfAway(_mm512_mul_ps(v0, vid))));
    const __m128i q1 =
        _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(RoundHalfAway(_mm512_mul_ps(v1, vid))));
    Byte* b = o + ib * sizeof(block_q8_0);
    const uint16_t dh = F2H(d);
    std::memcpy(b, &dh, 2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + 2), q0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + 18), q1);
  }
}

void DequantizeRowF16(const void* row, float* out, int64_t n) {
  const Byte* p = static_cast<const Byte*>(row);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm512_mask_storeu_ps(out + i, m, F16Load::Load16Masked(p, i, m));
  }
}

float VecDotF32(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F32K>(n, w_row, x_vd);
}
float VecDotF16(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F16K>(n, w_row, x_vd);
}
float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q8_0Kernel>(n, w_row, x_vd);
}

void MatMulF32(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulImpl<F32K, 8, 4, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}
void MatMulF16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulImpl<F16K, 8, 4, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}
void MatMulQ8_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulImpl<Q8_0Kernel, 8, 4, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void Softmax(float* x, int64_t n) { ScaledSoftmax(x, n, 1.0f, false); }

void ExpF32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm512_mask_storeu_ps(y + i, m, Exp(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void AttentionF16(const AttentionArgs& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  float* out = a.out;
  float* scores = a.scratch;
  const int64_t nq = ng * hd;
  for (int64_t i = 0; i < nq; i += 16) {  // q rounded to f16, kept as f32 in `out`
    const __mmask16 m = Mask16(nq - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, a.q + i);
    _mm512_mask_storeu_ps(out + i, m,
                          _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
  }
  const Byte* kb = reinterpret_cast<const Byte*>(a.k);
  const size_t krb = static_cast<size_t>(a.kv_row_stride) * 2;
  const Byte* qb = reinterpret_cast<const Byte*>(out);
  if (ng == 1) {
    Drive<KqK, 8, 1>(kb, krb, 0, n_kv, hd, qb, hd * 4, 1, scores, n_kv);
  } else {
    Drive<KqK, 4, 4>(kb, krb, 0, n_kv, hd, qb, hd * 4, ng, scores, n_kv);
  }
  for (int g = 0; g < ng; ++g) ScaledSoftmax(scores + g * n_kv, n_kv, a.scale, true);
  for (int g0 = 0; g0 < ng; g0 += 8) {
    const float* p = scores + g0 * n_kv;
    float* o = out + g0 * hd;
    switch (ng - g0 < 8 ? ng - g0 : 8) {
      case 1:
        VHeads<1>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 2:
        VHeads<2>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 3:
        VHeads<3>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 4:
        VHeads<4>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 5:
        VHeads<5>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 6:
        VHeads<6>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      case 7:
        VHeads<7>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
      default:
        VHeads<8>(a.v, a.kv_row_stride, p, n_kv, o, hd);
        break;
    }
  }
}

}  // namespace ondo::kernels::avx512
