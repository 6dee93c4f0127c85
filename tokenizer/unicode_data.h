// Generated Unicode tables (tokenizer/unicode_data.cc, from tools/gen_unicode.py). Use the
// functions in unicode.h rather than these arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ondo::tokenizer::unicode_data {

struct Decomposition {
  uint32_t cp;
  uint32_t first;
  uint32_t second;  // 0 for a singleton decomposition
};

struct Composition {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};

extern const char kUnicodeVersion[];
// Runs over 0..0x10FFFF: (first code point << 8) | value, sorted by code point.
extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunsSize;
extern const uint32_t kCccRuns[];
extern const size_t kCccRunsSize;
// Canonical decompositions, sorted by cp (Hangul syllables excluded: algorithmic).
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionsSize;
// Primary composites, sorted by (first, second).
extern const Composition kCompositions[];
extern const size_t kCompositionsSize;

}  // namespace ondo::tokenizer::unicode_data
