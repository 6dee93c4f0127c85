// AVX-512 (F/BW/VL/VNNI) kernels of OQ2, ondo's 2-bit type (layout in blocks.h), against Q8_K
// activations (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called only when the
// CPU has them; no VBMI). Everything but the ondo::kernels::avx512 entry points has internal
// linkage (tile_driver.h).
//
// Weights become unsigned bytes u = level + kOq2Offset (0..63) through vpshufb tables built once
// per block and row, so that vpdpbusd multiplies them with the signed activations exactly; the
// offset is taken back out per sub-block (32 * the sum of its activations) before the sub-block
// scale multiplies the sum. Integer sums are exact; d_w * d_x is applied once per block.
//
// Row kernels: one 64-byte load of qs gives, shifted and masked, the indices of the four
// registers w[s] = [sub-block s | sub-block s + 4] (qs half 0 in the low 256 bits, half 1 in the
// high); one vpermd builds the block's per-lane grid tables. The activations are arranged to
// match (values 32s .. 32s + 31 | 128 + 32s ..) and each register's vpdpbusd starts from
// -32 * (the four activations of each dword), both prepared once per token and block, so each
// dword ends as sum(level * x) over its four values, |.| <= 4 * 32 * 128: two registers then fit
// one vpackssdw, and their sub-block scales one vpmaddwd / vpdpwssd. Decode (one token) prepares
// the token once per call and takes 8 rows per pass; 2..7 tokens take R x T tiles.
//
// On Zen 4 (measured) every 512-bit vector op of these kernels but the logic ones costs a full
// cycle of two of the four 256-bit pipes, so the row kernel is bound by the count of such ops per
// block, ~24 per row: broadcasts are done from memory where they can (a load, no pipe slot).
//
// Prefill (8 tokens or more): the panel GEMM of avx512_panel.h, with the Oq2Panel trait for the
// unpacking and a Tile of its own (Oq2Panel16) that starts each sub-block's sums from its offset.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/block_layout.h"
#include "kernels/blocks.h"
#include "kernels/x86/avx512_panel.h"
#include "kernels/x86/panel_driver.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx512 {
namespace {

using x86::Byte;
using x86::H2F;
using x86::HSum;
using x86::Load256;
using x86::Load512;
using x86::LoadF32;
using x86::LoadU16;
using x86::LoadU32;
using x86::PrefetchAhead;

constexpr bool LevelsFitBytes() {
  for (const auto& grid : kOq2Grid) {
    for (int8_t l : grid) {
      if (l + kOq2Offset < 0 || l + kOq2Offset > 63) return false;
    }
  }
  return kOq2Offset == 32;
}
// u = level + 32 in 0..63: u * x never saturates, and (u - 32) * x summed over four values fits
// an int16 (|level| <= 32, |x| <= 128), which the row kernels' vpackssdw relies on.
static_assert(LevelsFitBytes(), "OQ2 levels + kOq2Offset must lie in 0..63, offset 32");

// The eight int32 sums of the two halves of v (the float work per block then takes 256-bit ops).
inline __m256i Fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}
// The eight 4-bit scales as bytes 0..7 (byte j = sc_j), computed in general registers.
inline uint64_t ScaleBytes(const Byte* b) {
  const uint64_t s = LoadU32(b + kOq2Scales);
  return (s & 0x0F0F0F0Fu) | (((s >> 4) & 0x0F0F0F0Fu) << 32);
}
// vpternlogd immediate for (a & b) | c.
constexpr int kAndOr = 0xEA;

// --- constant tables, all derived from kOq2Grid ----------------------------------------------

struct alignas(64) Vec32x16 {
  int32_t v[16];
};
struct alignas(64) Vec8x64 {
  int8_t v[64];
};

// Dword i: the four unsigned levels of grid i % 4 (byte q = kOq2Grid[i % 4][q] + 32). vpermd
// reads the low 4 bits of an index, so any index whose low 2 bits are the grid selects it.
constexpr Vec32x16 MakeGridDwords() {
  Vec32x16 t{};
  for (int i = 0; i < 16; ++i) {
    uint32_t v = 0;
    for (int q = 0; q < 4; ++q) {
      v |= static_cast<uint32_t>(kOq2Grid[i % 4][q] + kOq2Offset) << (8 * q);
    }
    t.v[i] = static_cast<int32_t>(v);
  }
  return t;
}
constexpr Vec32x16 kGridDwords = MakeGridDwords();

