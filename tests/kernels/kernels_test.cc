// kernels/: the type table, conversions, and every reference kernel against an independent
// truth (known bit patterns, double-precision formulas). SIMD kernels are in simd_test.cc.
#include "kernels/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/test_util.h"

namespace ondo::kernels {
namespace {

using testing::Buffer;
using testing::kU;
using testing::RandomFloats;

// --- type table -----------------------------------------------------------------------------

TEST(TypeTable, MatchesGgml) {
  struct Want {
    uint32_t id;
    const char* name;
    int block_size;
    int type_size;
    bool supported;
    DType vec_dot;
  };
  const Want want[] = {
      {0, "F32", 1, 4, true, DType::kF32},         {1, "F16", 1, 2, true, DType::kF16},
      {2, "Q4_0", 32, 18, true, DType::kQ8_0},     {3, "Q4_1", 32, 20, true, DType::kQ8_1},
      {6, "Q5_0", 32, 22, true, DType::kQ8_0},     {7, "Q5_1", 32, 24, true, DType::kQ8_1},
      {8, "Q8_0", 32, 34, true, DType::kQ8_0},     {9, "Q8_1", 32, 36, false, DType::kQ8_1},
      {10, "Q2_K", 256, 84, true, DType::kQ8_K},   {11, "Q3_K", 256, 110, true, DType::kQ8_K},
      {12, "Q4_K", 256, 144, true, DType::kQ8_K},  {13, "Q5_K", 256, 176, true, DType::kQ8_K},
      {14, "Q6_K", 256, 210, true, DType::kQ8_K},  {15, "Q8_K", 256, 292, false, DType::kQ8_K},
      {16, "IQ2_XXS", 256, 66, false, DType::kQ8_K}, {17, "IQ2_XS", 256, 74, false, DType::kQ8_K},
      {18, "IQ3_XXS", 256, 98, false, DType::kQ8_K}, {19, "IQ1_S", 256, 50, false, DType::kQ8_K},
      {20, "IQ4_NL", 32, 18, true, DType::kQ8_0},  {21, "IQ3_S", 256, 110, false, DType::kQ8_K},
      {22, "IQ2_S", 256, 82, false, DType::kQ8_K}, {23, "IQ4_XS", 256, 136, true, DType::kQ8_K},
      {29, "IQ1_M", 256, 56, false, DType::kQ8_K}, {30, "BF16", 1, 2, true, DType::kBF16},
      {34, "TQ1_0", 256, 54, false, DType::kQ8_K}, {35, "TQ2_0", 256, 66, false, DType::kQ8_K},
  };
  for (const Want& w : want) {
    const TypeInfo* info = GetTypeInfo(w.id);
    ASSERT_NE(info, nullptr) << w.id;
    EXPECT_EQ(static_cast<uint32_t>(info->type), w.id);
    EXPECT_STREQ(info->name, w.name);
    EXPECT_EQ(info->block_size, w.block_size) << w.name;
    EXPECT_EQ(info->type_size, w.type_size) << w.name;
    EXPECT_EQ(info->supported, w.supported) << w.name;
    EXPECT_EQ(info->vec_dot_type, w.vec_dot) << w.name;
  }
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 39u, 40u, 1000u, 0xffffffffu}) {
    EXPECT_EQ(GetTypeInfo(id), nullptr) << id;
  }
}

TEST(TypeTable, RowBytes) {
  EXPECT_EQ(RowBytes(DType::kF32, 7), 28u);
  EXPECT_EQ(RowBytes(DType::kF16, 7), 14u);
  EXPECT_EQ(RowBytes(DType::kBF16, 0), 0u);
  EXPECT_EQ(RowBytes(DType::kQ8_0, 4096), 128u * 34u);
  EXPECT_EQ(RowBytes(DType::kQ4_K, 512), 2u * 144u);
}

TEST(TypeTable, SupportedTypesHaveKernelsInEverySet) {
  for (int i = 0; i < kNumIsas; ++i) {
    const KernelSet* set = GetKernelSet(static_cast<Isa>(i));
    if (!set) continue;
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
      const TypeKernels& k = set->For(t);
      EXPECT_TRUE(k.quantize_row && k.dequantize_row && k.vec_dot && k.mat_mul)
          << set->name << " " << Info(t).name;
    }
  }
}

// --- dispatch --------------------------------------------------------------------------------

TEST(Dispatch, ActiveIsTheBestAvailableSet) {
  ASSERT_NE(GetKernelSet(Isa::kScalar), nullptr);
  const KernelSet* best = nullptr;
  for (int i = 0; i < kNumIsas; ++i) {
    if (const KernelSet* s = GetKernelSet(static_cast<Isa>(i))) best = s;
  }
  EXPECT_EQ(&ActiveKernels(), best);
  EXPECT_STREQ(ActiveIsa(), best->name);
  const std::string name = ActiveIsa();
  EXPECT_TRUE(name == "scalar" || name == "avx2" || name == "avx512" || name == "neon" ||
              name == "neondot")
      << name;
}

