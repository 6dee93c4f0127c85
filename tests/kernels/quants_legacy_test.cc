// The legacy block-of-32 weight types Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and the Q8_1 activation
// quantizer.
// - LegacyRef*: the scalar reference against truths derived from the formats: the blocks are
//   decoded here independently (QuantizedBlock), quantizer output is checked against the
//   rules that define the format (scale field, nearest level, error bounds), dot products
//   against exact double arithmetic.
// - LegacySimd*: every SIMD set the CPU can run against the reference, on quantized rows and
//   on adversarial blocks (any byte pattern), misaligned, with guards.
#include <gtest/gtest.h>

#include <algorithm>
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
#if ONDO_KERNELS_X86
#include "kernels/x86/x86.h"
#endif

namespace ondo::kernels {
namespace {

using testing::IsaName;
using testing::Buffer;
using testing::kU;
using testing::RandomFloats;

const KernelSet& Ref() { return *GetKernelSet(Isa::kScalar); }

constexpr DType kTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL};

// --- an independent decoder of the formats ------------------------------------------------------

// One weight block as exact values: x_j = d * w[j] + m. For Q4_0 / Q5_0 w is the stored quant
// minus 8 / 16, for IQ4_NL the level, for Q4_1 / Q5_1 the quant itself.
struct WeightBlock {
  double d = 0, m = 0;
  int w[32] = {};
};

// The f16 field at p, as a float.
float HalfAt(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToFloat(h);
}

WeightBlock DecodeWeight(DType t, const unsigned char* b) {
  WeightBlock o;
  o.d = HalfAt(b);
  const bool has_min = t == DType::kQ4_1 || t == DType::kQ5_1;
  const bool has_qh = t == DType::kQ5_0 || t == DType::kQ5_1;
  size_t off = 2;
  if (has_min) {
    o.m = HalfAt(b + 2);
    off = 4;
  }
  uint32_t qh = 0;
  if (has_qh) {
    std::memcpy(&qh, b + off, 4);
    off += 4;
  }
  for (int j = 0; j < 32; ++j) {
    const unsigned char byte = b[off + j % 16];
    int q = j < 16 ? (byte & 15) : (byte >> 4);
    if (has_qh) q += 16 * static_cast<int>((qh >> j) & 1);
    switch (t) {
      case DType::kQ4_0:
        o.w[j] = q - 8;
        break;
      case DType::kQ5_0:
        o.w[j] = q - 16;
        break;
      case DType::kIQ4_NL:
        o.w[j] = kIq4nlValues[q];
        break;
      default:
        o.w[j] = q;
        break;
    }
  }
  return o;
}

// One activation block (Q8_0 or Q8_1): x_j = d * q[j]; s = the stored Q8_1 s.
struct ActBlock {
  double d = 0, s = 0;
  int q[32] = {};
};

ActBlock DecodeAct(DType vd, const unsigned char* b) {
  ActBlock o;
  o.d = HalfAt(b);
  size_t off = 2;
  if (vd == DType::kQ8_1) {
    o.s = HalfAt(b + 2);
    off = 4;
  }
  for (int j = 0; j < 32; ++j) o.q[j] = static_cast<int8_t>(b[off + j]);
  return o;
}

size_t BlockBytes(DType t) { return static_cast<size_t>(Info(t).type_size); }
DType VecDotType(DType t) { return Info(t).vec_dot_type; }
bool HasMin(DType t) { return t == DType::kQ4_1 || t == DType::kQ5_1; }

// Per block: the exact integer sum, and the magnitudes that bound the float rounding.
struct DotParts {
  double exact_ggml = 0;  // sum_b d_w d_x S_b (+ m_b s_b): what ggml's formula computes exactly
  double exact_deq = 0;   // the dot of the exactly dequantized rows (m_b d_x sum q instead of m s)
  double mag = 0;         // sum_b |d_w d_x| sum_j |w_j q_j| (+ |m_b s_b|)
};

DotParts Dot(DType t, int64_t n, const unsigned char* w, const unsigned char* x) {
  DotParts p;
  const DType vd = VecDotType(t);
  for (int64_t b = 0; b < n / 32; ++b) {
    const WeightBlock wb = DecodeWeight(t, w + b * BlockBytes(t));
    const ActBlock xb = DecodeAct(vd, x + b * BlockBytes(vd));
    int64_t s = 0, sabs = 0, sx = 0;
    for (int j = 0; j < 32; ++j) {
      s += static_cast<int64_t>(wb.w[j]) * xb.q[j];
      sabs += std::abs(static_cast<int64_t>(wb.w[j]) * xb.q[j]);
      sx += xb.q[j];
    }
    const double dd = wb.d * xb.d;
    p.exact_ggml += dd * static_cast<double>(s) + wb.m * xb.s;
    p.exact_deq += dd * static_cast<double>(s) + wb.m * xb.d * static_cast<double>(sx);
    p.mag += std::fabs(dd) * static_cast<double>(sabs) + std::fabs(wb.m * xb.s);
  }
  return p;
}

// Both the reference and the SIMD kernels compute each block term (each lane's share of it)
// exactly as an integer, round it at most twice (the scale product, then the product with the
// sum) and add it to a f32 sum through at most nb + 8 further roundings (per-lane FMAs, the
// lane reduction, k chunks): each is within gamma_{nb+10} * mag of exact (Higham 3.1), so
// they are within twice that of each other.
double SimdTolerance(DType t, int64_t n, const unsigned char* w, const unsigned char* x) {
  return 2.02 * static_cast<double>(n / 32 + 10) * kU * Dot(t, n, w, x).mag + 1e-37;
}

// f16 fields of random bytes: keep the pattern but make the value finite (exponent 31 -> 30).
uint16_t FiniteHalf(uint16_t h) {
  return (h & 0x7c00) == 0x7c00 ? static_cast<uint16_t>(h & 0xbfff) : h;
}

void FixHalf(unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  h = FiniteHalf(h);
  std::memcpy(p, &h, 2);
}

// Random bytes as a weight row (every bit pattern of quants, finite scales).
void RandomWeightBytes(std::mt19937& rng, DType t, unsigned char* row, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b) {
    unsigned char* p = row + b * BlockBytes(t);
    for (size_t i = 0; i < BlockBytes(t); ++i) p[i] = static_cast<unsigned char>(rng());
    FixHalf(p);
    if (HasMin(t)) FixHalf(p + 2);
  }
}
// Random activation blocks: quants in [-127, 127], random finite d (and s).
void RandomActBytes(std::mt19937& rng, DType vd, unsigned char* row, int64_t nb) {
  const size_t bb = BlockBytes(vd);
  const size_t off = vd == DType::kQ8_1 ? 4 : 2;
  for (int64_t b = 0; b < nb; ++b) {
    unsigned char* p = row + b * bb;
    for (size_t i = 0; i < off; ++i) p[i] = static_cast<unsigned char>(rng());
    FixHalf(p);
    if (vd == DType::kQ8_1) FixHalf(p + 2);
    for (int j = 0; j < 32; ++j)
      p[off + j] = static_cast<unsigned char>(static_cast<int8_t>(rng() % 255 - 127));
  }
}

