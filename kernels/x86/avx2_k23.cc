// AVX2 kernels of the 2- and 3-bit K-quants (Q2_K, Q3_K against Q8_K) and the Q8_K activation
// quantizer (compiled with -mavx2 -mfma -mf16c; called only when the CPU has them).
//
// Dot products: each 32-value chunk of a super-block is unpacked once per row (a shift and an
// and; Q3_K adds its high bit), multiplied with maddubs against the activation quants, and the
// 16-value sub-block scales are applied to the int16 pair sums with one madd (int32 lanes), so
// every integer sum is exact: |pair| <= 2 * 3 * 128 (Q2_K), 2 * 7 * 128 (Q3_K) < 2^15.
// Q2_K's min term is sum_j m_j * bsums_j (one madd over the activation's 16 block sums), as
// ggml does; Q3_K stores q = u - 4 with u = low | high << 2 in [0, 7], so its dot is
// sum_j s_j (sum u * x - 4 * bsums_j), the second part again one madd over the bsums.
// Float work per super-block and (row, token): one int -> float conversion and one FMA with the
// reference's scale product d_x * d (two of each for Q2_K, whose min term has its own scale).
//
// Everything but the ondo::kernels::avx2 entry points has internal linkage (see tile_driver.h).

#include <cstdint>
#include <cstring>

#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/x86/avx2_panel.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx2 {
namespace {

using x86::Byte;
using x86::H2F;
using x86::HMax;
using x86::HMin;
using x86::HSum;
using x86::Load128;
using x86::Load256;
using x86::LoadF32;
using x86::MatMulImpl;
using x86::PrefetchAhead;
using x86::VecDotImpl;

// x >> n for a compile-time n on 16-bit lanes; a left shift for negative n.
template <int N>
inline __m256i ShiftRight(__m256i v) {
  if constexpr (N > 0) return _mm256_srli_epi16(v, N);
  if constexpr (N < 0) return _mm256_slli_epi16(v, -N);
  return v;
}

// The 16 Q3_K scales s_j - 32 (in [-32, 31]) from their packed 12 bytes, as ggml unpacks them.
inline __m128i Q3Scales(const Byte* packed) {
  uint32_t a[3];
  std::memcpy(a, packed, 12);
  const uint32_t m2 = 0x0f0f0f0fu, m1 = 0x03030303u;
  const uint32_t s0 = (a[0] & m2) | (((a[2] >> 0) & m1) << 4);
  const uint32_t s1 = (a[1] & m2) | (((a[2] >> 2) & m1) << 4);
  const uint32_t s2 = ((a[0] >> 4) & m2) | (((a[2] >> 4) & m1) << 4);
  const uint32_t s3 = ((a[1] >> 4) & m2) | (((a[2] >> 6) & m1) << 4);
  const __m128i s = _mm_setr_epi32(static_cast<int>(s0), static_cast<int>(s1), static_cast<int>(s2),
                                   static_cast<int>(s3));
  return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

// Q2_K x Q8_K for R rows and T tokens: y[t * ys + r].
struct Q2KKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      if constexpr (T == 1) {
        // Decode: each row unpacked and used at once, the activations read from L1 for each,
        // so that one row's values are live instead of R rows' (the 4-row tile kept 119 on the
        // stack).
        const Byte* xb = x + ib * kQ8KBytes;
        const float dx = LoadF32(xb + kQ8KD);
        const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const Byte* wb = w + r * wrb + ib * kQ2Bytes;
          PrefetchAhead<kQ2Bytes>(wb);
          const __m128i s = Load128(wb + kQ2Scales);
          const __m256i sc = _mm256_and_si256(_mm256_broadcastsi128_si256(s), m4);
          __m256i isum[1][1] = {{_mm256_setzero_si256()}};
          Chunks<1, 1, 0>(&wb, x, xrb, ib, &sc, m3, isum);
          Chunks<1, 1, 1>(&wb, x, xrb, ib, &sc, m3, isum);
          Finish(isum[0][0], _mm256_srli_epi16(_mm256_cvtepu8_epi16(s), 4), bsums,
                 dx * H2F(wb + kQ2D), dx * H2F(wb + kQ2Dmin), acc[r][0]);
        }
        continue;
      }
      const Byte* wb[R];
      __m256i sc[R];    // the 16 4-bit scales, in both 128-bit lanes
      __m256i mins[R];  // the 16 4-bit mins as int16
      float dw[R], dm[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        wb[r] = w + r * wrb + ib * kQ2Bytes;
        PrefetchAhead<kQ2Bytes>(wb[r]);
        const __m128i s = Load128(wb[r] + kQ2Scales);
        sc[r] = _mm256_and_si256(_mm256_broadcastsi128_si256(s), m4);
        mins[r] = _mm256_srli_epi16(_mm256_cvtepu8_epi16(s), 4);
        dw[r] = H2F(wb[r] + kQ2D);
        dm[r] = H2F(wb[r] + kQ2Dmin);
      }
      __m256i isum[R][T];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      }
      Chunks<R, T, 0>(wb, x, xrb, ib, sc, m3, isum);
      Chunks<R, T, 1>(wb, x, xrb, ib, sc, m3, isum);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* xb = x + t * xrb + ib * kQ8KBytes;
        const float dx = LoadF32(xb + kQ8KD);
        const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          Finish(isum[r][t], mins[r], bsums, dx * dw[r], dx * dm[r], acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }

  // acc += d * d_x * isum - dmin * d_x * (mins . bsums).
  [[gnu::always_inline]] static inline void Finish(__m256i isum, __m256i mins, __m256i bsums,
                                                   float ddx, float dmdx, __m256& acc) {
    const __m256 msum = _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, bsums));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(ddx), _mm256_cvtepi32_ps(isum), acc);
    acc = _mm256_fnmadd_ps(_mm256_set1_ps(dmdx), msum, acc);
  }

  // The four 32-value chunks of half H (values 128H .. 128H + 127): chunk c = 4H + s holds
  // bits 2s..2s+1 of qs[32H .. 32H + 31]; its lanes belong to sub-blocks 2c and 2c + 1.
  template <int R, int T, int H>
  [[gnu::always_inline]] static inline void Chunks(const Byte* const* wb, const Byte* x, size_t xrb,
                                                   int64_t ib, const __m256i* sc, __m256i m3,
                                                   __m256i (*isum)[T]) {
    __m256i qb[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) qb[r] = Load256(wb[r] + kQ2Qs + 32 * H);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) {
      const int c = 4 * H + s;
      // int16 lanes: scale 2c in the low 128 bits, 2c + 1 in the high ones.
      const __m256i ctrl =
          _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x8000 | (2 * c + 1))),
                           _mm_set1_epi16(static_cast<int16_t>(0x8000 | (2 * c))));
      __m256i v[R], scl[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        v[r] = _mm256_and_si256(_mm256_srli_epi16(qb[r], 2 * s), m3);
        scl[r] = _mm256_shuffle_epi8(sc[r], ctrl);
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m256i xq = Load256(x + t * xrb + ib * kQ8KBytes + kQ8KQs + 32 * c);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256i p = _mm256_maddubs_epi16(v[r], xq);
          isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(p, scl[r]));
        }
      }
    }
  }
};

