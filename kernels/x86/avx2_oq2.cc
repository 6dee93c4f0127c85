// AVX2 kernels of OQ2, ondo's 2-bit type (layout in blocks.h), against Q8_K activations
// (compiled with -mavx2 -mfma -mf16c; called only when the CPU has them).
//
// A 32-byte load of qs holds the indices of four sub-blocks (4h + s at bits 2s .. 2s + 1 of
// half h), in activation order. Each index becomes its unsigned level kOq2Grid[g][q] +
// kOq2Offset (0..63) through vpshufb with a table of the sub-block's grid, and the levels go
// through maddubs against the activations and one madd with the sub-block scale (int16 pairs,
// int32 lanes): every integer sum is exact, |pair| <= 2 * 63 * 128 < 2^15 for any int8
// activation. The offset is removed once per super-block with the Q8_K block sums,
//   sum_j sc_j sum_l (lev + 32) x  -  32 sum_j sc_j (bsum_2j + bsum_2j+1),
// one madd of the (sc_j, sc_j) pairs against the 16 bsums. Float work per super-block and
// token: one int -> float conversion and one FMA with d_x * d per row, or for a 4-row tile
// (decode) one for all four rows after two levels of hadd.
//
// Row kernels (decode and small prefill). Per row and super-block the grid tables and scale
// pairs are built once, with a few vector operations, into a small stack buffer:
//   tab[0 .. 31]   dword j = the four levels of sub-block j's grid (so a vpbroadcastd of it is
//                  a table indexed by the low two bits of a byte, whatever bits 2-3 hold);
//   tab[32 .. 63]  16-byte tables of sub-blocks 1 | 5 with byte i = level i >> 2, and
//   tab[64 .. 95]  the same for sub-blocks 3 | 7 (indexed by bits 2-3);
//   scp[j]         the int16 pair (sc_j, sc_j).
// The planes then need only the nibbles of qs: the low nibble holds the indices of sub-blocks
// s = 0 (bits 0-1) and 1 (bits 2-3), the high one those of 2 and 3, so a 128-value half costs
// two ands and a shift; each plane is then a broadcast load, vpshufb, maddubs, madd and add.
// The buffer is double-buffered (block ib + 1's tables are stored while block ib runs): with
// the loads right behind their stores, decode measured about 10% slower on Zen 4.
//
// Prefill (8 tokens or more) runs the 8-row panel GEMM of avx2_panel.h with the trait
// OQ2Panel8, which unpacks the same levels.
//
// Everything but the ondo::kernels::avx2 entry points has internal linkage (see tile_driver.h).

#include <cstddef>
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
using x86::Load256;
using x86::LoadF32;
using x86::LoadI32;
using x86::LoadU16;
using x86::MatMulImpl;
using x86::PrefetchAhead;
using x86::VecDotImpl;

static_assert(kOq2Offset == 32, "the offset term is a shift by 5");

// The unsigned levels kOq2Grid[g][q] + kOq2Offset at byte 4g + q. maddubs takes them as u8
// against s8 activations: the pair sums stay below 2^15 only for levels + offset <= 63, and the
// panel adds two of them in int16 (2 * 2 * 63 * 128 < 2^15).
struct Oq2Lut {
  alignas(16) uint8_t v[16];
};
constexpr Oq2Lut MakeOq2Lut() {
  Oq2Lut t{};
  for (int g = 0; g < 4; ++g) {
    for (int q = 0; q < 4; ++q) t.v[4 * g + q] = static_cast<uint8_t>(kOq2Grid[g][q] + kOq2Offset);
  }
  return t;
}
constexpr bool Oq2LevelsFitU6() {
  for (int g = 0; g < 4; ++g) {
    for (int q = 0; q < 4; ++q) {
      const int u = kOq2Grid[g][q] + kOq2Offset;
      if (u < 0 || u > 63) return false;
    }
  }
  return true;
}
static_assert(Oq2LevelsFitU6(), "levels + kOq2Offset must lie in 0..63 (maddubs, int16 sums)");
constexpr Oq2Lut kOq2Lut = MakeOq2Lut();

// Dword j (j = 0..7): the four unsigned levels of sub-block j's grid. The 4 bytes at b + 1
// hold the grids in bits 8..23 (g_j at bit 8 + 4 (j % 4) + 2 (j / 4)); a variable shift puts
// g_j at bits 2-3 of dword j's low byte, vpshufb copies that byte over the dword, and
// 4 g_j + (0, 1, 2, 3) indexes the 16-byte table of all four grids.
inline __m256i GridTables(const Byte* b) {
  const __m256i g = _mm256_set1_epi32(LoadI32(b + kOq2Grids - 1));
  const __m256i t = _mm256_srlv_epi32(g, _mm256_setr_epi32(6, 10, 14, 18, 8, 12, 16, 20));
  const __m256i rep = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,  //
                                       0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  const __m256i idx = _mm256_or_si256(_mm256_and_si256(_mm256_shuffle_epi8(t, rep), _mm256_set1_epi8(12)),
                                      _mm256_set1_epi32(0x03020100));
  const __m256i lut = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kOq2Lut.v)));
  return _mm256_shuffle_epi8(lut, idx);
}

