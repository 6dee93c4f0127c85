// Scalar reference of the legacy block-of-32 weight types Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL:
// quantize (ggml quantize_row_*_ref), dequantize (dequantize_row_*), dot products against the
// vec-dot type (ggml_vec_dot_*_generic) and MatMul over them.
//
// The float expressions are written in ggml's order on purpose: the quantizers must give
// llama-quantize's bytes, and e.g. `x * id + 8.5f` rounded twice is not `fma(x, id, 8.5f)`.
// (kernels/CMakeLists.txt compiles kernels/ref/ with -ffp-contract=off, even under ONDO_NATIVE.)
#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/quant_util.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {
namespace {

// ggml converts with C casts such as (int8_t)(x0 + 8.5f) and (uint8_t)(x0 + 0.5f). In range
// they truncate toward zero; out of range (only reachable when 1/d overflowed to inf for a
// block of denormal-sized values, giving inf or NaN) the x86 code llama.cpp runs converts to
// int32 with cvttss2si, whose "invalid" result is INT32_MIN, and keeps the low byte: 0.
// The same here, without the undefined behaviour of an out-of-range cast.
int LowByteOfTruncation(float f) {
  const int32_t i = (f > -2147483648.0f && f < 2147483648.0f) ? static_cast<int32_t>(f) : INT32_MIN;
  return static_cast<int8_t>(static_cast<uint8_t>(static_cast<uint32_t>(i) & 0xffu));
}

// The value of largest magnitude (the first one on ties), as quantize_row_q4_0_ref finds it.
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void MinMax(const float* x, int n, float* min, float* max) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *min = lo;
  *max = hi;
}

// The 5th bits of 32 quants (bit j = element j), as stored in qh.
uint32_t LoadQh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// One IQ4_NL block as ggml quantize_row_iq4_nl_impl(super_block = block = 32, no importance
// weights, ntry): weights x^2, a first scale max / 127, then (ntry > 0) 2 * ntry + 1 trial
// scales (itry - 127) / max keeping the best weighted fit, and the indices recomputed
// against the final (f32) scale.
void QuantizeBlockIQ4_NL(const float* x, block_iq4_nl* y, int ntry) {
  constexpr int kN = kQK4_NL;
  const int8_t* values = kIq4nlValues;
  float weight[kN];
  uint8_t L[kN] = {};
  std::memset(y->qs, 0, sizeof y->qs);
  y->d = FloatToHalfBits(0.0f);
  for (int j = 0; j < kN; ++j) weight[j] = x[j] * x[j];
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kN; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  float scale;
  if (amax < 1e-15f) {  // GROUP_MAX_EPS
    scale = 0.0f;
  } else {
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kN; ++j) {
      const float al = id * x[j];
      const int l = BestIndexInt8(16, values, al);
      L[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      const float w = weight[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kN; ++j) {
        const float al = id * x[j];
        const int l = BestIndexInt8(16, values, al);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scale = d;
  }
  y->d = FloatToHalfBits(scale);
  if (ntry > 0) {
    const float id = scale != 0.0f ? 1 / scale : 0;
    for (int j = 0; j < kN; ++j) L[j] = static_cast<uint8_t>(BestIndexInt8(16, values, id * x[j]));
  }
  for (int j = 0; j < kN / 2; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[kN / 2 + j] << 4));
}

}  // namespace

// --- Q4_0: x = d * (q - 8), d = max / -8 ----------------------------------------------------

void QuantizeRowQ4_0(const float* x, void* out, int64_t n) {
  assert(n % kQK4_0 == 0);
  for (int64_t ib = 0; ib < n / kQK4_0; ++ib) {
    const float* xb = x + ib * kQK4_0;
    const float d = SignedAbsMax(xb, kQK4_0) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_0 b;
    b.d = FloatToHalfBits(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = xb[j] * id;
      const float x1 = xb[kQK4_0 / 2 + j] * id;
      const int q0 = std::min(15, LowByteOfTruncation(x0 + 8.5f));
      const int q1 = std::min(15, LowByteOfTruncation(x1 + 8.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0xff) | (q1 << 4));
    }
    StoreBlock(out, ib, b);
  }
}