// Q3_K x Q8_K: u = low | high << 2 in [0, 7], q = u - 4.
struct Q3KKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      if constexpr (T == 1) {
        // Decode: as Q2KKernel, one row's values live at a time (51 on the stack in the
        // 2-row tile before).
        const Byte* xb = x + ib * kQ8KBytes;
        const float dx = LoadF32(xb + kQ8KD);
        const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const Byte* wb = w + r * wrb + ib * kQ3Bytes;
          PrefetchAhead<kQ3Bytes>(wb);
          const __m256i s16 = _mm256_cvtepi8_epi16(Q3Scales(wb + kQ3Scales));
          const __m256i hm = Load256(wb + kQ3Hmask);
          __m256i isum[1][1] = {{_mm256_setzero_si256()}};
          Half<1, 1, 0>(&wb, x, xrb, ib, &s16, &hm, isum);
          Half<1, 1, 1>(&wb, x, xrb, ib, &s16, &hm, isum);
          Finish(isum[0][0], s16, bsums, H2F(wb + kQ3D) * dx, acc[r][0]);
        }
        continue;
      }
      const Byte* wb[R];
      __m256i s16[R];  // the 16 scales s_j - 32 as int16
      __m256i hm[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        wb[r] = w + r * wrb + ib * kQ3Bytes;
        PrefetchAhead<kQ3Bytes>(wb[r]);
        s16[r] = _mm256_cvtepi8_epi16(Q3Scales(wb[r] + kQ3Scales));
        hm[r] = Load256(wb[r] + kQ3Hmask);
      }
      __m256i isum[R][T];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      }
      Half<R, T, 0>(wb, x, xrb, ib, s16, hm, isum);
      Half<R, T, 1>(wb, x, xrb, ib, s16, hm, isum);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* xb = x + t * xrb + ib * kQ8KBytes;
        const float dx = LoadF32(xb + kQ8KD);
        const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          Finish(isum[r][t], s16[r], bsums, H2F(wb[r] + kQ3D) * dx, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }

  // acc += d * d_x * (sum_j s_j * sum(u * x) - 4 * sum_j s_j * bsums_j).
  [[gnu::always_inline]] static inline void Finish(__m256i isum, __m256i s16, __m256i bsums,
                                                   float ddx, __m256& acc) {
    const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(s16, bsums), 2);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(ddx), _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, corr)),
                          acc);
  }

  template <int R, int T, int H>
  [[gnu::always_inline]] static inline void Half(const Byte* const* wb, const Byte* x, size_t xrb,
                                                 int64_t ib, const __m256i* s16, const __m256i* hm,
                                                 __m256i (*isum)[T]) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i m4 = _mm256_set1_epi8(4);
    __m256i qb[R], sh[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      qb[r] = Load256(wb[r] + kQ3Qs + 32 * H);
      // scales 8H .. 8H + 7 (int16) in both 128-bit lanes
      sh[r] = _mm256_permute2x128_si256(s16[r], s16[r], H == 0 ? 0x00 : 0x11);
    }
    Chunk<R, T, H, 0>(x, xrb, ib, qb, sh, hm, m3, m4, isum);
    Chunk<R, T, H, 1>(x, xrb, ib, qb, sh, hm, m3, m4, isum);
    Chunk<R, T, H, 2>(x, xrb, ib, qb, sh, hm, m3, m4, isum);
    Chunk<R, T, H, 3>(x, xrb, ib, qb, sh, hm, m3, m4, isum);
  }

  // Chunk c = 4H + S: low bits 2S..2S+1 of qs[32H ..], high bit c of hmask[0 .. 31],
  // sub-blocks 2c (low 128-bit lane) and 2c + 1 (high lane).
  template <int R, int T, int H, int S>
  [[gnu::always_inline]] static inline void Chunk(const Byte* x, size_t xrb, int64_t ib,
                                                  const __m256i* qb, const __m256i* sh,
                                                  const __m256i* hm, __m256i m3, __m256i m4,
                                                  __m256i (*isum)[T]) {
    constexpr int c = 4 * H + S;
    const __m256i ctrl =
        _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0302 + 0x0404 * S)),
                         _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0404 * S)));
    __m256i u[R], scl[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qb[r], 2 * S), m3);
      const __m256i hi = _mm256_and_si256(ShiftRight<c - 2>(hm[r]), m4);
      u[r] = _mm256_or_si256(lo, hi);
      scl[r] = _mm256_shuffle_epi8(sh[r], ctrl);
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m256i xq = Load256(x + t * xrb + ib * kQ8KBytes + kQ8KQs + 32 * c);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m256i p = _mm256_maddubs_epi16(u[r], xq);
        isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(p, scl[r]));
      }
    }
  }
};

