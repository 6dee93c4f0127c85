// Scalar reference of the 2- and 3-bit K-quants Q2_K and Q3_K (super-blocks of 256 against
// Q8_K activations): llama.cpp's quantize_row_q{2,3}_K_ref with the helpers they call
// (make_qkx2_quants, make_q3_quants), dequantize_row_q{2,3}_K and the generic
// ggml_vec_dot_q{2,3}_K_q8_K, operation for operation, so that quantized rows are
// byte-identical and dot products round as ggml's scalar code does. (Checked once against the
// ggml of llama.cpp b4753, February 2025: 18,051 blocks of each type from rows of 9 kinds at
// magnitudes 1e-12 .. 1e12 quantized byte-identically, dequantized bit-identically.)
//
// Every float expression below keeps ggml's operand order: `a * b * c` is (a * b) * c, and an
// int operand is converted to float where C converts it. Never contract to FMA (the ggml
// quantizers live in ggml-base, which is built without FMA): kernels/CMakeLists.txt compiles
// kernels/ref/ with -ffp-contract=off.

#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/ref/fp16.h"
#include "kernels/ref/quant_util.h"
#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {
namespace {

inline int Clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ggml make_q3_quants: symmetric quants in [-nmax, nmax - 1], stored as L + nmax (except for
// an all-zero group: L = 0, scale 0), with do_rmse a few passes of coordinate descent on the
// x^2-weighted error.
float MakeQ3Quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse) {
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
  const float iscale = static_cast<float>(-nmax) / max;
  if (do_rmse) {
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
      L[i] = static_cast<int8_t>(l);
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    for (int itry = 0; itry < 5; ++itry) {
      int n_changed = 0;
      for (int i = 0; i < n; ++i) {
        const float w = x[i] * x[i];
        const float li = static_cast<float>(L[i]);
        float slx = sumlx - w * x[i] * li;
        if (slx > 0) {
          float sl2 = suml2 - w * li * li;
          const int new_l = Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
          if (new_l != L[i]) {
            const float fl = static_cast<float>(new_l);
            slx += w * x[i] * fl;
            sl2 += w * fl * fl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
              L[i] = static_cast<int8_t>(new_l);
              sumlx = slx;
              suml2 = sl2;
              ++n_changed;
            }
          }
        }
      }
      if (!n_changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
  }
  for (int i = 0; i < n; ++i) {
    const int l = Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
  }
  return 1 / iscale;
}

// The 2-bit fields of both K-quant layouts: byte l of each 32-byte group of qs holds elements
// l, l + 32, l + 64, l + 96 of its 128 values in bits 0-1, 2-3, 4-5, 6-7.
template <class Int>
void PackQs2(const Int* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

// The 16 6-bit Q3_K scales (biased by 32) from their packed 12 bytes, as ggml unpacks them
// (kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f).
void UnpackQ3Scales(const uint8_t packed[12], int8_t out[16]) {
  uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
  aux[3] = ((aux[1] >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
  aux[0] = (aux[0] & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
  aux[1] = (aux[1] & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
  std::memcpy(out, aux, 16);
}

}  // namespace

// --- Q2_K ---------------------------------------------------------------------------------

void QuantizeRowQ2_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  const float q4scale = 15.f;

  for (int64_t i = 0; i < nb; ++i) {
    block_q2_K y;
    float max_scale = 0;  // the min is deducted, so scales are positive
    float max_min = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
      const float scale = scales[j];
      if (scale > max_scale) max_scale = scale;
      const float min = mins[j];
      if (min > max_min) max_min = min;
    }

    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) {
        const int l = NearestInt(iscale * scales[j]);
        y.scales[j] = static_cast<uint8_t>(l);
      }
      y.d = FloatToHalfBits(max_scale / q4scale);
    } else {
      for (int j = 0; j < kQK_K / 16; ++j) y.scales[j] = 0;
      y.d = FloatToHalfBits(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < kQK_K / 16; ++j) {
        const int l = NearestInt(iscale * mins[j]);
        y.scales[j] = static_cast<uint8_t>(y.scales[j] | (l << 4));
      }
      y.dmin = FloatToHalfBits(max_min / q4scale);
    } else {
      y.dmin = FloatToHalfBits(0.f);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = HalfBitsToFloat(y.d) * static_cast<float>(y.scales[j] & 0xF);
      if (!d) continue;
      const float dm = HalfBitsToFloat(y.dmin) * static_cast<float>(y.scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = NearestInt((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = static_cast<uint8_t>(Clamp(l, 0, 3));
      }
    }
    PackQs2(L, y.qs);
    StoreBlock(out, i, y);
    x += kQK_K;
  }
}

void DequantizeRowQ2_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q2_K b = LoadBlock<block_q2_K>(row, i);
    const float d = HalfBitsToFloat(b.d);
    const float min = HalfBitsToFloat(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n128 = 0; n128 < kQK_K; n128 += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = b.scales[is++];
        float dl = d * static_cast<float>(sc & 0xF);
        float ml = min * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        sc = b.scales[is++];
        dl = d * static_cast<float>(sc & 0xF);
        ml = min * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((q[l + 16] >> shift) & 3) - ml;
        }
        shift += 2;
      }
      q += 32;
    }
  }
}

