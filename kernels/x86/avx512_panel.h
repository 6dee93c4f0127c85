// The prefill GEMM of the K-quants on AVX-512 VNNI (included by the AVX-512 K-quant files,
// which are compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni).
//
// A panel of 16 weight rows is unpacked, one super-block (256 values) at a time, into u8
// weights with the rows interleaved: vector g holds, in int32 lane r, values 4g .. 4g + 3 of
// row r. One vpdpbusd against the four activation bytes 4g .. 4g + 3 of a token (broadcast)
// then advances all 16 rows of that token, and the per-block work that the row-at-a-time
// kernels pay per row and token (reduce the lanes, convert, scale, apply the mins) is paid
// once per 16 rows. The unpacked panel (a few KB per block) stays in L1/L2 while every token
// passes over it. Integer sums are exact, as in the row kernels:
//
//   y = d * d_x * sum_j sc_j * (q . x)_j  -/+  dmin * d_x * sum_p (m_2p, m_2p+1) . bsum pair p
//
// A type describes its block with a Panel trait:
//   kBytes          bytes per block
//   kSub            0: sub-block scales already inside the u8 weights (Q2_K, Q3_K); 16 or 32:
//                   values per sub-block whose int32 sum is multiplied by sc_j (vpmulld)
//   kSeparateMins   the min term has its own float scale dmin (subtracted); otherwise it is
//                   in units of d and its int16 multipliers carry their sign (added to the sum)
//   Unpack(block, PanelRow&)  one row's block: q[c] = u8 values 64c .. 64c + 63 in order,
//                   mins = 8 int16 pairs (dwords 0..7) against the 8 dwords of bsums,
//                   sc = int32 sub-block scales (dwords 0 .. 256 / kSub - 1), d, dmin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/panel_driver.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;

struct PanelRow {
  __m512i q[4];
  __m512i mins;
  __m512i sc;  // kSub types only
  float d;
  float dmin;
};

// 16 rows x 256 values, interleaved as described above.
struct alignas(64) PanelBlock {
  __m512i q[64];    // q[g] lane r: values 4g .. 4g + 3 of row r
  __m512i mins[8];  // lane r: row r's int16 pair against bsum pair p
  __m512i sc[16];   // lane r: row r's scale of sub-block j (kSub types)
  __m512 d;
  __m512 dmin;
};

// out[g] lane r = in[r] lane g (a 16 x 16 transpose of int32).
inline void Transpose16(const __m512i* in, __m512i* out) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  // u[4i + j], 128-bit lane L: rows 4i .. 4i + 3 of dword 4L + j.
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // out[4L + j] = lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
  for (int j = 0; j < 4; ++j) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88);
    const __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
    out[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    out[8 + j] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    out[4 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    out[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

template <class P>
void UnpackPanel(const Byte* w, size_t wrb, int64_t ib, PanelBlock& out) {
  __m512i rows[4][16], mins[16], sc[16];
  alignas(64) float d[16], dmin[16];
  for (int r = 0; r < 16; ++r) {
    PanelRow pr;
    P::Unpack(w + r * wrb + ib * P::kBytes, pr);
    for (int c = 0; c < 4; ++c) rows[c][r] = pr.q[c];
    mins[r] = pr.mins;
    if constexpr (P::kSub != 0) sc[r] = pr.sc;  // unset (unused) for scale-folded types
    d[r] = pr.d;
    dmin[r] = pr.dmin;
  }
  for (int c = 0; c < 4; ++c) Transpose16(rows[c], out.q + 16 * c);
  __m512i tm[16];
  Transpose16(mins, tm);
  for (int p = 0; p < 8; ++p) out.mins[p] = tm[p];
  if constexpr (P::kSub != 0) Transpose16(sc, out.sc);
  out.d = _mm512_load_ps(d);
  out.dmin = _mm512_load_ps(dmin);
}

inline __m512i Bcast32(const Byte* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512 BcastF32(const Byte* p) {
  float v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_ps(v);
}

constexpr size_t kPanelQ8Bytes = sizeof(block_q8_K);
constexpr size_t kPanelQ8Qs = offsetof(block_q8_K, qs);
constexpr size_t kPanelQ8Bsums = offsetof(block_q8_K, bsums);

// Sums of groups [g0, g1) of NP panels' blocks (NP = 1, or 2 for the pair tiles) and T tokens
// into acc[i][t] (x at the tokens' block): each activation word broadcast feeds NP vpdpbusd.
template <int NP, int T>
[[gnu::always_inline]] inline void DotGroups(const PanelBlock* const (&B)[NP], int g0, int g1,
                                             const Byte* x, size_t xrb, __m512i (&acc)[NP][T]) {
  // The sums in a local array while the loop runs: updated in place through `acc`, GCC kept the
  // pair tile's on the stack, loading and storing them around every vpdpbusd (Q4_K and Q5_K
  // pair tiles at half speed, bench_kernels 8960x1536 x 64: 7.6 -> 3.4 ms).
  __m512i a[NP][T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) a[i][t] = acc[i][t];
  }
#pragma GCC unroll 8
  for (int g = g0; g < g1; ++g) {
    __m512i wv[NP];
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) wv[i] = B[i]->q[g];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m512i v = Bcast32(x + t * xrb + kPanelQ8Qs + 4 * g);
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) a[i][t] = _mm512_dpbusd_epi32(a[i][t], wv[i], v);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) acc[i][t] = a[i][t];
  }
}

