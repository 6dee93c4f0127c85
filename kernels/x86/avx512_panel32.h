// The prefill GEMM of the block-of-32 types against Q8_0 activations on AVX-512 VNNI (Q8_0 in
// avx512.cc; Q4_0, Q5_0, IQ4_NL in avx512_legacy.cc; both compiled with the AVX-512 flags).
//
// As the K-quants' panel GEMM (avx512_panel.h): 16 weight rows interleaved, int32 lane r for
// row r, one vpdpbusd per 4 values x 16 rows x token with the token's 4 activation bytes
// broadcast, and the per-block work (int -> float, d_w * d_x, FMA) once per 16 rows instead
// of once per row. The weights are unsigned bytes u = w + kOffset (Q8_0 128, Q4_0 8, Q5_0 16,
// IQ4_NL 128, the stored quants or the level + 128); the excess kOffset * sum(x) of each token
// and block starts that block's sum negated, prepared once per tile of tokens for a group of
// panels. Integer sums are exact for every weight byte and every int8 activation.
//
// A type describes its block with a trait B:
//   kBytes                    bytes per weight block
//   kOffset                   u - w
//   Unpack(block) -> __m256i  the 32 unsigned bytes u in value order
//   Scale(block) -> float     d
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/avx512_panel.h"

namespace ondo::kernels::avx512 {
namespace {

struct alignas(64) Panel32Block {
  __m512i q[8];  // q[g] lane r: u of values 4g .. 4g + 3 of row r
  __m512 d;      // lane r: d of row r
};
constexpr int kPanel32Chunk = 16;      // blocks unpacked at a time
constexpr int kPanel32Group = 4;       // panels sharing one activation preparation
constexpr int kPanel32MinTokens = 8;   // fewer tokens: the row kernels
constexpr int kPanel32TileTokens = 8;

// Blocks [b0, b0 + n) of 16 rows, two blocks per transpose.
template <class B>
void UnpackPanel32(const Byte* w, size_t wrb, int64_t b0, int n, Panel32Block* out) {
  for (int b = 0; b < n; b += 2) {
    const bool two = b + 1 < n;
    __m512i rows[16], tr[16];
    alignas(64) float d[2][16];
    for (int r = 0; r < 16; ++r) {
      const Byte* p = w + r * wrb + (b0 + b) * B::kBytes;
      const __m256i hi = two ? B::Unpack(p + B::kBytes) : _mm256_setzero_si256();
      rows[r] = _mm512_inserti64x4(_mm512_castsi256_si512(B::Unpack(p)), hi, 1);
      d[0][r] = B::Scale(p);
      d[1][r] = two ? B::Scale(p + B::kBytes) : 0.0f;
    }
    Transpose16(rows, tr);
    for (int g = 0; g < 8; ++g) out[b].q[g] = tr[g];
    out[b].d = _mm512_load_ps(d[0]);
    if (two) {
      for (int g = 0; g < 8; ++g) out[b + 1].q[g] = tr[8 + g];
      out[b + 1].d = _mm512_load_ps(d[1]);
    }
  }
}

// Per token of a tile and block of the chunk: -kOffset * sum(x quants), and d_x.
struct Panel32X {
  int32_t c[kPanel32Chunk];
  float d[kPanel32Chunk];
};

// y[t * ys + 16 i + 0 .. 15] (+)= the sums of panel pp[i] and T tokens: NP = 1, or 2 (32 rows,
// each broadcast activation word feeding two vpdpbusd, as KPanel16Pair in avx512_panel.h; every
// row gets the same integer sums and float operations, so the results are equal bit for bit).
// With two panels T <= 4: 4 T accumulators.
template <int NP, int T>
void Panel32Tiles(const Panel32Block* const (&pp)[NP], int nb, const Panel32X* xp, const Byte* x,
                  size_t xrb, float* y, int64_t ys, bool add) {
  static_assert(NP == 1 || T <= 4, "registers");
  constexpr size_t kXB = sizeof(block_q8_0);
  __m512 facc[NP][T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) facc[i][t] = _mm512_setzero_ps();
  }
  for (int b = 0; b < nb; ++b) {
    const Byte* xb = x + b * kXB + 2;
    __m512i iacc[NP][T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) iacc[i][t] = _mm512_set1_epi32(xp[t].c[b]);
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      __m512i wv[NP];
#pragma GCC unroll 2
      for (int i = 0; i < NP; ++i) wv[i] = pp[i][b].q[g];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512i v = Bcast32(xb + t * xrb + 4 * g);
#pragma GCC unroll 2
        for (int i = 0; i < NP; ++i) iacc[i][t] = _mm512_dpbusd_epi32(iacc[i][t], wv[i], v);
      }
    }
    __m512 d[NP];
#pragma GCC unroll 2
    for (int i = 0; i < NP; ++i) d[i] = pp[i][b].d;
    ScaleAdd<false>(facc, iacc, d, [&](int t) { return _mm512_set1_ps(xp[t].d[b]); });
  }
  StoreTiles<NP, T>(facc, y, ys, add);
}

