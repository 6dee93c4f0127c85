// The prefill GEMM of the K-quants on AVX2 (included by the AVX2 K-quant files, compiled with
// -mavx2 -mfma -mf16c): the AVX-512 panel GEMM (avx512_panel.h) with 8-row panels and no VNNI.
//
// A panel of 8 weight rows is unpacked, one super-block at a time, into u8 quants with the rows
// interleaved: vector g holds, in int32 lane r, values 4g .. 4g + 3 of row r. Per token, the 4
// activation bytes 4g .. 4g + 3 are broadcast and vpmaddubsw gives, in lane r, two int16 pair
// sums of row r; the pair sums of kMaddGroups consecutive vectors are added in int16 (the trait
// guarantees they cannot saturate, even for activations of -128; 2 measured fastest on Zen 4,
// against 1, 4 and 8), and one vpmaddwd against the sub-block scale (sc_j, sc_j) of each row
// turns them into exact int32 sums:
//
//   y = d * d_x * sum_j sc_j * (q . x)_j  -/+  dmin * d_x * sum_p (m_2p, m_2p+1) . bsum pair p
//
// A type describes its block with a Panel8 trait:
//   kBytes, kSub (16 or 32 values per sub-block), kMaddGroups (vectors summed in int16),
//   kSeparateMins (as in avx512_panel.h)
//   Unpack(block, PanelRow8&)  q[c] = u8 values 32c .. 32c + 31 in order, sc16 = int16
//                   sub-block scales (256 / kSub of them), mins = 8 int16 pairs, d, dmin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/panel_driver.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx2 {
namespace {

using x86::Byte;

struct PanelRow8 {
  __m256i q[8];
  __m256i sc16;
  __m256i mins;
  float d;
  float dmin;
};

struct alignas(32) Panel8Block {
  __m256i q[64];    // q[g] lane r: values 4g .. 4g + 3 of row r
  __m256i sc[16];   // lane r: int16 pair (sc_j, sc_j) of row r
  __m256i mins[8];  // lane r: row r's int16 pair against bsum pair p
  __m256 d;
  __m256 dmin;
};

// out[g] lane r = in[r] lane g (an 8 x 8 transpose of int32).
inline void Transpose8(const __m256i* in, __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  // u[4i + j], 128-bit lane L: rows 4i .. 4i + 3 of dword 4L + j.
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
    out[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
  }
}

// int16 values v_i (8 of them, a 128-bit half) as dwords (v_i, v_i).
inline __m256i PairUp(__m128i v) {
  const __m256i x = _mm256_cvtepi16_epi32(v);
  return _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(x, 16));
}

template <class P>
void UnpackPanel8(const Byte* w, size_t wrb, int64_t ib, Panel8Block& out) {
  __m256i rows[8][8], sc[2][8], mins[8];
  alignas(32) float d[8], dmin[8];
  for (int r = 0; r < 8; ++r) {
    PanelRow8 pr;
    P::Unpack(w + r * wrb + ib * P::kBytes, pr);
    for (int c = 0; c < 8; ++c) rows[c][r] = pr.q[c];
    sc[0][r] = PairUp(_mm256_castsi256_si128(pr.sc16));
    sc[1][r] = PairUp(_mm256_extracti128_si256(pr.sc16, 1));
    mins[r] = pr.mins;
    d[r] = pr.d;
    dmin[r] = pr.dmin;
  }
  for (int c = 0; c < 8; ++c) Transpose8(rows[c], out.q + 8 * c);
  Transpose8(sc[0], out.sc);
  if constexpr (P::kSub == 16) Transpose8(sc[1], out.sc + 8);
  Transpose8(mins, out.mins);
  out.d = _mm256_load_ps(d);
  out.dmin = _mm256_load_ps(dmin);
}

