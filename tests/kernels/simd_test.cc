// Every kernel of every SIMD set (AVX2, AVX-512, NEON) against the scalar reference, over sizes
// 0..2N and misaligned rows, with tolerances derived from the arithmetic. Sets the CPU
// cannot run are skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "platform/thread_pool.h"
#include "tests/kernels/test_util.h"
#if ONDO_KERNELS_X86
#include "kernels/x86/x86.h"
#endif
#if ONDO_KERNELS_ARM
#include "kernels/arm/arm.h"
#endif

namespace ondo::kernels {
namespace {

using testing::IsaName;
using testing::Buffer;
using testing::kU;
using testing::RandomFloats;

const KernelSet& Ref() { return *GetKernelSet(Isa::kScalar); }

class SimdTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    set_ = GetKernelSet(GetParam());
    if (!set_) GTEST_SKIP() << "kernel set not built or not supported by this CPU";
  }
  const KernelSet* set_ = nullptr;
};

// Sizes 0..2N (all of them) plus a few large and odd ones. N = 64 covers two full passes of
// the widest unrolled float loop (4 rows x 16 lanes) and every tail length.
std::vector<int64_t> FloatSizes() {
  std::vector<int64_t> n;
  for (int64_t i = 0; i <= 128; ++i) n.push_back(i);
  for (int64_t i : {255, 256, 257, 1000, 4097}) n.push_back(i);
  return n;
}
// Multiples of the Q8_0 block, 0..2N with N = 256 (8 blocks), plus a long row.
std::vector<int64_t> Q8Sizes() {
  std::vector<int64_t> n;
  for (int64_t i = 0; i <= 512; i += 32) n.push_back(i);
  n.push_back(4096);
  return n;
}

// Random values with some structure: exact ties for the quantizers, a zero stretch, and
// a spread of magnitudes.
std::vector<float> TestValues(std::mt19937& rng, int64_t n) {
  std::vector<float> x = RandomFloats(rng, n, -2.0f, 2.0f);
  for (int64_t i = 0; i < n; ++i) {
    switch (i % 11) {
      case 3:
        x[i] = std::round(x[i] * 100.0f) / 4.0f;
        break;  // quarter steps: .5 ties
      case 7:
        x[i] *= 1e-3f;
        break;
      default:
        break;
    }
  }
  for (int64_t i = 64; i < std::min<int64_t>(n, 96); ++i) x[i] = 0.0f;  // an all-zero block
  return x;
}

// --- quantize / dequantize: bit-identical ------------------------------------------------

TEST_P(SimdTest, QuantizeRowF16IsBitIdentical) {
  std::mt19937 rng(21);
  for (int64_t n : FloatSizes()) {
    std::vector<float> xs = TestValues(rng, n + 16);
    const float specials[] = {INFINITY, -INFINITY, std::nanf(""), -std::nanf("0x123"),
                              65519.0f, 65520.0f,  1e-8f,         -3e-5f,
                              6.1e-5f,  1e30f};
    for (int64_t i = 0; i < std::min<int64_t>(n, 10); ++i)
      xs[i * 7 % std::max<int64_t>(n, 1)] = specials[i];
    for (size_t out_off : {size_t{0}, static_cast<size_t>(1 + n % 63)}) {
      const float* x = xs.data() + n % 16;
      Buffer want(2 * n, out_off), got(2 * n, out_off);
      Ref().For(DType::kF16).quantize_row(x, want.data(), n);
      set_->For(DType::kF16).quantize_row(x, got.data(), n);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), 2 * n), 0) << "n " << n;
      ASSERT_TRUE(got.GuardIntact()) << "n " << n;
    }
  }
}

TEST_P(SimdTest, QuantizeRowQ8_0IsBitIdentical) {
  std::mt19937 rng(22);
  for (int64_t n : Q8Sizes()) {
    // 1e-38 and 1e-40: subnormal scales d, whose inverse overflows to inf.
    for (float scale : {1.0f, 127.0f / 2.0f, 1e-20f, 3e4f, 1e-38f, 1e-40f}) {
      std::vector<float> xs = TestValues(rng, n + 16);
      for (float& v : xs) v *= scale;
      // A block with max 127: d = 1, so x * id = x and the quarter steps are exact ties.
      if (n >= 64) {
        for (int j = 0; j < 32; ++j) xs[32 + j] = std::round(xs[32 + j] * 100.0f) / 4.0f;
        xs[32] = 127.0f;
      }
      const float* x = xs.data() + (n / 32) % 16;
      const size_t bytes = RowBytes(DType::kQ8_0, n);
      for (size_t off = 0; off < 64; off += 1 + off / 4) {
        Buffer want(bytes, off), got(bytes, off);
        Ref().For(DType::kQ8_0).quantize_row(x, want.data(), n);
        set_->For(DType::kQ8_0).quantize_row(x, got.data(), n);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), bytes), 0) << "n " << n << " off " << off;
        ASSERT_TRUE(got.GuardIntact());
      }
    }
  }
}

