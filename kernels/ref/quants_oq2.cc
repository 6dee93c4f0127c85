// Scalar reference of OQ2, ondo's 2-bit type (layout in blocks.h): the specification its SIMD
// kernels are tested against, and its importance-weighted quantizer.
//
// The quantizer fits each super-block of 256 values in three steps, minimising the weighted
// squared error sum_i w_i (x_i - y_i)^2 with w_i from the importance matrix when there is one:
//  1. every sub-block of 32, alone: for each of the four grids, a sweep of trial scales that put
//     the largest value near an end level, each followed by the least-squares scale for the
//     indices it gives; two assign/refit rounds on the best trial of each grid;
//  2. the super-block scale d from the largest sub-block scale (put at level 15, then 14), each
//     sub-block's 4-bit scale (nearest and its two neighbours) and grid chosen again by the
//     error they give with that d, d refitted by least squares over the super-block and the
//     choice made again; the start with the smaller total error wins;
//  3. the indices assigned for the f16-rounded d.

#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/quant_util.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {
namespace {

constexpr int kSub = kOq2SubBlock;
constexpr int kNumSub = kQK_K / kSub;
constexpr int kNumGrids = 4;
constexpr int kMaxScale = 15;
constexpr int kStarts = 2;          // starting values of d tried per super-block: the largest
constexpr float kStartStep = 1.0f;  // sub-block scale at 15 and 14 (more measured no better)

struct Grids {
  float level[kNumGrids][4];
  float mid[kNumGrids][3];  // decision thresholds: midpoints of adjacent levels
};

constexpr Grids MakeGrids() {
  Grids g{};
  for (int k = 0; k < kNumGrids; ++k) {
    for (int q = 0; q < 4; ++q) g.level[k][q] = static_cast<float>(kOq2Grid[k][q]);
    for (int q = 0; q < 3; ++q) g.mid[k][q] = 0.5f * (g.level[k][q] + g.level[k][q + 1]);
  }
  return g;
}
constexpr Grids kGrids = MakeGrids();

static_assert(kOq2Grid[0][0] >= -kOq2Offset && kOq2Grid[1][3] < kOq2Offset &&
                  kOq2Grid[2][0] >= -kOq2Offset && kOq2Grid[3][3] < kOq2Offset,
              "levels + kOq2Offset must fit in 0..63");

inline int Nearest(int g, float v) {
  const float* m = kGrids.mid[g];
  return (v > m[0]) + (v > m[1]) + (v > m[2]);
}

// sum w x c and sum w c^2 over n values for indices nearest to x / s in grid g.
inline void Stats(const float* x, const float* w, int n, int g, float inv_s, float* sxc,
                  float* scc) {
  float a = 0, b = 0;
  for (int i = 0; i < n; ++i) {
    const float c = kGrids.level[g][Nearest(g, x[i] * inv_s)];
    a += w[i] * x[i] * c;
    b += w[i] * c * c;
  }
  *sxc = a;
  *scc = b;
}

struct Fit {
  int grid = 0;
  float scale = 0;  // > 0, or 0 for an all-zero sub-block
};

// Step 1: the best grid and real-valued scale of one sub-block. The error of a scale s with
// its nearest indices is sum w x^2 - 2 s sxc + s^2 scc; at the least-squares s = sxc / scc it
// is sum w x^2 - sxc^2 / scc, so the trial with the largest sxc^2 / scc wins.
Fit FitSubBlock(const float* x, const float* w) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < kSub; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  Fit best;
  if (amax < kGroupMaxEps) return best;
  float best_gain = -1;
  constexpr int kSteps = 6;
  for (int g = 0; g < kNumGrids; ++g) {
    // The largest value lands on the end level of its sign.
    const float end = vmax > 0 ? kGrids.level[g][3] : kGrids.level[g][0];
    float g_gain = -1, g_scale = 0;
    for (int it = -kSteps; it <= kSteps; ++it) {
      const float s = vmax / end * (1.0f + 0.05f * static_cast<float>(it));
      float sxc, scc;
      Stats(x, w, kSub, g, 1.0f / s, &sxc, &scc);
      if (scc <= 0 || sxc <= 0) continue;
      const float gain = sxc * sxc / scc;
      if (gain > g_gain) {
        g_gain = gain;
        g_scale = sxc / scc;
      }
    }
    for (int round = 0; round < 2 && g_scale > 0; ++round) {
      float sxc, scc;
      Stats(x, w, kSub, g, 1.0f / g_scale, &sxc, &scc);
      if (scc <= 0 || sxc <= 0) break;
      const float gain = sxc * sxc / scc;
      if (gain <= g_gain) break;
      g_gain = gain;
      g_scale = sxc / scc;
    }
    if (g_gain > best_gain) {
      best_gain = g_gain;
      best.grid = g;
      best.scale = g_scale;
    }
  }
  return best;
}

