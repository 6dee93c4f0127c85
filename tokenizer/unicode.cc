// Unicode helpers: table lookups, strict UTF-8, NFC/NFD (UAX #15), GPT-2 byte mapping.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

#include "tokenizer/unicode_data.h"

namespace ondo::tokenizer::unicode {
namespace {

namespace ud = unicode_data;

constexpr uint32_t kMaxCp = 0x10FFFF;

// Hangul syllable composition constants (Unicode ch. 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint8_t RunLookup(const uint32_t* runs, size_t n, uint32_t cp) {
  // Last run whose start <= cp.
  const uint32_t key = (cp << 8) | 0xFF;
  const uint32_t* it = std::upper_bound(runs, runs + n, key);
  return it == runs ? 0 : static_cast<uint8_t>(*(it - 1) & 0xFF);
}

// The Basic Multilingual Plane is looked up directly (64 KiB, built once).
const std::array<uint8_t, 0x10000>& BmpCategories() {
  static const std::array<uint8_t, 0x10000> table = [] {
    std::array<uint8_t, 0x10000> t{};
    for (size_t i = 0; i < ud::kCategoryRunsSize; ++i) {
      const uint32_t start = ud::kCategoryRuns[i] >> 8;
      const uint32_t end = i + 1 < ud::kCategoryRunsSize ? (ud::kCategoryRuns[i + 1] >> 8)
                                                         : kMaxCp + 1;
      for (uint32_t cp = start; cp < end && cp < 0x10000; ++cp) {
        t[cp] = static_cast<uint8_t>(ud::kCategoryRuns[i] & 0xFF);
      }
    }
    return t;
  }();
  return table;
}

// Appends the full canonical decomposition of cp.
void DecomposeInto(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const ud::Decomposition* begin = ud::kDecompositions;
  const ud::Decomposition* end = begin + ud::kDecompositionsSize;
  const ud::Decomposition* it = std::lower_bound(
      begin, end, cp, [](const ud::Decomposition& d, uint32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out->push_back(cp);
    return;
  }
  DecomposeInto(it->first, out);
  if (it->second != 0) DecomposeInto(it->second, out);
}

// Canonical ordering: stable sort of each run of non-starters by combining class.
void ReorderMarks(std::vector<uint32_t>* cps) {
  auto& v = *cps;
  size_t i = 0;
  while (i < v.size()) {
    if (CombiningClass(v[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < v.size() && CombiningClass(v[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(v.begin() + i, v.begin() + j, [](uint32_t a, uint32_t b) {
        return CombiningClass(a) < CombiningClass(b);
      });
    }
    i = j;
  }
}

bool ComposePair(uint32_t a, uint32_t b, uint32_t* out) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    *out = kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    return true;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    *out = a + (b - kTBase);
    return true;
  }
  const ud::Composition* begin = ud::kCompositions;
  const ud::Composition* end = begin + ud::kCompositionsSize;
  const ud::Composition* it =
      std::lower_bound(begin, end, std::make_pair(a, b),
                       [](const ud::Composition& c, const std::pair<uint32_t, uint32_t>& k) {
                         return c.first < k.first || (c.first == k.first && c.second < k.second);
                       });
  if (it == end || it->first != a || it->second != b) return false;
  *out = it->composite;
  return true;
}

void ComposeInPlace(std::vector<uint32_t>* cps) {
  auto& v = *cps;
  size_t n_out = 0;
  long starter = -1;
  int last_cc = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t c = v[i];
    const int cc = CombiningClass(c);
    if (starter >= 0) {
      const bool adjacent = n_out == static_cast<size_t>(starter) + 1;
      const bool unblocked = adjacent || (last_cc != 0 && last_cc < cc);
      uint32_t composite = 0;
      if (unblocked && ComposePair(v[starter], c, &composite)) {
        v[starter] = composite;
        continue;
      }
    }
    if (cc == 0) {
      starter = static_cast<long>(n_out);
      last_cc = 0;
    } else {
      last_cc = cc;
    }
    v[n_out++] = c;
  }
  v.resize(n_out);
}

struct ByteTables {
  uint32_t byte_to_cp[256];
  int16_t cp_to_byte[324];  // byte symbols are all below U+0144
};

const ByteTables& GetByteTables() {
  static const ByteTables tables = [] {
    ByteTables t{};
    for (int16_t& x : t.cp_to_byte) x = -1;
    bool direct[256] = {};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = direct[b] ? static_cast<uint32_t>(b) : next++;
      t.byte_to_cp[b] = cp;
      t.cp_to_byte[cp] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

const char* Version() { return ud::kUnicodeVersion; }

Category GetCategory(uint32_t cp) {
  if (cp < 0x10000) return static_cast<Category>(BmpCategories()[cp]);
  if (cp > kMaxCp) return Category::kCn;
  return static_cast<Category>(RunLookup(ud::kCategoryRuns, ud::kCategoryRunsSize, cp));
}

bool ParseCategoryName(std::string_view name, CategoryMask* mask) {
  struct Entry {
    const char* name;
    CategoryMask mask;
  };
  static const Entry kEntries[] = {
      {"L", kMaskL}, {"Letter", kMaskL}, {"M", kMaskM}, {"Mark", kMaskM}, {"Combining_Mark", kMaskM},
      {"N", kMaskN}, {"Number", kMaskN}, {"P", kMaskP}, {"Punctuation", kMaskP},
      {"S", kMaskS}, {"Symbol", kMaskS}, {"Z", kMaskZ}, {"Separator", kMaskZ},
      {"C", kMaskC}, {"Other", kMaskC},
      {"LC", Bit(Category::kLu) | Bit(Category::kLl) | Bit(Category::kLt)},
      {"L&", Bit(Category::kLu) | Bit(Category::kLl) | Bit(Category::kLt)},
      {"Cased_Letter", Bit(Category::kLu) | Bit(Category::kLl) | Bit(Category::kLt)},
      {"Lu", Bit(Category::kLu)}, {"Uppercase_Letter", Bit(Category::kLu)},
      {"Ll", Bit(Category::kLl)}, {"Lowercase_Letter", Bit(Category::kLl)},
      {"Lt", Bit(Category::kLt)}, {"Titlecase_Letter", Bit(Category::kLt)},
      {"Lm", Bit(Category::kLm)}, {"Modifier_Letter", Bit(Category::kLm)},
      {"Lo", Bit(Category::kLo)}, {"Other_Letter", Bit(Category::kLo)},
      {"Mn", Bit(Category::kMn)}, {"Nonspacing_Mark", Bit(Category::kMn)},
      {"Mc", Bit(Category::kMc)}, {"Spacing_Mark", Bit(Category::kMc)},
      {"Me", Bit(Category::kMe)}, {"Enclosing_Mark", Bit(Category::kMe)},
      {"Nd", Bit(Category::kNd)}, {"Decimal_Number", Bit(Category::kNd)},
      {"Nl", Bit(Category::kNl)}, {"Letter_Number", Bit(Category::kNl)},
      {"No", Bit(Category::kNo)}, {"Other_Number", Bit(Category::kNo)},
      {"Pc", Bit(Category::kPc)}, {"Connector_Punctuation", Bit(Category::kPc)},
      {"Pd", Bit(Category::kPd)}, {"Dash_Punctuation", Bit(Category::kPd)},
      {"Ps", Bit(Category::kPs)}, {"Open_Punctuation", Bit(Category::kPs)},
      {"Pe", Bit(Category::kPe)}, {"Close_Punctuation", Bit(Category::kPe)},
      {"Pi", Bit(Category::kPi)}, {"Initial_Punctuation", Bit(Category::kPi)},
      {"Pf", Bit(Category::kPf)}, {"Final_Punctuation", Bit(Category::kPf)},
      {"Po", Bit(Category::kPo)}, {"Other_Punctuation", Bit(Category::kPo)},
      {"Sm", Bit(Category::kSm)}, {"Math_Symbol", Bit(Category::kSm)},
      {"Sc", Bit(Category::kSc)}, {"Currency_Symbol", Bit(Category::kSc)},
      {"Sk", Bit(Category::kSk)}, {"Modifier_Symbol", Bit(Category::kSk)},
      {"So", Bit(Category::kSo)}, {"Other_Symbol", Bit(Category::kSo)},
      {"Zs", Bit(Category::kZs)}, {"Space_Separator", Bit(Category::kZs)},
      {"Zl", Bit(Category::kZl)}, {"Line_Separator", Bit(Category::kZl)},
      {"Zp", Bit(Category::kZp)}, {"Paragraph_Separator", Bit(Category::kZp)},
      {"Cc", Bit(Category::kCc)}, {"Control", Bit(Category::kCc)},
      {"Cf", Bit(Category::kCf)}, {"Format", Bit(Category::kCf)},
      {"Cs", Bit(Category::kCs)}, {"Surrogate", Bit(Category::kCs)},
      {"Co", Bit(Category::kCo)}, {"Private_Use", Bit(Category::kCo)},
      {"Cn", Bit(Category::kCn)}, {"Unassigned", Bit(Category::kCn)},
  };
  for (const Entry& e : kEntries) {
    if (name == e.name) {
      *mask = e.mask;
      return true;
    }
  }
  return false;
}

bool IsWhitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint8_t CombiningClass(uint32_t cp) {
  if (cp < 0x300) return 0;
  return RunLookup(ud::kCccRuns, ud::kCccRunsSize, cp);
}

bool DecodeOne(std::string_view s, size_t* pos, uint32_t* cp) {
  const size_t i = *pos;
  if (i >= s.size()) return false;
  const uint8_t b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return true;
  }
  size_t len;
  uint32_t c;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > kMaxCp || (c >= 0xD800 && c <= 0xDFFF)) return false;
  *cp = c;
  *pos = i + len;
  return true;
}

size_t FindInvalidUtf8(std::string_view s) {
  size_t pos = 0;
  uint32_t cp;
  while (pos < s.size()) {
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (!DecodeOne(s, &pos, &cp)) return pos;
  }
  return std::string_view::npos;
}

void DecodeValid(std::string_view s, std::vector<uint32_t>* cps) {
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < s.size()) {
    if (!DecodeOne(s, &pos, &cp)) {  // not reached for valid input; stay total anyway
      cp = 0xFFFD;
      ++pos;
    }
    cps->push_back(cp);
  }
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t CompletePrefix(const char* s, size_t n) {
  // Look back at most 3 bytes for the lead byte of the last character.
  size_t back = 0;
  while (back < n && back < 4) {
    const uint8_t b = static_cast<uint8_t>(s[n - 1 - back]);
    if ((b & 0xC0) != 0x80) {
      const size_t len = Utf8SeqLen(b);
      return back + 1 >= len ? n : n - back - 1;
    }
    ++back;
  }
  return n;
}

void Nfd(std::string_view in, std::string* out) {
  std::vector<uint32_t> cps;
  std::vector<uint32_t> decomposed;
  DecodeValid(in, &cps);
  decomposed.reserve(cps.size() + 8);
  for (uint32_t cp : cps) DecomposeInto(cp, &decomposed);
  ReorderMarks(&decomposed);
  for (uint32_t cp : decomposed) AppendUtf8(cp, out);
}

void Nfc(std::string_view in, std::string* out) {
  bool ascii = true;
  for (char c : in) {
    if (static_cast<uint8_t>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    out->append(in);
    return;
  }
  std::vector<uint32_t> cps;
  std::vector<uint32_t> decomposed;
  DecodeValid(in, &cps);
  decomposed.reserve(cps.size() * 2 + 8);
  for (uint32_t cp : cps) DecomposeInto(cp, &decomposed);
  ReorderMarks(&decomposed);
  ComposeInPlace(&decomposed);
  for (uint32_t cp : decomposed) AppendUtf8(cp, out);
}

uint32_t ByteToCodepoint(uint8_t b) { return GetByteTables().byte_to_cp[b]; }

int CodepointToByte(uint32_t cp) {
  if (cp >= 324) return -1;
  return GetByteTables().cp_to_byte[cp];
}

}  // namespace ondo::tokenizer::unicode
