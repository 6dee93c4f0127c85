// Small helpers shared by the scalar quantizers (reference code only; see fp16.h for why
// kernels/x86/*.cc must not include inline functions from here).
#pragma once

#include <cstdint>
#include <cstring>

namespace ondo::kernels::ref {

// ggml nearest_int: round to nearest, ties to even, by adding 1.5 * 2^23 and reading the
// low mantissa bits. REQUIRES: |f| <= 4194303.
inline int NearestInt(float f) {
  const float v = f + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

}  // namespace ondo::kernels::ref
