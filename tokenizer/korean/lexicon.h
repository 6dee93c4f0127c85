// The analyzer's compiled lexicon: every morpheme and allomorph as a trie entry keyed by its
// surface in "split-coda" symbols, plus the costs learned from KLUE. Internal to
// tokenizer/korean (the public API is analyzer.h).
//
// Split-coda symbols: a syllable without a final consonant is one symbol (its L,V pair); a
// syllable with one is two symbols, the L,V pair and then the coda. Endings and particles that
// begin with a bare final consonant (ㄴ다, ㄹ게, ㅂ니다, ㄴ) are surfaces starting with a coda
// symbol, so 갈게 = [가][ㄹ][게] splits as 가 + ㄹ게 without special cases in the search.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/tags.h"

namespace ondo::korean::detail {

// Symbol ids: 0 = not Hangul, 1..399 = L*21+V+1, 401..427 = coda 400+T.
inline constexpr int kNumSymbols = 428;
inline constexpr uint16_t SymCV(int l, int v) { return static_cast<uint16_t>(1 + l * 21 + v); }
inline constexpr uint16_t SymCoda(int t) { return static_cast<uint16_t>(400 + t); }
inline constexpr bool IsCodaSym(uint16_t s) { return s > 400; }

// Phonological class of the end of a node's surface.
enum Final : uint8_t { kFinalVowel, kFinalCons, kFinalRieul, kFinalUnknown };
// What a node leaves open for the next one: kNotStem nodes are complete; the others are
// predicate stems (or pre-final endings) that must be followed by an ending.
enum StemKind : uint8_t {
  kNotStem,
  kStemPlain,   // regular stem form: takes any ending its final sound allows
  kStemNoHarm,  // base of an irregular stem (가깝, 듣, 그렇, 모르): no 아/어- or 으-endings
  kStemEuOnly,  // 가까우, 그러: only the 으-less forms (ㄴ, 면, 니까 ...)
  kStemVreq,    // 들 (듣), 그 (긋): only vowel-initial endings (들어, 들으면)
  kStemRdel,    // 사 (살): ㄹ dropped before ㄴ, ㅂ, ㅅ, ㄹ
  kStemFused,   // 해, 봐, 가까워: stem fused with the 아/어 of the next ending
};
enum Harmony : uint8_t { kDark, kBright, kHa };

enum LeftCond : uint8_t {
  kLcAny,
  kLcEndingAny,       // 다, 고, 지, 는 ...
  kLcEndingConsOnly,  // 습니다, 는다: after a consonant (not ㄹ)
  kLcEndingVowelForm, // 면, 니까, 시: the 으-less form, after a vowel or ㄹ
  kLcEndingCoda,      // ㄴ, ㄹ, ㅂ니다, ㅁ: after a vowel
  kLcEndingEu,        // 으면, 은, 을: after a consonant
  kLcEndingHarmA,     // 아서, 았: after a bright stem
  kLcEndingHarmEo,    // 어서, 었: after a dark stem
  kLcEndingHarmYeo,   // 여서, 였: after 하
  kLcEndingRemainder, // 서, ㅆ, 요 after a fused stem (해서, 했, 봐요)
  kLcJosaCons,        // 이, 을, 은, 과, 이나 ...
  kLcJosaConsNotL,    // 으로, 으로서 ...
  kLcJosaVowel,       // 가, 를, 는, 와, 나 ...
  kLcJosaVowelOrL,    // 로, 로서 ...
  kLcJosaCoda,        // ㄴ, ㄹ (난, 날): after a vowel-final nominal
  kLcCopulaVowel,     // 여 (이+어), ε-이, 예요: after a vowel-final nominal
};

struct Morph {
  uint32_t form = 0;      // offset of the canonical form in Model::pool
  uint32_t alt = 0;       // bright-harmony variant (아서 for 어서); == form when not harmonic
  uint16_t form_len = 0;
  uint16_t alt_len = 0;
  Tag tag = Tag::kNA;
};

struct Entry {
  uint32_t morph_begin = 0;   // into Model::morphs
  uint8_t n_morph = 0;
  uint8_t lcond = kLcAny;
  bool rdel_ok = false;       // ending starts with ㄴ, ㄹ, ㅂ or ㅅ (follows 사 of 살, not 살)
  uint8_t final = kFinalVowel;
  uint8_t stem = kNotStem;
  uint8_t harmony = kDark;
  Tag first_tag = Tag::kNA;
  Tag last_tag = Tag::kNA;
  int32_t lex_row = -1;       // row of Model::lex_cost for the first morpheme, or -1
  float first_emit = 0;       // emission cost of the first morpheme (when lex_row < 0)
  float rest_cost = 0;        // costs of the other morphemes and their transitions
};

// Tunable cost parameters (negative log probabilities, nats).
struct Params {
  float trans_smooth = 0.05f;     // add-k on tag bigrams
  float open_pseudo = 0.3f;       // pseudo-count of a lexicon word unseen in KLUE (open class)
  float closed_pseudo = 0.05f;    // same for particles, endings, affixes
  float lex_kappa = 5.0f;         // weight of the backoff in lexicalised transitions
  float unk_nng_base = 13.0f;     // unknown-word cost: base + per_syl * syllables
  float unk_nnp_base = 14.0f;
  float unk_per_syl = 2.0f;
  int unk_max_syl = 12;
  float eps_copula = 1.0f;        // extra cost of the elided copula (의사다)
  float eps_eo = 0.0f;            // extra cost of an ending fused away entirely (해, 가)
  float uncontracted = 0.5f;      // extra cost of an uncontracted vowel stem (보아, 주어)
  float irregular = 0.0f;         // extra cost of irregular allomorphs
  float open_stem_irr_guess = 0.0f;
  // Sets a parameter by name ("unk_per_syl"); false if unknown.
  bool Set(std::string_view name, float value);
};

class Model {
 public:
  // Builds from the two data blobs (the packed files in tokenizer/korean/data).
  Status Build(std::string_view stems_blob, std::string_view stats_blob, const Params& params);

