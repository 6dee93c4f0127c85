// AVX-512 (F/BW/VL/VNNI) kernels of the 2- and 3-bit K-quants (Q2_K, Q3_K against Q8_K) and
// the Q8_K activation quantizer (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni;
// called only when the CPU has them; no VBMI).
//
// A super-block row is unpacked once into four 64-byte vectors of unsigned weights w' with the
// 16-value sub-block scale already applied, so that each 64 values then cost one vpdpbusd per
// token (u8 x s8, exact int32 sums):
//   Q2_K: w' = sc_j * q, q in [0, 3], sc_j in [0, 15], so w' <= 45; the min term is
//         sum_j m_j * bsums_j (one madd over the activation's block sums), as in ggml.
//   Q3_K: w' = s_j * q + 124 with s_j in [-32, 31], q in [-4, 3], so w' in [0, 252]; the offset
//         adds 124 * sum(x) = 124 * sum(bsums), which starts the accumulator negated.
// w' comes from a vpshufb table lookup: one 64-byte table per row holds, in 128-bit lane L and
// dword slot c, the four values of sub-block 4c + L (the lane of chunk c, values 64c .. 64c+63,
// that belongs to that sub-block), and the lookup index is q + 4c. Q3_K has two such tables,
// for high bit 0 and 1, merged by a byte mask. Decode (one token) takes the quants in another
// order (UnpackQ2KSplit): all 64 qs bytes in one vector, shifted by immediates, the
// activations gathered to match once per block for the tile's rows; from cache, bench_kernels
// 1536x1536 and 8960x1536 with 1 token, 0.88-0.93 of the time of the order above for Q2_K
// (0.99 for Q3_K).
//
// Everything but the ondo::kernels::avx512 entry points has internal linkage (tile_driver.h).

#include <cstdint>
#include <cstring>

#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/x86/avx512_panel.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;
using x86::H2F;
using x86::HSum;
using x86::Load128;
using x86::Load256;
using x86::Load512;
using x86::LoadF32;
using x86::MatMulImpl;
using x86::PrefetchAhead;
using x86::VecDotImpl;

static_assert(kQ2Dmin == kQ2D + 2, "UnpackQ2K loads d and dmin together");

// The eight int32 sums of the two halves of v.
inline __m256i Fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}
// 32 bytes in both halves of a 64-byte vector.
inline __m512i Broadcast256(const Byte* p) { return _mm512_broadcast_i64x4(Load256(p)); }

// Byte i = 4L + c of the result is byte 4c + L of the input (a 4 x 4 transpose), so that
// after zero-extension to dwords, lane L slot c holds the scale of sub-block 4c + L.
inline __m128i TransposeCtrl() {
  return _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}
// Byte i = 4L + f of the result is the scale of sub-block 2f + (L & 1) + 8 (L >> 1): lane L
// slot f of decode's split order (UnpackQ2KSplit).
inline __m128i SplitCtrl() {
  return _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
}
// Per-qword right shifts that take the 2-bit fields of chunk c (of a 32-byte qs half
// broadcast to both 256-bit halves): fields 2(c%2) and 2(c%2) + 1.
inline __m512i FieldShift(int cc) {
  return _mm512_setr_epi64(4 * cc, 4 * cc, 4 * cc, 4 * cc, 4 * cc + 2, 4 * cc + 2, 4 * cc + 2,
                           4 * cc + 2);
}
// (v & 3) | 4c: the 2-bit field plus the table slot of chunk c (ternary logic A & B | C).
inline __m512i Index(__m512i v, int c) {
  return _mm512_ternarylogic_epi32(v, _mm512_set1_epi8(3),
                                   _mm512_set1_epi8(static_cast<char>(4 * c)), 0xEA);
}

