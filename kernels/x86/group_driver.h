// The row-kernel driver of the x86 kernels whose activations are first rearranged into a
// "group" layout (several blocks' quants interleaved so that each int32 lane belongs to one
// block): the legacy types (avx2_legacy.cc, avx512_legacy.cc) and Q8_0 on AVX-512 (avx512.cc).
// Per call, k is taken in chunks and the tokens in panels; each panel's activations of a chunk
// are rearranged once into stack buffers (K::PrepX), then R x T tiles (K::Tile, R and T halved
// for the remainders) pass over the rows. A kernel K provides (the constants and types by
// deriving from GroupKernelBase):
//   XQuants, XScales                 one group of one token, rearranged
//   kGroup                           blocks per group
//   kXBufGroups, kPanelTokens        the stack buffers' size in groups, tokens per panel (16)
//   kBlockBytes, kXBlockBytes        a weight block, an activation block (both of 32 values)
//   kBandBytes                       0, or the weight bytes of a band of rows (see GroupMatMul)
//   static void PrepX(const Byte* x, int64_t nblocks, XQuants* xq, XScales* xs)
//                                    rearranges blocks [0, nblocks) of one token row
//   template <int R, int T> static void Tile(const Byte* w, size_t wrb, const XQuants* xq,
//       const XScales* xs, int64_t xts, int64_t nblocks, float* y, int64_t ys,
//       bool accumulate, bool next_tile_in_call)
//                                    y[t * ys + r] (+)= the dot products of R rows (w at row 0)
//                                    and T tokens (tokens xts groups apart); the last flag says
//                                    that a decode tile's next R rows are rows of the call
// Internal linkage, as tile_driver.h: each TU gets its own copy compiled with its own flags.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/x86/tile_driver.h"

namespace ondo::kernels::x86 {
namespace {

// The constants and types of a kernel K, to derive it from.
template <class XQ, class XS, int kGroupBlocks, int64_t kBufGroups, size_t kWBlockBytes,
          size_t kActBlockBytes, int64_t kBand = 0>
struct GroupKernelBase {
  using XQuants = XQ;
  using XScales = XS;
  static constexpr int kGroup = kGroupBlocks;
  static constexpr int64_t kXBufGroups = kBufGroups;
  static constexpr int kPanelTokens = 16;
  static constexpr size_t kBlockBytes = kWBlockBytes;
  static constexpr size_t kXBlockBytes = kActBlockBytes;
  static constexpr int64_t kBandBytes = kBand;
};

template <class K>
struct GroupTileArgs {
  const Byte* w;  // row 0 of the call, first block of the chunk
  size_t wrb;
  const typename K::XQuants* xq;  // token 0 of the panel
  const typename K::XScales* xs;
  int64_t xts;  // groups between tokens
  int64_t nblocks;
  float* y;  // token 0 of the panel
  int64_t ys;
  bool accumulate;
  int64_t r1;  // end of the rows driven (of the call, or of its band)
};

template <class K, int R, int T>
void GroupDriveTokens(const GroupTileArgs<K>& a, int64_t r, int n_tok) {
  int t = 0;
  for (; t + T <= n_tok; t += T) {
    K::template Tile<R, T>(a.w + r * a.wrb, a.wrb, a.xq + t * a.xts, a.xs + t * a.xts, a.xts,
                           a.nblocks, a.y + t * a.ys + r, a.ys, a.accumulate,
                           T == 1 && r + 2 * R <= a.r1);
  }
  if constexpr (T > 1) {
    if (t < n_tok) {
      GroupTileArgs<K> b = a;
      b.xq = a.xq + t * a.xts;
      b.xs = a.xs + t * a.xts;
      b.y = a.y + t * a.ys;
      GroupDriveTokens<K, R, T / 2>(b, r, n_tok - t);
    }
  }
}

template <class K, int R, int T>
void GroupDriveRows(const GroupTileArgs<K>& a, int64_t r0, int64_t r1, int n_tok) {
  int64_t r = r0;
  for (; r + R <= r1; r += R) GroupDriveTokens<K, R, T>(a, r, n_tok);
  if constexpr (R > 1) {
    if (r < r1) GroupDriveRows<K, R / 2, T>(a, r, r1, n_tok);
  }
}

// MatMul: R1 x 1 tiles for one token (decode: several rows share each activation load), R x T
// tiles for more (prefill: each weight group is unpacked once per T tokens). With
// K::kBandBytes > 0 and more than one panel, every panel passes over the rows in bands whose
// chunk of weights fits in L2, so that only the first panel reads them from L3 or DRAM; each
// band rearranges the activations again.
template <class K, int R1, int R, int T>
void GroupMatMul(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (r1 <= r0 || n_tok <= 0) return;
  const int64_t nb = k / 32;
  if (nb == 0) {
    for (int t = 0; t < n_tok; ++t) {
      for (int64_t r = r0; r < r1; ++r) y[t * y_stride + r] = 0.0f;
    }
    return;
  }
  const Byte* wb = static_cast<const Byte*>(w);
  const Byte* xb = static_cast<const Byte*>(x_vd);
  const int panel = n_tok < K::kPanelTokens ? n_tok : K::kPanelTokens;
  const int64_t chunk_blocks = K::kXBufGroups / panel * K::kGroup;
  typename K::XQuants xq[K::kXBufGroups];
  typename K::XScales xs[K::kXBufGroups];
  for (int64_t kb0 = 0; kb0 < nb; kb0 += chunk_blocks) {
    const int64_t kbn = nb - kb0 < chunk_blocks ? nb - kb0 : chunk_blocks;
    const int64_t ng = (kbn + K::kGroup - 1) / K::kGroup;
    int64_t band = r1 - r0;
    if constexpr (K::kBandBytes > 0) {
      if (n_tok > panel) {
        band = K::kBandBytes / (kbn * static_cast<int64_t>(K::kBlockBytes)) / 8 * 8;
        if (band < 8) band = 8;
      }
    }
    for (int64_t rb = r0; rb < r1; rb += band) {
      const int64_t re = r1 - rb < band ? r1 : rb + band;
      for (int t0 = 0; t0 < n_tok; t0 += panel) {
        const int nt = n_tok - t0 < panel ? n_tok - t0 : panel;
        if (rb == r0 || n_tok > panel) {
          for (int t = 0; t < nt; ++t) {
            K::PrepX(xb + static_cast<size_t>(t0 + t) * x_row_bytes + kb0 * K::kXBlockBytes, kbn,
                     xq + t * ng, xs + t * ng);
          }
        }
        const GroupTileArgs<K> a{wb + kb0 * K::kBlockBytes, w_row_bytes, xq,      xs, ng, kbn,
                                 y + t0 * y_stride,         y_stride,    kb0 > 0, re};
        if (n_tok == 1) {
          GroupDriveRows<K, R1, 1>(a, rb, re, 1);
        } else {
          GroupDriveRows<K, R, T>(a, rb, re, nt);
        }
      }
    }
  }
}

// VecDot: one row, one token.
template <class K>
float GroupVecDot(int64_t n, const void* w_row, const void* x_vd) {
  float out = 0.0f;
  GroupMatMul<K, 1, 1, 1>(w_row, 0, 0, 1, n, x_vd, 0, 1, &out, 1);
  return out;
}

}  // namespace
}  // namespace ondo::kernels::x86
