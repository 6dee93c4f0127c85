// Evaluation of the post-processor (issue 3, deliverable 4):
// (a) clean text: every sentence of a gold corpus goes through unchanged? Counts changed
//     eojeols and particle changes against the number of gold particles.
// (b) a corrupted copy, generated deterministically from a seed: particle allomorphs swapped at
//     gold particle positions (을<->를, 이<->가, 은<->는, 와<->과, 으로<->로, 아<->야, (이)나 ...),
//     repetitions inserted (duplicated sentence, duplicated eojeol run, one-eojeol loop),
//     character floods and punctuation errors (space before a mark, doubled marks). Each kind
//     goes into its own copy of the sentence so every error is scored on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/post/post_processor.h"

namespace ondo::korean {

struct PostEvalToken {
  std::string form;
  bool space_after = true;
  std::vector<std::string> morphs;  // gold morpheme forms
  std::vector<std::string> tags;    // gold tags (Sejong)
};
struct PostEvalSentence {
  std::string text;  // the original sentence
  std::vector<PostEvalToken> tokens;
};

// UD CoNLL-U (GSD layout: LEMMA = morphemes joined by '+', XPOS = tags, SpaceAfter=No in MISC,
// text from "# text = ") and KLUE dependency-parsing TSV ("## id<TAB>text", then INDEX WORD_FORM
// LEMMA(space-separated) POS('+'-separated) ...). Corrupt on malformed lines.
Status ParsePostEvalConllu(std::string_view data, std::vector<PostEvalSentence>* out);
Status ParsePostEvalKlue(std::string_view data, std::vector<PostEvalSentence>* out);
// Either of the two, by content ("## " comment lines -> KLUE).
Status ParsePostEvalFile(std::string_view data, std::vector<PostEvalSentence>* out);
// Plain clean text without gold morphemes (the Kiwi benchmark sets): one sentence a line, the
// text after the last TAB when a line has one (disambiguate/*.txt "gold<TAB>sentence"); the
// spacing marks of space/written.txt are resolved to the correct text (U+2581 a spurious
// space: removed; U+2594 a missing space: a space). Blank lines and lines starting with '#'
// are skipped. The tokens (hence the particle sites the corrupted copy swaps) are the
// analyzer's reading, not gold: a site is a particle the analyzer reads after a nominal; the
// expected output of a corrupted copy is still the original sentence.
Status ParsePostEvalPlain(std::string_view data, const Analyzer& analyzer,
                          std::vector<PostEvalSentence>* out);

// The held-out split: a sentence belongs to the untouched part when the FNV-1a 64-bit hash of
// its text (as written in the file) is odd, to the tuning part when it is even. The rules and
// thresholds of the post-processor are tuned on the tuning part only.
enum class PostEvalPart : uint8_t { kAll, kTune, kHeldOut };
bool PostEvalIsHeldOut(std::string_view sentence_text);

// How the (b) count finds a corrupted eojeol in the output: maps the eojeols of a clean
// sentence to those of its processed copy `c`. (*to)[i] is the index in `c` of eojeol i;
// (*joined)[i] is set where that eojeol of `c` is several clean eojeols written together (the
// space before a mark removed: `커스텀`, `!!` -> `커스텀!!`), so that it holds eojeol i's bytes
// unchanged. An eojeol of `c` that is neither is taken as clean eojeol i changed in place (a
// particle changed in the clean text). `to` is left empty where the counts do not allow that
// (a repeat removed): no site of such a sentence counts as fixed.
void PostEvalAlignEojeols(const std::vector<std::string>& eojeols,
                          const std::vector<std::string_view>& c, std::vector<size_t>* to,
                          std::vector<uint8_t>* joined);

struct PostEvalResult {
  // (a) clean text
  size_t sentences = 0, eojeols = 0, gold_particles = 0;
  size_t clean_changed_sentences = 0, clean_changed_eojeols = 0, clean_changed_particles = 0;
  // Changed clean sentences by the kind of change (a sentence may count in several): particles;
  // repeated eojeols/clauses/sentences; punctuation, character floods and brackets (style).
  size_t clean_changed_by_particles = 0, clean_changed_by_repeats = 0, clean_changed_by_style = 0;
  // (b) corrupted copies
  size_t particle_errors = 0, particle_fixed = 0;
  size_t particle_other_changed = 0;  // eojeols changed that were not corrupted
  size_t repetitions = 0, repetitions_removed = 0;
  size_t floods = 0, floods_limited = 0;
  size_t punct_errors = 0, punct_fixed = 0;
  double seconds = 0, chars_per_s = 0;  // (a) timing, one thread
};

struct PostEvalOptions {
  uint64_t seed = 20261125;
  double particle_swap_rate = 0.5;  // share of eligible gold particles swapped
  // Called for each case: kind ("clean", "particle", "repetition", "flood", "punct"),
  // input, expected, output.
  std::function<void(std::string_view kind, const std::string& input, const std::string& expected,
                     const std::string& output)>
      on_case;
  bool report_only_failures = true;  // on_case only when output != expected
  PostEvalPart part = PostEvalPart::kAll;  // which sentences are evaluated
};

Status EvaluatePost(PostProcessor* pp, const std::vector<PostEvalSentence>& sentences,
                    const PostEvalOptions& options, PostEvalResult* out);

}  // namespace ondo::korean
