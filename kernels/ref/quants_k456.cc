// Scalar reference of the K-quants Q4_K, Q5_K, Q6_K and of IQ4_XS (super-blocks of 256,
// activations in Q8_K): llama.cpp's quantize_row_*_ref, dequantize_row_* and
// ggml_vec_dot_*_q8_K_generic, with the same float operations in the same order.
#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/quant_util.h"
#include "kernels/ref/ref.h"

// The quantizers' searches compare float sums, so one fused multiply-add would change which
// scale wins and the file would no longer be byte-identical to llama-quantize's (llama.cpp
// compiles ggml-quants.c without FMA). Every product stays rounded even under -march=native:
// kernels/CMakeLists.txt compiles kernels/ref/ with -ffp-contract=off.

namespace ondo::kernels::ref {
namespace {

// --- the searches of ggml-quants.c ---------------------------------------------------------

// make_qx_quants with rmse_type 1 and no importance weights (the only form Q6_K's reference
// quantizer uses): symmetric quantization to L[i] = l + nmax, l in [-nmax, nmax - 1], weights
// x^2, the scale refined by least squares over the trial inverse scales -(nmax + 0.1 is) / max.
float MakeQxQuants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto clamp = [nmax](int l) { return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l); };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp(NearestInt(iscale * x[i]));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const float fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp(NearestInt(iscale * x[i]));
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + clamp(NearestInt(iscale * x[i])));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// ggml get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K.
void GetScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// The part of quantize_row_q4_K_ref / q5_K_ref shared by both: per sub-block of 32 a
// make_qkx2_quants search (weights av_x + |x|), the 8 scales and 8 mins quantized to 6 bits
// against their maxima, then every value re-quantized to [0, nmax] with the stored scales.
// Fills d, dmin, scales[12] and L[256].
void QuantizeKScalesAndLevels(const float* x, int nmax, float rmin, float rdelta, int nstep,
                              uint16_t* d_out, uint16_t* dmin_out, uint8_t* packed, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0;  // as the min is subtracted, scales are never negative
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = MakeQkx2Quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                               rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t ls = static_cast<uint8_t>(NearestInt(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(NearestInt(inv_min * mins[j]));
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      packed[j - 0] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = FloatToHalfBits(max_scale / 63.f);
  *dmin_out = FloatToHalfBits(max_min / 63.f);
  const float dd = HalfBitsToFloat(*d_out);
  const float dm = HalfBitsToFloat(*dmin_out);
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, packed, &sc, &m);
    const float d = dd * sc;
    if (d == 0.0f) continue;  // keep the search's levels
    const float dmj = dm * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = NearestInt((x[32 * j + ii] + dmj) / d);
      l = l < 0 ? 0 : (l > nmax ? nmax : l);
      L[32 * j + ii] = static_cast<uint8_t>(l);
    }
  }
}

// The 16 Q8_K bsums weighted by the 8 mins of a Q4_K / Q5_K block (min j covers bsums 2j, 2j+1).
int MinsDotBsums(const uint8_t* mins, const block_q8_K& y) {
  int sumi = 0;
  for (int j = 0; j < kQK_K / 16; ++j) sumi += y.bsums[j] * mins[j / 2];
  return sumi;
}

// The arithmetic of ggml_vec_dot_q{4,5}_K_q8_K_generic once the quants are unpacked to
// aux8[256] (values 0..31): per-lane int32 sums of scale * q * x over lanes l = i % 8, then
// sums[l] += d * aux32[l] in float per block, the mins subtracted from sumf, lanes added last.
struct KDotAccumulator {
  float sums[8] = {};
  float sumf = 0;

