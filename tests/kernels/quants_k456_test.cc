// Q4_K, Q5_K, Q6_K and IQ4_XS: the reference quantizers (llama.cpp byte-identity through
// golden hashes, error bounds, edge cases), dequantization against an element-by-element
// decoding of the block format, the reference dot product against double precision, and every
// SIMD set against the reference (random, adversarial and exact-integer blocks, misaligned
// rows, every tile remainder).
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
#include "tests/kernels/test_util.h"

namespace ondo::kernels {
namespace {

using testing::IsaName;
using testing::Buffer;
using testing::kU;

constexpr DType kTypes[] = {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS};
constexpr int kQ8KBytes = sizeof(block_q8_K);

const KernelSet& Ref() { return *GetKernelSet(Isa::kScalar); }
size_t BlockBytes(DType t) { return static_cast<size_t>(Info(t).type_size); }

uint16_t U16At(const unsigned char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void SetU16(unsigned char* p, uint16_t v) { std::memcpy(p, &v, 2); }

// --- an element-by-element decoding of one super-block, from the format description -------------
//
// value(i) = a[i] - b[i] exactly (doubles): a = the scale part, b = the min part (Q4_K and Q5_K);
// f[i] = the value as ggml's dequantize_row computes it in float; mag[i] bounds the magnitude per
// unit of activation of everything a kernel multiplies for element i (for Q6_K it includes the
// unsigned quant and the 32 * bsum correction the SIMD kernels use); lo/step/levels describe the
// grid of representable values of the element's sub-block (level L = lo + step * table(L)).
struct Decoded {
  double a[kQK_K], b[kQK_K], mag[kQK_K];
  float f[kQK_K];
  int q[kQK_K];                  // the stored level of each element
  float step[kQK_K], lo[kQK_K];  // per element: its sub-block's float d_j and -m_j
};

int Sc6(const uint8_t* s, int j) {  // 6-bit scale j of a Q4_K / Q5_K block
  return j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
}
int Min6(const uint8_t* s, int j) {  // 6-bit min j
  return j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
}

Decoded Decode(DType t, const unsigned char* blk) {
  Decoded o{};
  switch (t) {
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool q5 = t == DType::kQ5_K;
      const float d = HalfToFloat(U16At(blk)), dmin = HalfToFloat(U16At(blk + 2));
      const uint8_t* sc = blk + 4;
      const uint8_t* qh = blk + 16;
      const uint8_t* qs = blk + (q5 ? 48 : 16);
      for (int e = 0; e < kQK_K; ++e) {
        const int j = e / 32, c = e / 64, w = e % 64;
        int q = w < 32 ? (qs[32 * c + w] & 15) : (qs[32 * c + w - 32] >> 4);
        if (q5) q += ((qh[w % 32] >> j) & 1) << 4;
        const float d1 = d * static_cast<float>(Sc6(sc, j));
        const float m1 = dmin * static_cast<float>(Min6(sc, j));
        o.q[e] = q;
        o.a[e] = static_cast<double>(d) * Sc6(sc, j) * q;
        o.b[e] = static_cast<double>(dmin) * Min6(sc, j);
        o.mag[e] = std::fabs(o.a[e]) + std::fabs(o.b[e]);
        o.f[e] = d1 * static_cast<float>(q) - m1;
        o.step[e] = d1;
        o.lo[e] = -m1;
      }
      break;
    }
    case DType::kQ6_K: {
      const uint8_t* ql = blk;
      const uint8_t* qh = blk + 128;
      const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
      const float d = HalfToFloat(U16At(blk + 208));
      for (int e = 0; e < kQK_K; ++e) {
        const int h = e / 128, m = (e % 128) / 32, l = e % 32;
        const uint8_t byte = ql[64 * h + 32 * (m % 2) + l];
        const int q =
            (m < 2 ? (byte & 15) : (byte >> 4)) | (((qh[32 * h + l] >> (2 * m)) & 3) << 4);
        const int s = sc[e / 16];
        const float d1 = d * static_cast<float>(s);
        o.q[e] = q;
        o.a[e] = static_cast<double>(d) * s * (q - 32);
        o.b[e] = 0;
        o.mag[e] = std::fabs(static_cast<double>(d) * s) * (std::abs(q - 32) + q + 32);
        o.f[e] = d1 * static_cast<float>(q - 32);
        o.step[e] = d1;
        o.lo[e] = -32.0f * d1;
      }
      break;
    }
    case DType::kIQ4_XS: {
      const float d = HalfToFloat(U16At(blk));
      const uint16_t sh = U16At(blk + 2);
      const uint8_t* sl = blk + 4;
      const uint8_t* qs = blk + 8;
      for (int e = 0; e < kQK_K; ++e) {
        const int j = e / 32, w = e % 32;
        const int idx = w < 16 ? (qs[16 * j + w] & 15) : (qs[16 * j + w - 16] >> 4);
        const int ls = ((sl[j / 2] >> (4 * (j % 2))) & 15) | (((sh >> (2 * j)) & 3) << 4);
        const float dl = d * static_cast<float>(ls - 32);
        o.q[e] = idx;
        o.a[e] = static_cast<double>(d) * (ls - 32) * kIq4nlValues[idx];
        o.b[e] = 0;
        o.mag[e] = std::fabs(o.a[e]);
        o.f[e] = dl * static_cast<float>(kIq4nlValues[idx]);
        o.step[e] = dl;
        o.lo[e] = 0;
      }
      break;
    }
    default:
      ADD_FAILURE() << "not a K456 type";
  }
  return o;
}

std::vector<Decoded> DecodeRow(DType t, const unsigned char* row, int64_t n) {
  std::vector<Decoded> out;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) out.push_back(Decode(t, row + ib * BlockBytes(t)));
  return out;
}

// The representable value of level L in the grid of element e (see Decoded).
double Level(DType t, const Decoded& d, int e, int L) {
  if (t == DType::kIQ4_XS) return static_cast<double>(d.step[e]) * kIq4nlValues[L];
  return static_cast<double>(d.lo[e]) + static_cast<double>(d.step[e]) * L;
}
int NumLevels(DType t) {
  return t == DType::kQ4_K ? 16 : (t == DType::kQ5_K ? 32 : (t == DType::kQ6_K ? 64 : 16));
}

// --- activations ------------------------------------------------------------------------------

struct Q8KRow {
  std::vector<block_q8_K> blocks;
  std::vector<double> values;  // d * q, exactly
};

Q8KRow MakeActivations(const std::vector<float>& x) {
  Q8KRow r;
  const int64_t n = static_cast<int64_t>(x.size());
  r.blocks.resize(n / kQK_K);
  ref::QuantizeRowQ8_K(x.data(), r.blocks.data(), n);
  for (const block_q8_K& b : r.blocks) {
    for (int j = 0; j < kQK_K; ++j) r.values.push_back(static_cast<double>(b.d) * b.qs[j]);
  }
  return r;
}

// A Q8_K row with chosen quants (bsums made consistent) and block scale d.
Q8KRow CraftActivations(const std::vector<int>& q, float d) {
  Q8KRow r;
  r.blocks.resize(q.size() / kQK_K);
  for (size_t ib = 0; ib < r.blocks.size(); ++ib) {
    block_q8_K& b = r.blocks[ib];
    b.d = d;
    for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<int8_t>(q[ib * kQK_K + j]);
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += b.qs[16 * g + j];
      b.bsums[g] = static_cast<int16_t>(s);
    }
    for (int j = 0; j < kQK_K; ++j) r.values.push_back(static_cast<double>(d) * b.qs[j]);
  }
  return r;
}

