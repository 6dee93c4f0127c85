// Korean morpheme analyzer: splits each eojeol (whitespace-separated word) into morphemes with
// Sejong tags, including contracted and irregular forms (했다 -> 하/VV+었/EP+다/EF with
// AnalyzeOptions::canonical_endings, 하/VV+았/EP+다/EF by default as in UD GSD;
// 도와 -> 돕/VV+아/EC, 갈게 -> 가/VV+ㄹ게/EF), by a lattice search over a compiled lexicon
// (stems from hunspell-ko, hand-written particles and endings with their allomorph conditions)
// scored with statistics learned from KLUE.
//
// Public API of tokenizer/korean (library ondo_korean). Thread-safety: an Analyzer is immutable
// after Create; Analyze is const and may run on many threads at once, each with its own
// Analysis (which holds all per-call working memory, so a warm Analysis allocates nothing).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/tags.h"

namespace ondo::korean {

struct Morpheme {
  uint32_t form_offset = 0;  // canonical form (NFC, e.g. "하", "었", "ㄹ게") in Analysis::pool
  uint32_t form_size = 0;
  Tag tag = Tag::kNA;
  // Byte range of the morpheme in the analysed text when its form is a surface substring
  // there (학교 in 학교에), otherwise -1 (the 었 of 했다, the 돕 of 도와).
  int32_t begin = -1;
  int32_t end = -1;
  // Lenient mode only (AnalyzeOptions::lenient_particles): this particle is the wrong
  // allomorph for its host (사과을: 을 after a vowel). The analysis still tags it as a particle.
  bool wrong_allomorph = false;
  // Not in the lexicon: read by the unknown-word model (an unseen name or noun).
  bool unknown = false;
};

struct Eojeol {
  int32_t begin = 0;  // byte range in the analysed text (no whitespace inside)
  int32_t end = 0;
  uint32_t morph_begin = 0;  // into Analysis::morphemes
  uint32_t morph_count = 0;
  float cost = 0;  // negative log score of the chosen path (lower = more likely)
};

namespace detail {
struct Scratch;  // lattice, symbol buffers (analyzer.cc)
}

// The result of one Analyze call, and the reusable working memory for it.
class Analysis {
 public:
  Analysis();
  ~Analysis();
  Analysis(Analysis&&) noexcept;
  Analysis& operator=(Analysis&&) noexcept;

  std::vector<Eojeol> eojeols;
  std::vector<Morpheme> morphemes;
  std::string pool;

  std::string_view Form(const Morpheme& m) const {
    return std::string_view(pool).substr(m.form_offset, m.form_size);
  }
  // "학교/NNG+에/JKB" for eojeol i.
  std::string Format(size_t eojeol_index) const;

 private:
  friend class Analyzer;
  std::unique_ptr<detail::Scratch> scratch_;
};

struct AnalyzeOptions {
  // Accept a particle allomorph that does not fit its host (사과을, 책를, 서울으로) at an
  // extra cost instead of rejecting that reading; such morphemes get wrong_allomorph = true.
  // For the post-processor, which corrects them.
  bool lenient_particles = false;
  // Write 아/어 endings in one canonical form (했다 -> 하+었+다, 도와 -> 돕+어, 봐서 -> 보+어서)
  // instead of the harmony form, which is the default and the UD Korean GSD convention
  // (했다 -> 하+았+다, 도와 -> 돕+아, 먹어서 -> 먹+어서).
  bool canonical_endings = false;
};

class Analyzer {
 public:
  // The analyzer of the lexicon and statistics compiled into the library: uses the model the
  // build compiled from them in place, from the library's read-only data (the kernel maps it
  // from the file and shares it between processes; a few ms to check every offset and index,
  // no heap copy of the 4.4 MB of tables), or builds it from the data when the build had no
  // compiled model or this host cannot read it (big-endian).
  static Status Create(std::unique_ptr<Analyzer>* out);
  // The process-wide default analyzer (what Create gives), created once by the first call,
  // thread-safe, never destroyed: every session of the process shares it. A failed creation
  // is returned to every caller.
  static Status Shared(const Analyzer** out);
  // From a compiled model (the format of detail::Model::Serialize), copied: `compiled` may be
  // freed afterwards. Corrupt when malformed (any byte, size or index is checked).
  static Status CreateFromCompiled(std::string_view compiled, std::unique_ptr<Analyzer>* out);
  // Same without the copy: the tables are read in place from `compiled` (e.g. a file mapping),
  // which must start at an 8-byte boundary and outlive the analyzer unchanged.
  static Status CreateInPlace(std::string_view compiled, std::unique_ptr<Analyzer>* out);
  // Builds the model from the embedded data at run time, with named cost parameters overridden
  // (development and tuning; the names are the fields of detail::Params in lexicon.h, e.g.
  // {"unk_per_syl", 1.5}). InvalidArgument for an unknown name.
  static Status CreateWithParams(const std::vector<std::pair<std::string, float>>& params,
                                 std::unique_ptr<Analyzer>* out);
  // Same from data blobs in the format of tokenizer/korean/data/*.z (e.g. statistics rebuilt
  // with a held-out part for development). Corrupt when a blob is malformed.
  static Status CreateFromData(std::string_view stems_blob, std::string_view stats_blob,
                               const std::vector<std::pair<std::string, float>>& params,
                               std::unique_ptr<Analyzer>* out);
  ~Analyzer();

