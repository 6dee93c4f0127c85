// AVX-512 F/BW/VL/VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni
// -mavx2 -mfma -mf16c; called only when the CPU has them). As in avx2.cc: internal linkage
// everywhere except the entry points, and no std:: templates.

#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/blocks.h"
#include "kernels/x86/avx512_panel32.h"
#include "kernels/x86/group_driver.h"
#include "kernels/x86/quantize_q8.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"
#include "platform/thread_pool.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;
using x86::Drive;
using x86::F2H;
using x86::H2F;
using x86::kPrefetchTiles;
using x86::LoadU16;
using x86::MatMulImpl;
using x86::VecDotImpl;

// Mask with the first n (0..16) lanes set.
inline __mmask16 Mask16(int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

// e^x as avx2::Exp (same reduction and polynomial); 2^n applied by vscalefps, which rounds
// once and handles the subnormal range and overflow. x is clamped to [-104, 89] so r stays
// small for any input (NaN stays NaN).
inline __m512 Exp(__m512 x) {
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

struct F32Load {
  static __m512 Load16(const Byte* p, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p + 4 * i));
  }
  static __m512 Load16Masked(const Byte* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p + 4 * i));
  }
};
struct F16Load {
  static __m512 Load16(const Byte* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
  static __m512 Load16Masked(const Byte* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
  }
};

// Q8_0 rows (the 8-bit KV cache) read as floats, d * q as DequantizeRow forms it.
// REQUIRES i % 16 == 0 (16 lanes never straddle a block); masked-off lanes are not read.
struct Q8Load {
  static __m512 Load16(const Byte* p, int64_t i) {
    const Byte* b = p + (i / kQK8_0) * sizeof(block_q8_0);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + i % kQK8_0));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(H2F(LoadU16(b))));
  }
  static __m512 Load16Masked(const Byte* p, int64_t i, __mmask16 m) {
    const Byte* b = p + (i / kQK8_0) * sizeof(block_q8_0);
    const __m128i q = _mm_maskz_loadu_epi8(m, b + 2 + i % kQK8_0);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(H2F(LoadU16(b))));
  }
};

