// Tag statistics of the Korean spacer (띄어쓰기): for every pair of morpheme tags (left, right),
// how often KLUE dp v1.1 dev writes such a pair with a space between (the last morpheme of an
// eojeol, the first of the next one) and how often joined (inside one eojeol). Whether a space
// goes between two morphemes depends mostly on their tags (after a particle or an ending a space
// almost always follows; before a particle, an ending or a suffix never), which generalises from
// little data where character n-grams do not. Built by tokenizer/korean/tools/
// build_spacing_tags.py (data/spacing_tags.tsv, CC BY-SA 4.0, embedded in the library); Spacer
// (spacing.h) turns them into costs of the analyzer's lattice (Analyzer::JunctionCosts).
//
// Library ondo_korean_post. Immutable: one instance may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "platform/status.h"
#include "tokenizer/korean/tags.h"

namespace ondo::korean {

class SpacingTagStats {
 public:
  // The embedded statistics, parsed once per process and shared.
  static Status Shared(const SpacingTagStats** out);
  // From a file in the format build_spacing_tags.py writes ('#' comments, then lines
  // LEFT<TAB>RIGHT<TAB>spaced<TAB>joined with tag names of tags.h). Corrupt for a malformed
  // line, an unknown tag, a repeated pair or no pair at all.
  static Status Create(std::string_view tsv, std::unique_ptr<SpacingTagStats>* out);

  uint32_t spaced(Tag a, Tag b) const { return spaced_[Index(a, b)]; }
  uint32_t joined(Tag a, Tag b) const { return joined_[Index(a, b)]; }
  // P(space | left tag a, right tag b), smoothed towards P(space | a) (itself smoothed towards
  // the share of spaced pairs overall) with one pseudo-count each: in (0, 1), never 0 or 1.
  double SpaceProbability(Tag a, Tag b) const;

 private:
  SpacingTagStats() = default;
  static size_t Index(Tag a, Tag b) {
    return static_cast<size_t>(a) * kNumTags + static_cast<size_t>(b);
  }
  uint32_t spaced_[kNumTags * kNumTags] = {};
  uint32_t joined_[kNumTags * kNumTags] = {};
  double left_p_[kNumTags] = {};  // P(space | a)
};

}  // namespace ondo::korean
