// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; called only when the CPU has
// them). Everything here has internal linkage except the ondo::kernels::avx2 entry points, and
// no std:: templates are instantiated, so no AVX code can leak into scalar callers through
// the linker's choice among identical inline definitions.

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/avx2_panel32.h"
#include "kernels/x86/quantize_q8.h"
#include "kernels/x86/tile_driver.h"
#include "kernels/x86/x86.h"
#include "kernels/x86/x86_util.h"

namespace ondo::kernels::avx2 {
namespace {

using x86::Byte;
using x86::Drive;
using x86::F2H;
using x86::H2F;
using x86::HMax;
using x86::HSum;
using x86::kPrefetchTiles;
using x86::LoadU16;
using x86::MatMulImpl;
using x86::VecDotImpl;

inline int64_t MinI64(int64_t a, int64_t b) { return a < b ? a : b; }
// Lane mask with the first `n` (0..8) lanes set.
inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// e^x: n = round(x / ln2), r = x - n ln2 in two FMA steps (Cody-Waite: n * kLn2Hi is exact),
// e^r by its degree-7 Taylor polynomial (truncation < 0.1 ulp for |r| <= ln2/2), then 2^n
// applied as 2^(n/2) * 2^(n - n/2) so that the subnormal range and overflow come out right
// with a single final rounding. x is clamped to [-104, 89]: e^-104 rounds to 0, e^89 to inf;
// the operand order of max/min (NaN in the second operand is returned) keeps NaN a NaN.
// Measured: < 0.82 ulp from the exact value over the normal range.
inline __m256 Exp(__m256 x) {
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// --- element loaders for the float-like row types ------------------------------------------
struct F32Load {
  static __m256 Load8(const Byte* p, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p + 4 * i));
  }
  static float Scalar(const Byte* p, int64_t i) {
    float v;
    std::memcpy(&v, p + 4 * i, 4);
    return v;
  }
};
struct F16Load {
  static __m256 Load8(const Byte* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
  }
  static float Scalar(const Byte* p, int64_t i) { return H2F(LoadU16(p + 2 * i)); }
};
struct Bf16Load {
  static __m256 Load8(const Byte* p, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float Scalar(const Byte* p, int64_t i) {
    const uint32_t u = static_cast<uint32_t>(LoadU16(p + 2 * i)) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// Q8_0 rows (the 8-bit KV cache) read as floats: element i is d * q, the f32 product
// DequantizeRow forms. Load8 REQUIRES i % 8 == 0 (8 lanes never straddle a block).
struct Q8Load {
  static __m256 Load8(const Byte* p, int64_t i) {
    const Byte* b = p + (i / kQK8_0) * sizeof(block_q8_0);
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + i % kQK8_0));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_set1_ps(H2F(LoadU16(b))));
  }
  static float Scalar(const Byte* p, int64_t i) {
    const Byte* b = p + (i / kQK8_0) * sizeof(block_q8_0);
    return static_cast<float>(static_cast<int8_t>(b[2 + i % kQK8_0])) * H2F(LoadU16(b));
  }
};

// A tile computes y[t * ys + r] for R weight rows (wrb bytes apart) and T activation rows
// (xrb bytes apart) over k elements, each loaded vector of W used T times and of x R times.
template <class WL, class XL>
struct FloatKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      __m256 wv[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) wv[r] = WL::Load8(w + r * wrb, i);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const __m256 xv = XL::Load8(x + t * xrb, i);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        float s = HSum(acc[r][t]);
        for (int64_t j = i; j < k; ++j)
          s += WL::Scalar(w + r * wrb, j) * XL::Scalar(x + t * xrb, j);
        y[t * ys + r] = s;
      }
    }
  }
};

// Decode (one token) over float-like weight rows: one row per tile (one sequential stream per
// thread), the same bytes kPrefetchTiles rows ahead requested into L2, four accumulators (as
// avx512.cc's StreamFloatKernel).
template <class WL, class XL, size_t kWBytes>
struct StreamFloatKernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t /*xrb*/, int64_t k, float* y,
                   int64_t /*ys*/) {
    static_assert(R == 1 && T == 1, "one row, one token");
    constexpr size_t kStep = 32 * kWBytes;  // weight bytes per iteration
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
      for (size_t off = 0; off < kStep; off += 64) {
        x86::PrefetchL2(w, kPrefetchTiles * wrb + static_cast<size_t>(i) * kWBytes + off);
      }
      a0 = _mm256_fmadd_ps(WL::Load8(w, i), XL::Load8(x, i), a0);
      a1 = _mm256_fmadd_ps(WL::Load8(w, i + 8), XL::Load8(x, i + 8), a1);
      a2 = _mm256_fmadd_ps(WL::Load8(w, i + 16), XL::Load8(x, i + 16), a2);
      a3 = _mm256_fmadd_ps(WL::Load8(w, i + 24), XL::Load8(x, i + 24), a3);
    }
    for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(WL::Load8(w, i), XL::Load8(x, i), a0);
    float s = HSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < k; ++i) s += WL::Scalar(w, i) * XL::Scalar(x, i);
    y[0] = s;
  }
};