TEST(Dispatch, FreeFunctionsUseTheActiveSet) {
  std::mt19937 rng(7);
  const int64_t k = 256;
  const std::vector<float> w = RandomFloats(rng, 3 * k);
  const std::vector<float> x = RandomFloats(rng, k);
  std::vector<uint16_t> w16(3 * k), x16(k);
  QuantizeRow(DType::kF16, w.data(), w16.data(), 3 * k);
  QuantizeRow(DType::kF16, x.data(), x16.data(), k);
  float y[3], y_active[3];
  MatMul(DType::kF16, w16.data(), k * 2, 0, 3, k, x16.data(), k * 2, 1, y, 3);
  ActiveKernels()
      .For(DType::kF16)
      .mat_mul(w16.data(), k * 2, 0, 3, k, x16.data(), k * 2, 1, y_active, 3);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(y[r], y_active[r]);
  EXPECT_EQ(VecDot(DType::kF16, k, w16.data(), x16.data()),
            ActiveKernels().For(DType::kF16).vec_dot(k, w16.data(), x16.data()));
}

// --- fp16 / bf16 conversion ----------------------------------------------------------------

TEST(Fp16, KnownBitPatterns) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);    // largest finite
  EXPECT_EQ(FloatToHalf(65519.996f), 0x7BFF);  // below the halfway point to 2^16
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);    // halfway, ties to even = inf
  EXPECT_EQ(FloatToHalf(1e6f), 0x7C00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie to even (0)
  EXPECT_EQ(FloatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 subnormal ulps: tie to 2
  EXPECT_EQ(FloatToHalf(std::ldexp(5.0f, -25)), 0x0002);         // 2.5 ulps: tie to 2
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even (down)
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie to even (up)
  EXPECT_EQ(FloatToHalf(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  EXPECT_EQ(FloatToHalf(0.1f), 0x2E66);
  EXPECT_EQ(FloatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(FloatToHalf(-INFINITY), 0xFC00);
  const uint16_t nan = FloatToHalf(NAN);
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);

  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)) && HalfToFloat(0x8000) == 0.0f);
  EXPECT_EQ(HalfToFloat(0x7C00), INFINITY);
  EXPECT_EQ(HalfToFloat(0xFC00), -INFINITY);
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7C01)));
}

// Every finite half: its value maps back to it, and the points just below, at and just above
// the midpoint to the next half round as nearest-even says (truth computed in double).
TEST(Fp16, RoundsToNearestEvenEverywhere) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint16_t a = static_cast<uint16_t>(h | sign);
      const float va = HalfToFloat(a);
      ASSERT_EQ(FloatToHalf(va), a) << std::hex << a;
      // Next half up in magnitude (0x7C00 = inf, whose "value" for rounding is 65536).
      const double vb = h + 1 == 0x7C00
                            ? 65536.0
                            : static_cast<double>(HalfToFloat(static_cast<uint16_t>(h + 1)));
      const double mid = (std::fabs(static_cast<double>(va)) + vb) / 2.0;
      const float fmid = static_cast<float>(mid);  // exact: halves have 11 significant bits
      ASSERT_EQ(static_cast<double>(fmid), mid);
      const float s = sign ? -1.0f : 1.0f;
      const uint16_t even = (h & 1u) ? static_cast<uint16_t>((h + 1) | sign) : a;
      ASSERT_EQ(FloatToHalf(s * fmid), even) << std::hex << a;
      ASSERT_EQ(FloatToHalf(s * std::nextafter(fmid, 0.0f)), a) << std::hex << a;
      ASSERT_EQ(FloatToHalf(s * std::nextafter(fmid, INFINITY)),
                static_cast<uint16_t>((h + 1) | sign))
          << std::hex << a;
    }
  }
}

TEST(Bf16, KnownBitPatterns) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(-1.0f), 0xBF80);
  EXPECT_EQ(Bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(Bf16ToFloat(0x4049), 3.140625f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0); 1 + 3*2^-8 ties up.
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);
  EXPECT_EQ(FloatToBf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3F81);
  EXPECT_EQ(FloatToBf16(INFINITY), 0x7F80);
  EXPECT_EQ(FloatToBf16(-INFINITY), 0xFF80);
  const uint16_t nan = FloatToBf16(NAN);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(nan)));
  EXPECT_EQ(FloatToBf16(3.4e38f), 0x7F80);  // rounds past the largest finite bf16
}

// --- rows ------------------------------------------------------------------------------------

// Q8_0 round trip: with d = amax/127 exact, |x - q d| <= d/2; storing d as f16 (d') adds
// |q| |d - d'| <= 127 |d - d'|; x * (1/d) in f32 adds at most 2 ulps of |x/d| <= 127,
// i.e. 2 * 127 * 2^-23 * d.
TEST(RefQ8_0, RoundTripErrorBound) {
  std::mt19937 rng(1);
  for (float scale : {1e-3f, 1.0f, 300.0f}) {
    std::vector<float> x = RandomFloats(rng, 32 * 64, -scale, scale);
    for (int j = 0; j < 32; ++j) x[32 * 3 + j] = 0.0f;  // an all-zero block
    x[32 * 5 + 7] = 2.5f * scale;                       // a block with an outlier
    std::vector<block_q8_0> q(64);
    ref::QuantizeRowQ8_0(x.data(), q.data(), 32 * 64);
    std::vector<float> back(32 * 64);
    ref::DequantizeRowQ8_0(q.data(), back.data(), 32 * 64);
    for (int b = 0; b < 64; ++b) {
      double amax = 0;
      for (int j = 0; j < 32; ++j)
        amax = std::max(amax, std::fabs(static_cast<double>(x[32 * b + j])));
      const double d = amax / 127.0;
      const double dh = HalfToFloat(q[b].d);
      int max_q = 0;
      for (int j = 0; j < 32; ++j) {
        const double err = std::fabs(static_cast<double>(x[32 * b + j]) - back[32 * b + j]);
        const double tol = d / 2 + 127 * std::fabs(d - dh) + 2 * 127 * 0x1p-23 * d + 1e-30;
        ASSERT_LE(err, tol) << "block " << b << " j " << j;
        max_q = std::max(max_q, std::abs(static_cast<int>(q[b].qs[j])));
      }
      EXPECT_EQ(max_q, amax > 0 ? 127 : 0) << "block " << b;
    }
  }
}