// The 16 Q3_K scales, biased (s_j + 32 in [0, 63]), from their packed 12 bytes.
inline __m128i Q3ScalesBiased(const Byte* packed) {
  uint32_t a[3];
  std::memcpy(a, packed, 12);
  const uint32_t m2 = 0x0f0f0f0fu, m1 = 0x03030303u;
  const uint32_t s0 = (a[0] & m2) | (((a[2] >> 0) & m1) << 4);
  const uint32_t s1 = (a[1] & m2) | (((a[2] >> 2) & m1) << 4);
  const uint32_t s2 = ((a[0] >> 4) & m2) | (((a[2] >> 4) & m1) << 4);
  const uint32_t s3 = ((a[1] >> 4) & m2) | (((a[2] >> 6) & m1) << 4);
  return _mm_setr_epi32(static_cast<int>(s0), static_cast<int>(s1), static_cast<int>(s2),
                        static_cast<int>(s3));
}

// The lookup table of a Q2_K block: dword i holds {0, s, 2s, 3s} for the scale s (low nibble)
// of scales byte ctrl[i].
[[gnu::always_inline]] inline __m512i Q2Table(__m128i scales, __m128i ctrl) {
  const __m512i lut =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(0x03020100));
  // vpermd reads the low 4 bits of each index: the scale, not the min above it.
  return _mm512_permutexvar_epi32(_mm512_cvtepu8_epi32(_mm_shuffle_epi8(scales, ctrl)), lut);
}
// The 16 mins of a Q2_K block as int16 and {d, dmin, 0, 0}.
[[gnu::always_inline]] inline void Q2MinsD(const Byte* b, __m128i scales, __m256i& mins,
                                           __m128& dd) {
  mins = _mm256_srli_epi16(_mm256_cvtepu8_epi16(scales), 4);
  uint32_t h2;
  std::memcpy(&h2, b + kQ2D, 4);
  dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h2)));
}

// One Q2_K block as four vectors of u8 weights sc_j * q (values 64c .. 64c + 63 in order), its
// 16 mins as int16 and {d, dmin, 0, 0}.
[[gnu::always_inline]] inline void UnpackQ2K(const Byte* b, __m512i* wq, __m256i& mins,
                                             __m128& dd) {
  const __m512i sh0 = FieldShift(0), sh1 = FieldShift(1);
  const __m128i s = Load128(b + kQ2Scales);
  const __m512i table = Q2Table(s, TransposeCtrl());
  const __m512i q0 = Broadcast256(b + kQ2Qs);
  const __m512i q1 = Broadcast256(b + kQ2Qs + 32);
  wq[0] =
      _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srlv_epi64(q0, sh0), _mm512_set1_epi8(3)));
  wq[1] = _mm512_shuffle_epi8(table, Index(_mm512_srlv_epi64(q0, sh1), 1));
  wq[2] = _mm512_shuffle_epi8(table, Index(_mm512_srlv_epi64(q1, sh0), 2));
  wq[3] = _mm512_shuffle_epi8(table, Index(_mm512_srlv_epi64(q1, sh1), 3));
  Q2MinsD(b, s, mins, dd);
}

// Decode's layout of one Q2_K block: the 64 qs bytes in one vector, field f (bits 2f, 2f + 1)
// of byte j being value 32f + j (j < 32) or 128 + 32f + j - 32, so chunk f holds values
// 32f .. 32f + 31 in its low half and 128 + 32f .. 128 + 32f + 31 in its high half (the
// activations are loaded to match, SplitX). Lane L of chunk f is then sub-block 2f + (L & 1) +
// 8 (L >> 1): the table holds in lane L, dword slot f, the products of that sub-block's scale.
[[gnu::always_inline]] inline void UnpackQ2KSplit(const Byte* b, __m512i* wq, __m256i& mins,
                                                  __m128& dd) {
  const __m128i s = Load128(b + kQ2Scales);
  const __m512i table = Q2Table(s, SplitCtrl());
  const __m512i q = Load512(b + kQ2Qs);
  wq[0] = _mm512_shuffle_epi8(table, _mm512_and_si512(q, _mm512_set1_epi8(3)));
  wq[1] = _mm512_shuffle_epi8(table, Index(_mm512_srli_epi16(q, 2), 1));
  wq[2] = _mm512_shuffle_epi8(table, Index(_mm512_srli_epi16(q, 4), 2));
  wq[3] = _mm512_shuffle_epi8(table, Index(_mm512_srli_epi16(q, 6), 3));
  Q2MinsD(b, s, mins, dd);
}
// The activation quants of a Q8_K block in UnpackQ2KSplit's order: chunk f = values
// 32f .. 32f + 31, then 128 + 32f .. 128 + 32f + 31.
[[gnu::always_inline]] inline __m512i SplitX(const Byte* qs, int f) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(Load256(qs + 32 * f)),
                            Load256(qs + 128 + 32 * f), 1);
}