// Test inputs: several distributions, chosen per block.
std::vector<float> TestRow(std::mt19937& rng, int64_t n, int kind) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int k = kind >= 0 ? kind : static_cast<int>((i / kQK_K) % 7);
    float v;
    switch (k) {
      case 0:
        v = 0.02f * g(rng);
        break;  // weights-like
      case 1:
        v = u(rng);
        break;  // uniform
      case 2:
        v = g(rng) * (rng() % 50 == 0 ? 1.0f : 0.05f);
        break;  // heavy tail
      case 3:
        v = ((i / 32) % 3 == 0) ? 0.0f : 0.03f * g(rng);
        break;  // zero sub-blocks
      case 4:
        v = std::fabs(0.02f * g(rng));
        break;  // positive only
      case 5:
        v = -std::fabs(0.02f * g(rng));
        break;  // negative only
      default:
        v = (i % 97 == 5) ? 3.0f : 0.01f * g(rng);
        break;  // outliers
    }
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

std::vector<unsigned char> Quantize(DType t, const std::vector<float>& x) {
  std::vector<unsigned char> out(RowBytes(t, static_cast<int64_t>(x.size())));
  Ref().For(t).quantize_row(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> Dequantize(DType t, const unsigned char* row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  Ref().For(t).dequantize_row(row, out.data(), n);
  return out;
}

// Random bytes as blocks: any bit pattern, with the f16 scale fields replaced by random finite
// values (|d| <= 2^k, so products stay far from overflow).
void RandomBlocks(std::mt19937& rng, DType t, unsigned char* row, int64_t nb, float max_scale) {
  std::uniform_real_distribution<float> u(-max_scale, max_scale);
  for (int64_t ib = 0; ib < nb; ++ib) {
    unsigned char* b = row + ib * BlockBytes(t);
    for (size_t i = 0; i < BlockBytes(t); ++i) b[i] = static_cast<unsigned char>(rng());
    switch (t) {
      case DType::kQ4_K:
      case DType::kQ5_K:
        SetU16(b, FloatToHalf(u(rng)));
        SetU16(b + 2, FloatToHalf(u(rng)));
        break;
      case DType::kQ6_K:
        SetU16(b + 208, FloatToHalf(u(rng)));
        break;
      default:
        SetU16(b, FloatToHalf(u(rng)));
        break;
    }
  }
}

// Sets every f16 field of the blocks to `h`.
void SetScales(DType t, unsigned char* row, int64_t nb, uint16_t h) {
  for (int64_t ib = 0; ib < nb; ++ib) {
    unsigned char* b = row + ib * BlockBytes(t);
    if (t == DType::kQ6_K) {
      SetU16(b + 208, h);
    } else {
      SetU16(b, h);
      if (t != DType::kIQ4_XS) SetU16(b + 2, h);
    }
  }
}

// --- the dot-product error model ---------------------------------------------------------------
//
// Every kernel computes exact int32 sums and then, per block, a few float operations: the
// reference (ggml's generic code) rounds d_w * d_x once, each lane product once and adds it into
// one of 8 lane sums (Q4_K, Q5_K, Q6_K: <= nb + 12 roundings per term, counting the final lane
// reduction) or into one running sum per 32 values (IQ4_XS: <= 8 nb + 4). The SIMD kernels
// round d_w * d_x (for the Q4_K / Q5_K mins: dmin * m_j and d_x * bsum pairs), the int32 ->
// float conversion (exact below 2^24; Q6_K's sums of unsigned quants may pass it, which mag
// covers), one FMA per block into a lane, the lane reduction and a final subtraction: <= 2 nb +
// 16. Each is therefore within gamma_m * P of the exact value, P = sum over elements of mag_i *
// |x_i| (Higham, Accuracy and Stability, 3.1), so |simd - ref| <= 1.01 u (m_ref + m_simd) P.
double Magnitude(const std::vector<Decoded>& w, const std::vector<double>& x) {
  double p = 0;
  for (size_t ib = 0; ib < w.size(); ++ib) {
    for (int e = 0; e < kQK_K; ++e) p += w[ib].mag[e] * std::fabs(x[ib * kQK_K + e]);
  }
  return p;
}
double ExactDot(const std::vector<Decoded>& w, const std::vector<double>& x) {
  double s = 0;
  for (size_t ib = 0; ib < w.size(); ++ib) {
    for (int e = 0; e < kQK_K; ++e) s += (w[ib].a[e] - w[ib].b[e]) * x[ib * kQK_K + e];
  }
  return s;
}
double RefRoundings(DType t, int64_t nb) {
  return t == DType::kIQ4_XS ? 8.0 * nb + 4 : static_cast<double>(nb) + 12;
}
double SimdTolerance(DType t, int64_t nb, double p) {
  return 1.01 * kU * (RefRoundings(t, nb) + 2.0 * nb + 16) * p + 1e-35;
}

// --- reference: dequantization ------------------------------------------------------------------

TEST(K456RefDequantize, MatchesElementwiseDecodingOfAnyBlock) {
  std::mt19937 rng(1);
  for (DType t : kTypes) {
    for (int rep = 0; rep < 50; ++rep) {
      const int64_t nb = 1 + rep % 3;
      std::vector<unsigned char> row(nb * BlockBytes(t) + 1);
      RandomBlocks(rng, t, row.data() + 1, nb, rep % 2 ? 1e-3f : 60000.0f);  // misaligned
      if (rep == 7) {  // every bit set, largest finite scales
        std::fill(row.begin() + 1, row.end(), 0xFF);
        SetScales(t, row.data() + 1, nb, 0x7BFF);
      }
      const std::vector<float> got = Dequantize(t, row.data() + 1, nb * kQK_K);
      const std::vector<Decoded> d = DecodeRow(t, row.data() + 1, nb * kQK_K);
      for (int64_t i = 0; i < nb * kQK_K; ++i) {
        ASSERT_EQ(got[i], d[i / kQK_K].f[i % kQK_K])
            << Info(t).name << " rep " << rep << " i " << i;
      }
    }
  }
}

// --- reference: quantization --------------------------------------------------------------------

// Golden hashes of quantize_row_*_ref (llama.cpp b4748, Feb 2025) over deterministic inputs; see
// GoldenInput. They were computed by a direct C transcription of ggml-quants.c (compiled without
// FMA), itself checked byte for byte against llama-quantize's output for 43 tensors per type.
uint64_t Fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
// Inputs from a 32-bit LCG, one pattern per super-block: smooth noise, heavy tails, zero
// sub-blocks, one-signed blocks, outliers, exact ties, a single non-zero value, all zeros,
// tiny and huge magnitudes; each scaled by a power of two that changes every 12 blocks.
std::vector<float> GoldenInput(int n_blocks) {
  std::vector<float> x(static_cast<size_t>(n_blocks) * kQK_K);
  uint32_t s = 12345u;
  auto next = [&s]() {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f;  // [-1, 1)
  };
  for (int b = 0; b < n_blocks; ++b) {
    const float scale = std::ldexp(1.0f, (b / 12) % 7 - 3);  // 2^-3 .. 2^3
    for (int j = 0; j < kQK_K; ++j) {
      const float r = next();
      float v;
      switch (b % 12) {
        case 0:
          v = 0.02f * r;
          break;
        case 1:
          v = r * r * r;
          break;
        case 2:
          v = (j / 32) % 3 == 0 ? 0.0f : 0.03f * r;
          break;
        case 3:
          v = std::fabs(r) * 0.02f;
          break;
        case 4:
          v = -std::fabs(r) * 0.02f;
          break;
        case 5:
          v = j % 97 == 5 ? 3.0f : 0.01f * r;
          break;
        case 6:
          v = static_cast<float>(static_cast<int>(r * 8.0f)) * 0.03125f;
          break;
        case 7:
          v = j == 77 ? -0.75f : 0.0f;
          break;
        case 8:
          v = 0.0f;
          break;
        case 9:
          v = 1e-6f * r;
          break;
        case 10:
          v = 3e4f * r;
          break;
        default:
          v = (j % 2 ? 1.0f : -1.0f) * (0.5f + 0.5f * r) * (j < 128 ? 1.0f : 1e-3f);
          break;
      }
      x[static_cast<size_t>(b) * kQK_K + j] = v * scale;
    }
  }
  return x;
}

TEST(K456RefQuantize, MatchesLlamaCppGoldenHashes) {
  struct Golden {
    DType t;
    uint64_t hash;
  };
  const Golden golden[] = {
      {DType::kQ4_K, 0xafe3614b44802f13ull},
      {DType::kQ5_K, 0xb51d34511c0ae896ull},
      {DType::kQ6_K, 0x1c6620be196eb439ull},
      {DType::kIQ4_XS, 0x1302c10bf82eb84eull},
  };
  constexpr int kBlocks = 1024;  // one-rounding changes to a search show up in ~1% of blocks
  const std::vector<float> x = GoldenInput(kBlocks);
  for (const Golden& g : golden) {
    // Output at an odd address: the reference writes through memcpy.
    std::vector<unsigned char> out(RowBytes(g.t, kBlocks * kQK_K) + 3, 0xA5);
    Ref().For(g.t).quantize_row(x.data(), out.data() + 3, kBlocks * kQK_K);
    EXPECT_EQ(Fnv1a(out.data() + 3, out.size() - 3), g.hash) << Info(g.t).name;
    EXPECT_EQ(out[0], 0xA5);
  }
}

// The last step of every quantizer re-quantizes each value with the stored (f16-decoded) grid of
// its sub-block, so each value's level is the nearest one of that grid. Rounding of (x + m) / d
// can pick the neighbour of a near tie: slack of a few ulps of the operands. IQ4_XS re-quantizes
// with the unrounded super-block scale d, the stored one is its f16 rounding: the grid moves by
// <= 2^-11 relative, so the slack is 2^-10 of the largest level.
TEST(K456RefQuantize, EveryValueTakesTheNearestLevelOfItsGrid) {
  std::mt19937 rng(2);
  for (DType t : kTypes) {
    for (int kind = 0; kind < 7; ++kind) {
      const int64_t n = 8 * kQK_K;
      const std::vector<float> x = TestRow(rng, n, kind);
      const std::vector<unsigned char> q = Quantize(t, x);
      const std::vector<Decoded> d = DecodeRow(t, q.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const Decoded& b = d[i / kQK_K];
        const int e = static_cast<int>(i % kQK_K);
        if (b.step[e] == 0.0f) continue;  // sub-block scale rounded to 0: the search's levels
        double best = INFINITY;
        for (int L = 0; L < NumLevels(t); ++L)
          best = std::min(best, std::fabs(x[i] - Level(t, b, e, L)));
        const double got = std::fabs(x[i] - Level(t, b, e, b.q[e]));
        const double span = std::fabs(b.lo[e]) + std::fabs(b.step[e]) * 128.0;
        const double slack = t == DType::kIQ4_XS ? 0x1p-10 * span + 1e-6 * std::fabs(x[i])
                                                 : 8 * kU * (std::fabs(x[i]) + span);
        ASSERT_LE(got, best + slack) << Info(t).name << " kind " << kind << " i " << i;
      }
    }
  }
}

// Error against the format's step. For uniform-noise rounding the mean square error of a step-s
// grid is s^2 / 12; the K-quant grids are fitted per sub-block (range/15 for Q4_K, range/31 for
// Q5_K, max|x|/32 for Q6_K) with scales rounded to 6 or 8 bits against the block maximum, so a
// sub-block's step is its fitted step within 1/126 (Q4_K, Q5_K) or 1/256 (Q6_K) of the largest
// one plus f16 rounding. IQ4_XS levels are 11 to 24 units of max|x| / 127 apart. The bound
// allows 25% above the uniform-noise value of those steps; measured ratios are 0.03 .. 0.97.
TEST(K456RefQuantize, MeanSquareErrorIsWithinTheFormatStep) {
  std::mt19937 rng(3);
  for (DType t : kTypes) {
    for (int kind = 0; kind < 7; ++kind) {
      const int64_t n = 32 * kQK_K;
      const std::vector<float> x = TestRow(rng, n, kind);
      const std::vector<float> y = Dequantize(t, Quantize(t, x).data(), n);
      double sse = 0, bound = 0, zero = 0;
      const int sub = t == DType::kQ6_K ? 16 : 32;
      for (int64_t s0 = 0; s0 < n; s0 += sub) {
        float mn = 0, mx = 0, amax = 0;  // the K-quant mins are <= 0
        for (int i = 0; i < sub; ++i) {
          mn = std::min(mn, x[s0 + i]);
          mx = std::max(mx, x[s0 + i]);
          amax = std::max(amax, std::fabs(x[s0 + i]));
        }
        double step;
        switch (t) {
          case DType::kQ4_K:
            step = (mx - mn) / 15.0;
            break;
          case DType::kQ5_K:
            step = (mx - mn) / 31.0;
            break;
          case DType::kQ6_K:
            step = amax / 32.0;
            break;
          default:
            step = amax * 24.0 / 127.0;
            break;
        }
        bound += sub * step * step / 12.0;
        for (int i = 0; i < sub; ++i) {
          sse += (static_cast<double>(x[s0 + i]) - y[s0 + i]) * (x[s0 + i] - y[s0 + i]);
          zero += static_cast<double>(x[s0 + i]) * x[s0 + i];
        }
      }
      RecordProperty(std::string(Info(t).name) + "_kind" + std::to_string(kind) + "_mse_ratio",
                     std::to_string(sse / bound));
      EXPECT_LE(sse, 1.25 * bound) << Info(t).name << " kind " << kind;
      EXPECT_LT(sse, 0.05 * zero) << Info(t).name << " kind " << kind;  // 13 dB better than nothing
    }
  }
}

// Scaling the input by a power of two scales every float operation of the quantizers exactly,
// as long as nothing leaves the normal range: the inputs are scaled up first so that every f16
// super-block scale stays a normal f16 number (>= 2^-14; Q6_K's d is about max|x| / 4096).
// Then only the exponents of the f16 scales move and the dequantized values scale exactly.
TEST(K456RefQuantize, PowerOfTwoScalingMovesOnlyTheF16Exponents) {
  std::mt19937 rng(4);
  for (DType t : kTypes) {
    const int64_t n = 7 * kQK_K;
    std::vector<float> x = TestRow(rng, n, -1);
    for (float& v : x) v *= 64.0f;
    for (float f : {0.5f, 4.0f, 32.0f}) {
      std::vector<float> xs(x);
      for (float& v : xs) v *= f;
      const std::vector<float> a = Dequantize(t, Quantize(t, x).data(), n);
      const std::vector<float> b = Dequantize(t, Quantize(t, xs).data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(a[i] * f, b[i]) << Info(t).name << " f " << f << " i " << i;
    }
  }
}

TEST(K456RefQuantize, AllZeroBlocksGiveZeros) {
  for (DType t : kTypes) {
    const std::vector<float> x(3 * kQK_K, 0.0f);
    const std::vector<unsigned char> q = Quantize(t, x);
    for (size_t i = 0; i < q.size(); ++i) {
      // IQ4_XS stores d = -max_scale / 32 = -0.0 (f16 0x8000), the 8 scales as 0 + 32
      // (scales_h = 0xAAAA, scales_l = 0) and every value as index 8 (level +1), as llama.cpp
      // does.
      const size_t at = i % BlockBytes(t);
      const int want = t != DType::kIQ4_XS
                           ? 0
                           : (at == 1 ? 0x80 : (at == 2 || at == 3 ? 0xAA : (at >= 8 ? 0x88 : 0)));
      ASSERT_EQ(q[i], want) << Info(t).name << " byte " << i;
    }
    for (float v : Dequantize(t, q.data(), 3 * kQK_K)) ASSERT_EQ(v, 0.0f) << Info(t).name;
  }
}

// One non-zero value v in a block: it is the maximum of everything, so its sub-block scale is
// the largest (6-bit 63, 8-bit -128) and v comes back within the f16 rounding of the super-block
// scale (2^-11 relative, plus 2^-11 for the scale product); |v| >= 1 keeps that scale a normal
// f16 number. Other sub-blocks stay exactly zero. In v's sub-block: Q6_K's zeros are level 32,
// exact; Q4_K's and Q5_K's are sc * q - m with both rounded like v (|v| < 0 puts the zeros at
// the top level): within 2^-10 |v|; IQ4_XS has no zero level, its nearest to 0 is +-1 unit of
// the sub-block scale (|v| / 113 or |v| / 127, as the search ties the two).
TEST(K456RefQuantize, OneNonZeroValuePerBlock) {
  std::mt19937 rng(5);
  for (DType t : kTypes) {
    for (int rep = 0; rep < 40; ++rep) {
      std::vector<float> x(kQK_K, 0.0f);
      const int pos = static_cast<int>(rng() % kQK_K);
      const float v =
          (rep % 2 ? -1.0f : 1.0f) * std::ldexp(1.0f + (rng() % 1000) / 1000.0f, rep % 9);
      x[pos] = v;
      const std::vector<float> y = Dequantize(t, Quantize(t, x).data(), kQK_K);
      const float av = std::fabs(v);
      for (int i = 0; i < kQK_K; ++i) {
        const bool same_sub = t == DType::kQ6_K ? i / 16 == pos / 16 : i / 32 == pos / 32;
        if (i == pos) {
          ASSERT_NEAR(y[i], v, 0x1p-10 * av) << Info(t).name << " rep " << rep;
        } else if (same_sub && t == DType::kIQ4_XS) {
          ASSERT_NEAR(std::fabs(y[i]), av / 113.0f,
                      av * (1 / 113.0 - 1 / 127.0) + 0x1p-10 * av / 113)
              << Info(t).name << " rep " << rep << " i " << i;
        } else if (same_sub && t != DType::kQ6_K) {
          ASSERT_NEAR(y[i], 0.0f, 0x1p-10 * av) << Info(t).name << " rep " << rep << " i " << i;
        } else {
          ASSERT_EQ(y[i], 0.0f) << Info(t).name << " rep " << rep << " i " << i;
        }
      }
    }
  }
}

// Largest magnitudes a GGUF tensor holds (f16-range weights) and tiny ones: relative error stays
// that of the format; below the f16 range of the scales the block flushes to zero, never to
// NaN or inf.
TEST(K456RefQuantize, ExtremeMagnitudesStayFinite) {
  std::mt19937 rng(6);
  for (DType t : kTypes) {
    for (float mag : {65504.0f, 1e-30f, 1e-9f}) {
      std::vector<float> x = TestRow(rng, 2 * kQK_K, 1);
      for (float& v : x) v *= mag;
      x[3] = mag;
      x[300] = -mag;
      const std::vector<float> y = Dequantize(t, Quantize(t, x).data(), 2 * kQK_K);
      double sse = 0, ssx = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << Info(t).name << " mag " << mag << " i " << i;
        sse += (static_cast<double>(x[i]) - y[i]) * (x[i] - y[i]);
        ssx += static_cast<double>(x[i]) * x[i];
      }
      EXPECT_LE(sse, (mag > 1e-6f ? 0.01 : 1.0) * ssx) << Info(t).name << " mag " << mag;
    }
  }
}

// --- reference: dot product
// -------------------------------------------------------------------------

TEST(K456RefVecDot, MatchesDoubleDotOfTheDecodedRows) {
  std::mt19937 rng(7);
  for (DType t : kTypes) {
    for (int64_t nb : {1, 2, 5, 16}) {
      const int64_t n = nb * kQK_K;
      for (int rep = 0; rep < 6; ++rep) {
        std::vector<unsigned char> w(RowBytes(t, n));
        if (rep < 3) {
          w = Quantize(t, TestRow(rng, n, -1));
        } else {
          RandomBlocks(rng, t, w.data(), nb, rep == 3 ? 1.0f : 100.0f);
        }
        const Q8KRow x = MakeActivations(TestRow(rng, n, rep % 7));
        const std::vector<Decoded> d = DecodeRow(t, w.data(), n);
        const double exact = ExactDot(d, x.values);
        const double tol = 1.01 * kU * RefRoundings(t, nb) * Magnitude(d, x.values) + 1e-35;
        EXPECT_NEAR(Ref().For(t).vec_dot(n, w.data(), x.blocks.data()), exact, tol)
            << Info(t).name << " nb " << nb << " rep " << rep;
      }
    }
  }
}

// --- SIMD against the reference
// ---------------------------------------------------------------------

class K456SimdTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    set_ = GetKernelSet(GetParam());
    if (!set_) GTEST_SKIP() << "kernel set not built or not supported by this CPU";
  }
  const KernelSet* set_ = nullptr;
};