TEST_P(SimdTest, DequantizeRowsAreBitIdentical) {
  std::mt19937 rng(23);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    for (int64_t n : (t == DType::kQ8_0 ? Q8Sizes() : FloatSizes())) {
      const std::vector<float> x = TestValues(rng, n);
      const size_t bytes = RowBytes(t, n);
      Buffer row(bytes, static_cast<size_t>(n % 64));
      Ref().For(t).quantize_row(x.data(), row.data(), n);
      std::vector<float> want(n + 1, 5.0f), got(n + 1, 5.0f);
      Ref().For(t).dequantize_row(row.data(), want.data(), n);
      set_->For(t).dequantize_row(row.data(), got.data(), n);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), (n + 1) * sizeof(float)), 0)
          << Info(t).name << " n " << n;
    }
  }
}

// --- dot products and matmul ------------------------------------------------------------------

// Float types. P = sum |w_i x_i| over exact products (f16 x f16 and bf16 x bf16 products are
// exact in f32; f32 x f32 ones are exact in the FMA). The reference is within 2u P of the
// exact sum (one rounding per product, a double sum, one final rounding). The SIMD kernels
// sum each lane with FMAs, then reduce lanes and add a scalar tail: every term goes through
// at most n/8 + 3 + 2*7 roundings, so they are within gamma_m P, m <= n + 17
// (Higham, Accuracy and Stability, 3.1). Hence |simd - ref| <= (n + 20) u P.
double FloatDotTolerance(DType t, int64_t n, const void* w, const void* x) {
  const std::vector<double> wv = testing::RowValues(t, w, n), xv = testing::RowValues(t, x, n);
  double p = 0;
  for (int64_t i = 0; i < n; ++i) p += std::fabs(wv[i] * xv[i]);
  return 1.01 * static_cast<double>(n + 20) * kU * p + 1e-37;
}

// Q8_0: block sums are exact integers (in every lane) and D_b = fl(d_w d_x) is computed the
// same way everywhere, so only the f32 accumulation of the per-block (per-lane) terms
// differs: both are within gamma_{nb+4} Q of the exact sum, Q = sum_b |D_b| sum_j |qw qx|.
double Q8DotTolerance(int64_t n, const void* w, const void* x) {
  double q = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    block_q8_0 bw, bx;
    std::memcpy(&bw, static_cast<const unsigned char*>(w) + b * 34, 34);
    std::memcpy(&bx, static_cast<const unsigned char*>(x) + b * 34, 34);
    const double d = HalfToFloat(bw.d) * HalfToFloat(bx.d);
    int64_t s = 0;
    for (int j = 0; j < 32; ++j) s += std::abs(bw.qs[j] * bx.qs[j]);
    q += std::fabs(d) * static_cast<double>(s);
  }
  return 2.02 * static_cast<double>(n / 32 + 8) * kU * q + 1e-37;
}

double DotTolerance(DType t, int64_t n, const void* w, const void* x) {
  return t == DType::kQ8_0 ? Q8DotTolerance(n, w, x) : FloatDotTolerance(t, n, w, x);
}

TEST_P(SimdTest, VecDotMatchesReference) {
  std::mt19937 rng(24);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    for (int64_t n : (t == DType::kQ8_0 ? Q8Sizes() : FloatSizes())) {
      const std::vector<float> wf = TestValues(rng, n), xf = TestValues(rng, n);
      const size_t bytes = RowBytes(t, n);
      // Every byte misalignment 0..63 for the weight row, a co-prime walk for x.
      for (size_t off = 0; off < 64; ++off) {
        Buffer w(bytes, off), x(bytes, (off * 29 + 3) % 64);
        Ref().For(t).quantize_row(wf.data(), w.data(), n);
        Ref().For(t).quantize_row(xf.data(), x.data(), n);
        const float want = Ref().For(t).vec_dot(n, w.data(), x.data());
        const float got = set_->For(t).vec_dot(n, w.data(), x.data());
        ASSERT_NEAR(got, want, DotTolerance(t, n, w.data(), x.data()))
            << Info(t).name << " n " << n << " off " << off;
        if (n > 40 && off > 4) break;  // all offsets for the short rows, a few for long ones
      }
    }
  }
}

