// Weight quantizers against llama.cpp, byte for byte: (1) the fixture rows of
// tests/runtime/data/quant_parity (quantized by llama-quantize, see its README) for every weight
// type; (2) every tensor of ko-mini-a's Q8_0 and Q4_K_M files (made by llama-quantize from the
// F32 file without an importance matrix) re-quantized from ko-mini-a.f32.gguf (skips without
// ../shared).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "runtime/gguf.h"

namespace ondo::runtime {
namespace {

using kernels::DType;

std::vector<unsigned char> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

std::string Fixture(const std::string& name) {
  return std::string(ONDO_TESTS_DIR) + "/data/quant_parity/" + name;
}

// Quantizes `rows` rows of `cols` floats with the scalar reference and with the active kernel
// set, and returns the index of the first row that differs from `want` (-1: none).
int64_t FirstDifferentRow(DType type, const float* x, int64_t rows, int64_t cols,
                          const unsigned char* want, const kernels::KernelSet& set) {
  const size_t rb = kernels::RowBytes(type, cols);
  std::vector<unsigned char> got(rb);
  for (int64_t r = 0; r < rows; ++r) {
    set.For(type).quantize_row(x + r * cols, got.data(), cols);
    if (std::memcmp(got.data(), want + r * rb, rb) != 0) return r;
  }
  return -1;
}

struct FixtureCase {
  const char* tensor;
  int64_t cols;
  DType type;
};

void PrintTo(const FixtureCase& c, std::ostream* os) {
  *os << c.tensor << " " << kernels::Info(c.type).name;
}

class QuantParityFixture : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(QuantParityFixture, ByteIdenticalToLlamaQuantize) {
  const FixtureCase& c = GetParam();
  const std::string type_name = kernels::Info(c.type).name;
  const std::vector<unsigned char> src = ReadFile(Fixture(std::string(c.tensor) + ".F32.bin"));
  const std::vector<unsigned char> want = ReadFile(Fixture(std::string(c.tensor) + "." + type_name + ".bin"));
  ASSERT_FALSE(src.empty());
  const int64_t rows = static_cast<int64_t>(src.size() / 4) / c.cols;
  ASSERT_EQ(want.size(), static_cast<size_t>(rows) * kernels::RowBytes(c.type, c.cols));
  std::vector<float> x(src.size() / 4);
  std::memcpy(x.data(), src.data(), src.size());
  for (kernels::Isa isa : {kernels::Isa::kScalar, kernels::Isa::kAvx2, kernels::Isa::kAvx512}) {
    const kernels::KernelSet* set = kernels::GetKernelSet(isa);
    if (set == nullptr) continue;
    EXPECT_EQ(FirstDifferentRow(c.type, x.data(), rows, c.cols, want.data(), *set), -1)
        << type_name << " " << c.tensor << " (" << set->name << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, QuantParityFixture,
    ::testing::Values(FixtureCase{"attn_q", 256, DType::kQ4_0}, FixtureCase{"attn_q", 256, DType::kQ4_1},
                      FixtureCase{"attn_q", 256, DType::kQ5_0}, FixtureCase{"attn_q", 256, DType::kQ5_1},
                      FixtureCase{"attn_q", 256, DType::kIQ4_NL}, FixtureCase{"attn_q", 256, DType::kQ8_0},
                      FixtureCase{"attn_q", 256, DType::kQ2_K}, FixtureCase{"attn_q", 256, DType::kQ3_K},
                      FixtureCase{"attn_q", 256, DType::kQ4_K}, FixtureCase{"attn_q", 256, DType::kQ5_K},
                      FixtureCase{"attn_q", 256, DType::kQ6_K}, FixtureCase{"attn_q", 256, DType::kIQ4_XS},
                      FixtureCase{"ffn_down", 768, DType::kQ2_K}, FixtureCase{"ffn_down", 768, DType::kQ3_K},
                      FixtureCase{"ffn_down", 768, DType::kQ4_K}, FixtureCase{"ffn_down", 768, DType::kQ5_K},
                      FixtureCase{"ffn_down", 768, DType::kQ6_K}, FixtureCase{"ffn_down", 768, DType::kIQ4_XS}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) {
      return std::string(info.param.tensor) + "_" + kernels::Info(info.param.type).name;
    });

std::string SharedModel(const std::string& type) {
  return std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a." + type + ".gguf";
}

// Every 2-D tensor of llama.cpp's file, re-quantized from the F32 file with the same type.
void CheckFileAgainstF32(const std::string& type) {
  if (!std::filesystem::exists(SharedModel(type)) || !std::filesystem::exists(SharedModel("f32"))) {
    GTEST_SKIP() << "no ../shared models";
  }
  std::unique_ptr<GgufFile> q, f;
  ASSERT_TRUE(GgufFile::Open(SharedModel(type), &q).ok());
  ASSERT_TRUE(GgufFile::Open(SharedModel("f32"), &f).ok());
  int checked = 0;
  for (const GgufTensorInfo& t : q->tensors()) {
    if (t.type == DType::kF32) continue;
    const GgufTensorInfo* src = f->FindTensor(t.name);
    ASSERT_NE(src, nullptr) << std::string(t.name);
    ASSERT_EQ(src->type, DType::kF32);
    const int64_t cols = t.ne[0];
    const int64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
    std::vector<float> x(static_cast<size_t>(rows * cols));
    std::memcpy(x.data(), src->data, x.size() * sizeof(float));
    EXPECT_EQ(FirstDifferentRow(t.type, x.data(), rows, cols, t.data, kernels::ActiveKernels()), -1)
        << std::string(t.name) << " " << kernels::Info(t.type).name;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(QuantParityKoMiniA, Q8_0FileReproduced) { CheckFileAgainstF32("Q8_0"); }
TEST(QuantParityKoMiniA, Q4_K_MFileReproduced) { CheckFileAgainstF32("Q4_K_M"); }

}  // namespace
}  // namespace ondo::runtime