// The sums of the 16 accumulators of a 4 x 4 tile, each added exactly as _mm512_reduce_add_ps
// adds it (lane i with i + 8, then i + 4, i + 2, i + 1; float addition is commutative), so
// the results are the same bit for bit, with 45 shuffles and additions instead of 16 x 8:
// 128-bit block t of the result holds the sums of a[0][t], a[1][t], a[2][t], a[3][t].
inline __m512 ReduceAdd4x4(const __m512 (&a)[4][4]) {
  __m512 z[4];
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    // [a[r][0] lanes i + i+8 | a[r][1] ...], [a[r][2] ... | a[r][3] ...]
    const __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(a[r][0], a[r][1], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(a[r][0], a[r][1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(a[r][2], a[r][3], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(a[r][2], a[r][3], _MM_SHUFFLE(3, 2, 3, 2)));
    // Block t: lanes i + i+4 of a[r][t].
    z[r] = _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  // Block t: [i + i+2 for i = 0, 1] of a[0][t] and of a[1][t]; of a[2][t] and a[3][t].
  const __m512 w01 = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 w23 = _mm512_add_ps(_mm512_shuffle_ps(z[2], z[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(z[2], z[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_ps(w01, w23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// As avx2::FloatKernel with 16 lanes; the k % 16 tail is one masked step (masked-off lanes
// are not read, so nothing past the row is touched).
template <class WL, class XL>
struct FloatKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    __m512 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
      __m512 wv[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wv[r] = WL::Load16(w + r * wrb, i);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 xv = XL::Load16(x + t * xrb, i);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    if (i < k) {
      const __mmask16 m = Mask16(k - i);
      __m512 wv[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wv[r] = WL::Load16Masked(w + r * wrb, i, m);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 xv = XL::Load16Masked(x + t * xrb, i, m);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    if constexpr (R == 4 && (T == 4 || T == 2)) {
      // 4 x 2 (the rest of 6 heads in attention) as 4 x 4 with two zero columns.
      __m512 a4[4][4];
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) a4[r][t] = t < T ? acc[r][t < T ? t : 0] : _mm512_setzero_ps();
      }
      const __m512 s = ReduceAdd4x4(a4);
      _mm_storeu_ps(y, _mm512_castps512_ps128(s));
      _mm_storeu_ps(y + ys, _mm512_extractf32x4_ps(s, 1));
      if constexpr (T == 4) {
        _mm_storeu_ps(y + 2 * ys, _mm512_extractf32x4_ps(s, 2));
        _mm_storeu_ps(y + 3 * ys, _mm512_extractf32x4_ps(s, 3));
      }
    } else {
      for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
      }
    }
  }
};

// Decode (one token) over F16 / F32 weight rows: one row per tile, so that each thread reads one
// sequential stream (rows are contiguous), with the same bytes kPrefetchTiles rows ahead
// requested into L2, and four accumulators (one FMA chain would bound a row below the memory
// rate). FloatKernel's 8-row tiles read 8 interleaved streams: 58% of the read bandwidth.
template <class WL, class XL, size_t kWBytes>
struct StreamFloatKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t /*xrb*/, int64_t k, float* y,
                   int64_t /*ys*/) {
    static_assert(R == 1 && T == 1, "one row, one token");
    constexpr size_t kStep = 64 * kWBytes;  // weight bytes per iteration
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= k; i += 64) {
      for (size_t off = 0; off < kStep; off += 64) {
        x86::PrefetchL2(w, kPrefetchTiles * wrb + static_cast<size_t>(i) * kWBytes + off);
      }
      a0 = _mm512_fmadd_ps(WL::Load16(w, i), XL::Load16(x, i), a0);
      a1 = _mm512_fmadd_ps(WL::Load16(w, i + 16), XL::Load16(x, i + 16), a1);
      a2 = _mm512_fmadd_ps(WL::Load16(w, i + 32), XL::Load16(x, i + 32), a2);
      a3 = _mm512_fmadd_ps(WL::Load16(w, i + 48), XL::Load16(x, i + 48), a3);
    }
    for (; i + 16 <= k; i += 16) a0 = _mm512_fmadd_ps(WL::Load16(w, i), XL::Load16(x, i), a0);
    if (i < k) {
      const __mmask16 m = Mask16(k - i);
      a1 = _mm512_fmadd_ps(WL::Load16Masked(w, i, m), XL::Load16Masked(x, i, m), a1);
    }
    y[0] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
};

// Q8_0 x Q8_0 with VNNI (vpdpbusd: unsigned bytes times signed bytes, summed into int32), laid
// out as the legacy kernels (avx512_legacy.cc). A "group" is 4 consecutive blocks; its quants
// sit in two zmm, `lo` from elements 0..15 and `hi` from elements 16..31, int32 lane i holding
// 4 bytes of block i % 4, so every lane of vpdpbusd(lo, x_lo) + vpdpbusd(hi, x_hi) belongs to
// one block and the int -> float conversion, the scale product and the FMA are done once per
// 4 blocks instead of once per block. The weights are made unsigned by w + 128 (xor 0x80); the
// excess 128 * sum(x of block b) is removed by starting lane b's sum at -128 * sum(x), computed
// once per call, so the sums are exact for every int8 value. The activations are rearranged
// once per call into stack buffers (Q8XQuants, Q8XScales) that the tiles only load.
constexpr int kQ8Group = 4;  // blocks per group

struct Q8XQuants {
  __m512i lo;  // qs[0..15] of the 4 blocks, lane i from block i % 4
  __m512i hi;  // qs[16..31]
};
struct alignas(32) Q8XScales {
  int32_t c[kQ8Group];  // -128 * sum(qs of block b)
  float d[kQ8Group];    // d_x of block b
};
static_assert(sizeof(Q8XQuants) == 128 && sizeof(Q8XScales) == 32, "X layout");

// The quants of `count` (1..4) blocks at p (block b at p + 34 b; zero for b >= count), in the
// group layout: lane i of lo = dword i / 4 of block i % 4, of hi dword 4 + i / 4.
inline void LoadQ8Group(const Byte* p, int count, __m512i* lo, __m512i* hi) {
  constexpr size_t kB = sizeof(block_q8_0);
  const auto ld = [](const Byte* q) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 2));
  };
  __m512i ab, cd;  // blocks 0, 1 and 2, 3, one per 256-bit half
  if (count == kQ8Group) {
    ab = _mm512_inserti64x4(_mm512_castsi256_si512(ld(p)), ld(p + kB), 1);
    cd = _mm512_inserti64x4(_mm512_castsi256_si512(ld(p + 2 * kB)), ld(p + 3 * kB), 1);
  } else {
    const __m256i z = _mm256_setzero_si256();
    ab = _mm512_inserti64x4(_mm512_castsi256_si512(ld(p)), count > 1 ? ld(p + kB) : z, 1);
    cd = _mm512_inserti64x4(_mm512_castsi256_si512(count > 2 ? ld(p + 2 * kB) : z), z, 1);
  }
  // Dword 8 b + j of ab (b < 2) or 16 + 8 (b - 2) + j (from cd) to lane 4 j + b.
  *lo = _mm512_permutex2var_epi32(
      ab, _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27), cd);
  *hi = _mm512_permutex2var_epi32(
      ab, _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31), cd);
}
// d of `count` blocks at p (zero for b >= count), as f32 [d0, d1, d2, d3].
inline __m128 LoadQ8Scales(const Byte* p, int count) {
  constexpr size_t kB = sizeof(block_q8_0);
  __m128i v = _mm_cvtsi32_si128(LoadU16(p));
  // vpinsrw from memory: 4 instructions per group instead of 11 (loads, shifts, ors, vmovq).
  if (count > 1) v = _mm_insert_epi16(v, LoadU16(p + kB), 1);
  if (count > 2) v = _mm_insert_epi16(v, LoadU16(p + 2 * kB), 2);
  if (count > 3) v = _mm_insert_epi16(v, LoadU16(p + 3 * kB), 3);
  return _mm_cvtph_ps(v);
}

// A full group (4 blocks, the 136 bytes at p) as LoadQ8Group and LoadQ8Scales give it, from two
// 64-byte loads and one 16-byte load (every byte read once, 8 twice) and word permutes: every
// field of a block starts at an even offset (d at 0, the quants at 2), so vpermt2w (AVX512BW)
// can pick them from p[0..127]: block b's quant dword j at byte 34 b + 2 + 4 j, its d at 34 b.
// Only block 3's last 16 quants (bytes 120..135) lie beyond; they come from the 16-byte load,
// put in place by a masked dword permute. Against the four 32-byte loads, two inserts, two
// dword permutes and a chain of three vpinsrw of LoadQ8Group + LoadQ8Scales, the decode kernel
// ran 1.2x faster from L2, and with the longer prefetch distance it needs (tile_driver.h,
// kStreamAheadBytes), 1-thread decode of the 1.5B-shape file 1.01-1.11x (median 1.05) on Zen 4.
// GCC, short of registers for vpermt2w (which overwrites a source), reads a and b from memory
// again for each of the three permutes: 6 64-byte loads instead of 2. The empty asm makes their
// values opaque, so they are kept in registers (1.25x faster from L2; from DRAM it needs the
// prefetch of tile_driver.h, kStreamRetryBytes).
inline void LoadQ8GroupFull(const Byte* p, __m512i* lo, __m512i* hi, __m128* d) {
  __m512i a = _mm512_loadu_si512(p);       // bytes 0..63
  __m512i b = _mm512_loadu_si512(p + 64);  // bytes 64..127
  __asm__("" : "+v"(a), "+v"(b));
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 120));
  // Words 2 i and 2 i + 1 of lo = the quant dword i / 4 of block i % 4: word 17 (i % 4) + 1 +
  // 2 (i / 4) + {0, 1} of a:b. hi: the dword 4 + i / 4, 8 words further.
  const __m512i lo_idx = _mm512_set_epi16(                         //
      59, 58, 42, 41, 25, 24, 8, 7, 57, 56, 40, 39, 23, 22, 6, 5,  //
      55, 54, 38, 37, 21, 20, 4, 3, 53, 52, 36, 35, 19, 18, 2, 1);
  const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(8));
  // Words 0..3: d of blocks 0..3 (words 0, 17, 34, 51).
  const __m512i d_idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 51, 34, 17, 0);
  // Block 3's lanes of hi (3, 7, 11, 15) = dwords 0..3 of c.
  const __m512i c_idx = _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
  *lo = _mm512_permutex2var_epi16(a, lo_idx, b);
  *hi = _mm512_mask_permutexvar_epi32(_mm512_permutex2var_epi16(a, hi_idx, b), 0x8888, c_idx,
                                      _mm512_castsi128_si512(c));
  *d = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(a, d_idx, b)));
}

