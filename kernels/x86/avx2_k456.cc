// AVX2 kernels of Q4_K, Q5_K, Q6_K and IQ4_XS against Q8_K activations (compiled with -mavx2
// -mfma -mf16c; called only when the CPU has them). Everything but the ondo::kernels::avx2 entry
// points has internal linkage.
//
// Each weight type is an "unpacker" D that turns one 256-value super-block of one row into 8
// steps of 32 int8 weights (in activation order) plus an int16 scale vector per step, and
// finishes a block's exact int32 lane sums into the float accumulator. KTile<D> drives them:
// the weights of a step are unpacked once per R rows x T tokens tile; per token and row a step
// is maddubs (u8 x s8 pairs, no saturation: the K-quant weights are 0..63) then madd with the
// scales (int32, exact). IQ4_XS weights are signed: |x| (as u8, so -128 too) times w with x's
// sign, |w| <= 127: pair sums <= 2 * 128 * 127 < 2^15. Exact for any int8 activations.

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
using x86::HSum;
using x86::Load128;
using x86::Load256;
using x86::LoadF32;
using x86::LoadU16;
using x86::LoadU32;
using x86::MatMulImpl;
using x86::PrefetchAhead;
using x86::VecDotImpl;

// GCC reassociates chains of integer vector adds into trees, which computes every product of a
// block first and spills them; an empty asm on the running sum keeps each add in place.
inline __m256i InOrder(__m256i v) {
  __asm__("" : "+x"(v));
  return v;
}