// Weight rows of nb blocks in one of several styles.
void FillWeights(std::mt19937& rng, DType t, int style, unsigned char* row, int64_t nb) {
  const int64_t n = nb * kQK_K;
  switch (style % 5) {
    case 0: {
      const std::vector<unsigned char> q = Quantize(t, TestRow(rng, n, -1));
      std::memcpy(row, q.data(), q.size());
      break;
    }
    case 1:
      RandomBlocks(rng, t, row, nb, 2.0f);
      break;
    case 2:  // every quant and scale bit set, largest finite scales
      std::memset(row, 0xFF, RowBytes(t, n));
      SetScales(t, row, nb, 0x7BFF);
      break;
    case 3:
      std::memset(row, 0, RowBytes(t, n));
      break;
    default:  // every bit set, negative scales
      std::memset(row, 0xFF, RowBytes(t, n));
      SetScales(t, row, nb, FloatToHalf(-0.37f));
      break;
  }
}

Q8KRow ActivationsOfStyle(std::mt19937& rng, int style, int64_t n) {
  if (style % 4 == 3) {  // +-127 everywhere: the largest products
    std::vector<int> q(static_cast<size_t>(n));
    for (int& v : q) v = rng() % 2 ? 127 : -127;
    return CraftActivations(q, 0.013f);
  }
  std::vector<float> x = TestRow(rng, n, static_cast<int>(rng() % 7));
  if (style % 4 == 1)
    for (float& v : x) v *= 1e4f;
  return MakeActivations(x);
}