std::vector<float> Values(std::mt19937& rng, int64_t n) {
  std::vector<float> x = RandomFloats(rng, n, -1.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 7 == 3) x[i] *= 30.0f;  // outliers
    if (i % 13 == 5) x[i] = 0.0f;
  }
  for (int64_t i = 64; i < std::min<int64_t>(n, 96); ++i) x[i] = 0.0f;  // an all-zero block
  for (int64_t i = 96; i < std::min<int64_t>(n, 128); ++i) x[i] = -std::fabs(x[i]);
  return x;
}

std::vector<unsigned char> Quantize(DType t, const std::vector<float>& x) {
  std::vector<unsigned char> q(RowBytes(t, static_cast<int64_t>(x.size())));
  Ref().For(t).quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

// =============================================================================================
// Reference
// =============================================================================================

// Blocks written by hand from the format definitions, decoded by DequantizeRow.
TEST(LegacyRefDequantize, HandMadeBlocks) {
  // Q4_0: d = 0.5 (0x3800), quant nibbles j (low) and 15 - j (high): x_j = 0.5 (j - 8),
  // x_{16+j} = 0.5 (7 - j).
  {
    block_q4_0 b;
    b.d = 0x3800;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
    float y[32];
    ref::DequantizeRowQ4_0(&b, y, 32);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[j], 0.5f * (j - 8));
      EXPECT_EQ(y[16 + j], 0.5f * (7 - j));
    }
  }
  // Q4_1: d = 2, m = -3: x = 2 q - 3.
  {
    block_q4_1 b;
    b.d = 0x4000;
    b.m = 0xC200;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
    float y[32];
    ref::DequantizeRowQ4_1(&b, y, 32);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[j], 2.0f * j - 3.0f);
      EXPECT_EQ(y[16 + j], 2.0f * (15 - j) - 3.0f);
    }
  }
  // Q5_0 / Q5_1: qh = 0xA5A5F00F sets the 5th bit of elements 0-3, 12-15, 16, 18, 21, 23, ...
  {
    const uint32_t qh = 0xA5A5F00Fu;
    block_q5_0 b;
    b.d = 0x3C00;
    std::memcpy(b.qh, &qh, 4);
    block_q5_1 c;
    c.d = 0x3C00;
    c.m = 0x3800;  // 0.5
    std::memcpy(c.qh, &qh, 4);
    for (int j = 0; j < 16; ++j) c.qs[j] = b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
    float y[32], z[32];
    ref::DequantizeRowQ5_0(&b, y, 32);
    ref::DequantizeRowQ5_1(&c, z, 32);
    for (int j = 0; j < 32; ++j) {
      const int q = (j < 16 ? j : 31 - j) + 16 * static_cast<int>((qh >> j) & 1);
      EXPECT_EQ(y[j], static_cast<float>(q - 16)) << j;
      EXPECT_EQ(z[j], static_cast<float>(q) + 0.5f) << j;
    }
  }
  // IQ4_NL: d = -0.25, every level once in each half.
  {
    block_iq4_nl b;
    b.d = 0xB400;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
    float y[32];
    ref::DequantizeRowIQ4_NL(&b, y, 32);
    const int levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                            1,    13,   25,  38,  53,  69,  89,  113};
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[j], -0.25f * levels[j]);
      EXPECT_EQ(y[16 + j], -0.25f * levels[15 - j]);
    }
  }
}

// DequantizeRow is the f32 rounding of the exact value d w + m (d w is exact in f32, so one
// rounding in both), for every byte pattern.
TEST(LegacyRefDequantize, MatchesIndependentDecoderOnRandomBytes) {
  std::mt19937 rng(101);
  for (DType t : kTypes) {
    const int64_t nb = 64;
    std::vector<unsigned char> row(nb * BlockBytes(t) + 3);
    RandomWeightBytes(rng, t, row.data() + 3, nb);  // misaligned
    std::vector<float> y(nb * 32);
    Ref().For(t).dequantize_row(row.data() + 3, y.data(), nb * 32);
    for (int64_t b = 0; b < nb; ++b) {
      const WeightBlock wb = DecodeWeight(t, row.data() + 3 + b * BlockBytes(t));
      for (int j = 0; j < 32; ++j) {
        ASSERT_EQ(y[b * 32 + j], static_cast<float>(wb.d * wb.w[j] + wb.m))
            << Info(t).name << " block " << b << " j " << j;
      }
    }
  }
}