// Right shifts of `grids` that bring into bits 0..1 of dword 4L + c (128-bit lane L, slot c)
// the grid of sub-block sub(L, c).
template <class Sub>
constexpr Vec32x16 MakeGridShifts(Sub sub) {
  Vec32x16 t{};
  for (int lane = 0; lane < 4; ++lane) {
    for (int c = 0; c < 4; ++c) {
      const int j = sub(lane, c);
      t.v[4 * lane + c] = 4 * (j % 4) + 2 * (j / 4);
    }
  }
  return t;
}
// Row kernels: lane L of w[s] belongs to sub-block s + 4 (L / 2); slots 0, 1 hold the grids of
// registers s = 0, 2 and slots 2, 3 those of s = 1, 3 (see UnpackRow).
constexpr int kRowSlotReg[4] = {0, 2, 1, 3};
constexpr Vec32x16 kRowGridShifts =
    MakeGridShifts([](int lane, int c) { return kRowSlotReg[c] + 4 * (lane / 2); });
// Panel: lane L of chunk c (values 64c .. 64c + 63) belongs to sub-block 2c + L / 2; slot c.
constexpr Vec32x16 kPanelGridShifts =
    MakeGridShifts([](int lane, int c) { return 2 * c + lane / 2; });

// vpshufb controls that spread the scale bytes (ScaleBytes, broadcast to every qword) over the
// int16 words of vpackssdw(acc[a], acc[b]): in lane L, words 0..3 come from acc[a] (sub-block
// a + 4 (L / 2)), words 4..7 from acc[b]; high bytes zero.
constexpr Vec8x64 MakeScaleCtrl(int a, int b) {
  Vec8x64 t{};
  for (int lane = 0; lane < 4; ++lane) {
    for (int w = 0; w < 8; ++w) {
      t.v[16 * lane + 2 * w] = static_cast<int8_t>((w < 4 ? a : b) + 4 * (lane / 2));
      t.v[16 * lane + 2 * w + 1] = static_cast<int8_t>(-128);
    }
  }
  return t;
}
constexpr Vec8x64 kScaleCtrl01 = MakeScaleCtrl(0, 1);
constexpr Vec8x64 kScaleCtrl23 = MakeScaleCtrl(2, 3);

inline __m512i LoadConst(const Vec32x16& t) { return _mm512_load_si512(t.v); }
inline __m512i LoadConst(const Vec8x64& t) { return _mm512_load_si512(t.v); }

// The per-slot grid tables of one block: dword 4L + c = the unsigned levels of sub-block
// sub(L, c) (shifts from MakeGridShifts).
inline __m512i GridTable(const Byte* b, const Vec32x16& shifts) {
  // The dword at `grids` also holds two scale bytes above bit 15: the largest shift is 14 and
  // only the low 2 bits of each index matter.
  const __m512i g = _mm512_set1_epi32(static_cast<int>(LoadU32(b + kOq2Grids)));
  return _mm512_permutexvar_epi32(_mm512_srlv_epi32(g, LoadConst(shifts)), LoadConst(kGridDwords));
}

// --- row kernels ----------------------------------------------------------------------------

// One row's block: w[s] = unsigned levels of [sub-block s | sub-block s + 4], sv = the scales in
// the word layout of vpackssdw(acc[0], acc[1]) and (acc[2], acc[3]).
struct RowBlock {
  __m512i w[4];
  __m512i sv[2];
};

