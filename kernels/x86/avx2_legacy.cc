// AVX2 + FMA + F16C kernels of the legacy block-of-32 weight types Q4_0, Q4_1, Q5_0, Q5_1 and
// IQ4_NL (against Q8_0 / Q8_1 activations), and the Q8_1 activation quantizer. Compiled with
// -mavx2 -mfma -mf16c; internal linkage everywhere except the entry points, no std:: templates
// (see avx2.cc).
//
// Layout (as avx512_legacy.cc with 2 blocks per group instead of 4). Weights of a group of two
// blocks are unpacked to two ymm, `lo` from elements 0..15 and `hi` from elements 16..31 of
// the blocks, int32 lane i holding 4 bytes of block i % 2; vpmaddubsw(lo, x_lo) +
// vpmaddubsw(hi, x_hi) then vpmaddwd with ones gives int32 lanes that each belong to one
// block, so the conversion, the scale product and the FMA are done once per two blocks.
// - Q4_0, Q4_1, Q5_0, Q5_1: the unsigned weight byte is the stored 4- or 5-bit quant (0..31);
//   the offset (8, 16) is removed exactly by adding -offset * sum(x of block b) to lane b. A
//   16-bit pair sum is at most 2 * 31 * 128 and the sum of the lo and hi pair sums at most
//   15872: no saturation for any weight block and any int8 activation.
// - IQ4_NL: the levels are signed (-127 .. 113), so ggml's sign trick: |w| times x with w's
//   sign; pair sums <= 2 * 127 * 127 = 32258 for activations in [-127, 127] (REQUIRES, as
//   QuantizeRowQ8_0 makes them), each widened to int32 before the lo and hi sums are added.
//
// Activations are first rearranged into that layout (XQuants, XScales) in stack buffers, once
// per call for a panel of tokens and a chunk of k.

#include <cstdint>
#include <cstring>

#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/x86/avx2_panel32.h"
#include "kernels/x86/group_driver.h"
#include "kernels/x86/quantize_q8.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx2 {
namespace {

using x86::Byte;
using x86::F2H;
using x86::HMax;
using x86::HSum;
using x86::HSumI32;
using x86::LoadU16;
using x86::LoadU32;
using x86::Min64;
using x86::PrefetchAhead;

using Kind = LegacyKind;

// The block layout (block_layout.h), and how these kernels take the weights.
template <Kind K>
struct Traits : LegacyLayout<K> {
  static constexpr bool kSigned = K == Kind::kIQ4_NL;  // sign trick
  static constexpr int kOffset = K == Kind::kQ4_0 ? 8 : K == Kind::kQ5_0 ? 16 : 0;
};

constexpr int kGroup = 2;  // blocks per group

// Activations of one group of one token, rearranged.
struct XQuants {
  __m256i lo;  // qs[0..15] of the 2 blocks, lane i from block i % 2
  __m256i hi;  // qs[16..31]
};
struct alignas(16) XScales {
  int32_t c[kGroup];  // kOffset != 0: -kOffset * sum(qs of block b); kHasMin: s_b (f32 bits)
  float d[kGroup];    // d_x of block b
};
static_assert(sizeof(XQuants) == 64 && sizeof(XScales) == 16, "X layout");

// Dword i <- dword 4 * (i % 2) + i / 2: from one block per 128-bit lane to block i % 2.
inline __m256i ToGroupLanes(__m256i v) {
  return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
// [a, b, ...] -> [a, b, a, b, a, b, a, b].
inline __m256 Spread2(__m128 v) {
  return _mm256_castpd_ps(_mm256_broadcastsd_pd(_mm_castps_pd(v)));
}

// 16 bytes at p (low lane) and, if count == 2, at p + stride (high lane, else zero).
template <size_t kStride>
inline __m256i Load2x16(const Byte* p, int count) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i b = count == kGroup ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kStride))
                                    : _mm_setzero_si128();
  return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
}