TEST(RefQ8_0, RoundsHalfAwayFromZero) {
  // amax = 127 makes d = 1 and 1/d = 1 exactly, so x * id = x: 2.5 -> 3, -2.5 -> -3 (roundf).
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -126.5f;
  block_q8_0 b;
  ref::QuantizeRowQ8_0(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 1);
  EXPECT_EQ(b.qs[4], -127);
}

// Float dots against double truth: products of two f16 (or bf16) values are exact in f32,
// so the reference's only errors are the f32 product rounding (F32 only, <= u per term), the
// double sum (negligible) and the final rounding to f32: |err| <= 2u * sum|w x| + tiny.
TEST(RefVecDot, FloatTypesMatchDouble) {
  std::mt19937 rng(2);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t n : {0, 1, 5, 64, 1000, 4099}) {
      const std::vector<float> w = RandomFloats(rng, n), x = RandomFloats(rng, n);
      std::vector<unsigned char> wr(RowBytes(t, n) + 1), xr(RowBytes(t, n) + 1);
      GetKernelSet(Isa::kScalar)->For(t).quantize_row(w.data(), wr.data(), n);
      GetKernelSet(Isa::kScalar)->For(t).quantize_row(x.data(), xr.data(), n);
      const std::vector<double> wv = testing::RowValues(t, wr.data(), n);
      const std::vector<double> xv = testing::RowValues(t, xr.data(), n);
      double truth = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        truth += wv[i] * xv[i];
        mag += std::fabs(wv[i] * xv[i]);
      }
      const float got = GetKernelSet(Isa::kScalar)->For(t).vec_dot(n, wr.data(), xr.data());
      EXPECT_NEAR(got, truth, 2.01 * kU * mag + 1e-37) << Info(t).name << " n=" << n;
    }
  }
}

// Q8_0: the block sums are exact integers and the scale product d_w*d_x is the same f32
// value in truth and kernel; only the f32 accumulation of nb terms differs:
// |err| <= nb * u * sum_b |sumi_b * D_b| (to first order).
TEST(RefVecDot, Q8_0MatchesExactBlockSums) {
  std::mt19937 rng(3);
  for (int64_t n : {0, 32, 96, 4096}) {
    const std::vector<float> w = RandomFloats(rng, n), x = RandomFloats(rng, n);
    std::vector<block_q8_0> wq(n / 32 + 1), xq(n / 32 + 1);
    ref::QuantizeRowQ8_0(w.data(), wq.data(), n);
    ref::QuantizeRowQ8_0(x.data(), xq.data(), n);
    double truth = 0, mag = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
      int64_t sumi = 0;
      for (int j = 0; j < 32; ++j) sumi += wq[b].qs[j] * xq[b].qs[j];
      const float d = HalfToFloat(wq[b].d) * HalfToFloat(xq[b].d);
      truth += static_cast<double>(sumi) * d;
      mag += std::fabs(static_cast<double>(sumi) * d);
    }
    const double nb = static_cast<double>(n / 32);
    EXPECT_NEAR(ref::VecDotQ8_0(n, wq.data(), xq.data()), truth, 1.01 * (nb + 1) * kU * mag) << n;
  }
}

TEST(RefMatMul, WritesOnlyItsRowsWithStride) {
  std::mt19937 rng(4);
  const int64_t k = 64, rows = 10;
  const int n_tok = 3;
  const int64_t y_stride = 13;
  const std::vector<float> w = RandomFloats(rng, rows * k), x = RandomFloats(rng, n_tok * k);
  std::vector<float> y(n_tok * y_stride, -7.0f);
  ref::MatMulF32(w.data(), k * 4, 2, 7, k, x.data(), k * 4, n_tok, y.data(), y_stride);
  for (int t = 0; t < n_tok; ++t) {
    for (int64_t r = 0; r < y_stride; ++r) {
      const float got = y[t * y_stride + r];
      if (r < 2 || r >= 7) {
        EXPECT_EQ(got, -7.0f);
      } else {
        EXPECT_EQ(got, ref::VecDotF32(k, w.data() + r * k, x.data() + t * k));
      }
    }
  }
}

// --- element-wise ops --------------------------------------------------------------------------