// --- quantizers: the rules that define each format ---------------------------------------------

// The element of largest magnitude, the first one on ties (ggml's choice for Q4_0 / Q5_0).
float SignedAbsMax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Q4_0 / Q5_0: d = f16(max / -2^(b-1)); each quant is the level nearest to v = x * (1/d) (in
// f32), clamped to the top level, exact ties going up; |x - x'| <= |d|/2 (|d| where clamped)
// plus what the f16 rounding of d moves the level by.
void CheckSymmetric(DType t, const std::vector<float>& x) {
  const int half = t == DType::kQ4_0 ? 8 : 16;
  const std::vector<unsigned char> q = Quantize(t, x);
  std::vector<float> back(x.size());
  Ref().For(t).dequantize_row(q.data(), back.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* xb = x.data() + b * 32;
    const WeightBlock wb = DecodeWeight(t, q.data() + b * BlockBytes(t));
    const float d = SignedAbsMax(xb) / static_cast<float>(-half);
    ASSERT_EQ(FloatToHalf(wb.d), FloatToHalf(d)) << Info(t).name << " block " << b;
    ASSERT_EQ(HalfToFloat(FloatToHalf(d)), wb.d);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
      const double v = static_cast<double>(xb[j] * id);  // the f32 product the format rounds
      const bool clamped = v + 0.5 >= half;
      if (clamped) {
        ASSERT_EQ(wb.w[j], half - 1) << Info(t).name << " block " << b << " j " << j;
      } else {
        // Nearest level; 1e-6 allows the f32 rounding of v + offset + 0.5 near a tie.
        ASSERT_LE(std::fabs(v - wb.w[j]), 0.5 + 1e-6 * half)
            << Info(t).name << " block " << b << " j " << j << " x " << xb[j];
        if (v - std::floor(v) == 0.5) {
          ASSERT_EQ(wb.w[j], std::floor(v) + 1) << "ties go up";
        }
      }
      const double err = std::fabs(static_cast<double>(xb[j]) - back[b * 32 + j]);
      const double bound = (clamped ? 1.0 : 0.5 + 1e-6 * half) * std::fabs(d) +
                           half * std::fabs(wb.d - d) + 2 * kU * std::fabs(xb[j]);
      ASSERT_LE(err, bound) << Info(t).name << " block " << b << " j " << j;
    }
  }
}

// Q4_1 / Q5_1: d = f16((max - min) / (2^b - 1)), m = f16(min); quants: the level nearest to
// v = (x - min) * (1/d) in f32, ties up; |x - x'| <= d/2 + (2^b - 1) |d - d16| + |min - m16|
// (+ f32 roundings).
void CheckAffine(DType t, const std::vector<float>& x) {
  const int top = t == DType::kQ4_1 ? 15 : 31;
  const std::vector<unsigned char> q = Quantize(t, x);
  std::vector<float> back(x.size());
  Ref().For(t).dequantize_row(q.data(), back.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* xb = x.data() + b * 32;
    const WeightBlock wb = DecodeWeight(t, q.data() + b * BlockBytes(t));
    const float mn = *std::min_element(xb, xb + 32), mx = *std::max_element(xb, xb + 32);
    const float d = (mx - mn) / static_cast<float>(top);
    ASSERT_EQ(FloatToHalf(wb.d), FloatToHalf(d)) << Info(t).name << " block " << b;
    ASSERT_EQ(FloatToHalf(wb.m), FloatToHalf(mn)) << Info(t).name << " block " << b;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
      const double v = static_cast<double>((xb[j] - mn) * id);
      ASSERT_LE(std::fabs(v - wb.w[j]), 0.5 + 1e-6 * top)
          << Info(t).name << " block " << b << " j " << j;
      if (v - std::floor(v) == 0.5) {
        ASSERT_EQ(wb.w[j], std::floor(v) + 1) << "ties go up";
      }
      const double err = std::fabs(static_cast<double>(xb[j]) - back[b * 32 + j]);
      const double bound = (0.5 + 1e-6 * top) * d + top * std::fabs(wb.d - d) +
                           std::fabs(wb.m - mn) + 4 * kU * (std::fabs(xb[j]) + std::fabs(mn));
      ASSERT_LE(err, bound) << Info(t).name << " block " << b << " j " << j;
    }
  }
}

std::vector<std::vector<float>> QuantizerInputs() {
  std::mt19937 rng(102);
  std::vector<std::vector<float>> rows;
  rows.push_back(Values(rng, 32 * 40));
  rows.push_back(RandomFloats(rng, 32 * 8, -1e-3f, 1e-3f));
  std::vector<float> neg = RandomFloats(rng, 32 * 8, -5.0f, -0.5f);  // negative-only blocks
  rows.push_back(neg);
  // Largest magnitudes whose scale is a finite f16: |x| <= 8 * 65504 (Q4_0), 16 * 65504 would
  // overflow Q4_0's scale... keep 4e5 for all, and exact powers of two.
  std::vector<float> big = RandomFloats(rng, 32 * 4, -4e5f, 4e5f);
  big[0] = 524032.0f;  // Q4_0: d = -65504, the largest finite f16
  big[32] = -262144.0f;
  rows.push_back(big);
  // One non-zero value per block, at different positions and signs.
  std::vector<float> one(32 * 6, 0.0f);
  for (int b = 0; b < 6; ++b) one[b * 32 + (b * 7) % 32] = (b % 2 ? -1.0f : 1.0f) * (0.75f + b);
  rows.push_back(one);
  // Exact ties: integers and half-integers that land on .5 after the scale.
  std::vector<float> ties(32 * 2);
  for (int j = 0; j < 64; ++j) ties[j] = static_cast<float>(j % 17 - 8) * 0.5f;
  ties[0] = -8.0f;  // d = 1 for Q4_0, 0.5 for Q5_0
  ties[32] = 16.0f;
  rows.push_back(ties);
  return rows;
}