// Rearranges the activation blocks [0, nblocks) of one token row.
void PrepQ8X(const Byte* x, int64_t nblocks, Q8XQuants* xq, Q8XScales* xs) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t g = 0; g * kQ8Group < nblocks; ++g) {
    const int64_t left = nblocks - g * kQ8Group;
    const int count = left < kQ8Group ? static_cast<int>(left) : kQ8Group;
    const Byte* b = x + g * kQ8Group * sizeof(block_q8_0);
    __m512i lo, hi;
    __m128 d;
    if (count == kQ8Group) {
      LoadQ8GroupFull(b, &lo, &hi, &d);
    } else {
      LoadQ8Group(b, count, &lo, &hi);
      d = LoadQ8Scales(b, count);
    }
    _mm512_store_si512(&xq[g].lo, lo);
    _mm512_store_si512(&xq[g].hi, hi);
    _mm_store_ps(xs[g].d, d);
    x86::StoreGroupOffsetTerms(bias, lo, hi, xs[g].c);
  }
}

// A row kernel of group_driver.h. Activation buffers: 30 KiB (160 B per group of 4 blocks): a
// decode row of up to 768 blocks (k = 24576) is one chunk; a panel of 16 tokens takes chunks of
// 48 blocks. Bands of 256 KiB of weight rows, well inside a 512 KiB - 2 MiB L2 (passing each
// panel over all of a 15 MB matrix measured 1.7x slower; rearranging the activations again for
// each band is a few percent of its work).
// kShared: the one-row decode tile prefetches at the distances of a thread that shares the memory
// bandwidth with others (tile_driver.h, kStreamAheadBytesShared; MatMulQ8_0 picks it from
// platform::ParallelThreads()); no other tile reads it.
template <bool kShared>
struct Q8_0Kernel : x86::GroupKernelBase<Q8XQuants, Q8XScales, kQ8Group, 192, sizeof(block_q8_0),
                                         sizeof(block_q8_0), 256 * 1024> {
  static void PrepX(const Byte* x, int64_t nblocks, Q8XQuants* xq, Q8XScales* xs) {
    PrepQ8X(x, nblocks, xq, xs);
  }

  // acc[r][t] += the products of one group (count blocks) of R weight rows and T tokens.
  template <int R, int T>
  static inline void Group(const Byte* w, size_t wrb, const Q8XQuants* xq, const Q8XScales* xs,
                           int64_t xts, int count, __m512 (&acc)[R][T]) {
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512i wlo[R], whi[R];
    __m512 dw[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      __m128 d;
      if (count == kQ8Group) {
        LoadQ8GroupFull(w + r * wrb, &wlo[r], &whi[r], &d);
      } else {
        LoadQ8Group(w + r * wrb, count, &wlo[r], &whi[r]);
        d = LoadQ8Scales(w + r * wrb, count);
      }
      wlo[r] = _mm512_xor_si512(wlo[r], bias);
      whi[r] = _mm512_xor_si512(whi[r], bias);
      dw[r] = _mm512_broadcast_f32x4(d);
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m512i xlo = _mm512_load_si512(&xq[t * xts].lo);
      const __m512i xhi = _mm512_load_si512(&xq[t * xts].hi);
      // Lanes 0..3 = blocks 0..3, the others 0.
      const __m512i c =
          _mm512_zextsi128_si512(_mm_load_si128(reinterpret_cast<const __m128i*>(xs[t * xts].c)));
      const __m512 dx = _mm512_broadcast_f32x4(_mm_load_ps(xs[t * xts].d));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        __m512i s = _mm512_dpbusd_epi32(c, wlo[r], xlo);
        s = _mm512_dpbusd_epi32(s, whi[r], xhi);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[r], dx), acc[r][t]);
      }
    }
  }

  // y[t * ys + r] (+)= dot(W row r over nblocks blocks, token t) for R rows and T tokens. w
  // points at the first block of row 0; xq, xs at the first group of token 0, tokens xts
  // groups apart. Not inlined into the driver: inlined, the 1-thread decode streamed slower
  // from DRAM (see tile_driver.h).
  template <int R, int T>
  __attribute__((noinline)) static void Tile(
      const Byte* w, size_t wrb, const Q8XQuants* xq, const Q8XScales* xs, int64_t xts,
      int64_t nblocks, float* y, int64_t ys, bool accumulate,
      bool /*next_tile_in_call: decode prefetches past the call's rows anyway*/) {
    constexpr size_t kGroupBytes = kQ8Group * sizeof(block_q8_0);  // 136
    __m512 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    const int64_t nfull = nblocks / kQ8Group;
    // Decode, one row (a sequential stream): every line is requested into L2 `ahead` bytes
    // ahead and again `retry` bytes ahead (tile_driver.h); `pf` and `pr` are the next lines not
    // yet requested at each distance (a group's 136 bytes bring 2.125 new lines on average).
    // Several rows: the same group kPrefetchTiles row tiles ahead, three lines 64 bytes apart
    // covering every line of its 136 contiguous bytes (see tile_driver.h).
    constexpr size_t ahead = kShared ? x86::kStreamAheadBytesShared : x86::kStreamAheadBytes;
    constexpr size_t retry = kShared ? x86::kStreamRetryBytesShared : x86::kStreamRetryBytes;
    uintptr_t pf = (reinterpret_cast<uintptr_t>(w) + ahead) & ~uintptr_t{63};
    uintptr_t pr = (reinterpret_cast<uintptr_t>(w) + retry) & ~uintptr_t{63};
    for (int64_t g = 0; g < nfull; ++g) {
      const Byte* wg = w + g * kGroupBytes;
      if constexpr (T == 1 && R == 1) {
        const uintptr_t end = reinterpret_cast<uintptr_t>(wg) + kGroupBytes;
        for (; pf < end + ahead; pf += 64) x86::PrefetchL2(reinterpret_cast<const Byte*>(pf), 0);
        for (; pr < end + retry; pr += 64) x86::PrefetchL2(reinterpret_cast<const Byte*>(pr), 0);
      } else if constexpr (T == 1) {
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const size_t tiles_ahead = kPrefetchTiles * R * wrb + r * wrb;
          x86::PrefetchL2(wg, tiles_ahead);
          x86::PrefetchL2(wg, tiles_ahead + 64);
          x86::PrefetchL2(wg, tiles_ahead + 128);
        }
      }
      Group<R, T>(wg, wrb, xq + g, xs + g, xts, kQ8Group, acc);
    }
    const int tail = static_cast<int>(nblocks - nfull * kQ8Group);
    if (tail > 0) Group<R, T>(w + nfull * kGroupBytes, wrb, xq + nfull, xs + nfull, xts, tail, acc);
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        const float s = _mm512_reduce_add_ps(acc[r][t]);
        y[t * ys + r] = accumulate ? y[t * ys + r] + s : s;
      }
    }
  }
};

