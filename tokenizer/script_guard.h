// Script guard: which tokens may appear in an answer restricted to a set of scripts (Korean
// mode: Hangul, Latin, digits, common punctuation, whitespace; optionally Hanja). Computed
// once per vocabulary as a bit set; the sampler masks the rest.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace ondo::tokenizer {

struct ScriptSet {
  bool hangul = true;
  bool latin = true;        // ASCII letters and Latin-1 letters (é, ü ...)
  bool digits = true;       // ASCII digits, circled numbers
  bool punctuation = true;  // ASCII punctuation/symbols, general punctuation, CJK brackets, ₩ € ℃ ...
  bool hanja = false;       // CJK unified ideographs
};

// True if code point cp belongs to the allowed set (whitespace is always allowed).
bool ScriptAllows(const ScriptSet& set, uint32_t cp);

// True if `bytes` (a token's decoded piece, possibly starting inside or ending inside a
// UTF-8 sequence) can be part of allowed text: every complete character is allowed, and a
// truncated final sequence can still complete to an allowed character. Leading continuation
// bytes (the rest of a character begun by an earlier token) are accepted.
bool PieceAllowed(const ScriptSet& set, std::string_view bytes);

// Bit i of the result (word i / 64, bit i % 64) is set when token i is allowed. Control and
// end-of-generation tokens (empty pieces) are always allowed.
std::vector<uint64_t> BuildScriptMask(const Tokenizer& tok, const ScriptSet& set);

inline bool MaskAllows(const std::vector<uint64_t>& mask, int32_t id) {
  return (mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1;
}

}  // namespace ondo::tokenizer
