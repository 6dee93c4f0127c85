// AVX-512 F/BW/VL/VNNI kernels of the legacy block-of-32 weight types Q4_0, Q4_1, Q5_0, Q5_1
// and IQ4_NL (against Q8_0 / Q8_1 activations), and the Q8_1 activation quantizer. Compiled
// with the avx512 flags of kernels/CMakeLists.txt; internal linkage everywhere except the
// entry points, no std:: templates (see avx512.cc). No VBMI.
//
// Layout. A "group" is 4 consecutive blocks. Weights of a group are unpacked to two zmm of
// unsigned bytes, `lo` from elements 0..15 and `hi` from elements 16..31 of the blocks, with
// int32 lane i holding 4 bytes of block i % 4; so every lane of vpdpbusd(lo, x_lo) +
// vpdpbusd(hi, x_hi) belongs to one block, and the int -> float conversion, the scale
// product and the FMA are done once per 4 blocks instead of once per block. The unsigned
// weight byte is the stored quant (plus 16 when the 5th bit is set; the level + 128 for
// IQ4_NL); the offset (8, 16, 128) is removed exactly by starting the integer sum of lane b
// (b < 4) at -offset * sum(x of block b). vpdpbusd sums in int32, so the integer sums are
// exact for every byte pattern of a weight block and every int8 activation.
//
// Activations are first rearranged into that layout (XQuants: x_lo, x_hi; XScales: the
// offset term or the Q8_1 s values, and d_x, 4 of each) in stack buffers, once per call for a
// panel of tokens and a chunk of k, so that the tiles below only load them; the panel is
// sized to stay in L1 while a tile passes over it.

#include <cstdint>
#include <cstring>

#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/x86/avx512_panel32.h"
#include "kernels/x86/group_driver.h"
#include "kernels/x86/quantize_q8.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;
using x86::F2H;
using x86::LoadU16;
using x86::LoadU32;
using x86::Min64;
using x86::PrefetchAhead;

using Kind = LegacyKind;

// The block layout (block_layout.h), and what the unsigned weight byte exceeds the signed
// weight by.
template <Kind K>
struct Traits : LegacyLayout<K> {
  static constexpr int kOffset = K == Kind::kQ4_0     ? 8
                                 : K == Kind::kQ5_0   ? 16
                                 : K == Kind::kIQ4_NL ? 128
                                                      : 0;
};

// kIq4nlValues + 128 (1 .. 241), the vpshufb table of IQ4_NL.
struct Iq4nlTable {
  alignas(16) uint8_t v[16];
};
constexpr Iq4nlTable MakeIq4nlTable() {
  Iq4nlTable t{};
  for (int i = 0; i < 16; ++i) t.v[i] = static_cast<uint8_t>(kIq4nlValues[i] + 128);
  return t;
}
constexpr Iq4nlTable kIq4nlU8 = MakeIq4nlTable();

constexpr int kGroup = 4;  // blocks per group

// Activations of one group of one token, rearranged (see the top of the file).
struct XQuants {
  __m512i lo;  // qs[0..15] of the 4 blocks, lane i from block i % 4
  __m512i hi;  // qs[16..31]
};
struct alignas(32) XScales {
  int32_t c[kGroup];  // kOffset != 0: -kOffset * sum(qs of block b); kHasMin: s_b (f32 bits)
  float d[kGroup];    // d_x of block b
};
static_assert(sizeof(XQuants) == 128 && sizeof(XScales) == 32, "X layout");

// Dword i <- dword 4 * (i % 4) + i / 4: from one block per 128-bit lane to block i % 4.
inline __m512i ToGroupLanes(__m512i v) {
  return _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v);
}
// Lane i <- element first + stride * (i % 4) of v.
inline __m512 Spread4(__m512 v, int stride, int first) {
  const int a = first, b = first + stride, c = first + 2 * stride, d = first + 3 * stride;
  return _mm512_permutexvar_ps(_mm512_setr_epi32(a, b, c, d, a, b, c, d, a, b, c, d, a, b, c, d),
                               v);
}

// 16 bytes at p + b * stride for b < count, one per 128-bit lane; zero lanes for b >= count.
template <size_t kStride>
inline __m512i Load4x16(const Byte* p, int count) {
  const auto ld = [](const Byte* q) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  };
  if (count == kGroup) {
    const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(p)), ld(p + kStride), 1);
    const __m256i cd = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(p + 2 * kStride)),
                                               ld(p + 3 * kStride), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(ab), cd, 1);
  }
  __m512i v = _mm512_setzero_si512();
  if (count > 0) v = _mm512_inserti32x4(v, ld(p), 0);
  if (count > 1) v = _mm512_inserti32x4(v, ld(p + kStride), 1);
  if (count > 2) v = _mm512_inserti32x4(v, ld(p + 2 * kStride), 2);
  return v;
}