// `scratch`: an aligned qword the scale bytes pass through.
[[gnu::always_inline]] inline void UnpackRow(const Byte* b, RowBlock& o, uint64_t* scratch) {
  // vpshufb reads index bits 0..3 and 7 only. m = (q & 0x33) | 0x40 has field 0 in bits 0..1,
  // slot 0 in bits 2..3 and bit 7 clear: the index of w[0]; m >> 4 (16-bit shift) has field 2
  // in bits 0..1, slot 1 (the 0x40) in bits 2..3 and bit 7 = bit 3 of the next byte, clear: the
  // index of w[2]. Fields 1 and 3 (q >> 2) do the same with the table whose slots 0, 1 are
  // slots 2, 3 of the first.
  const __m512i m33 = _mm512_set1_epi8(0x33), m40 = _mm512_set1_epi8(0x40);
  const __m512i t02 = GridTable(b, kRowGridShifts);
  const __m512i t13 = _mm512_shuffle_epi32(t02, _MM_PERM_DCDC);
  const __m512i q = Load512(b + kOq2Qs);
  const __m512i m = _mm512_ternarylogic_epi32(q, m33, m40, kAndOr);
  const __m512i n = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q, 2), m33, m40, kAndOr);
  o.w[0] = _mm512_shuffle_epi8(t02, m);
  o.w[1] = _mm512_shuffle_epi8(t13, n);
  o.w[2] = _mm512_shuffle_epi8(t02, _mm512_srli_epi16(m, 4));
  o.w[3] = _mm512_shuffle_epi8(t13, _mm512_srli_epi16(n, 4));
  // The scale bytes go through memory: a broadcast load costs no vector ALU slot, a broadcast
  // from a general register does. The opaque pointer keeps GCC from forwarding the register.
  *scratch = ScaleBytes(b);
  const uint64_t* p = scratch;
  __asm__("" : "+r"(p));
  const __m512i sc = _mm512_set1_epi64(static_cast<long long>(*p));
  o.sv[0] = _mm512_shuffle_epi8(sc, LoadConst(kScaleCtrl01));
  o.sv[1] = _mm512_shuffle_epi8(sc, LoadConst(kScaleCtrl23));
}

// One token's block in the layout of RowBlock::w, and off[s] = -32 * (the four activations of
// each dword of x[s]), where every row's sums start.
struct TokBlock {
  __m512i x[4];
  __m512i off[4];
};

[[gnu::always_inline]] inline void PrepareTok(const Byte* xb, TokBlock& o) {
  const __m512i c32 = _mm512_set1_epi8(kOq2Offset);
  for (int s = 0; s < 4; ++s) {
    o.x[s] = _mm512_inserti64x4(_mm512_castsi256_si512(Load256(xb + kQ8KQs + 32 * s)),
                                Load256(xb + kQ8KQs + 128 + 32 * s), 1);
    o.off[s] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                _mm512_dpbusd_epi32(_mm512_setzero_si512(), c32, o.x[s]));
  }
}

// sum_j sc_j * sum(level * x) over sub-block j, spread over 16 int32 lanes.
[[gnu::always_inline]] inline __m512i DotRow(const RowBlock& rb, const TokBlock& tb) {
  // Each dword ends as sum(level * x) over its four values, |.| <= 4 * 32 * 128 = 16384, so the
  // saturating packs are exact; the copies of off[s] that start the sums are register moves.
  __m512i a[4];
  for (int s = 0; s < 4; ++s) a[s] = _mm512_dpbusd_epi32(tb.off[s], rb.w[s], tb.x[s]);
  return _mm512_dpwssd_epi32(_mm512_madd_epi16(_mm512_packs_epi32(a[0], a[1]), rb.sv[0]),
                             _mm512_packs_epi32(a[2], a[3]), rb.sv[1]);
}

// d of four blocks as floats (the halves gathered in a general register, one conversion).
inline __m128 D4(const Byte* b, size_t stride) {
  uint64_t h = 0;
  for (int r = 0; r < 4; ++r) h |= static_cast<uint64_t>(LoadU16(b + r * stride + kOq2D)) << (16 * r);
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(h)));
}

// acc + v * (*p broadcast), the broadcast folded into the FMA's memory operand (a load, not a
// shuffle; GCC would otherwise broadcast from the register it just stored).
inline __m512 FmaBcast(__m512 acc, __m512 v, const float* p) {
  __asm__("vfmadd231ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(v), "m"(*p));
  return acc;
}

// OQ2 x Q8_K for R rows and T tokens (2..7 tokens; decode takes Decode below): y[t * ys + r].
// Per block, each row is unpacked once and each token prepared once.
struct Oq2Kernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    const int64_t nb = k / kQK_K;
    alignas(8) uint64_t scratch;
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      RowBlock rb[R];
      float dw[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kOq2Bytes;
        PrefetchAhead<kOq2Bytes>(b);
        UnpackRow(b, rb[r], &scratch);
        dw[r] = H2F(LoadU16(b + kOq2D));
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* xb = x + t * xrb + ib * kQ8KBytes;
        TokBlock tb;
        PrepareTok(xb, tb);
        const float dx = LoadF32(xb + kQ8KD);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Fold(DotRow(rb[r], tb))),
                                      _mm256_set1_ps(dw[r] * dx), acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }
};