// Two f16 fields (at p and p + 2 of each block; zero for a missing second block) as f32:
// [a0, b0, a1, b1].
template <size_t kStride>
inline __m128 LoadPairsF16(const Byte* p, int count) {
  const uint64_t v =
      LoadU32(p) | (count == kGroup ? static_cast<uint64_t>(LoadU32(p + kStride)) << 32 : 0);
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(v)));
}
// One f16 field of the (one or two) blocks as f32 [a0, a1, 0, 0].
template <size_t kStride>
inline __m128 LoadF16x2(const Byte* p, int count) {
  const uint32_t v =
      LoadU16(p) | (count == kGroup ? static_cast<uint32_t>(LoadU16(p + kStride)) << 16 : 0);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(v)));
}

template <Kind K>
void PrepX(const Byte* x, int64_t nblocks, XQuants* xq, XScales* xs) {
  using Tr = Traits<K>;
  constexpr size_t kXB = Tr::kXBlockBytes;
  for (int64_t g = 0; g * kGroup < nblocks; ++g) {
    const int count = static_cast<int>(Min64(kGroup, nblocks - g * kGroup));
    const Byte* b = x + g * kGroup * kXB;
    const __m256i lo = ToGroupLanes(Load2x16<kXB>(b + Tr::kXQsOffset, count));
    const __m256i hi = ToGroupLanes(Load2x16<kXB>(b + Tr::kXQsOffset + 16, count));
    _mm256_store_si256(&xq[g].lo, lo);
    _mm256_store_si256(&xq[g].hi, hi);
    if constexpr (Tr::kHasMin) {
      const __m128 ds = LoadPairsF16<kXB>(b, count);  // d0 s0 d1 s1
      _mm_storel_pi(reinterpret_cast<__m64*>(xs[g].d), _mm_shuffle_ps(ds, ds, 0x88));  // d0 d1
      _mm_storel_pi(reinterpret_cast<__m64*>(xs[g].c), _mm_shuffle_ps(ds, ds, 0xdd));  // s0 s1
    } else {
      _mm_storel_pi(reinterpret_cast<__m64*>(xs[g].d), LoadF16x2<kXB>(b, count));
      int32_t c[kGroup] = {0, 0};
      if constexpr (Tr::kOffset != 0) {
        const __m256i ones8 = _mm256_set1_epi8(1);
        const __m256i p =
            _mm256_add_epi16(_mm256_maddubs_epi16(ones8, lo), _mm256_maddubs_epi16(ones8, hi));
        const __m256i s8 = _mm256_madd_epi16(p, _mm256_set1_epi16(1));  // lane i: block i % 2
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
        s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        c[0] = -Tr::kOffset * _mm_cvtsi128_si32(s4);
        c[1] = -Tr::kOffset * _mm_extract_epi32(s4, 1);
      }
      std::memcpy(xs[g].c, c, sizeof c);
    }
  }
}

struct WGroup {
  __m256i lo, hi;    // unsigned weight bytes (IQ4_NL: |level|), lane i from block i % 2
  __m256i slo, shi;  // IQ4_NL: the signed levels (their signs are what matter)
  __m256 d;          // d_w of block i % 2
  __m256 m;          // kHasMin: m_w of block i % 2
};

