// AVX-512 (F/BW/VL/VNNI) kernels of Q4_K, Q5_K, Q6_K and IQ4_XS against Q8_K activations
// (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called only when the CPU has
// them; no VBMI). Everything but the ondo::kernels::avx512 entry points has internal linkage.
//
// As the AVX2 kernels, with 64 values per vector: per block, each of the tile's R rows is
// unpacked once into four vectors of u8 (K-quants) or s8 (IQ4_XS) weights, in an order chosen
// for cheap unpacking, and each of the T tokens' activations is loaded once in the same order.
// Per row and token, the K-quants take vpdpbusd (4 products per int32 lane), vpackssdw and
// vpdpwssd with the sub-block scales (see DotPacked); IQ4_XS takes vpmaddubsw of |x| against w
// with x's sign, then vpdpwssd. Every integer sum is exact; d_w * d_x is applied once per block.

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
using x86::LoadU16;
using x86::LoadU32;
using x86::PrefetchAhead;
using x86::VecDotImpl;

// 32 bytes v in the low half, f(v) in the high half.
inline __m512i Concat(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
// The 16 int32 lanes folded to 8 with an integer add: the float work per block (convert,
// scale, accumulate) then takes half the FMA-pipe slots (on Zen 4 512-bit FMAs, vpdpbusd and
// vpdpwssd share the same pipes, integer adds do not).
inline __m256i Fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}
// GCC reassociates chains of integer vector adds into trees, which computes every product of a
// block first and spills them; an empty asm on the running sum keeps each add in place.
inline __m512i InOrder(__m512i v) {
  __asm__("" : "+v"(v));
  return v;
}