TEST_P(K456SimdTest, VecDotMatchesReference) {
  std::mt19937 rng(10);
  for (DType t : kTypes) {
    for (int64_t nb : {1, 2, 3, 8, 17, 36}) {
      const int64_t n = nb * kQK_K;
      const size_t bytes = RowBytes(t, n);
      for (int style = 0; style < 10; ++style) {
        const Q8KRow xs = ActivationsOfStyle(rng, style, n);
        std::vector<unsigned char> wrow(bytes);
        FillWeights(rng, t, style, wrow.data(), nb);
        const std::vector<Decoded> d = DecodeRow(t, wrow.data(), n);
        const double tol = SimdTolerance(t, nb, Magnitude(d, xs.values));
        // Every byte misalignment of the weight row for one-block rows, a few for longer ones;
        // the activation row walks a co-prime sequence of offsets.
        for (size_t off = 0; off < 64; off += (nb == 1 ? 1 : 13)) {
          Buffer w(bytes, off), x(nb * kQ8KBytes, (off * 29 + 3) % 64);
          std::memcpy(w.data(), wrow.data(), bytes);
          std::memcpy(x.data(), xs.blocks.data(), nb * kQ8KBytes);
          const float want = Ref().For(t).vec_dot(n, w.data(), x.data());
          const float got = set_->For(t).vec_dot(n, w.data(), x.data());
          ASSERT_NEAR(got, want, tol)
              << Info(t).name << " nb " << nb << " style " << style << " off " << off;
          ASSERT_TRUE(w.GuardIntact() && x.GuardIntact());
        }
      }
    }
  }
}

