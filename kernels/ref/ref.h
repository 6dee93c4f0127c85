// Scalar reference kernels: portable C++, always built, the truth the SIMD kernels are tested
// against. Each follows llama.cpp's scalar CPU code (ggml *_ref / *_generic functions) so that
// results match it closely. Row arguments typed `const void*` / `void*` may sit at any byte
// address; typed pointers (float*, uint16_t*) must be naturally aligned.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace ondo::kernels::ref {

// --- rows (see kernels.h QuantizeRow / DequantizeRow / VecDot / MatMul) ------------------
void QuantizeRowF32(const float* x, void* out, int64_t n);
void QuantizeRowF16(const float* x, void* out, int64_t n);   // round to nearest even
void QuantizeRowBf16(const float* x, void* out, int64_t n);  // round to nearest even
// ggml quantize_row_q8_0_ref: per 32 values d = max|x| / 127, id = d ? 1/d : 0,
// q = roundf(x * id) (half away from zero), d stored as f16. Quants are in [-127, 127].
// REQUIRES: n % 32 == 0, x finite.
void QuantizeRowQ8_0(const float* x, void* out, int64_t n);

void DequantizeRowF32(const void* row, float* out, int64_t n);
void DequantizeRowF16(const void* row, float* out, int64_t n);
void DequantizeRowBf16(const void* row, float* out, int64_t n);
void DequantizeRowQ8_0(const void* row, float* out, int64_t n);  // REQUIRES: n % 32 == 0

// Products rounded to f32, summed in double (ggml_vec_dot_{f32,f16,bf16} scalar path).
float VecDotF32(int64_t n, const void* w_row, const void* x_vd);
float VecDotF16(int64_t n, const void* w_row, const void* x_vd);
float VecDotBf16(int64_t n, const void* w_row, const void* x_vd);
// sum over blocks of (int) sum(qw * qx) * (d_w * d_x), in float. REQUIRES: n % 32 == 0.
float VecDotQ8_0(int64_t n, const void* w_row, const void* x_vd);

// y[t * y_stride + r] = VecDot(W row r, x row t) for r in [r0, r1), t in [0, n_tok); nothing
// else in y is written. REQUIRES: 0 <= r0 <= r1, n_tok >= 0, k % block_size == 0, rows
// r0..r1-1 of W (w_row_bytes apart) and n_tok rows of x (x_row_bytes apart) readable.
void MatMulF32(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);
void MatMulF16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
               const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);
void MatMulBf16(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);
void MatMulQ8_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);

// --- activation types ------------------------------------------------------------------
// ggml quantize_row_q8_1_ref: as Q8_0 (roundf), plus s = f16(d * sum(qs)). REQUIRES: n % 32 == 0.
void QuantizeRowQ8_1(const float* x, void* out, int64_t n);
void DequantizeRowQ8_1(const void* row, float* out, int64_t n);
// ggml quantize_row_q8_K_ref: per 256 values, max = the value of largest magnitude,
// iscale = -127 / max, q = min(127, nearest_int(iscale * x)) (round half to even), d = 1 / iscale
// (f32; 0 and all-zero quants for an all-zero block), bsums = sums of 16 quants.
// REQUIRES: n % 256 == 0.
void QuantizeRowQ8_K(const float* x, void* out, int64_t n);
void DequantizeRowQ8_K(const void* row, float* out, int64_t n);

// --- quantized weight types -----------------------------------------------------------
// For each type T: QuantizeRowT is llama.cpp's quantize_row_t_ref (byte-identical results),
// DequantizeRowT its dequantize_row_t, VecDotT its ggml_vec_dot_t_<vec-dot type> generic
// (scalar) code with x_vd in Info(T).vec_dot_type, and MatMulT the MatMul contract over VecDotT.
// Legacy types (blocks of 32): Q4_0, Q5_0, IQ4_NL against Q8_0; Q4_1, Q5_1 against Q8_1.
// K-quants (super-blocks of 256): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS against Q8_K.
#define ONDO_REF_WEIGHT_TYPE(T)                                                              \
  void QuantizeRow##T(const float* x, void* out, int64_t n);                                 \
  void DequantizeRow##T(const void* row, float* out, int64_t n);                             \
  float VecDot##T(int64_t n, const void* w_row, const void* x_vd);                           \
  void MatMul##T(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,       \
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);
ONDO_REF_WEIGHT_TYPE(Q4_0)
ONDO_REF_WEIGHT_TYPE(Q4_1)
ONDO_REF_WEIGHT_TYPE(Q5_0)
ONDO_REF_WEIGHT_TYPE(Q5_1)
ONDO_REF_WEIGHT_TYPE(IQ4_NL)
ONDO_REF_WEIGHT_TYPE(Q2_K)
ONDO_REF_WEIGHT_TYPE(Q3_K)
ONDO_REF_WEIGHT_TYPE(Q4_K)
ONDO_REF_WEIGHT_TYPE(Q5_K)
ONDO_REF_WEIGHT_TYPE(Q6_K)
ONDO_REF_WEIGHT_TYPE(IQ4_XS)
// ondo's native 2-bit type (blocks.h): QuantizeRowOQ2 is the weighted search without an
// importance matrix; VecDotOQ2 is the specification of the SIMD kernels.
ONDO_REF_WEIGHT_TYPE(OQ2)
#undef ONDO_REF_WEIGHT_TYPE
// imatrix: n mean squared activations (or nullptr).
void QuantizeRowOQ2Weighted(const float* x, void* out, int64_t n, const float* imatrix);

// The generic MatMul over a VecDot (no tiling: the reference is the truth).
template <float (*Dot)(int64_t, const void*, const void*)>
void MatMulByDot(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
                 const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  const unsigned char* wb = static_cast<const unsigned char*>(w);
  const unsigned char* xb = static_cast<const unsigned char*>(x_vd);
  for (int t = 0; t < n_tok; ++t) {
    for (int64_t r = r0; r < r1; ++r) {
      y[t * y_stride + r] = Dot(k, wb + static_cast<size_t>(r) * w_row_bytes,
                                xb + static_cast<size_t>(t) * x_row_bytes);
    }
  }
}

// --- element-wise, normalisation, rope, attention (contracts in kernels.h) ---------------
void RmsNorm(const float* x, const float* w, float* out, int64_t n, float eps);
void LayerNorm(const float* x, const float* w, const float* b, float* out, int64_t n, float eps);
void Softmax(float* x, int64_t n);
void SwiGlu(const float* gate, const float* up, float* out, int64_t n);
void Gelu(const float* x, float* out, int64_t n);
void GeGlu(const float* gate, const float* up, float* out, int64_t n);
void Add(const float* x, float* y, int64_t n);
void Rope(float* x, int n_heads, int head_dim, int pos, const RopeParams& p);
// q.k: products of f16-rounded q and f16 k in f32, summed in double (as VecDotF16).
// args.out may alias args.q.
void AttentionF16(const AttentionArgs& args);
// K and V rows dequantized element by element (d * q), q in f32; args.out may alias args.q.
void AttentionQ8_0(const AttentionQ8Args& args);

}  // namespace ondo::kernels::ref
