// OQ2 (ondo's 2-bit type): the reference decoder and dot product against an independent
// decoding of the layout documented in blocks.h (in double), the quantizer's error against
// the known optimum of 2-bit scalar quantization and with importance weights, and every SIMD
// set's dot products and matrix tiles against the reference (random bit patterns, the
// largest scales and quants, misaligned rows that end at the end of their allocation).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/test_util.h"

namespace ondo::kernels {
namespace {

using testing::IsaName;
using testing::kU;
using testing::MakeQ8KBlock;
using testing::RandomFiniteHalf;
using testing::TightBuffer;

const KernelSet& Ref() { return *GetKernelSet(Isa::kScalar); }
constexpr DType kT = DType::kOQ2;
constexpr size_t kBs = sizeof(block_oq2);

// The layout as blocks.h describes it, decoded from raw bytes without the struct.
struct Parts {
  double d;
  int sc[8], g[8];
  int q[256];
};
Parts Decode(const unsigned char* p) {
  Parts o;
  uint16_t d16, grids;
  std::memcpy(&d16, p, 2);
  std::memcpy(&grids, p + 2, 2);
  o.d = HalfToFloat(d16);
  for (int j = 0; j < 8; ++j) {
    o.sc[j] = (p[4 + j % 4] >> (4 * (j / 4))) & 15;
    o.g[j] = (grids >> (4 * (j % 4) + 2 * (j / 4))) & 3;
  }
  for (int e = 0; e < 256; ++e) {
    o.q[e] = (p[8 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  }
  return o;
}
double Value(const Parts& b, int e) {
  const int j = e / 32;
  return b.d * b.sc[j] * kOq2Grid[b.g[j]][b.q[e]];
}



void RandomBlock(std::mt19937& rng, unsigned char* p) {
  for (size_t i = 0; i < kBs; ++i) p[i] = static_cast<unsigned char>(rng());
  const uint16_t d = RandomFiniteHalf(rng);
  std::memcpy(p, &d, 2);
}


std::vector<float> Gaussian(std::mt19937& rng, int64_t n, float outlier_every = 0) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = g(rng);
    if (outlier_every > 0 && rng() % static_cast<unsigned>(outlier_every) == 0) x[i] *= 8.0f;
  }
  return x;
}

// Sum over the row of |d_w d_x sc grid q|: the magnitude that bounds float rounding.
double Magnitude(int64_t n, const unsigned char* w, const unsigned char* x) {
  double m = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const Parts p = Decode(w + b * kBs);
    block_q8_K a;
    std::memcpy(&a, x + b * sizeof(block_q8_K), sizeof a);
    for (int e = 0; e < 256; ++e) m += std::fabs(Value(p, e) * a.d * a.qs[e]);
  }
  return m;
}

double ExactDot(int64_t n, const unsigned char* w, const unsigned char* x) {
  double s = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const Parts p = Decode(w + b * kBs);
    block_q8_K a;
    std::memcpy(&a, x + b * sizeof(block_q8_K), sizeof a);
    for (int e = 0; e < 256; ++e) s += Value(p, e) * a.d * a.qs[e];
  }
  return s;
}

TEST(Oq2Layout, TypeTable) {
  const TypeInfo& i = Info(kT);
  EXPECT_STREQ(i.name, "OQ2");
  EXPECT_EQ(i.block_size, 256);
  EXPECT_EQ(i.type_size, 72);  // 2.25 bits per weight
  EXPECT_TRUE(i.supported);
  EXPECT_EQ(i.vec_dot_type, DType::kQ8_K);
  EXPECT_TRUE(IsNativeType(kT));
  EXPECT_FALSE(IsNativeType(DType::kQ2_K));
  // Levels + the offset fit the unsigned bytes the kernels multiply.
  for (const auto& grid : kOq2Grid) {
    for (int8_t l : grid) {
      EXPECT_GE(l + kOq2Offset, 0);
      EXPECT_LT(l + kOq2Offset, 64);
    }
  }
}

TEST(Oq2Reference, DequantizeFollowsTheLayout) {
  std::mt19937 rng(1);
  for (int rep = 0; rep < 200; ++rep) {
    const int64_t nb = 1 + rep % 3;
    std::vector<unsigned char> w(nb * kBs);
    for (int64_t b = 0; b < nb; ++b) RandomBlock(rng, w.data() + b * kBs);
    std::vector<float> got(nb * 256);
    Ref().For(kT).dequantize_row(w.data(), got.data(), nb * 256);
    for (int64_t b = 0; b < nb; ++b) {
      const Parts p = Decode(w.data() + b * kBs);
      for (int e = 0; e < 256; ++e) {
        // d * sc * level: 11 + 4 + 5 significant bits, exact in float.
        ASSERT_EQ(static_cast<double>(got[b * 256 + e]), Value(p, e)) << rep << " " << e;
      }
    }
  }
}

