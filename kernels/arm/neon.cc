// NEON kernels for the float weight types (F32, F16, BF16) and Q8_0: dot products and matrix
// products. F16 rows are widened with the hardware conversion (exact), BF16 by a shift (exact);
// products are accumulated in f32 lanes with fused multiply-adds (the reference sums in double:
// results agree within summation-order rounding). Q8_0 sums int8 products exactly in int32
// (sdot on the dot-product set) and scales each block's sum as llama.cpp's ARM path does.
//
// Prefill (n_tok > 1) takes one row against up to 4 tokens (DotRowTokens), decode 4 rows
// against the token (RowsToken, RowsTokenQ8_0).
#include <arm_neon.h>

#include "kernels/arm/arm.h"
#include "kernels/arm/neon_util.h"
#include "kernels/blocks.h"
#include "kernels/dispatch.h"

namespace ondo::kernels::ONDO_ARM_NS {
namespace {

using Byte = unsigned char;

inline float32x4_t LoadF16x4(const Byte* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}
inline float32x4_t Bf16ToF32(uint16x4_t h) { return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); }
inline uint16x4_t LoadU16x4(const Byte* p) {
  return vld1_u16(reinterpret_cast<const uint16_t*>(p));
}

// Element loaders: 16 floats of a row starting at element i, as four f32 vectors.
struct F32Row {
  static constexpr size_t kBytes = 4;
  static void Load16(const Byte* p, float32x4_t v[4]) {
    const float* f = reinterpret_cast<const float*>(p);
    v[0] = vld1q_f32(f);
    v[1] = vld1q_f32(f + 4);
    v[2] = vld1q_f32(f + 8);
    v[3] = vld1q_f32(f + 12);
  }
  static float Load1(const Byte* p) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
  }
};
struct F16Row {
  static constexpr size_t kBytes = 2;
  static void Load16(const Byte* p, float32x4_t v[4]) {
    const uint16x8_t a = vld1q_u16(reinterpret_cast<const uint16_t*>(p));
    const uint16x8_t b = vld1q_u16(reinterpret_cast<const uint16_t*>(p + 16));
    v[0] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(a)));
    v[1] = vcvt_high_f32_f16(vreinterpretq_f16_u16(a));
    v[2] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(b)));
    v[3] = vcvt_high_f32_f16(vreinterpretq_f16_u16(b));
  }
  static float Load1(const Byte* p) { return LoadHalf(p); }
};
struct Bf16Row {
  static constexpr size_t kBytes = 2;
  static void Load16(const Byte* p, float32x4_t v[4]) {
    v[0] = Bf16ToF32(LoadU16x4(p));
    v[1] = Bf16ToF32(LoadU16x4(p + 8));
    v[2] = Bf16ToF32(LoadU16x4(p + 16));
    v[3] = Bf16ToF32(LoadU16x4(p + 24));
  }
  static float Load1(const Byte* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof h);
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};

// Up to kMaxTok tokens against one weight row: each 16-element chunk of the row is converted
// once and used for every token (prefill reads the weights once per 4 tokens, not per token).
constexpr int kMaxTok = 4;

template <class Row, int NT>
void DotRowTokens(int64_t n, const Byte* w, const Byte* const* x, float* out) {
  float32x4_t acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t wv[4];
    Row::Load16(w + i * Row::kBytes, wv);
    for (int t = 0; t < NT; ++t) {
      float32x4_t xv[4];
      Row::Load16(x[t] + i * Row::kBytes, xv);
      acc[t][0] = vfmaq_f32(acc[t][0], wv[0], xv[0]);
      acc[t][1] = vfmaq_f32(acc[t][1], wv[1], xv[1]);
      acc[t][0] = vfmaq_f32(acc[t][0], wv[2], xv[2]);
      acc[t][1] = vfmaq_f32(acc[t][1], wv[3], xv[3]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    float sum = vaddvq_f32(vaddq_f32(acc[t][0], acc[t][1]));
    for (int64_t j = i; j < n; ++j) {
      sum += Row::Load1(w + j * Row::kBytes) * Row::Load1(x[t] + j * Row::kBytes);
    }
    out[t] = sum;
  }
}

template <class Row>
float VecDotFloat(int64_t n, const void* w_row, const void* x_vd) {
  const Byte* x = static_cast<const Byte*>(x_vd);
  float out;
  DotRowTokens<Row, 1>(n, static_cast<const Byte*>(w_row), &x, &out);
  return out;
}

// Q8_0: one weight row against NT activation rows (block_q8_0 each), block by block.
template <int NT>
void DotRowTokensQ8_0(int64_t n, const Byte* w, const Byte* const* x, float* out) {
  const int64_t nb = n / kQK8_0;
  float32x4_t acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Byte* wb = w + ib * sizeof(block_q8_0);
    const float dw = LoadHalf(wb);
    const int8x16_t w0 = vld1q_s8(reinterpret_cast<const int8_t*>(wb + 2));
    const int8x16_t w1 = vld1q_s8(reinterpret_cast<const int8_t*>(wb + 18));
    for (int t = 0; t < NT; ++t) {
      const Byte* xb = x[t] + ib * sizeof(block_q8_0);
      const int8x16_t x0 = vld1q_s8(reinterpret_cast<const int8_t*>(xb + 2));
      const int8x16_t x1 = vld1q_s8(reinterpret_cast<const int8_t*>(xb + 18));
      const int32x4_t p = DotI8(DotI8(vdupq_n_s32(0), w0, x0), w1, x1);
      acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(p), dw * LoadHalf(xb));
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(acc[t]);
}

float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd) {
  const Byte* x = static_cast<const Byte*>(x_vd);
  float out;
  DotRowTokensQ8_0<1>(n, static_cast<const Byte*>(w_row), &x, &out);
  return out;
}

