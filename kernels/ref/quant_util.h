// Helpers shared by the scalar quantizers of kernels/ref/ (reference code only; see fp16.h for
// why kernels/x86/*.cc must not include inline functions from here). They repeat ggml's float
// operations one by one: kernels/CMakeLists.txt compiles kernels/ref/ without FMA contraction.
#pragma once

#include <cstdint>
#include <cstring>

namespace ondo::kernels::ref {

// ggml GROUP_MAX_EPS: a group whose largest magnitude is below it counts as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Block ib of a row that may sit at any byte address.
template <class Block>
Block LoadBlock(const void* row, int64_t ib) {
  Block b;
  std::memcpy(&b, static_cast<const unsigned char*>(row) + ib * static_cast<int64_t>(sizeof(Block)),
              sizeof b);
  return b;
}
template <class Block>
void StoreBlock(void* row, int64_t ib, const Block& b) {
  std::memcpy(static_cast<unsigned char*>(row) + ib * static_cast<int64_t>(sizeof(Block)), &b,
              sizeof b);
}

// ggml nearest_int: round to nearest, ties to even, by adding 1.5 * 2^23 and reading the
// low mantissa bits. REQUIRES: |f| <= 4194303.
inline int NearestInt(float f) {
  const float v = f + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// ggml make_qkx2_quants: asymmetric quantization of n values to L[i] in [0, nmax] with
// x ~= scale * L - the_min, weighted least squares over nstep + 1 trial inverse scales
// (rmin + rdelta * is + nmax) / (max - min). Returns the scale; *the_min >= 0 (min <= 0).
// Laux: n bytes of scratch. Used by Q2_K, Q4_K and Q5_K.
float MakeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                     float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                     bool use_mad);

// ggml best_index_int8: index of the value of `val` (ascending, n entries) nearest to x; a
// tie goes to the upper one. Used by IQ4_NL and IQ4_XS.
int BestIndexInt8(int n, const int8_t* val, float x);

}  // namespace ondo::kernels::ref