// The 6-bit scales and mins of a Q4_K / Q5_K block (ggml get_scale_min_k4, all 8 at once):
// bytes 0..7 = scales, 8..15 = mins. Reads the 12 packed bytes and the 4 after them (still
// inside the block: the quants follow).
inline __m128i UnpackScalesMinsK4(const Byte* packed) {
  const __m128i q = Load128(packed);
  // Bytes with the low bits of each value: scales 0..3 = q0..3, 4..7 = q8..11 (low nibbles),
  // mins 0..3 = q4..7, 4..7 = q8..11 (high nibbles); and with the top 2 bits of values 4..7:
  // q0..3 >> 6 for the scales, q4..7 >> 6 for the mins.
  const __m128i a =
      _mm_shuffle_epi8(q, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i b =
      _mm_shuffle_epi8(q, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i lo =
      _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
  const __m128i hi_nib = _mm_and_si128(
      _mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
  const __m128i top = _mm_and_si128(_mm_srli_epi16(b, 2), _mm_set1_epi8(0x30));
  return _mm_or_si128(_mm_or_si128(lo, hi_nib), top);
}

// vpternlogd immediate for a | (b & c).
constexpr int kOrAnd = 0xF8;

// vpdpbusd of 4 steps (u8 weights <= 63 against s8 activations: every int32 lane is a sum of 4
// products, |lane| <= 4 * 63 * 128 < 2^15), the lanes packed to int16 two steps at a time
// (vpackssdw, exact as they fit) and multiplied by the sub-block scales with vpdpwssd, whose
// int16 layout `sc` follows the packing. Exact int32 result.
inline __m512i DotPacked(const __m512i* w, const __m512i* sc, const __m512i* x) {
  const __m512i z = _mm512_setzero_si512();
  const __m512i p0 = _mm512_dpbusd_epi32(z, w[0], x[0]);
  const __m512i p1 = _mm512_dpbusd_epi32(z, w[1], x[1]);
  const __m512i p2 = _mm512_dpbusd_epi32(z, w[2], x[2]);
  const __m512i p3 = _mm512_dpbusd_epi32(z, w[3], x[3]);
  const __m512i s = _mm512_dpwssd_epi32(z, sc[0], _mm512_packs_epi32(p0, p1));
  return _mm512_dpwssd_epi32(s, sc[1], _mm512_packs_epi32(p2, p3));
}

// --- Q4_K and Q5_K: x ~= d * sc_j * q - dmin * m_j over 8 sub-blocks of 32 ---------------------
// The block's four 64-value vectors are the nibble vectors as they come, w = sub-blocks
// [0 | 2], [1 | 3], [4 | 6], [5 | 7] (256-bit halves), and the activations are loaded in that
// order instead (once per token and block, shared by the tile's rows; measured as fast as
// putting the weights in value order for prefill, 10% faster for decode).
template <bool kHasHighBit>
struct Q45K {
  static constexpr size_t kBytes = kHasHighBit ? sizeof(block_q5_K) : sizeof(block_q4_K);
  static constexpr size_t kQs = kHasHighBit ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
  struct Row {
    __m512i w[4];   // sub-blocks [0 | 2], [1 | 3], [4 | 6], [5 | 7]
    __m512i sc[2];  // int16 scales in the layout of DotPacked's packed lanes
    __m256 mins;    // dmin * m_j, j = 0..7
    __m256 d;       // d, broadcast
  };
  struct Tok {
    __m256 dy;  // the activation block's d, broadcast
    __m256 bp;  // dy * (bsum_2j + bsum_2j+1): dy times the sum of sub-block j's 32 quants
  };
  struct Acc {
    __m256 main;
    __m256 mins;
  };
  static void Prepare(const Byte* b, Row& s) {
    s.d = _mm256_set1_ps(H2F(LoadU16(b)));
    const __m128i sm = UnpackScalesMinsK4(b + 4);
    s.mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))),
                           _mm256_set1_ps(H2F(LoadU16(b + 2))));
    // Packed lane layout: 128-bit lane L of packs(p_2i, p_2i+1) holds dwords 4L..4L+3 of
    // p_2i then of p_2i+1, i.e. sub-blocks 4i + 2 (L / 2), then 4i + 1 + 2 (L / 2). a, b: the
    // int16 scale indices for lanes 0-1; c, e: for lanes 2-3 (byte offsets 2 * index).
    const __m512i all = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
    for (int i = 0; i < 2; ++i) {
      const int a = 4 * i, b = 4 * i + 1, c = 4 * i + 2, e = 4 * i + 3;
      const char a0 = static_cast<char>(2 * a), a1 = static_cast<char>(2 * a + 1);
      const char b0 = static_cast<char>(2 * b), b1 = static_cast<char>(2 * b + 1);
      const char c0 = static_cast<char>(2 * c), c1 = static_cast<char>(2 * c + 1);
      const char e0 = static_cast<char>(2 * e), e1 = static_cast<char>(2 * e + 1);
      s.sc[i] = _mm512_shuffle_epi8(
          all, _mm512_set_epi8(e1, e0, e1, e0, e1, e0, e1, e0, c1, c0, c1, c0, c1, c0, c1, c0,  //
                               e1, e0, e1, e0, e1, e0, e1, e0, c1, c0, c1, c0, c1, c0, c1, c0,  //
                               b1, b0, b1, b0, b1, b0, b1, b0, a1, a0, a1, a0, a1, a0, a1, a0,  //
                               b1, b0, b1, b0, b1, b0, b1, b0, a1, a0, a1, a0, a1, a0, a1, a0));
    }
    Quants(b, s.w);
  }
  // The quants as they come (w = sub-blocks [0 | 2], [1 | 3], [4 | 6], [5 | 7]).
  static void Quants(const Byte* b, __m512i* w) {
    // Quants: 64 bytes of qs give the low nibbles of chunks 2h, 2h + 1 (sub-blocks 4h, 4h + 2)
    // and their high nibbles (4h + 1, 4h + 3).
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int h = 0; h < 2; ++h) {
      const __m512i v = Load512(b + kQs + 64 * h);
      const __m512i lo = _mm512_and_si512(v, m4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      w[2 * h] = lo;
      w[2 * h + 1] = hi;
    }
    if constexpr (kHasHighBit) {
      // Sub-block j takes bit j of qh, moved to bit 4: w = [0|2], [1|3], [4|6], [5|7] take
      // bits (0, 2), (1, 3), (4, 6), (5, 7), i.e. bits 0, 1, 4, 5 of [qh | qh >> 2].
      const __m256i q = Load256(b + offsetof(block_q5_K, qh));
      const __m512i hb = Concat(q, _mm256_srli_epi16(q, 2));
      const __m512i m16 = _mm512_set1_epi8(0x10);
      w[0] = _mm512_ternarylogic_epi32(w[0], _mm512_slli_epi16(hb, 4), m16, kOrAnd);
      w[1] = _mm512_ternarylogic_epi32(w[1], _mm512_slli_epi16(hb, 3), m16, kOrAnd);
      w[2] = _mm512_ternarylogic_epi32(w[2], hb, m16, kOrAnd);
      w[3] = _mm512_ternarylogic_epi32(w[3], _mm512_srli_epi16(hb, 1), m16, kOrAnd);
    }
  }
  // The activations of vector c (0..3) in the layout of w[c]: values 32m..32m+31 of
  // sub-blocks m = 4 (c / 2) + c % 2 and m + 2.
  static __m512i LoadX(const Byte* qs, int c) {
    const Byte* p = qs + 128 * (c / 2) + 32 * (c % 2);
    return _mm512_inserti64x4(_mm512_castsi256_si512(Load256(p)), Load256(p + 64), 1);
  }
  static void PrepX(const __m512i*, __m512i*) {}
  static __m512i Dot(const Row& s, const __m512i* x, const __m512i*) {
    return DotPacked(s.w, s.sc, x);
  }
  static void PrepareTok(const Byte* xb, Tok& t) {
    t.dy = _mm256_set1_ps(LoadF32(xb));
    const __m256i pairs = _mm256_madd_epi16(Load256(xb + kQ8KBsums), _mm256_set1_epi16(1));
    t.bp = _mm256_mul_ps(_mm256_cvtepi32_ps(pairs), t.dy);
  }
  // d dy sum_j sc_j (q . x)_j in `main`; dmin dy sum_j m_j bsum-pair_j (subtracted at the end)
  // in `mins`, as float products of exact integers.
  static void Finish(const Row& s, const Tok& t, __m512i isum, Acc& a) {
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Fold(isum)), _mm256_mul_ps(s.d, t.dy), a.main);
    a.mins = _mm256_fmadd_ps(s.mins, t.bp, a.mins);
  }
  static void Zero(Acc& a) {
    a.main = _mm256_setzero_ps();
    a.mins = _mm256_setzero_ps();
  }
  static float Result(const Acc& a) { return HSum(a.main) - HSum(a.mins); }
};