// Q8_0 for the prefill panel GEMM (avx512_panel32.h): u = w + 128.
struct Q8Block32 {
  static constexpr size_t kBytes = sizeof(block_q8_0);
  static constexpr int kOffset = 128;
  static __m256i Unpack(const Byte* p) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)),
                            _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  static float Scale(const Byte* p) { return H2F(LoadU16(p)); }
};

using F32K = FloatKernel<F32Load, F32Load>;
using F16K = FloatKernel<F16Load, F16Load>;
using KqK = FloatKernel<F16Load, F32Load>;  // f16 K rows x f16-rounded q held as f32
using KqQ8 = FloatKernel<Q8Load, F32Load>;  // Q8_0 K rows x f32 q
using F32Stream = StreamFloatKernel<F32Load, F32Load, 4>;
using F16Stream = StreamFloatKernel<F16Load, F16Load, 2>;

void ScaledSoftmax(float* x, int64_t n, float scale, bool round_f16) {
  if (n <= 0) return;
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale);
    _mm512_mask_storeu_ps(x + i, m, v);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
  }
  const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512d s0 = _mm512_setzero_pd();
  __m512d s1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    const __m512 e =
        _mm512_maskz_mov_ps(m, Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
    _mm512_mask_storeu_ps(x + i, m, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(
        s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
    if (round_f16) p = _mm512_cvtph_ps(_mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT));
    _mm512_mask_storeu_ps(x + i, m, p);
  }
}

