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
// Q8_0's one-row decode kernel (each thread one sequential stream) requests every line a fixed
// distance ahead of the bytes it reads instead, each line once: the distance matters, not the row
// count, and it depends on the microarchitecture. On the 2-core Zen 4 hosts first measured,
// streaming Q8_0 rows from DRAM in 2 MiB pages, 6-6.5 KiB was best (0.88-0.90 of a plain read;
// 0.75-0.80 at 5, 7 or 8 KiB, and at the 4 rows (37 KiB) of the FFN's down projection used
// before): kStreamAheadBytes, also taken where nothing was measured. On a 2-core Zen 5 (EPYC,
// AMD family 1Ah), 12 KiB (kStreamAheadBytesZen5): the standalone loop, 1 thread, k = 1536,
// 0.89 (6 KiB, three lines per group) -> 0.95 of a plain read (10-16 KiB alike, 4 KiB 0.87);
// `ondo bench --roofline` on the 1.5B-shape Q8_0 (bench/synthetic/ab.py, interleaved rounds):
// 1 thread +4.3% decode (4 rounds, 1.026-1.045), 2 threads +4.7% (median of 6 rounds; 1.045-1.069
// in the 4 at a steady ~62-65 GB/s); against 12 KiB, 8 KiB 0.997 and 20 KiB 0.97.
constexpr size_t kStreamAheadBytes = 6144;
constexpr size_t kStreamAheadBytesZen5 = 12288;
inline void PrefetchL2(const Byte* base, size_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(base) + offset), _MM_HINT_T1);
}

// The decode kernels of the K-quants, IQ4_XS and OQ2 stream their weights from memory at about
// the rate they consume them, faster than the hardware prefetchers alone keep up with: each
// block a row tile reads asks for the lines of the block kBlockPrefetchBytes further on, into L2
// (an L1 target evicts the working set). Rows are contiguous, so the row blocks shifted by a
// constant distance sweep the same bytes whatever the tile shape, and each line is asked for
// about once. Measured on one core: Q2_K 8960 x 1536 9.9 -> 16.9 GB/s (Zen 4); Q6_K 16 x 8960 x
// 1536 from DRAM (bench_kernels 143360x1536/1, Zen 5, AVX2) 8.0 -> 17.4 GB/s against asking for
// every block of the rows kPrefetchTiles row tiles ahead (which asked for each line 1.5-2 times).
constexpr size_t kBlockPrefetchBytes = 16384;
template <size_t kBlockBytes>
inline void PrefetchAhead(const Byte* block) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(block) + kBlockPrefetchBytes;
  for (size_t off = 0; off < kBlockBytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(a + off), _MM_HINT_T1);
  }
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

// The decode tile height of the K-quant and IQ4_XS kernels (both ISAs): their decode branches
// finish one row of the tile before the next (but AVX2 IQ4_XS, which shares |x| among the
// rows), so the height mostly orders the reads. On Zen 5,
// weights from DRAM (bench_kernels 143360x1536/1, 1 thread, every K-quant on AVX2 and AVX-512),
// 2 rows took 1.3-1.7x the time of 1 or 4, which were alike; 4 kept.
constexpr int kKDecodeRows = 4;

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
