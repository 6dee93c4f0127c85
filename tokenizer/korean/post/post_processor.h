// Korean post-processor for generated text: punctuation, repetition and particle allomorphs.
// Works on a whole string (Process) or on a stream of chunks (Push / Finish) with a bounded
// buffer; both give byte-identical output. See tokenizer/korean/post/README.md for the rules.
//
// Library ondo_korean_post (links ondo_korean). A PostProcessor is single-threaded (it holds
// stream state and working buffers); the Analyzer it uses may be shared.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/post/spacing.h"

namespace ondo::korean {

struct PostOptions {
  bool punctuation = true;  // spacing before marks, runs of marks, unbalanced brackets
  bool repetition = true;   // repeated sentences / clauses / eojeol runs, character floods
  bool particles = true;    // particle allomorphs chosen by the host's final sound
  // Word spacing restored first (밥먹었어 -> 밥 먹었어, 학 교에 -> 학교에; spacing.h). Off by
  // default: kSpacingAuto says whether callers' "auto" turns it on.
  bool spacing = false;
  SpacingOptions spacing_options;
  // Character floods. A Hangul syllable repeated after other letters of its word more than
  // max_char_run times is cut to max_char_run (좋다다다다다 -> 좋다다다). Runs of a jamo, a Latin
  // letter, ~ or ^, or of a syllable that begins its word (ㅋㅋㅋㅋ, ㅠㅠㅠㅠ, 하하하하하, ~~~~)
  // are human style up to loop_char_run copies; longer runs are loops, cut to max_char_run.
  // loop_char_run also bounds runs of ; (;;; is a sweat drop).
  int max_char_run = 3;
  int loop_char_run = 30;
  // One eojeol repeated this many times or more in a row is a loop and is kept once
  // (좋아요 좋아요 좋아요 -> 좋아요); fewer repeats (정말 정말) are kept as emphasis.
  int max_eojeol_repeats = 2;
  // Sentences identical to one of the last `sentence_history` kept sentences are dropped.
  int sentence_history = 32;
  // Cost margin (nats) for correcting a particle the analyzer read as part of a word.
  float unflagged_margin = 0.0f;
  // The same for 이 written after a vowel (사과이 -> 사과가), where many words end in a vowel +
  // 이 (뭄바이, 하와이): a stricter margin.
  float unflagged_margin_i = 3.0f;
  bool unflagged = true;
  // A particle the analyzer flagged as the wrong allomorph after a Hangul host (사과을) is
  // corrected only when the sentence window (the eojeol with its neighbours) with the right
  // form scores better than the window as written, read without lenient particles, by this
  // margin (nats): precision first (간사이, 오이랑, 정형외과 are words, not wrong particles).
  float flagged_margin = 1.0f;
  // The same for 이 after a vowel (사과이 -> 사과가), where many names end in 이 (뭄바이, 간사이,
  // 엠제이: the correction wins by 0.1-3 nats there, by 5-14 on real errors).
  float flagged_margin_i = 4.0f;
  // Where the analyzer reads the eojeol as written as a compound noun whose last noun holds the
  // particle's syllable (정형/NNG+외과/NNG, 어촌/NNG+마을/NNG, 신생/NNG+국가/NNG), the
  // correction must win by this larger margin (가능/NNG+성가/NNG for 가능성가 is a misreading
  // the correction beats by 11 nats).
  float compound_margin = 7.0f;
  // Hosts of one syllable (적가 -> 적이, 나은 -> 나는, 제이 -> 제가) are corrected only when both
  // the eojeol and the window with the correction win by this margin (nats): many are words or
  // verb forms as written (강가, 축가, 가을, 모은); 이 after a vowel follows its own rules (below),
  // a vocative never. Negative: never (except before 과/와/(이)랑 and after 것, as before issue
  // 13).
  float short_host_margin = 4.0f;
  // 이 after a one-syllable host ending in a vowel (귀이, 시이, 때이 -> 귀가 ...): corrected by
  // short_host_margin when the written eojeol is not a frequent word of the lexicon — read
  // alone as one known nominal or adverb costing less than this (nats): 나이, 차이, 아이, 사이
  // (14.6-16.3) stay; words the lexicon has without statistics (19.1: 해이, 내이) and unknown
  // words do not — and the corrected eojeol reads as a known nominal + 가. See the README.
  float frequent_word_cost = 18.0f;
  // The margin (nats) those corrections need, eojeol and window (real errors win by 3-7 on the
  // tuning part: 키이 170, 씨이 독일; words that are no frequent word by 2.5 at most: 내이 질환,
  // 오이 두 개, 기강 해이). Negative: never.
  float short_host_margin_i = 3.0f;
  // Stream buffer capacity in bytes (unprocessed text held back until a sentence ends). When
  // it fills up without a sentence end, the text up to its last space is processed and
  // emitted. At least 64.
  size_t buffer_capacity = 4096;
  // Record every change in changes() (allocates; for `ondo post --explain` and evaluation).
  bool record_changes = false;
};

enum class ChangeKind : uint8_t {
  kPunctuation,
  kBracket,
  kFlood,
  kRepeatSentence,
  kRepeatClause,
  kRepeatEojeol,
  kParticle
};
std::string_view ChangeKindName(ChangeKind k);

struct PostChange {
  ChangeKind kind;
  std::string before;  // the affected text (a particle with its eojeol, a removed sentence...)
  std::string after;
};

class PostProcessor {
 public:
  // `analyzer` must outlive the processor. InvalidArgument for options out of range.
  static Status Create(const Analyzer* analyzer, const PostOptions& options,
                       std::unique_ptr<PostProcessor>* out);
  ~PostProcessor();

