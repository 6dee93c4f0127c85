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

// Sums of groups [g0, g1) of every token into acc[t] (T tokens, x at their block).
template <int T>
[[gnu::always_inline]] inline void DotGroups(const PanelBlock& B, int g0, int g1, const Byte* x,
                                             size_t xrb, __m512i* acc) {
  // The sums in a local array while the loop runs, as in PairGroups, where sums updated in
  // place through `acc` were kept on the stack (not measured here: a guard, not a speed-up).
  __m512i a[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) a[t] = acc[t];
#pragma GCC unroll 8
  for (int g = g0; g < g1; ++g) {
    const __m512i wv = B.q[g];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      a[t] = _mm512_dpbusd_epi32(a[t], wv, Bcast32(x + t * xrb + kPanelQ8Qs + 4 * g));
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = a[t];
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
    __m512 facc[T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) facc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; ++b, x += kPanelQ8Bytes) {
      const PanelBlock& B = pb[b];
      __m512i iacc[T];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) iacc[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        const __m512i m = B.mins[p];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          iacc[t] = _mm512_dpwssd_epi32(iacc[t], m, Bcast32(x + t * xrb + kPanelQ8Bsums + 4 * p));
        }
      }
      if constexpr (P::kSeparateMins) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m512 s = _mm512_mul_ps(B.dmin, BcastF32(x + t * xrb));
          facc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(iacc[t]), s, facc[t]);
          iacc[t] = _mm512_setzero_si512();
        }
      }
      if constexpr (P::kSub == 0) {
        DotGroups<T>(B, 0, 64, x, xrb, iacc);
      } else {
        constexpr int kGroups = P::kSub / 4;
        for (int j = 0; j < 256 / P::kSub; ++j) {
          __m512i sacc[T];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) sacc[t] = _mm512_setzero_si512();
          DotGroups<T>(B, j * kGroups, (j + 1) * kGroups, x, xrb, sacc);
          const __m512i s = B.sc[j];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) {
            iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(sacc[t], s));
          }
        }
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 s = _mm512_mul_ps(B.d, BcastF32(x + t * xrb));
        facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), s, facc[t]);
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      float* yt = y + t * ys;
      _mm512_storeu_ps(yt, add ? _mm512_add_ps(_mm512_loadu_ps(yt), facc[t]) : facc[t]);
    }
  }
};

// The float step of the pair tiles (KPanel16Pair, Panel32TilePair in avx512_panel32.h):
// facc[i][t] += float(iacc[i][t]) * (d of panel i * dx(t)), panel 0 with da, panel 1 with db.
template <int T, class Dx>
[[gnu::always_inline]] inline void PairScaleAdd(__m512 (&facc)[2][T], const __m512i (&iacc)[2][T],
                                                __m512 da, __m512 db, Dx dx) {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const __m512 s = dx(t);
    facc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[0][t]), _mm512_mul_ps(da, s), facc[0][t]);
    facc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[1][t]), _mm512_mul_ps(db, s), facc[1][t]);
  }
}
// y[t * ys + 0 .. 31] (+)= both panels' sums of token t.
template <int T>
[[gnu::always_inline]] inline void PairStore(const __m512 (&facc)[2][T], float* y, int64_t ys,
                                             bool add) {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    float* yt = y + t * ys;
    _mm512_storeu_ps(yt, add ? _mm512_add_ps(_mm512_loadu_ps(yt), facc[0][t]) : facc[0][t]);
    _mm512_storeu_ps(yt + 16, add ? _mm512_add_ps(_mm512_loadu_ps(yt + 16), facc[1][t]) : facc[1][t]);
  }
}

