// Unicode helpers for the tokenizers: strict UTF-8 decoding, general categories, White_Space,
// NFC/NFD, and GPT-2's byte <-> unicode mapping. Tables come from tools/gen_unicode.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ondo::tokenizer::unicode {

// Unicode general categories; the numbering matches tools/gen_unicode.py.
enum class Category : uint8_t {
  kCn = 0, kLu, kLl, kLt, kLm, kLo, kMn, kMc, kMe, kNd, kNl, kNo, kPc, kPd, kPs, kPe, kPi, kPf,
  kPo, kSm, kSc, kSk, kSo, kZs, kZl, kZp, kCc, kCf, kCs, kCo,
};
constexpr int kNumCategories = 30;

// Bit masks over categories (bit i = Category i), for regex classes such as \p{L}.
using CategoryMask = uint32_t;
constexpr CategoryMask Bit(Category c) { return CategoryMask{1} << static_cast<int>(c); }
constexpr CategoryMask kMaskL = Bit(Category::kLu) | Bit(Category::kLl) | Bit(Category::kLt) |
                                Bit(Category::kLm) | Bit(Category::kLo);
constexpr CategoryMask kMaskM = Bit(Category::kMn) | Bit(Category::kMc) | Bit(Category::kMe);
constexpr CategoryMask kMaskN = Bit(Category::kNd) | Bit(Category::kNl) | Bit(Category::kNo);
constexpr CategoryMask kMaskP = Bit(Category::kPc) | Bit(Category::kPd) | Bit(Category::kPs) |
                                Bit(Category::kPe) | Bit(Category::kPi) | Bit(Category::kPf) |
                                Bit(Category::kPo);
constexpr CategoryMask kMaskS = Bit(Category::kSm) | Bit(Category::kSc) | Bit(Category::kSk) |
                                Bit(Category::kSo);
constexpr CategoryMask kMaskZ = Bit(Category::kZs) | Bit(Category::kZl) | Bit(Category::kZp);
constexpr CategoryMask kMaskC = Bit(Category::kCn) | Bit(Category::kCc) | Bit(Category::kCf) |
                                Bit(Category::kCs) | Bit(Category::kCo);

// The Unicode version of the tables.
const char* Version();

Category GetCategory(uint32_t cp);
inline CategoryMask CategoryBit(uint32_t cp) { return Bit(GetCategory(cp)); }
// Parses a category name ("L", "Lu", "N", "Nd", ...; also "Letter" style long names).
// Returns false if unknown.
bool ParseCategoryName(std::string_view name, CategoryMask* mask);

// The White_Space property (what \s matches in Oniguruma / Rust `char::is_whitespace`).
bool IsWhitespace(uint32_t cp);
// Canonical combining class.
uint8_t CombiningClass(uint32_t cp);

// --- UTF-8 ---------------------------------------------------------------------------------
// Length of the sequence a lead byte announces (1 for invalid lead bytes, like llama.cpp).
inline size_t Utf8SeqLen(uint8_t lead) {
  static const uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}
// Strictly decodes one code point at s[*pos] (no overlongs, surrogates or > U+10FFFF) and
// advances *pos. Returns false (and leaves *pos) on an invalid or truncated sequence.
bool DecodeOne(std::string_view s, size_t* pos, uint32_t* cp);
// Returns the byte offset of the first invalid sequence, or std::string_view::npos.
size_t FindInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }
// Decodes valid UTF-8 (REQUIRES: IsValidUtf8) into code points, appending to *cps.
void DecodeValid(std::string_view s, std::vector<uint32_t>* cps);
void AppendUtf8(uint32_t cp, std::string* out);
// Number of bytes of the longest prefix of s[0..n) that ends on a character boundary, given
// that s is valid UTF-8 up to a possibly truncated final character.
size_t CompletePrefix(const char* s, size_t n);

// --- Normalization -------------------------------------------------------------------------
// REQUIRES: valid UTF-8. Appends the normalized text to *out.
void Nfd(std::string_view in, std::string* out);
void Nfc(std::string_view in, std::string* out);

// --- GPT-2 byte-level mapping --------------------------------------------------------------
// The code point byte b stands for in byte-level BPE vocabularies (printable bytes map to
// themselves, the rest to U+0100 + n).
uint32_t ByteToCodepoint(uint8_t b);
// Inverse of ByteToCodepoint; returns -1 for code points that are not byte symbols.
int CodepointToByte(uint32_t cp);

}  // namespace ondo::tokenizer::unicode
