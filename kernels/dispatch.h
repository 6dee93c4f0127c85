// The kernel table: one set of function pointers per instruction set, the active one chosen
// once at start-up from platform::GetCpuFeatures() (ONDO_CPU=scalar|avx2 on x86,
// ONDO_CPU=scalar|neon on aarch64 forces a lower set).
// The free functions of kernels.h call through the active set; tests and benchmarks use
// GetKernelSet() to run every set that the CPU can execute side by side.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace ondo::kernels {

using QuantizeRowFn = void (*)(const float* x, void* out, int64_t n);
using DequantizeRowFn = void (*)(const void* row, float* out, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* x_vd);
using MatMulFn = void (*)(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                          const void* x_vd, size_t x_row_bytes, int n_tok, float* y,
                          int64_t y_stride);

// Per weight type; a null entry means "not available for this type".
struct TypeKernels {
  QuantizeRowFn quantize_row = nullptr;
  DequantizeRowFn dequantize_row = nullptr;
  VecDotFn vec_dot = nullptr;
  MatMulFn mat_mul = nullptr;
};

inline constexpr int kMaxTypeId = 64;  // DType values are < kMaxTypeId

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3, kNeonDot = 4 };
inline constexpr int kNumIsas = 5;
// The SIMD sets compiled for this architecture, in order (tests run each one the CPU can
// execute against the scalar set).
#if ONDO_KERNELS_ARM
inline constexpr Isa kSimdIsas[] = {Isa::kNeon, Isa::kNeonDot};
#elif ONDO_KERNELS_X86
inline constexpr Isa kSimdIsas[] = {Isa::kAvx2, Isa::kAvx512};
#else
inline constexpr Isa kSimdIsas[] = {Isa::kScalar};  // nothing else: the SIMD tests compare ref with itself
#endif

struct KernelSet {
  Isa isa;
  const char* name;  // "scalar", "avx2", "avx512", "neon", "neondot"
  TypeKernels types[kMaxTypeId];
  void (*rms_norm)(const float* x, const float* w, float* out, int64_t n, float eps);
  void (*layer_norm)(const float* x, const float* w, const float* b, float* out, int64_t n,
                     float eps);
  void (*softmax)(float* x, int64_t n);
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  void (*gelu)(const float* x, float* out, int64_t n);
  void (*geglu)(const float* gate, const float* up, float* out, int64_t n);
  void (*add)(const float* x, float* y, int64_t n);
  void (*rope)(float* x, int n_heads, int head_dim, int pos, const RopeParams& p);
  void (*attention_f16)(const AttentionArgs& args);
  void (*attention_q8_0)(const AttentionQ8Args& args);

  const TypeKernels& For(DType t) const { return types[static_cast<uint32_t>(t)]; }
};

// The set for `isa`, or nullptr when it is not compiled in or this CPU (as reported by
// platform::GetCpuFeatures(), so after ONDO_CPU) cannot run it. kScalar is always available.
const KernelSet* GetKernelSet(Isa isa);
// The set chosen at start-up: the best available one.
const KernelSet& ActiveKernels();

}  // namespace ondo::kernels
