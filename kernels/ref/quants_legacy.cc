// SKELETON (to be replaced): scalar reference of Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL.
#include <cstring>

#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {

void QuantizeRowQ4_0(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ4_0(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ4_0(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ4_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_0>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ4_1(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ4_1(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ4_1(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ4_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ4_1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ5_0(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ5_0(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ5_0(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ5_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_0>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ5_1(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ5_1(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ5_1(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ5_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ5_1>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowIQ4_NL(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowIQ4_NL(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotIQ4_NL(int64_t, const void*, const void*) { return 0.0f; }
void MatMulIQ4_NL(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotIQ4_NL>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