// Q2_K x Q8_K for R rows and T tokens: y[t * ys + r].
struct Q2KKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    if constexpr (T == 1) {
      Decode<R>(w, wrb, x, nb, y);
      return;
    }
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      __m512i wq[R][4];
      __m256i mins[R];
      __m128 dd[R];  // {d, dmin, 0, 0}
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kQ2Bytes;
        PrefetchAhead<kQ2Bytes>(b);
        UnpackQ2K(b, wq[r], mins[r], dd[r]);
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* xb = x + t * xrb + ib * kQ8KBytes;
        __m512i isum[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) isum[r] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m512i xq = Load512(xb + kQ8KQs + 64 * c);
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) isum[r] = _mm512_dpbusd_epi32(isum[r], wq[r][c], xq);
        }
        const __m128 dx = _mm_set1_ps(LoadF32(xb + kQ8KD));
        const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) Finish(isum[r], mins[r], dd[r], dx, bsums, acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }

  // Decode (one token), y[r] for R rows: the token's block first, then each row unpacked (in
  // UnpackQ2KSplit's order) and used at once, so that only one row's weights are live (all
  // four rows' spilled: 28 stack accesses). The block sums are converted as 16 lanes and
  // accumulated so (no fold per block), the mins term in 8.
  template <int R>
  static void Decode(const Byte* w, size_t wrb, const Byte* x, int64_t nb, float* y) {
    __m512 accd[R];
    __m256 accm[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      accd[r] = _mm512_setzero_ps();
      accm[r] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Byte* xb = x + ib * kQ8KBytes;
      __m512i xq[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) xq[c] = SplitX(xb + kQ8KQs, c);
      const __m128 dx = _mm_set1_ps(LoadF32(xb + kQ8KD));
      const __m256i bsums = Load256(xb + kQ8KBsums);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kQ2Bytes;
        PrefetchAhead<kQ2Bytes>(b);
        __m512i wq[4];
        __m256i mins;
        __m128 dd;
        UnpackQ2KSplit(b, wq, mins, dd);
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) isum = _mm512_dpbusd_epi32(isum, wq[c], xq[c]);
        const __m128 sc = _mm_mul_ps(dd, dx);  // {d * d_x, dmin * d_x}
        accd[r] = _mm512_fmadd_ps(_mm512_broadcastss_ps(sc), _mm512_cvtepi32_ps(isum), accd[r]);
        const __m256i msum = _mm256_madd_epi16(mins, bsums);
        accm[r] = _mm256_fnmadd_ps(
            _mm256_permutexvar_ps(_mm256_set1_epi32(1), _mm256_castps128_ps256(sc)),
            _mm256_cvtepi32_ps(msum), accm[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256 d8 =
          _mm256_add_ps(_mm512_castps512_ps256(accd[r]),
                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(accd[r]), 1)));
      y[r] = HSum(_mm256_add_ps(d8, accm[r]));
    }
  }

  // acc += d * d_x * (the block's sums) - dmin * d_x * (mins . bsums). The 16 lanes of isum
  // are all in units of d * d_x (the table applied the sub-block scales): folded to 8 before
  // converting.
  [[gnu::always_inline]] static inline void Finish(__m512i isum, __m256i mins, __m128 dd, __m128 dx,
                                                   __m256i bsums, __m256& acc) {
    const __m128 sc = _mm_mul_ps(dd, dx);  // {d * d_x, dmin * d_x}
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(sc), _mm256_cvtepi32_ps(Fold(isum)), acc);
    const __m256i msum = _mm256_madd_epi16(mins, bsums);
    acc = _mm256_fnmadd_ps(_mm256_permutexvar_ps(_mm256_set1_epi32(1), _mm256_castps128_ps256(sc)),
                           _mm256_cvtepi32_ps(msum), acc);
  }
};

