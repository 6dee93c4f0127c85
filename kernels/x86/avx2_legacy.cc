// SKELETON (to be replaced): avx2 kernels of Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL.
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace ondo::kernels::avx2 {

void QuantizeRowQ8_1(const float* x, void* out, int64_t n) { ref::QuantizeRowQ8_1(x, out, n); }

float VecDotQ4_0(int64_t n, const void* w, const void* x) { return ref::VecDotQ4_0(n, w, x); }
void MatMulQ4_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ4_0(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ4_1(int64_t n, const void* w, const void* x) { return ref::VecDotQ4_1(n, w, x); }
void MatMulQ4_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ4_1(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ5_0(int64_t n, const void* w, const void* x) { return ref::VecDotQ5_0(n, w, x); }
void MatMulQ5_0(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ5_0(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ5_1(int64_t n, const void* w, const void* x) { return ref::VecDotQ5_1(n, w, x); }
void MatMulQ5_1(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ5_1(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotIQ4_NL(int64_t n, const void* w, const void* x) { return ref::VecDotIQ4_NL(n, w, x); }
void MatMulIQ4_NL(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulIQ4_NL(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::avx2