  void AddBlock(const int8_t* aux8, const uint8_t* scales, const uint8_t* mins, float d_w,
                float dmin_w, const block_q8_K& y) {
    int32_t aux32[8] = {};
    const int8_t* a = aux8;
    const int8_t* q8 = y.qs;
    for (int j = 0; j < kQK_K / 32; ++j) {
      const int32_t scale = scales[j];
      for (int g = 0; g < 4; ++g) {
        for (int l = 0; l < 8; ++l) {
          const int16_t p = static_cast<int16_t>(q8[l] * a[l]);
          aux32[l] += scale * p;
        }
        q8 += 8;
        a += 8;
      }
    }
    const float d = d_w * y.d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
    const float dmin = dmin_w * y.d;
    sumf -= dmin * static_cast<float>(MinsDotBsums(mins, y));
  }
  float Result() {
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
  }
};

// The 8 scales and 8 mins of a Q4_K / Q5_K block, unpacked.
void UnpackScalesMins(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 8; ++j) GetScaleMinK4(j, packed, &scales[j], &mins[j]);
}

}  // namespace

// ====================================== Q4_K =================================================

void QuantizeRowQ4_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q4_K b;
    std::memset(&b, 0, sizeof b);
    QuantizeKScalesAndLevels(x, 15, -1.f, 0.1f, 20, &b.d, &b.dmin, b.scales, L);
    uint8_t* q = b.qs;
    for (int j = 0; j < kQK_K; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
    StoreBlock(out, i, b);
    x += kQK_K;
  }
}

void DequantizeRowQ4_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q4_K b = LoadBlock<block_q4_K>(row, i);
    const float d = HalfBitsToFloat(b.d);
    const float min = HalfBitsToFloat(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int j = 0; j < kQK_K; j += 64) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      GetScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

float VecDotQ4_K(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  KDotAccumulator acc;
  int8_t aux8[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q4_K x = LoadBlock<block_q4_K>(w_row, i);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, i);
    const uint8_t* q4 = x.qs;
    int8_t* a = aux8;
    for (int j = 0; j < kQK_K / 64; ++j) {
      for (int l = 0; l < 32; ++l) a[l] = static_cast<int8_t>(q4[l] & 0xF);
      a += 32;
      for (int l = 0; l < 32; ++l) a[l] = static_cast<int8_t>(q4[l] >> 4);
      a += 32;
      q4 += 32;
    }
    uint8_t scales[8], mins[8];
    UnpackScalesMins(x.scales, scales, mins);
    acc.AddBlock(aux8, scales, mins, HalfBitsToFloat(x.d), HalfBitsToFloat(x.dmin), y);
  }
  return acc.Result();
}

void MatMulQ4_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// ====================================== Q5_K =================================================

void QuantizeRowQ5_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q5_K b;
    std::memset(&b, 0, sizeof b);
    QuantizeKScalesAndLevels(x, 31, -0.5f, 0.1f, 15, &b.d, &b.dmin, b.scales, L);
    uint8_t* qh = b.qh;
    uint8_t* ql = b.qs;
    uint8_t m1 = 1, m2 = 2;
    for (int n0 = 0; n0 < kQK_K; n0 += 64) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n0 + j];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        int l2 = L[n0 + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
      ql += 32;
    }
    StoreBlock(out, i, b);
    x += kQK_K;
  }
}

void DequantizeRowQ5_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q5_K b = LoadBlock<block_q5_K>(row, i);
    const float d = HalfBitsToFloat(b.d);
    const float min = HalfBitsToFloat(b.dmin);
    const uint8_t* ql = b.qs;
    const uint8_t* qh = b.qh;
    int is = 0;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0; j < kQK_K; j += 64) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      GetScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

float VecDotQ5_K(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  KDotAccumulator acc;
  int8_t aux8[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q5_K x = LoadBlock<block_q5_K>(w_row, i);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, i);
    const uint8_t* q4 = x.qs;
    const uint8_t* hm = x.qh;
    int8_t* a = aux8;
    unsigned m = 1;
    for (int j = 0; j < kQK_K / 64; ++j) {
      for (int l = 0; l < 32; ++l) a[l] = static_cast<int8_t>((q4[l] & 0xF) + (hm[l] & m ? 16 : 0));
      a += 32;
      m <<= 1;
      for (int l = 0; l < 32; ++l) a[l] = static_cast<int8_t>((q4[l] >> 4) + (hm[l] & m ? 16 : 0));
      a += 32;
      m <<= 1;
      q4 += 32;
    }
    uint8_t scales[8], mins[8];
    UnpackScalesMins(x.scales, scales, mins);
    acc.AddBlock(aux8, scales, mins, HalfBitsToFloat(x.d), HalfBitsToFloat(x.dmin), y);
  }
  return acc.Result();
}