TEST(LegacyRefQuantize, Q4_0AndQ5_0FollowTheFormat) {
  for (const auto& x : QuantizerInputs()) {
    CheckSymmetric(DType::kQ4_0, x);
    CheckSymmetric(DType::kQ5_0, x);
  }
}

TEST(LegacyRefQuantize, Q4_1AndQ5_1FollowTheFormat) {
  for (const auto& x : QuantizerInputs()) {
    CheckAffine(DType::kQ4_1, x);
    CheckAffine(DType::kQ5_1, x);
  }
}

// All-zero blocks: the quant that rounds 0 (ggml: 8 / 16 for the symmetric types, so Q5_0
// sets every 5th bit; 0 for the affine ones; index 8 = level 1 for IQ4_NL), and for the
// symmetric types d = f16(+0 / -8) = -0 (0x8000).
TEST(LegacyRefQuantize, AllZeroBlocksHaveKnownBytes) {
  const std::vector<float> zero(64, 0.0f);
  {
    const auto q = Quantize(DType::kQ4_0, zero);
    for (int b = 0; b < 2; ++b) {
      block_q4_0 blk;
      std::memcpy(&blk, q.data() + b * sizeof blk, sizeof blk);
      EXPECT_EQ(blk.d, 0x8000);
      for (uint8_t v : blk.qs) EXPECT_EQ(v, 0x88);
    }
  }
  {
    const auto q = Quantize(DType::kQ5_0, zero);
    block_q5_0 blk;
    std::memcpy(&blk, q.data(), sizeof blk);
    EXPECT_EQ(blk.d, 0x8000);
    for (uint8_t v : blk.qh) EXPECT_EQ(v, 0xff);
    for (uint8_t v : blk.qs) EXPECT_EQ(v, 0x00);
  }
  for (DType t : {DType::kQ4_1, DType::kQ5_1}) {
    const auto q = Quantize(t, zero);
    for (unsigned char v : q) EXPECT_EQ(v, 0) << Info(t).name;
  }
  {
    const auto q = Quantize(DType::kIQ4_NL, zero);
    block_iq4_nl blk;
    std::memcpy(&blk, q.data(), sizeof blk);
    EXPECT_EQ(blk.d, 0);
    for (uint8_t v : blk.qs) EXPECT_EQ(v, 0x88);
  }
  for (DType t : kTypes) {
    std::vector<float> back(64, 1.0f);
    const auto q = Quantize(t, zero);
    Ref().For(t).dequantize_row(q.data(), back.data(), 64);
    for (float v : back) EXPECT_EQ(v, 0.0f) << Info(t).name;
  }
}

// A lone value v (others 0) whose scale is exact in f16 comes back exactly: Q4_0 stores v as
// level -8 with d = v / -8, Q5_0 as -16 with d = v / -16; the affine types put v on level 0
// (v < 0, m = v) or the top one (v > 0, m = 0) with d = |v| / 15 or / 31.
TEST(LegacyRefQuantize, LoneValueIsExact) {
  struct Case {
    DType t;
    float v[4];
  };
  const Case cases[] = {{DType::kQ4_0, {3.0f, -3.0f, 0.375f, -1024.0f}},
                        {DType::kQ5_0, {3.0f, -3.0f, 0.375f, -1024.0f}},
                        {DType::kQ4_1, {3.75f, -3.75f, 960.0f, -0.46875f}},
                        {DType::kQ5_1, {7.75f, -7.75f, 1984.0f, -0.96875f}}};
  for (const Case& c : cases) {
    for (float v : c.v) {
      for (int pos : {0, 5, 16, 31}) {
        std::vector<float> x(32, 0.0f);
        x[pos] = v;
        const auto q = Quantize(c.t, x);
        std::vector<float> back(32);
        Ref().For(c.t).dequantize_row(q.data(), back.data(), 32);
        EXPECT_EQ(back[pos], v) << Info(c.t).name << " v " << v << " pos " << pos;
        for (int j = 0; j < 32; ++j) {
          if (j != pos) {
            EXPECT_EQ(back[j], 0.0f) << Info(c.t).name << " v " << v << " j " << j;
          }
        }
      }
    }
  }
}

// IQ4_NL: weighted (x^2) squared error E(d, L) = sum x^2 (x - d v_L)^2. The search can only
// improve on the first guess d0 = max / 127 with nearest levels (it is one of its candidates,
// then refitted and re-rounded); the stored scale is the f16 rounding of the chosen one,
// which moves E by at most |d - d16| sum w |v| (2|x| + 2.01 |d v|).
double WeightedError(const float* x, double d, const int* levels) {
  double e = 0;
  for (int j = 0; j < 32; ++j) {
    const double r = x[j] - d * levels[j];
    e += static_cast<double>(x[j]) * x[j] * r * r;
  }
  return e;
}

