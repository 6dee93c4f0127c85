// The driver shared by the panel GEMMs of prefill (avx512_panel.h, avx2_panel.h and the Q8_0
// panels in avx2.cc): rows are taken kRows at a time (a panel), each panel's weight blocks are
// unpacked kChunk at a time into a stack buffer, and every token passes over the unpacked chunk
// in tiles of kTokens (halved for the remainder), the first chunk writing y and the later ones
// adding to it. A panel kernel K provides:
//   using Block;                             one unpacked weight block of kRows rows
//   kRows, kChunk, kTokens, kMinTokens       (prefill of fewer tokens takes the row kernels)
//   kXBlockBytes                             activation bytes per weight block
//   static int64_t Blocks(int64_t k)         weight blocks per row of k values
//   static void Unpack(const Byte* w, size_t wrb, int64_t b0, int n, Block* out)
//                                            blocks [b0, b0 + n) of kRows rows at w
//   template <int T> static void Tile(const Block* pb, int nb, const Byte* x, size_t xrb,
//                                     float* y, int64_t ys, bool add)
//                                            y[t * ys + 0 .. kRows-1] (+)= T tokens' sums
// and may provide, to take two panels (2 kRows rows) per tile:
//   kPairTokens (> 0), kPairChunk            tokens per pair tile, blocks unpacked at a time
//   template <int T> static void TilePair(const Block* pa, const Block* pb, int nb,
//                                         const Byte* x, size_t xrb, float* y, int64_t ys,
//                                         bool add)
//                                            y[t * ys + 0 .. 2 kRows-1] (+)= the sums of
//                                            panel pa (rows 0 .. kRows-1) and pb (the next)
// Internal linkage, as tile_driver.h: each TU gets its own copy compiled with its own flags.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/x86/tile_driver.h"

namespace ondo::kernels::x86 {
namespace {

// tile.template operator()<T>(t) for t = 0, T, 2T, ... while T tokens are left, then the
// remainder in tiles of T / 2, T / 4, ... (the single- and the pair-panel tiles alike).
template <int T, class Tile>
void ForTokenTiles(int t, int n_tok, Tile tile) {
  for (; t + T <= n_tok; t += T) tile.template operator()<T>(t);
  if constexpr (T > 1) {
    if (t < n_tok) ForTokenTiles<T / 2>(t, n_tok, tile);
  }
}

template <class K>
constexpr int PairTokens() {
  if constexpr (requires { K::kPairTokens; }) {
    return K::kPairTokens;
  } else {
    return 0;
  }
}

// Rows [r0, r0 + K::kRows * n_panels).
template <class K>
void PanelMatMul(const Byte* w, size_t wrb, int64_t r0, int64_t n_panels, int64_t k,
                 const Byte* x, size_t xrb, int n_tok, float* y, int64_t ys) {
  const int64_t nb = K::Blocks(k);
  int64_t p = 0;
  if constexpr (PairTokens<K>() > 0) {
    typename K::Block pair_buf[2][K::kPairChunk];
    for (; p + 1 < n_panels; p += 2) {
      const int64_t r = r0 + K::kRows * p;
      for (int64_t b0 = 0; b0 < nb; b0 += K::kPairChunk) {
        const int n = static_cast<int>(nb - b0 < K::kPairChunk ? nb - b0 : K::kPairChunk);
        K::Unpack(w + r * wrb, wrb, b0, n, pair_buf[0]);
        K::Unpack(w + (r + K::kRows) * wrb, wrb, b0, n, pair_buf[1]);
        const Byte* xc = x + b0 * K::kXBlockBytes;
        ForTokenTiles<PairTokens<K>()>(0, n_tok, [&]<int T>(int t) {
          K::template TilePair<T>(pair_buf[0], pair_buf[1], n, xc + static_cast<size_t>(t) * xrb,
                                  xrb, y + r + t * ys, ys, b0 > 0);
        });
      }
    }
    if (p == n_panels) return;
  }
  typename K::Block buf[K::kChunk];
  for (; p < n_panels; ++p) {
    const int64_t r = r0 + K::kRows * p;
    for (int64_t b0 = 0; b0 < nb; b0 += K::kChunk) {
      const int n = static_cast<int>(nb - b0 < K::kChunk ? nb - b0 : K::kChunk);
      K::Unpack(w + r * wrb, wrb, b0, n, buf);
      const Byte* xc = x + b0 * K::kXBlockBytes;
      ForTokenTiles<K::kTokens>(0, n_tok, [&]<int T>(int t) {
        K::template Tile<T>(buf, n, xc + static_cast<size_t>(t) * xrb, xrb, y + r + t * ys, ys,
                            b0 > 0);
      });
    }
  }
}

// MatMul with the panel GEMM for prefill and the row kernels `rows` for decode and the rows
// left after the last whole panel.
template <class K, class RowMatMul>
void PanelOrRows(const void* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const void* x,
                 size_t xrb, int n_tok, float* y, int64_t ys, RowMatMul rows) {
  const int64_t n_panels =
      n_tok >= K::kMinTokens && K::Blocks(k) > 0 ? (r1 - r0) / K::kRows : 0;
  if (n_panels > 0) {
    PanelMatMul<K>(static_cast<const Byte*>(w), wrb, r0, n_panels, k, static_cast<const Byte*>(x),
                   xrb, n_tok, y, ys);
  }
  const int64_t done = r0 + K::kRows * n_panels;
  if (done < r1) rows(w, wrb, done, r1, k, x, xrb, n_tok, y, ys);
}

}  // namespace
}  // namespace ondo::kernels::x86
