// Hangul utilities: syllable <-> jamo arithmetic (Unicode §3.12), final-consonant tests,
// compatibility <-> conjoining jamo, algorithmic NFC/NFD for Hangul, strict UTF-8 decode/encode.
//
// Index conventions (Unicode's): choseong L in [0,19), jungseong V in [0,21),
// jongseong T in [0,28) where T == 0 means "no final consonant".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "platform/status.h"

namespace ondo::korean {

inline constexpr char32_t kSBase = 0xAC00;  // 가
inline constexpr char32_t kLBase = 0x1100;  // ᄀ (conjoining choseong)
inline constexpr char32_t kVBase = 0x1161;  // ᅡ (conjoining jungseong)
inline constexpr char32_t kTBase = 0x11A7;  // one before ᆨ (conjoining jongseong)
inline constexpr int kLCount = 19;
inline constexpr int kVCount = 21;
inline constexpr int kTCount = 28;
inline constexpr int kNCount = kVCount * kTCount;  // 588
inline constexpr int kSCount = kLCount * kNCount;  // 11172

// Jongseong indices used by the analyzer's rules.
inline constexpr int kTNone = 0;
inline constexpr int kTKiyeok = 1;   // ㄱ
inline constexpr int kTNieun = 4;    // ㄴ
inline constexpr int kTDigeut = 7;   // ㄷ
inline constexpr int kTRieul = 8;    // ㄹ
inline constexpr int kTMieum = 16;   // ㅁ
inline constexpr int kTPieup = 17;   // ㅂ
inline constexpr int kTSios = 19;    // ㅅ
inline constexpr int kTSsangSios = 20;  // ㅆ
inline constexpr int kTHieuh = 27;   // ㅎ

inline constexpr bool IsHangulSyllable(char32_t c) {
  return c >= kSBase && c < kSBase + static_cast<char32_t>(kSCount);
}
inline constexpr bool IsConjoiningChoseong(char32_t c) { return c >= 0x1100 && c <= 0x1112; }
inline constexpr bool IsConjoiningJungseong(char32_t c) { return c >= 0x1161 && c <= 0x1175; }
inline constexpr bool IsConjoiningJongseong(char32_t c) { return c >= 0x11A8 && c <= 0x11C2; }
// Hangul Compatibility Jamo block (ㄱ..ㆎ); the modern letters are U+3131..U+3163.
inline constexpr bool IsCompatibilityJamo(char32_t c) { return c >= 0x3131 && c <= 0x318E; }

struct Syllable {
  int l = 0;  // choseong index
  int v = 0;  // jungseong index
  int t = 0;  // jongseong index, 0 = none
};

// Splits a precomposed syllable. Returns false (and leaves *out alone) for anything else.
bool DecomposeSyllable(char32_t s, Syllable* out);
// Composes a syllable; returns 0 when an index is out of range.
char32_t ComposeSyllable(int l, int v, int t = 0);
inline char32_t ComposeSyllable(const Syllable& s) { return ComposeSyllable(s.l, s.v, s.t); }

// Final-consonant tests; false for non-syllables.
bool HasJongseong(char32_t s);
bool JongseongIsRieul(char32_t s);
// The jongseong index of a syllable (0 when none or not a syllable).
int JongseongIndex(char32_t s);
// Same syllable with another final consonant (0 = remove it). Returns 0 if s is no syllable.
char32_t WithJongseong(char32_t s, int t);

// Compatibility jamo (U+3131..) <-> conjoining jamo. Each returns 0 when there is no such
// counterpart (e.g. ㄳ has no choseong, ㄸ has no jongseong).
char32_t CompatToChoseong(char32_t c);
char32_t CompatToJungseong(char32_t c);
char32_t CompatToJongseong(char32_t c);
// Any conjoining choseong / jungseong / jongseong (modern) -> compatibility jamo; 0 otherwise.
char32_t ConjoiningToCompat(char32_t c);
// Index helpers between jamo indices and compatibility jamo.
char32_t ChoseongCompat(int l);    // 0..18 -> ㄱ..ㅎ
char32_t JungseongCompat(int v);   // 0..20 -> ㅏ..ㅣ
char32_t JongseongCompat(int t);   // 1..27 -> ㄱ..ㅎ, 0 for 0
int CompatToJongseongIndex(char32_t c);  // ㄱ -> 1, ..., ㅎ -> 27; 0 when not a jongseong

// ---- UTF-8. Strict: rejects overlong forms, surrogates, code points > U+10FFFF and
// truncated sequences.
// Decodes one code point at s[*pos], advancing *pos. Returns false on invalid input (then
// *pos advances by one byte so callers can resynchronise).
bool DecodeUtf8(std::string_view s, size_t* pos, char32_t* cp);
// Writes the encoding of cp into out (up to 4 bytes) and returns the length; 0 when cp is not
// a Unicode scalar value.
int EncodeUtf8(char32_t cp, char out[4]);
// Appends cp; returns false (appending nothing) when cp is not a scalar value.
bool AppendUtf8(char32_t cp, std::string* out);
bool IsValidUtf8(std::string_view s);
// Byte offset where the last code point of s starts: the last byte that is not a continuation
// byte (0 for an empty s).
size_t LastCodePointStart(std::string_view s);
// The last code point of s; 0 when s is empty or does not end in a valid UTF-8 sequence.
char32_t LastCodePoint(std::string_view s);
// Status-returning check naming the byte offset of the first error.
Status ValidateUtf8(std::string_view s);

// ---- Normalisation restricted to Hangul (the algorithm of Unicode §3.12; other characters
// pass through unchanged, so this is exact NFC/NFD for text whose only decomposable
// characters are Hangul).
// NFD: each precomposed syllable -> L V [T] conjoining jamo.
Status HangulToNfd(std::string_view in, std::string* out);
// NFC: L V -> LV syllable, LV T -> LVT syllable.
Status HangulToNfc(std::string_view in, std::string* out);
// Compatibility jamo -> conjoining jamo is not a normalisation form; these convert a string of
// single jamo letters: ConjoiningToCompatString maps every conjoining jamo to its
// compatibility letter (ᆫ -> ㄴ), leaving other characters alone.
Status ConjoiningToCompatString(std::string_view in, std::string* out);

}  // namespace ondo::korean