// Weighted error of sub-block x with the effective scale s (= d * sc) and grid g.
inline float SubError(const float* x, const float* w, int g, float s) {
  float e = 0;
  if (s <= 0) {
    for (int i = 0; i < kSub; ++i) e += w[i] * x[i] * x[i];
    return e;
  }
  const float inv = 1.0f / s;
  for (int i = 0; i < kSub; ++i) {
    const float diff = x[i] - s * kGrids.level[g][Nearest(g, x[i] * inv)];
    e += w[i] * diff * diff;
  }
  return e;
}

void QuantizeBlock(const float* x, const float* w, block_oq2* y) {
  std::memset(y, 0, sizeof *y);
  Fit fit[kNumSub];
  float max_scale = 0;
  for (int j = 0; j < kNumSub; ++j) {
    fit[j] = FitSubBlock(x + kSub * j, w + kSub * j);
    if (fit[j].scale > max_scale) max_scale = fit[j].scale;
  }
  if (max_scale <= 0) return;  // all zero: d = 0

  // Step 2, from a few starting d (the largest sub-block scale at 15, 14, ... levels); the
  // start whose fit has the least total error wins.
  int sc[kNumSub] = {}, grid[kNumSub] = {};
  float d = 0, best_total = -1;
  for (int start = 0; start < kStarts; ++start) {
    int sc_try[kNumSub], grid_try[kNumSub];
    float d_try = max_scale / (kMaxScale - kStartStep * static_cast<float>(start));
    float total = 0;
    for (int round = 0; round < 2; ++round) {
      total = 0;
      for (int j = 0; j < kNumSub; ++j) {
        const float* xs = x + kSub * j;
        const float* ws = w + kSub * j;
        const int nearest = NearestInt(fit[j].scale / d_try);
        float best_e = SubError(xs, ws, 0, 0);
        sc_try[j] = 0;
        grid_try[j] = 0;
        for (int cand = nearest - 1; cand <= nearest + 1; ++cand) {
          if (cand < 1 || cand > kMaxScale) continue;
          for (int g = 0; g < kNumGrids; ++g) {
            const float e = SubError(xs, ws, g, d_try * static_cast<float>(cand));
            if (e < best_e) {
              best_e = e;
              sc_try[j] = cand;
              grid_try[j] = g;
            }
          }
        }
        total += best_e;
      }
      if (round == 1) break;  // total is the error of this d; the refit is for round 2
      // Least-squares d for the chosen scales, grids and their indices.
      float num = 0, den = 0;
      for (int j = 0; j < kNumSub; ++j) {
        if (sc_try[j] == 0) continue;
        const float inv = 1.0f / (d_try * static_cast<float>(sc_try[j]));
        for (int i = 0; i < kSub; ++i) {
          const float xi = x[kSub * j + i];
          const float c = static_cast<float>(sc_try[j]) * kGrids.level[grid_try[j]][Nearest(grid_try[j], xi * inv)];
          num += w[kSub * j + i] * xi * c;
          den += w[kSub * j + i] * c * c;
        }
      }
      if (den > 0 && num > 0) d_try = num / den;
    }
    if (best_total < 0 || total < best_total) {
      best_total = total;
      d = d_try;
      std::memcpy(sc, sc_try, sizeof sc);
      std::memcpy(grid, grid_try, sizeof grid);
    }
  }

  // Step 3 (d within f16 range: a row this large gets a coarser fit, never an infinity).
  y->d = FloatToHalfBits(d < 65504.0f ? d : 65504.0f);
  const float dh = HalfBitsToFloat(y->d);
  uint8_t L[kQK_K] = {};
  for (int j = 0; j < kNumSub; ++j) {
    y->scales[j % 4] = static_cast<uint8_t>(y->scales[j % 4] | (sc[j] << (4 * (j / 4))));
    y->grids = static_cast<uint16_t>(y->grids | (grid[j] << (4 * (j % 4) + 2 * (j / 4))));
    const float s = dh * static_cast<float>(sc[j]);
    if (s <= 0) continue;  // index 0 with scale 0 is 0
    const float inv = 1.0f / s;
    for (int i = 0; i < kSub; ++i) {
      L[kSub * j + i] = static_cast<uint8_t>(Nearest(grid[j], x[kSub * j + i] * inv));
    }
  }
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* v = L + 128 * h + l;
      y->qs[32 * h + l] = static_cast<uint8_t>(v[0] | (v[32] << 2) | (v[64] << 4) | (v[96] << 6));
    }
  }
}

}  // namespace