TEST(LegacyRefQuantize, IQ4_NLIsNeverWorseThanTheFirstGuess) {
  std::mt19937 rng(103);
  int improved = 0, blocks = 0;
  for (const auto& x : QuantizerInputs()) {
    const auto q = Quantize(DType::kIQ4_NL, x);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const float* xb = x.data() + b * 32;
      const WeightBlock wb = DecodeWeight(DType::kIQ4_NL, q.data() + b * 18);
      const float max = SignedAbsMax(xb);
      if (max == 0) continue;
      // First guess: nearest level to x / d0, d0 = max / 127 (ties toward the upper level).
      const double d0 = static_cast<double>(max) / 127.0;
      int l0[32];
      for (int j = 0; j < 32; ++j) {
        const double a = xb[j] / d0;
        int best = 0;
        for (int i = 1; i < 16; ++i) {
          if (std::fabs(a - kIq4nlValues[i]) <= std::fabs(a - kIq4nlValues[best])) best = i;
        }
        l0[j] = kIq4nlValues[best];
      }
      double slack = 0, wx2 = 0;
      for (int j = 0; j < 32; ++j) {
        const double w = static_cast<double>(xb[j]) * xb[j];
        wx2 += w * xb[j] * xb[j];
        slack += w * std::abs(wb.w[j]) * (2 * std::fabs(xb[j]) + 2.01 * std::fabs(wb.d * wb.w[j]));
      }
      // |d - f16(d)| <= 2^-11 |d| for a normal f16, <= 2^-25 for a subnormal one.
      slack *= std::max(std::fabs(wb.d) * 0x1p-11, 0x1p-25) * 1.001;
      const double e = WeightedError(xb, wb.d, wb.w);
      const double e0 = WeightedError(xb, d0, l0);
      ASSERT_LE(e, e0 + slack + 1e-5 * wx2) << "row block " << b;
      ++blocks;
      if (e < 0.999 * e0) ++improved;
    }
  }
  EXPECT_GT(improved, blocks / 4) << "the scale search should usually improve on max / 127";
}

// The reference quantizers write at any byte address and nothing past the row.
TEST(LegacyRefQuantize, MisalignedOutputAndGuards) {
  std::mt19937 rng(104);
  const std::vector<float> x = Values(rng, 32 * 5);
  for (DType t : kTypes) {
    const auto want = Quantize(t, x);
    for (size_t off : {1, 3, 17, 63}) {
      Buffer out(want.size(), off);
      Ref().For(t).quantize_row(x.data(), out.data(), static_cast<int64_t>(x.size()));
      ASSERT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0) << Info(t).name << off;
      ASSERT_TRUE(out.GuardIntact()) << Info(t).name;
    }
  }
}

// --- reference dot products against exact arithmetic ------------------------------------------

// The reference rounds each block term at most three times and accumulates in f32: within
// gamma_{nb+4} of ggml's formula evaluated exactly. ggml's formula for Q4_1 / Q5_1 uses the
// activation's stored s = f16(d_x sum q) instead of d_x sum q, which differs from the dot of
// the dequantized rows by sum_b m_b (s_b - d_x sum q_b): that difference is computed exactly
// and is part of the tolerance against the dequantized dot.
TEST(LegacyRefVecDot, MatchesExactArithmetic) {
  std::mt19937 rng(105);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (int64_t n : {32, 64, 96, 320, 4096}) {
      for (int trial = 0; trial < 3; ++trial) {
        std::vector<unsigned char> w, x;
        if (trial < 2) {
          w = Quantize(t, Values(rng, n));
          x = Quantize(vd, Values(rng, n));
        } else {  // any byte pattern
          w.resize(RowBytes(t, n));
          x.resize(RowBytes(vd, n));
          RandomWeightBytes(rng, t, w.data(), n / 32);
          RandomActBytes(rng, vd, x.data(), n / 32);
        }
        const DotParts p = Dot(t, n, w.data(), x.data());
        const double got = Ref().For(t).vec_dot(n, w.data(), x.data());
        const double tol = 1.01 * static_cast<double>(n / 32 + 4) * kU * p.mag + 1e-37;
        ASSERT_NEAR(got, p.exact_ggml, tol) << Info(t).name << " n " << n << " trial " << trial;
        ASSERT_NEAR(got, p.exact_deq, tol + std::fabs(p.exact_ggml - p.exact_deq))
            << Info(t).name << " n " << n;
      }
    }
  }
}

// With d = 1 (and integer m, s) every partial sum is a small integer: exact.
TEST(LegacyRefVecDot, IntegerScalesAreExact) {
  std::mt19937 rng(106);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    const int64_t nb = 9;
    std::vector<unsigned char> w(nb * BlockBytes(t)), x(nb * BlockBytes(vd));
    RandomWeightBytes(rng, t, w.data(), nb);
    RandomActBytes(rng, vd, x.data(), nb);
    for (int64_t b = 0; b < nb; ++b) {
      const uint16_t one = 0x3C00, three = 0x4200;
      std::memcpy(w.data() + b * BlockBytes(t), &one, 2);
      std::memcpy(x.data() + b * BlockBytes(vd), &one, 2);
      if (HasMin(t)) {
        std::memcpy(w.data() + b * BlockBytes(t) + 2, &three, 2);
        std::memcpy(x.data() + b * BlockBytes(vd) + 2, &three, 2);
      }
    }
    EXPECT_EQ(Ref().For(t).vec_dot(nb * 32, w.data(), x.data()),
              static_cast<float>(Dot(t, nb * 32, w.data(), x.data()).exact_ggml))
        << Info(t).name;
  }
}

