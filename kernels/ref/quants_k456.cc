// SKELETON (to be replaced): scalar reference of Q4_K, Q5_K, Q6_K, IQ4_XS.
#include <cstring>

#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {

void QuantizeRowQ4_K(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ4_K(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ4_K(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ4_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ5_K(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ5_K(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ5_K(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ5_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ6_K(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ6_K(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ6_K(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ6_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ6_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowIQ4_XS(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowIQ4_XS(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotIQ4_XS(int64_t, const void*, const void*) { return 0.0f; }
void MatMulIQ4_XS(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotIQ4_XS>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