// Extreme quants: weights anywhere in [-128, 127] (a GGUF file may hold -128), activations
// in [-127, 127] (what QuantizeRow produces), with d = 1: the block sums must be exact, and
// they are small integers, so every kernel must return exactly the reference's value.
TEST_P(SimdTest, VecDotQ8_0ExtremeQuantsAreExact) {
  std::mt19937 rng(28);
  const int8_t w_vals[] = {-128, -127, 127, -1, 0, 1, 100};
  const int8_t x_vals[] = {-127, 127, -1, 0, 1, -100};
  for (int64_t nb : {1, 2, 7, 16}) {
    std::vector<block_q8_0> w(nb), x(nb);
    for (int64_t b = 0; b < nb; ++b) {
      w[b].d = x[b].d = 0x3C00;  // 1.0
      for (int j = 0; j < 32; ++j) {
        w[b].qs[j] = w_vals[rng() % 7];
        x[b].qs[j] = x_vals[rng() % 6];
      }
    }
    if (nb == 1) {  // the saturation corner of 16-bit pair sums: 2 * 128 * 127
      for (int j = 0; j < 32; ++j) {
        w[0].qs[j] = -128;
        x[0].qs[j] = -127;
      }
    }
    const float want = Ref().For(DType::kQ8_0).vec_dot(nb * 32, w.data(), x.data());
    EXPECT_EQ(set_->For(DType::kQ8_0).vec_dot(nb * 32, w.data(), x.data()), want) << nb;
    float y = 0;
    set_->For(DType::kQ8_0).mat_mul(w.data(), 0, 0, 1, nb * 32, x.data(), 0, 1, &y, 1);
    EXPECT_EQ(y, want) << nb;
  }
}

TEST_P(SimdTest, MatMulMatchesReference) {
  std::mt19937 rng(25);
  const std::vector<int64_t> float_k = {0, 1, 7, 8, 9, 15, 16, 17, 33, 64, 100, 129, 259};
  const std::vector<int64_t> q8_k = {0, 32, 64, 96, 160, 512};
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    for (int64_t k : (t == DType::kQ8_0 ? q8_k : float_k)) {
      const size_t row = RowBytes(t, k);
      const int64_t max_rows = 19 + 3;
      const int max_tok = 9;
      // Rows and tokens are not packed: odd padding misaligns every row differently.
      const size_t wrb = row + 5, xrb = row + 3;
      Buffer w(wrb * max_rows, static_cast<size_t>(k % 61)), x(xrb * max_tok, 7);
      for (int64_t r = 0; r < max_rows; ++r) {
        const std::vector<float> f = TestValues(rng, k);
        Ref().For(t).quantize_row(f.data(), w.data() + r * wrb, k);
      }
      for (int tok = 0; tok < max_tok; ++tok) {
        const std::vector<float> f = TestValues(rng, k);
        Ref().For(t).quantize_row(f.data(), x.data() + tok * xrb, k);
      }
      for (int64_t r0 : {0, 3}) {
        for (int64_t nr = 0; nr <= 19; ++nr) {
          for (int n_tok = 1; n_tok <= max_tok; ++n_tok) {
            const int64_t r1 = r0 + nr;
            const auto tol = [&](int64_t r, int tok) {
              return DotTolerance(t, k, w.data() + r * wrb, x.data() + tok * xrb);
            };
            ASSERT_NO_FATAL_FAILURE(testing::ExpectMatMulMatchesRef(
                *set_, t, k, w.data(), wrb, x.data(), xrb, r0, r1, n_tok, tol));
          }
        }
      }
    }
  }
}

// The NEON decode kernels take 4 rows against the token with the operands' roles swapped
// (kernels/arm/neon.cc); products and scales are commutative, so each row's value is the one
// VecDot gives, bit for bit. (The x86 sets' one-row decode kernels use more accumulators than
// their VecDot and agree only within rounding, as the test above checks.)
TEST_P(SimdTest, NeonDecodeEqualsVecDotBitForBit) {
  if (GetParam() != Isa::kNeon && GetParam() != Isa::kNeonDot) GTEST_SKIP() << "NEON sets only";
  std::mt19937 rng(43);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    for (int64_t k : {int64_t{32}, int64_t{96}, int64_t{1536}}) {
      const size_t row = RowBytes(t, k);
      const int64_t rows = 11;
      const size_t wrb = row + 3;
      Buffer w(wrb * rows, 1), x(row, 2);
      for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> f = TestValues(rng, k);
        Ref().For(t).quantize_row(f.data(), w.data() + r * wrb, k);
      }
      const std::vector<float> f = TestValues(rng, k);
      Ref().For(t).quantize_row(f.data(), x.data(), k);
      std::vector<float> y(rows, -7.0f);
      set_->For(t).mat_mul(w.data(), wrb, 1, rows, k, x.data(), row, 1, y.data(), 1);
      EXPECT_EQ(y[0], -7.0f);
      for (int64_t r = 1; r < rows; ++r) {
        ASSERT_EQ(y[r], set_->For(t).vec_dot(k, w.data() + r * wrb, x.data()))
            << Info(t).name << " k " << k << " row " << r;
      }
    }
  }
}