// --- Q6_K: x ~= d * sc_j * (q - 32) over 16 sub-blocks of 16, q in 0..63 ------------------------
// The kernel multiplies the unsigned q and subtracts 32 * sum_j sc_j * bsum_j.
struct Q6K {
  static constexpr size_t kBytes = sizeof(block_q6_K);
  struct Row {
    __m512i w[4];   // values 64s..64s+63 = sub-blocks 4s .. 4s + 3, one per 128-bit lane
    __m512i sc[2];  // int16 scales in the layout of DotPacked's packed lanes
    __m256i sc16;   // the 16 scales (pairs with the 16 bsums)
    __m256 d;       // d, broadcast
  };
  struct Tok {
    __m256 dy;      // the activation block's d, broadcast
    __m256i bsums;  // the 16 bsums
  };
  struct Acc {
    __m256 main;
  };
  static void Prepare(const Byte* b, Row& s) {
    s.d = _mm256_set1_ps(H2F(LoadU16(b + offsetof(block_q6_K, d))));
    s.sc16 = _mm256_cvtepi8_epi16(Load128(b + offsetof(block_q6_K, scales)));
    // 128-bit lane L of packs(p_2i, p_2i+1): sub-block 8i + L (4 words), then 8i + 4 + L.
    const __m512i sc16z = _mm512_castsi256_si512(s.sc16);
    for (int i = 0; i < 2; ++i) {
      const short a = static_cast<short>(8 * i);
      s.sc[i] = _mm512_permutexvar_epi16(
          _mm512_set_epi16(a + 7, a + 7, a + 7, a + 7, a + 3, a + 3, a + 3, a + 3,  //
                           a + 6, a + 6, a + 6, a + 6, a + 2, a + 2, a + 2, a + 2,  //
                           a + 5, a + 5, a + 5, a + 5, a + 1, a + 1, a + 1, a + 1,  //
                           a + 4, a + 4, a + 4, a + 4, a, a, a, a),
          sc16z);
    }
    Quants(b, s.w);
  }
  // The quants q in 0..63, values 64c .. 64c + 63 in order.
  static void Quants(const Byte* b, __m512i* w) {
    // Half h: ql[64h..64h+63] low nibbles = values 128h + 0..63, high nibbles = 64..127; qh
    // bits 0-1, 2-3, 4-5, 6-7 of qh[32h..32h+31] for the four 32-value parts.
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
      const __m512i l = Load512(b + offsetof(block_q6_K, ql) + 64 * h);
      const __m256i q = Load256(b + offsetof(block_q6_K, qh) + 32 * h);
      const __m512i qh2 = Concat(q, _mm256_srli_epi16(q, 2));
      w[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(l, m4), _mm512_slli_epi16(qh2, 4),
                                             m30, kOrAnd);
      w[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), qh2,
                                                 m30, kOrAnd);
    }
  }
  static __m512i LoadX(const Byte* qs, int c) { return Load512(qs + 64 * c); }
  static void PrepX(const __m512i*, __m512i*) {}
  static __m512i Dot(const Row& s, const __m512i* x, const __m512i*) {
    return DotPacked(s.w, s.sc, x);
  }
  static void PrepareTok(const Byte* xb, Tok& t) {
    t.dy = _mm256_set1_ps(LoadF32(xb));
    t.bsums = Load256(xb + kQ8KBsums);
  }
  static void Finish(const Row& s, const Tok& t, __m512i isum, Acc& a) {
    const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(t.bsums, s.sc16), 5);
    const __m256i sum = _mm256_sub_epi32(Fold(isum), off);
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(s.d, t.dy), a.main);
  }
  static void Zero(Acc& a) { a.main = _mm256_setzero_ps(); }
  static float Result(const Acc& a) { return HSum(a.main); }
};