// Panel traits (avx2_panel.h).
struct Q2KPanel8 {
  static constexpr size_t kBytes = kQ2Bytes;
  static constexpr int kSub = 16;
  static constexpr int kMaddGroups = 2;  // |sum| <= 2 * 2 * 3 * 128 (up to 4 fit; 2 measured fastest)
  static constexpr bool kSeparateMins = true;
  static void Unpack(const Byte* b, PanelRow8& out) {
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
      const __m256i qb = Load256(b + kQ2Qs + 32 * h);
      out.q[4 * h + 0] = _mm256_and_si256(qb, m3);
      out.q[4 * h + 1] = _mm256_and_si256(_mm256_srli_epi16(qb, 2), m3);
      out.q[4 * h + 2] = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m3);
      out.q[4 * h + 3] = _mm256_and_si256(_mm256_srli_epi16(qb, 6), m3);
    }
    const __m128i s = Load128(b + kQ2Scales);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    out.sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(s, m4));
    out.mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), m4));
    out.d = H2F(b + kQ2D);
    out.dmin = H2F(b + kQ2Dmin);
  }
};
struct Q3KPanel8 {
  static constexpr size_t kBytes = kQ3Bytes;
  static constexpr int kSub = 16;
  static constexpr int kMaddGroups = 2;  // u = q + 4 in [0, 7]: |sum| <= 2 * 2 * 7 * 128
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow8& out) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i m4 = _mm256_set1_epi8(4);
    const __m256i hm = Load256(b + kQ3Hmask);
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      const __m256i qb = Load256(b + kQ3Qs + 32 * (c / 4));
      const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qb, 2 * (c % 4)), m3);
      // high bit c of hmask to bit 2 (16-bit shifts: the masked bit stays in its byte)
      const __m256i hi = _mm256_and_si256(
          c >= 2 ? _mm256_srli_epi16(hm, c - 2) : _mm256_slli_epi16(hm, 2 - c), m4);
      out.q[c] = _mm256_or_si256(lo, hi);
    }
    out.sc16 = _mm256_cvtepi8_epi16(Q3Scales(b + kQ3Scales));
    out.mins = _mm256_mullo_epi16(out.sc16, _mm256_set1_epi16(-4));  // q = u - 4
    out.d = H2F(b + kQ3D);
    out.dmin = 0.0f;
  }
};

}  // namespace