// Q8_0 blocks of random bytes (finite random scales): weights anywhere in [-128, 127],
// activations in [-128, 127] for AVX-512 (exact for every int8 pair) and [-127, 127] for
// AVX2 (what QuantizeRow produces). Shapes that reach the tiled kernels' remainders: row
// counts 1..19 at r0 0 and 3, every token count 1..9 and 17 (more than one 16-token panel),
// block counts that leave 1..3 blocks in the last group of 4, k past one activation chunk
// (48 blocks for a panel of 16 tokens, 768 for one token) and more rows than one band; for
// the 16-row prefill panels: odd block counts, 16-block chunks, more than 4 panels per call.
void FillQ8Blocks(std::mt19937& rng, unsigned char* p, int64_t nb, int lo) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  for (int64_t b = 0; b < nb; ++b) {
    block_q8_0 blk;
    blk.d = FloatToHalf(d(rng) * (b % 5 == 4 ? 1e-3f : 1.0f));
    for (int j = 0; j < 32; ++j) {
      blk.qs[j] = static_cast<int8_t>(lo + static_cast<int>(rng() % static_cast<unsigned>(128 - lo)));
    }
    std::memcpy(p + b * sizeof(block_q8_0), &blk, sizeof(blk));
  }
}

TEST_P(SimdTest, MatMulQ8_0RandomBlocksMatchReference) {
  std::mt19937 rng(31);
  const int x_lo = GetParam() == Isa::kAvx2 ? -127 : -128;  // AVX2 maddubs: see x86.h
  struct Case {
    int64_t nb, r0, n_rows;
    std::vector<int> toks;
  };
  std::vector<Case> cases;
  for (int64_t nb : {1, 2, 3, 4, 5, 7, 9, 50}) {
    cases.push_back({nb, 0, 19, {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}});
    cases.push_back({nb, 3, 19, {1, 7, 17}});
  }
  cases.push_back({50, 3, 330, {17, 33}});  // two chunks; several bands of rows
  // AVX-512 prefill panels of 16 rows, unpacked 4 at a time and taken 2 at a time: 3 panels
  // (a pair, one alone) and 5 (two pairs, then a group of one), then the row kernels.
  cases.push_back({9, 0, 53, {8, 9, 17}});
  cases.push_back({5, 3, 83, {8, 12, 13}});
  cases.push_back({771, 1, 9, {1, 2}});     // decode: past one 768-block chunk
  for (const Case& c : cases) {
    const int64_t k = c.nb * 32;
    const size_t row = RowBytes(DType::kQ8_0, k);
    const size_t wrb = row + 3, xrb = row + 5;  // misaligned rows
    const int64_t rows = c.r0 + c.n_rows;
    const int max_tok = 33;
    Buffer w(wrb * rows, 1), x(xrb * max_tok, 2);
    for (int64_t r = 0; r < rows; ++r) FillQ8Blocks(rng, w.data() + r * wrb, c.nb, -128);
    for (int t = 0; t < max_tok; ++t) FillQ8Blocks(rng, x.data() + t * xrb, c.nb, x_lo);
    for (int n_tok : c.toks) {
      for (int64_t nr = (c.n_rows > 19 ? c.n_rows : 1); nr <= c.n_rows; ++nr) {
        const int64_t r1 = c.r0 + nr;
        const auto tol = [&](int64_t r, int tok) {
          return Q8DotTolerance(k, w.data() + r * wrb, x.data() + tok * xrb);
        };
        ASSERT_NO_FATAL_FAILURE(testing::ExpectMatMulMatchesRef(
            *set_, DType::kQ8_0, k, w.data(), wrb, x.data(), xrb, c.r0, r1, n_tok, tol, 1));
      }
    }
    const float want = Ref().For(DType::kQ8_0).vec_dot(k, w.data(), x.data());
    ASSERT_NEAR(set_->For(DType::kQ8_0).vec_dot(k, w.data(), x.data()), want,
                Q8DotTolerance(k, w.data(), x.data()))
        << "nb " << c.nb;
  }
}