// pshufb control that copies int16 lane j (0..7) of each 128-bit half to all 8 lanes.
inline __m256i BroadcastLane16(int j) {
  const char lo = static_cast<char>(2 * j), hi = static_cast<char>(2 * j + 1);
  return _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                          lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi);
}
// Lane j (0..7) of the low 128-bit half to all lanes of the low half, lane k of the high half
// to all lanes of the high half.
inline __m256i BroadcastLanes16(int j, int k) {
  const char a = static_cast<char>(2 * j), b = static_cast<char>(2 * j + 1);
  const char c = static_cast<char>(2 * k), d = static_cast<char>(2 * k + 1);
  return _mm256_setr_epi8(a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, c, d, c, d, c, d, c, d, c,
                          d, c, d, c, d, c, d);
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

// --- Q4_K and Q5_K: x ~= d * sc_j * q - dmin * m_j over 8 sub-blocks of 32 ---------------------
template <bool kHasHighBit>
struct Q45K {
  static constexpr size_t kBytes = kHasHighBit ? sizeof(block_q5_K) : sizeof(block_q4_K);
  static constexpr size_t kQs = kHasHighBit ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
  struct Row {
    const Byte* qs;
    __m256i qh;      // Q5_K: bit j of byte l adds 16 to value l of sub-block j
    __m256i scales;  // int16 scales 0..7 in each 128-bit half
    __m256 mins;     // dmin * m_j, j = 0..7
    __m256 d;        // d, broadcast
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
    s.scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    s.mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))),
                           _mm256_set1_ps(H2F(LoadU16(b + 2))));
    s.qs = b + kQs;
    if constexpr (kHasHighBit) s.qh = Load256(b + offsetof(block_q5_K, qh));
  }
  // Step j = sub-block j: low nibbles of qs[32 (j/2) ..] for even j, high ones for odd j.
  static __m256i Get(const Row& s, int j) {
    const __m256i v = Load256(s.qs + 32 * (j / 2));
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i q =
        (j % 2 == 0) ? _mm256_and_si256(v, m4) : _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if constexpr (kHasHighBit) {
      // bit j of qh -> bit 4 (16-bit shifts: the masked bit never crosses a byte)
      __m256i h = _mm256_and_si256(s.qh, _mm256_set1_epi8(static_cast<char>(1 << j)));
      if (j < 4) h = _mm256_slli_epi16(h, 4 - j);
      if (j > 4) h = _mm256_srli_epi16(h, j - 4);
      q = _mm256_or_si256(q, h);
    }
    return q;
  }
  static __m256i Scale(const Row& s, int j) {
    return _mm256_shuffle_epi8(s.scales, BroadcastLane16(j));
  }
  static __m256i LoadX(const Byte* qs, int j) { return Load256(qs + 32 * j); }
  static __m256i PrepX(__m256i x) { return x; }
  static __m256i Dot(__m256i w, __m256i sc, __m256i x, __m256i) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), sc);
  }
  static void PrepareTok(const Byte* xb, Tok& t) {
    const float dy = LoadF32(xb);
    t.dy = _mm256_set1_ps(dy);
    const __m256i pairs = _mm256_madd_epi16(Load256(xb + kQ8KBsums), _mm256_set1_epi16(1));
    t.bp = _mm256_mul_ps(_mm256_cvtepi32_ps(pairs), t.dy);
  }
  // d dy sum_j sc_j (q . x)_j in `main`; dmin dy sum_j m_j bsum-pair_j (subtracted at the end)
  // in `mins`, as float products of exact integers.
  static void Finish(const Row& s, const Tok& t, __m256i isum, Acc& a) {
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(s.d, t.dy), a.main);
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
    const Byte* ql;
    const Byte* qh;
    __m256i sc_lo;  // int16 scales 0..7 in both halves
    __m256i sc_hi;  // int16 scales 8..15 in both halves
    __m256i sc16;   // int16 scales 0..15 (pairs with the 16 bsums)
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
    s.ql = b + offsetof(block_q6_K, ql);
    s.qh = b + offsetof(block_q6_K, qh);
    s.sc16 = _mm256_cvtepi8_epi16(Load128(b + offsetof(block_q6_K, scales)));
    s.sc_lo = _mm256_permute2x128_si256(s.sc16, s.sc16, 0x00);
    s.sc_hi = _mm256_permute2x128_si256(s.sc16, s.sc16, 0x11);
    s.d = _mm256_set1_ps(H2F(LoadU16(b + offsetof(block_q6_K, d))));
  }
  // Step j (32 values 32j..32j+31) = part m = j % 4 of half h = j / 4: low (m = 0, 1) or high
  // (m = 2, 3) nibbles of ql[64h + 32 (m % 2) ..], bits 2m..2m+1 of qh[32h ..] on top.
  static __m256i Get(const Row& s, int j) {
    const int h = j / 4, m = j % 4;
    const __m256i l = Load256(s.ql + 64 * h + 32 * (m % 2));
    const __m256i hb = Load256(s.qh + 32 * h);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i lo =
        m < 2 ? _mm256_and_si256(l, m4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m4);
    __m256i hi;
    if (m == 0) {
      hi = _mm256_slli_epi16(hb, 4);
    } else if (m == 1) {
      hi = _mm256_slli_epi16(hb, 2);
    } else if (m == 2) {
      hi = hb;
    } else {
      hi = _mm256_srli_epi16(hb, 2);
    }
    return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(0x30)));
  }
  // Step j covers sub-blocks 2j (low 128-bit half) and 2j + 1.
  static __m256i Scale(const Row& s, int j) {
    const __m256i src = j < 4 ? s.sc_lo : s.sc_hi;
    return _mm256_shuffle_epi8(src, BroadcastLanes16((2 * j) % 8, (2 * j + 1) % 8));
  }
  static __m256i LoadX(const Byte* qs, int j) { return Load256(qs + 32 * j); }
  static __m256i PrepX(__m256i x) { return x; }
  static __m256i Dot(__m256i w, __m256i sc, __m256i x, __m256i) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), sc);
  }
  static void PrepareTok(const Byte* xb, Tok& t) {
    t.dy = _mm256_set1_ps(LoadF32(xb));
    t.bsums = Load256(xb + kQ8KBsums);
  }
  static void Finish(const Row& s, const Tok& t, __m256i isum, Acc& a) {
    const __m256i off = _mm256_madd_epi16(t.bsums, s.sc16);
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(off, 5));
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(s.d, t.dy), a.main);
  }
  static void Zero(Acc& a) { a.main = _mm256_setzero_ps(); }
  static float Result(const Acc& a) { return HSum(a.main); }
};