// Bit-identical to ref::QuantizeRowQ8_K: the same max (first value of largest magnitude), the
// same iscale = -127 / max and products iscale * x, rounded to nearest even by cvtps (what
// ggml's nearest_int computes for |v| < 2^22), clamped to 127 by the saturating packs.
void QuantizeRowQ8_K(const float* x, void* out, int64_t n) {
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const float* xb = x + ib * kQK_K;
    Byte* b = o + ib * kQ8KBytes;
    __m256 vmax = _mm256_loadu_ps(xb), vmin = vmax;
    for (int j = 8; j < kQK_K; j += 8) {
      const __m256 v = _mm256_loadu_ps(xb + j);
      vmax = _mm256_max_ps(vmax, v);
      vmin = _mm256_min_ps(vmin, v);
    }
    const float hi = HMax(vmax), lo = HMin(vmin);
    const float amax = hi > -lo ? hi : -lo;
    if (amax == 0.0f) {
      std::memset(b, 0, kQ8KBytes);
      continue;
    }
    float max;
    if (hi == amax && -lo == amax) {  // both signs reach amax: the first one wins
      int j = 0;
      while (__builtin_fabsf(xb[j]) != amax) ++j;
      max = xb[j];
    } else {
      max = hi == amax ? hi : lo;
    }
    const float iscale = -127.0f / max;
    if (__builtin_isinf(iscale)) {
      // 0 < |max| < 127 / FLT_MAX: ggml's nearest_int of +-inf (and of the NaN from inf * 0)
      // gives 0 after the int8 cast, so every quant and block sum is 0; d = 1 / iscale = -+0.
      std::memset(b + kQ8KQs, 0, kQ8KBytes - kQ8KQs);
      const float d = 1.0f / iscale;
      std::memcpy(b + kQ8KD, &d, 4);
      continue;
    }
    const __m256 vs = _mm256_set1_ps(iscale);
    __m256i quad[8];  // per 32 values: 8 int32 sums of 4 quants
    for (int c = 0; c < 8; ++c) {
      __m256i q32[4];
      for (int i = 0; i < 4; ++i) {
        q32[i] = _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(xb + 32 * c + 8 * i)));
      }
      const __m256i q16a = _mm256_packs_epi32(q32[0], q32[1]);
      const __m256i q16b = _mm256_packs_epi32(q32[2], q32[3]);
      const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), perm);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + kQ8KQs + 32 * c), q8);
      quad[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q8), ones16);
    }
    // quad[c] lanes 0-3 sum to bsums[2c], lanes 4-7 to bsums[2c + 1].
    const __m256i h01 = _mm256_hadd_epi32(quad[0], quad[1]);
    const __m256i h23 = _mm256_hadd_epi32(quad[2], quad[3]);
    const __m256i h45 = _mm256_hadd_epi32(quad[4], quad[5]);
    const __m256i h67 = _mm256_hadd_epi32(quad[6], quad[7]);
    const __m256i ha = _mm256_hadd_epi32(h01, h23);  // bsums 0 2 4 6 | 1 3 5 7
    const __m256i hb = _mm256_hadd_epi32(h45, h67);  // bsums 8 10 12 14 | 9 11 13 15
    const __m256i p = _mm256_packs_epi32(ha, hb);    // 0 2 4 6 8 10 12 14 | 1 3 ... 15
    const __m128i even = _mm256_castsi256_si128(p), odd = _mm256_extracti128_si256(p, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + kQ8KBsums), _mm_unpacklo_epi16(even, odd));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + kQ8KBsums + 16), _mm_unpackhi_epi16(even, odd));
    const float d = 1.0f / iscale;
    std::memcpy(b + kQ8KD, &d, 4);
  }
}

// Tile shapes: decode x86::kKDecodeRows rows per pass; prefill 1 row x 8 tokens, the unpacked
// chunk reused by 8 tokens (measured on Zen 4).
float VecDotQ2_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q2KKernel>(n, w_row, x_vd);
}
void MatMulQ2_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  Panel8OrRows<Q2KPanel8>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                         MatMulImpl<Q2KKernel, x86::kKDecodeRows, 1, 8>);
}

float VecDotQ3_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q3KKernel>(n, w_row, x_vd);
}
void MatMulQ3_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  Panel8OrRows<Q3KPanel8>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                         MatMulImpl<Q3KKernel, x86::kKDecodeRows, 1, 8>);
}

}  // namespace ondo::kernels::avx2