// The float step of the tiles (KPanel16, Panel32Tiles in avx512_panel32.h): facc[i][t] +=
// float(iacc[i][t]) * (d[i] * dx(t)), or -= with kSubtract (the K-quants' separate mins).
template <bool kSubtract, int NP, int T, class Dx>
[[gnu::always_inline]] inline void ScaleAdd(__m512 (&facc)[NP][T], const __m512i (&iacc)[NP][T],
                                            const __m512 (&d)[NP], Dx dx) {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const __m512 s = dx(t);
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) {
      const __m512 f = _mm512_cvtepi32_ps(iacc[i][t]);
      const __m512 ds = _mm512_mul_ps(d[i], s);
      facc[i][t] = kSubtract ? _mm512_fnmadd_ps(f, ds, facc[i][t])
                             : _mm512_fmadd_ps(f, ds, facc[i][t]);
    }
  }
}
// y[t * ys + 16 i + 0 .. 15] (+)= facc[i][t].
template <int NP, int T>
[[gnu::always_inline]] inline void StoreTiles(const __m512 (&facc)[NP][T], float* y, int64_t ys,
                                              bool add) {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    float* yt = y + t * ys;
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) {
      float* yi = yt + 16 * i;
      _mm512_storeu_ps(yi, add ? _mm512_add_ps(_mm512_loadu_ps(yi), facc[i][t]) : facc[i][t]);
    }
  }
}

// The panel kernel (panel_driver.h) of a K-quant with trait P.
template <class P>
struct KPanel16 {
  using Block = PanelBlock;
  static constexpr int kRows = 16;
  static constexpr int kChunk = 8;      // 8 x 5.8 KB of stack
  static constexpr int kTokens = 8;     // measured best of 8, 12, 16 on Zen 4 and on Zen 5 (Q2_K
                                        // prompt, 2 threads: 285-320 tok/s, 12: 250-269, 16: 230-236)
  static constexpr int kMinTokens = 8;  // below: unpacking costs as much as a few tokens' sums
  static constexpr size_t kXBlockBytes = kPanelQ8Bytes;
  static int64_t Blocks(int64_t k) { return k / kQK_K; }
  static void Unpack(const Byte* w, size_t wrb, int64_t b0, int n, Block* out) {
    for (int b = 0; b < n; ++b) UnpackPanel<P>(w, wrb, b0 + b, out[b]);
  }

  template <int T>
  static void Tile(const PanelBlock* pb, int nb, const Byte* x, size_t xrb, float* y, int64_t ys,
                   bool add) {
    Tiles<1, T>({pb}, nb, x, xrb, y, ys, add);
  }

  // y[t * ys + 16 i + 0 .. 15] (+)= the sums of panel pb[i] and T tokens: NP = 1, or 2 for the
  // pair tile (KPanel16Pair), whose every row gets the same integer sums and float operations
  // as with NP = 1, so that the results are equal bit for bit.
  template <int NP, int T>
  static void Tiles(const PanelBlock* const (&pb)[NP], int nb, const Byte* x, size_t xrb,
                    float* y, int64_t ys, bool add) {
    const auto dx = [&](int t) { return BcastF32(x + t * xrb); };
    __m512 facc[NP][T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) facc[i][t] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; ++b, x += kPanelQ8Bytes) {
      const PanelBlock* B[NP];
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) B[i] = pb[i] + b;
      __m512i iacc[NP][T];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
        for (int i = 0; i < NP; ++i) iacc[i][t] = _mm512_setzero_si512();
      }
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        __m512i m[NP];
#pragma GCC unroll 2
        for (int i = 0; i < NP; ++i) m[i] = B[i]->mins[p];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m512i v = Bcast32(x + t * xrb + kPanelQ8Bsums + 4 * p);