// From GridTables: the 16-byte tables (low lane: sub-block S, high lane: 4 + S) whose byte i
// is level i >> 2, for the indices at bits 2-3 of a nibble (S = 1 or 3).
template <int S>
inline __m256i HighNibbleTables(__m256i tab) {
  constexpr char a = 4 * S;
  return _mm256_shuffle_epi8(tab, _mm256_setr_epi8(a, a, a, a, a + 1, a + 1, a + 1, a + 1, a + 2, a + 2,
                                                   a + 2, a + 2, a + 3, a + 3, a + 3, a + 3,  //
                                                   a, a, a, a, a + 1, a + 1, a + 1, a + 1, a + 2, a + 2,
                                                   a + 2, a + 2, a + 3, a + 3, a + 3, a + 3));
}

// Dword j: the int16 pair (sc_j, sc_j); sc_j is nibble j / 4 of scales[j % 4].
inline __m256i ScalePairs(const Byte* b) {
  const __m256i s = _mm256_set1_epi32(LoadI32(b + kOq2Scales));
  const __m256i rep = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,  //
                                       0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1);
  const __m256i p = _mm256_srlv_epi32(_mm256_shuffle_epi8(s, rep), _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
  return _mm256_and_si256(p, _mm256_set1_epi16(15));
}

// OQ2 x Q8_K for R rows and T tokens: y[t * ys + r].
struct OQ2Kernel {
  // Per row of a tile: the tables and scales of its current super-block (see the top).
  struct alignas(32) RowTables {
    uint8_t tab[96];
    int32_t scp[8];
  };

  // The tables of block ib of R rows.
  template <int R>
  [[gnu::always_inline]] static inline void Prepare(const Byte* w, size_t wrb, int64_t ib,
                                                    RowTables* rt) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const Byte* b = w + r * wrb + ib * kOq2Bytes;
      PrefetchAhead<kOq2Bytes>(b);
      const __m256i tab = GridTables(b);
      _mm256_store_si256(reinterpret_cast<__m256i*>(rt[r].tab), tab);
      _mm256_store_si256(reinterpret_cast<__m256i*>(rt[r].tab + 32), HighNibbleTables<1>(tab));
      _mm256_store_si256(reinterpret_cast<__m256i*>(rt[r].tab + 64), HighNibbleTables<3>(tab));
      _mm256_store_si256(reinterpret_cast<__m256i*>(rt[r].scp), ScalePairs(b));
    }
  }

  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    // Float sums: for R = 4, one vector per token with row r's sums in lanes r and r + 4;
    // otherwise one per row and token.
    constexpr int kAcc = R == 4 ? 1 : R;
    __m256 acc[kAcc][T];