TEST(Oq2Reference, VecDotMatchesTheDecodedValues) {
  std::mt19937 rng(2);
  for (int rep = 0; rep < 200; ++rep) {
    const int64_t nb = 1 + rep % 5;
    const int64_t n = nb * 256;
    std::vector<unsigned char> w(nb * kBs), x(nb * sizeof(block_q8_K));
    for (int64_t b = 0; b < nb; ++b) {
      RandomBlock(rng, w.data() + b * kBs);
      MakeQ8KBlock(rng, {}, 0.01f * static_cast<float>(1 + rng() % 100), x.data() + b * sizeof(block_q8_K));
    }
    const double want = ExactDot(n, w.data(), x.data());
    const float got = Ref().For(kT).vec_dot(n, w.data(), x.data());
    ASSERT_NEAR(got, want, 4.0 * (nb + 2) * kU * Magnitude(n, w.data(), x.data()) + 1e-30) << rep;
  }
}

// The best fixed-rate 4-level scalar quantizer of a unit Gaussian (Lloyd-Max) has mean squared
// error 0.1175; OQ2 adapts scale and grid per 32 values and pays for it with 4-bit scales.
TEST(Oq2Quantizer, GaussianErrorNearTheLloydMaxOptimum) {
  std::mt19937 rng(3);
  const int64_t n = 256 * 64;
  const std::vector<float> x = Gaussian(rng, n);
  std::vector<unsigned char> q(RowBytes(kT, n));
  QuantizeRow(kT, x.data(), q.data(), n);
  std::vector<float> y(n);
  DequantizeRow(kT, q.data(), y.data(), n);
  double err = 0, pow = 0;
  for (int64_t i = 0; i < n; ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    pow += x[i] * x[i];
  }
  const double rel = err / pow;
  EXPECT_LT(rel, 0.125);
  EXPECT_GT(rel, 0.08);  // a 2-bit code cannot be much better than the optimum
}

// Values OQ2 can represent exactly (every super-block with a sub-block at scale 15 that uses
// both end levels, so that d is found) come back exactly.
TEST(Oq2Quantizer, RepresentableRowsRoundTrip) {
  std::mt19937 rng(4);
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<unsigned char> w(kBs);
    RandomBlock(rng, w.data());
    const uint16_t d = 0x3000 + static_cast<uint16_t>(rng() % 0x400);  // 0.125 .. 0.25
    std::memcpy(w.data(), &d, 2);
    Parts p = Decode(w.data());
    // Sub-block 0 at scale 15, with both end levels of its grid; no zero scales.
    w[4] = static_cast<unsigned char>((w[4] & 0xF0) | 15);
    for (int j = 1; j < 8; ++j) {
      if (((w[4 + j % 4] >> (4 * (j / 4))) & 15) == 0) w[4 + j % 4] |= static_cast<unsigned char>(1 << (4 * (j / 4)));
    }
    w[8] = static_cast<unsigned char>(w[8] & ~3);         // element 0: index 0
    w[9] = static_cast<unsigned char>(w[9] | 3);          // element 1: index 3
    p = Decode(w.data());
    std::vector<float> x(256), y(256);
    for (int e = 0; e < 256; ++e) x[e] = static_cast<float>(Value(p, e));
    std::vector<unsigned char> q(kBs);
    QuantizeRow(kT, x.data(), q.data(), 256);
    DequantizeRow(kT, q.data(), y.data(), 256);
    double err = 0, pow = 0;
    for (int e = 0; e < 256; ++e) {
      err += (x[e] - y[e]) * (x[e] - y[e]);
      pow += x[e] * x[e];
    }
    EXPECT_LT(err, 1e-10 * pow) << rep;
  }
}

