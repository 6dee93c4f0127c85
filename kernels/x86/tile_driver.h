// The tile driver shared by the x86 kernel files: splits rows [r0, r1) x tokens [0, n_tok)
// into R x T tiles of a kernel K (K::Tile<R, T>(w, w_row_bytes, x, x_row_bytes, k, y, y_stride)
// computes y[t * y_stride + r] for its tile), halving R and T for the remainders. Token tiles
// sit inside row tiles: the R weight rows of a tile stay in L1 while every token passes over
// them, so each weight block is unpacked once per T tokens.
//
// Everything here has internal linkage (an unnamed namespace), so each TU, compiled with its
// own -m flags, gets its own copy: no AVX-512 code can reach an AVX2-only caller through the
// linker's choice among identical inline definitions.
#pragma once

#include <xmmintrin.h>

#include <cstddef>
#include <cstdint>

namespace ondo::kernels::x86 {
namespace {

using Byte = unsigned char;

// Decode reads each weight row once, and rows are short streams (a few hundred bytes to a few
// KB) that the hardware prefetchers do not pick up: requesting the same block of the rows
// kPrefetchTiles row tiles ahead into L2 measured 2x faster decode from DRAM. The address is
// formed as an integer (it may lie past the end of the matrix; a prefetch never faults).
constexpr int kPrefetchTiles = 4;
// Q8_0's one-row decode kernel (each thread one sequential stream) requests the bytes a fixed
// distance ahead of the ones it reads instead: the distance matters, not the row count. Streaming
// Q8_0 rows from DRAM in 2 MiB pages (2-core Zen 4, 1 and 2 threads) the loop ran at 0.88-0.90
// of a plain read at 6-6.5 KiB ahead and 0.75-0.80 at 5, 7 or 8 KiB; 4 rows of the FFN's down
// projection (k = 8960) are 37 KiB, where it ran at 0.75 against 0.85-0.86 at 6 KiB. In
// `ondo bench --roofline` (1.5B-shape Q8_0, interleaved with 4 rows ahead): 1 thread 0.86-0.88
// -> 0.90-0.91 of the read rate, 2 threads 0.84-0.87 -> 0.88 (host at ~52 GB/s) and 0.96-0.97
// -> 0.99-1.0 (~34 GB/s).
constexpr size_t kStreamAheadBytes = 6144;
inline void PrefetchL2(const Byte* base, size_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(base) + offset), _MM_HINT_T1);
}

template <class K, int R, int T>
void DriveTokens(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int n_tok, int64_t k,
                 float* y, int64_t ys) {
  int t = 0;
  for (; t + T <= n_tok; t += T) {
    K::template Tile<R, T>(w, wrb, x + static_cast<size_t>(t) * xrb, xrb, k, y + t * ys, ys);
  }
  if constexpr (T > 1) {
    if (t < n_tok) {
      DriveTokens<K, R, T / 2>(w, wrb, x + static_cast<size_t>(t) * xrb, xrb, n_tok - t, k,
                               y + t * ys, ys);
    }
  }
}

template <class K, int R, int T>
void Drive(const Byte* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const Byte* x, size_t xrb,
           int n_tok, float* y, int64_t ys) {
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    DriveTokens<K, R, T>(w + static_cast<size_t>(r) * wrb, wrb, x, xrb, n_tok, k, y + r, ys);
  }
  if constexpr (R > 1) {
    if (r < r1) Drive<K, R / 2, T>(w, wrb, r, r1, k, x, xrb, n_tok, y, ys);
  }
}

// R1 x 1 tiles for one token (decode: several rows share each activation load), R x T tiles
// for more (prefill).
template <class K, int R1, int R, int T>
void MatMulImpl(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  const Byte* wb = static_cast<const Byte*>(w);
  const Byte* xb = static_cast<const Byte*>(x_vd);
  if (n_tok == 1) {
    Drive<K, R1, 1>(wb, w_row_bytes, r0, r1, k, xb, x_row_bytes, 1, y, y_stride);
  } else {
    Drive<K, R, T>(wb, w_row_bytes, r0, r1, k, xb, x_row_bytes, n_tok, y, y_stride);
  }
}

template <class K>
float VecDotImpl(int64_t n, const void* w_row, const void* x_vd) {
  float out = 0.0f;
  K::template Tile<1, 1>(static_cast<const Byte*>(w_row), 0, static_cast<const Byte*>(x_vd), 0, n,
                         &out, 0);
  return out;
}

}  // namespace
}  // namespace ondo::kernels::x86
