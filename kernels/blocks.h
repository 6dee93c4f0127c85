// Block layouts of the ggml quantized types, byte for byte as stored in GGUF files.
// Half-precision fields are raw IEEE binary16 bits (uint16_t). Blocks in a mapped file may sit
// at any byte offset (a Q8_0 block is 34 bytes), so kernels read them with memcpy/unaligned
// loads, never by dereferencing a multi-byte field of a misaligned block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ondo::kernels {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;       // super-block size of the K-quants
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales/mins of Q4_K and Q5_K

struct block_q4_0 {
  uint16_t d;              // scale (f16)
  uint8_t qs[kQK4_0 / 2];  // nibbles: low = element j, high = element j + 16
};
static_assert(sizeof(block_q4_0) == 18, "ggml block_q4_0");

struct block_q4_1 {
  uint16_t d;  // scale (f16)
  uint16_t m;  // min (f16)
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20, "ggml block_q4_1");

struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];  // 5th bits, little-endian uint32
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22, "ggml block_q5_0");

struct block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24, "ggml block_q5_1");

struct block_q8_0 {
  uint16_t d;  // scale (f16): x ~= d * qs[j]
  int8_t qs[kQK8_0];
};
static_assert(sizeof(block_q8_0) == 34, "ggml block_q8_0");

struct block_q8_1 {
  uint16_t d;  // scale (f16)
  uint16_t s;  // d * sum(qs) (f16)
  int8_t qs[kQK8_1];
};
static_assert(sizeof(block_q8_1) == 36, "ggml block_q8_1");

struct block_q2_K {
  uint8_t scales[kQK_K / 16];  // 4-bit scales (low) and mins (high) of 16 sub-blocks
  uint8_t qs[kQK_K / 4];       // 2-bit quants
  uint16_t d;                  // super-block scale for the scales (f16)
  uint16_t dmin;               // super-block scale for the mins (f16)
};
static_assert(sizeof(block_q2_K) == 84, "ggml block_q2_K");

struct block_q3_K {
  uint8_t hmask[kQK_K / 8];  // high bit of the 3-bit quants
  uint8_t qs[kQK_K / 4];     // low 2 bits
  uint8_t scales[12];        // 6-bit scales, packed
  uint16_t d;                // super-block scale (f16)
};
static_assert(sizeof(block_q3_K) == 110, "ggml block_q3_K");

struct block_q4_K {
  uint16_t d;                   // super-block scale for the scales (f16)
  uint16_t dmin;                // super-block scale for the mins (f16)
  uint8_t scales[kKScaleSize];  // 6-bit scales and mins, packed
  uint8_t qs[kQK_K / 2];        // 4-bit quants
};
static_assert(sizeof(block_q4_K) == 144, "ggml block_q4_K");

struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];  // 5th bits
  uint8_t qs[kQK_K / 2];  // low 4 bits
};
static_assert(sizeof(block_q5_K) == 176, "ggml block_q5_K");

struct block_q6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scales
  uint16_t d;                 // super-block scale (f16)
};
static_assert(sizeof(block_q6_K) == 210, "ggml block_q6_K");

struct block_q8_K {
  float d;  // scale (f32)
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of qs in groups of 16
};
static_assert(sizeof(block_q8_K) == 292, "ggml block_q8_K");

inline constexpr int kQK4_NL = 32;

// The 16 non-uniform levels of IQ4_NL and IQ4_XS (ggml kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

struct block_iq4_nl {
  uint16_t d;                // scale (f16)
  uint8_t qs[kQK4_NL / 2];  // indices into kIq4nlValues: low nibble element j, high j + 16
};
static_assert(sizeof(block_iq4_nl) == 18, "ggml block_iq4_nl");

struct block_iq4_xs {
  uint16_t d;                // super-block scale (f16)
  uint16_t scales_h;         // high 2 bits of the 8 6-bit sub-block scales
  uint8_t scales_l[kQK_K / 64];  // low 4 bits of the scales, two per byte
  uint8_t qs[kQK_K / 2];     // indices into kIq4nlValues
};
static_assert(sizeof(block_iq4_xs) == 136, "ggml block_iq4_xs");

// --- ondo's native types: only inside .ondo models, never accepted from a GGUF file --------

// OQ2, ondo's 2-bit type: 2.25 bits per weight, everything included. A super-block of 256
// values in 8 sub-blocks of 32; value l of sub-block j is
//     d * sc[j] * kOq2Grid[g[j]][q[l]]
// with d an f16, sc[j] an unsigned 4-bit scale, g[j] one of four 4-level grids (2 bits) and q a
// 2-bit index. The grids are non-uniform levels: grid 0 with an exact zero and its mirror image
// (grid 1, the sign a signed scale would give), an asymmetric one like IQ2_KS's and a symmetric
// one (chosen by KL divergence on ko-mini-a, KLUE and GSD texts, among a dozen sets; IQ2_KS's
// own four levels and mirrors measured 0.1185 / 0.1419 against 0.1134 / 0.1266 for these). The
// levels lie in [-32, 31], so a kernel adds 32 to get
// unsigned bytes for vpmaddubsw/vpdpbusd (at most 63 * 127 * 2, no saturation) and removes the
// offset with the Q8_K block sums (32 * sc[j] * sum of the sub-block's activations).
inline constexpr int kOq2SubBlock = 32;
inline constexpr int kOq2Offset = 32;
inline constexpr int8_t kOq2Grid[4][4] = {
    {-31, -14, 0, 16}, {-16, 0, 14, 31}, {-26, -8, 6, 22}, {-31, -9, 9, 31}};

struct block_oq2 {
  uint16_t d;          // super-block scale (f16)
  uint16_t grids;      // grid of sub-block j in bits 4 * (j % 4) + 2 * (j / 4), two bits
  uint8_t scales[4];   // scale of sub-block j in scales[j % 4], bits 4 * (j / 4), four bits
  uint8_t qs[kQK_K / 4];  // as Q2_K: value 128 h + 32 s + l is qs[32 h + l] bits 2 s .. 2 s + 1
};
static_assert(sizeof(block_oq2) == 72, "OQ2 block: 2.25 bits per weight");
static_assert(offsetof(block_oq2, qs) == 8, "OQ2 quants start 8-byte aligned in the block");

// Sub-block j of block b: scale and grid. Shift s (0..3) of the 32-byte half h (0..1) of qs
// holds sub-block 4 h + s, so an AVX2 register of 32 indices is one sub-block and an AVX-512
// register of 64 holds sub-blocks s and s + 4, whose scales share byte scales[s] and whose
// grids share bits 4 s .. 4 s + 3 of `grids`.
inline int Oq2Scale(const block_oq2& b, int j) { return (b.scales[j % 4] >> (4 * (j / 4))) & 15; }
inline int Oq2GridOf(const block_oq2& b, int j) { return (b.grids >> (4 * (j % 4) + 2 * (j / 4))) & 3; }

}  // namespace ondo::kernels