void DequantizeRowQ4_0(const void* row, float* out, int64_t n) {
  assert(n % kQK4_0 == 0);
  for (int64_t ib = 0; ib < n / kQK4_0; ++ib) {
    const block_q4_0 b = LoadBlock<block_q4_0>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    float* y = out + ib * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

float VecDotQ4_0(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_0 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const block_q4_0 w = LoadBlock<block_q4_0>(w_row, ib);
    const block_q8_0 x = LoadBlock<block_q8_0>(x_vd, ib);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      sumi0 += ((w.qs[j] & 0x0f) - 8) * x.qs[j];
      sumi1 += ((w.qs[j] >> 4) - 8) * x.qs[j + kQK8_0 / 2];
    }
    // ggml: sumi * d_w * d_x, left to right.
    sumf += static_cast<float>(sumi0 + sumi1) * HalfBitsToFloat(w.d) * HalfBitsToFloat(x.d);
  }
  return sumf;
}

void MatMulQ4_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_0>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// --- Q4_1: x = d * q + m, d = (max - min) / 15, m = min -------------------------------------

void QuantizeRowQ4_1(const float* x, void* out, int64_t n) {
  assert(n % kQK4_1 == 0);
  for (int64_t ib = 0; ib < n / kQK4_1; ++ib) {
    const float* xb = x + ib * kQK4_1;
    float min, max;
    MinMax(xb, kQK4_1, &min, &max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_1 b;
    b.d = FloatToHalfBits(d);
    b.m = FloatToHalfBits(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const float x0 = (xb[j] - min) * id;
      const float x1 = (xb[kQK4_1 / 2 + j] - min) * id;
      const int q0 = std::min(15, LowByteOfTruncation(x0 + 0.5f));
      const int q1 = std::min(15, LowByteOfTruncation(x1 + 0.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0xff) | (q1 << 4));
    }
    StoreBlock(out, ib, b);
  }
}

void DequantizeRowQ4_1(const void* row, float* out, int64_t n) {
  assert(n % kQK4_1 == 0);
  for (int64_t ib = 0; ib < n / kQK4_1; ++ib) {
    const block_q4_1 b = LoadBlock<block_q4_1>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    const float m = HalfBitsToFloat(b.m);
    float* y = out + ib * kQK4_1;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
      y[j + kQK4_1 / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

float VecDotQ4_1(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_1 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_1; ++ib) {
    const block_q4_1 w = LoadBlock<block_q4_1>(w_row, ib);
    const block_q8_1 x = LoadBlock<block_q8_1>(x_vd, ib);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_1 / 2; ++j) {
      sumi0 += (w.qs[j] & 0x0f) * x.qs[j];
      sumi1 += (w.qs[j] >> 4) * x.qs[j + kQK8_1 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += (HalfBitsToFloat(w.d) * HalfBitsToFloat(x.d)) * static_cast<float>(sumi) +
            HalfBitsToFloat(w.m) * HalfBitsToFloat(x.s);
  }
  return sumf;
}

void MatMulQ4_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// --- Q5_0: x = d * (q - 16), d = max / -16, the 5th bits in qh ------------------------------

void QuantizeRowQ5_0(const float* x, void* out, int64_t n) {
  assert(n % kQK5_0 == 0);
  for (int64_t ib = 0; ib < n / kQK5_0; ++ib) {
    const float* xb = x + ib * kQK5_0;
    const float d = SignedAbsMax(xb, kQK5_0) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q5_0 b;
    b.d = FloatToHalfBits(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const float x0 = xb[j] * id;
      const float x1 = xb[kQK5_0 / 2 + j] * id;
      const uint32_t q0 = static_cast<uint8_t>(std::min(31, LowByteOfTruncation(x0 + 16.5f)));
      const uint32_t q1 = static_cast<uint8_t>(std::min(31, LowByteOfTruncation(x1 + 16.5f)));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + kQK5_0 / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    StoreBlock(out, ib, b);
  }
}

void DequantizeRowQ5_0(const void* row, float* out, int64_t n) {
  assert(n % kQK5_0 == 0);
  for (int64_t ib = 0; ib < n / kQK5_0; ++ib) {
    const block_q5_0 b = LoadBlock<block_q5_0>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    const uint32_t qh = LoadQh(b.qh);
    float* y = out + ib * kQK5_0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>(((b.qs[j] & 0x0f) | h0) - 16) * d;
      y[j + kQK5_0 / 2] = static_cast<float>(((b.qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

float VecDotQ5_0(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_0 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const block_q5_0 w = LoadBlock<block_q5_0>(w_row, ib);
    const block_q8_0 x = LoadBlock<block_q8_0>(x_vd, ib);
    const uint32_t qh = LoadQh(w.qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      sumi0 += (((w.qs[j] & 0x0f) | h0) - 16) * x.qs[j];
      sumi1 += (((w.qs[j] >> 4) | h1) - 16) * x.qs[j + kQK8_0 / 2];
    }
    sumf += (HalfBitsToFloat(w.d) * HalfBitsToFloat(x.d)) * static_cast<float>(sumi0 + sumi1);
  }
  return sumf;
}

void MatMulQ5_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_0>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// --- Q5_1: x = d * q + m, d = (max - min) / 31, m = min -------------------------------------

void QuantizeRowQ5_1(const float* x, void* out, int64_t n) {
  assert(n % kQK5_1 == 0);
  for (int64_t ib = 0; ib < n / kQK5_1; ++ib) {
    const float* xb = x + ib * kQK5_1;
    float min, max;
    MinMax(xb, kQK5_1, &min, &max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q5_1 b;
    b.d = FloatToHalfBits(d);
    b.m = FloatToHalfBits(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const float x0 = (xb[j] - min) * id;
      const float x1 = (xb[kQK5_1 / 2 + j] - min) * id;
      // ggml: (uint8_t)(x0 + 0.5f), no clamp (x0 <= 31 up to rounding).
      const uint32_t q0 = static_cast<uint8_t>(LowByteOfTruncation(x0 + 0.5f));
      const uint32_t q1 = static_cast<uint8_t>(LowByteOfTruncation(x1 + 0.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + kQK5_1 / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    StoreBlock(out, ib, b);
  }
}

void DequantizeRowQ5_1(const void* row, float* out, int64_t n) {
  assert(n % kQK5_1 == 0);
  for (int64_t ib = 0; ib < n / kQK5_1; ++ib) {
    const block_q5_1 b = LoadBlock<block_q5_1>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    const float m = HalfBitsToFloat(b.m);
    const uint32_t qh = LoadQh(b.qh);
    float* y = out + ib * kQK5_1;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>((b.qs[j] & 0x0f) | h0) * d + m;
      y[j + kQK5_1 / 2] = static_cast<float>((b.qs[j] >> 4) | h1) * d + m;
    }
  }
}

float VecDotQ5_1(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_1 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_1; ++ib) {
    const block_q5_1 w = LoadBlock<block_q5_1>(w_row, ib);
    const block_q8_1 x = LoadBlock<block_q8_1>(x_vd, ib);
    const uint32_t qh = LoadQh(w.qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK8_1 / 2; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      sumi0 += ((w.qs[j] & 0x0f) | h0) * x.qs[j];
      sumi1 += ((w.qs[j] >> 4) | h1) * x.qs[j + kQK8_1 / 2];
    }
    const int sumi = sumi0 + sumi1;
    sumf += (HalfBitsToFloat(w.d) * HalfBitsToFloat(x.d)) * static_cast<float>(sumi) +
            HalfBitsToFloat(w.m) * HalfBitsToFloat(x.s);
  }
  return sumf;
}

void MatMulQ5_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// --- IQ4_NL: x = d * kIq4nlValues[q] --------------------------------------------------------

// As llama-quantize writes IQ4_NL (ggml quantize_iq4_nl without an imatrix: the scale search
// with ntry = 7). ggml's quantize_row_iq4_nl_ref is the same code with ntry = -1 (no search,
// first scale kept); llama-quantize never calls it.
void QuantizeRowIQ4_NL(const float* x, void* out, int64_t n) {
  assert(n % kQK4_NL == 0);
  for (int64_t ib = 0; ib < n / kQK4_NL; ++ib) {
    block_iq4_nl b;
    QuantizeBlockIQ4_NL(x + ib * kQK4_NL, &b, 7);
    StoreBlock(out, ib, b);
  }
}

void DequantizeRowIQ4_NL(const void* row, float* out, int64_t n) {
  assert(n % kQK4_NL == 0);
  for (int64_t ib = 0; ib < n / kQK4_NL; ++ib) {
    const block_iq4_nl b = LoadBlock<block_iq4_nl>(row, ib);
    const float d = HalfBitsToFloat(b.d);
    float* y = out + ib * kQK4_NL;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0x0f]);
      y[j + kQK4_NL / 2] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

float VecDotIQ4_NL(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_0 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const block_iq4_nl w = LoadBlock<block_iq4_nl>(w_row, ib);
    const block_q8_0 x = LoadBlock<block_q8_0>(x_vd, ib);
    const float d = HalfBitsToFloat(x.d) * HalfBitsToFloat(w.d);
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      sumi1 += x.qs[j] * kIq4nlValues[w.qs[j] & 0x0f];
      sumi2 += x.qs[j + kQK4_NL / 2] * kIq4nlValues[w.qs[j] >> 4];
    }
    sumf += d * static_cast<float>(sumi1 + sumi2);
  }
  return sumf;
}

void MatMulIQ4_NL(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotIQ4_NL>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