// Q8_0 x Q8_0: |w| (unsigned) times x with w's sign (signed) through maddubs, as ggml does.
// Exact integer sums per lane; the block scale product d_w * d_x is the reference's.
struct Q8_0Kernel {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    constexpr size_t kB = sizeof(block_q8_0);
    const int64_t nb = k / kQK8_0;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      __m256i wq[R];
      __m256i wa[R];
      __m256 dw[R];  // d_w broadcast; d_w * d_x is then one vector multiply per pair
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Byte* b = w + r * wrb + ib * kB;
        if constexpr (T == 1) x86::PrefetchL2(b, kPrefetchTiles * R * wrb);
        wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
        wa[r] = _mm256_sign_epi8(wq[r], wq[r]);
        dw[r] = _mm256_set1_ps(H2F(LoadU16(b)));
      }
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const Byte* b = x + t * xrb + ib * kB;
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
        const __m256 dx = _mm256_set1_ps(H2F(LoadU16(b)));
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256i p16 = _mm256_maddubs_epi16(wa[r], _mm256_sign_epi8(xq, wq[r]));
          const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
          acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), s, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }
};

using F32K = FloatKernel<F32Load, F32Load>;
using F16K = FloatKernel<F16Load, F16Load>;
using Bf16K = FloatKernel<Bf16Load, Bf16Load>;
using KqK = FloatKernel<F16Load, F32Load>;  // f16 K rows x f16-rounded q held as f32
// Q8_0 K rows x f32 q: FloatKernel<Q8Load, F32Load>'s arithmetic (the same products in the
// same order, so the same bits), with each block's scale converted once per row instead of
// once per 8 elements. REQUIRES: k % 32 == 0.
struct KqQ8 {
  template <int R, int T>
  static void Tile(const Byte* w, size_t wrb, const Byte* x, size_t xrb, int64_t k, float* y,
                   int64_t ys) {
    constexpr size_t kB = sizeof(block_q8_0);
    __m256 acc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < k / kQK8_0; ++ib) {
      __m256 d[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) d[r] = _mm256_set1_ps(H2F(LoadU16(w + r * wrb + ib * kB)));
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        __m256 wv[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + r * wrb + ib * kB + 2 + 8 * q));
          wv[r] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d[r]);
        }
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const __m256 xv = _mm256_loadu_ps(reinterpret_cast<const float*>(x + t * xrb) + ib * kQK8_0 + 8 * q);
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) y[t * ys + r] = HSum(acc[r][t]);
    }
  }
};

// Softmax over n scores after multiplying them by `scale`; with `round_f16` the
// probabilities are rounded to f16 (kept as f32).
void ScaledSoftmax(float* x, int64_t n, float scale, bool round_f16) {
  if (n <= 0) return;
  const __m256 vscale = _mm256_set1_ps(scale);
  __m256 vmax = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
    _mm256_storeu_ps(x + i, v);
    vmax = _mm256_max_ps(vmax, v);
  }
  float max = HMax(vmax);
  for (; i < n; ++i) {
    x[i] *= scale;
    max = x[i] > max ? x[i] : max;
  }
  const __m256 vm = _mm256_set1_ps(max);
  __m256d s0 = _mm256_setzero_pd();
  __m256d s1 = _mm256_setzero_pd();
  for (i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    __m256 e;
    if (left >= 8) {
      e = Exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
      _mm256_storeu_ps(x + i, e);
    } else {
      const __m256i m = TailMask(left);
      e = _mm256_and_ps(Exp(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)),
                        _mm256_castsi256_ps(m));
      _mm256_maskstore_ps(x + i, m, e);
    }
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  const __m256d s = _mm256_add_pd(s0, s1);
  const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  const double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256i m = TailMask(MinI64(left, 8));
    __m256 p = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv);
    if (round_f16) p = _mm256_cvtph_ps(_mm256_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT));
    _mm256_maskstore_ps(x + i, m, p);
  }
}

