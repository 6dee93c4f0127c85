// Morpheme-analysis evaluation against a CoNLL-U file whose LEMMA column holds the gold
// morphemes joined by '+' and whose XPOS column holds their Sejong tags joined by '+' (the
// layout of UD Korean GSD). Metric (issue 3): per eojeol, the longest common subsequence of
// predicted and gold morpheme forms; precision = ΣLCS / Σpredicted, recall = ΣLCS / Σgold,
// F1; tag accuracy = share of LCS-matched morphemes whose tags agree.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/analyzer.h"

namespace ondo::korean {

struct GoldMorpheme {
  std::string form;
  std::string tag;  // as written in the file (may be a tag outside tags.h)
};
struct GoldEojeol {
  std::string form;
  std::vector<GoldMorpheme> morphemes;
};
struct GoldSentence {
  std::string text;  // the eojeol forms joined by single spaces (what gets analysed)
  std::vector<GoldEojeol> eojeols;
};

// Parses CoNLL-U text (multi-word ranges and empty nodes are skipped). Gold forms are NFC with
// conjoining jamo written as compatibility jamo. Corrupt on malformed token lines.
Status ParseConllu(std::string_view text, std::vector<GoldSentence>* out);

struct EvalResult {
  double precision = 0, recall = 0, f1 = 0, tag_accuracy = 0;
  double chars_per_s = 0;  // characters (code points, spaces included) per second, 1 thread
  size_t n_sentences = 0, n_eojeols = 0, n_chars = 0;
  size_t n_pred = 0, n_gold = 0, n_lcs = 0, n_tag_match = 0;
  double seconds = 0;  // time of the fastest timing pass
};

struct EvalOptions {
  int timing_passes = 3;  // extra passes over the whole set used only for chars/s
  // Compare 아/어 endings in one harmony form on both sides (아서, 여서 -> 어서; 았, 였 -> 었),
  // for gold data that writes them canonically (KLUE as normalised by tools/build_model.py).
  bool canonical_endings = false;
  // Called for every eojeol (for error listings): gold, predicted "form/TAG+..." and LCS size.
  std::function<void(const GoldEojeol& gold, const std::string& predicted, size_t lcs)> on_eojeol;
};

Status Evaluate(const Analyzer& analyzer, const std::vector<GoldSentence>& gold,
                const EvalOptions& options, EvalResult* out);

}  // namespace ondo::korean