  // Analyses `text` (valid UTF-8; InvalidArgument otherwise). Whitespace separates eojeols;
  // non-Hangul runs inside an eojeol become SL (Latin), SN (digits), SH (Hanja), SF/SP/SS/SE/
  // SO/SW (symbols). Replaces the contents of *out, reusing its capacity.
  Status Analyze(std::string_view text, const AnalyzeOptions& options, Analysis* out) const;
  Status Analyze(std::string_view text, Analysis* out) const {
    return Analyze(text, AnalyzeOptions{}, out);
  }

  // For spacing restoration (post/spacing.h): reads `word` (valid UTF-8, no whitespace) as the
  // start of one eojeol after an eojeol whose last tag is `before` (Tag::kNA: the start of the
  // text) and writes, for every character boundary after its first character and every last tag
  // some complete analysis of word[0, boundary) as one eojeol ends in, the boundary's byte
  // offset, the tag and the best cost (as in Analyze, with the transition from `before`), in
  // order of offsets, to *ends. `attached` (nats, >= 0) is added for every content morpheme
  // that follows, inside the eojeol, a particle or an ending (시장에가다; an auxiliary verb
  // after a connective ending excepted: 먹어보다), an adverb, determiner or interjection
  // (같이영화), and for a predicate stem right after a noun (밥먹었어). Reuses *work.
  struct PrefixCost {
    int32_t end;  // byte offset in word
    Tag last;
    float cost;
  };
  Status PrefixCosts(std::string_view word, Tag before, float attached, Analysis* work,
                     std::vector<PrefixCost>* ends) const;
  // Costs of morpheme junctions for PrefixCosts (spacing restoration; post/spacing.cc fills
  // them from tag statistics): spaced[a][b] is added when the eojeol starts with a morpheme of
  // tag b after an eojeol ending in tag a (`before`), joined[a][b] for every morpheme of tag b
  // that follows one of tag a inside the eojeol. Junctions next to punctuation (SF SP SS SE SO
  // SW, which are tokens of their own) and after the start of the text are not charged.
  struct JunctionCosts {
    float spaced[kNumTags][kNumTags];
    float joined[kNumTags][kNumTags];
  };
  // The same with junction costs (null: as above). `attached` is still added where it applies.
  Status PrefixCosts(std::string_view word, Tag before, float attached,
                     const JunctionCosts* junctions, Analysis* work,
                     std::vector<PrefixCost>* ends) const;
  // The cost of ending the text after an eojeol whose last tag is `last`.
  float TextEndCost(Tag last) const;

  // The compiled form of this analyzer's model (what CreateFromCompiled loads); the build uses
  // it to embed the default model (tools/compile_model.cc).
  Status SerializeModel(std::string* out) const;

  // Size of the lexicon and model tables, wherever they are.
  size_t MemoryBytes() const;
  // What of it is on the heap (a few hundred bytes when the tables are used in place).
  size_t HeapBytes() const;

 private:
  Analyzer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ondo::korean
