// Helpers for the kernel tests: byte buffers at chosen misalignments, random rows.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include <gtest/gtest.h>

namespace ondo::kernels::testing {

// Test names of the SIMD sets (INSTANTIATE_TEST_SUITE_P(..., ::testing::ValuesIn(kSimdIsas),
// IsaName)): every set compiled for the architecture is instantiated; a test of a set that the
// CPU cannot run skips.
inline std::string IsaName(const ::testing::TestParamInfo<Isa>& info) {
  switch (info.param) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
  }
  return "unknown";
}

// Unit roundoff of f32 (half an ulp of 1.0).
inline constexpr double kU = 0x1p-24;

// A byte buffer whose data() starts `offset` bytes past a 64-byte boundary, with guard bytes
// after the payload so that reads past the end are caught by ASan only when they leave the
// allocation (the guards themselves are checked for writes).
class Buffer {
 public:
  Buffer(size_t bytes, size_t offset) : bytes_(bytes), offset_(offset) {
    storage_.assign(bytes + offset + 64 + kGuard, kGuardByte);
    base_ = reinterpret_cast<uintptr_t>(storage_.data());
    start_ = (64 - base_ % 64) % 64 + offset;
  }
  unsigned char* data() { return storage_.data() + start_; }
  const unsigned char* data() const { return storage_.data() + start_; }
  size_t size() const { return bytes_; }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data());
  }
  bool GuardIntact() const {
    for (size_t i = start_ + bytes_; i < start_ + bytes_ + kGuard; ++i) {
      if (storage_[i] != kGuardByte) return false;
    }
    return true;
  }

 private:
  static constexpr size_t kGuard = 16;
  static constexpr unsigned char kGuardByte = 0xA5;
  size_t bytes_;
  size_t offset_;
  uintptr_t base_ = 0;
  size_t start_ = 0;
  std::vector<unsigned char> storage_;
};

inline std::vector<float> RandomFloats(std::mt19937& rng, int64_t n, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// Values of a row of `type` as doubles (the exact values the kernels multiply).
inline std::vector<double> RowValues(DType type, const void* row, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));
  GetKernelSet(Isa::kScalar)->For(type).dequantize_row(row, f.data(), n);
  return std::vector<double>(f.begin(), f.end());
}

// A row buffer that ends exactly at the end of its allocation (so ASan sees any read past the
// row), starting `offset` bytes into it.
class TightBuffer {
 public:
  TightBuffer(size_t bytes, size_t offset)
      : storage_(new unsigned char[bytes + offset]), offset_(offset) {
    std::memset(storage_.get(), 0xA5, bytes + offset);
  }
  unsigned char* data() { return storage_.get() + offset_; }

 private:
  std::unique_ptr<unsigned char[]> storage_;
  size_t offset_;
};

// A random finite f16 (inf and NaN patterns moved to finite ones).
inline uint16_t RandomFiniteHalf(std::mt19937& rng) {
  uint16_t h = static_cast<uint16_t>(rng());
  if ((h & 0x7c00) == 0x7c00) h = static_cast<uint16_t>(h & ~0x4000);  // inf/NaN -> finite
  return h;
}

// A Q8_K block with quants drawn from `vals` (uniform in [-127, 127] when empty), scale d and
// consistent block sums.
inline void MakeQ8KBlock(std::mt19937& rng, const std::vector<int>& vals, float d, unsigned char* p) {
  block_q8_K b;
  b.d = d;
  for (int e = 0; e < 256; ++e) {
    const int v = vals.empty() ? static_cast<int>(rng() % 255) - 127 : vals[rng() % vals.size()];
    b.qs[e] = static_cast<int8_t>(v);
  }
  for (int j = 0; j < 16; ++j) {
    int s = 0;
    for (int i = 0; i < 16; ++i) s += b.qs[16 * j + i];
    b.bsums[j] = static_cast<int16_t>(s);
  }
  std::memcpy(p, &b, sizeof b);
}

// set's MatMul of type t against the reference's, for rows [r0, r1) of w and n_tok tokens of x,
// into outputs of stride r1 + ys_pad filled with -99 first: nothing may be written outside
// rows [r0, r1), and y[tok][r] must lie within tol(r, tok) of the reference's. Fatal failures;
// call through ASSERT_NO_FATAL_FAILURE.
template <class Tol>
void ExpectMatMulMatchesRef(const KernelSet& set, DType t, int64_t k, const unsigned char* w,
                            size_t wrb, const unsigned char* x, size_t xrb, int64_t r0, int64_t r1,
                            int n_tok, Tol tol, int64_t ys_pad = 2) {
  const int64_t ys = r1 + ys_pad;
  std::vector<float> want(n_tok * ys, -99.0f), got(n_tok * ys, -99.0f);
  GetKernelSet(Isa::kScalar)->For(t).mat_mul(w, wrb, r0, r1, k, x, xrb, n_tok, want.data(), ys);
  set.For(t).mat_mul(w, wrb, r0, r1, k, x, xrb, n_tok, got.data(), ys);
  for (int tok = 0; tok < n_tok; ++tok) {
    for (int64_t r = 0; r < ys; ++r) {
      const float g = got[tok * ys + r];
      if (r < r0 || r >= r1) {
        ASSERT_EQ(g, -99.0f) << "wrote outside its rows";
        continue;
      }
      ASSERT_NEAR(g, want[tok * ys + r], tol(r, tok))
          << Info(t).name << " k " << k << " rows [" << r0 << "," << r1 << ") tok " << tok << "/"
          << n_tok;
    }
  }
}

}  // namespace ondo::kernels::testing
