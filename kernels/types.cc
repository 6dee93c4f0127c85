// The ggml type table (names, block sizes, bytes per block) and the scalar conversions.
#include <cassert>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels/ref/fp16.h"

namespace ondo::kernels {
namespace {

// Sizes exactly as ggml's type_traits; `supported` = ondo can quantize/dequantize/dot it now.
constexpr TypeInfo kTypes[] = {
    {DType::kF32, "F32", 1, 4, true, DType::kF32},
    {DType::kF16, "F16", 1, 2, true, DType::kF16},
    {DType::kQ4_0, "Q4_0", kQK4_0, sizeof(block_q4_0), false, DType::kQ8_0},
    {DType::kQ4_1, "Q4_1", kQK4_1, sizeof(block_q4_1), false, DType::kQ8_1},
    {DType::kQ5_0, "Q5_0", kQK5_0, sizeof(block_q5_0), false, DType::kQ8_0},
    {DType::kQ5_1, "Q5_1", kQK5_1, sizeof(block_q5_1), false, DType::kQ8_1},
    {DType::kQ8_0, "Q8_0", kQK8_0, sizeof(block_q8_0), true, DType::kQ8_0},
    {DType::kQ8_1, "Q8_1", kQK8_1, sizeof(block_q8_1), false, DType::kQ8_1},
    {DType::kQ2_K, "Q2_K", kQK_K, sizeof(block_q2_K), false, DType::kQ8_K},
    {DType::kQ3_K, "Q3_K", kQK_K, sizeof(block_q3_K), false, DType::kQ8_K},
    {DType::kQ4_K, "Q4_K", kQK_K, sizeof(block_q4_K), false, DType::kQ8_K},
    {DType::kQ5_K, "Q5_K", kQK_K, sizeof(block_q5_K), false, DType::kQ8_K},
    {DType::kQ6_K, "Q6_K", kQK_K, sizeof(block_q6_K), false, DType::kQ8_K},
    {DType::kQ8_K, "Q8_K", kQK_K, sizeof(block_q8_K), false, DType::kQ8_K},
    {DType::kBF16, "BF16", 1, 2, true, DType::kBF16},
};

}  // namespace

const TypeInfo* GetTypeInfo(uint32_t raw_type) {
  for (const TypeInfo& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == raw_type) return &t;
  }
  return nullptr;
}

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
