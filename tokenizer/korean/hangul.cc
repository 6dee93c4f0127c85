// Hangul syllable arithmetic, jamo tables and strict UTF-8 (see hangul.h).
#include "tokenizer/korean/hangul.h"

namespace ondo::korean {
namespace {

// Offsets from U+3131 of the compatibility letter for each choseong / jongseong index.
constexpr int8_t kChoseongToCompat[kLCount] = {0,  1,  3,  6,  7,  8,  16, 17, 18, 20,
                                               21, 22, 23, 24, 25, 26, 27, 28, 29};
constexpr int8_t kJongseongToCompat[kTCount] = {-1, 0,  1,  2,  3,  4,  5,  6,  8,  9,
                                                10, 11, 12, 13, 14, 15, 16, 17, 19, 20,
                                                21, 22, 23, 25, 26, 27, 28, 29};
constexpr char32_t kCompatBase = 0x3131;
constexpr char32_t kCompatVowelBase = 0x314F;  // ㅏ

}  // namespace

bool DecomposeSyllable(char32_t s, Syllable* out) {
  if (!IsHangulSyllable(s)) return false;
  const int i = static_cast<int>(s - kSBase);
  out->l = i / kNCount;
  out->v = (i % kNCount) / kTCount;
  out->t = i % kTCount;
  return true;
}

char32_t ComposeSyllable(int l, int v, int t) {
  if (l < 0 || l >= kLCount || v < 0 || v >= kVCount || t < 0 || t >= kTCount) return 0;
  return kSBase + static_cast<char32_t>((l * kVCount + v) * kTCount + t);
}

bool HasJongseong(char32_t s) { return IsHangulSyllable(s) && (s - kSBase) % kTCount != 0; }

bool JongseongIsRieul(char32_t s) {
  return IsHangulSyllable(s) && static_cast<int>((s - kSBase) % kTCount) == kTRieul;
}

int JongseongIndex(char32_t s) {
  return IsHangulSyllable(s) ? static_cast<int>((s - kSBase) % kTCount) : 0;
}

char32_t WithJongseong(char32_t s, int t) {
  if (!IsHangulSyllable(s) || t < 0 || t >= kTCount) return 0;
  return s - (s - kSBase) % kTCount + static_cast<char32_t>(t);
}

char32_t ChoseongCompat(int l) {
  return (l >= 0 && l < kLCount) ? kCompatBase + static_cast<char32_t>(kChoseongToCompat[l]) : 0;
}
char32_t JungseongCompat(int v) {
  return (v >= 0 && v < kVCount) ? kCompatVowelBase + static_cast<char32_t>(v) : 0;
}
char32_t JongseongCompat(int t) {
  return (t >= 1 && t < kTCount) ? kCompatBase + static_cast<char32_t>(kJongseongToCompat[t])
                                 : 0;
}

int CompatToJongseongIndex(char32_t c) {
  if (c < kCompatBase || c >= kCompatVowelBase) return 0;
  const int idx = static_cast<int>(c - kCompatBase);
  for (int t = 1; t < kTCount; ++t) {
    if (kJongseongToCompat[t] == idx) return t;
  }
  return 0;
}

char32_t CompatToChoseong(char32_t c) {
  if (c < kCompatBase || c >= kCompatVowelBase) return 0;
  const int idx = static_cast<int>(c - kCompatBase);
  for (int l = 0; l < kLCount; ++l) {
    if (kChoseongToCompat[l] == idx) return kLBase + static_cast<char32_t>(l);
  }
  return 0;
}

char32_t CompatToJungseong(char32_t c) {
  if (c < kCompatVowelBase || c >= kCompatVowelBase + kVCount) return 0;
  return kVBase + (c - kCompatVowelBase);
}

char32_t CompatToJongseong(char32_t c) {
  const int t = CompatToJongseongIndex(c);
  return t ? kTBase + static_cast<char32_t>(t) : 0;
}

char32_t ConjoiningToCompat(char32_t c) {
  if (IsConjoiningChoseong(c)) return ChoseongCompat(static_cast<int>(c - kLBase));
  if (IsConjoiningJungseong(c)) return JungseongCompat(static_cast<int>(c - kVBase));
  if (IsConjoiningJongseong(c)) return JongseongCompat(static_cast<int>(c - kTBase));
  return 0;
}

// ---------------------------------------------------------------- UTF-8
bool DecodeUtf8(std::string_view s, size_t* pos, char32_t* cp) {
  const size_t n = s.size();
  size_t i = *pos;
  if (i >= n) return false;
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return true;
  }
  int len;
  char32_t c;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    *pos = i + 1;
    return false;
  }
  if (i + static_cast<size_t>(len) > n) {
    *pos = i + 1;
    return false;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      *pos = i + 1;
      return false;
    }
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    *pos = i + 1;
    return false;
  }
  *cp = c;
  *pos = i + static_cast<size_t>(len);
  return true;
}