#pragma GCC unroll 16
    for (int r = 0; r < kAcc; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    // Double-buffered: block ib + 1's tables are stored while block ib runs, a whole block
    // before they are read back.
    RowTables rt[2][R];
    if (nb > 0) Prepare<R>(w, wrb, 0, rt[0]);
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Byte* wb[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wb[r] = w + r * wrb + ib * kOq2Bytes;
      if (ib + 1 < nb) Prepare<R>(w, wrb, ib + 1, rt[(ib + 1) & 1]);
      // The planes read the tables back with broadcast loads (no ALU work); without this the
      // compiler forwards them in registers through extracts, scalar moves and spills.
      asm volatile("" : : "r"(rt) : "memory");
      const RowTables* cur = rt[ib & 1];
      __m256i isum[R][T];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      }
      const Byte* xb = x + ib * kQ8KBytes;
      Half<R, T, 0>(wb, xb, xrb, cur, isum);
      Half<R, T, 1>(wb, xb, xrb, cur, isum);
      // The offset: isum -= 32 sum_j sc_j (bsum_2j + bsum_2j+1).
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m256i bsums = Load256(xb + t * xrb + kQ8KBsums);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256i off = _mm256_madd_epi16(
              _mm256_load_si256(reinterpret_cast<const __m256i*>(cur[r].scp)), bsums);
          isum[r][t] = _mm256_sub_epi32(isum[r][t], _mm256_slli_epi32(off, 5));  // x kOq2Offset
        }
      }
      if constexpr (R == 4) {
        // The four rows' d (f16) converted together, in both halves.
        uint64_t dh = 0;
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) dh |= static_cast<uint64_t>(LoadU16(wb[r] + kOq2D)) << (16 * r);
        const __m128 d4 = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(dh)));
        const __m256 d8 = _mm256_set_m128(d4, d4);
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          // Lanes r, r + 4: halves of row r's sum.
          const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(isum[0][t], isum[1][t]),
                                              _mm256_hadd_epi32(isum[2][t], isum[3][t]));
          const __m256 vd = _mm256_mul_ps(d8, _mm256_set1_ps(LoadF32(xb + t * xrb + kQ8KD)));
          acc[0][t] = _mm256_fmadd_ps(vd, _mm256_cvtepi32_ps(h), acc[0][t]);
        }
      } else {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const float dx = LoadF32(xb + t * xrb + kQ8KD);
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            const __m256 vd = _mm256_set1_ps(dx * _cvtsh_ss(LoadU16(wb[r] + kOq2D)));
            acc[r][t] = _mm256_fmadd_ps(vd, _mm256_cvtepi32_ps(isum[r][t]), acc[r][t]);
          }
        }
      }
    }
    if constexpr (R == 4) {
      for (int t = 0; t < T; ++t) {
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[0][t]), _mm256_extractf128_ps(acc[0][t], 1));
        _mm_storeu_ps(y + t * ys, s);
      }
    } else {
      for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
      }
    }
  }

  // Half H: sub-blocks 4H .. 4H + 3, the four bit pairs of qs[32H .. 32H + 31].
  template <int R, int T, int H>
  [[gnu::always_inline]] static inline void Half(const Byte* const* wb, const Byte* xb, size_t xrb,
                                                 const RowTables* rt, __m256i (*isum)[T]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i nib[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) nib[r] = _mm256_and_si256(Load256(wb[r] + kOq2Qs + 32 * H), m4);
    Plane<R, T, H, 0>(xb, xrb, rt, nib, isum);
    Plane<R, T, H, 1>(xb, xrb, rt, nib, isum);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      nib[r] = _mm256_and_si256(_mm256_srli_epi16(Load256(wb[r] + kOq2Qs + 32 * H), 4), m4);
    }
    Plane<R, T, H, 2>(xb, xrb, rt, nib, isum);
    Plane<R, T, H, 3>(xb, xrb, rt, nib, isum);
  }

  // Sub-block j = 4H + S from the nibbles (indices of S & ~1 at bits 0-1, of S | 1 at 2-3).
  template <int R, int T, int H, int S>
  [[gnu::always_inline]] static inline void Plane(const Byte* xb, size_t xrb, const RowTables* rt,
                                                  const __m256i* nib, __m256i (*isum)[T]) {
    constexpr int j = 4 * H + S;
    __m256i lev[R], scl[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      __m256i tab;
      if constexpr (S % 2 == 0) {
        tab = _mm256_set1_epi32(LoadI32(rt[r].tab + 4 * j));
      } else {
        tab = _mm256_broadcastsi128_si256(
            _mm_load_si128(reinterpret_cast<const __m128i*>(rt[r].tab + 32 * (S / 2 + 1) + 16 * H)));
      }
      lev[r] = _mm256_shuffle_epi8(tab, nib[r]);
      scl[r] = _mm256_set1_epi32(rt[r].scp[j]);
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m256i xq = Load256(xb + t * xrb + kQ8KQs + 32 * j);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m256i p = _mm256_maddubs_epi16(lev[r], xq);
        isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(p, scl[r]));
        // Keep the running sum in its register: otherwise the compiler reassociates the eight
        // plane sums into a tree and spills the partial products.
        asm("" : "+x"(isum[r][t]));
      }
    }
  }
};

// Panel trait (avx2_panel.h): q[c] = the unsigned levels of sub-block c, sc16 = the 8 scales,
// mins = the pairs (-32 sc_j, -32 sc_j) against bsums 2j, 2j + 1 (added to the scaled sums, so
// no separate min scale).
struct OQ2Panel8 {
  static constexpr size_t kBytes = kOq2Bytes;
  static constexpr int kSub = 32;
  static constexpr int kMaddGroups = 2;  // |sum| <= 2 * 2 * 63 * 128 < 2^15 (4 would not fit)
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow8& out) {
    alignas(32) uint8_t tab[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tab), GridTables(b));
    const __m256i m3 = _mm256_set1_epi8(3);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i qb = Load256(b + kOq2Qs + 32 * h);
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        const int j = 4 * h + s;
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qb, 2 * s), m3);
        out.q[j] = _mm256_shuffle_epi8(_mm256_set1_epi32(LoadI32(tab + 4 * j)), q);
      }
    }
    const __m256i scp = ScalePairs(b);  // (sc_j, sc_j)
    // int16 j = sc_j: the low words of the pairs, packed (the high lane repeats them).
    out.sc16 = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(_mm256_and_si256(scp, _mm256_set1_epi32(0xFFFF)), _mm256_setzero_si256()),
        0x88);
    out.mins = _mm256_mullo_epi16(scp, _mm256_set1_epi16(-kOq2Offset));
    out.d = H2F(b + kOq2D);
    out.dmin = 0.0f;
  }
};

}  // namespace

// Tile shapes measured on Zen 4 (16 ymm registers): decode 4 rows per pass (2 rows: 15% slower,
// the per-block work of one row too short to hide the table stores), below the panel threshold
// 1 row x 8 tokens as Q2_K; prefill the 8-row panel.
float VecDotOQ2(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<OQ2Kernel>(n, w_row, x_vd);
}

void MatMulOQ2(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  Panel8OrRows<OQ2Panel8>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                          MatMulImpl<OQ2Kernel, 4, 1, 8>);
}

}  // namespace ondo::kernels::avx2