template <Kind K>
inline WGroup UnpackW(const Byte* w, int count) {
  using Tr = Traits<K>;
  constexpr size_t kB = Tr::kBlockBytes;
  WGroup o;
  __m256i q = Load2x16<kB>(w + Tr::kQsOffset, count);
  if constexpr (!Tr::kHasQh) q = ToGroupLanes(q);  // the nibble split is lane-agnostic
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  o.lo = _mm256_and_si256(q, m4);
  o.hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  if constexpr (Tr::kHasQh) {
    // Byte j of lane b of lo wants bit j of qh_b (j < 16), of hi bit 16 + j: broadcast the
    // qh bytes (qh_0 in bytes 0..3, qh_1 in 4..7) so that each byte holds the qh byte with
    // its bit, then test bit j % 8.
    const uint64_t qh =
        LoadU32(w + Tr::kQhOffset) |
        (count == kGroup ? static_cast<uint64_t>(LoadU32(w + kB + Tr::kQhOffset)) << 32 : 0);
    const __m256i v = _mm256_broadcastsi128_si256(_mm_cvtsi64_si128(static_cast<long long>(qh)));
    const __m256i pat_lo = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                              0x0404040404040404, 0x0505050505050505);
    const __m256i pat_hi = _mm256_setr_epi64x(0x0202020202020202, 0x0303030303030303,
                                              0x0606060606060606, 0x0707070707070707);
    const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    const __m256i b5 = _mm256_set1_epi8(0x10);
    const __m256i hlo =
        _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, pat_lo), bit), bit);
    const __m256i hhi =
        _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, pat_hi), bit), bit);
    o.lo = ToGroupLanes(_mm256_or_si256(o.lo, _mm256_and_si256(hlo, b5)));
    o.hi = ToGroupLanes(_mm256_or_si256(o.hi, _mm256_and_si256(hhi, b5)));
  }
  if constexpr (Tr::kSigned) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    o.slo = _mm256_shuffle_epi8(table, o.lo);
    o.shi = _mm256_shuffle_epi8(table, o.hi);
    o.lo = _mm256_sign_epi8(o.slo, o.slo);
    o.hi = _mm256_sign_epi8(o.shi, o.shi);
  } else {
    o.slo = o.shi = _mm256_setzero_si256();
  }
  if constexpr (Tr::kHasMin) {
    const __m128 dm = LoadPairsF16<kB>(w, count);  // d0 m0 d1 m1
    o.d = Spread2(_mm_shuffle_ps(dm, dm, 0x88));
    o.m = Spread2(_mm_shuffle_ps(dm, dm, 0xdd));
  } else {
    o.d = Spread2(LoadF16x2<kB>(w, count));
    o.m = _mm256_setzero_ps();
  }
  return o;
}

// A row kernel of group_driver.h. Activation buffers: 30 KiB (XQuants + XScales = 80 B per
// group of 2 blocks). A decode row of up to 768 blocks (k = 24576) is one chunk; a panel of 16
// tokens takes chunks of 48 blocks.
template <Kind K>
struct Kernel : x86::GroupKernelBase<XQuants, XScales, kGroup, 384, Traits<K>::kBlockBytes,
                                     Traits<K>::kXBlockBytes> {
  using Tr = Traits<K>;

  static void PrepX(const Byte* x, int64_t nblocks, XQuants* xq, XScales* xs) {
    avx2::PrepX<K>(x, nblocks, xq, xs);
  }

  template <int R, int T>
  static inline void Group(const Byte* w, size_t wrb, const XQuants* xq, const XScales* xs,
                           int64_t xts, int count, __m256 (&acc)[R][T]) {
    const __m256i ones = _mm256_set1_epi16(1);
    WGroup wg[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) wg[r] = UnpackW<K>(w + r * wrb, count);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m256i xlo = _mm256_load_si256(&xq[t * xts].lo);
      const __m256i xhi = _mm256_load_si256(&xq[t * xts].hi);
      // Lanes 0, 1 = blocks 0, 1, the others 0.
      const __m256i c =
          _mm256_zextsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xs[t * xts].c)));
      const __m256 dx =
          _mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(xs[t * xts].d)));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        __m256i s;
        if constexpr (Tr::kSigned) {
          const __m256i plo = _mm256_maddubs_epi16(wg[r].lo, _mm256_sign_epi8(xlo, wg[r].slo));
          const __m256i phi = _mm256_maddubs_epi16(wg[r].hi, _mm256_sign_epi8(xhi, wg[r].shi));
          s = _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones));
        } else {
          const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wg[r].lo, xlo),
                                             _mm256_maddubs_epi16(wg[r].hi, xhi));
          s = _mm256_madd_epi16(p, ones);
          if constexpr (Tr::kOffset != 0) s = _mm256_add_epi32(s, c);
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(wg[r].d, dx), acc[r][t]);
        if constexpr (Tr::kHasMin) {
          acc[r][t] = _mm256_fmadd_ps(wg[r].m, _mm256_castsi256_ps(c), acc[r][t]);
        }
      }
    }
  }

  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const XQuants* xq, const XScales* xs, int64_t xts,
                   int64_t nblocks, float* y, int64_t ys, bool accumulate, bool prefetch) {
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    const int64_t nfull = nblocks / kGroup;
    for (int64_t g = 0; g < nfull; ++g) {
      const Byte* wg = w + g * kGroup * Tr::kBlockBytes;
      if (prefetch) {
        // Decode streams the weights once: each row's group asks for the lines 16 KiB on
        // (x86::PrefetchAhead).
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) PrefetchAhead<kGroup * Tr::kBlockBytes>(wg + r * wrb);
      }
      Group<R, T>(wg, wrb, xq + g, xs + g, xts, kGroup, acc);
    }
    if (nblocks > nfull * kGroup) {
      Group<R, T>(w + nfull * kGroup * Tr::kBlockBytes, wrb, xq + nfull, xs + nfull, xts, 1, acc);
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        const float s = HSum(acc[r][t]);
        y[t * ys + r] = accumulate ? y[t * ys + r] + s : s;
      }
    }
  }
};

}  // namespace