// --- IQ4_XS: x ~= d * (ls_j - 32) * kvalues[q] over 8 sub-blocks of 32 ------------------------
// Signed weights: |x| (once per activation vector, as u8, so -128 too) times w with x's sign
// (w negated where x < 0), vpmaddubsw (pair sums <= 2 * 128 * 127 < 2^15) then vpdpwssd.
// 64 bytes of qs as they come: w[2h] = values 0..15 and w[2h+1] = values 16..31 of
// sub-blocks 4h .. 4h + 3 (one per 128-bit lane, so both share one scale vector), and the
// activations gathered in that order (one lane shuffle per 64 values and token, shared by the
// tile's rows; measured 25% faster for decode than putting the weights in value order).
struct IQ4XS {
  static constexpr size_t kBytes = sizeof(block_iq4_xs);
  struct Row {
    __m512i w[4];   // signed levels, as above
    __m512i sc[4];  // int16 ls - 32 of each 128-bit lane's sub-block
    __m256 d;       // d, broadcast
  };
  struct Tok {
    __m256 dy;
  };
  struct Acc {
    __m256 main;
  };
  static void Prepare(const Byte* b, Row& s) {
    s.d = _mm256_set1_ps(H2F(LoadU16(b)));
    // Low 4 bits: nibbles of scales_l in order; high 2 bits: the 2-bit fields of scales_h
    // spread to one per byte.
    const __m128i sl =
        _mm_cvtsi32_si128(static_cast<int>(LoadU32(b + offsetof(block_iq4_xs, scales_l))));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m128i lo =
        _mm_unpacklo_epi8(_mm_and_si128(sl, m4), _mm_and_si128(_mm_srli_epi16(sl, 4), m4));
    uint64_t h = LoadU16(b + offsetof(block_iq4_xs, scales_h));
    h = (h & 0xFFu) | ((h & 0xFF00u) << 24);
    h = (h & 0x0000000F0000000Full) | ((h & 0x000000F0000000F0ull) << 12);
    h = (h & 0x0003000300030003ull) | ((h & 0x000C000C000C000Cull) << 6);
    const __m128i ls = _mm_or_si128(lo, _mm_cvtsi64_si128(static_cast<long long>(h << 4)));
    const __m512i all =
        _mm512_broadcast_i32x4(_mm_sub_epi16(_mm_cvtepu8_epi16(ls), _mm_set1_epi16(32)));
    const __m512i table =
        _mm512_broadcast_i32x4(Load128(reinterpret_cast<const Byte*>(kIq4nlValues)));
    const __m512i n4 = _mm512_set1_epi8(0x0F);
    for (int h = 0; h < 2; ++h) {
      // int16 lane of 128-bit lane L: scale of sub-block 4h + L.
      const char a0 = static_cast<char>(8 * h), a1 = static_cast<char>(8 * h + 1);
      const char b0 = static_cast<char>(8 * h + 2), b1 = static_cast<char>(8 * h + 3);
      const char c0 = static_cast<char>(8 * h + 4), c1 = static_cast<char>(8 * h + 5);
      const char e0 = static_cast<char>(8 * h + 6), e1 = static_cast<char>(8 * h + 7);
      s.sc[2 * h] = s.sc[2 * h + 1] = _mm512_shuffle_epi8(
          all, _mm512_set_epi8(e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0,  //
                               c1, c0, c1, c0, c1, c0, c1, c0, c1, c0, c1, c0, c1, c0, c1, c0,  //
                               b1, b0, b1, b0, b1, b0, b1, b0, b1, b0, b1, b0, b1, b0, b1, b0,  //
                               a1, a0, a1, a0, a1, a0, a1, a0, a1, a0, a1, a0, a1, a0, a1, a0));
      const __m512i v = Load512(b + offsetof(block_iq4_xs, qs) + 64 * h);
      s.w[2 * h] = _mm512_shuffle_epi8(table, _mm512_and_si512(v, n4));
      s.w[2 * h + 1] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), n4));
    }
  }
  // The activations of vector c in the layout of w[c]: 128-bit lanes 0, 2 (values 0..15 of
  // each sub-block) or 1, 3 (values 16..31) of the 128 values of sub-blocks 4h..4h+3.
  static __m512i LoadX(const Byte* qs, int c) {
    const __m512i x0 = Load512(qs + 128 * (c / 2)), x1 = Load512(qs + 128 * (c / 2) + 64);
    return c % 2 == 0 ? _mm512_shuffle_i64x2(x0, x1, _MM_SHUFFLE(2, 0, 2, 0))
                      : _mm512_shuffle_i64x2(x0, x1, _MM_SHUFFLE(3, 1, 3, 1));
  }
  static void PrepX(const __m512i* x, __m512i* ax) {
    for (int c = 0; c < 4; ++c) ax[c] = _mm512_abs_epi8(x[c]);
  }
  static __m512i Dot(const Row& s, const __m512i* x, const __m512i* ax) {
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __mmask64 neg = _mm512_movepi8_mask(x[c]);
      const __m512i ws = _mm512_mask_sub_epi8(s.w[c], neg, _mm512_setzero_si512(), s.w[c]);
      acc = InOrder(_mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(ax[c], ws), s.sc[c]));
    }
    return acc;
  }
  static void PrepareTok(const Byte* xb, Tok& t) { t.dy = _mm256_set1_ps(LoadF32(xb)); }
  static void Finish(const Row& s, const Tok& t, __m512i isum, Acc& a) {
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Fold(isum)), _mm256_mul_ps(s.d, t.dy), a.main);
  }
  static void Zero(Acc& a) { a.main = _mm256_setzero_ps(); }
  static float Result(const Acc& a) { return HSum(a.main); }
};