// --- IQ4_XS: x ~= d * (ls_j - 32) * kvalues[q] over 8 sub-blocks of 32 ------------------------
struct IQ4XS {
  static constexpr size_t kBytes = sizeof(block_iq4_xs);
  // Decode keeps the R-row order of KTile: |x| is worth sharing (row at a time measured 1.29x
  // the time in bench_kernels 8960x1536, 1 token).
  static constexpr bool kSharedPrepX = true;
  struct Row {
    const Byte* qs;
    __m256i scales;  // int16 ls_j - 32, j = 0..7, in each 128-bit half
    __m256 d;        // d, broadcast
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
    const __m128i ls16 = _mm_sub_epi16(_mm_cvtepu8_epi16(ls), _mm_set1_epi16(32));
    s.scales = _mm256_broadcastsi128_si256(ls16);
    s.qs = b + offsetof(block_iq4_xs, qs);
  }
  // Step j = sub-block j: low nibbles of qs[16j..16j+15] (values 0..15), then the high ones.
  // (Gathering the activations instead, as the AVX-512 kernel does, measured 4% faster for
  // decode but 8% slower for prefill here.)
  static __m256i Get(const Row& s, int j) {
    const __m256i v = _mm256_broadcastsi128_si256(Load128(s.qs + 16 * j));
    const __m256i idx = _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)),
                                         _mm256_set1_epi8(0x0F));
    const __m256i table =
        _mm256_broadcastsi128_si256(Load128(reinterpret_cast<const Byte*>(kIq4nlValues)));
    return _mm256_shuffle_epi8(table, idx);
  }
  static __m256i Scale(const Row& s, int j) {
    return _mm256_shuffle_epi8(s.scales, BroadcastLane16(j));
  }
  static __m256i LoadX(const Byte* qs, int j) { return Load256(qs + 32 * j); }
  // |x| (once per activation vector, shared by all rows) times w with x's sign.
  static __m256i PrepX(__m256i x) { return _mm256_sign_epi8(x, x); }
  static __m256i Dot(__m256i w, __m256i sc, __m256i x, __m256i ax) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, x)), sc);
  }
  static void PrepareTok(const Byte* xb, Tok& t) { t.dy = _mm256_set1_ps(LoadF32(xb)); }
  static void Finish(const Row& s, const Tok& t, __m256i isum, Acc& a) {
    a.main = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(s.d, t.dy), a.main);
  }
  static void Zero(Acc& a) { a.main = _mm256_setzero_ps(); }
  static float Result(const Acc& a) { return HSum(a.main); }
};

// D::kSharedPrepX, when set: decode too keeps the R-row order of KTile (see IQ4XS).
template <class D>
constexpr bool SharedPrepX() {
  if constexpr (requires { D::kSharedPrepX; }) {
    return D::kSharedPrepX;
  } else {
    return false;
  }
}

// R weight rows x T tokens: per block, each step's weights are unpacked once and used T times,
// each activation vector is loaded once and used R times. Per (row, token) the 8 steps add
// into one int32 vector (exact); Finish turns it into float once per block.
template <class D>
struct KTile {
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
      if constexpr (T == 1 && !SharedPrepX<D>()) {
        // Decode: each row unpacked and used at once, the activations read from L1 for each,
        // so that one row's weights are live instead of R rows' (Q4_K's 4-row tile kept 91
        // values on the stack; bench_kernels 8960x1536, 1 token, Zen 5: Q6_K 0.78 of the
        // time, Q4_K 0.95, Q5_K the same).
        const Byte* xb = x + ib * kQ8KBytes;
        typename D::Tok tok;
        D::PrepareTok(xb, tok);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          PrefetchAhead<D::kBytes>(w + r * wrb + ib * D::kBytes);
          typename D::Row row;
          D::Prepare(w + r * wrb + ib * D::kBytes, row);
          __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            const __m256i xv = D::LoadX(xb + kQ8KQs, j);
            isum = InOrder(
                _mm256_add_epi32(isum, D::Dot(D::Get(row, j), D::Scale(row, j), xv, D::PrepX(xv))));
          }
          D::Finish(row, tok, isum, acc[r][0]);
        }
        continue;
      }
      typename D::Row row[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        PrefetchAhead<D::kBytes>(w + r * wrb + ib * D::kBytes);
        D::Prepare(w + r * wrb + ib * D::kBytes, row[r]);
      }
      const Byte* xb = x + ib * kQ8KBytes;
      __m256i isum[R][T];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m256i wv[R], sv[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          wv[r] = D::Get(row[r], j);
          sv[r] = D::Scale(row[r], j);
        }
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m256i xv = D::LoadX(xb + t * xrb + kQ8KQs, j);
          const __m256i xp = D::PrepX(xv);
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            isum[r][t] = InOrder(_mm256_add_epi32(isum[r][t], D::Dot(wv[r], sv[r], xv, xp)));
          }
        }
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        typename D::Tok tok;
        D::PrepareTok(xb + t * xrb, tok);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) D::Finish(row[r], tok, isum[r][t], acc[r][t]);
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

