// SKELETON (to be replaced): avx512 kernels of Q2_K, Q3_K.
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace ondo::kernels::avx512 {

void QuantizeRowQ8_K(const float* x, void* out, int64_t n) { ref::QuantizeRowQ8_K(x, out, n); }

float VecDotQ2_K(int64_t n, const void* w, const void* x) { return ref::VecDotQ2_K(n, w, x); }
void MatMulQ2_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ2_K(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ3_K(int64_t n, const void* w, const void* x) { return ref::VecDotQ3_K(n, w, x); }
void MatMulQ3_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ3_K(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::avx512