// Q3_K x Q8_K: q = low | high << 2 minus 4; two tables (high bit 0 and 1) per row.
struct Q3KKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    if constexpr (T == 1) {
      Decode<R>(w, wrb, x, nb, y);
      return;
    }
    const __m256i neg124 = _mm256_set1_epi16(-124);
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      __m512i wq[R][4];
      float dw[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kQ3Bytes;
        PrefetchAhead<kQ3Bytes>(b);
        Unpack(b, wq[r]);
        dw[r] = H2F(b + kQ3D);
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* xb = x + t * xrb + ib * kQ8KBytes;
        // -124 * sum(x), as eight int32 pair sums of the bsums
        const __m512i corr =
            _mm512_zextsi256_si512(_mm256_madd_epi16(Load256(xb + kQ8KBsums), neg124));
        __m512i isum[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) isum[r] = corr;
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m512i xq = Load512(xb + kQ8KQs + 64 * c);
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) isum[r] = _mm512_dpbusd_epi32(isum[r], wq[r][c], xq);
        }
        const float dx = LoadF32(xb + kQ8KD);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * dx), _mm256_cvtepi32_ps(Fold(isum[r])),
                                      acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }

  // Decode (one token), y[r] for R rows: as Q2KKernel::Decode, in UnpackQ2KSplit's order.
  template <int R>
  static void Decode(const Byte* w, size_t wrb, const Byte* x, int64_t nb, float* y) {
    const __m256i neg124 = _mm256_set1_epi16(-124);
    __m512 acc[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Byte* xb = x + ib * kQ8KBytes;
      const __m512i corr =
          _mm512_zextsi256_si512(_mm256_madd_epi16(Load256(xb + kQ8KBsums), neg124));
      __m512i xq[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) xq[c] = SplitX(xb + kQ8KQs, c);
      const __m512 dx = _mm512_set1_ps(LoadF32(xb + kQ8KD));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kQ3Bytes;
        PrefetchAhead<kQ3Bytes>(b);
        __m512i wq[4];
        UnpackSplit(b, wq);
        __m512i isum = corr;
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) isum = _mm512_dpbusd_epi32(isum, wq[c], xq[c]);
        acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(H2F(b + kQ3D)), dx),
                                 _mm512_cvtepi32_ps(isum), acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
  }

  // The two lookup tables of a block (high bit 0 and 1), sub-block byte i of the scales (after
  // the byte shuffle `ctrl`) in dword i. With s' = s + 32 in [0, 63] and v = 0..3 the low
  // bits, the four bytes of a table dword are, for high bit 0 (q = v - 4), 124 - (s' - 32)(4 -
  // v) = {252, 220, 188, 156} - s' {4, 3, 2, 1}, and for high bit 1 (q = v), 124 + (s' - 32) v
  // = {124, 92, 60, 28} + s' {0, 1, 2, 3}: no byte borrows or carries, so one dword
  // multiply-add builds each.
  [[gnu::always_inline]] static inline void Tables(const Byte* b, __m128i ctrl, __m512i& tlo,
                                                   __m512i& thi) {
    const __m512i lo_base = _mm512_set1_epi32(static_cast<int>(0x9CBCDCFCu));
    const __m512i lo_mul = _mm512_set1_epi32(0x01020304);
    const __m512i hi_base = _mm512_set1_epi32(0x1C3C5C7C);
    const __m512i hi_mul = _mm512_set1_epi32(0x03020100);
    const __m512i sb = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(Q3ScalesBiased(b + kQ3Scales), ctrl));
    tlo = _mm512_sub_epi32(lo_base, _mm512_mullo_epi32(sb, lo_mul));
    thi = _mm512_add_epi32(hi_base, _mm512_mullo_epi32(sb, hi_mul));
  }

  // Unpack in UnpackQ2KSplit's order: chunk f takes bits 2f of the qs vector (immediate
  // shifts of one load) and the high bits f (low half) and 4 + f (high half) of hmask.
  [[gnu::always_inline]] static inline void UnpackSplit(const Byte* b, __m512i* wq) {
    __m512i tlo, thi;
    Tables(b, SplitCtrl(), tlo, thi);
    const __m512i hm = Broadcast256(b + kQ3Hmask);
    const __m512i q = Load512(b + kQ3Qs);
#pragma GCC unroll 4
    for (int f = 0; f < 4; ++f) {
      const __m512i v = f == 0 ? q : _mm512_srli_epi16(q, 2 * f);
      const __m512i idx = Index(v, f);
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << f)),
                                             _mm256_set1_epi8(static_cast<char>(1 << (4 + f))), 1);
      const __mmask64 high = _mm512_test_epi8_mask(hm, bit);
      wq[f] = _mm512_mask_shuffle_epi8(_mm512_shuffle_epi8(tlo, idx), high, thi, idx);
    }
  }

  // One block as four vectors of u8 weights s_j * q + 124 (values 64c .. 64c + 63 in order).
  [[gnu::always_inline]] static inline void Unpack(const Byte* b, __m512i* wq) {
    const __m512i sh0 = FieldShift(0), sh1 = FieldShift(1);
    __m512i tlo, thi;
    Tables(b, TransposeCtrl(), tlo, thi);
    const __m512i hm = Broadcast256(b + kQ3Hmask);
    const __m512i q0 = Broadcast256(b + kQ3Qs);
    const __m512i q1 = Broadcast256(b + kQ3Qs + 32);
    wq[0] = Lookup(tlo, thi, hm, q0, sh0, 0);
    wq[1] = Lookup(tlo, thi, hm, q0, sh1, 1);
    wq[2] = Lookup(tlo, thi, hm, q1, sh0, 2);
    wq[3] = Lookup(tlo, thi, hm, q1, sh1, 3);
  }

  // Chunk c (values 64c .. 64c + 63): low bits from the shifted qs half, high bits 2c and
  // 2c + 1 of hmask (one per 32-value half), then the table of the high bit.
  [[gnu::always_inline]] static inline __m512i Lookup(__m512i tlo, __m512i thi, __m512i hm,
                                                      __m512i q, __m512i sh, int c) {
    const __m512i idx = Index(_mm512_srlv_epi64(q, sh), c);
    const __m512i bit =
        _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                           _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
    const __mmask64 high = _mm512_test_epi8_mask(hm, bit);
    return _mm512_mask_shuffle_epi8(_mm512_shuffle_epi8(tlo, idx), high, thi, idx);
  }
};