// out[g][c0 .. c0 + 16D) = sum_j p[g][j] * V[j][c0 ..] for G heads, rows outer, heads
// inner; V rows vrb bytes apart, read through the loader VL (F16Load, Q8Load). With D == 1
// and a partial mask, only the masked columns are read and written.
template <class VL, int G, int D, int... I>
void VTileImpl(std::integer_sequence<int, I...>, const Byte* v, size_t vrb, int64_t c0,
               const float* p, int64_t n_kv, float* out, int64_t hd, __mmask16 m) {
  // Accumulator I = (head I / D, column vector I % D). Indexed only by constants (the pack),
  // so GCC keeps them in registers; with loops over g and d it also stored all of them to the
  // stack at every row.
  __m512 acc[G * D];
  ((acc[I] = _mm512_setzero_ps()), ...);
  for (int64_t j = 0; j < n_kv; ++j) {
    const Byte* vj = v + j * vrb;
    __m512 vv[D];
#pragma GCC unroll 16
    for (int d = 0; d < D; ++d) vv[d] = VL::Load16Masked(vj, c0 + 16 * d, m);
    ((acc[I] = _mm512_fmadd_ps(_mm512_set1_ps(p[(I / D) * n_kv + j]), vv[I % D], acc[I])), ...);
  }
  ((_mm512_mask_storeu_ps(out + (I / D) * hd + c0 + 16 * (I % D), m, acc[I])), ...);
}

