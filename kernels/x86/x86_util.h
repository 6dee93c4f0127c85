// What every x86 kernel file includes: <immintrin.h>, and the small scalar loaders and
// horizontal reductions they share. Rows and blocks may sit at any byte address, so fields are
// read with memcpy (one mov once inlined).
//
// Internal linkage, as tile_driver.h: each TU, compiled with its own -m flags, gets its own
// copy. The AVX-512 helpers exist only in the TUs compiled with AVX-512.
#pragma once

// GCC 12's AVX-512 intrinsics pass "undefined" operands initialised with themselves
// (_mm512_undefined_ps: __m512 __Y = __Y), which -Wuninitialized reports wherever they are
// inlined (GCC PR 105593, fixed in 13). Silence those two diagnostics for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ondo::kernels::x86 {
namespace {

using Byte = unsigned char;

inline uint16_t LoadU16(const Byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t LoadU32(const Byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline int32_t LoadI32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline float LoadF32(const Byte* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
// f16 <-> f32 (F16C), round to nearest even.
inline float H2F(uint16_t h) { return _cvtsh_ss(h); }
inline float H2F(const Byte* p) { return _cvtsh_ss(LoadU16(p)); }
inline uint16_t F2H(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

inline __m128i Load128(const Byte* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline __m256i Load256(const Byte* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Horizontal sum, max and min of 8 floats (the summation order is part of the kernels'
// results: ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7))).
inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float HMax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float HMin(__m256 v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline int HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

#if defined(__AVX512F__)
inline __m512i Load512(const Byte* p) { return _mm512_loadu_si512(p); }

// For activations in the group layout of 4 blocks (lo: values 0..15, hi: 16..31 of each block,
// int32 lane i from block i % 4; see group_driver.h): c[b] = -(off * the sum of block b's
// quants), b < 4, with vpdpbusd (exact in int32), where `off` holds the same byte everywhere.
// Starting lane b's vpdpbusd sum at c[b] removes an unsigned weight offset exactly. c: 16-byte
// aligned.
inline void StoreGroupOffsetTerms(__m512i off, __m512i lo, __m512i hi, int32_t* c) {
  const __m512i sum =
      _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), off, lo), off, hi);
  const __m256i s8 =
      _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
  const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
  _mm_store_si128(reinterpret_cast<__m128i*>(c), _mm_sub_epi32(_mm_setzero_si128(), s4));
}
#endif

}  // namespace
}  // namespace ondo::kernels::x86