// Columns with a large importance get a smaller error than they do without the weights, and
// the importance-weighted error of the whole row drops.
TEST(Oq2Quantizer, ImportanceWeightsMoveTheErrorWhereTheyAreSmall) {
  std::mt19937 rng(5);
  const int64_t n = 256 * 16;
  std::vector<float> imatrix(n, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (rng() % 8 == 0) imatrix[i] = 50.0f;
  }
  double werr_plain = 0, werr_imatrix = 0;
  for (int row = 0; row < 16; ++row) {
    const std::vector<float> x = Gaussian(rng, n, 64);
    std::vector<unsigned char> a(RowBytes(kT, n)), b(RowBytes(kT, n));
    QuantizeRowWeighted(kT, x.data(), a.data(), n, nullptr);
    QuantizeRowWeighted(kT, x.data(), b.data(), n, imatrix.data());
    std::vector<float> ya(n), yb(n);
    DequantizeRow(kT, a.data(), ya.data(), n);
    DequantizeRow(kT, b.data(), yb.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      werr_plain += imatrix[i] * (x[i] - ya[i]) * (x[i] - ya[i]);
      werr_imatrix += imatrix[i] * (x[i] - yb[i]) * (x[i] - yb[i]);
    }
  }
  EXPECT_LT(werr_imatrix, 0.85 * werr_plain);
}

TEST(Oq2Quantizer, ZeroAndTinyAndHugeRows) {
  for (float scale : {0.0f, 1e-30f, 1e-8f, 1.0f, 1e4f}) {
    std::mt19937 rng(6);
    std::vector<float> x = Gaussian(rng, 512);
    for (float& v : x) v *= scale;
    std::vector<unsigned char> q(RowBytes(kT, 512));
    QuantizeRow(kT, x.data(), q.data(), 512);
    std::vector<float> y(512);
    DequantizeRow(kT, q.data(), y.data(), 512);
    double err = 0, pow = 0;
    for (int i = 0; i < 512; ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << scale;
      err += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
      pow += x[i] * static_cast<double>(x[i]);
    }
    if (scale == 0.0f) {
      EXPECT_EQ(err, 0.0);
    } else if (scale >= 1e-4f) {  // f16 d resolves these: the 2-bit error, not underflow
      EXPECT_LT(err, 0.15 * pow) << scale;
    } else {
      EXPECT_LE(err, 1.0001 * pow) << scale;  // underflows to zero at worst, never worse
    }
  }
}

// --- every SIMD set against the reference ------------------------------------------------

class Oq2SimdTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    set_ = GetKernelSet(GetParam());
    if (!set_) GTEST_SKIP() << "kernel set not built or not supported by this CPU";
  }
  const KernelSet* set_ = nullptr;
};

// kind 0: quantized Gaussian rows, 1: random bytes (finite d), 2: all 0xFF (largest scale and
// levels) with d 1 or 65504, 3: all zero.
void FillWeights(std::mt19937& rng, int kind, int64_t n, unsigned char* row) {
  if (kind == 0) {
    const std::vector<float> f = Gaussian(rng, n, 50);
    ref::QuantizeRowOQ2(f.data(), row, n);
    return;
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    unsigned char* p = row + b * kBs;
    if (kind == 1) {
      RandomBlock(rng, p);
    } else if (kind == 2) {
      std::memset(p, 0xFF, kBs);
      const uint16_t d = b % 2 ? 0x7BFF : 0x3C00;
      std::memcpy(p, &d, 2);
    } else {
      std::memset(p, 0, kBs);
    }
  }
}

void FillActivations(std::mt19937& rng, int kind, int64_t n, unsigned char* row) {
  if (kind == 0) {
    const std::vector<float> f = Gaussian(rng, n);
    ref::QuantizeRowQ8_K(f.data(), row, n);
    return;
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    MakeQ8KBlock(rng, kind == 1 ? std::vector<int>{} : std::vector<int>{-127, 127},
                 0.01f * static_cast<float>(1 + rng() % 100), row + b * sizeof(block_q8_K));
  }
}

double Tolerance(int64_t n, const unsigned char* w, const unsigned char* x) {
  return 4.0 * (2.0 * static_cast<double>(n / 256) + 16) * kU * Magnitude(n, w, x) + 1e-30;
}

TEST_P(Oq2SimdTest, VecDotMatchesReference) {
  std::mt19937 rng(8);
  for (int64_t nb : {1, 2, 3, 7, 11, 24}) {
    const int64_t n = nb * 256;
    const size_t wbytes = RowBytes(kT, n), xbytes = RowBytes(DType::kQ8_K, n);
    for (int wk = 0; wk < 4; ++wk) {
      for (int xk = 0; xk < 3; ++xk) {
        const size_t woff = (nb * 7 + wk * 13 + xk) % 64, xoff = (woff * 29 + 3) % 64;
        TightBuffer w(wbytes, woff), x(xbytes, xoff);
        FillWeights(rng, wk, n, w.data());
        FillActivations(rng, xk, n, x.data());
        const float want = Ref().For(kT).vec_dot(n, w.data(), x.data());
        const float got = set_->For(kT).vec_dot(n, w.data(), x.data());
        ASSERT_NEAR(got, want, Tolerance(n, w.data(), x.data())) << "nb " << nb << " weights " << wk << " acts " << xk;
        float y = -1.0f;
        set_->For(kT).mat_mul(w.data(), 0, 0, 1, n, x.data(), 0, 1, &y, 1);
        ASSERT_NEAR(y, want, Tolerance(n, w.data(), x.data()));
      }
    }
  }
}