template <class VL, int G, int D>
void VTile(const Byte* v, size_t vrb, int64_t c0, const float* p, int64_t n_kv, float* out,
           int64_t hd, __mmask16 m) {
  VTileImpl<VL, G, D>(std::make_integer_sequence<int, G * D>(), v, vrb, c0, p, n_kv, out, hd, m);
}

template <class VL, int G>
void VHeads(const Byte* v, size_t vrb, const float* p, int64_t n_kv, float* out, int64_t hd) {
  // G x D accumulators (at most 24) and D V loads in the 32 registers.
  constexpr int D = G <= 2 ? 8 : (G <= 6 ? 4 : 2);
  int64_t c0 = 0;
  for (; c0 + 16 * D <= hd; c0 += 16 * D) VTile<VL, G, D>(v, vrb, c0, p, n_kv, out, hd, 0xffff);
  for (; c0 < hd; c0 += 16) VTile<VL, G, 1>(v, vrb, c0, p, n_kv, out, hd, Mask16(hd - c0));
}

// out = P V for ng heads, up to 8 heads per pass over V.
template <class VL>
void PV(const Byte* v, size_t vrb, const float* scores, int ng, int64_t n_kv, float* out,
        int64_t hd) {
  for (int g0 = 0; g0 < ng; g0 += 8) {
    const float* p = scores + g0 * n_kv;
    float* o = out + g0 * hd;
    switch (ng - g0 < 8 ? ng - g0 : 8) {
      case 1:
        VHeads<VL, 1>(v, vrb, p, n_kv, o, hd);
        break;
      case 2:
        VHeads<VL, 2>(v, vrb, p, n_kv, o, hd);
        break;
      case 3:
        VHeads<VL, 3>(v, vrb, p, n_kv, o, hd);
        break;
      case 4:
        VHeads<VL, 4>(v, vrb, p, n_kv, o, hd);
        break;
      case 5:
        VHeads<VL, 5>(v, vrb, p, n_kv, o, hd);
        break;
      case 6:
        VHeads<VL, 6>(v, vrb, p, n_kv, o, hd);
        break;
      case 7:
        VHeads<VL, 7>(v, vrb, p, n_kv, o, hd);
        break;
      default:
        VHeads<VL, 8>(v, vrb, p, n_kv, o, hd);
        break;
    }
  }
}

}  // namespace

void QuantizeRowF16(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm256_mask_storeu_epi16(
        o + 2 * i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

void QuantizeRowQ8_0(const float* x, void* out, int64_t n) {
  x86::QuantizeRowQ8Avx512<false>(x, out, n);
}

void DequantizeRowF16(const void* row, float* out, int64_t n) {
  const Byte* p = static_cast<const Byte*>(row);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm512_mask_storeu_ps(out + i, m, F16Load::Load16Masked(p, i, m));
  }
}

float VecDotF32(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F32K>(n, w_row, x_vd);
}
float VecDotF16(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F16K>(n, w_row, x_vd);
}
float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd) {
  return x86::GroupVecDot<Q8_0Kernel<false>>(n, w_row, x_vd);
}