TEST(LegacyRefMatMul, IsVecDotPerRowAndToken) {
  std::mt19937 rng(107);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    const int64_t k = 96, rows = 5;
    const int n_tok = 3;
    const size_t wrb = RowBytes(t, k) + 1, xrb = RowBytes(vd, k) + 2;
    std::vector<unsigned char> w(wrb * rows), x(xrb * n_tok);
    for (int64_t r = 0; r < rows; ++r) {
      const auto q = Quantize(t, Values(rng, k));
      std::memcpy(w.data() + r * wrb, q.data(), q.size());
    }
    for (int tok = 0; tok < n_tok; ++tok) {
      const auto q = Quantize(vd, Values(rng, k));
      std::memcpy(x.data() + tok * xrb, q.data(), q.size());
    }
    const int64_t ys = rows + 2;
    std::vector<float> y(n_tok * ys, -7.0f);
    Ref().For(t).mat_mul(w.data(), wrb, 1, rows, k, x.data(), xrb, n_tok, y.data(), ys);
    for (int tok = 0; tok < n_tok; ++tok) {
      for (int64_t r = 0; r < ys; ++r) {
        if (r < 1 || r >= rows) {
          EXPECT_EQ(y[tok * ys + r], -7.0f);
        } else {
          EXPECT_EQ(y[tok * ys + r],
                    Ref().For(t).vec_dot(k, w.data() + r * wrb, x.data() + tok * xrb));
        }
      }
    }
  }
}

// =============================================================================================
// SIMD sets against the reference
// =============================================================================================

class LegacySimd : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    set_ = GetKernelSet(GetParam());
    if (!set_) GTEST_SKIP() << "kernel set not built or not supported by this CPU";
  }
  const KernelSet* set_ = nullptr;
};

// Activation quantizer: bit-identical to the reference.
TEST_P(LegacySimd, QuantizeRowQ8_1IsBitIdentical) {
  std::mt19937 rng(201);
  for (int64_t n : {0, 32, 64, 96, 256, 512, 4096}) {
    // 1e-38 and 1e-40: blocks whose scale d is subnormal, so 1 / d overflows to inf (the
    // reference saturates the quants to +-127 and reads 0 * inf as 0).
    for (float scale : {1.0f, 1e-30f, 1e-20f, 3e4f, 1e30f, 1e-38f, 1e-40f}) {
      std::vector<float> xs = RandomFloats(rng, n + 16, -2.0f, 2.0f);
      for (float& v : xs) v *= scale;
      if (n >= 128) {
        // A block with max 127: d = 1, id = 1, so the half-integers are exact ties.
        for (int j = 0; j < 32; ++j) xs[j] = static_cast<float>(j % 9 - 4) + 0.5f;
        xs[7] = -127.0f;
        for (int j = 32; j < 64; ++j) xs[j] = 0.0f;  // all zero
        for (int j = 64; j < 96; ++j) xs[j] = 0.0f;  // a single value
        xs[64 + n % 32] = -scale;
        // Ties after a non-trivial scale: max 63.5 gives d = 0.5, id = 2.
        for (int j = 96; j < 128; ++j) xs[j] = static_cast<float>(j % 13 - 6) * 0.25f;
        xs[100] = 63.5f;
      }
      const float* x = xs.data() + n % 16;
      const size_t bytes = RowBytes(DType::kQ8_1, n);
      for (size_t off : {size_t{0}, size_t{1}, size_t{35}, size_t{63}}) {
        Buffer want(bytes, off), got(bytes, off);
        Ref().For(DType::kQ8_1).quantize_row(x, want.data(), n);
        set_->For(DType::kQ8_1).quantize_row(x, got.data(), n);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), bytes), 0)
            << "n " << n << " scale " << scale << " off " << off;
        ASSERT_TRUE(got.GuardIntact());
      }
    }
  }
}

// Rows and activation rows of several kinds for one type and k.
enum class RowKind { kQuantized, kRandomBytes, kAllFF, kAllZero, kMaxActs };

void MakeRows(std::mt19937& rng, DType t, RowKind kind, int64_t k, unsigned char* w, size_t wrb,
              int64_t rows, unsigned char* x, size_t xrb, int n_tok) {
  const DType vd = VecDotType(t);
  const int64_t nb = k / 32;
  for (int64_t r = 0; r < rows; ++r) {
    unsigned char* row = w + r * wrb;
    switch (kind) {
      case RowKind::kQuantized:
      case RowKind::kMaxActs: {
        const auto q = Quantize(t, Values(rng, k));
        if (!q.empty()) std::memcpy(row, q.data(), q.size());
        break;
      }
      case RowKind::kRandomBytes:
        RandomWeightBytes(rng, t, row, nb);
        break;
      case RowKind::kAllFF:  // every quant at its top, d (and m) the largest finite f16
        std::memset(row, 0xff, RowBytes(t, k));
        for (int64_t b = 0; b < nb; ++b) {
          FixHalf(row + b * BlockBytes(t));
          if (HasMin(t)) FixHalf(row + b * BlockBytes(t) + 2);
        }
        break;
      case RowKind::kAllZero:
        std::memset(row, 0, RowBytes(t, k));
        break;
    }
  }
  for (int tok = 0; tok < n_tok; ++tok) {
    unsigned char* row = x + tok * xrb;
    switch (kind) {
      case RowKind::kQuantized:
      case RowKind::kAllZero: {
        const auto q = Quantize(vd, Values(rng, k));
        if (!q.empty()) std::memcpy(row, q.data(), q.size());
        break;
      }
      case RowKind::kRandomBytes:
      case RowKind::kAllFF:
        RandomActBytes(rng, vd, row, nb);
        break;
      case RowKind::kMaxActs: {  // quants at +-127
        std::vector<float> f(k);
        for (int64_t i = 0; i < k; ++i) f[i] = (rng() % 3 == 0 ? -1.0f : 1.0f);
        const auto q = Quantize(vd, f);
        if (!q.empty()) std::memcpy(row, q.data(), q.size());
        break;
      }
    }
  }
}