// d = 1 and d_x = 1: every term is an integer and, in one super-block, the sum of magnitudes
// stays below 2^24 (at most 15 * 32 * 128 * 256 = 15.7M), so every kernel returns exactly the
// reference's value, whatever its order of summation. Two super-blocks when the activations
// are random (their sum stays far below 2^24), to cover the sum over blocks.
TEST_P(Oq2SimdTest, IntegerScalesAreExact) {
  std::mt19937 rng(9);
  for (int rep = 0; rep < 60; ++rep) {
    const int64_t nb = rep % 3 == 1 && rep >= 20 ? 2 : 1;
    const int64_t n = nb * 256;
    TightBuffer w(RowBytes(kT, n), rep % 64), x(RowBytes(DType::kQ8_K, n), (rep * 7) % 64);
    for (int64_t b = 0; b < nb; ++b) {
      unsigned char* p = w.data() + b * kBs;
      if (rep % 3 == 0) {
        std::memset(p, 0xFF, kBs);
      } else {
        RandomBlock(rng, p);
      }
      const uint16_t one = 0x3C00;
      std::memcpy(p, &one, 2);
      const std::vector<int> vals = rep % 3 == 1   ? std::vector<int>{}
                                    : rep % 3 == 2 ? std::vector<int>{-127, 127}
                                                   : std::vector<int>{-128, 127, -128};
      MakeQ8KBlock(rng, vals, 1.0f, x.data() + b * sizeof(block_q8_K));
    }
    ASSERT_LT(Magnitude(n, w.data(), x.data()), 0x1p24) << rep;
    const float want = Ref().For(kT).vec_dot(n, w.data(), x.data());
    ASSERT_EQ(static_cast<double>(want), ExactDot(n, w.data(), x.data()));
    ASSERT_EQ(set_->For(kT).vec_dot(n, w.data(), x.data()), want) << rep;
  }
}

// Matrix tiles: rows r0..r1 of several widths (panels of 8 / 16 rows and remainders), token
// counts on both sides of the panel threshold, row strides larger than a row.
TEST_P(Oq2SimdTest, MatMulMatchesReference) {
  std::mt19937 rng(10);
  for (int64_t nb : {1, 6, 11}) {
    const int64_t k = nb * 256;
    for (int rows : {1, 5, 16, 19, 35}) {
      for (int n_tok : {1, 2, 7, 8, 9, 17}) {
        const size_t wrb = RowBytes(kT, k) + (rows % 2 ? 0 : 8);
        const size_t xrb = RowBytes(DType::kQ8_K, k) + (n_tok % 2 ? 0 : 4);
        TightBuffer w(wrb * rows, 3), x(xrb * n_tok, 5);
        for (int r = 0; r < rows; ++r) FillWeights(rng, r % 5 == 4 ? 1 : 0, k, w.data() + r * wrb);
        for (int t = 0; t < n_tok; ++t) FillActivations(rng, t % 3, k, x.data() + t * xrb);
        const int64_t r0 = rows > 4 ? 1 : 0;
        const int64_t stride = rows + 3;
        std::vector<float> want(stride * n_tok, -7.0f), got(stride * n_tok, -7.0f);
        Ref().For(kT).mat_mul(w.data(), wrb, r0, rows, k, x.data(), xrb, n_tok, want.data(), stride);
        set_->For(kT).mat_mul(w.data(), wrb, r0, rows, k, x.data(), xrb, n_tok, got.data(), stride);
        for (int t = 0; t < n_tok; ++t) {
          for (int64_t r = 0; r < stride; ++r) {
            const size_t i = t * stride + r;
            if (r < r0 || r >= rows) {
              ASSERT_EQ(got[i], -7.0f) << "wrote outside its rows: r " << r << " t " << t;
              continue;
            }
            const double tol = Tolerance(k, w.data() + r * wrb, x.data() + t * xrb);
            ASSERT_NEAR(got[i], want[i], tol) << "k " << k << " rows " << rows << " tokens " << n_tok << " r " << r << " t " << t;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Oq2, Oq2SimdTest, ::testing::ValuesIn(kSimdIsas), IsaName);

}  // namespace
}  // namespace ondo::kernels
