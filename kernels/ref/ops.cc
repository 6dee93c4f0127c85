// Scalar reference: normalisation, activations, rope and attention, following ggml's CPU ops.
#include <cassert>
#include <cmath>

#include "kernels/ref/fp16.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {

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

void Add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void Rope(float* x, int n_heads, int head_dim, int n_rot, int pos, float freq_base,
          float freq_scale, RopeMode mode) {
  assert(n_rot % 2 == 0 && n_rot <= head_dim);
  // ggml_rope_cache_init + rope_yarn with ext_factor = 0, mscale = 1: theta_extrap starts at
  // pos and is multiplied by theta_scale pair after pair; theta = freq_scale * theta_extrap.
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  const int half = n_rot / 2;
  float theta_extrap = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float theta = freq_scale * theta_extrap;
    const float c = std::cos(theta);
    const float s = std::sin(theta);
    const int a = mode == RopeMode::kNormal ? i0 : i0 / 2;
    const int b = mode == RopeMode::kNormal ? i0 + 1 : i0 / 2 + half;
    for (int h = 0; h < n_heads; ++h) {
      float* xh = x + static_cast<int64_t>(h) * head_dim;
      const float x0 = xh[a];
      const float x1 = xh[b];
      xh[a] = x0 * c - x1 * s;
      xh[b] = x0 * s + x1 * c;
    }
    theta_extrap *= theta_scale;
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

}  // namespace ondo::kernels::ref