TEST_P(LegacySimd, VecDotMatchesReference) {
  std::mt19937 rng(202);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (RowKind kind : {RowKind::kQuantized, RowKind::kRandomBytes, RowKind::kAllFF,
                         RowKind::kAllZero, RowKind::kMaxActs}) {
      for (int64_t k : {0, 32, 64, 96, 128, 160, 224, 512, 3200}) {
        const size_t wb = RowBytes(t, k), xb = RowBytes(vd, k);
        for (size_t off = 0; off < 64; off += (k > 256 ? 13 : 1)) {
          Buffer w(wb, off), x(xb, (off * 29 + 3) % 64);
          MakeRows(rng, t, kind, k, w.data(), wb, 1, x.data(), xb, 1);
          const float want = Ref().For(t).vec_dot(k, w.data(), x.data());
          const float got = set_->For(t).vec_dot(k, w.data(), x.data());
          ASSERT_NEAR(got, want, SimdTolerance(t, k, w.data(), x.data()))
              << Info(t).name << " kind " << static_cast<int>(kind) << " k " << k << " off " << off;
          if (kind == RowKind::kAllZero) {
            ASSERT_EQ(got, 0.0f);
          }
          if (off > 8 && k > 64) break;
        }
      }
    }
  }
}

// d = 1 (m, s small integers) and any quant bytes: all partial sums are integers far below
// 2^24, so every summation order gives the same float: SIMD == reference exactly. Covers the
// saturation corners: all quants at the top (Q5_1: 31) or the most negative level (IQ4_NL:
// -127) against activations all -127 or +127.
TEST_P(LegacySimd, IntegerScalesAreExact) {
  std::mt19937 rng(203);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (int64_t nb : {1, 2, 3, 4, 5, 7, 8, 16, 33}) {
      for (int pattern = 0; pattern < 4; ++pattern) {
        std::vector<unsigned char> w(nb * BlockBytes(t)), x(nb * BlockBytes(vd));
        RandomWeightBytes(rng, t, w.data(), nb);
        RandomActBytes(rng, vd, x.data(), nb);
        for (int64_t b = 0; b < nb; ++b) {
          unsigned char* pw = w.data() + b * BlockBytes(t);
          unsigned char* px = x.data() + b * BlockBytes(vd);
          const size_t xq = vd == DType::kQ8_1 ? 4 : 2;
          if (pattern == 1) std::memset(pw, 0xff, BlockBytes(t));  // top quants
          if (pattern == 2) std::memset(pw, 0x00, BlockBytes(t));  // bottom (IQ4_NL: -127)
          if (pattern >= 1) {
            for (int j = 0; j < 32; ++j)
              px[xq + j] = static_cast<unsigned char>(pattern == 3 ? 127 : -127);
          }
          const uint16_t one = 0x3C00, m = 0xC500;  // 1, -5
          std::memcpy(pw, &one, 2);
          std::memcpy(px, &one, 2);
          if (HasMin(t)) {
            std::memcpy(pw + 2, &m, 2);
            const uint16_t s = FloatToHalf(static_cast<float>(static_cast<int>(rng() % 200) - 100));
            std::memcpy(px + 2, &s, 2);
          }
        }
        const float want = Ref().For(t).vec_dot(nb * 32, w.data(), x.data());
        ASSERT_EQ(want, static_cast<float>(Dot(t, nb * 32, w.data(), x.data()).exact_ggml));
        EXPECT_EQ(set_->For(t).vec_dot(nb * 32, w.data(), x.data()), want)
            << Info(t).name << " nb " << nb << " pattern " << pattern;
        float y[3] = {-5.0f, -5.0f, -5.0f};
        set_->For(t).mat_mul(w.data(), 0, 1, 2, nb * 32, x.data(), 0, 1, y, 1);
        EXPECT_EQ(y[1], want) << Info(t).name << " nb " << nb;
        EXPECT_EQ(y[0], -5.0f);
        EXPECT_EQ(y[2], -5.0f);
      }
    }
  }
}

// MatMul against the reference: rows [r0, r0 + nr) for nr 0..19 (not multiples of any tile)
// and 53, 83 (AVX-512 prefill panels of 16 rows: a pair of panels and one alone; two pairs,
// then one), n_tok 1..9 and 17, y_stride > rows, rows padded so that each one is misaligned
// differently, nothing written outside the rows.
TEST_P(LegacySimd, MatMulMatchesReference) {
  std::mt19937 rng(204);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (int64_t k : {32, 96, 224, 640, 3200}) {
      const RowKind kind = k == 224 ? RowKind::kRandomBytes : RowKind::kQuantized;
      const int64_t max_rows = 83 + 3;
      const int max_tok = 17;
      const size_t wrb = RowBytes(t, k) + 5, xrb = RowBytes(vd, k) + 3;
      Buffer w(wrb * max_rows, static_cast<size_t>(k % 61)), x(xrb * max_tok, 7);
      MakeRows(rng, t, kind, k, w.data(), wrb, max_rows, x.data(), xrb, max_tok);
      for (int64_t r0 : {0, 3}) {
        std::vector<int64_t> nrs;
        for (int64_t nr = 0; nr <= 19; nr += (k >= 640 ? 3 : 1)) nrs.push_back(nr);
        nrs.push_back(53);
        nrs.push_back(83);
        for (int64_t nr : nrs) {
          for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
            if (k >= 640 && n_tok > 2 && n_tok < 8 && n_tok != 5) continue;
            const int64_t r1 = r0 + nr;
            const auto tol = [&](int64_t r, int tok) {
              return SimdTolerance(t, k, w.data() + r * wrb, x.data() + tok * xrb);
            };
            ASSERT_NO_FATAL_FAILURE(testing::ExpectMatMulMatchesRef(
                *set_, t, k, w.data(), wrb, x.data(), xrb, r0, r1, n_tok, tol));
          }
        }
      }
    }
  }
}

