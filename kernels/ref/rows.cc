// Scalar reference: quantize / dequantize / dot / matmul rows of F32, F16, BF16 and Q8_0, and the
// activation types Q8_1 and Q8_K.
#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/quant_util.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {
namespace {

using Byte = unsigned char;

// roundf(v) as int8. For a block whose max is below ~3.7e-37 the scale d = amax / 127 is
// subnormal, 1 / d overflows and v is +-inf or NaN: ggml's cast is undefined there, ours
// saturates (NaN gives 0) so the reference stays defined on any finite input.
int8_t RoundToInt8(float v) {
  const float r = std::roundf(v);
  if (!(r == r)) return 0;
  return static_cast<int8_t>(std::fmin(std::fmax(r, -128.0f), 127.0f));
}

block_q8_0 LoadBlockQ8_0(const void* row, int64_t ib) {
  block_q8_0 b;
  std::memcpy(&b, static_cast<const Byte*>(row) + ib * sizeof(block_q8_0), sizeof b);
  return b;
}

}  // namespace

void QuantizeRowF32(const float* x, void* out, int64_t n) {
  if (n > 0) std::memmove(out, x, static_cast<size_t>(n) * sizeof(float));
}

void QuantizeRowF16(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = FloatToHalfBits(x[i]);
    std::memcpy(o + 2 * i, &h, 2);
  }
}

void QuantizeRowBf16(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = FloatToBf16Bits(x[i]);
    std::memcpy(o + 2 * i, &h, 2);
  }
}

void QuantizeRowQ8_0(const float* x, void* out, int64_t n) {
  assert(n % kQK8_0 == 0);
  const int64_t nb = n / kQK8_0;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q8_0 b;
    b.d = FloatToHalfBits(d);
    for (int j = 0; j < kQK8_0; ++j) {
      b.qs[j] = RoundToInt8(xb[j] * id);
    }
    std::memcpy(static_cast<Byte*>(out) + ib * sizeof(block_q8_0), &b, sizeof b);
  }
}

void DequantizeRowF32(const void* row, float* out, int64_t n) {
  if (n > 0) std::memmove(out, row, static_cast<size_t>(n) * sizeof(float));
}

void DequantizeRowF16(const void* row, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = HalfBitsToFloat(LoadU16(row, i));
}

void DequantizeRowBf16(const void* row, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = Bf16BitsToFloat(LoadU16(row, i));
}

void DequantizeRowQ8_0(const void* row, float* out, int64_t n) {
  assert(n % kQK8_0 == 0);
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const block_q8_0 b = LoadBlockQ8_0(row, ib);
    const float d = HalfBitsToFloat(b.d);
    for (int j = 0; j < kQK8_0; ++j) out[ib * kQK8_0 + j] = static_cast<float>(b.qs[j]) * d;
  }
}

float VecDotF32(int64_t n, const void* w_row, const void* x_vd) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(LoadF32(w_row, i) * LoadF32(x_vd, i));
  }
  return static_cast<float>(sum);
}

float VecDotF16(int64_t n, const void* w_row, const void* x_vd) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum +=
        static_cast<double>(HalfBitsToFloat(LoadU16(w_row, i)) * HalfBitsToFloat(LoadU16(x_vd, i)));
  }
  return static_cast<float>(sum);
}

float VecDotBf16(int64_t n, const void* w_row, const void* x_vd) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum +=
        static_cast<double>(Bf16BitsToFloat(LoadU16(w_row, i)) * Bf16BitsToFloat(LoadU16(x_vd, i)));
  }
  return static_cast<float>(sum);
}

float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK8_0 == 0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    const block_q8_0 w = LoadBlockQ8_0(w_row, ib);
    const block_q8_0 x = LoadBlockQ8_0(x_vd, ib);
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += w.qs[j] * x.qs[j];
    sumf += static_cast<float>(sumi) * (HalfBitsToFloat(w.d) * HalfBitsToFloat(x.d));
  }
  return sumf;
}

void MatMulF32(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotF32>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}
void MatMulF16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotF16>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}
void MatMulBf16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotBf16>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}
void MatMulQ8_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ8_0>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ8_1(const float* x, void* out, int64_t n) {
  assert(n % kQK8_1 == 0);
  for (int64_t ib = 0; ib < n / kQK8_1; ++ib) {
    const float* xb = x + ib * kQK8_1;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q8_1 b;
    b.d = FloatToHalfBits(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      b.qs[j] = RoundToInt8(xb[j] * id);
      sum += b.qs[j];
    }
    b.s = FloatToHalfBits(static_cast<float>(sum) * d);
    std::memcpy(static_cast<Byte*>(out) + ib * sizeof(block_q8_1), &b, sizeof b);
  }
}

void DequantizeRowQ8_1(const void* row, float* out, int64_t n) {
  assert(n % kQK8_1 == 0);
  for (int64_t ib = 0; ib < n / kQK8_1; ++ib) {
    block_q8_1 b;
    std::memcpy(&b, static_cast<const Byte*>(row) + ib * sizeof(block_q8_1), sizeof b);
    const float d = HalfBitsToFloat(b.d);
    for (int j = 0; j < kQK8_1; ++j) out[ib * kQK8_1 + j] = static_cast<float>(b.qs[j]) * d;
  }
}

void QuantizeRowQ8_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const float* xb = x + ib * kQK_K;
    block_q8_K b;
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&b, 0, sizeof b);
    } else {
      const float iscale = -127.0f / max;
      for (int j = 0; j < kQK_K; ++j) {
        const int v = NearestInt(iscale * xb[j]);
        b.qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
      }
      for (int g = 0; g < kQK_K / 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += b.qs[g * 16 + j];
        b.bsums[g] = static_cast<int16_t>(sum);
      }
      b.d = 1.0f / iscale;
    }
    std::memcpy(static_cast<Byte*>(out) + ib * sizeof(block_q8_K), &b, sizeof b);
  }
}

void DequantizeRowQ8_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    block_q8_K b;
    std::memcpy(&b, static_cast<const Byte*>(row) + ib * sizeof(block_q8_K), sizeof b);
    for (int j = 0; j < kQK_K; ++j) out[ib * kQK_K + j] = b.d * static_cast<float>(b.qs[j]);
  }
}

}  // namespace ondo::kernels::ref