void QuantizeRowOQ2Weighted(const float* x, void* out, int64_t n, const float* imatrix) {
  assert(n % kQK_K == 0);
  double sum_x2 = 0;
  for (int64_t i = 0; i < n; ++i) sum_x2 += static_cast<double>(x[i]) * x[i];
  const float sigma2 = n > 0 ? static_cast<float>(sum_x2 / static_cast<double>(n)) : 0.0f;
  float w[kQK_K];
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const float* xb = x + ib * kQK_K;
    float wsum = 0;
    for (int i = 0; i < kQK_K; ++i) {
      const float x2 = xb[i] * xb[i];
      // llama.cpp's weighting for its IQ types (measured best of four here by KL divergence:
      // imatrix alone, imatrix * (sigma2 + x^2), x^2 and 1 were all worse).
      w[i] = imatrix != nullptr ? imatrix[ib * kQK_K + i] * std::sqrt(sigma2 + x2)
                                : 0.25f * sigma2 + x2;
      wsum += w[i];
    }
    if (!(wsum > 0)) {  // columns the calibration never reached: plain least squares
      for (float& v : w) v = 1.0f;
    }
    block_oq2 y;
    QuantizeBlock(xb, w, &y);
    StoreBlock(out, ib, y);
  }
}

void QuantizeRowOQ2(const float* x, void* out, int64_t n) {
  QuantizeRowOQ2Weighted(x, out, n, nullptr);
}

void DequantizeRowOQ2(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const block_oq2 b = LoadBlock<block_oq2>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    float* y = out + ib * kQK_K;
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        const int j = 4 * h + s;
        const float dl = d * static_cast<float>(Oq2Scale(b, j));
        const int8_t* grid = kOq2Grid[Oq2GridOf(b, j)];
        for (int l = 0; l < 32; ++l) {
          y[128 * h + 32 * s + l] = dl * static_cast<float>(grid[(b.qs[32 * h + l] >> (2 * s)) & 3]);
        }
      }
    }
  }
}

// Per super-block: the integer sum over sub-blocks of sc[j] * sum(level * q8), times d_w * d_x.
float VecDotOQ2(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const block_oq2 b = LoadBlock<block_oq2>(w_row, ib);
    const block_q8_K a = LoadBlock<block_q8_K>(x_vd, ib);
    int isum = 0;
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        const int j = 4 * h + s;
        const int8_t* grid = kOq2Grid[Oq2GridOf(b, j)];
        const int8_t* q8 = a.qs + 128 * h + 32 * s;
        int sub = 0;
        for (int l = 0; l < 32; ++l) sub += grid[(b.qs[32 * h + l] >> (2 * s)) & 3] * q8[l];
        isum += Oq2Scale(b, j) * sub;
      }
    }
    sumf += HalfBitsToFloat(b.d) * a.d * static_cast<float>(isum);
  }
  return sumf;
}

void MatMulOQ2(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotOQ2>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