// Panel traits (avx512_panel.h).
struct Q2KPanel {
  static constexpr size_t kBytes = kQ2Bytes;
  static constexpr int kSub = 0;
  static constexpr bool kSeparateMins = true;
  static constexpr int kPairTokens = 5;  // pair tile (avx512_panel.h)
  static void Unpack(const Byte* b, PanelRow& out) {
    __m256i mins;
    __m128 dd;
    UnpackQ2K(b, out.q, mins, dd);
    out.mins = _mm512_zextsi256_si512(mins);  // int16 pairs (m_2p, m_2p+1) as they come
    out.d = _mm_cvtss_f32(dd);
    out.dmin = _mm_cvtss_f32(_mm_movehdup_ps(dd));
  }
};
struct Q3KPanel {
  static constexpr size_t kBytes = kQ3Bytes;
  static constexpr int kSub = 0;
  static constexpr bool kSeparateMins = false;
  static constexpr int kPairTokens = 5;
  static void Unpack(const Byte* b, PanelRow& out) {
    Q3KKernel::Unpack(b, out.q);
    out.mins = _mm512_set1_epi16(-124);  // the +124 offset of every weight: -124 * sum(x)
    out.d = H2F(b + kQ3D);
    out.dmin = 0.0f;
  }
};

}  // namespace

