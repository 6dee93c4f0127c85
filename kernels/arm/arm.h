// aarch64 SIMD kernels: two kernel sets built from the same sources (kernels/CMakeLists.txt),
// namespace neon (any ARMv8-A: Advanced SIMD is in the base architecture) and namespace neondot
// (ARMv8.2 dot product, sdot/udot, when getauxval(AT_HWCAP) has HWCAP_ASIMDDP). Each source
// registers the kernels it implements over a copy of the scalar set; what it does not cover
// keeps the reference kernels. Every registered kernel has the contract of its twin in
// kernels/ref/ref.h (integer sums exact, float results within summation-order rounding) and is
// tested against it (tests/kernels, run for every set the CPU can execute; under qemu-aarch64
// with -cpu max and -cpu cortex-a53 in CI).
#pragma once

#include <cstdint>

namespace ondo::kernels {

struct KernelSet;

#define ONDO_ARM_REGISTRATION                                                                \
  void RegisterBase(KernelSet* s);   /* neon.cc: F32, F16, BF16, Q8_0, activations, ops */ \
  void RegisterLegacy(KernelSet* s); /* neon_legacy.cc: Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL */      \
  void RegisterK(KernelSet* s);      /* neon_k.cc: Q2_K ... Q6_K, IQ4_XS */                  \
  void RegisterOq2(KernelSet* s);    /* neon_oq2.cc: ondo's OQ2 */                         \
  void RegisterOps(KernelSet* s);    /* neon_ops.cc: softmax, SwiGLU, attention */        \
  /* y[i] = e^x[i], the vectorised exp of Softmax and attention (neon_ops.cc; <= 2 ulp,   \
     tested by SimdTest.ExpIsWithinTwoUlp). In-place allowed. */                           \
  void ExpF32(const float* x, float* y, int64_t n);

namespace neon {
ONDO_ARM_REGISTRATION
}  // namespace neon
namespace neondot {
ONDO_ARM_REGISTRATION
}  // namespace neondot

#undef ONDO_ARM_REGISTRATION

}  // namespace ondo::kernels