// Rows ending exactly at the end of their allocation: a kernel reading past the row (or past
// the activation row) is a heap-buffer-overflow under ASan.
TEST_P(K456SimdTest, ReadsNothingPastTheRows) {
  std::mt19937 rng(11);
  for (DType t : kTypes) {
    for (int64_t nb : {1, 3}) {
      const int64_t n = nb * kQK_K;
      const size_t bytes = RowBytes(t, n);
      for (size_t off : {size_t{0}, size_t{1}, size_t{31}}) {
        std::vector<unsigned char> w(off + bytes), x(off + nb * kQ8KBytes);
        FillWeights(rng, t, 0, w.data() + off, nb);
        const Q8KRow xs = MakeActivations(TestRow(rng, n, 1));
        std::memcpy(x.data() + off, xs.blocks.data(), nb * kQ8KBytes);
        const float want = Ref().For(t).vec_dot(n, w.data() + off, x.data() + off);
        EXPECT_NEAR(set_->For(t).vec_dot(n, w.data() + off, x.data() + off), want,
                    SimdTolerance(t, nb, Magnitude(DecodeRow(t, w.data() + off, n), xs.values)));
        float y = 0;
        set_->For(t).mat_mul(w.data() + off, bytes, 0, 1, n, x.data() + off, nb * kQ8KBytes, 1, &y,
                             1);
        EXPECT_NEAR(y, want,
                    SimdTolerance(t, nb, Magnitude(DecodeRow(t, w.data() + off, n), xs.values)));
      }
    }
  }
}