// Two f16 fields (at p + b * stride and p + b * stride + 2; both zero for b >= count) of 4
// blocks, as f32: [a0, b0, a1, b1, a2, b2, a3, b3].
template <size_t kStride>
inline __m256 LoadPairsF16(const Byte* p, int count) {
  uint32_t v[kGroup] = {0, 0, 0, 0};
  for (int b = 0; b < kGroup; ++b) {
    if (b < count) v[b] = LoadU32(p + b * kStride);
  }
  const __m128i h = _mm_set_epi32(static_cast<int>(v[3]), static_cast<int>(v[2]),
                                  static_cast<int>(v[1]), static_cast<int>(v[0]));
  return _mm256_cvtph_ps(h);
}
// One f16 field of 4 blocks (zero for b >= count), as f32 [a0, a1, a2, a3].
template <size_t kStride>
inline __m128 LoadF16x4(const Byte* p, int count) {
  uint64_t v = 0;
  for (int b = 0; b < kGroup; ++b) {
    if (b < count) v |= static_cast<uint64_t>(LoadU16(p + b * kStride)) << (16 * b);
  }
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(v)));
}

// Rearranges the activation blocks [0, nblocks) of one token row.
template <Kind K>
void PrepX(const Byte* x, int64_t nblocks, XQuants* xq, XScales* xs) {
  using Tr = Traits<K>;
  constexpr size_t kXB = Tr::kXBlockBytes;
  for (int64_t g = 0; g * kGroup < nblocks; ++g) {
    const int count = static_cast<int>(Min64(kGroup, nblocks - g * kGroup));
    const Byte* b = x + g * kGroup * kXB;
    const __m512i lo = ToGroupLanes(Load4x16<kXB>(b + Tr::kXQsOffset, count));
    const __m512i hi = ToGroupLanes(Load4x16<kXB>(b + Tr::kXQsOffset + 16, count));
    _mm512_store_si512(&xq[g].lo, lo);
    _mm512_store_si512(&xq[g].hi, hi);
    if constexpr (Tr::kHasMin) {
      const __m256 ds = LoadPairsF16<kXB>(b, count);  // d0 s0 d1 s1 ..
      _mm_store_ps(xs[g].d, _mm256_castps256_ps128(_mm256_permutevar8x32_ps(
                                ds, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6))));
      _mm_store_ps(reinterpret_cast<float*>(xs[g].c),
                   _mm256_castps256_ps128(
                       _mm256_permutevar8x32_ps(ds, _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7))));
    } else {
      _mm_store_ps(xs[g].d, LoadF16x4<kXB>(b, count));
      const __m512i off = _mm512_set1_epi8(static_cast<char>(Tr::kOffset));
      x86::StoreGroupOffsetTerms(off, lo, hi, xs[g].c);
    }
  }
}

// A group of weights of one row, unpacked.
struct WGroup {
  __m512i lo, hi;  // unsigned weight bytes, lane i from block i % 4
  __m512 d;        // d_w of block i % 4
  __m512 m;        // kHasMin: m_w of block i % 4
};

template <Kind K>
inline WGroup UnpackW(const Byte* w, int count) {
  using Tr = Traits<K>;
  constexpr size_t kB = Tr::kBlockBytes;
  WGroup o;
  __m512i q = Load4x16<kB>(w + Tr::kQsOffset, count);
  if constexpr (!Tr::kHasQh) q = ToGroupLanes(q);  // the nibble split is lane-agnostic
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  o.lo = _mm512_and_si512(q, m4);
  o.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
  if constexpr (Tr::kHasQh) {
    uint32_t h[kGroup] = {0, 0, 0, 0};
    for (int b = 0; b < kGroup; ++b) {
      if (b < count) h[b] = LoadU32(w + b * kB + Tr::kQhOffset);
    }
    // Bit j of qh is element j: byte 16b + j of lo is bit j of block b, of hi bit 16 + j.
    const uint64_t klo = static_cast<uint64_t>((h[0] & 0xffffu) | (h[1] << 16)) |
                         static_cast<uint64_t>((h[2] & 0xffffu) | (h[3] << 16)) << 32;
    const uint64_t khi = static_cast<uint64_t>((h[0] >> 16) | (h[1] & 0xffff0000u)) |
                         static_cast<uint64_t>((h[2] >> 16) | (h[3] & 0xffff0000u)) << 32;
    const __m512i b5 = _mm512_set1_epi8(0x10);
    o.lo = ToGroupLanes(_mm512_mask_add_epi8(o.lo, _cvtu64_mask64(klo), o.lo, b5));
    o.hi = ToGroupLanes(_mm512_mask_add_epi8(o.hi, _cvtu64_mask64(khi), o.hi, b5));
  }
  if constexpr (K == Kind::kIQ4_NL) {
    const __m512i table =
        _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlU8.v)));
    o.lo = _mm512_shuffle_epi8(table, o.lo);
    o.hi = _mm512_shuffle_epi8(table, o.hi);
  }
  if constexpr (Tr::kHasMin) {
    const __m512 dm = _mm512_castps256_ps512(LoadPairsF16<kB>(w, count));  // d0 m0 d1 m1 ..
    o.d = Spread4(dm, 2, 0);
    o.m = Spread4(dm, 2, 1);
  } else {
    o.d = _mm512_broadcast_f32x4(LoadF16x4<kB>(w, count));
    o.m = _mm512_setzero_ps();
  }
  return o;
}