int EncodeUtf8(char32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  if (cp > 0x10FFFF) return 0;
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

bool AppendUtf8(char32_t cp, std::string* out) {
  char buf[4];
  const int n = EncodeUtf8(cp, buf);
  if (n == 0) return false;
  out->append(buf, static_cast<size_t>(n));
  return true;
}

size_t LastCodePointStart(std::string_view s) {
  if (s.empty()) return 0;
  size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return b;
}

char32_t LastCodePoint(std::string_view s) {
  if (s.empty()) return 0;
  size_t pos = LastCodePointStart(s);
  char32_t cp = 0;
  return DecodeUtf8(s, &pos, &cp) && pos == s.size() ? cp : 0;
}

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  char32_t cp;
  while (pos < s.size()) {
    if (!DecodeUtf8(s, &pos, &cp)) return false;
  }
  return true;
}

Status ValidateUtf8(std::string_view s) {
  size_t pos = 0;
  char32_t cp;
  while (pos < s.size()) {
    const size_t at = pos;
    if (!DecodeUtf8(s, &pos, &cp)) return InvalidArgument("invalid UTF-8 at byte {}", at);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- normalisation
Status HangulToNfd(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() * 2);
  size_t pos = 0;
  char32_t cp;
  while (pos < in.size()) {
    const size_t at = pos;
    if (!DecodeUtf8(in, &pos, &cp)) return InvalidArgument("invalid UTF-8 at byte {}", at);
    Syllable s;
    if (DecomposeSyllable(cp, &s)) {
      AppendUtf8(kLBase + static_cast<char32_t>(s.l), out);
      AppendUtf8(kVBase + static_cast<char32_t>(s.v), out);
      if (s.t) AppendUtf8(kTBase + static_cast<char32_t>(s.t), out);
    } else {
      out->append(in.substr(at, pos - at));
    }
  }
  return Status::Ok();
}

Status HangulToNfc(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  size_t pos = 0;
  char32_t last = 0;  // pending code point not yet written
  bool has_last = false;
  char32_t cp;
  while (pos < in.size()) {
    const size_t at = pos;
    if (!DecodeUtf8(in, &pos, &cp)) return InvalidArgument("invalid UTF-8 at byte {}", at);
    if (has_last) {
      // L + V -> LV
      if (last >= kLBase && last < kLBase + kLCount && cp >= kVBase && cp < kVBase + kVCount) {
        last = ComposeSyllable(static_cast<int>(last - kLBase), static_cast<int>(cp - kVBase));
        continue;
      }
      // LV + T -> LVT
      if (IsHangulSyllable(last) && (last - kSBase) % kTCount == 0 && cp > kTBase &&
          cp < kTBase + kTCount) {
        last += cp - kTBase;
        continue;
      }
      AppendUtf8(last, out);
    }
    last = cp;
    has_last = true;
  }
  if (has_last) AppendUtf8(last, out);
  return Status::Ok();
}

Status ConjoiningToCompatString(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  size_t pos = 0;
  char32_t cp;
  while (pos < in.size()) {
    const size_t at = pos;
    if (!DecodeUtf8(in, &pos, &cp)) return InvalidArgument("invalid UTF-8 at byte {}", at);
    const char32_t c = ConjoiningToCompat(cp);
    if (c) {
      AppendUtf8(c, out);
    } else {
      out->append(in.substr(at, pos - at));
    }
  }
  return Status::Ok();
}

}  // namespace ondo::korean