// R weight rows x T tokens: per block, each row's 256 values are unpacked once (into
// registers) and used T times; each token's 256 activations are loaded once and used R times.
template <class D>
struct KTile {
  // One token's block: its quants as loaded and as D::PrepX makes them, and D's token values.
  struct Tok {
    __m512i xv[4], xp[4];
    typename D::Tok t;
  };
  [[gnu::always_inline]] static inline void LoadTok(const Byte* xb, Tok& o) {
    for (int c = 0; c < 4; ++c) o.xv[c] = D::LoadX(xb + kQ8KQs, c);
    D::PrepX(o.xv, o.xp);
    D::PrepareTok(xb, o.t);
  }

  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    typename D::Acc acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) D::Zero(acc[r][t]);
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      if constexpr (T == 1) {
        // Decode: the token's block first, then each row unpacked and used at once, so that
        // only one row's weights are live (all R rows' spilled: Q4_K 77 stack accesses in the
        // 4-row tile, Q5_K 92, IQ4_XS 63).
        Tok tok;
        LoadTok(x + ib * kQ8KBytes, tok);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          PrefetchAhead<D::kBytes>(w + r * wrb + ib * D::kBytes);
          typename D::Row row;
          D::Prepare(w + r * wrb + ib * D::kBytes, row);
          D::Finish(row, tok.t, D::Dot(row, tok.xv, tok.xp), acc[r][0]);
        }
        continue;
      }
      typename D::Row row[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        PrefetchAhead<D::kBytes>(w + r * wrb + ib * D::kBytes);
        D::Prepare(w + r * wrb + ib * D::kBytes, row[r]);
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        Tok tok;
        LoadTok(x + t * xrb + ib * kQ8KBytes, tok);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          D::Finish(row[r], tok.t, D::Dot(row[r], tok.xv, tok.xp), acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = D::Result(acc[r][t]);
    }
  }
};