// RmsNorm: x*x rounded (u), double sum, mean to f32 (u), + eps (u), sqrtf (u, halves the
// relative error of its argument), 1/ (u), x*scale (u), *w (u): |err| <= 6u |truth|.
TEST(RefRmsNorm, MatchesDouble) {
  std::mt19937 rng(5);
  for (int64_t n : {1, 7, 896, 4096}) {
    const std::vector<float> x = RandomFloats(rng, n, -3.0f, 3.0f);
    const std::vector<float> w = RandomFloats(rng, n, 0.5f, 1.5f);
    for (bool with_w : {false, true}) {
      std::vector<float> out(n);
      const float eps = 1e-6f;
      ref::RmsNorm(x.data(), with_w ? w.data() : nullptr, out.data(), n, eps);
      double ss = 0;
      for (float v : x) ss += static_cast<double>(v) * v;
      const double scale = 1.0 / std::sqrt(ss / n + eps);
      for (int64_t i = 0; i < n; ++i) {
        const double truth = x[i] * scale * (with_w ? w[i] : 1.0);
        ASSERT_NEAR(out[i], truth, 6.01 * kU * std::fabs(truth) + 1e-37) << n << " " << i;
      }
    }
  }
  // In place.
  std::vector<float> x = {3.0f, 4.0f};
  ref::RmsNorm(x.data(), nullptr, x.data(), 2, 0.0f);
  EXPECT_NEAR(x[0], 3.0 / std::sqrt(12.5), 4 * kU);
  EXPECT_NEAR(x[1], 4.0 / std::sqrt(12.5), 4 * kU);
}

// LayerNorm: the mean (rounded to f32: u|mean|) and each centred value (u|x - mean|) enter
// divided by sd; the variance/scale chain contributes a few u relative (as RmsNorm):
// |err| <= 8u (|x_i| + |mean|) / sd + 8u |truth|.
TEST(RefLayerNorm, MatchesDouble) {
  std::mt19937 rng(6);
  for (int64_t n : {1, 5, 768}) {
    const std::vector<float> x = RandomFloats(rng, n, 1.0f, 3.0f);
    const std::vector<float> w = RandomFloats(rng, n), b = RandomFloats(rng, n);
    std::vector<float> out(n);
    const float eps = 1e-5f;
    ref::LayerNorm(x.data(), w.data(), b.data(), out.data(), n, eps);
    double mean = 0;
    for (float v : x) mean += v;
    mean /= n;
    double var = 0;
    for (float v : x) var += (v - mean) * (v - mean);
    var /= n;
    const double sd = std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double norm = (x[i] - mean) / sd;
      const double truth = norm * w[i] + b[i];
      const double tol = 8 * kU * ((std::fabs(x[i]) + std::fabs(mean)) / sd) * std::fabs(w[i]) +
                         8 * kU * (std::fabs(norm * w[i]) + std::fabs(b[i]));
      ASSERT_NEAR(out[i], truth, tol) << n << " " << i;
    }
  }
}

// Softmax: expf (<= 1 ulp = 2u relative), their sum in double (2u), 1/sum to f32 (u),
// product (u): |p - truth| <= 6u * truth (+ u |x - max| from rounding the shifted argument).
TEST(RefSoftmax, SumsToOneAndMatchesDouble) {
  std::mt19937 rng(7);
  for (int64_t n : {1, 2, 31, 1000}) {
    std::vector<float> x = RandomFloats(rng, n, -20.0f, 20.0f);
    const std::vector<float> x0 = x;
    ref::Softmax(x.data(), n);
    const double max = *std::max_element(x0.begin(), x0.end());
    double z = 0, sum = 0;
    for (float v : x0) z += std::exp(v - max);
    for (int64_t i = 0; i < n; ++i) {
      const double truth = std::exp(x0[i] - max) / z;
      ASSERT_NEAR(x[i], truth, (6 + std::fabs(x0[i] - max)) * kU * truth + 1e-45) << i;
      sum += x[i];
    }
    EXPECT_NEAR(sum, 1.0, 6 * kU * n) << n;
  }
  float one = 3.0f;
  ref::Softmax(&one, 1);
  EXPECT_EQ(one, 1.0f);
}

TEST(RefActivations, MatchDouble) {
  std::mt19937 rng(8);
  const int64_t n = 1000;
  const std::vector<float> g = RandomFloats(rng, n, -10.0f, 10.0f), u = RandomFloats(rng, n);
  std::vector<float> out(n), gl(n);
  ref::SwiGlu(g.data(), u.data(), out.data(), n);
  ref::Gelu(g.data(), gl.data(), n);
  std::vector<float> gg(n);
  ref::GeGlu(g.data(), u.data(), gg.data(), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(gg[i], gl[i] * u[i]) << i;  // the same float steps
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i];
    const double silu = gi / (1.0 + std::exp(-gi));
    // expf (2u), 1 + e (u), division (u), times up (u), relative to |silu * up| plus the
    // cancellation-free magnitude bound.
    ASSERT_NEAR(out[i], silu * u[i], 8 * kU * std::fabs(silu * u[i]) + 1e-37) << i;
    const double inner = 0.7978845608028654 * gi * (1 + 0.044715 * gi * gi);
    const double gelu = 0.5 * gi * (1 + std::tanh(inner));
    // tanh's argument carries ~5u relative error; d/dz tanh <= 1, so 1 + tanh(z) is off by
    // <= 5u |z| + 2u, times 0.5 |x|, plus the final products (2u relative).
    ASSERT_NEAR(gl[i], gelu,
                0.5 * std::fabs(gi) * (5 * kU * std::fabs(inner) + 4 * kU) +
                    4 * kU * std::fabs(gelu) + 1e-37)
        << i;
  }
  std::vector<float> y = {1.0f, 2.0f};
  const float a[2] = {0.5f, -4.0f};
  ref::Add(a, y.data(), 2);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -2.0f);
}

