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
// distance ahead of the bytes it reads instead: the distance matters, not the row count. It
// depends on the core and on the rate at which the thread consumes the stream (a faster loop
// needs its lines requested earlier), so on whether other threads share the bandwidth.
// With the kernel before 2026-12-07 (four 32-byte loads and a vpinsrw chain per group of 4
// blocks), each line requested once: on the Zen 4 hosts first measured, 6-6.5 KiB was best with
// 1 and 2 threads (0.88-0.90 of a plain read; 0.75-0.80 at 5, 7 or 8 KiB); on a 2-core Zen 5
// (AMD family 1Ah), 12 KiB with 1 and 2 threads (10-16 KiB alike, 8 KiB 0.997, 20 KiB 0.97 of
// it; +4.3% decode with 1 thread, +4.7% with 2 over 6 KiB). With the word-permute group load
// (avx512.cc, LoadQ8GroupFull; 1.2x faster from L2), on the 2-core Zen 4 host of 2026-12-07
// (family 19h model 11h), `ondo bench --roofline` on the 1.5B-shape Q8_0 file: 1 thread best at
// 12-28 KiB, 2 threads at 6 KiB.
// With that group load's two 64-byte loads kept in registers (1.25x faster again from L2), one
// request per line at any distance from 8 to 48 KiB streamed slower from DRAM than the slower
// kernel (1 thread, 0.74-0.81 of the roofline against 0.87-0.89), and the faster the loop from
// L2, the slower it streamed (an artificial delay in the faster loop brought back part of the
// difference). Our reading: a prefetch that finds the core's queue of outstanding misses full
// is dropped, a loop that issues its requests faster loses more of them, and a lost line is
// read later at the full memory latency. So every line is requested twice, far ahead and again
// nearer (the second request of a line already on its way or in L2 costs little). Measured on
// that host against the kernel before at its single 16 / 6 KiB (interleaved `--roofline` runs,
// decode 32): 1 thread at 32 and 8 KiB, with the decode tile inlined into the driver, in six
// sets of 4-8 rounds decode 0.98-1.03x (median of each set) and the roofline medians 0.89-0.93
// against 0.88-0.92, level; the same code with the tile kept out of line (as built now), three
// sets of 5-6 rounds, 0.93-0.95 against 0.89-0.92 (decode 0.99-1.05x), and 93-95% in a later run
// against ik_llama.cpp; builds with the distances read at run time (GCC then also placed the
// second prefetch loop out of line) 0.88-0.97 (median of twelve sets' medians 0.95), with 16 + 4,
// 20 + 6, 24 + 8 and 32 + 12 KiB alike and three distances (32 + 16 + 4) worse. So the stream is
// sensitive to code layout as well. 2 threads at 12 and 4 KiB: in the host's ~50-55 GB/s state
// 0.85-1.00 of the roofline against 0.68-0.80 (28.0-30.8 against 22.1-23.9 tok/s), in its ~35
// GB/s state alike (0.88-1.00 against 0.87-1.01). Not measured on Zen 5.
constexpr size_t kStreamAheadBytes = 32768;
constexpr size_t kStreamRetryBytes = 8192;
constexpr size_t kStreamAheadBytesShared = 12288;
constexpr size_t kStreamRetryBytesShared = 4096;
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