  // Whole-text processing: resets the stream state, processes `text` and appends the result
  // to *out. InvalidArgument (and *out untouched) when text is not valid UTF-8.
  Status Process(std::string_view text, std::string* out);

  // Streaming. Push accepts any byte split of the text (even inside a UTF-8 character) and
  // appends to *out whatever sentences became complete; Finish processes the rest and resets
  // the state for a new text. After warm-up (one sentence of each kind) neither allocates,
  // provided *out has capacity. Invalid UTF-8 in a completed sentence -> InvalidArgument;
  // the stream is then reset.
  Status Push(std::string_view chunk, std::string* out);
  Status Finish(std::string* out);
  void Reset();

  // Bytes held back (always <= options().buffer_capacity).
  size_t pending_bytes() const { return pending_.size(); }
  const PostOptions& options() const { return options_; }
  // Changes since the last Reset / Process (only with record_changes).
  const std::vector<PostChange>& changes() const { return changes_; }

 private:
  PostProcessor(const Analyzer* analyzer, const PostOptions& options);
  struct Span {
    uint32_t begin, end;
  };
  struct Edit {
    uint32_t begin, end;  // bytes of work_ replaced
    uint8_t len;          // replacement bytes in text[]
    char text[15];
  };

  // Consumes complete sentences from pending_ (and, with force, everything).
  Status Drain(bool force, std::string* out);
  // Processes one sentence body (no newline, no leading/trailing whitespace) and emits it.
  Status ProcessSentence(std::string_view body, std::string* out);
  void Punctuate(std::string_view in, std::string* out);
  void BalanceBrackets(std::string* s);
  void RemoveRepeats(std::string* s);
  Status FixParticles(const std::string& in, std::string* out);
  // A wrong allomorph the analyzer read as part of a word (산가, 방식로): accepted when the
  // analyzer scores host + right particle better than the written eojeol by unflagged_margin.
  struct UnflaggedContext {
    bool initial = false;            // opens its sentence
    bool vocative = false;           // a vocative may stand here (see FixParticles)
    bool final = false;              // ends it: 와, 나, 가 there are verbs (잠와, 여행가!)
    bool before_bound_noun = false;  // 수, 줄, 뻔 follow: 을/를 is an ending (지을 수)
    bool before_street_number = false;  // a number follows: 로 ends a road name (테헤란로 152)
    int32_t context_begin = 0;       // start of the previous eojeol (or of this one)
    int32_t context_end = 0;         // end of the next eojeol (or of this one)
    bool after_bare_nominal = false;  // the eojeol before ends in a nominal (밑줄 그은)
    const Analysis* sentence = nullptr;  // the sentence's analysis, this eojeol's index in it
    size_t index = 0;
  };
  // Costs (sum over the eojeols of the window in[begin, end), analysed without lenient
  // particles) of the window as written and with in[at, at + len) replaced by `right`. The
  // corrected window's analysis is left in analysis2_ (eojeol `*index` is the edited one).
  // Whether `host` (one syllable) read alone is a noun (값, 닭), not an adverb (안 가, 못 가).
  Status HostReadsAsNoun(std::string_view host, bool* noun);
  // Whether 이 after `host` (two or more syllables, ending in a vowel) is rather the particle
  // than the end of a word: HostVowelRareBeforeI, or ㅜ + 이 that is no word of the lexicon.
  Status RareBeforeI(std::string_view host, bool* rare);
  // Whether the last syllable of `host` + 이, read alone, is one known word (구이, 파이, 사이).
  Status LastSyllableIWord(std::string_view host, bool* word);
  // Whether 이 (`plain`) or an 이-form (이나, 이랑: `plain` false) after `host`, a word ending
  // in a vowel, takes the wider margin of a word that may itself end in 이 (names: 뭄바이,
  // 엠제이). Not after the title 씨, which ends no name (배씨이 -> 배씨가); not where RareBeforeI;
  // not where ScoreWindow read the written 이 as a determiner after a word (하나이), nor, plain,
  // as a pronoun after a word (돌가루/NNP+이/NP: a misreading unless the last syllable + 이 is a
  // word, 장어구이); not where the host stands elsewhere in `sentence` (eojeols other than
  // `index`; may be null) as a nominal + another particle (레토이 ... 레토는).
  Status WideMarginI(std::string_view in, const Analysis* sentence, size_t index,
                     std::string_view host, bool plain, bool* wide);
  // Whether `word` read alone is one known nominal or adverb cheaper than frequent_word_cost
  // (나이, 차이, 아이: words, not a host + 이).
  Status FrequentWord(std::string_view word, bool* frequent);
  // Whether 이 after the one-syllable host `host` (ending in a vowel) is corrected to 가, given
  // the window costs (c0 written, c1 corrected) and the ScoreWindow results.
  Status ShortHostVowelI(std::string_view in, size_t word_begin, size_t host_begin,
                         size_t host_end, float c0, float c1, bool* ok);
  Status ScoreWindow(std::string_view in, int32_t begin, int32_t end, size_t at, size_t len,
                     std::string_view right, float* written, float* corrected, size_t* index);
  Status TryUnflagged(std::string_view in, const Eojeol& e, const UnflaggedContext& ctx,
                      bool* added);
  void Record(ChangeKind kind, std::string_view before, std::string_view after);