// Decode: the token's blocks are prepared once per call (kPrepBlocks at a time, in a stack
// buffer) instead of once per pass of rows, and R rows at a time multiply them. Per row and
// block that leaves the unpacking, 4 vpdpbusd, 2 packs, 2 scale products, a conversion and an
// FMA whose d * d_x comes from memory as an embedded broadcast.
constexpr int kPrepBlocks = 32;  // 16 KiB

template <int R>
void DecodePass(const Byte* w, size_t wrb, const TokBlock* tok, const Byte* x, int nb, float* y,
                bool add) {
  __m512 acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  alignas(16) float dd[R < 4 ? 4 : R];
  alignas(8) uint64_t scratch;
  for (int ib = 0; ib < nb; ++ib) {
    const float dx = LoadF32(x + ib * kQ8KBytes + kQ8KD);
    if constexpr (R % 4 == 0) {
#pragma GCC unroll 16
      for (int g = 0; g < R / 4; ++g) {
        _mm_store_ps(dd + 4 * g, _mm_mul_ps(D4(w + 4 * g * wrb + ib * kOq2Bytes, wrb), _mm_set1_ps(dx)));
      }
    } else {
      for (int r = 0; r < R; ++r) dd[r] = H2F(LoadU16(w + r * wrb + ib * kOq2Bytes + kOq2D)) * dx;
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const Byte* b = w + r * wrb + ib * kOq2Bytes;
      PrefetchAhead<kOq2Bytes>(b);
      RowBlock rb;
      UnpackRow(b, rb, &scratch);
      acc[r] = FmaBcast(acc[r], _mm512_cvtepi32_ps(DotRow(rb, tok[ib])), dd + r);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const float v = _mm512_reduce_add_ps(acc[r]);
    y[r] = add ? y[r] + v : v;
  }
}

// One token: y[r] = dot(row r, x) for r in [r0, r1).
void Decode(const Byte* w, size_t wrb, int64_t r0, int64_t r1, int64_t k, const Byte* x,
            float* y) {
  const int64_t nb = k / kQK_K;
  if (nb == 0) {
    for (int64_t r = r0; r < r1; ++r) y[r] = 0.0f;
    return;
  }
  TokBlock tok[kPrepBlocks];
  for (int64_t b0 = 0; b0 < nb; b0 += kPrepBlocks) {
    const int n = static_cast<int>(nb - b0 < kPrepBlocks ? nb - b0 : kPrepBlocks);
    const Byte* xc = x + b0 * kQ8KBytes;
    for (int b = 0; b < n; ++b) PrepareTok(xc + b * kQ8KBytes, tok[b]);
    const Byte* wc = w + b0 * kOq2Bytes;
    const bool add = b0 > 0;
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) DecodePass<8>(wc + r * wrb, wrb, tok, xc, n, y + r, add);
    if (r + 4 <= r1) {
      DecodePass<4>(wc + r * wrb, wrb, tok, xc, n, y + r, add);
      r += 4;
    }
    for (; r < r1; ++r) DecodePass<1>(wc + r * wrb, wrb, tok, xc, n, y + r, add);
  }
}

// --- prefill panel (avx512_panel.h) ---------------------------------------------------------

// Per-qword right shifts that take the 2-bit fields of chunk c (of a 32-byte qs half broadcast
// to both 256-bit halves): sub-blocks 2c (low half) and 2c + 1 (high half) are fields 2 (c % 2)
// and 2 (c % 2) + 1.
inline __m512i FieldShift(int c) {
  const int lo = 4 * (c % 2), hi = lo + 2;
  return _mm512_setr_epi64(lo, lo, lo, lo, hi, hi, hi, hi);
}