void MatMulQ5_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// ====================================== Q6_K =================================================

void QuantizeRowQ6_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q6_K b;
    std::memset(&b, 0, sizeof b);
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {  // all zero: d = 0 and zero bytes
      StoreBlock(out, i, b);
      x += kQK_K;
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = FloatToHalfBits(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const int l = NearestInt(iscale * scales[ib]);
      b.scales[ib] = static_cast<int8_t>(l < 127 ? l : 127);
    }
    const float dd = HalfBitsToFloat(b.d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = dd * b.scales[j];
      if (d == 0.0f) continue;  // keep the search's levels
      for (int ii = 0; ii < 16; ++ii) {
        int l = NearestInt(x[16 * j + ii] / d);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        L[16 * j + ii] = static_cast<int8_t>(l + 32);
      }
    }
    uint8_t* ql = b.ql;
    uint8_t* qh = b.qh;
    for (int j = 0; j < kQK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF;
        const uint8_t q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF;
        const uint8_t q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                     ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
    StoreBlock(out, i, b);
    x += kQK_K;
  }
}

void DequantizeRowQ6_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q6_K b = LoadBlock<block_q6_K>(row, i);
    const float d = HalfBitsToFloat(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n0 = 0; n0 < kQK_K; n0 += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

float VecDotQ6_K(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  int8_t aux8[kQK_K];
  float sums[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q6_K x = LoadBlock<block_q6_K>(w_row, i);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, i);
    const uint8_t* q4 = x.ql;
    const uint8_t* qh = x.qh;
    int8_t* a = aux8;
    for (int j = 0; j < kQK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        a[l + 0] = static_cast<int8_t>(((q4[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        a[l + 32] = static_cast<int8_t>(((q4[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        a[l + 64] = static_cast<int8_t>(((q4[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        a[l + 96] = static_cast<int8_t>(((q4[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
      a += 128;
      q4 += 64;
      qh += 32;
    }
    int32_t aux32[8] = {};
    a = aux8;
    const int8_t* q8 = y.qs;
    for (int j = 0; j < kQK_K / 16; ++j) {
      const int scale = x.scales[j];
      for (int g = 0; g < 2; ++g) {
        for (int l = 0; l < 8; ++l) {
          const int16_t p = static_cast<int16_t>(q8[l] * a[l]);
          aux32[l] += scale * p;
        }
        q8 += 8;
        a += 8;
      }
    }
    const float d = HalfBitsToFloat(x.d) * y.d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

void MatMulQ6_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ6_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// ===================================== IQ4_XS ================================================

// quantize_row_iq4_xs_ref = quantize_iq4_xs without importance weights, i.e. ggml's
// quantize_row_iq4_nl_impl(256, 32, ..., ntry = 7): per sub-block of 32 (weights x^2) the
// scale maximising (sum w q x)^2 / sum w q^2 over 15 trial inverse scales (itry - 127) / max,
// the 8 scales quantized to 6 bits against -max_scale / 32, every value re-assigned to its
// nearest level with the quantized scale.
void QuantizeRowIQ4_XS(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  constexpr int kNtry = 7;
  const int8_t* values = kIq4nlValues;
  uint8_t L[kQK_K];
  float scales[kQK_K / 32];
  float weight[32];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    block_iq4_xs b;
    std::memset(&b, 0, sizeof b);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float* xb = x + ib * 32;
      uint8_t* Lb = L + ib * 32;
      for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
      float amax = 0, max = 0;
      for (int j = 0; j < 32; ++j) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) {
          amax = ax;
          max = xb[j];
        }
      }
      if (amax < kGroupMaxEps) {
        scales[ib] = 0;
        continue;
      }
      float d = -max / static_cast<float>(values[0]);  // ntry > 0
      float id = 1 / d;
      float sumqx = 0, sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float al = id * xb[j];
        const int l = BestIndexInt8(16, values, al);
        Lb[j] = static_cast<uint8_t>(l);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      d = sumqx / sumq2;
      float best = d * sumqx;
      for (int itry = -kNtry; itry <= kNtry; ++itry) {
        id = static_cast<float>(itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
          const float al = id * xb[j];
          const int l = BestIndexInt8(16, values, al);
          const float q = values[l];
          const float w = weight[j];
          sumqx += w * q * xb[j];
          sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
          d = sumqx / sumq2;
          best = d * sumqx;
        }
      }
      scales[ib] = d;
      const float abs_d = std::fabs(d);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = d;
      }
    }
    // The super-block scale; the levels below use this float d, not its f16 rounding.
    const float d = -max_scale / 32;
    b.d = FloatToHalfBits(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    uint16_t scales_h = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = NearestInt(id * scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * 32;
      const float* xb = x + ib * 32;
      for (int j = 0; j < 32; ++j)
        Lb[j] = static_cast<uint8_t>(BestIndexInt8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xf);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) {
        b.scales_l[ib / 2] = l_l;
      } else {
        b.scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
      }
      scales_h = static_cast<uint16_t>(scales_h | (l_h << 2 * (ib % 8)));
    }
    b.scales_h = scales_h;
    for (int i = 0; i < kQK_K / 32; ++i) {
      for (int j = 0; j < 16; ++j) {
        b.qs[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
      }
    }
    StoreBlock(out, ibl, b);
    x += kQK_K;
  }
}

void DequantizeRowIQ4_XS(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_iq4_xs b = LoadBlock<block_iq4_xs>(row, i);
    const float d = HalfBitsToFloat(b.d);
    const uint8_t* qs = b.qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const int ls =
          ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j + 0] = dl * kIq4nlValues[qs[j] & 0xf];
        y[j + 16] = dl * kIq4nlValues[qs[j] >> 4];
      }
      y += 32;
      qs += 16;
    }
  }
}

float VecDotIQ4_XS(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  float sumf = 0;
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    const block_iq4_xs x = LoadBlock<block_iq4_xs>(w_row, ibl);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, ibl);
    const float d4d8 = HalfBitsToFloat(x.d) * y.d;
    unsigned h = x.scales_h;
    const uint8_t* qs = x.qs;
    const int8_t* q8 = y.qs;
    for (int ib = 0; ib < kQK_K / 32; ib += 2) {
      const int ls1 = (x.scales_l[ib / 2] & 0xf) | ((h << 4) & 0x30);
      const int ls2 = (x.scales_l[ib / 2] >> 4) | ((h << 2) & 0x30);
      h >>= 4;
      const float d1 = d4d8 * static_cast<float>(ls1 - 32);
      const float d2 = d4d8 * static_cast<float>(ls2 - 32);
      int sumi1 = 0, sumi2 = 0;
      for (int j = 0; j < 16; ++j) {
        sumi1 += q8[j + 0] * kIq4nlValues[qs[j] & 0xf];
        sumi2 += q8[j + 16] * kIq4nlValues[qs[j] >> 4];
      }
      sumf += d1 * static_cast<float>(sumi1 + sumi2);
      qs += 16;
      q8 += 32;
      sumi1 = sumi2 = 0;
      for (int j = 0; j < 16; ++j) {
        sumi1 += q8[j + 0] * kIq4nlValues[qs[j] & 0xf];
        sumi2 += q8[j + 16] * kIq4nlValues[qs[j] >> 4];
      }
      sumf += d2 * static_cast<float>(sumi1 + sumi2);
      qs += 16;
      q8 += 32;
    }
  }
  return sumf;
}

void MatMulIQ4_XS(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                  const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotIQ4_XS>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
