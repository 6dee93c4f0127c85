// SKELETON (to be replaced): avx2 kernels of Q4_K, Q5_K, Q6_K, IQ4_XS.
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace ondo::kernels::avx2 {

float VecDotQ4_K(int64_t n, const void* w, const void* x) { return ref::VecDotQ4_K(n, w, x); }
void MatMulQ4_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ4_K(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ5_K(int64_t n, const void* w, const void* x) { return ref::VecDotQ5_K(n, w, x); }
void MatMulQ5_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ5_K(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotQ6_K(int64_t n, const void* w, const void* x) { return ref::VecDotQ6_K(n, w, x); }
void MatMulQ6_K(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulQ6_K(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

float VecDotIQ4_XS(int64_t n, const void* w, const void* x) { return ref::VecDotIQ4_XS(n, w, x); }
void MatMulIQ4_XS(const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k, const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  ref::MatMulIQ4_XS(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

}  // namespace ondo::kernels::avx2
