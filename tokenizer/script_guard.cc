// Script guard tables and the per-vocabulary mask.
#include "tokenizer/script_guard.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

struct Range {
  uint32_t lo, hi;
};

constexpr Range kHangul[] = {
    {0x1100, 0x11FF}, {0x3131, 0x318E}, {0xA960, 0xA97F}, {0xAC00, 0xD7A3}, {0xD7B0, 0xD7FF},
    {0xFFA0, 0xFFDC},  // halfwidth Hangul
};
constexpr Range kLatin[] = {
    {'A', 'Z'}, {'a', 'z'}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0xFF},
};
constexpr Range kDigits[] = {
    {'0', '9'}, {0x2460, 0x2473},  // ① .. ⑳
};
constexpr Range kPunct[] = {
    {0x21, 0x2F}, {0x3A, 0x40}, {0x5B, 0x60}, {0x7B, 0x7E},  // ASCII punctuation and symbols
    {0xA0, 0xA0}, {0xA7, 0xA7}, {0xB0, 0xB1}, {0xB7, 0xB7}, {0xD7, 0xD7}, {0xF7, 0xF7},
    {0x2010, 0x2027}, {0x2030, 0x205E},                       // general punctuation
    {0x20A9, 0x20A9}, {0x20AC, 0x20AC},                       // ₩ €
    {0x2103, 0x2103}, {0x2116, 0x2116}, {0x2190, 0x2193},     // ℃ № ←↑→↓
    {0x223C, 0x223C},                                         // ∼
    {0x3000, 0x3003}, {0x3008, 0x3011}, {0x3014, 0x3015}, {0x301C, 0x301C},  // 、。〈〉《》「」『』【】〔〕〜
    {0xFF01, 0xFF0F}, {0xFF1A, 0xFF1F},                       // fullwidth ！？，．：
};
constexpr Range kHanja[] = {
    {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF},
};

template <size_t N>
bool In(const Range (&ranges)[N], uint32_t cp) {
  for (const Range& r : ranges) {
    if (cp >= r.lo && cp <= r.hi) return true;
  }
  return false;
}

template <size_t N>
bool Overlaps(const Range (&ranges)[N], uint32_t lo, uint32_t hi) {
  for (const Range& r : ranges) {
    if (r.lo <= hi && lo <= r.hi) return true;
  }
  return false;
}

bool AnyAllowedIn(const ScriptSet& s, uint32_t lo, uint32_t hi) {
  if (s.hangul && Overlaps(kHangul, lo, hi)) return true;
  if (s.latin && Overlaps(kLatin, lo, hi)) return true;
  if (s.digits && Overlaps(kDigits, lo, hi)) return true;
  if (s.punctuation && Overlaps(kPunct, lo, hi)) return true;
  if (s.hanja && Overlaps(kHanja, lo, hi)) return true;
  return false;
}

}  // namespace

bool ScriptAllows(const ScriptSet& s, uint32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ' || cp == 0x3000) return true;
  if (unicode::IsWhitespace(cp)) return true;
  return AnyAllowedIn(s, cp, cp);
}