// Blocks with d = dmin = 1 and activations with d = 1 whose largest possible partial sum
// (P below) is under 2^24: every float the kernels form is an integer under 2^24, exact in
// every summation order, so every set must return exactly the reference's value. Quant and
// scale bits are random (any pattern, including the maddubs corner |w| = 127 against x = -127
// for IQ4_XS and q = 63 for Q6_K); the activation range is chosen per type so P < 2^24.
TEST_P(K456SimdTest, IntegerBlocksGiveExactlyTheReference) {
  std::mt19937 rng(12);
  for (DType t : kTypes) {
    const int xmax =
        t == DType::kQ4_K ? 63 : (t == DType::kQ5_K ? 31 : (t == DType::kQ6_K ? 4 : 16));
    for (int64_t nb : {1}) {
      const int64_t n = nb * kQK_K;
      for (int rep = 0; rep < 200; ++rep) {
        std::vector<unsigned char> w(RowBytes(t, n));
        for (unsigned char& b : w) b = static_cast<unsigned char>(rng());
        if (rep == 0) std::memset(w.data(), 0xFF, w.size());
        SetScales(t, w.data(), nb, 0x3C00);  // 1.0
        std::vector<int> q(static_cast<size_t>(n));
        for (int& v : q) v = static_cast<int>(rng() % (2 * xmax + 1)) - xmax;
        if (rep == 0) std::fill(q.begin(), q.end(), -xmax);
        const Q8KRow x = CraftActivations(q, 1.0f);
        ASSERT_LT(Magnitude(DecodeRow(t, w.data(), n), x.values), 16777216.0) << Info(t).name;
        const float want = Ref().For(t).vec_dot(n, w.data(), x.blocks.data());
        ASSERT_EQ(want, static_cast<float>(ExactDot(DecodeRow(t, w.data(), n), x.values)));
        ASSERT_EQ(set_->For(t).vec_dot(n, w.data(), x.blocks.data()), want)
            << Info(t).name << " rep " << rep;
        float y = 0;
        set_->For(t).mat_mul(w.data(), 0, 0, 1, n, x.blocks.data(), 0, 1, &y, 1);
        ASSERT_EQ(y, want) << Info(t).name << " rep " << rep;
      }
    }
  }
}

