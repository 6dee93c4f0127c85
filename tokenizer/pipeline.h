// Text pipeline stages between special-token splitting and the BPE/SPM model: the normalizer
// (NFC, Replace, Prepend, ...) and the pre-tokenizer (regex splits and friends), compiled once
// from VocabSpec steps. Internal to tokenizer/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace ondo::tokenizer {

// Per-call scratch state (Encode is const and may run on several threads at once).
struct Workspace {
  Regex::Scratch regex;
  std::vector<uint32_t> cps;
  std::vector<uint32_t> offsets;  // byte offset of each code point, plus the end
  int64_t budget = 0;             // regex steps left for this Encode call
  size_t max_bytes = 0;           // bound on normalized / pre-tokenized text (0: none)
};

class Normalizer {
 public:
  static Status Create(bool nfc, const std::vector<NormalizerStep>& steps,
                       std::unique_ptr<Normalizer>* out);
  bool empty() const { return steps_.empty(); }
  // REQUIRES: valid UTF-8. Writes the normalized text to *out.
  Status Run(std::string_view in, std::string* out, Workspace* ws) const;

 private:
  struct Step {
    NormalizerStep spec;
    std::unique_ptr<Regex> re;
  };
  std::vector<Step> steps_;
};

class PreTokenizer {
 public:
  static Status Create(const std::vector<PreTokenizerStep>& steps,
                       std::unique_ptr<PreTokenizer>* out);
  bool empty() const { return steps_.empty(); }
  // Splits valid UTF-8 `text` into pieces appended to *pieces (empty pieces dropped).
  // `first`: the text starts the whole input (Metaspace's "first" prepend scheme).
  Status Run(std::string_view text, bool first, std::vector<std::string>* pieces,
             Workspace* ws) const;

 private:
  enum class Matcher { kRegex, kLiteral, kPunctuation, kWhitespace };
  struct Step {
    PreTokenizerStep spec;
    Matcher matcher = Matcher::kRegex;
    std::unique_ptr<Regex> re;
  };
  struct Span {
    size_t begin, end;
    bool is_match;
  };
  Status FindSpans(const Step& step, std::string_view piece, std::vector<Span>* spans,
                   Workspace* ws) const;
  Status SplitPieces(const Step& step, SplitBehavior behavior, bool invert,
                     std::vector<std::string>* pieces, Workspace* ws) const;
  std::vector<Step> steps_;
};

// Finds all non-overlapping matches of `re` in valid UTF-8 `text` (Oniguruma find_iter: after
// an empty match the search resumes one character later), as byte ranges.
Status RegexFindAll(const Regex& re, std::string_view text, Workspace* ws,
                    std::vector<std::pair<size_t, size_t>>* matches);

}  // namespace ondo::tokenizer
