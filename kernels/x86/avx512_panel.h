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
#include "kernels/x86/tile_driver.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;

struct PanelRow {
  __m512i q[4];
  __m512i mins;
  __m512i sc;
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
    sc[r] = pr.sc;
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

// T tokens (x rows xrb apart, starting at the panel chunk's first block) against nb unpacked
// blocks: y[t * ys + 0..15] = (or +=, when `add`) the 16 rows' sums.
template <class P, int T>
void PanelTile(const PanelBlock* pb, int nb, const Byte* x, size_t xrb, float* y, int64_t ys,
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
#pragma GCC unroll 4
      for (int g = 0; g < 64; ++g) {
        const __m512i wv = B.q[g];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          iacc[t] = _mm512_dpbusd_epi32(iacc[t], wv, Bcast32(x + t * xrb + kPanelQ8Qs + 4 * g));
        }
      }
    } else {
      constexpr int kGroups = P::kSub / 4;
      for (int j = 0; j < 256 / P::kSub; ++j) {
        __m512i sacc[T];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) sacc[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = j * kGroups; g < (j + 1) * kGroups; ++g) {
          const __m512i wv = B.q[g];
#pragma GCC unroll 16
          for (int t = 0; t < T; ++t) {
            sacc[t] = _mm512_dpbusd_epi32(sacc[t], wv, Bcast32(x + t * xrb + kPanelQ8Qs + 4 * g));
          }
        }
        const __m512i s = B.sc[j];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(sacc[t], s));
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

template <class P, int T>
void PanelTokens(const PanelBlock* pb, int nb, const Byte* x, size_t xrb, int n_tok, float* y,
                 int64_t ys, bool add) {
  int t = 0;
  for (; t + T <= n_tok; t += T) {
    PanelTile<P, T>(pb, nb, x + static_cast<size_t>(t) * xrb, xrb, y + t * ys, ys, add);
  }
  if constexpr (T > 1) {
    if (t < n_tok) {
      PanelTokens<P, T / 2>(pb, nb, x + static_cast<size_t>(t) * xrb, xrb, n_tok - t, y + t * ys,
                            ys, add);
    }
  }
}

// Prefill below this many tokens uses the row kernels: unpacking a panel block costs about as
// much as a few tokens' products.
constexpr int kPanelMinTokens = 8;
// Blocks unpacked at a time (bounds the stack buffer: 8 x 5.8 KB).
constexpr int kPanelChunk = 8;
constexpr int kPanelTokens = 8;

// Rows [r0, r0 + 16 * n_panels) of a MatMul; the caller computes the rest.
template <class P>
void PanelMatMul(const Byte* w, size_t wrb, int64_t r0, int64_t n_panels, int64_t k,
                 const Byte* x, size_t xrb, int n_tok, float* y, int64_t ys) {
  const int64_t nb = k / kQK_K;
  PanelBlock buf[kPanelChunk];
  for (int64_t p = 0; p < n_panels; ++p) {
    const int64_t r = r0 + 16 * p;
    for (int64_t b0 = 0; b0 < nb; b0 += kPanelChunk) {
      const int n = static_cast<int>(nb - b0 < kPanelChunk ? nb - b0 : kPanelChunk);
      for (int b = 0; b < n; ++b) UnpackPanel<P>(w + r * wrb, wrb, b0 + b, buf[b]);
      PanelTokens<P, kPanelTokens>(buf, n, x + b0 * kPanelQ8Bytes, xrb, n_tok, y + r, ys, b0 > 0);
    }
  }
}

// MatMul with the panel GEMM for prefill and the row kernel K for decode and leftover rows.
template <class P, class RowMatMul>
void PanelOrRows(const void* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const void* x,
                 size_t xrb, int n_tok, float* y, int64_t ys, RowMatMul rows) {
  const int64_t n_panels = n_tok >= kPanelMinTokens && k > 0 ? (r1 - r0) / 16 : 0;
  if (n_panels > 0) {
    PanelMatMul<P>(static_cast<const Byte*>(w), wrb, r0, n_panels, k, static_cast<const Byte*>(x),
                   xrb, n_tok, y, ys);
  }
  const int64_t done = r0 + 16 * n_panels;
  if (done < r1) rows(w, wrb, done, r1, k, x, xrb, n_tok, y, ys);
}

}  // namespace
}  // namespace ondo::kernels::avx512