using Q4KKernel = KTile<Q45K<false>>;
using Q5KKernel = KTile<Q45K<true>>;
using Q6KKernel = KTile<Q6K>;
using IQ4XSKernel = KTile<IQ4XS>;

// Panel traits (avx512_panel.h).
template <bool kHasHighBit>
struct Q45KPanel {
  static constexpr size_t kBytes = Q45K<kHasHighBit>::kBytes;
  static constexpr int kSub = 32;
  static constexpr bool kSeparateMins = true;
  static constexpr int kPairTokens = 3;  // pair tile (avx512_panel.h); 4 measured slower
  static void Unpack(const Byte* b, PanelRow& out) {
    __m512i w[4];
    Q45K<kHasHighBit>::Quants(b, w);  // [0 | 2], [1 | 3], [4 | 6], [5 | 7] -> value order
    out.q[0] = _mm512_shuffle_i64x2(w[0], w[1], _MM_SHUFFLE(1, 0, 1, 0));
    out.q[1] = _mm512_shuffle_i64x2(w[0], w[1], _MM_SHUFFLE(3, 2, 3, 2));
    out.q[2] = _mm512_shuffle_i64x2(w[2], w[3], _MM_SHUFFLE(1, 0, 1, 0));
    out.q[3] = _mm512_shuffle_i64x2(w[2], w[3], _MM_SHUFFLE(3, 2, 3, 2));
    const __m128i sm = UnpackScalesMinsK4(b + 4);
    out.sc = _mm512_cvtepu8_epi32(sm);  // dwords 0..7: the scales
    // Sub-block j's min against both bsums of its 32 values: the int16 pair (m_j, m_j).
    const __m512i m = _mm512_cvtepu8_epi32(_mm_srli_si128(sm, 8));
    out.mins = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
    out.d = H2F(LoadU16(b));
    out.dmin = H2F(LoadU16(b + 2));
  }
};
struct Q6KPanel {
  static constexpr size_t kBytes = Q6K::kBytes;
  static constexpr int kSub = 16;
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow& out) {
    Q6K::Quants(b, out.q);
    const __m128i sc = Load128(b + offsetof(block_q6_K, scales));
    out.sc = _mm512_cvtepi8_epi32(sc);
    // q - 32: -32 * sc_j against bsum j, in units of d.
    out.mins = _mm512_zextsi256_si512(
        _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc), _mm256_set1_epi16(-32)));
    out.d = H2F(LoadU16(b + offsetof(block_q6_K, d)));
    out.dmin = 0.0f;
  }
};

