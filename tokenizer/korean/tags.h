// Sejong part-of-speech tags used by the Korean morpheme analyzer.
#pragma once

#include <cstdint>
#include <string_view>

namespace ondo::korean {

enum class Tag : uint8_t {
  // nominals
  kNNG, kNNP, kNNB, kNP, kNR,
  // predicates
  kVV, kVA, kVX, kVCP, kVCN,
  // modifiers, interjection
  kMM, kMAG, kMAJ, kIC,
  // particles
  kJKS, kJKC, kJKG, kJKO, kJKB, kJKV, kJKQ, kJX, kJC,
  // endings
  kEP, kEF, kEC, kETN, kETM,
  // affixes, root
  kXPN, kXSN, kXSV, kXSA, kXR,
  // symbols and foreign text
  kSF, kSP, kSS, kSE, kSO, kSW, kSL, kSH, kSN,
  // unanalysable (e.g. bytes that are not UTF-8)
  kNA,
  kCount
};

inline constexpr int kNumTags = static_cast<int>(Tag::kCount);

inline constexpr std::string_view kTagNames[kNumTags] = {
    "NNG", "NNP", "NNB", "NP",  "NR",  "VV",  "VA",  "VX",  "VCP", "VCN", "MM",  "MAG",
    "MAJ", "IC",  "JKS", "JKC", "JKG", "JKO", "JKB", "JKV", "JKQ", "JX",  "JC",  "EP",
    "EF",  "EC",  "ETN", "ETM", "XPN", "XSN", "XSV", "XSA", "XR",  "SF",  "SP",  "SS",
    "SE",  "SO",  "SW",  "SL",  "SH",  "SN",  "NA"};

inline constexpr std::string_view TagName(Tag t) { return kTagNames[static_cast<int>(t)]; }

// Parses a tag name ("NNG"); returns false for unknown names.
inline bool ParseTag(std::string_view name, Tag* out) {
  for (int i = 0; i < kNumTags; ++i) {
    if (kTagNames[i] == name) {
      *out = static_cast<Tag>(i);
      return true;
    }
  }
  return false;
}

inline constexpr bool IsNominalTag(Tag t) { return t <= Tag::kNR; }
inline constexpr bool IsParticleTag(Tag t) { return t >= Tag::kJKS && t <= Tag::kJC; }
inline constexpr bool IsEndingTag(Tag t) { return t >= Tag::kEP && t <= Tag::kETM; }
// Stems that must be followed by an ending (verbs, adjectives, copula, predicate suffixes).
inline constexpr bool IsPredicateTag(Tag t) {
  return (t >= Tag::kVV && t <= Tag::kVCN) || t == Tag::kXSV || t == Tag::kXSA;
}
inline constexpr bool IsSymbolTag(Tag t) { return t >= Tag::kSF && t <= Tag::kSN; }

}  // namespace ondo::korean
