// Helpers shared by the kernels/arm sources, compiled into each kernel set's namespace
// (ONDO_ARM_NS: neon or neondot) with internal linkage, so a function built with the
// dot-product instructions can never be picked by the linker for a CPU without them (the
// reason kernels/ref/fp16.h is not included here).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifndef ONDO_ARM_NS
#error "ONDO_ARM_NS (neon or neondot) must be defined by the build"
#endif

namespace ondo::kernels::ONDO_ARM_NS {
namespace {

// acc + the products a[i] * b[i] of 16 int8 pairs, summed in int32 lanes. Which lane holds
// which product differs between the two paths (sdot: groups of 4; plain: pairs folded), so
// use only the sum of all lanes (vaddvq_s32) or lane-wise sums of several calls.
inline int32x4_t DotI8(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  // Each int8 x int8 product fits int16 (|p| <= 16384); pairs are added into int32 lanes.
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

// IEEE binary16 bits -> float (exact; aarch64 has the conversion in hardware).
inline float HalfToF32(uint16_t bits) {
  __fp16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<float>(h);
}
inline float LoadHalf(const void* p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof bits);
  return HalfToF32(bits);
}

// Calls Kernel::Run<NT> for the largest NT <= MaxNT with NT <= nt (so NT == nt when nt <= MaxNT).
template <class Kernel, int MaxNT>
inline void RunTokens(int nt, int64_t n, const unsigned char* row, const unsigned char* const* xs,
                      float* out) {
  if constexpr (MaxNT > 1) {
    if (nt < MaxNT) {
      RunTokens<Kernel, MaxNT - 1>(nt, n, row, xs, out);
      return;
    }
  }
  Kernel::template Run<MaxNT>(n, row, xs, out);
}

// Decode: rows [r0, r1) against one token, four at a time and the 1..3 left at the end:
// tile.Run<NR>(first_row, w_row_bytes, x, y_of_first_row) computes NR rows.
template <class Tile>
void DecodeRows(const Tile& tile, const unsigned char* w, size_t wrb, int64_t r0, int64_t r1,
                const unsigned char* x, float* y) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    tile.template Run<4>(w + static_cast<size_t>(r) * wrb, wrb, x, y + r);
  }
  const unsigned char* wr = w + static_cast<size_t>(r) * wrb;
  switch (r1 - r) {
    case 3: tile.template Run<3>(wr, wrb, x, y + r); break;
    case 2: tile.template Run<2>(wr, wrb, x, y + r); break;
    case 1: tile.template Run<1>(wr, wrb, x, y + r); break;
    default: break;
  }
}

// The MatMul of a type whose row kernel handles 1..MaxTok tokens at once:
// Kernel::Run<NT>(k, w_row, x_rows[NT], out[NT]) computes one weight row against NT activation
// rows, so each weight block is unpacked once per group of MaxTok tokens (prefill) and once per
// row for a single token (decode). Rows [r0, r1), tokens in groups of MaxTok.
template <class Kernel, int MaxTok>
void MatMulTokenTiles(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                      const void* x_vd, size_t x_row_bytes, int n_tok, float* y,
                      int64_t y_stride) {
  const auto* wb = static_cast<const unsigned char*>(w);
  const auto* xb = static_cast<const unsigned char*>(x_vd);
  for (int t0 = 0; t0 < n_tok; t0 += MaxTok) {
    const int nt = n_tok - t0 < MaxTok ? n_tok - t0 : MaxTok;
    const unsigned char* xs[MaxTok];
    for (int t = 0; t < nt; ++t) xs[t] = xb + static_cast<size_t>(t0 + t) * x_row_bytes;
    for (int64_t r = r0; r < r1; ++r) {
      const unsigned char* row = wb + static_cast<size_t>(r) * w_row_bytes;
      float out[MaxTok];
      RunTokens<Kernel, MaxTok>(nt, k, row, xs, out);
      for (int t = 0; t < nt; ++t) y[static_cast<int64_t>(t0 + t) * y_stride + r] = out[t];
    }
  }
}

}  // namespace
}  // namespace ondo::kernels::ONDO_ARM_NS