// --- rope --------------------------------------------------------------------------------------

// Truth, in double: theta_e = pos * base^(-2i/n_rot) / ff_i, theta_i = freq_scale * theta_e,
// theta = theta_i (1 - r) + theta_e r with the YaRN ramp r, and the rotation scaled by mscale.
// Error of the kernel's angle: powf (<= 1 ulp = 2u), i products by theta_scale (u each, plus
// i times the 2u of theta_scale), / ff (u), * freq_scale (u), the ramp mix (3u): with
// theta_e >= theta_i, |dtheta| <= theta_e (3i + 8) u. cosf/sinf (<= 1 ulp each), * mscale (u)
// and the rotation's two products and sum (3u) add mscale (|x0| + |x1|)(|dtheta| + 6u).
struct RopeCase {
  const char* name;
  bool factors;
  float ext_factor, corr_low, corr_high, mscale;
};
TEST(RefRope, MatchesDoubleFormula) {
  std::mt19937 rng(9);
  const int n_heads = 3, head_dim = 64, n_rot = 48;
  // llama3-like divisors: 1 for high frequencies, up to 8 for low ones, smooth in between.
  std::vector<float> ff(n_rot / 2);
  for (int i = 0; i < n_rot / 2; ++i) ff[static_cast<size_t>(i)] = 1.0f + 7.0f * static_cast<float>(i * i) / (23.0f * 23.0f);
  const RopeCase cases[] = {
      {"plain", false, 0.0f, 0.0f, 0.0f, 1.0f},
      {"freq_factors", true, 0.0f, 0.0f, 0.0f, 1.0f},
      {"yarn", false, 1.0f, 5.0f, 17.0f, 1.1386f},
      {"yarn narrow ramp", false, 0.5f, 9.0f, 9.0f, 1.0f},
  };
  for (const RopeCase& rc : cases) {
    for (RopeMode mode : {RopeMode::kNormal, RopeMode::kNeox}) {
      for (int pos : {0, 1, 17, 1000, 32000, -45}) {
        for (float freq_scale : {1.0f, 0.25f}) {
          RopeParams p;
          p.n_rot = n_rot;
          p.mode = mode;
          p.freq_base = 10000.0f;
          p.freq_scale = freq_scale;
          p.freq_factors = rc.factors ? ff.data() : nullptr;
          p.ext_factor = rc.ext_factor;
          p.corr_low = rc.corr_low;
          p.corr_high = rc.corr_high;
          p.mscale = rc.mscale;
          std::vector<float> x = RandomFloats(rng, n_heads * head_dim);
          const std::vector<float> x0 = x;
          ref::Rope(x.data(), n_heads, head_dim, pos, p);
          for (int h = 0; h < n_heads; ++h) {
            const float* in = x0.data() + h * head_dim;
            const float* got = x.data() + h * head_dim;
            for (int i = 0; i < n_rot / 2; ++i) {
              const int a = mode == RopeMode::kNormal ? 2 * i : i;
              const int b = mode == RopeMode::kNormal ? 2 * i + 1 : i + n_rot / 2;
              const double f = rc.factors ? ff[static_cast<size_t>(i)] : 1.0;
              const double theta_e = pos * std::pow(10000.0, -2.0 * i / n_rot) / f;
              const double theta_i = freq_scale * theta_e;
              double theta = theta_i;
              if (rc.ext_factor != 0.0f) {
                const double y = (i - rc.corr_low) / std::max(0.001, static_cast<double>(rc.corr_high - rc.corr_low));
                const double r = rc.ext_factor * (1.0 - std::clamp(y, 0.0, 1.0));
                theta = theta_i * (1.0 - r) + theta_e * r;
              }
              const double c = rc.mscale * std::cos(theta), s = rc.mscale * std::sin(theta);
              const double want_a = in[a] * c - in[b] * s;
              const double want_b = in[a] * s + in[b] * c;
              const double tol = rc.mscale * (std::fabs(in[a]) + std::fabs(in[b])) *
                                 (std::fabs(theta_e) * (3 * i + 8) * kU + 6 * kU);
              ASSERT_NEAR(got[a], want_a, tol) << rc.name << " pos " << pos << " i " << i;
              ASSERT_NEAR(got[b], want_b, tol) << rc.name << " pos " << pos << " i " << i;
            }
            for (int d = n_rot; d < head_dim; ++d) ASSERT_EQ(got[d], in[d]);  // untouched
          }
        }
      }
    }
  }
}

// Rotating by pos and then by -pos is the identity (what Session::Shift relies on), with
// frequency factors too.
TEST(RefRope, InverseRotation) {
  std::mt19937 rng(10);
  std::vector<float> ff(16);
  for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + static_cast<float>(i) * 0.5f;
  RopeParams p;
  p.n_rot = 32;
  p.freq_factors = ff.data();
  std::vector<float> x = RandomFloats(rng, 2 * 32);
  const std::vector<float> x0 = x;
  ref::Rope(x.data(), 2, 32, 123, p);
  ref::Rope(x.data(), 2, 32, -123, p);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], x0[i], 1e-4) << i;
}