  // Looks up entries whose surface starts at syms[0]. Calls f(length_in_symbols, entry_index)
  // for each; stops at the first symbol that is 0 (not Hangul).
  template <typename F>
  void ForEachPrefix(const uint16_t* syms, int n, F&& f) const;

  std::string_view Str(uint32_t off, uint16_t len) const {
    return std::string_view(pool_).substr(off, len);
  }
  float Trans(int from, int to) const { return trans_[from * kTT + to]; }
  float LexCost(int row, int prev) const { return lex_cost_[static_cast<size_t>(row) * kTT + prev]; }

  static constexpr int kBos = kNumTags;
  static constexpr int kEos = kNumTags + 1;
  static constexpr int kTT = kNumTags + 2;

  std::vector<Entry> entries;
  std::vector<Morph> morphs;
  std::vector<uint32_t> epsilon_entries;  // entries with an empty surface
  Params params;
  size_t MemoryBytes() const;

 private:
  friend class ModelBuilder;
  std::string pool_;
  std::vector<float> trans_;
  std::vector<float> lex_cost_;
  // Trie: node 0 unused; root children indexed directly by symbol.
  std::vector<uint32_t> root_;          // symbol -> node (0 = none)
  std::vector<uint32_t> node_child_begin_;
  std::vector<uint16_t> node_child_count_;
  std::vector<uint32_t> node_entry_begin_;
  std::vector<uint16_t> node_entry_count_;
  std::vector<uint16_t> child_sym_;     // sorted per node
  std::vector<uint32_t> child_node_;
  std::vector<uint32_t> entry_ids_;     // per node entry lists
};

template <typename F>
void Model::ForEachPrefix(const uint16_t* syms, int n, F&& f) const {
  if (n <= 0 || syms[0] == 0) return;
  uint32_t node = root_[syms[0]];
  int len = 1;
  while (node != 0) {
    const uint32_t eb = node_entry_begin_[node];
    const uint32_t ec = node_entry_count_[node];
    for (uint32_t i = 0; i < ec; ++i) f(len, entry_ids_[eb + i]);
    if (len >= n || syms[len] == 0) break;
    const uint16_t s = syms[len];
    const uint32_t cb = node_child_begin_[node];
    uint32_t lo = 0, hi = node_child_count_[node];
    const uint16_t* cs = child_sym_.data() + cb;
    while (lo < hi) {
      const uint32_t mid = (lo + hi) / 2;
      if (cs[mid] < s) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == node_child_count_[node] || cs[lo] != s) break;
    node = child_node_[cb + lo];
    ++len;
  }
}

// Converts a Hangul string (syllables; compatibility consonants stand for a bare final
// consonant) to split-coda symbols. Returns false if it contains anything else.
bool ToSymbols(std::string_view utf8, std::vector<uint16_t>* out);

// The embedded data blobs (tokenizer/korean/data/*.z, linked into the library).
std::string_view EmbeddedStemsBlob();
std::string_view EmbeddedStatsBlob();

// Harmony-canonical form of an ending: 아서/여서 -> 어서, 았/였 -> 었 (other forms unchanged).
std::string CanonicalEnding(std::string_view form);

}  // namespace ondo::korean::detail