// Per super-block: isum = sum_j sc_j * sum(q8 * q2) and summs = sum_j m_j * bsums_j in int,
// then dall * isum - dmin * summs in float (dall = d_x * d, dmin = d_x * dmin).
float VecDotQ2_K(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q2_K x = LoadBlock<block_q2_K>(w_row, i);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, i);
    const uint8_t* q2 = x.qs;
    const int8_t* q8 = y.qs;
    const uint8_t* sc = x.scales;
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y.bsums[j] * (sc[j] >> 4);
    const float dall = y.d * HalfBitsToFloat(x.d);
    const float dmin = y.d * HalfBitsToFloat(x.dmin);
    int isum = 0;
    int is = 0;
    for (int k = 0; k < kQK_K / 128; ++k) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        int d = sc[is++] & 0xF;
        int isuml = 0;
        for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        d = sc[is++] & 0xF;
        isuml = 0;
        for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        shift += 2;
        q8 += 32;
      }
      q2 += 32;
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

void MatMulQ2_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ2_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

// --- Q3_K ---------------------------------------------------------------------------------

void QuantizeRowQ3_K(const float* x, void* out, int64_t n) {
  assert(n % kQK_K == 0);
  const int64_t nb = n / kQK_K;
  int8_t L[kQK_K];
  float scales[kQK_K / 16];

  for (int64_t i = 0; i < nb; ++i) {
    block_q3_K y;
    float max_scale = 0;
    float amax = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j, true);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }

    std::memset(y.scales, 0, 12);
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) {
        // ggml stores nearest_int into an int8_t before clamping (|iscale * s| <= 32 here).
        int8_t l = static_cast<int8_t>(NearestInt(iscale * scales[j]));
        l = static_cast<int8_t>(Clamp(l, -32, 31) + 32);
        if (j < 8) {
          y.scales[j] = static_cast<uint8_t>(l & 0xF);
        } else {
          y.scales[j - 8] = static_cast<uint8_t>(y.scales[j - 8] | ((l & 0xF) << 4));
        }
        l = static_cast<int8_t>(l >> 4);
        y.scales[j % 4 + 8] = static_cast<uint8_t>(y.scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      y.d = FloatToHalfBits(1 / iscale);
    } else {
      y.d = FloatToHalfBits(0.f);
    }

    for (int j = 0; j < kQK_K / 16; ++j) {
      int sc = j < 8 ? (y.scales[j] & 0xF) : (y.scales[j - 8] >> 4);
      sc = (sc | (((y.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
      const float d = HalfBitsToFloat(y.d) * static_cast<float>(sc);
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = Clamp(NearestInt(x[16 * j + ii] / d), -4, 3);
        L[16 * j + ii] = static_cast<int8_t>(l + 4);
      }
    }

    // High bits: element j goes to hmask[j % 32], bit j / 32.
    std::memset(y.hmask, 0, kQK_K / 8);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < kQK_K; ++j) {
      if (L[j] > 3) {
        y.hmask[m] = static_cast<uint8_t>(y.hmask[m] | hm);
        L[j] = static_cast<int8_t>(L[j] - 4);
      }
      if (++m == kQK_K / 8) {
        m = 0;
        hm = static_cast<uint8_t>(hm << 1);
      }
    }
    PackQs2(L, y.qs);
    StoreBlock(out, i, y);
    x += kQK_K;
  }
}

void DequantizeRowQ3_K(const void* row, float* out, int64_t n) {
  assert(n % kQK_K == 0);
  float* y = out;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q3_K b = LoadBlock<block_q3_K>(row, i);
    const float d_all = HalfBitsToFloat(b.d);
    int8_t scales[16];
    UnpackQ3Scales(b.scales, scales);
    const uint8_t* q = b.qs;
    const uint8_t* hm = b.hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n128 = 0; n128 < kQK_K; n128 += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
        dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>(((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        }
        shift += 2;
        m = static_cast<uint8_t>(m << 1);
      }
      q += 32;
    }
  }
}

// ggml's generic layout: the 256 quants are expanded to int8, eight int32 lanes accumulate
// (scale - 32) * q8 * q3 over each super-block, each lane is scaled by d * d_x into its own
// float sum, and the eight float sums are added at the end.
float VecDotQ3_K(int64_t n, const void* w_row, const void* x_vd) {
  assert(n % kQK_K == 0);
  int8_t aux8[kQK_K];
  int16_t aux16[8];
  float sums[8] = {};
  int32_t aux32[8];
  int8_t scales[16];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const block_q3_K x = LoadBlock<block_q3_K>(w_row, i);
    const block_q8_K y = LoadBlock<block_q8_K>(x_vd, i);
    const uint8_t* q3 = x.qs;
    const uint8_t* hm = x.hmask;
    const int8_t* q8 = y.qs;
    std::memset(aux32, 0, sizeof aux32);
    int8_t* a = aux8;
    uint8_t m = 1;
    for (int j = 0; j < kQK_K; j += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int l = 0; l < 32; ++l) {
          a[l] = static_cast<int8_t>(((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
        a += 32;
        m = static_cast<uint8_t>(m << 1);
      }
      q3 += 32;
    }
    a = aux8;
    UnpackQ3Scales(x.scales, scales);
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int half = 0; half < 2; ++half) {
        for (int l = 0; l < 8; ++l) aux16[l] = static_cast<int16_t>(q8[l] * a[l]);
        for (int l = 0; l < 8; ++l) aux32[l] += (scales[j] - 32) * aux16[l];
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

void MatMulQ3_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ3_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