// The 16-bit corners: every quant at its largest magnitude (Q4_K 15, Q5_K 31, Q6_K 63,
// IQ4_XS -127) with all scales 1 against activations of -128 (what an int8 can hold, one past
// what the quantizer makes) and of +127: maddubs pairs and vpdpbusd lanes reach 2 * 128 * 127
// and 4 * 63 * 128, both below 2^15, so the sums stay exact and small (P < 2^24): every set
// must return exactly the reference's value, which is the exact integer.
TEST_P(K456SimdTest, LargestQuantsAgainstMinus128AreExact) {
  for (DType t : kTypes) {
    const int64_t n = kQK_K;
    std::vector<unsigned char> w(RowBytes(t, n), 0xFF);
    unsigned char* b = w.data();
    switch (t) {
      case DType::kQ4_K:
      case DType::kQ5_K:
        std::memset(b + 4, 0x01, 8);   // 6-bit scales and mins 0..3 = 1
        std::memset(b + 12, 0x11, 4);  // 4..7 = 1 (low nibble scale, high nibble min)
        break;
      case DType::kQ6_K:
        std::memset(b + 192, 0x01, 16);
        break;
      default:
        SetU16(b + 2, 0xAAAA);  // high bits 2: ls = 33 with low nibble 1
        std::memset(b + 4, 0x11, 4);
        std::memset(b + 8, 0x00, 128);  // index 0: level -127
        break;
    }
    SetScales(t, b, 1, 0x3C00);
    for (int xv : {-128, 127}) {
      const Q8KRow x = CraftActivations(std::vector<int>(n, xv), 1.0f);
      const std::vector<Decoded> d = DecodeRow(t, b, n);
      ASSERT_LT(Magnitude(d, x.values), 16777216.0);
      const float want = Ref().For(t).vec_dot(n, b, x.blocks.data());
      ASSERT_EQ(want, static_cast<float>(ExactDot(d, x.values))) << Info(t).name;
      EXPECT_EQ(set_->For(t).vec_dot(n, b, x.blocks.data()), want) << Info(t).name << " x " << xv;
      float y[2] = {0, 0};
      set_->For(t).mat_mul(b, 0, 0, 1, n, x.blocks.data(), 0, 2, y, 1);  // decode and prefill
      EXPECT_EQ(y[0], want) << Info(t).name << " x " << xv;
      set_->For(t).mat_mul(b, 0, 0, 1, n, x.blocks.data(), 0, 1, y + 1, 1);
      EXPECT_EQ(y[1], want) << Info(t).name << " x " << xv;
    }
  }
}