// A decode call inside a ThreadPool run of several threads (platform::ParallelThreads() > 1:
// the AVX-512 kernel then streams with the shared-bandwidth prefetch distance, tile_driver.h)
// gives the same bits as the call alone, each thread taking its own rows.
TEST_P(SimdTest, MatMulQ8_0DecodeInAPoolRunEqualsAlone) {
  std::mt19937 rng(32);
  const int64_t nb = 50, rows = 64, k = nb * 32;  // 12 full groups of 4 blocks and a tail of 2
  const size_t wrb = RowBytes(DType::kQ8_0, k);
  Buffer w(wrb * rows, 1), x(wrb, 2);
  for (int64_t r = 0; r < rows; ++r) FillQ8Blocks(rng, w.data() + r * wrb, nb, -128);
  FillQ8Blocks(rng, x.data(), nb, GetParam() == Isa::kAvx2 ? -127 : -128);
  const MatMulFn mm = set_->For(DType::kQ8_0).mat_mul;
  std::vector<float> alone(rows), pooled(rows, -99.0f);
  mm(w.data(), wrb, 0, rows, k, x.data(), wrb, 1, alone.data(), rows);
  platform::ThreadPool pool(2);
  std::vector<int> threads_seen(2);
  pool.ParallelFor(2, [&](int task, int) {
    threads_seen[task] = platform::ParallelThreads();
    mm(w.data(), wrb, task * rows / 2, (task + 1) * rows / 2, k, x.data(), wrb, 1, pooled.data(),
       rows);
  });
  EXPECT_EQ(threads_seen[0], 2);
  EXPECT_EQ(threads_seen[1], 2);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(pooled[r], alone[r]) << "row " << r;
}

// --- softmax ---------------------------------------------------------------------------------

// Same max and same shifted arguments as the reference; the exponential differs by at most
// 3 ulp (vectorised exp <= 2 ulp, expf <= 1 ulp; 1 ulp <= 2u relative) = 6u; the double sum
// by the same 6u relative; 1/sum and the product round once each in both (4u): <= 16u p.
TEST_P(SimdTest, SoftmaxMatchesReference) {
  std::mt19937 rng(26);
  for (int64_t n : FloatSizes()) {
    std::vector<float> x = RandomFloats(rng, n, -30.0f, 30.0f);
    if (n > 5) x[n / 2] = x[n / 3] = -INFINITY;  // masked positions
    std::vector<float> want = x, got = x;
    Ref().softmax(want.data(), n);
    set_->softmax(got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[i], 16 * kU * want[i] + 1e-45) << "n " << n << " i " << i;
    }
  }
}

// g / (1 + e^-g) * u with an exponential 2 ulp from the reference's expf (itself <= 1 ulp):
// 1 + e differs by <= 3u relative, the quotient and product round once more each: <= 6u, and
// the zero/sign cases (g = 0, huge |g|, e^-g overflowing to inf) are exact.
TEST_P(SimdTest, SwiGluMatchesReference) {
  std::mt19937 rng(27);
  for (int64_t n : FloatSizes()) {
    std::vector<float> g = RandomFloats(rng, n, -20.0f, 20.0f);
    std::vector<float> u = RandomFloats(rng, n, -4.0f, 4.0f);
    if (n > 6) {
      g[0] = 0.0f;
      g[1] = -200.0f;  // e^200 = inf: -200 / inf = -0
      g[2] = 200.0f;
      g[3] = -90.0f;
    }
    std::vector<float> want(n), got(n);
    Ref().swiglu(g.data(), u.data(), want.data(), n);
    set_->swiglu(g.data(), u.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[i], 6 * kU * std::fabs(want[i]) + 1e-45)
          << "n " << n << " g " << g[i];
    }
  }
}

#if ONDO_KERNELS_X86 || ONDO_KERNELS_ARM
// The vectorised exp against exp in double: <= 2 ulp where the result is normal, <= 1
// subnormal step (2^-149) below.
TEST_P(SimdTest, ExpIsWithinTwoUlp) {
#if ONDO_KERNELS_X86
  auto exp_fn = GetParam() == Isa::kAvx2 ? avx2::ExpF32 : avx512::ExpF32;
#else
  auto exp_fn = GetParam() == Isa::kNeon ? neon::ExpF32 : neondot::ExpF32;
#endif
  std::vector<float> x;
  for (float v = -103.5f; v < 88.7f; v += 0.00731f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-10f, -1e-10f, 88.72f, -87.3f}) x.push_back(v);
  std::vector<float> y(x.size());
  exp_fn(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst_ulp = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double truth = std::exp(static_cast<double>(x[i]));
    const float t = static_cast<float>(truth);
    if (t >= 0x1p-126f) {
      const double ulp = std::nextafter(t, INFINITY) - t;
      const double err_ulp = std::fabs(y[i] - truth) / ulp;
      worst_ulp = std::max(worst_ulp, err_ulp);
      ASSERT_LE(err_ulp, 2.0) << "x " << x[i];
    } else {
      ASSERT_LE(std::fabs(y[i] - truth), 0x1p-149) << "x " << x[i];
    }
  }
  RecordProperty("worst_ulp", std::to_string(worst_ulp));
  // Out of range: overflow to inf, underflow to 0 (also for -inf), NaN stays NaN.
  const float edge[] = {100.0f, 1e30f, -200.0f, -INFINITY, INFINITY, NAN};
  float out[6];
  exp_fn(edge, out, 6);
  EXPECT_EQ(out[0], INFINITY);
  EXPECT_EQ(out[1], INFINITY);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_TRUE(std::isnan(out[5]));
}
#endif