TEST(RefRope, PairingOfTheTwoModes) {
  // pos 1, n_rot 4, base 1: every pair rotates by theta = 1 rad.
  const float c = std::cos(1.0f), s = std::sin(1.0f);
  float normal[4] = {1, 2, 3, 4};
  RopeParams p;
  p.n_rot = 4;
  p.freq_base = 1.0f;
  ref::Rope(normal, 1, 4, 1, p);  // pairs (0,1), (2,3)
  EXPECT_FLOAT_EQ(normal[0], 1 * c - 2 * s);
  EXPECT_FLOAT_EQ(normal[1], 1 * s + 2 * c);
  EXPECT_FLOAT_EQ(normal[2], 3 * c - 4 * s);
  EXPECT_FLOAT_EQ(normal[3], 3 * s + 4 * c);
  float neox[4] = {1, 2, 3, 4};
  p.mode = RopeMode::kNeox;
  ref::Rope(neox, 1, 4, 1, p);  // pairs (0,2), (1,3)
  EXPECT_FLOAT_EQ(neox[0], 1 * c - 3 * s);
  EXPECT_FLOAT_EQ(neox[2], 1 * s + 3 * c);
  EXPECT_FLOAT_EQ(neox[1], 2 * c - 4 * s);
  EXPECT_FLOAT_EQ(neox[3], 2 * s + 4 * c);
}

// --- attention -------------------------------------------------------------------------------

struct AttnCase {
  int n_group, head_dim, n_kv;
  int64_t stride;
};

struct AttnData {
  std::vector<float> q;
  std::vector<uint16_t> k, v;
};

AttnData MakeAttn(std::mt19937& rng, const AttnCase& c, float q_scale) {
  AttnData d;
  d.q = RandomFloats(rng, int64_t{c.n_group} * c.head_dim, -q_scale, q_scale);
  // Rows 0..n_kv-1 hold data; the padding between rows and one row past n_kv hold NaN, so
  // reading anything outside [0, n_kv) x [0, head_dim) poisons the result.
  const size_t rows = static_cast<size_t>(c.n_kv) + 1;
  d.k.assign(rows * c.stride, 0x7E00);
  d.v.assign(rows * c.stride, 0x7E00);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int j = 0; j < c.n_kv; ++j) {
    for (int i = 0; i < c.head_dim; ++i) {
      d.k[j * c.stride + i] = FloatToHalf(dist(rng));
      d.v[j * c.stride + i] = FloatToHalf(dist(rng));
    }
  }
  return d;
}

AttentionArgs ArgsFor(const AttnCase& c, const AttnData& d, float* out, float* scratch) {
  AttentionArgs a{};
  a.q = d.q.data();
  a.k = d.k.data();
  a.v = d.v.data();
  a.kv_row_stride = c.stride;
  a.n_group = c.n_group;
  a.head_dim = c.head_dim;
  a.n_kv = c.n_kv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  a.out = out;
  a.scratch = scratch;
  return a;
}

// The truth's softmax, in double, of the scores s (largest max, each within max_ds of the
// kernel's) and the bound of each weight: softmax moves p by <= p (2 max|ds| + 6u +
// u |s - max|); with f16_p, p is rounded to f16 as llama.cpp does, which can then land one f16
// ulp (2^-10 p, or 2^-24 when subnormal) away from the truth's.
void SoftmaxWithBound(const std::vector<double>& s, double max, double max_ds, bool f16_p,
                      std::vector<double>* p, std::vector<double>* tol_p) {
  const size_t n = s.size();
  p->resize(n);
  tol_p->resize(n);
  double z = 0;
  for (size_t j = 0; j < n; ++j) z += std::exp(s[j] - max);
  for (size_t j = 0; j < n; ++j) {
    const double pj = std::exp(s[j] - max) / z;
    (*p)[j] = f16_p ? HalfToFloat(FloatToHalf(static_cast<float>(pj))) : pj;
    (*tol_p)[j] = pj * (2.01 * max_ds + (6 + std::fabs(s[j] - max)) * kU) +
                  (f16_p ? std::max(pj * 0x1p-10, 0x1p-24) : 0.0);
  }
}

// out[i] of one head against sum_j p[j] v(j, i) for i < head_dim: within
// sum_j tol_p[j] |v(j, i)| (p's error), plus n_sums u sum_j |p[j] v(j, i)| (the kernel's f32
// sum), plus floor.
template <class V>
void ExpectWeightedSums(const float* out, int head_dim, const std::vector<double>& p,
                        const std::vector<double>& tol_p, V v, double n_sums, double floor, int g) {
  const int n_kv = static_cast<int>(p.size());
  for (int i = 0; i < head_dim; ++i) {
    double truth = 0, mag = 0, tol = floor;
    for (int j = 0; j < n_kv; ++j) {
      const double vj = v(j, i);
      truth += p[j] * vj;
      mag += std::fabs(p[j] * vj);
      tol += tol_p[j] * std::fabs(vj);
    }
    tol += 1.01 * n_sums * kU * mag;
    ASSERT_NEAR(out[i], truth, tol) << "g " << g << " i " << i << " n_kv " << n_kv;
  }
}

