// Portable IEEE binary16 and bfloat16 conversions (integer arithmetic only, round to nearest
// even), inline for the reference kernels.
// Do not include from kernels/x86/*.cc: inline functions emitted from a TU compiled with
// -mavx512f could be picked by the linker for scalar callers (and fault on older CPUs).
#pragma once

#include <cstdint>
#include <cstring>

namespace ondo::kernels::ref {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float HalfBitsToFloat(uint16_t h) {
  // The 15 magnitude bits shifted into an f32 are the same value scaled by 2^-112, for
  // normal halves (f32 exponent = half exponent) and subnormal ones (an f32 subnormal) alike;
  // the multiplication by 2^112 is exact. Needs subnormals honoured (no DAZ/FTZ, i.e. no
  // -ffast-math). Exponent 31 (inf, NaN) is mapped to f32 exponent 255 instead.
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t mag = static_cast<uint32_t>(h & 0x7fffu) << 13;
  uint32_t bits = FloatBits(BitsToFloat(mag) * 0x1p112f);
  if (mag >= (0x7c00u << 13)) bits = 0x7f800000u | mag;
  return BitsToFloat(sign | bits);
}

inline uint16_t FloatToHalfBits(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // inf or NaN (NaN: quiet, top payload bits kept, as F16C does)
    if (ax == 0x7f800000u) return sign | 0x7c00u;
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf
  if (ax >= 0x38800000u) {                       // normal half: |f| >= 2^-14
    uint32_t h = ((ax >> 23) - 112u) << 10 | ((ax >> 13) & 0x3ffu);
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carries into the exponent
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half (or zero): value = m * 2^(e-150) with m the 24-bit significand; the half
  // mantissa is value * 2^24 = m >> (126 - e).
  const uint32_t e = ax >> 23;
  if (e < 102) return sign;  // < 2^-25: rounds to zero (2^-25 itself ties to even zero)
  const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t h = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float Bf16BitsToFloat(uint16_t h) { return BitsToFloat(static_cast<uint32_t>(h) << 16); }

// As ggml_compute_fp32_to_bf16: NaN is kept quiet, everything else rounds to nearest even.
inline uint16_t FloatToBf16Bits(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Loads element i of a row of 16-bit values that may sit at any byte address.
inline uint16_t LoadU16(const void* row, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const unsigned char*>(row) + 2 * i, sizeof v);
  return v;
}
inline float LoadF32(const void* row, int64_t i) {
  float v;
  std::memcpy(&v, static_cast<const unsigned char*>(row) + 4 * i, sizeof v);
  return v;
}

}  // namespace ondo::kernels::ref