void MatMulF32(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    MatMulImpl<F32Stream, 1, 1, 1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, 1, y, y_stride);
  } else {
    MatMulImpl<F32K, 8, 4, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
  }
}
void MatMulF16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    MatMulImpl<F16Stream, 1, 1, 1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, 1, y, y_stride);
  } else {
    MatMulImpl<F16K, 8, 4, 4>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
  }
}
void MatMulQ8_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  // Decode takes one row per tile: the weights are then read as one sequential stream per
  // thread (rows are contiguous), which the hardware prefetchers follow, with the software
  // prefetch at the distances of tile_driver.h: kStreamAheadBytes and kStreamRetryBytes, or the
  // Shared ones when other threads of the call stream at the same time (the call runs in a
  // ThreadPool::Run of several threads). Four-row tiles (the activation loads shared by 4 rows)
  // read 4 interleaved streams and measured 15-20% slower from DRAM (1.5B shape, 1 and 2
  // threads: 13 -> 15 and 23 -> 27 tok/s), although faster from cache. Only the one-token driver
  // has the shared variant (the only tile that reads it).
  auto* rows = &x86::GroupMatMul<Q8_0Kernel<false>, 1, 2, 8>;
  if (n_tok == 1) {
    rows = platform::ParallelThreads() > 1 ? x86::GroupMatMul<Q8_0Kernel<true>, 1, 1, 1>
                                           : x86::GroupMatMul<Q8_0Kernel<false>, 1, 1, 1>;
  }
  Panel32OrRows<Q8Block32>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride, rows);
}

void Softmax(float* x, int64_t n) { ScaledSoftmax(x, n, 1.0f, false); }

void ExpF32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask16(n - i);
    _mm512_mask_storeu_ps(y + i, m, Exp(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void AttentionF16(const AttentionArgs& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  float* out = a.out;
  float* scores = a.scratch;
  const int64_t nq = ng * hd;
  for (int64_t i = 0; i < nq; i += 16) {  // q rounded to f16, kept as f32 in `out`
    const __mmask16 m = Mask16(nq - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, a.q + i);
    _mm512_mask_storeu_ps(out + i, m,
                          _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
  }
  const Byte* kb = reinterpret_cast<const Byte*>(a.k);
  const size_t krb = static_cast<size_t>(a.kv_row_stride) * 2;
  const Byte* qb = reinterpret_cast<const Byte*>(out);
  if (ng == 1) {
    Drive<KqK, 8, 1>(kb, krb, 0, n_kv, hd, qb, hd * 4, 1, scores, n_kv);
  } else {
    Drive<KqK, 4, 4>(kb, krb, 0, n_kv, hd, qb, hd * 4, ng, scores, n_kv);
  }
  for (int g = 0; g < ng; ++g) ScaledSoftmax(scores + g * n_kv, n_kv, a.scale, true);
  PV<F16Load>(reinterpret_cast<const Byte*>(a.v), krb, scores, ng, n_kv, out, hd);
}

void AttentionQ8_0(const AttentionQ8Args& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  const Byte* kb = static_cast<const Byte*>(a.k);
  const size_t rb = static_cast<size_t>(a.kv_row_bytes);
  // q is read only here, before `out` (which may alias it) is written.
  const Byte* qb = reinterpret_cast<const Byte*>(a.q);
  if (ng == 1) {
    Drive<KqQ8, 8, 1>(kb, rb, 0, n_kv, hd, qb, hd * 4, 1, a.scratch, n_kv);
  } else {
    Drive<KqQ8, 4, 4>(kb, rb, 0, n_kv, hd, qb, hd * 4, ng, a.scratch, n_kv);
  }
  for (int g = 0; g < ng; ++g) ScaledSoftmax(a.scratch + g * n_kv, n_kv, a.scale, false);
  PV<Q8Load>(static_cast<const Byte*>(a.v), rb, a.scratch, ng, n_kv, a.out, hd);
}

}  // namespace ondo::kernels::avx512