// u = level + 32 per value in order, scales per sub-block of 32; the offset 32 * sc_j * sum(x)
// is the mins term: the int16 pair (-32 sc_j, -32 sc_j) against bsums 2j, 2j + 1, in units of d
// (what KPanel16's own Tile uses; Oq2Panel16 below removes the offset its own way).
struct Oq2Panel {
  static constexpr size_t kBytes = kOq2Bytes;
  static constexpr int kSub = 32;
  static constexpr bool kSeparateMins = false;
  static void Unpack(const Byte* b, PanelRow& out) {
    const __m512i table = GridTable(b, kPanelGridShifts);  // slot c: chunk c's lanes
    const __m512i q0 = _mm512_broadcast_i64x4(Load256(b + kOq2Qs));
    const __m512i q1 = _mm512_broadcast_i64x4(Load256(b + kOq2Qs + 32));
    const __m512i m3 = _mm512_set1_epi8(3);
    for (int c = 0; c < 4; ++c) {
      const __m512i v = _mm512_srlv_epi64(c < 2 ? q0 : q1, FieldShift(c));
      // (v & 3) | 4c: the 2-bit field plus the table slot of chunk c.
      const __m512i idx = _mm512_ternarylogic_epi32(
          v, m3, _mm512_set1_epi8(static_cast<char>(4 * c)), kAndOr);
      out.q[c] = _mm512_shuffle_epi8(table, idx);
    }
    const __m512i sc = _mm512_cvtepu8_epi32(
        _mm_cvtsi64_si128(static_cast<long long>(ScaleBytes(b))));  // dwords 0..7
    // sc_j < 16 in both words of dword j, times -32 (int16, exact).
    out.mins = _mm512_mullo_epi16(_mm512_or_si512(sc, _mm512_slli_epi32(sc, 16)),
                                  _mm512_set1_epi16(-kOq2Offset));
    out.sc = sc;
    out.d = H2F(LoadU16(b + kOq2D));
    out.dmin = 0.0f;
  }
};

// The panel kernel: KPanel16<Oq2Panel>'s unpacking and blocks, with its own Tile. The shared
// Tile removes the offset with 8 vpdpwssd per token and block (the mins term); here each
// sub-block's sums instead start from -32 * (the sub-block's activation sum), broadcast from
// memory, so that only the 64 vpdpbusd and the 8 scale products use the multiply ports.
struct Oq2Panel16 : KPanel16<Oq2Panel> {
  template <int T>
  static void Tile(const PanelBlock* pb, int nb, const Byte* x, size_t xrb, float* y, int64_t ys,
                   bool add) {
    __m512 facc[T];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) facc[t] = _mm512_setzero_ps();
    alignas(32) int32_t off[T][8];
    for (int b = 0; b < nb; ++b, x += kQ8KBytes) {
      const PanelBlock& B = pb[b];
      // off[t][j] = -32 * (bsums[2j] + bsums[2j + 1]): sub-block j's offset, the same for every
      // row (one vpmaddwd per token).
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(off[t]),
                           _mm256_madd_epi16(Load256(x + t * xrb + kQ8KBsums),
                                             _mm256_set1_epi16(-kOq2Offset)));
      }
      // Opaque, so that the broadcasts below are loads (GCC would extract from the register).
      const int32_t* offp = &off[0][0];
      __asm__("" : "+r"(offp));
      __m512i iacc[T];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) iacc[t] = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j) {
        __m512i sacc[1][T];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) sacc[0][t] = _mm512_set1_epi32(offp[8 * t + j]);
        DotGroups<1, T>({&B}, 8 * j, 8 * j + 8, x, xrb, sacc);
        const __m512i sc = B.sc[j];
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(sacc[0][t], sc));
        }
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m512 s = _mm512_mul_ps(B.d, _mm512_set1_ps(LoadF32(x + t * xrb + kQ8KD)));
        facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), s, facc[t]);
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      float* yt = y + t * ys;
      _mm512_storeu_ps(yt, add ? _mm512_add_ps(_mm512_loadu_ps(yt), facc[t]) : facc[t]);
    }
  }
};

}  // namespace

float VecDotOQ2(int64_t n, const void* w_row, const void* x_vd) {
  float y = 0.0f;
  Decode(static_cast<const Byte*>(w_row), 0, 0, 1, n, static_cast<const Byte*>(x_vd), &y);
  return y;
}

// Decode: Decode (8 rows per pass); 2..7 tokens: 2 x 4 tiles; prefill: the panel (measured on
// Zen 4 against Q2_K: decode 8960 x 1536 at the same bytes/s, prefill at the same GOPS).
void MatMulOQ2(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    Decode(static_cast<const Byte*>(w), w_row_bytes, r0, r1, k, static_cast<const Byte*>(x_vd), y);
    return;
  }
  x86::PanelOrRows<Oq2Panel16>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride,
                               x86::MatMulImpl<Oq2Kernel, 2, 2, 4>);
}

}  // namespace ondo::kernels::avx512
