// Regex: a small backtracking regex engine over Unicode code points, for pre-tokenizer split
// patterns (GPT-2, Llama 3, Qwen2, DeepSeek, ... and tokenizer.json "Split" regexes).
//
// Semantics follow Oniguruma (what Hugging Face tokenizers uses): leftmost match, alternatives
// tried in order, greedy/lazy/possessive quantifiers. Supported: literals, '.', classes with
// ranges and \p{..}/\P{..}/\s/\S/\d/\D/\w/\W, groups (capturing ones are treated as
// non-capturing), (?:..), (?i:..), (?i), (?=..), (?!..), (?>..), ^ $ \A \z \Z \b \B, and the
// quantifiers ? * + {n} {n,} {n,m} {,m} with lazy '?' and possessive '+' suffixes.
// Unsupported syntax (back references, lookbehind, nested classes, POSIX brackets, unbounded
// repetition of something that can match empty) is an Unsupported error at Compile.
// Matching is bounded by a caller-provided step budget, so no pattern can hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/status.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer {

class Regex {
 public:
  // Scratch memory for matching; one per thread (not shared across concurrent calls).
  struct Scratch {
    std::vector<std::pair<int32_t, uint32_t>> stack;
  };

  enum class FindResult { kFound, kNotFound, kBudgetExhausted };

  static Status Compile(std::string_view pattern, std::unique_ptr<Regex>* out);

  // Finds the leftmost match in the subject cps[0, n) that starts at or after `from`.
  // Anchors and lookarounds see only the subject. Each VM step costs one unit of *budget.
  FindResult Find(const uint32_t* cps, size_t n, size_t from, size_t* match_begin,
                  size_t* match_end, Scratch* scratch, int64_t* budget) const;

  size_t program_size() const { return prog_.size(); }

  // Public for the compiler in regex.cc.
  struct CharClass {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive, sorted, merged
    unicode::CategoryMask cats = 0;                     // \p{..}
    std::vector<unicode::CategoryMask> neg_cats;        // \P{..}: matches outside the mask
    bool space = false, not_space = false;              // \s, \S
    bool word = false, not_word = false;                // \w, \W
    bool negated = false;
    uint64_t ascii[2] = {0, 0};  // precomputed answers for code points < 128
    bool MatchesSlow(uint32_t cp) const;
    bool Matches(uint32_t cp) const {
      if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
      return MatchesSlow(cp);
    }
    void Finalize();
  };
  enum class Op : uint8_t {
    kChar, kClass, kAny, kSplit, kJmp, kMatch, kAssert, kLook, kAtomic,
  };
  enum class AssertKind : uint8_t { kBol, kEol, kBos, kEos, kEosNewline, kWordB, kNotWordB };
  struct Inst {
    Op op = Op::kMatch;
    bool negate = false;         // kLook: negative lookahead
    AssertKind assert_kind = AssertKind::kBol;
    uint32_t c = 0;              // kChar: code point; kClass: class index
    int32_t x = 0, y = 0;        // kSplit: preferred x, alternative y; kJmp/kLook/kAtomic: x = next
  };

 private:
  friend class RegexCompiler;
  // Runs from pc at pos; returns the end of the first match, -1 on failure, -2 out of budget.
  int64_t Run(int32_t pc, uint32_t pos, const uint32_t* cps, uint32_t n, Scratch* scratch,
              int64_t* budget) const;
  bool CheckAssert(AssertKind kind, const uint32_t* cps, uint32_t n, uint32_t pos) const;

  std::vector<Inst> prog_;
  std::vector<CharClass> classes_;
};

}  // namespace ondo::tokenizer
