// Scalar reference: normalisation, activations, rope and attention, following ggml's CPU ops.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {
namespace {

block_q8_0 LoadBlockQ8_0(const unsigned char* row, int64_t ib) {
  block_q8_0 b;
  std::memcpy(&b, row + ib * sizeof(block_q8_0), sizeof b);
  return b;
}

}  // namespace

void RmsNorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  // ggml_compute_forward_rms_norm_f32, then ggml_mul by the weight.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * scale;
    out[i] = w ? v * w[i] : v;
  }
}

void LayerNorm(const float* x, const float* w, const float* b, float* out, int64_t n, float eps) {
  // ggml_compute_forward_norm_f32 (mean in double, centred variance in double), then mul, add.
  if (n <= 0) return;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double sum2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] - mean;
    out[i] = v;
    sum2 += static_cast<double>(v * v);
  }
  const float variance = static_cast<float>(sum2 / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = out[i] * scale;
    if (w) v *= w[i];
    if (b) v += b[i];
    out[i] = v;
  }
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - max);
    x[i] = e;
    sum += static_cast<double>(e);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void SwiGlu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void Gelu(const float* x, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + kCoefA * v * v)));
  }
}

void GeGlu(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = gate[i];
    out[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + kCoefA * v * v))) * up[i];
  }
}

void Add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void Rope(float* x, int n_heads, int head_dim, int pos, const RopeParams& p) {
  const int n_rot = p.n_rot;
  assert(n_rot % 2 == 0 && n_rot <= head_dim);
  // ggml_rope_cache_init + rope_yarn: theta_extrap starts at pos and is multiplied by
  // theta_scale pair after pair; each pair's angle is divided by its frequency factor.
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(n_rot));
  const int half = n_rot / 2;
  float theta_base = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
    const float theta_extrap = theta_base / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    if (p.ext_factor != 0.0f) {
      const float y = (static_cast<float>(i0 / 2) - p.corr_low) / std::max(0.001f, p.corr_high - p.corr_low);
      const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
      theta = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
    }
    const float c = std::cos(theta) * p.mscale;
    const float s = std::sin(theta) * p.mscale;
    const int a = p.mode == RopeMode::kNormal ? i0 : i0 / 2;
    const int b = p.mode == RopeMode::kNormal ? i0 + 1 : i0 / 2 + half;
    for (int h = 0; h < n_heads; ++h) {
      float* xh = x + static_cast<int64_t>(h) * head_dim;
      const float x0 = xh[a];
      const float x1 = xh[b];
      xh[a] = x0 * c - x1 * s;
      xh[b] = x0 * s + x1 * c;
    }
    theta_base *= theta_scale;
  }
}

void AttentionF16(const AttentionArgs& args) {
  const int ng = args.n_group;
  const int hd = args.head_dim;
  const int n_kv = args.n_kv;
  float* out = args.out;
  float* scores = args.scratch;  // [n_group][n_kv]
  // q rounded to f16 (the vec-dot type of an f16 K), kept as floats in `out` until phase 3.
  for (int64_t i = 0; i < static_cast<int64_t>(ng) * hd; ++i) {
    out[i] = HalfBitsToFloat(FloatToHalfBits(args.q[i]));
  }
  // Phase 1: scores. Rows outer, heads inner: each K row is read once for the whole group.
  for (int j = 0; j < n_kv; ++j) {
    const uint16_t* kj = args.k + static_cast<int64_t>(j) * args.kv_row_stride;
    for (int g = 0; g < ng; ++g) {
      const float* qg = out + static_cast<int64_t>(g) * hd;
      double sum = 0.0;
      for (int i = 0; i < hd; ++i) sum += static_cast<double>(qg[i] * HalfBitsToFloat(kj[i]));
      scores[static_cast<int64_t>(g) * n_kv + j] = static_cast<float>(sum) * args.scale;
    }
  }
  // Phase 2: softmax per head, probabilities rounded to f16 (ggml converts them to the
  // vec-dot type of the f16 V before the second product).
  for (int g = 0; g < ng; ++g) {
    float* s = scores + static_cast<int64_t>(g) * n_kv;
    Softmax(s, n_kv);
    for (int j = 0; j < n_kv; ++j) s[j] = HalfBitsToFloat(FloatToHalfBits(s[j]));
  }
  // Phase 3: out = sum_j p_j V_j in f32, rows outer, heads inner.
  for (int64_t i = 0; i < static_cast<int64_t>(ng) * hd; ++i) out[i] = 0.0f;
  for (int j = 0; j < n_kv; ++j) {
    const uint16_t* vj = args.v + static_cast<int64_t>(j) * args.kv_row_stride;
    for (int g = 0; g < ng; ++g) {
      const float p = scores[static_cast<int64_t>(g) * n_kv + j];
      float* og = out + static_cast<int64_t>(g) * hd;
      for (int i = 0; i < hd; ++i) og[i] += p * HalfBitsToFloat(vj[i]);
    }
  }
}

void AttentionQ8_0(const AttentionQ8Args& args) {
  assert(args.head_dim % kQK8_0 == 0);
  const int ng = args.n_group;
  const int hd = args.head_dim;
  const int n_kv = args.n_kv;
  const int nb = hd / kQK8_0;
  const auto* kb = static_cast<const unsigned char*>(args.k);
  const auto* vb = static_cast<const unsigned char*>(args.v);
  float* out = args.out;
  float* scores = args.scratch;  // [n_group][n_kv]
  // Phase 1: scores from q as given (read before `out`, which may alias q, is written).
  for (int j = 0; j < n_kv; ++j) {
    const unsigned char* kj = kb + static_cast<int64_t>(j) * args.kv_row_bytes;
    for (int g = 0; g < ng; ++g) {
      const float* qg = args.q + static_cast<int64_t>(g) * hd;
      double sum = 0.0;
      for (int ib = 0; ib < nb; ++ib) {
        const block_q8_0 b = LoadBlockQ8_0(kj, ib);
        const float d = HalfBitsToFloat(b.d);
        for (int i = 0; i < kQK8_0; ++i) {
          sum += static_cast<double>(qg[ib * kQK8_0 + i] * (static_cast<float>(b.qs[i]) * d));
        }
      }
      scores[static_cast<int64_t>(g) * n_kv + j] = static_cast<float>(sum) * args.scale;
    }
  }
  // Phase 2: softmax per head; the probabilities stay f32.
  for (int g = 0; g < ng; ++g) Softmax(scores + static_cast<int64_t>(g) * n_kv, n_kv);
  // Phase 3: out = sum_j p_j V_j in f32, rows outer, heads inner.
  for (int64_t i = 0; i < static_cast<int64_t>(ng) * hd; ++i) out[i] = 0.0f;
  for (int j = 0; j < n_kv; ++j) {
    const unsigned char* vj = vb + static_cast<int64_t>(j) * args.kv_row_bytes;
    for (int g = 0; g < ng; ++g) {
      const float p = scores[static_cast<int64_t>(g) * n_kv + j];
      float* og = out + static_cast<int64_t>(g) * hd;
      for (int ib = 0; ib < nb; ++ib) {
        const block_q8_0 b = LoadBlockQ8_0(vj, ib);
        const float d = HalfBitsToFloat(b.d);
        for (int i = 0; i < kQK8_0; ++i) og[ib * kQK8_0 + i] += p * (static_cast<float>(b.qs[i]) * d);
      }
    }
  }
}

}  // namespace ondo::kernels::ref
