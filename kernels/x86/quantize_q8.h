// The Q8_0 and Q8_1 activation quantizers of the x86 kernel files (QuantizeRowQ8_0 in avx2.cc
// and avx512.cc, QuantizeRowQ8_1 in avx2_legacy.cc and avx512_legacy.cc), bit-identical to
// the reference: per block of 32 values the same float operations, d = amax / 127,
// q = roundf(x * (1 / d)) (NaN read as 0, clamped to [-128, 127]), and for Q8_1
// s = (float)sum(q) * d. REQUIRES: n % 32 == 0.
//
// Internal linkage, as tile_driver.h; the AVX-512 ones exist only in TUs compiled with it.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::x86 {
namespace {

// roundf(v): round half away from zero, exactly (v - trunc(v) is exact in f32).
inline __m256 RoundHalfAway(__m256 v) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_mask));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// The quantizers' rounding, as the reference's RoundToInt8: roundf(v), NaN read as 0, clamped
// to [-128, 127] (v is +-inf or NaN when a block's scale is subnormal and 1 / d overflows).
inline __m256 RoundToInt8Range(__m256 v) {
  const __m256 r = RoundHalfAway(v);
  const __m256 not_nan = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
  return _mm256_min_ps(_mm256_max_ps(not_nan, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
}

// kQ8_1 false: Q8_0 blocks (d, qs); true: Q8_1 blocks (d, s, qs).
template <bool kQ8_1>
void QuantizeRowQ8Avx2(const float* x, void* out, int64_t n) {
  constexpr size_t kBlockBytes = kQ8_1 ? sizeof(block_q8_1) : sizeof(block_q8_0);
  constexpr size_t kQs = kQ8_1 ? 4 : 2;
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const float* xb = x + ib * kQK8_0;
    __m256 v[4];
    for (int q = 0; q < 4; ++q) v[q] = _mm256_loadu_ps(xb + 8 * q);
    const __m256 m01 =
        _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[0]), _mm256_andnot_ps(sign_mask, v[1]));
    const __m256 m23 =
        _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[2]), _mm256_andnot_ps(sign_mask, v[3]));
    const float amax = HMax(_mm256_max_ps(m01, m23));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q32[4];
    for (int q = 0; q < 4; ++q) {
      q32[q] = _mm256_cvtps_epi32(RoundToInt8Range(_mm256_mul_ps(v[q], vid)));
    }
    const __m256i q16a = _mm256_packs_epi32(q32[0], q32[1]);
    const __m256i q16b = _mm256_packs_epi32(q32[2], q32[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), perm);
    Byte* b = o + ib * kBlockBytes;
    const uint16_t dh = F2H(d);
    std::memcpy(b, &dh, 2);
    if constexpr (kQ8_1) {
      const int sum = HSumI32(
          _mm256_add_epi32(_mm256_add_epi32(q32[0], q32[1]), _mm256_add_epi32(q32[2], q32[3])));
      const uint16_t sh = F2H(static_cast<float>(sum) * d);
      std::memcpy(b + 2, &sh, 2);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + kQs), q8);
  }
}

#if defined(__AVX512F__)
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

inline __m512 RoundToInt8Range(__m512 v) {
  const __m512 r = RoundHalfAway(v);
  const __m512 not_nan = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);
  return _mm512_min_ps(_mm512_max_ps(not_nan, _mm512_set1_ps(-128.0f)), _mm512_set1_ps(127.0f));
}

template <bool kQ8_1>
void QuantizeRowQ8Avx512(const float* x, void* out, int64_t n) {
  constexpr size_t kBlockBytes = kQ8_1 ? sizeof(block_q8_1) : sizeof(block_q8_0);
  constexpr size_t kQs = kQ8_1 ? 4 : 2;
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const float* xb = x + ib * kQK8_0;
    const __m512 v0 = _mm512_loadu_ps(xb);
    const __m512 v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvtps_epi32(RoundToInt8Range(_mm512_mul_ps(v0, vid)));
    const __m512i q1 = _mm512_cvtps_epi32(RoundToInt8Range(_mm512_mul_ps(v1, vid)));
    Byte* b = o + ib * kBlockBytes;
    const uint16_t dh = F2H(d);
    std::memcpy(b, &dh, 2);
    if constexpr (kQ8_1) {
      const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      const uint16_t sh = F2H(static_cast<float>(sum) * d);
      std::memcpy(b + 2, &sh, 2);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + kQs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + kQs + 16), _mm512_cvtsepi32_epi8(q1));
  }
}
#endif

}  // namespace
}  // namespace ondo::kernels::x86