// out[g][c0 .. c0 + 8D) = sum_j p[g][j] * V[j][c0 ..] for G heads, rows outer, heads inner.
// V rows are vrb bytes apart, read through the loader VL (F16Load, Q8Load).
template <class VL, int G, int D>
void VTile(const Byte* v, size_t vrb, int64_t c0, const float* p, int64_t n_kv, float* out,
           int64_t hd) {
  __m256 acc[G][D];
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
    for (int d = 0; d < D; ++d) acc[g][d] = _mm256_setzero_ps();
  }
  for (int64_t j = 0; j < n_kv; ++j) {
    const Byte* vj = v + j * vrb;
    __m256 vv[D];
#pragma GCC unroll 16
    for (int d = 0; d < D; ++d) vv[d] = VL::Load8(vj, c0 + 8 * d);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m256 pg = _mm256_broadcast_ss(p + g * n_kv + j);
#pragma GCC unroll 16
      for (int d = 0; d < D; ++d) acc[g][d] = _mm256_fmadd_ps(pg, vv[d], acc[g][d]);
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int d = 0; d < D; ++d) _mm256_storeu_ps(out + g * hd + c0 + 8 * d, acc[g][d]);
  }
}

// All head_dim columns for G heads: wide chunks, then 8-wide ones, then a scalar remainder.
template <class VL, int G>
void VHeads(const Byte* v, size_t vrb, const float* p, int64_t n_kv, float* out, int64_t hd) {
  constexpr int D = G <= 2 ? 4 : (G <= 4 ? 2 : 1);
  int64_t c0 = 0;
  for (; c0 + 8 * D <= hd; c0 += 8 * D) VTile<VL, G, D>(v, vrb, c0, p, n_kv, out, hd);
  if constexpr (D > 1) {
    for (; c0 + 8 <= hd; c0 += 8) VTile<VL, G, 1>(v, vrb, c0, p, n_kv, out, hd);
  }
  for (; c0 < hd; ++c0) {
    for (int g = 0; g < G; ++g) {
      float s = 0.0f;
      for (int64_t j = 0; j < n_kv; ++j) s += p[g * n_kv + j] * VL::Scalar(v + j * vrb, c0);
      out[g * hd + c0] = s;
    }
  }
}

// out = P V for ng heads, up to 8 heads per pass over V.
template <class VL>
void PV(const Byte* v, size_t vrb, const float* scores, int ng, int64_t n_kv, float* out,
        int64_t hd) {
  for (int g0 = 0; g0 < ng; g0 += 8) {
    const float* p = scores + g0 * n_kv;
    float* o = out + g0 * hd;
    switch (ng - g0 < 8 ? ng - g0 : 8) {
      case 1:
        VHeads<VL, 1>(v, vrb, p, n_kv, o, hd);
        break;
      case 2:
        VHeads<VL, 2>(v, vrb, p, n_kv, o, hd);
        break;
      case 3:
        VHeads<VL, 3>(v, vrb, p, n_kv, o, hd);
        break;
      case 4:
        VHeads<VL, 4>(v, vrb, p, n_kv, o, hd);
        break;
      case 5:
        VHeads<VL, 5>(v, vrb, p, n_kv, o, hd);
        break;
      case 6:
        VHeads<VL, 6>(v, vrb, p, n_kv, o, hd);
        break;
      case 7:
        VHeads<VL, 7>(v, vrb, p, n_kv, o, hd);
        break;
      default:
        VHeads<VL, 8>(v, vrb, p, n_kv, o, hd);
        break;
    }
  }
}

// Q8_0 for the prefill panel GEMM (avx2_panel32.h).
struct Q8Block32 {
  static constexpr size_t kBytes = sizeof(block_q8_0);
  static __m256i Unpack(const Byte* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
  }
  static float Scale(const Byte* p) { return H2F(LoadU16(p)); }
};

}  // namespace

void QuantizeRowF16(const float* x, void* out, int64_t n) {
  Byte* o = static_cast<Byte*>(out);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) {
    const uint16_t h = F2H(x[i]);
    std::memcpy(o + 2 * i, &h, 2);
  }
}

void QuantizeRowQ8_0(const float* x, void* out, int64_t n) {
  x86::QuantizeRowQ8Avx2<false>(x, out, n);
}