bool PieceAllowed(const ScriptSet& s, std::string_view bytes) {
  size_t pos = 0;
  // The tail of a character that an earlier token began.
  while (pos < bytes.size() && (static_cast<uint8_t>(bytes[pos]) & 0xC0) == 0x80) ++pos;
  while (pos < bytes.size()) {
    uint32_t cp = 0;
    size_t next = pos;
    if (unicode::DecodeOne(bytes, &next, &cp)) {
      if (!ScriptAllows(s, cp)) return false;
      pos = next;
      continue;
    }
    // Not a complete character: allowed only if it is a truncated prefix at the very end
    // that can still become an allowed character.
    const uint8_t lead = static_cast<uint8_t>(bytes[pos]);
    const size_t len = unicode::Utf8SeqLen(lead);
    const size_t have = bytes.size() - pos;
    if (len < 2 || have >= len) return false;  // invalid lead, or a complete but invalid sequence
    uint32_t prefix = lead & (0x7Fu >> len);
    for (size_t i = 1; i < have; ++i) {
      const uint8_t b = static_cast<uint8_t>(bytes[pos + i]);
      if ((b & 0xC0) != 0x80) return false;
      prefix = (prefix << 6) | (b & 0x3F);
    }
    const size_t missing_bits = 6 * (len - have);
    // The smallest code point a sequence of this length may encode (shorter would be overlong).
    const uint32_t min_cp = len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u;
    const uint32_t lo = std::max(prefix << missing_bits, min_cp);
    const uint32_t hi = (prefix << missing_bits) | ((1u << missing_bits) - 1);
    if (lo > hi) return false;
    return AnyAllowedIn(s, lo, hi);
  }
  return true;
}

std::vector<uint64_t> BuildScriptMask(const Tokenizer& tok, const ScriptSet& set) {
  const int32_t n = tok.n_vocab();
  std::vector<uint64_t> mask((static_cast<size_t>(n) + 63) / 64, 0);
  for (int32_t id = 0; id < n; ++id) {
    if (PieceAllowed(set, tok.Piece(id))) mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
  }
  return mask;
}

ScriptGuard::ScriptGuard(const Tokenizer& tok, const ScriptSet& set)
    : tok_(tok), set_(set), n_vocab_(tok.n_vocab()) {
  const size_t words = (static_cast<size_t>(n_vocab_) + 63) / 64;
  boundary_mask_.assign(words, 0);
  dynamic_mask_.assign(words, 0);
  size_t longest = 0;
  for (int32_t id = 0; id < n_vocab_; ++id) {
    const std::string_view piece = tok.Piece(id);
    longest = std::max(longest, piece.size());
    if (tok.IsEog(id)) eog_ids_.push_back(id);
    if (!piece.empty() && (static_cast<uint8_t>(piece[0]) & 0xC0) == 0x80) {
      continuation_ids_.push_back(id);
    } else if (PieceAllowed(set, piece)) {
      boundary_mask_[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
    }
  }
  scratch_.reserve(longest + sizeof(pending_));
}

void ScriptGuard::Accept(int32_t id) {
  if (id < 0 || id >= n_vocab_ || tok_.IsEog(id)) return;
  // Keep only the incomplete tail of (pending bytes + piece): at most 3 bytes.
  scratch_.assign(pending_, pending_size_);
  scratch_.append(tok_.Piece(id));
  size_t start = scratch_.size();
  size_t back = 0;
  while (start > 0 && back < 3 && (static_cast<uint8_t>(scratch_[start - 1]) & 0xC0) == 0x80) {
    --start;
    ++back;
  }
  pending_size_ = 0;
  if (start == 0) return;
  const uint8_t lead = static_cast<uint8_t>(scratch_[start - 1]);
  const size_t len = unicode::Utf8SeqLen(lead);
  const size_t have = scratch_.size() - (start - 1);
  if (len >= 2 && have < len) {
    pending_size_ = have;
    std::memcpy(pending_, scratch_.data() + start - 1, have);
  }
}

const uint64_t* ScriptGuard::Mask() {
  if (pending_size_ == 0) return boundary_mask_.data();
  std::fill(dynamic_mask_.begin(), dynamic_mask_.end(), 0);
  bool any = false;
  for (int32_t id : continuation_ids_) {
    scratch_.assign(pending_, pending_size_);
    scratch_.append(tok_.Piece(id));
    if (PieceAllowed(set_, scratch_)) {
      dynamic_mask_[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
      any = true;
    }
  }
  // Finish the character before stopping; end-of-generation only if nothing can finish it.
  if (!any) {
    for (int32_t id : eog_ids_) dynamic_mask_[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
  }
  return dynamic_mask_.data();
}

}  // namespace ondo::tokenizer