inline __m256i Bcast32(const Byte* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline __m256 BcastF32(const Byte* p) {
  float v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_ps(v);
}

constexpr size_t kPanel8Q8Bytes = sizeof(block_q8_K);
constexpr size_t kPanel8Q8Qs = offsetof(block_q8_K, qs);
constexpr size_t kPanel8Q8Bsums = offsetof(block_q8_K, bsums);

// The panel kernel (panel_driver.h) of a K-quant with trait P.
template <class P>
struct KPanel8 {
  using Block = Panel8Block;
  static constexpr int kRows = 8;
  static constexpr int kChunk = 8;      // 8 x 2.9 KB of stack
  static constexpr int kTokens = 3;     // 16 registers: 3 tokens x (int16, int32, float sums);
                                        // 4 spilled: Q3_K-Q6_K 5-8% slower, Q2_K the same
  static constexpr int kMinTokens = 8;  // as in avx512_panel.h
  static constexpr size_t kXBlockBytes = kPanel8Q8Bytes;
  static int64_t Blocks(int64_t k) { return k / kQK_K; }
  static void Unpack(const Byte* w, size_t wrb, int64_t b0, int n, Block* out) {
    for (int b = 0; b < n; ++b) UnpackPanel8<P>(w, wrb, b0 + b, out[b]);
  }

  template <int T>
  static void Tile(const Panel8Block* pb, int nb, const Byte* x, size_t xrb, float* y, int64_t ys,
                   bool add) {
    constexpr int kGroups = P::kSub / 4;  // vectors per sub-block
    constexpr int kM = P::kMaddGroups;
    __m256 facc[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) facc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; ++b, x += kPanel8Q8Bytes) {
      const Panel8Block& B = pb[b];
      __m256i iacc[T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) iacc[t] = _mm256_setzero_si256();
      // Loops over p and j unrolled by 2 only, as in avx2_panel32.h: fully unrolled, the tile's
      // sums spilled; Q2_K, Q4_K, Q6_K 6-7% faster (bench_kernels 8960x1536 x 64, 6 rounds).
#pragma GCC unroll 2
      for (int p = 0; p < 8; ++p) {
        const __m256i m = B.mins[p];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          iacc[t] = _mm256_add_epi32(
              iacc[t], _mm256_madd_epi16(m, Bcast32(x + t * xrb + kPanel8Q8Bsums + 4 * p)));
        }
      }
      if constexpr (P::kSeparateMins) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const __m256 s = _mm256_mul_ps(B.dmin, BcastF32(x + t * xrb));
          facc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(iacc[t]), s, facc[t]);
          iacc[t] = _mm256_setzero_si256();
        }
      }
#pragma GCC unroll 2
      for (int j = 0; j < 256 / P::kSub; ++j) {
        const __m256i s = B.sc[j];
#pragma GCC unroll 8
        for (int h = 0; h < kGroups / kM; ++h) {
          const int g0 = j * kGroups + h * kM;
          __m256i s16[T];
#pragma GCC unroll 8
          for (int gg = 0; gg < kM; ++gg) {
            const __m256i wv = B.q[g0 + gg];
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
              const __m256i p =
                  _mm256_maddubs_epi16(wv, Bcast32(x + t * xrb + kPanel8Q8Qs + 4 * (g0 + gg)));
              s16[t] = gg == 0 ? p : _mm256_add_epi16(s16[t], p);
            }
          }
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) {
            iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(s16[t], s));
          }
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m256 s = _mm256_mul_ps(B.d, BcastF32(x + t * xrb));
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), s, facc[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float* yt = y + t * ys;
      _mm256_storeu_ps(yt, add ? _mm256_add_ps(_mm256_loadu_ps(yt), facc[t]) : facc[t]);
    }
  }
};

// MatMul of a K-quant: the panel GEMM for prefill, the row kernels `rows` for the rest.
template <class P, class RowMatMul>
void Panel8OrRows(const void* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const void* x,
                  size_t xrb, int n_tok, float* y, int64_t ys, RowMatMul rows) {
  x86::PanelOrRows<KPanel8<P>>(w, wrb, r0, r1, k, x, xrb, n_tok, y, ys, rows);
}

}  // namespace
}  // namespace ondo::kernels::avx2