void DequantizeRowF16(const void* row, float* out, int64_t n) {
  const Byte* p = static_cast<const Byte*>(row);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, F16Load::Load8(p, i));
  for (; i < n; ++i) out[i] = F16Load::Scalar(p, i);
}

float VecDotF32(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F32K>(n, w_row, x_vd);
}
float VecDotF16(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<F16K>(n, w_row, x_vd);
}
float VecDotBf16(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Bf16K>(n, w_row, x_vd);
}
float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd) {
  return VecDotImpl<Q8_0Kernel>(n, w_row, x_vd);
}

void MatMulF32(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    MatMulImpl<StreamFloatKernel<F32Load, F32Load, 4>, 1, 1, 1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, 1, y,
                                                         y_stride);
  } else {
    MatMulImpl<F32K, 8, 4, 2>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
  }
}
void MatMulF16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    MatMulImpl<StreamFloatKernel<F16Load, F16Load, 2>, 1, 1, 1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, 1, y,
                                                         y_stride);
  } else {
    MatMulImpl<F16K, 8, 4, 2>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
  }
}
void MatMulBf16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    MatMulImpl<StreamFloatKernel<Bf16Load, Bf16Load, 2>, 1, 1, 1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, 1, y,
                                                         y_stride);
  } else {
    MatMulImpl<Bf16K, 8, 4, 2>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
  }
}
void MatMulQ8_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  x86::PanelOrRows<Panel8x32<Q8Block32>>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,
                                          y_stride,
                             MatMulImpl<Q8_0Kernel, 4, 2, 2>);
}

void Softmax(float* x, int64_t n) { ScaledSoftmax(x, n, 1.0f, false); }

void ExpF32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Exp(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(y + i, m, Exp(_mm256_maskload_ps(x + i, m)));
  }
}

void SwiGlu(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  auto one8 = [&](__m256 g, __m256 u) {
    // g / (1 + e^-g) * u, the reference's operations in its order; e^-g within 2 ulp.
    const __m256 e = Exp(_mm256_xor_ps(g, sign));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, one8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(out + i, m, one8(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m)));
  }
}

void AttentionF16(const AttentionArgs& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  float* out = a.out;
  float* scores = a.scratch;
  // q rounded to f16, kept as f32 in `out` until the last phase.
  {
    const int64_t nq = ng * hd;
    int64_t i = 0;
    for (; i + 8 <= nq; i += 8) {
      const __m256 v = _mm256_loadu_ps(a.q + i);
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; i < nq; ++i) out[i] = H2F(F2H(a.q[i]));
  }
  // Scores: K rows are the "weight rows", the heads the "tokens" (rows outer, heads inner).
  const Byte* kb = reinterpret_cast<const Byte*>(a.k);
  const size_t krb = static_cast<size_t>(a.kv_row_stride) * 2;
  const Byte* qb = reinterpret_cast<const Byte*>(out);
  if (ng == 1) {
    Drive<KqK, 8, 1>(kb, krb, 0, n_kv, hd, qb, hd * 4, 1, scores, n_kv);
  } else {
    Drive<KqK, 4, 2>(kb, krb, 0, n_kv, hd, qb, hd * 4, ng, scores, n_kv);
  }
  for (int g = 0; g < ng; ++g) ScaledSoftmax(scores + g * n_kv, n_kv, a.scale, true);
  PV<F16Load>(reinterpret_cast<const Byte*>(a.v), krb, scores, ng, n_kv, out, hd);
}

void AttentionQ8_0(const AttentionQ8Args& a) {
  const int ng = a.n_group;
  const int64_t hd = a.head_dim;
  const int64_t n_kv = a.n_kv;
  const Byte* kb = static_cast<const Byte*>(a.k);
  const size_t rb = static_cast<size_t>(a.kv_row_bytes);
  // q is read only here, before `out` (which may alias it) is written.
  const Byte* qb = reinterpret_cast<const Byte*>(a.q);
  if (ng == 1) {
    Drive<KqQ8, 8, 1>(kb, rb, 0, n_kv, hd, qb, hd * 4, 1, a.scratch, n_kv);
  } else {
    Drive<KqQ8, 4, 2>(kb, rb, 0, n_kv, hd, qb, hd * 4, ng, a.scratch, n_kv);
  }
  for (int g = 0; g < ng; ++g) ScaledSoftmax(a.scratch + g * n_kv, n_kv, a.scale, false);
  PV<Q8Load>(static_cast<const Byte*>(a.v), rb, a.scratch, ng, n_kv, a.out, hd);
}

}  // namespace ondo::kernels::avx2