void QuantizeRowQ8_1(const float* x, void* out, int64_t n) {
  x86::QuantizeRowQ8Avx2<true>(x, out, n);
}

namespace {

// The types against Q8_0 activations for the prefill panel GEMM (avx2_panel32.h): the 32
// signed weights of a block in value order (low nibbles are values 0..15, high nibbles 16..31).
template <Kind K>
struct Block32 {
  using Tr = Traits<K>;
  static_assert(!Tr::kHasMin, "Q4_1 / Q5_1 take Q8_1 activations");
  static constexpr size_t kBytes = Tr::kBlockBytes;
  static __m256i Unpack(const Byte* p) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + Tr::kQsOffset));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m4)),
                                        _mm_and_si128(_mm_srli_epi16(q, 4), m4), 1);
    if constexpr (K == Kind::kIQ4_NL) {
      return _mm256_shuffle_epi8(
          _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues))), v);
    }
    if constexpr (Tr::kHasQh) {
      // Bit j of qh to byte j: each byte takes byte j / 8 of qh, keeps bit j % 8, and adds 16.
      const __m256i bytes = _mm256_shuffle_epi8(
          _mm256_set1_epi32(static_cast<int>(LoadU32(p + Tr::kQhOffset))),
          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
      const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
      const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
      v = _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
    }
    return _mm256_sub_epi8(v, _mm256_set1_epi8(static_cast<char>(Tr::kOffset)));
  }
  static float Scale(const Byte* p) { return _cvtsh_ss(LoadU16(p)); }
};

template <Kind K, int R1, int R, int T>
void MatMulEntry(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if constexpr (Traits<K>::kHasMin) {
    x86::GroupMatMul<Kernel<K>, R1, R, T>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,
                                          y_stride);
  } else {
    x86::PanelOrRows<Panel8x32<Block32<K>>>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,
                                            y_stride, x86::GroupMatMul<Kernel<K>, R1, R, T>);
  }
}

}  // namespace

#define ONDO_LEGACY_ENTRY(T, R1, R, TT)                                                         \
  float VecDot##T(int64_t n, const void* w_row, const void* x_vd) {                             \
    return x86::GroupVecDot<Kernel<Kind::k##T>>(n, w_row, x_vd);                                \
  }                                                                                             \
  void MatMul##T(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,          \
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) { \
    MatMulEntry<Kind::k##T, R1, R, TT>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,  \
                                       y_stride);                                               \
  }

ONDO_LEGACY_ENTRY(Q4_0, 4, 2, 4)
ONDO_LEGACY_ENTRY(Q4_1, 4, 2, 4)
ONDO_LEGACY_ENTRY(Q5_0, 4, 2, 4)
ONDO_LEGACY_ENTRY(Q5_1, 4, 2, 4)
ONDO_LEGACY_ENTRY(IQ4_NL, 4, 2, 4)
#undef ONDO_LEGACY_ENTRY

}  // namespace ondo::kernels::avx2