// Panel traits (avx2_panel.h).
template <bool kHasHighBit>
struct Q45KPanel8 {
  static constexpr size_t kBytes = Q45K<kHasHighBit>::kBytes;
  static constexpr int kSub = 32;
  // |sum| <= 2 * 2 * 31 * 128 < 2^15 (up to 8 groups fit for Q4_K; 2 measured fastest)
  static constexpr int kMaddGroups = 2;
  static constexpr bool kSeparateMins = true;
  static void Unpack(const Byte* b, PanelRow8& out) {
    typename Q45K<kHasHighBit>::Row row;
    Q45K<kHasHighBit>::Prepare(b, row);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) out.q[j] = Q45K<kHasHighBit>::Get(row, j);
    const __m128i sm = UnpackScalesMinsK4(b + 4);
    out.sc16 = _mm256_cvtepu8_epi16(sm);  // int16 0..7: the scales
    // Sub-block j's min against both bsums of its 32 values: the int16 pair (m_j, m_j).
    const __m256i m = _mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8));
    out.mins = _mm256_or_si256(m, _mm256_slli_epi32(m, 16));
    out.d = H2F(LoadU16(b));
    out.dmin = H2F(LoadU16(b + 2));
  }
};
struct Q6KPanel8 {
  static constexpr size_t kBytes = Q6K::kBytes;
  static constexpr int kSub = 16;
  static constexpr int kMaddGroups = 2;  // |sum| <= 2 * 2 * 63 * 128
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow8& out) {
    Q6K::Row row;
    Q6K::Prepare(b, row);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) out.q[j] = Q6K::Get(row, j);
    out.sc16 = row.sc16;
    out.mins = _mm256_mullo_epi16(row.sc16, _mm256_set1_epi16(-32));  // q - 32
    out.d = H2F(LoadU16(b + offsetof(block_q6_K, d)));
    out.dmin = 0.0f;
  }
};

template <class P, class K, int R1, int R, int T>
void MatMulPanel8(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  Panel8OrRows<P>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                  x86::MatMulImpl<K, R1, R, T>);
}

// Decode: R1 rows per pass (x86::kKDecodeRows); prefill: R x T tiles (measured on Zen 4 with
// L2-resident weights: one row against 8 tokens keeps 8 int32 sums and the step's weights in
// registers; IQ4_XS, with more work per unpacked step, prefers two rows).
template <class K, int R1, int R, int T>
void MatMulK(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd,
             size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulImpl<K, R1, R, T>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace

float VecDotQ4_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q4KKernel>(n, w_row, x_vd);
}
void MatMulQ4_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel8<Q45KPanel8<false>, Q4KKernel, x86::kKDecodeRows, 1, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ5_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q5KKernel>(n, w_row, x_vd);
}
void MatMulQ5_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel8<Q45KPanel8<true>, Q5KKernel, x86::kKDecodeRows, 1, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ6_K(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q6KKernel>(n, w_row, x_vd);
}
void MatMulQ6_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulPanel8<Q6KPanel8, Q6KKernel, x86::kKDecodeRows, 1, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotIQ4_XS(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<IQ4XSKernel>(n, w_row, x_vd);
}
void MatMulIQ4_XS(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulK<IQ4XSKernel, x86::kKDecodeRows, 2, 8>(
      w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::avx2