// The pair tile (panel_driver.h), for a trait P that sets kPairTokens: 32 rows, two panels'
// blocks side by side, so that every activation word broadcast feeds two vpdpbusd instead of
// one (the same integer sums and the same float operations per row as KPanel16's Tile: the
// results are equal bit for bit). A standalone loop of the inner step on the 2-core Zen 5 VM:
// 16 rows x 8 tokens 5.0 G vpdpbusd/s, 32 x 5 6.0, 32 x 4 5.4, 64 x 3 6.25. Prompt 512 of the
// 1.5B-shape files (bench/synthetic/ab.py, 4 interleaved rounds each): Q2_K (5 tokens per
// tile) 1 thread +9.7%, 2 threads +11.4%; Q4_K_M (Q4_K with 3 tokens) +36% and +15%. Q6_K and
// IQ4_XS measured slower in bench_kernels with 3 or 4 tokens and keep KPanel16.
template <class P>
struct KPanel16Pair : KPanel16<P> {
  static constexpr int kPairTokens = P::kPairTokens;
  static constexpr int kPairChunk = 4;  // 2 x 4 x 5.8 KB of stack, as one chunk of KPanel16

  // Sums of groups [g0, g1) of both panels and every token into acc.
  template <int T>
  [[gnu::always_inline]] static inline void PairGroups(const PanelBlock& A, const PanelBlock& B,
                                                       int g0, int g1, const Byte* x,
                                                       __m512i (&acc)[2][T], size_t xrb) {
    // Local sums, as DotGroups: updated through `acc`, GCC kept them on the stack, and the Q4_K
    // and Q5_K pair tiles ran at half speed (bench_kernels 8960x1536 x 64: 7.6 -> 3.4 ms).
    __m512i a0[T], a1[T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) a0[t] = acc[0][t], a1[t] = acc[1][t];
#pragma GCC unroll 8
    for (int g = g0; g < g1; ++g) {
      const __m512i wa = A.q[g], wb = B.q[g];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512i v = Bcast32(x + t * xrb + kPanelQ8Qs + 4 * g);
        a0[t] = _mm512_dpbusd_epi32(a0[t], wa, v);
        a1[t] = _mm512_dpbusd_epi32(a1[t], wb, v);
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[0][t] = a0[t], acc[1][t] = a1[t];
  }

  template <int T>
  static void TilePair(const PanelBlock* pa, const PanelBlock* pb, int nb, const Byte* x,
                       size_t xrb, float* y, int64_t ys, bool add) {
    __m512 facc[2][T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) facc[0][t] = facc[1][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; ++b, x += kPanelQ8Bytes) {
      const PanelBlock& A = pa[b];
      const PanelBlock& B = pb[b];
      __m512i iacc[2][T];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) iacc[0][t] = iacc[1][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        const __m512i ma = A.mins[p], mb = B.mins[p];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m512i v = Bcast32(x + t * xrb + kPanelQ8Bsums + 4 * p);
          iacc[0][t] = _mm512_dpwssd_epi32(iacc[0][t], ma, v);
          iacc[1][t] = _mm512_dpwssd_epi32(iacc[1][t], mb, v);
        }
      }
      if constexpr (P::kSeparateMins) {
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m512 dx = BcastF32(x + t * xrb);
          facc[0][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(iacc[0][t]), _mm512_mul_ps(A.dmin, dx), facc[0][t]);
          facc[1][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(iacc[1][t]), _mm512_mul_ps(B.dmin, dx), facc[1][t]);
          iacc[0][t] = iacc[1][t] = _mm512_setzero_si512();
        }
      }
      if constexpr (P::kSub == 0) {
        PairGroups<T>(A, B, 0, 64, x, iacc, xrb);
      } else {
        constexpr int kGroups = P::kSub / 4;
        for (int j = 0; j < 256 / P::kSub; ++j) {
          __m512i sacc[2][T];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) sacc[0][t] = sacc[1][t] = _mm512_setzero_si512();
          PairGroups<T>(A, B, j * kGroups, (j + 1) * kGroups, x, sacc, xrb);
          const __m512i sa = A.sc[j], sb = B.sc[j];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) {
            iacc[0][t] = _mm512_add_epi32(iacc[0][t], _mm512_mullo_epi32(sacc[0][t], sa));
            iacc[1][t] = _mm512_add_epi32(iacc[1][t], _mm512_mullo_epi32(sacc[1][t], sb));
          }
        }
      }
      PairScaleAdd<T>(facc, iacc, A.d, B.d, [&](int t) { return BcastF32(x + t * xrb); });
    }
    PairStore<T>(facc, y, ys, add);
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