#pragma GCC unroll 2
          for (int i = 0; i < NP; ++i) iacc[i][t] = _mm512_dpwssd_epi32(iacc[i][t], m[i], v);
        }
      }
      if constexpr (P::kSeparateMins) {
        __m512 dmin[NP];
#pragma GCC unroll 2
        for (int i = 0; i < NP; ++i) dmin[i] = B[i]->dmin;
        ScaleAdd<true>(facc, iacc, dmin, dx);
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
          for (int i = 0; i < NP; ++i) iacc[i][t] = _mm512_setzero_si512();
        }
      }
      if constexpr (P::kSub == 0) {
        DotGroups<NP, T>(B, 0, 64, x, xrb, iacc);
      } else {
        constexpr int kGroups = P::kSub / 4;
        for (int j = 0; j < 256 / P::kSub; ++j) {
          __m512i sacc[NP][T];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
            for (int i = 0; i < NP; ++i) sacc[i][t] = _mm512_setzero_si512();
          }
          DotGroups<NP, T>(B, j * kGroups, (j + 1) * kGroups, x, xrb, sacc);
#pragma GCC unroll 2
          for (int i = 0; i < NP; ++i) {
            const __m512i s = B[i]->sc[j];
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) {
              iacc[i][t] = _mm512_add_epi32(iacc[i][t], _mm512_mullo_epi32(sacc[i][t], s));
            }
          }
        }
      }
      __m512 d[NP];
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) d[i] = B[i]->d;
      ScaleAdd<false>(facc, iacc, d, dx);
    }
    StoreTiles<NP, T>(facc, y, ys, add);
  }
};

// The pair tile (panel_driver.h), for a trait P that sets kPairTokens: 32 rows, two panels'
// blocks side by side (KPanel16::Tiles with NP = 2), so that every activation word broadcast
// feeds two vpdpbusd instead of one. A standalone loop of the inner step on the 2-core Zen 5
// VM: 16 rows x 8 tokens 5.0 G vpdpbusd/s, 32 x 5 6.0, 32 x 4 5.4, 64 x 3 6.25. Prompt 512 of
// the 1.5B-shape files (bench/synthetic/ab.py, 4 interleaved rounds each): Q2_K (5 tokens per
// tile) 1 thread +9.7%, 2 threads +11.4%; Q4_K_M (Q4_K with 3 tokens) +36% and +15%. Q6_K and
// IQ4_XS measured slower in bench_kernels with 3 or 4 tokens and keep KPanel16.
template <class P>
struct KPanel16Pair : KPanel16<P> {
  static constexpr int kPairTokens = P::kPairTokens;
  static constexpr int kPairChunk = 4;  // 2 x 4 x 5.8 KB of stack, as one chunk of KPanel16

  template <int T>
  static void TilePair(const PanelBlock* pa, const PanelBlock* pb, int nb, const Byte* x,
                       size_t xrb, float* y, int64_t ys, bool add) {
    KPanel16<P>::template Tiles<2, T>({pa, pb}, nb, x, xrb, y, ys, add);
  }
};

// MatMul of a K-quant: the panel GEMM for prefill, the row kernels `rows` for the rest.
template <class P, class RowMatMul>
void PanelOrRows(const void* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const void* x,
                 size_t xrb, int n_tok, float* y, int64_t ys, RowMatMul rows) {
  if constexpr (requires { P::kPairTokens; }) {
    x86::PanelOrRows<KPanel16Pair<P>>(w, wrb, r0, r1, k, x, xrb, n_tok, y, ys, rows);
  } else {
    x86::PanelOrRows<KPanel16<P>>(w, wrb, r0, r1, k, x, xrb, n_tok, y, ys, rows);
  }
}

}  // namespace
}  // namespace ondo::kernels::avx512