// Every tile shape and remainder: rows r0 + [0, 19] and r0 + {32, 37, 48, 53} with r0 in {0, 3},
// tokens 1..9 and 17, rows and tokens not packed (odd padding misaligns each row differently),
// y_stride > r1, sentinels around the written rows.
TEST_P(K456SimdTest, MatMulMatchesReference) {
  std::mt19937 rng(13);
  for (DType t : kTypes) {
    for (int64_t k : {int64_t{kQK_K}, int64_t{3 * kQK_K}, int64_t{11 * kQK_K}}) {
      const int64_t nb = k / kQK_K;
      const size_t row = RowBytes(t, k);
      const int64_t max_rows = 53 + 3;
      const int max_tok = 17;
      const size_t wrb = row + 5, xrb = nb * kQ8KBytes + 3;
      Buffer w(wrb * max_rows, static_cast<size_t>(k % 61 + 1)), x(xrb * max_tok, 7);
      std::vector<std::vector<Decoded>> wd;
      for (int64_t r = 0; r < max_rows; ++r) {
        FillWeights(rng, t, static_cast<int>(r % 7 == 6 ? 1 : (r % 7 == 5 ? 2 : 0)),
                    w.data() + r * wrb, nb);
        wd.push_back(DecodeRow(t, w.data() + r * wrb, k));
      }
      std::vector<std::vector<double>> xv;
      for (int tok = 0; tok < max_tok; ++tok) {
        const Q8KRow q = ActivationsOfStyle(rng, tok, k);
        std::memcpy(x.data() + tok * xrb, q.blocks.data(), nb * kQ8KBytes);
        xv.push_back(q.values);
      }
      // 32..53 rows: two 16-row panels at a time in the AVX-512 prefill (Q4_K, Q5_K), then one,
      // then the row kernels.
      for (int64_t r0 : {0, 3}) {
        for (int64_t nr : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                           32, 37, 48, 53}) {
          for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
            const int64_t r1 = r0 + nr;
            const auto tol = [&](int64_t r, int tok) {
              return SimdTolerance(t, nb, Magnitude(wd[r], xv[tok]));
            };
            ASSERT_NO_FATAL_FAILURE(testing::ExpectMatMulMatchesRef(
                *set_, t, k, w.data(), wrb, x.data(), xrb, r0, r1, n_tok, tol));
          }
        }
      }
      ASSERT_TRUE(w.GuardIntact() && x.GuardIntact());
    }
  }
}

// A long row (the Qwen2.5-1.5B FFN width) through MatMul's decode and prefill paths.
TEST_P(K456SimdTest, LongRowsMatchReference) {
  std::mt19937 rng(14);
  for (DType t : kTypes) {
    const int64_t k = 8960 / kQK_K * kQK_K;  // 35 blocks
    const int64_t nb = k / kQK_K;
    const size_t row = RowBytes(t, k);
    const int rows = 9, toks = 5;
    std::vector<unsigned char> w(row * rows);
    std::vector<std::vector<Decoded>> wd;
    for (int r = 0; r < rows; ++r) {
      FillWeights(rng, t, r == 4 ? 1 : 0, w.data() + r * row, nb);
      wd.push_back(DecodeRow(t, w.data() + r * row, k));
    }
    std::vector<block_q8_K> x;
    std::vector<std::vector<double>> xv;
    for (int tok = 0; tok < toks; ++tok) {
      const Q8KRow q = MakeActivations(TestRow(rng, k, -1));
      x.insert(x.end(), q.blocks.begin(), q.blocks.end());
      xv.push_back(q.values);
    }
    for (int n_tok : {1, toks}) {
      std::vector<float> want(rows * n_tok), got(rows * n_tok);
      Ref().For(t).mat_mul(w.data(), row, 0, rows, k, x.data(), nb * kQ8KBytes, n_tok, want.data(),
                           rows);
      set_->For(t).mat_mul(w.data(), row, 0, rows, k, x.data(), nb * kQ8KBytes, n_tok, got.data(),
                           rows);
      for (int tok = 0; tok < n_tok; ++tok) {
        for (int r = 0; r < rows; ++r) {
          ASSERT_NEAR(got[tok * rows + r], want[tok * rows + r],
                      SimdTolerance(t, nb, Magnitude(wd[r], xv[tok])))
              << Info(t).name << " r " << r << " tok " << tok;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(K456, K456SimdTest, ::testing::ValuesIn(kSimdIsas), IsaName);

}  // namespace
}  // namespace ondo::kernels