// Long rows: the kernels cut k into chunks (activations are rearranged in a bounded buffer),
// for one token (decode, k = 25600 > one chunk) and for panels of tokens.
TEST_P(LegacySimd, LongRowsMatchReference) {
  std::mt19937 rng(205);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (int64_t k : {25600, 32 * 801}) {
      const int64_t rows = 5;
      const int n_tok = k == 25600 ? 1 : 18;
      const size_t wrb = RowBytes(t, k), xrb = RowBytes(vd, k);
      std::vector<unsigned char> w(wrb * rows), x(xrb * n_tok);
      MakeRows(rng, t, RowKind::kQuantized, k, w.data(), wrb, rows, x.data(), xrb, n_tok);
      std::vector<float> want(n_tok * rows), got(n_tok * rows);
      Ref().For(t).mat_mul(w.data(), wrb, 0, rows, k, x.data(), xrb, n_tok, want.data(), rows);
      set_->For(t).mat_mul(w.data(), wrb, 0, rows, k, x.data(), xrb, n_tok, got.data(), rows);
      for (int tok = 0; tok < n_tok; ++tok) {
        for (int64_t r = 0; r < rows; ++r) {
          ASSERT_NEAR(got[tok * rows + r], want[tok * rows + r],
                      SimdTolerance(t, k, w.data() + r * wrb, x.data() + tok * xrb))
              << Info(t).name << " k " << k << " r " << r << " tok " << tok;
        }
      }
    }
  }
}

// Rows that end exactly at the end of their heap allocation: a read past the last block is
// caught by AddressSanitizer (in the sanitizer build).
TEST_P(LegacySimd, ReadsNothingPastTheRows) {
  std::mt19937 rng(206);
  for (DType t : kTypes) {
    const DType vd = VecDotType(t);
    for (int64_t k : {32, 64, 96, 160}) {
      for (int n_tok : {1, 3}) {
        const int64_t rows = 3;
        const size_t wrb = RowBytes(t, k), xrb = RowBytes(vd, k);
        std::unique_ptr<unsigned char[]> w(new unsigned char[wrb * rows]);
        std::unique_ptr<unsigned char[]> x(new unsigned char[xrb * n_tok]);
        MakeRows(rng, t, RowKind::kRandomBytes, k, w.get(), wrb, rows, x.get(), xrb, n_tok);
        std::vector<float> want(n_tok * rows), got(n_tok * rows);
        Ref().For(t).mat_mul(w.get(), wrb, 0, rows, k, x.get(), xrb, n_tok, want.data(), rows);
        set_->For(t).mat_mul(w.get(), wrb, 0, rows, k, x.get(), xrb, n_tok, got.data(), rows);
        for (int i = 0; i < n_tok * rows; ++i) {
          ASSERT_NEAR(got[i], want[i],
                      SimdTolerance(t, k, w.get() + (i % rows) * wrb, x.get() + (i / rows) * xrb))
              << Info(t).name << " k " << k;
        }
        const float v =
            set_->For(t).vec_dot(k, w.get() + (rows - 1) * wrb, x.get() + (n_tok - 1) * xrb);
        EXPECT_NEAR(v, want[n_tok * rows - 1],
                    SimdTolerance(t, k, w.get() + (rows - 1) * wrb, x.get() + (n_tok - 1) * xrb));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Legacy, LegacySimd, ::testing::ValuesIn(kSimdIsas), IsaName);

#if ONDO_KERNELS_X86
TEST(LegacySimdTable, SetsUseTheirOwnKernels) {
  if (const KernelSet* s = GetKernelSet(Isa::kAvx2)) {
    EXPECT_EQ(s->For(DType::kQ8_1).quantize_row, &avx2::QuantizeRowQ8_1);
    EXPECT_EQ(s->For(DType::kQ4_0).mat_mul, &avx2::MatMulQ4_0);
    EXPECT_EQ(s->For(DType::kQ4_1).vec_dot, &avx2::VecDotQ4_1);
    EXPECT_EQ(s->For(DType::kQ5_0).mat_mul, &avx2::MatMulQ5_0);
    EXPECT_EQ(s->For(DType::kQ5_1).mat_mul, &avx2::MatMulQ5_1);
    EXPECT_EQ(s->For(DType::kIQ4_NL).mat_mul, &avx2::MatMulIQ4_NL);
  }
  if (const KernelSet* s = GetKernelSet(Isa::kAvx512)) {
    EXPECT_EQ(s->For(DType::kQ8_1).quantize_row, &avx512::QuantizeRowQ8_1);
    EXPECT_EQ(s->For(DType::kQ4_0).mat_mul, &avx512::MatMulQ4_0);
    EXPECT_EQ(s->For(DType::kQ4_1).vec_dot, &avx512::VecDotQ4_1);
    EXPECT_EQ(s->For(DType::kQ5_0).mat_mul, &avx512::MatMulQ5_0);
    EXPECT_EQ(s->For(DType::kQ5_1).mat_mul, &avx512::MatMulQ5_1);
    EXPECT_EQ(s->For(DType::kIQ4_NL).mat_mul, &avx512::MatMulIQ4_NL);
  }
}
#endif

}  // namespace
}  // namespace ondo::kernels
