// The ggml type table (names, block sizes, bytes per block) and the scalar conversions.
#include <cassert>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels/ref/fp16.h"

namespace ondo::kernels {
namespace {

// Sizes exactly as ggml's type_traits; `supported` = ondo computes with it as a weight type.
// The IQ1/IQ2/IQ3, ternary and integer types are listed by name and size only, so that a file
// holding them is parsed and then refused with a message that names the type.
constexpr TypeInfo kTypes[] = {
    {DType::kF32, "F32", 1, 4, true, DType::kF32},
    {DType::kF16, "F16", 1, 2, true, DType::kF16},
    {DType::kQ4_0, "Q4_0", kQK4_0, sizeof(block_q4_0), true, DType::kQ8_0},
    {DType::kQ4_1, "Q4_1", kQK4_1, sizeof(block_q4_1), true, DType::kQ8_1},
    {DType::kQ5_0, "Q5_0", kQK5_0, sizeof(block_q5_0), true, DType::kQ8_0},
    {DType::kQ5_1, "Q5_1", kQK5_1, sizeof(block_q5_1), true, DType::kQ8_1},
    {DType::kQ8_0, "Q8_0", kQK8_0, sizeof(block_q8_0), true, DType::kQ8_0},
    {DType::kQ8_1, "Q8_1", kQK8_1, sizeof(block_q8_1), false, DType::kQ8_1},
    {DType::kQ2_K, "Q2_K", kQK_K, sizeof(block_q2_K), true, DType::kQ8_K},
    {DType::kQ3_K, "Q3_K", kQK_K, sizeof(block_q3_K), true, DType::kQ8_K},
    {DType::kQ4_K, "Q4_K", kQK_K, sizeof(block_q4_K), true, DType::kQ8_K},
    {DType::kQ5_K, "Q5_K", kQK_K, sizeof(block_q5_K), true, DType::kQ8_K},
    {DType::kQ6_K, "Q6_K", kQK_K, sizeof(block_q6_K), true, DType::kQ8_K},
    {DType::kQ8_K, "Q8_K", kQK_K, sizeof(block_q8_K), false, DType::kQ8_K},
    {DType::kIQ2_XXS, "IQ2_XXS", kQK_K, 66, false, DType::kQ8_K},
    {DType::kIQ2_XS, "IQ2_XS", kQK_K, 74, false, DType::kQ8_K},
    {DType::kIQ3_XXS, "IQ3_XXS", kQK_K, 98, false, DType::kQ8_K},
    {DType::kIQ1_S, "IQ1_S", kQK_K, 50, false, DType::kQ8_K},
    {DType::kIQ4_NL, "IQ4_NL", kQK4_NL, sizeof(block_iq4_nl), true, DType::kQ8_0},
    {DType::kIQ3_S, "IQ3_S", kQK_K, 110, false, DType::kQ8_K},
    {DType::kIQ2_S, "IQ2_S", kQK_K, 82, false, DType::kQ8_K},
    {DType::kIQ4_XS, "IQ4_XS", kQK_K, sizeof(block_iq4_xs), true, DType::kQ8_K},
    {DType::kI8, "I8", 1, 1, false, DType::kI8},
    {DType::kI16, "I16", 1, 2, false, DType::kI16},
    {DType::kI32, "I32", 1, 4, false, DType::kI32},
    {DType::kI64, "I64", 1, 8, false, DType::kI64},
    {DType::kF64, "F64", 1, 8, false, DType::kF64},
    {DType::kIQ1_M, "IQ1_M", kQK_K, 56, false, DType::kQ8_K},
    {DType::kBF16, "BF16", 1, 2, true, DType::kBF16},
    {DType::kTQ1_0, "TQ1_0", kQK_K, 54, false, DType::kQ8_K},
    {DType::kTQ2_0, "TQ2_0", kQK_K, 66, false, DType::kQ8_K},
    {DType::kOQ2, "OQ2", kQK_K, sizeof(block_oq2), true, DType::kQ8_K},
};

}  // namespace

const TypeInfo* GetTypeInfo(uint32_t raw_type) {
  for (const TypeInfo& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == raw_type) return &t;
  }
  return nullptr;
}

const char* SupportedTypeNames() {
  return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, "
         "IQ4_XS (and OQ2 in .ondo models)";
}

bool IsNativeType(DType t) { return t == DType::kOQ2; }

size_t RowBytes(DType type, int64_t n) {
  const TypeInfo& info = Info(type);
  assert(n % info.block_size == 0);
  return static_cast<size_t>(n / info.block_size) * static_cast<size_t>(info.type_size);
}

uint16_t FloatToHalf(float f) { return ref::FloatToHalfBits(f); }
float HalfToFloat(uint16_t h) { return ref::HalfBitsToFloat(h); }
uint16_t FloatToBf16(float f) { return ref::FloatToBf16Bits(f); }
float Bf16ToFloat(uint16_t h) { return ref::Bf16BitsToFloat(h); }

}  // namespace ondo::kernels