// Decode (one token, MatMul with n_tok == 1): NR (1..4) weight rows against the token, as the
// prefill kernels with the operands' roles swapped: the token is the operand loaded (and
// widened) once per chunk or block, the NR rows the ones that change. Products and scales are
// commutative (fma, sdot, smull), so each row's sum is the one VecDot gives, bit for bit. One
// row at a time has 2 FMA chains (float) or one block's chain (Q8_0) and waits on their
// latency, and widens the token's chunk again for every row (llvm-mca, cycles per row: F16 per
// 16 elements Cortex-A53 32 -> 23, Cortex-A55 15 -> 14, Cortex-A76 16 -> 13; Q8_0 per block
// Cortex-A53 without sdot 60 -> 22, Cortex-A55 with it 28 -> 9).
template <class Row, int NR>
void RowsToken(int64_t n, const Byte* w, size_t wrb, const Byte* x, float* y) {
  const Byte* rows[NR];
  for (int r = 0; r < NR; ++r) rows[r] = w + r * wrb;
  DotRowTokens<Row, NR>(n, x, rows, y);
}
template <int NR>
void RowsTokenQ8_0(int64_t n, const Byte* w, size_t wrb, const Byte* x, float* y) {
  const Byte* rows[NR];
  for (int r = 0; r < NR; ++r) rows[r] = w + r * wrb;
  DotRowTokensQ8_0<NR>(n, x, rows, y);
}

// Kernel::Run<NT> is one row against NT tokens (prefill); Kernel::Tile{k}.Run<NR>(w, w_row_bytes,
// x, y) is NR rows against one token (decode).
template <class Row>
struct FloatKernel {
  template <int NT>
  static void Run(int64_t n, const Byte* w, const Byte* const* x, float* o) {
    DotRowTokens<Row, NT>(n, w, x, o);
  }
  struct Tile {
    int64_t n;
    template <int NR>
    void Run(const Byte* w, size_t wrb, const Byte* x, float* y) const {
      RowsToken<Row, NR>(n, w, wrb, x, y);
    }
  };
};
struct Q8_0Kernel {
  template <int NT>
  static void Run(int64_t n, const Byte* w, const Byte* const* x, float* o) {
    DotRowTokensQ8_0<NT>(n, w, x, o);
  }
  struct Tile {
    int64_t n;
    template <int NR>
    void Run(const Byte* w, size_t wrb, const Byte* x, float* y) const {
      RowsTokenQ8_0<NR>(n, w, wrb, x, y);
    }
  };
};

template <class Kernel>
void MatMulRowsOrTokens(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                        const void* x_vd, size_t x_row_bytes, int n_tok, float* y,
                        int64_t y_stride) {
  if (r1 <= r0 || n_tok <= 0) return;
  if (n_tok == 1) {
    DecodeRows(typename Kernel::Tile{k}, static_cast<const Byte*>(w), w_row_bytes, r0, r1,
               static_cast<const Byte*>(x_vd), y);
    return;
  }
  MatMulTokenTiles<Kernel, kMaxTok>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,
                                    y_stride);
}

#define ONDO_NEON_MATMUL(NAME, KERNEL)                                                     \
  void NAME(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,          \
            const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) { \
    MatMulRowsOrTokens<KERNEL>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y,     \
                               y_stride);                                                  \
  }
ONDO_NEON_MATMUL(MatMulF32, FloatKernel<F32Row>)
ONDO_NEON_MATMUL(MatMulF16, FloatKernel<F16Row>)
ONDO_NEON_MATMUL(MatMulBf16, FloatKernel<Bf16Row>)
ONDO_NEON_MATMUL(MatMulQ8_0, Q8_0Kernel)
#undef ONDO_NEON_MATMUL

}  // namespace

void RegisterBase(KernelSet* s) {
  auto set = [s](DType t, VecDotFn dot, MatMulFn mm) {
    TypeKernels& k = s->types[static_cast<uint32_t>(t)];
    k.vec_dot = dot;
    k.mat_mul = mm;
  };
  set(DType::kF32, VecDotFloat<F32Row>, MatMulF32);
  set(DType::kF16, VecDotFloat<F16Row>, MatMulF16);
  set(DType::kBF16, VecDotFloat<Bf16Row>, MatMulBf16);
  set(DType::kQ8_0, VecDotQ8_0, MatMulQ8_0);
}

}  // namespace ondo::kernels::ONDO_ARM_NS