// Bit-identical to ref::QuantizeRowQ8_K: the same max (first value of largest magnitude), the
// same iscale = -127 / max and products iscale * x, rounded to nearest even by cvtps (what
// ggml's nearest_int computes for |v| < 2^22), clamped to 127 by the saturating vpmovsdb.
void QuantizeRowQ8_K(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const float* xb = x + ib * kQK_K;
    Byte* b = o + ib * kQ8KBytes;
    __m512 v[16];
    for (int g = 0; g < 16; ++g) v[g] = _mm512_loadu_ps(xb + 16 * g);
    __m512 vmax = v[0], vmin = v[0];
    for (int g = 1; g < 16; ++g) {
      vmax = _mm512_max_ps(vmax, v[g]);
      vmin = _mm512_min_ps(vmin, v[g]);
    }
    const float hi = _mm512_reduce_max_ps(vmax), lo = _mm512_reduce_min_ps(vmin);
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
    const __m512 vs = _mm512_set1_ps(iscale);
    __m512i q[16];
    for (int g = 0; g < 16; ++g) {
      q[g] = _mm512_cvtps_epi32(_mm512_mul_ps(vs, v[g]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b + kQ8KQs + 16 * g),
                       _mm512_cvtsepi32_epi8(q[g]));
    }
    // bsums[g] = sum of the 16 lanes of q[g]: a transposing reduction tree.
    __m512i p2[8];  // per 128-bit lane: {a0+a2, b0+b2, a1+a3, b1+b3} of groups 2i, 2i+1
    for (int i = 0; i < 8; ++i) {
      p2[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(q[2 * i], q[2 * i + 1]),
                               _mm512_unpackhi_epi32(q[2 * i], q[2 * i + 1]));
    }
    __m512i p4[4];  // per lane: the lane sums of groups 4i .. 4i + 3
    for (int i = 0; i < 4; ++i) {
      p4[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(p2[2 * i], p2[2 * i + 1]),
                               _mm512_unpackhi_epi64(p2[2 * i], p2[2 * i + 1]));
    }
    __m512i p8[2];  // lanes: {p4[2i] lanes 0+1, 2+3, p4[2i+1] lanes 0+1, 2+3}
    for (int i = 0; i < 2; ++i) {
      p8[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(p4[2 * i], p4[2 * i + 1], 0x88),
                               _mm512_shuffle_i32x4(p4[2 * i], p4[2 * i + 1], 0xDD));
    }
    const __m512i sums = _mm512_add_epi32(_mm512_shuffle_i32x4(p8[0], p8[1], 0x88),
                                          _mm512_shuffle_i32x4(p8[0], p8[1], 0xDD));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + kQ8KBsums), _mm512_cvtepi32_epi16(sums));
    const float d = 1.0f / iscale;
    std::memcpy(b + kQ8KD, &d, 4);
  }
}

// Tile shapes: decode x86::kKDecodeRows rows per pass; prefill 2 rows x 8 tokens (each unpacked
// row block serves 8 tokens, each activation load 2 rows; measured on Zen 4).
float VecDotQ2_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q2KKernel>(n, w_row, x_vd);
}
void MatMulQ2_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  PanelOrRows<Q2KPanel>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                        MatMulImpl<Q2KKernel, x86::kKDecodeRows, 2, 8>);
}

float VecDotQ3_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q3KKernel>(n, w_row, x_vd);
}
void MatMulQ3_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  PanelOrRows<Q3KPanel>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                        MatMulImpl<Q3KKernel, x86::kKDecodeRows, 2, 8>);
}

}  // namespace ondo::kernels::avx512