// T tokens (at x, the chunk's first block) against np unpacked panels (kPanel32Chunk blocks
// apart in pb, 16 rows apart in y).
template <int kOffset, int T>
void Panel32Tokens(const Panel32Block* pb, int np, int nb, const Byte* x, size_t xrb, int n_tok,
                   float* y, int64_t ys, bool add) {
  constexpr size_t kXB = sizeof(block_q8_0);
  int t = 0;
  for (; t + T <= n_tok; t += T) {
    Panel32X xp[T];
    for (int i = 0; i < T; ++i) {
      const Byte* xt = x + static_cast<size_t>(t + i) * xrb;
      for (int b = 0; b < nb; ++b) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt + b * kXB + 2));
        const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
        xp[i].c[b] = -kOffset * _mm_cvtsi128_si32(s4);
        uint16_t h;
        std::memcpy(&h, xt + b * kXB, 2);
        xp[i].d[b] = _cvtsh_ss(h);
      }
    }
    // Panels two at a time (up to 4 tokens each), the last one alone. Prompt
    // 512 of the 1.5B-shape Q8_0, Zen 5 VM, 3 interleaved rounds: +5.4% with 1 thread, +7.8%
    // with 2 (bench_kernels Q8_0 and Q4_0 64 tokens: +10-15%).
    constexpr int kPairT = T < 4 ? T : 4;
    int p = 0;
    for (; p + 1 < np; p += 2) {
      for (int s = 0; s < T; s += kPairT) {
        Panel32Tiles<2, kPairT>({pb + p * kPanel32Chunk, pb + (p + 1) * kPanel32Chunk}, nb, xp + s,
                                x + static_cast<size_t>(t + s) * xrb, xrb,
                                y + (t + s) * ys + 16 * p, ys, add);
      }
    }
    for (; p < np; ++p) {
      Panel32Tiles<1, T>({pb + p * kPanel32Chunk}, nb, xp, x + static_cast<size_t>(t) * xrb, xrb,
                         y + t * ys + 16 * p, ys, add);
    }
  }
  if constexpr (T > 1) {
    if (t < n_tok) {
      Panel32Tokens<kOffset, T / 2>(pb, np, nb, x + static_cast<size_t>(t) * xrb, xrb, n_tok - t,
                                    y + t * ys, ys, add);
    }
  }
}

// Rows [r0, r0 + 16 * n_panels).
template <class B>
void Panel32MatMul(const Byte* w, size_t wrb, int64_t r0, int64_t n_panels, int64_t k,
                   const Byte* x, size_t xrb, int n_tok, float* y, int64_t ys) {
  const int64_t nb = k / kQK8_0;
  Panel32Block buf[kPanel32Group * kPanel32Chunk];  // 36 KiB
  for (int64_t p0 = 0; p0 < n_panels; p0 += kPanel32Group) {
    const int np =
        static_cast<int>(n_panels - p0 < kPanel32Group ? n_panels - p0 : kPanel32Group);
    const int64_t r = r0 + 16 * p0;
    for (int64_t b0 = 0; b0 < nb; b0 += kPanel32Chunk) {
      const int n = static_cast<int>(nb - b0 < kPanel32Chunk ? nb - b0 : kPanel32Chunk);
      for (int p = 0; p < np; ++p) {
        UnpackPanel32<B>(w + (r + 16 * p) * wrb, wrb, b0, n, buf + p * kPanel32Chunk);
      }
      Panel32Tokens<B::kOffset, kPanel32TileTokens>(buf, np, n, x + b0 * sizeof(block_q8_0), xrb,
                                                    n_tok, y + r, ys, b0 > 0);
    }
  }
}

// MatMul of a block-of-32 type: the panel GEMM for prefill, the row kernels `rows` for the
// rest.
template <class B, class RowMatMul>
void Panel32OrRows(const void* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const void* x,
                   size_t xrb, int n_tok, float* y, int64_t ys, RowMatMul rows) {
  const int64_t n_panels = n_tok >= kPanel32MinTokens && k > 0 ? (r1 - r0) / 16 : 0;
  if (n_panels > 0) {
    Panel32MatMul<B>(static_cast<const Byte*>(w), wrb, r0, n_panels, k,
                     static_cast<const Byte*>(x), xrb, n_tok, y, ys);
  }
  const int64_t done = r0 + 16 * n_panels;
  if (done < r1) rows(w, wrb, done, r1, k, x, xrb, n_tok, y, ys);
}

}  // namespace
}  // namespace ondo::kernels::avx512
