// x86 SIMD kernels. Each function has the contract of its namespace-less twin in kernels.h /
// kernels/ref/ref.h and is tested against it; call them only when the CPU has the ISA
// (kernels/dispatch.h does this). Rows typed `const void*` may sit at any byte address.
// Same REQUIRES as the reference, plus for the AVX2 Q8_0 dot products: activation quants
// in [-127, 127], as QuantizeRow makes them (|w| * sign-moved x through maddubs, as in ggml;
// x = -128 against a negative weight would wrap). The AVX-512 VNNI ones are exact for all
// int8 values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"


// Quantized weight types (see kernels/ref/ref.h): VecDotT and MatMulT against the type's
// vec-dot type, integer sums exact, float results within summation-order rounding of the
// reference. For 8 tokens or more, MatMulT of the K-quants, Q4_0, Q5_0 and IQ4_NL (and
// MatMulQ8_0; IQ4_XS on AVX-512) runs the panel GEMM (avx512_panel*.h, avx2_panel*.h: weight
// blocks unpacked once per panel of rows for every token); otherwise the row kernels.
#define ONDO_X86_WEIGHT_TYPE(T)                                                              \
  float VecDot##T(int64_t n, const void* w_row, const void* x_vd);                           \
  void MatMul##T(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,       \
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);
#define ONDO_X86_ALL_WEIGHT_TYPES                                                            \
  ONDO_X86_WEIGHT_TYPE(Q4_0)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q4_1)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q5_0)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q5_1)                                                                 \
  ONDO_X86_WEIGHT_TYPE(IQ4_NL)                                                               \
  ONDO_X86_WEIGHT_TYPE(Q2_K)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q3_K)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q4_K)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q5_K)                                                                 \
  ONDO_X86_WEIGHT_TYPE(Q6_K)                                                                 \
  ONDO_X86_WEIGHT_TYPE(IQ4_XS)                                                               \
  ONDO_X86_WEIGHT_TYPE(OQ2)

// What both sets provide:
// - the activation quantizers, bit-identical to the reference's (QuantizeRowQ8_0, Q8_1, Q8_K,
//   F16), and DequantizeRowF16;
// - VecDot and MatMul of F32, F16, Q8_0 and the weight types above;
// - Softmax, AttentionF16 and AttentionQ8_0 (args.out may alias args.q);
// - ExpF32: y[i] = e^x[i] by a vectorised polynomial (< 1 ulp measured, tested <= 2 ulp;
//   subnormal results within 2^-149; NaN stays NaN); what Softmax and AttentionF16 use.
//   In-place allowed.
#define ONDO_X86_COMMON_KERNELS                                  \
  void QuantizeRowQ8_0(const float* x, void* out, int64_t n);    \
  void QuantizeRowQ8_1(const float* x, void* out, int64_t n);    \
  void QuantizeRowQ8_K(const float* x, void* out, int64_t n);    \
  void QuantizeRowF16(const float* x, void* out, int64_t n);     \
  void DequantizeRowF16(const void* row, float* out, int64_t n); \
  ONDO_X86_WEIGHT_TYPE(F32)                                      \
  ONDO_X86_WEIGHT_TYPE(F16)                                      \
  ONDO_X86_WEIGHT_TYPE(Q8_0)                                     \
  ONDO_X86_ALL_WEIGHT_TYPES                                      \
  void Softmax(float* x, int64_t n);                             \
  void AttentionF16(const AttentionArgs& args);                  \
  void AttentionQ8_0(const AttentionQ8Args& args);               \
  void ExpF32(const float* x, float* y, int64_t n);

// AVX2 + FMA + F16C.
namespace ondo::kernels::avx2 {

ONDO_X86_COMMON_KERNELS
ONDO_X86_WEIGHT_TYPE(Bf16)
// ref::SwiGlu with the vectorised exp (<= 2 ulp): results within a few ulp of it.
void SwiGlu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace ondo::kernels::avx2

// AVX-512 F/BW/VL/VNNI (+ AVX2, FMA, F16C). BF16 rows use the AVX2 kernels.
namespace ondo::kernels::avx512 {

ONDO_X86_COMMON_KERNELS

}  // namespace ondo::kernels::avx512

#undef ONDO_X86_COMMON_KERNELS
#undef ONDO_X86_ALL_WEIGHT_TYPES
#undef ONDO_X86_WEIGHT_TYPE