// GQA semantics: head g of a group gives exactly what a group of one with q_g gives, in
// every kernel set (each head's arithmetic does not depend on the others). args_for(case,
// data, out, scratch) makes the kernel's arguments, run(set, args) calls it.
template <class Data, class ArgsFor, class Run>
void ExpectGroupEqualsHeadsOneByOne(const AttnCase& c, const Data& d, ArgsFor args_for, Run run) {
  for (int i = 0; i < kNumIsas; ++i) {
    const KernelSet* set = GetKernelSet(static_cast<Isa>(i));
    if (!set) continue;
    std::vector<float> out(c.n_group * c.head_dim), scratch(c.n_group * c.n_kv);
    run(*set, args_for(c, d, out.data(), scratch.data()));
    for (int g = 0; g < c.n_group; ++g) {
      const AttnCase one{1, c.head_dim, c.n_kv, c.stride};
      Data dg = d;
      dg.q.assign(d.q.begin() + g * c.head_dim, d.q.begin() + (g + 1) * c.head_dim);
      std::vector<float> o1(c.head_dim), s1(c.n_kv);
      run(*set, args_for(one, dg, o1.data(), s1.data()));
      for (int k = 0; k < c.head_dim; ++k) {
        ASSERT_EQ(out[g * c.head_dim + k], o1[k]) << set->name << " g " << g << " d " << k;
      }
    }
  }
}

// One row: p = 1 exactly, so every head's out is the row's value v0(k) exactly, written in
// place over q.
template <class Data, class ArgsFor, class Run, class V0>
void ExpectOneRowReturnsItsValueInPlace(const AttnCase& c, const Data& d, ArgsFor args_for, Run run,
                                        V0 v0) {
  for (int i = 0; i < kNumIsas; ++i) {
    const KernelSet* set = GetKernelSet(static_cast<Isa>(i));
    if (!set) continue;
    std::vector<float> q = d.q, scratch(c.n_group);
    auto a = args_for(c, d, q.data(), scratch.data());
    a.q = q.data();  // in place
    run(*set, a);
    for (int g = 0; g < c.n_group; ++g) {
      for (int k = 0; k < c.head_dim; ++k) ASSERT_EQ(q[g * c.head_dim + k], v0(k)) << set->name;
    }
  }
}

// Truth in double with llama.cpp's roundings applied: q to f16, p to f16. Bound for the
// reference: scores carry <= 2u relative (f32 products of f16 values are exact; double sum;
// rounding to f32, times scale) -> |ds| <= 2u |s|; softmax moves p by <= p (2 max|ds| + 6u +
// u |s - max|); rounding p to f16 can then land one f16 ulp (2^-10 p, or 2^-24 when
// subnormal) away from the truth's; the f32 sum of n_kv terms adds n_kv u sum |p v|.
TEST(RefAttention, MatchesNaiveDouble) {
  std::mt19937 rng(10);
  const AttnCase cases[] = {{1, 64, 1, 64}, {2, 64, 37, 72}, {4, 128, 200, 128},
                            {7, 16, 5, 24}, {3, 8, 300, 9},  {1, 1, 3, 1}};
  for (const AttnCase& c : cases) {
    for (float q_scale : {1.0f, 8.0f}) {
      const AttnData d = MakeAttn(rng, c, q_scale);
      std::vector<float> out(c.n_group * c.head_dim), scratch(c.n_group * c.n_kv);
      ref::AttentionF16(ArgsFor(c, d, out.data(), scratch.data()));
      const double scale = 1.0 / std::sqrt(static_cast<float>(c.head_dim));
      for (int g = 0; g < c.n_group; ++g) {
        std::vector<double> s(c.n_kv), p(c.n_kv), tol_p(c.n_kv);
        double max = -INFINITY, max_ds = 0;
        for (int j = 0; j < c.n_kv; ++j) {
          double dot = 0;
          for (int i = 0; i < c.head_dim; ++i) {
            dot += static_cast<double>(HalfToFloat(FloatToHalf(d.q[g * c.head_dim + i]))) *
                   HalfToFloat(d.k[j * c.stride + i]);
          }
          s[j] = dot * static_cast<float>(scale);
          max = std::max(max, s[j]);
          max_ds = std::max(max_ds, 2.01 * kU * std::fabs(s[j]));
        }
        SoftmaxWithBound(s, max, max_ds, /*f16_p=*/true, &p, &tol_p);
        const auto v = [&](int j, int i) { return HalfToFloat(d.v[j * c.stride + i]); };
        ASSERT_NO_FATAL_FAILURE(ExpectWeightedSums(out.data() + g * c.head_dim, c.head_dim, p,
                                                   tol_p, v, c.n_kv, 0.0, g));
      }
    }
  }
}

const auto kRunF16 = [](const KernelSet& set, const AttentionArgs& a) { set.attention_f16(a); };
const auto kRunQ8 = [](const KernelSet& set, const AttentionQ8Args& a) { set.attention_q8_0(a); };

TEST(Attention, GroupEqualsHeadsOneByOne) {
  std::mt19937 rng(11);
  const AttnCase c{5, 40, 77, 48};
  ExpectGroupEqualsHeadsOneByOne(c, MakeAttn(rng, c, 2.0f), ArgsFor, kRunF16);
}

TEST(Attention, OneRowReturnsItsValueAndOutMayAliasQ) {
  std::mt19937 rng(12);
  const AttnCase c{3, 24, 1, 24};
  const AttnData d = MakeAttn(rng, c, 1.0f);
  ExpectOneRowReturnsItsValueInPlace(c, d, ArgsFor, kRunF16,
                                     [&](int k) { return HalfToFloat(d.v[k]); });
}