// --- attention -------------------------------------------------------------------------------

struct AttnShape {
  int n_group, head_dim, n_kv;
  int64_t stride;
};

// Tolerance per output element, from the exact (double) scores s_j of the f16-rounded q:
// - scores: reference within 2u|s| of exact; SIMD within (hd + 20) u scale sum_i |q_i k_ji|
//   (as the dot products above), so the two differ by delta_j <= the sum of both;
// - softmax: shifting every score by <= delta = max_j delta_j moves p_j by <= p_j(e^{2 delta}
//   - 1) ~ 2.01 delta p_j; the kernels' own softmax arithmetic differs by <= 16u p_j; the
//   shifted arguments s_j - max (if the max differs) by u |s_j - max| each, twice;
// - f16 rounding of p: the two can land one f16 ulp apart: <= 2^-10 p_j (2^-24 if subnormal);
// - out: both sum n_kv terms in f32, <= (n_kv + 4) u sum_j |p_j v_j| each.
std::vector<double> AttnTolerance(const AttnShape& c, const std::vector<float>& q,
                                  const uint16_t* k, const uint16_t* v, float scale) {
  std::vector<double> tol(static_cast<size_t>(c.n_group) * c.head_dim, 0.0);
  for (int g = 0; g < c.n_group; ++g) {
    std::vector<double> s(c.n_kv);
    double max = -INFINITY, delta = 0;
    for (int j = 0; j < c.n_kv; ++j) {
      double dot = 0, mag = 0;
      for (int i = 0; i < c.head_dim; ++i) {
        const double p = static_cast<double>(HalfToFloat(FloatToHalf(q[g * c.head_dim + i]))) *
                         HalfToFloat(k[j * c.stride + i]);
        dot += p;
        mag += std::fabs(p);
      }
      s[j] = dot * scale;
      max = std::max(max, s[j]);
      delta = std::max(delta,
                       2.01 * kU * std::fabs(s[j]) + 1.01 * (c.head_dim + 20) * kU * mag * scale);
    }
    double z = 0;
    for (int j = 0; j < c.n_kv; ++j) z += std::exp(s[j] - max);
    for (int j = 0; j < c.n_kv; ++j) {
      const double p = std::exp(s[j] - max) / z;
      const double dp =
          p * (2.02 * delta + 16 * kU + 2 * kU * std::fabs(s[j] - max) + 0x1p-10) + 0x1p-24;
      for (int i = 0; i < c.head_dim; ++i) {
        const double vj = std::fabs(HalfToFloat(v[j * c.stride + i]));
        tol[g * c.head_dim + i] += dp * vj + 2.02 * (c.n_kv + 4) * kU * (p + dp) * vj;
      }
    }
  }
  for (double& t : tol) t += 1e-37;
  return tol;
}

TEST_P(SimdTest, AttentionMatchesReference) {
  std::mt19937 rng(27);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int case_no = 0;
  for (int n_group : {1, 2, 3, 4, 5, 8, 9, 12}) {
    for (int head_dim : {1, 7, 8, 16, 24, 40, 64, 80, 128, 130}) {
      for (int n_kv : {0, 1, 2, 7, 33, 300}) {
        ++case_no;
        const AttnShape c{n_group, head_dim, n_kv, head_dim + (case_no % 2) * 3};
        const size_t k_off = case_no % 32, q_off = case_no % 16;  // elements: misaligned rows
        std::vector<uint16_t> kbuf(k_off + (n_kv + 1) * c.stride, 0x7E00),
            vbuf(k_off + (n_kv + 1) * c.stride, 0x7E00);
        for (int j = 0; j < n_kv; ++j) {
          for (int i = 0; i < head_dim; ++i) {
            kbuf[k_off + j * c.stride + i] = FloatToHalf(dist(rng));
            vbuf[k_off + j * c.stride + i] = FloatToHalf(dist(rng));
          }
        }
        const float q_scale = case_no % 3 == 0 ? 6.0f : 1.0f;
        const std::vector<float> q =
            RandomFloats(rng, int64_t{n_group} * head_dim, -q_scale, q_scale);
        std::vector<float> qbuf(q_off + q.size()), want(q_off + q.size(), -5.0f),
            got(q_off + q.size() + 1, -5.0f);
        std::copy(q.begin(), q.end(), qbuf.begin() + q_off);
        std::vector<float> s_want(n_group * n_kv + 1), s_got(n_group * n_kv + 1);
        AttentionArgs a{};
        a.q = qbuf.data() + q_off;
        a.k = kbuf.data() + k_off;
        a.v = vbuf.data() + k_off;
        a.kv_row_stride = c.stride;
        a.n_group = n_group;
        a.head_dim = head_dim;
        a.n_kv = n_kv;
        a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        a.out = want.data() + q_off;
        a.scratch = s_want.data();
        Ref().attention_f16(a);
        a.out = got.data() + q_off;
        a.scratch = s_got.data();
        set_->attention_f16(a);
        ASSERT_EQ(got.back(), -5.0f) << "wrote past out";
        const std::vector<double> tol = AttnTolerance(c, q, a.k, a.v, a.scale);
        for (size_t i = 0; i < q.size(); ++i) {
          ASSERT_NEAR(got[q_off + i], want[q_off + i], tol[i])
              << "group " << n_group << " head_dim " << head_dim << " n_kv " << n_kv << " i " << i;
        }
      }
    }
  }
}

