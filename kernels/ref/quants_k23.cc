// SKELETON (to be replaced): scalar reference of Q2_K, Q3_K.
#include <cstring>

#include "kernels/ref/ref.h"

namespace ondo::kernels::ref {

void QuantizeRowQ2_K(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ2_K(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ2_K(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ2_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ2_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void QuantizeRowQ3_K(const float*, void* out, int64_t n) { (void)out; (void)n; }
void DequantizeRowQ3_K(const void*, float* out, int64_t n) { for (int64_t i = 0; i < n; ++i) out[i] = 0.0f; }
float VecDotQ3_K(int64_t, const void*, const void*) { return 0.0f; }
void MatMulQ3_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  MatMulByDot<VecDotQ3_K>(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::ref