  const Analyzer* analyzer_;
  PostOptions options_;
  std::unique_ptr<Spacer> spacer_;  // options_.spacing
  std::string spaced_;
  Analysis analysis_;
  Analysis analysis2_;  // window re-analyses (ScoreWindow)
  // ScoreWindow results besides the costs: the last word morpheme of the written eojeol, whether
  // a compound noun of the written reading covers the particle (정형/NNG+외과/NNG), where a
  // particle after a nominal ends the written reading (오이/NNG+랑: byte offset in `in`, or 0),
  // whether the next eojeol of the window begins with a nominal (결정지을 경기: 을 adnominal).
  Tag written_last_ = Tag::kNA;
  bool written_in_noun_ = false;
  int32_t written_noun_begin_ = 0;  // where that compound's last noun begins (window offset)
  size_t written_particle_ = 0;
  bool written_before_noun_ = false;  // the next eojeol begins with a nominal (no 하다 verb)
  bool written_adnominal_ = false;    // the written eojeol ends in verb/adjective + ETM
  bool written_bad_adnominal_ = false;  // ... 은/을 after a vowel stem written as such (비 + 은)
  float written_eojeol_cost_ = 0, corrected_eojeol_cost_ = 0;  // of the edited eojeol alone
  bool written_unknown_ = false;  // the particle's syllable read inside an unknown word
  bool written_after_adnominal_ = false;  // the eojeol before ends in an adnominal ending (ETM)
  bool written_next_stem_ = false;  // the eojeol after begins with a verb/adjective stem or XR
  // The written eojeol ends in 이 read as a determiner after another morpheme (하나/NR+이/MM,
  // 모두/MAG+이/MM): no reading, since a determiner never ends an eojeol after a word.
  bool written_i_determiner_ = false;
  bool written_i_pronoun_ = false;  // ... 이 read as the pronoun after a word (돌가루/NNP+이/NP)
  // The corrected eojeol reads as a known nominal + the particle; the eojeol after it (in the
  // corrected window) begins with a predicate (verb, adjective, 아니다, noun + 하다), or with a
  // nominal (also a prefix, a number, Latin or Hanja).
  bool corrected_known_host_ = false;
  Tag corrected_host_tag_ = Tag::kNA;  // the tag of that nominal
  // That known nominal begins before the last noun of the written compound: the correction
  // reads as one word what the written reading cuts (총영사관/NNG+이 against 총영사/NNG+관가/NNG).
  bool corrected_host_spans_compound_ = false;
  bool corrected_next_predicate_ = false;
  bool corrected_next_noun_ = false;
  bool corrected_next_determiner_ = false;  // begins with a determiner (MM: 어느, 그)
  Analysis analysis_host_;        // HostReadsAsNoun's scratch
  std::string eojeol_buf_;
  std::string pending_;  // unprocessed input (capacity buffer_capacity)
  std::string ws_;       // whitespace held between sentences
  std::string work_a_, work_b_;
  std::vector<Span> spans_;
  std::vector<Span> spans2_;
  std::vector<uint8_t> keep_;
  std::vector<Edit> edits_;
  std::vector<uint64_t> history_;  // hashes of recent sentences (ring)
  size_t history_next_ = 0;
  size_t scan_ = 0;        // bytes of pending_ already scanned for boundaries
  int depth_ = 0;          // open brackets at scan_
  bool in_quote_ = false;  // inside an ASCII " quote at scan_
  bool dropped_last_ = false;
  std::vector<PostChange> changes_;
};

// The final sound of a host written in non-Hangul characters, read aloud in Korean:
// digits in Sino-Korean (3 삼, 1 일, 10 십), Latin acronyms by letter names (LLM 엘엘엠,
// API 에이피아이), common English words and units by a small table (Google 구글, kg 킬로그램),
// other Latin words by spelling rules. Returns 'V' (vowel), 'L' (ㄹ), 'C' (other consonant)
// or 0 (unknown). `host` is the text before the particle (closing quotes and brackets already
// skipped); only its tail is read.
char HostFinalSound(std::string_view host);

// The allomorph of particle `form` (with its Sejong tag) that fits a host ending in `sound`
// ('V', 'L', 'C' as above): 은/는 이/가 을/를 과/와 아/야 (이)나 (이)랑 (이)라고 (이)며 (이)여
// (이)라도 (이)야 (이)든(지) (이)란 (이)야말로 (이)나마 and 으로/로(서/써/부터) (ㄹ takes 로).
// Writes into buf when needed; returns an empty view for particles without allomorphs.
std::string_view ParticleForHost(std::string_view form, Tag tag, char sound, char buf[16]);

}  // namespace ondo::korean
