// The prefill GEMM of the block-of-32 types against Q8_0 activations on AVX2 (Q8_0 in
// avx2.cc; Q4_0, Q5_0, IQ4_NL in avx2_legacy.cc; both compiled with -mavx2 -mfma -mf16c).
//
// As the K-quants' panel GEMM (avx2_panel.h): 8 weight rows interleaved, int32 lane r for row
// r. Per 4 values x 8 rows x token: the token's 4 activation bytes broadcast, given the signs
// of the weights (vpsignb), times |w| by vpmaddubsw (|pair| <= 2 * 128 * 127 < 2^15: exact for
// activations in [-127, 127], what QuantizeRow makes), widened by vpmaddwd. The per-block float
// work (convert, d_w * d_x, FMA) is done once per 8 rows.
//
// A type describes its block with a trait B:
//   kBytes                    bytes per weight block
//   Unpack(block) -> __m256i  the 32 signed weights in value order
//   Scale(block) -> float     d
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/avx2_panel.h"

namespace ondo::kernels::avx2 {
namespace {

struct alignas(32) Panel8x32Block {
  __m256i aq[8];  // aq[g] lane r: |w| of values 4g .. 4g + 3 of row r
  __m256i sq[8];  // the same values with their signs (vpsignb's sign source)
  __m256 d;       // lane r: d of row r
};

// The panel kernel (panel_driver.h) of a block-of-32 type with trait B.
template <class B>
struct Panel8x32 {
  using Block = Panel8x32Block;
  static constexpr int kRows = 8;
  static constexpr int kChunk = 16;     // 8.5 KiB of stack
  static constexpr int kTokens = 4;     // 16 registers: 4 x (int, float sums) and temporaries
  static constexpr int kMinTokens = 8;  // fewer tokens: the row kernels
  static constexpr size_t kXBlockBytes = sizeof(block_q8_0);
  static int64_t Blocks(int64_t k) { return k / kQK8_0; }

  static void Unpack(const Byte* w, size_t wrb, int64_t b0, int n, Block* out) {
    for (int b = 0; b < n; ++b) {
      __m256i rows[8], tr[8];
      alignas(32) float d[8];
      for (int r = 0; r < 8; ++r) {
        const Byte* p = w + r * wrb + (b0 + b) * B::kBytes;
        rows[r] = B::Unpack(p);
        d[r] = B::Scale(p);
      }
      Transpose8(rows, tr);
      for (int g = 0; g < 8; ++g) {
        out[b].sq[g] = tr[g];
        out[b].aq[g] = _mm256_abs_epi8(tr[g]);  // -128 -> 128 as u8
      }
      out[b].d = _mm256_load_ps(d);
    }
  }

  template <int T>
  static void Tile(const Block* pb, int nb, const Byte* x, size_t xrb, float* y, int64_t ys,
                   bool add) {
    constexpr size_t kXB = sizeof(block_q8_0);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 facc[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) facc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; ++b) {
      const Block& P = pb[b];
      const Byte* xb = x + b * kXB;
      __m256i iacc[T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) iacc[t] = _mm256_setzero_si256();
      // Two groups per loop step, not all 8: fully unrolled, GCC spilled the sums of the tile to
      // the stack (46 stack accesses per block); this loop has none and measured 6-9% faster
      // (bench_kernels, Q8_0 and Q4_0 8960x1536 x 64 tokens, Zen 5 with ONDO_CPU=avx2).
#pragma GCC unroll 2
      for (int g = 0; g < 8; ++g) {
        const __m256i a = P.aq[g], sg = P.sq[g];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const __m256i p = _mm256_maddubs_epi16(a, _mm256_sign_epi8(Bcast32(xb + t * xrb + 2 + 4 * g), sg));
          iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(p, ones));
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        uint16_t h;
        std::memcpy(&h, xb + t * xrb, 2);
        // vpbroadcastw + vcvtph2ps: the scale converted in all 8 lanes at once.
        const __m256 dx = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(h)));
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_mul_ps(P.d, dx), facc[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float* yt = y + t * ys;
      _mm256_storeu_ps(yt, add ? _mm256_add_ps(_mm256_loadu_ps(yt), facc[t]) : facc[t]);
    }
  }
};

}  // namespace
}  // namespace ondo::kernels::avx2