// IQ4_XS: u = level + 128 (1 .. 241), scales ls_j - 32 per sub-block of 32; the +128 is removed
// by the mins term -128 * (ls_j - 32) against both bsums of sub-block j, in units of d.
struct IQ4XSPanel {
  static constexpr size_t kBytes = sizeof(block_iq4_xs);
  static constexpr int kSub = 32;
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow& out) {
    const __m512i table = _mm512_broadcast_i32x4(_mm_add_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)), _mm_set1_epi8(static_cast<char>(-128))));
    // Sub-block j: qs[16j .. 16j + 15], low nibbles values 32j .. 32j + 15, high the next 16.
    for (int h = 0; h < 4; ++h) {  // output vector h: sub-blocks 2h, 2h + 1
      const __m256i q = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(b + offsetof(block_iq4_xs, qs) + 32 * h));
      const __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0F));
      // [lo j0 | hi j0 | lo j1 | hi j1] (128-bit lanes)
      const __m512i v = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_permute2x128_si256(lo, hi, 0x20)),
          _mm256_permute2x128_si256(lo, hi, 0x31), 1);
      out.q[h] = _mm512_shuffle_epi8(table, v);  // nibbles 0..15 index the 16 levels
    }
    const uint32_t sl = LoadU32(b + offsetof(block_iq4_xs, scales_l));
    const uint32_t sh = LoadU16(b + offsetof(block_iq4_xs, scales_h));
    alignas(64) int32_t sc[16] = {};
    alignas(64) int32_t mins[16] = {};
    for (int j = 0; j < 8; ++j) {
      const int ls = static_cast<int>(((sl >> (4 * j)) & 0xF) | (((sh >> (2 * j)) & 3) << 4));
      sc[j] = ls - 32;
      const int m = -128 * (ls - 32);  // in [-3968, 4096]: an int16
      mins[j] = static_cast<int32_t>((static_cast<uint32_t>(m) & 0xFFFFu) | (static_cast<uint32_t>(m) << 16));
    }
    out.sc = _mm512_load_si512(sc);
    out.mins = _mm512_load_si512(mins);
    out.d = H2F(LoadU16(b));
    out.dmin = 0.0f;
  }
};

template <class P, class K, int R1, int R, int T>
void MatMulPanel(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  PanelOrRows<P>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                 x86::MatMulImpl<K, R1, R, T>);
}

// Decode: R1 rows per pass (x86::kKDecodeRows); prefill: R x T tiles (measured on Zen 4 with
// L2-resident weights; 2 x 8 keeps 16 accumulators and both rows' unpacked blocks in the 32
// registers).
template <class K, int R1, int R, int T>
void MatMulK(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd,
             size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  x86::MatMulImpl<K, R1, R, T>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace

float VecDotQ4_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q4KKernel>(n, w_row, x_vd);
}
void MatMulQ4_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel<Q45KPanel<false>, Q4KKernel, x86::kKDecodeRows, 2, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ5_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q5KKernel>(n, w_row, x_vd);
}
void MatMulQ5_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel<Q45KPanel<true>, Q5KKernel, x86::kKDecodeRows, 2, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ6_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q6KKernel>(n, w_row, x_vd);
}
void MatMulQ6_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel<Q6KPanel, Q6KKernel, x86::kKDecodeRows, 2, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotIQ4_XS(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<IQ4XSKernel>(n, w_row, x_vd);
}
void MatMulIQ4_XS(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel<IQ4XSPanel, IQ4XSKernel, x86::kKDecodeRows, 4, 6>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::avx512