// --- attention over an 8-bit (Q8_0) cache ------------------------------------------------

struct AttnQ8Data {
  std::vector<float> q;
  std::vector<uint8_t> k, v;        // rows of c.stride bytes; padding and row n_kv: 0x7E
  std::vector<float> k_val, v_val;  // the rows as DequantizeRow gives them, [n_kv][head_dim]
};

// c.stride is in bytes here. 0x7E7E is an f16 NaN: reading a scale outside the rows poisons
// the result.
AttnQ8Data MakeAttnQ8(std::mt19937& rng, const AttnCase& c, float q_scale) {
  AttnQ8Data d;
  d.q = RandomFloats(rng, int64_t{c.n_group} * c.head_dim, -q_scale, q_scale);
  const size_t rows = static_cast<size_t>(c.n_kv) + 1;
  d.k.assign(rows * c.stride, 0x7E);
  d.v.assign(rows * c.stride, 0x7E);
  d.k_val.resize(static_cast<size_t>(c.n_kv) * c.head_dim);
  d.v_val.resize(static_cast<size_t>(c.n_kv) * c.head_dim);
  for (int j = 0; j < c.n_kv; ++j) {
    for (auto [bytes, vals] : {std::pair{&d.k, &d.k_val}, std::pair{&d.v, &d.v_val}}) {
      const std::vector<float> x = RandomFloats(rng, c.head_dim, -1.0f - j % 3, 1.0f + j % 3);
      ref::QuantizeRowQ8_0(x.data(), bytes->data() + j * c.stride, c.head_dim);
      ref::DequantizeRowQ8_0(bytes->data() + j * c.stride, vals->data() + j * c.head_dim, c.head_dim);
    }
  }
  return d;
}

AttentionQ8Args ArgsForQ8(const AttnCase& c, const AttnQ8Data& d, float* out, float* scratch) {
  AttentionQ8Args a{};
  a.q = d.q.data();
  a.k = d.k.data();
  a.v = d.v.data();
  a.kv_row_bytes = c.stride;
  a.n_group = c.n_group;
  a.head_dim = c.head_dim;
  a.n_kv = c.n_kv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  a.out = out;
  a.scratch = scratch;
  return a;
}

// Truth in double over the dequantized rows, q as given, no f16 rounding anywhere. Bound for
// the reference: each q * k product rounded to f32 (u sum |q k|), the double sum rounded to
// f32 and times scale (2u |s|); softmax moves p by <= p (2 max|ds| + 6u + u |s - max|); the
// f32 sum of n_kv rounded products adds (n_kv + 1) u sum |p v|.
TEST(RefAttentionQ8, MatchesNaiveDouble) {
  std::mt19937 rng(13);
  const AttnCase cases[] = {{1, 32, 1, 34},    {2, 64, 37, 68},  {4, 128, 200, 136},
                            {7, 32, 5, 40},    {3, 96, 300, 102}, {1, 256, 3, 272}};
  for (const AttnCase& c : cases) {
    for (float q_scale : {1.0f, 8.0f}) {
      const AttnQ8Data d = MakeAttnQ8(rng, c, q_scale);
      std::vector<float> out(c.n_group * c.head_dim), scratch(c.n_group * c.n_kv);
      ref::AttentionQ8_0(ArgsForQ8(c, d, out.data(), scratch.data()));
      const double scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      for (int g = 0; g < c.n_group; ++g) {
        std::vector<double> s(c.n_kv), p(c.n_kv), tol_p(c.n_kv);
        double max = -INFINITY, max_ds = 0;
        for (int j = 0; j < c.n_kv; ++j) {
          double dot = 0, mag = 0;
          for (int i = 0; i < c.head_dim; ++i) {
            const double t = static_cast<double>(d.q[g * c.head_dim + i]) * d.k_val[j * c.head_dim + i];
            dot += t;
            mag += std::fabs(t);
          }
          s[j] = dot * scale;
          max = std::max(max, s[j]);
          max_ds = std::max(max_ds, 2.01 * kU * std::fabs(s[j]) + 1.01 * kU * mag * scale);
        }
        SoftmaxWithBound(s, max, max_ds, /*f16_p=*/false, &p, &tol_p);
        const auto v = [&](int j, int i) { return d.v_val[j * c.head_dim + i]; };
        ASSERT_NO_FATAL_FAILURE(ExpectWeightedSums(out.data() + g * c.head_dim, c.head_dim, p,
                                                   tol_p, v, c.n_kv + 1, 1e-37, g));
      }
    }
  }
}

TEST(AttentionQ8, GroupEqualsHeadsOneByOne) {
  std::mt19937 rng(14);
  const AttnCase c{5, 64, 77, 70};
  ExpectGroupEqualsHeadsOneByOne(c, MakeAttnQ8(rng, c, 2.0f), ArgsForQ8, kRunQ8);
}

// The dequantized V row exactly.
TEST(AttentionQ8, OneRowReturnsItsValueAndOutMayAliasQ) {
  std::mt19937 rng(15);
  const AttnCase c{3, 96, 1, 102};
  const AttnQ8Data d = MakeAttnQ8(rng, c, 1.0f);
  ExpectOneRowReturnsItsValueInPlace(c, d, ArgsForQ8, kRunQ8, [&](int k) { return d.v_val[k]; });
}

}  // namespace
}  // namespace ondo::kernels