// The 8-bit cache: rows of block_q8_0, `stride` bytes apart from `offset` bytes into the
// buffer; padding and one row past n_kv are 0x7E bytes, whose scale 0x7E7E is an f16 NaN, so
// a stray read poisons the result. values: the rows as DequantizeRow gives them.
struct Q8Rows {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // [n_kv][head_dim]
  size_t offset;
  int64_t stride;
  const void* data() const { return bytes.data() + offset; }
};
Q8Rows MakeQ8Rows(std::mt19937& rng, int n_kv, int head_dim, int64_t stride, size_t offset) {
  Q8Rows r{std::vector<uint8_t>(offset + (n_kv + 1) * stride, 0x7E),
           std::vector<float>(static_cast<size_t>(n_kv) * head_dim), offset, stride};
  for (int j = 0; j < n_kv; ++j) {
    // A spread of row magnitudes, so the block scales differ.
    const float mag = 0.25f + static_cast<float>(j % 5);
    const std::vector<float> x = RandomFloats(rng, head_dim, -mag, mag);
    ref::QuantizeRowQ8_0(x.data(), r.bytes.data() + offset + j * stride, head_dim);
    ref::DequantizeRowQ8_0(r.bytes.data() + offset + j * stride, r.values.data() + j * head_dim, head_dim);
  }
  return r;
}

// As AttnTolerance, for AttentionQ8_0: q is not rounded, the K and V elements are the exact
// floats d * q of both kernels, and the probabilities are not rounded to f16. The reference
// rounds each q * k product to f32 (<= u sum |q k|) where the SIMD kernels fuse it; the V
// products likewise, inside the (n_kv + 4) u sum |p v| already allowed for the sums.
std::vector<double> AttnToleranceQ8(const AttnShape& c, const std::vector<float>& q, const Q8Rows& k,
                                    const Q8Rows& v, float scale) {
  std::vector<double> tol(static_cast<size_t>(c.n_group) * c.head_dim, 0.0);
  for (int g = 0; g < c.n_group; ++g) {
    std::vector<double> s(c.n_kv);
    double max = -INFINITY, delta = 0;
    for (int j = 0; j < c.n_kv; ++j) {
      double dot = 0, mag = 0;
      for (int i = 0; i < c.head_dim; ++i) {
        const double p = static_cast<double>(q[g * c.head_dim + i]) * k.values[j * c.head_dim + i];
        dot += p;
        mag += std::fabs(p);
      }
      s[j] = dot * scale;
      max = std::max(max, s[j]);
      delta = std::max(delta, 2.01 * kU * std::fabs(s[j]) + 1.01 * (c.head_dim + 21) * kU * mag * scale);
    }
    double z = 0;
    for (int j = 0; j < c.n_kv; ++j) z += std::exp(s[j] - max);
    for (int j = 0; j < c.n_kv; ++j) {
      const double p = std::exp(s[j] - max) / z;
      const double dp = p * (2.02 * delta + 16 * kU + 2 * kU * std::fabs(s[j] - max));
      for (int i = 0; i < c.head_dim; ++i) {
        const double vj = std::fabs(v.values[j * c.head_dim + i]);
        tol[g * c.head_dim + i] += dp * vj + 2.02 * (c.n_kv + 4) * kU * (p + dp) * vj;
      }
    }
  }
  for (double& t : tol) t += 1e-37;
  return tol;
}