// A row kernel of group_driver.h. Activation buffers: 30 KiB (XQuants + XScales = 160 B per
// group of 4 blocks). A decode row of up to 768 blocks (k = 24576) is one chunk; a panel of 16
// tokens takes chunks of 48 blocks.
template <Kind K>
struct Kernel : x86::GroupKernelBase<XQuants, XScales, kGroup, 192, Traits<K>::kBlockBytes,
                                     Traits<K>::kXBlockBytes> {
  using Tr = Traits<K>;

  static void PrepX(const Byte* x, int64_t nblocks, XQuants* xq, XScales* xs) {
    avx512::PrepX<K>(x, nblocks, xq, xs);
  }

  // acc[r][t] += the products of one group (count blocks) of R weight rows and T tokens.
  template <int R, int T>
  static inline void Group(const Byte* w, size_t wrb, const XQuants* xq, const XScales* xs,
                           int64_t xts, int count, __m512 (&acc)[R][T]) {
    WGroup wg[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) wg[r] = UnpackW<K>(w + r * wrb, count);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m512i xlo = _mm512_load_si512(&xq[t * xts].lo);
      const __m512i xhi = _mm512_load_si512(&xq[t * xts].hi);
      // Lanes 0..3 = blocks 0..3, the others 0.
      const __m512i c =
          _mm512_zextsi128_si512(_mm_load_si128(reinterpret_cast<const __m128i*>(xs[t * xts].c)));
      const __m512 dx = _mm512_broadcast_f32x4(_mm_load_ps(xs[t * xts].d));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        __m512i s = Tr::kOffset != 0 ? c : _mm512_setzero_si512();
        s = _mm512_dpbusd_epi32(s, wg[r].lo, xlo);
        s = _mm512_dpbusd_epi32(s, wg[r].hi, xhi);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(wg[r].d, dx), acc[r][t]);
        if constexpr (Tr::kHasMin) {
          acc[r][t] = _mm512_fmadd_ps(wg[r].m, _mm512_castsi512_ps(c), acc[r][t]);
        }
      }
    }
  }

  // y[t * ys + r] (+)= dot(W row r over nblocks blocks, token t) for R rows and T tokens. w
  // points at the first block of row 0; xq, xs at the first group of token 0, tokens xts
  // groups apart.
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const XQuants* xq, const XScales* xs, int64_t xts,
                   int64_t nblocks, float* y, int64_t ys, bool accumulate, bool prefetch) {
    __m512 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
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
    const int tail = static_cast<int>(nblocks - nfull * kGroup);
    if (tail > 0) {
      Group<R, T>(w + nfull * kGroup * Tr::kBlockBytes, wrb, xq + nfull, xs + nfull, xts, tail,
                  acc);
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        const float s = _mm512_reduce_add_ps(acc[r][t]);
        y[t * ys + r] = accumulate ? y[t * ys + r] + s : s;
      }
    }
  }
};

}  // namespace

void QuantizeRowQ8_1(const float* x, void* out, int64_t n) {
  x86::QuantizeRowQ8Avx512<true>(x, out, n);
}

namespace {

// The types against Q8_0 activations for the prefill panel GEMM (avx512_panel32.h): the
// 32 unsigned weight bytes of a block in value order (low nibbles are values 0..15, high
// nibbles 16..31), as UnpackW makes them.
template <Kind K>
struct Block32 {
  using Tr = Traits<K>;
  static_assert(!Tr::kHasMin, "Q4_1 / Q5_1 take Q8_1 activations");
  static constexpr size_t kBytes = Tr::kBlockBytes;
  static constexpr int kOffset = Tr::kOffset;
  static __m256i Unpack(const Byte* p) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + Tr::kQsOffset));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m4)),
                                        _mm_and_si128(_mm_srli_epi16(q, 4), m4), 1);
    if constexpr (Tr::kHasQh) {  // bit j of qh: 16 more for value j
      v = _mm256_mask_add_epi8(v, static_cast<__mmask32>(LoadU32(p + Tr::kQhOffset)), v,
                               _mm256_set1_epi8(0x10));
    }
    if constexpr (K == Kind::kIQ4_NL) {
      v = _mm256_shuffle_epi8(
          _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlU8.v))), v);
    }
    return v;
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
    Panel32OrRows<Block32<K>>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                              x86::GroupMatMul<Kernel<K>, R1, R, T>);
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

ONDO_LEGACY_ENTRY(Q4_0, 4, 2, 8)
ONDO_LEGACY_ENTRY(Q4_1, 4, 2, 8)
ONDO_LEGACY_ENTRY(Q5_0, 4, 2, 8)
ONDO_LEGACY_ENTRY(Q5_1, 4, 2, 8)
ONDO_LEGACY_ENTRY(IQ4_NL, 4, 2, 8)
#undef ONDO_LEGACY_ENTRY

}  // namespace ondo::kernels::avx512