TEST_P(SimdTest, AttentionQ8MatchesReference) {
  std::mt19937 rng(28);
  int case_no = 0;
  for (int n_group : {1, 2, 3, 4, 5, 8, 9, 12}) {
    for (int head_dim : {32, 64, 96, 128, 256}) {
      for (int n_kv : {0, 1, 2, 7, 33, 300}) {
        ++case_no;
        const int64_t row = head_dim / 32 * 34;
        const AttnShape c{n_group, head_dim, n_kv, row + (case_no % 2) * 5};
        const size_t kv_off = case_no % 7, q_off = case_no % 16;  // misaligned rows
        const Q8Rows k = MakeQ8Rows(rng, n_kv, head_dim, c.stride, kv_off);
        const Q8Rows v = MakeQ8Rows(rng, n_kv, head_dim, c.stride, kv_off);
        const float q_scale = case_no % 3 == 0 ? 6.0f : 1.0f;
        const std::vector<float> q = RandomFloats(rng, int64_t{n_group} * head_dim, -q_scale, q_scale);
        std::vector<float> qbuf(q_off + q.size()), want(q_off + q.size(), -5.0f),
            got(q_off + q.size() + 1, -5.0f);
        std::copy(q.begin(), q.end(), qbuf.begin() + q_off);
        std::vector<float> s_want(n_group * n_kv + 1), s_got(n_group * n_kv + 1);
        AttentionQ8Args a{};
        a.q = qbuf.data() + q_off;
        a.k = k.data();
        a.v = v.data();
        a.kv_row_bytes = c.stride;
        a.n_group = n_group;
        a.head_dim = head_dim;
        a.n_kv = n_kv;
        a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        a.out = want.data() + q_off;
        a.scratch = s_want.data();
        Ref().attention_q8_0(a);
        a.out = got.data() + q_off;
        a.scratch = s_got.data();
        set_->attention_q8_0(a);
        ASSERT_EQ(got.back(), -5.0f) << "wrote past out";
        const std::vector<double> tol = AttnToleranceQ8(c, q, k, v, a.scale);
        for (size_t i = 0; i < q.size(); ++i) {
          ASSERT_FALSE(std::isnan(got[q_off + i])) << "read outside the rows";
          ASSERT_NEAR(got[q_off + i], want[q_off + i], tol[i])
              << "group " << n_group << " head_dim " << head_dim << " n_kv " << n_kv << " i " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, SimdTest, ::testing::ValuesIn(kSimdIsas), IsaName);

#if ONDO_KERNELS_X86
TEST(SimdTable, SetsUseTheirOwnKernels) {
  if (const KernelSet* s = GetKernelSet(Isa::kAvx2)) {
    EXPECT_EQ(s->For(DType::kF16).mat_mul, &avx2::MatMulF16);
    EXPECT_EQ(s->For(DType::kQ8_0).mat_mul, &avx2::MatMulQ8_0);
    EXPECT_EQ(s->attention_f16, &avx2::AttentionF16);
    EXPECT_EQ(s->attention_q8_0, &avx2::AttentionQ8_0);
  }
  if (const KernelSet* s = GetKernelSet(Isa::kAvx512)) {
    EXPECT_EQ(s->For(DType::kF16).mat_mul, &avx512::MatMulF16);
    EXPECT_EQ(s->For(DType::kQ8_0).mat_mul, &avx512::MatMulQ8_0);
    EXPECT_EQ(s->For(DType::kBF16).mat_mul, &avx2::MatMulBf16);
    EXPECT_EQ(s->attention_f16, &avx512::AttentionF16);
    EXPECT_EQ(s->attention_q8_0, &avx512::AttentionQ8_0);
  }
}
#endif

#if ONDO_KERNELS_ARM
// Both NEON sets register their own kernels for every weight type and op (kernels/arm/*.cc):
// the comparisons against the reference pass as well when a set silently keeps the reference.
TEST(SimdTable, ArmSetsUseTheirOwnKernels) {
  const KernelSet* neon = GetKernelSet(Isa::kNeon);
  const KernelSet* neondot = GetKernelSet(Isa::kNeonDot);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                  DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL, DType::kQ2_K, DType::kQ3_K,
                  DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS, DType::kOQ2}) {
    for (const KernelSet* s : {neon, neondot}) {
      if (!s) continue;
      EXPECT_NE(s->For(t).vec_dot, Ref().For(t).vec_dot) << s->name << " " << Info(t).name;
      EXPECT_NE(s->For(t).mat_mul, Ref().For(t).mat_mul) << s->name << " " << Info(t).name;
    }
    if (neon && neondot) {
      EXPECT_NE(neon->For(t).vec_dot, neondot->For(t).vec_dot) << Info(t).name;
      EXPECT_NE(neon->For(t).mat_mul, neondot->For(t).mat_mul) << Info(t).name;
    }
  }
  for (const KernelSet* s : {neon, neondot}) {
    if (!s) continue;
    EXPECT_NE(s->softmax, Ref().softmax) << s->name;
    EXPECT_NE(s->swiglu, Ref().swiglu) << s->name;
    EXPECT_NE(s->attention_f16, Ref().attention_f16) << s->name;
    EXPECT_NE(s->attention_q8_0, Ref().attention_q8_0) << s->name;
  }
}
#endif

}  // namespace
}  // namespace ondo::kernels
