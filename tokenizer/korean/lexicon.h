// The analyzer's compiled lexicon: every morpheme and allomorph as a trie entry keyed by its
// surface in "split-coda" symbols, plus the costs learned from KLUE. Internal to
// tokenizer/korean (the public API is analyzer.h).
//
// Split-coda symbols: a syllable without a final consonant is one symbol (its L,V pair); a
// syllable with one is two symbols, the L,V pair and then the coda. Endings and particles that
// begin with a bare final consonant (ㄴ다, ㄹ게, ㅂ니다, ㄴ) are surfaces starting with a coda
// symbol, so 갈게 = [가][ㄹ][게] splits as 가 + ㄹ게 without special cases in the search.
//
// Irregular and contracted forms are allomorph entries generated at build time from each stem
// (도와 = 돕 fused with the 아 of the next ending, 들 = 듣 before a vowel, 사 = 살 before
// ㄴ/ㅂ/ㅅ); which entry may follow which is decided by the left class of the next entry and the
// right state (final sound, stem kind, vowel harmony) of the previous one (Connects in
// analyzer.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/tags.h"

namespace ondo::korean::detail {

// Symbol ids: 0 = not Hangul, 1..399 = L*21+V+1, 401..427 = coda 400+T.
inline constexpr int kNumSymbols = 428;
inline constexpr uint16_t SymCV(int l, int v) { return static_cast<uint16_t>(1 + l * 21 + v); }
inline constexpr uint16_t SymCoda(int t) { return static_cast<uint16_t>(400 + t); }
inline constexpr bool IsCodaSym(uint16_t s) { return s > 400; }
inline constexpr int SymL(uint16_t s) { return (s - 1) / 21; }
inline constexpr int SymV(uint16_t s) { return (s - 1) % 21; }

// Phonological class of the end of a node's surface.
enum Final : uint8_t { kFinalVowel, kFinalCons, kFinalRieul, kFinalUnknown };

// What a node leaves open for the next one: kNotStem nodes are complete; the others are
// predicate stems (or pre-final endings) that must be followed by an ending.
enum StemKind : uint8_t {
  kNotStem,
  kStemPlain,  // regular stem form: takes any ending its final sound allows
  kStemNoHarm,  // consonant base of an irregular stem (돕, 듣, 낫, 그렇): consonant endings only
  kStemEuOnly,  // 도우, 그러: only the 으-less forms (면, 니까) and ㄴ/ㄹ/ㅁ-initial endings
  kStemVreq,   // 들 (듣), 나 (낫): only 으- and 아/어-initial endings, as after a consonant
  kStemRdel,   // 사 (살): ㄹ dropped before ㄴ, ㅂ, ㅅ and the coda endings ㄴ, ㄹ, ㅂ
  kStemFused,  // 해, 봐, 도와: stem fused with the 아/어 of the next ending
};
// Vowel harmony of a stem: selects 아 (bright) or 어 (dark); 하 takes 여 uncontracted.
enum Harmony : uint8_t { kDark, kBright, kHa };

// Left class: what an entry requires of the node before it.
enum LeftClass : uint8_t {
  kLcFree,          // words, josa without allomorphs: any complete node (or the start)
  kLcJosaCons,      // 이, 을, 은, 과, 이나: after a consonant
  kLcJosaConsNotL,  // 으로: after a consonant other than ㄹ
  kLcJosaVowel,     // 가, 를, 는, 와, 나: after a vowel
  kLcJosaVowelOrL,  // 로: after a vowel or ㄹ
  kLcJosaCoda,      // ㄴ, ㄹ (난, 날): after a vowel-final word, inside its last syllable
  kLcCopulaVowel,  // elided copula (의사다 = 의사+이+다), 예요: after a vowel-final nominal
  kLcEndAny,       // 다, 고, 지, 는: after any stem form that takes consonant endings
  kLcEndConsOnly,   // 습니다, 는다: after a consonant (not ㄹ)
  kLcEndEu,         // 으면, 은, 을: after a consonant (not ㄹ) or a 들/나-type stem
  kLcEndVowelForm,  // 면, 니까, 시: the 으-less form, after a vowel or ㄹ
  kLcEndCoda,       // ㄴ, ㄹ게, ㅂ니다: after a vowel (inside its syllable)
  kLcEndHarm,       // 아서/어서/여서 written out: after a stem of the entry's harmony
  kLcEndRemainder,  // 서, ㅆ, 요: what is left of an 아/어 ending after a fused stem
};

struct Morph {
  uint32_t form = 0;  // canonical form (dark harmony for 아/어 endings) in Model pool
  uint32_t alt = 0;   // bright variant (아서 for 어서); == form when the morph has none
  uint16_t form_len = 0;
  uint16_t alt_len = 0;
  Tag tag = Tag::kNA;
  bool alt_static = false;  // written as `alt` (아서 after a bright stem) unless canonical output
  // The symbol span of this morph inside the entry's surface when the morph is written there
  // as itself ([sym_begin, sym_end) relative to the entry), otherwise sym_begin = -1.
  int8_t sym_begin = -1;
  int8_t sym_end = -1;
};

struct Entry {
  uint32_t morph_begin = 0;  // into Model::morphs
  uint8_t n_morph = 0;
  LeftClass left = kLcFree;
  // Initial consonant of the surface: choseong index of the first syllable, or 100 + coda
  // index when the surface starts with a coda symbol.
  uint8_t first_consonant = 0;
  Final final = kFinalVowel;
  StemKind stem = kNotStem;
  Harmony harmony = kDark;       // of a stem; for kLcEndHarm entries, the harmony they need
  bool uncontracted_ok = false;  // vowel stem that may take a written-out 아/어 (보아, 주어)
  bool harmonic_output = false;  // first morph's form follows the previous stem's harmony
  // Sejong writes 어요, 어도, 고요, 네요 as one ending: an ending entry whose last form X has
  // X요 (bit 0) / X도 (bit 1) in the lexicon does not take the particle 요 / 도 (merge_id 1 / 2).
  uint8_t merge_bits = 0;
  uint8_t merge_id = 0;
  Tag first_tag = Tag::kNA;
  Tag last_tag = Tag::kNA;
  int32_t lex_row = -1;  // row of lexicalised costs for the first morpheme, or -1
  float first_emit = 0;  // emission cost of the first morpheme (when lex_row < 0)
  float rest_cost = 0;   // costs of the other morphemes, their transitions, penalties
};

// Tunable cost parameters (negative log probabilities, nats).
struct Params {
  float trans_smooth = 0.1f;   // add-k on tag bigrams
  float open_pseudo = 0.2f;    // pseudo-count of a lexicon word unseen in KLUE (open class)
  float closed_pseudo = 0.1f;  // same for particles, endings, affixes
  float lex_kappa = 1.0f;      // weight of the backoff in lexicalised transitions
  // Unknown-word cost: base + Σ over syllables (per_syl + syl_scale * -log P(syllable)), with
  // P(syllable) the syllable unigram of KLUE and hunspell nouns.
  float unk_base = 4.0f;
  float unk_per_syl = 0.0f;
  float unk_syl_scale = 1.0f;
  float closed_prior = 1.0f;           // pseudo-count given to every hand-written closed-class item
  float conversational_prior = 30.0f;  // extra pseudo-count of conversational endings (ㄹ게)
  float ep_ep_prior = 60.0f;           // pseudo-count of the EP -> EP transition (시+었)
  float unk_nnp_extra = -1.5f;         // extra cost of an unknown word read as NNP rather than NNG
  int unk_max_syl = 10;
  float eps_copula = 1.5f;       // extra cost of the elided copula (의사다)
  float eps_copula_coda = 3.0f;  // more for an elided copula before a ㄴ-ending (뭔지)
  float uncontracted = 1.0f;     // extra cost of an uncontracted vowel stem (보아, 주어)
  float irregular = 0.5f;        // extra cost of irregular allomorphs
  float wrong_allomorph = 5.0f;  // lenient mode: extra cost of a mismatched particle
  float nonhangul_emit = 0.0f;   // emission cost of a symbol/Latin/digit run
  float xsn_min_count = 3.0f;    // suffixes split off hunspell nouns: XSN seen this often in KLUE
  float split_compounds = 1.0f;
  float geot_contraction = 0.0f;  // extra cost of 거/게 read as contracted 것 (것+이)  // drop
                                  // compound nouns that split into known nouns (0 = keep)
  // Vocatives (철수야, 민준아) and the copula's 야 (문제야, 뭐야) are chat forms that KLUE's
  // news never uses: pseudo-counts for nominal -> JKV and for 이/VCP + 야/EF, and a penalty for a
  // vocative that does not open its sentence (it follows a token other than a sentence end).
  float vocative_prior = 80.0f;
  float vocative_not_initial = 4.0f;
  float copula_ya_prior = 30.0f;
  float cross_weight = 1.0f;  // weight of the token-to-token (across eojeols) costs
  float cross_smooth = 0.5f;  // add-k on token-to-token tag bigrams
  // A pronoun followed by a predicate without a particle (나 왔어, 너 가?) is a chat form:
  // KLUE's news has NP -> VV once. Pseudo-count of the token-to-token NP -> VV and NP -> VA.
  float chat_np_pred_prior = 30.0f;
  // Sets a parameter by name ("unk_per_syl"); false if unknown.
  bool Set(std::string_view name, float value);
};

// A read-only table of the model: either owned (a vector the builder fills with the vector-like
// mutators below) or a view of bytes it does not own (the compiled model used in place from
// the library's mapping, Model::MapInPlace). Reads are the same either way: operator[],
// size(), data(), iteration. Mutators are for building only (an owned table).
template <typename T>
class Table {
 public:
  using value_type = T;
  Table() = default;
  Table(const Table& o) { *this = o; }
  Table(Table&& o) noexcept { *this = std::move(o); }
  Table& operator=(const Table& o) {
    if (this == &o) return *this;
    own_ = o.own_;
    if (o.owned()) {
      Sync();
    } else {
      data_ = o.data_, size_ = o.size_;
    }
    return *this;
  }
  Table& operator=(Table&& o) noexcept {
    if (this == &o) return *this;
    const bool owned = o.owned();
    own_ = std::move(o.own_);  // the buffer moves with its address
    if (owned) {
      Sync();
    } else {
      data_ = o.data_, size_ = o.size_;
    }
    o.own_.clear();
    o.Sync();
    return *this;
  }

  // Points at `n` elements owned elsewhere, which must outlive this table.
  void View(const T* p, size_t n) {
    own_ = std::vector<T>();
    data_ = p, size_ = n;
  }
  bool owned() const { return data_ == own_.data(); }

  const T& operator[](size_t i) const { return data_[i]; }
  // Builder access; writing is only valid on an owned table.
  T& operator[](size_t i) { return const_cast<T*>(data_)[i]; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T& back() const { return data_[size_ - 1]; }
  // Bytes held on the heap by this table (a view holds none).
  size_t capacity() const { return owned() ? own_.capacity() : size_; }
  size_t heap_bytes() const { return own_.capacity() * sizeof(T); }

  void clear() { Own().clear(), Sync(); }
  void push_back(const T& v) { Own().push_back(v), Sync(); }
  void assign(size_t n, const T& v) { Own().assign(n, v), Sync(); }
  void resize(size_t n) { Own().resize(n), Sync(); }
  void append(std::string_view s) {  // Table<char> (the string pool)
    Own().insert(own_.end(), s.begin(), s.end()), Sync();
  }

 private:
  std::vector<T>& Own() {
    if (!owned()) {
      own_.assign(data_, data_ + size_);
      Sync();
    }
    return own_;
  }
  void Sync() { data_ = own_.data(), size_ = own_.size(); }
  std::vector<T> own_;
  const T* data_ = nullptr;
  size_t size_ = 0;
};

class Model {
 public:
  Model() = default;
  // Tables may point into blob_: moving keeps that buffer's address, copying would not.
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // Builds from the two data blobs (the packed files in tokenizer/korean/data).
  Status Build(std::string_view stems_blob, std::string_view stats_blob, const Params& params);
  // The compiled form (compiled_model.cc, format "OKC2"): every table of a built model and its
  // Params, uncompressed, little-endian, 64-byte aligned, behind a header and a directory with
  // a CRC. The build compiles the default model once (tools/compile_model.cc) and embeds it, so
  // Analyzer::Create uses the tables in place instead of generating them: a few ms instead of
  // 150 ms at start-up, no heap for the 4.4 MB of tables instead of a 24.5 MB peak.
  Status Serialize(std::string* out) const;
  // Replaces this model with a compiled one, copied to one heap buffer (the caller may free
  // `compiled` afterwards). Corrupt for a blob of another version or layout, a CRC mismatch,
  // tables out of the blob, or tables whose indices do not fit together.
  Status Load(std::string_view compiled);
  // Same, but the tables are read in place from `compiled`, which must stay valid and
  // unchanged while this model (or a copy of it) lives, and start at an 8-byte boundary
  // (InvalidArgument otherwise). Every offset, size and index is checked here (which reads
  // the entries, morphs, trie and cost tables once); `check_crc` also reads every byte for the
  // CRC (off for the blob embedded in the library).
  Status MapInPlace(std::string_view compiled, bool check_crc);
  // Heap bytes of the tables (0 for a model used in place).
  size_t HeapBytes() const;

  // Looks up entries whose surface starts at syms[0]. Calls f(length_in_symbols, entry_index)
  // for each; stops at the first symbol that is 0 (not Hangul).
  template <typename F>
  void ForEachPrefix(const uint16_t* syms, int n, F&& f) const;

  std::string_view Str(uint32_t off, uint16_t len) const {
    return std::string_view(pool_.data(), pool_.size()).substr(off, len);
  }
  // Transition cost between tags (kBos / kEos as pseudo tags).
  float Trans(int from, int to) const { return trans_[from * kTT + to]; }
  // Lexicalised cost of the first morpheme of an entry (transition + emission).
  float LexCost(int row, int prev) const {
    return lex_cost_[static_cast<size_t>(row) * kTT + prev];
  }
  // Token-to-token cost -log P(first tag of a token | last tag of the token before), across
  // eojeols and punctuation; kBos = start of text. CrossEnd(t): the text ends after t (what
  // follows is a sentence end: SF or nothing).
  float Cross(int from, int to) const { return cross_[from * kTT + to]; }
  float CrossEnd(int from) const { return cross_end_[from]; }
  // -log P(syllable) of nouns, for the unknown-word model; index = syllable - U+AC00.
  float SyllableCost(int index) const { return unk_syl_[index]; }

  static constexpr int kBos = kNumTags;
  static constexpr int kEos = kNumTags + 1;
  static constexpr int kTT = kNumTags + 2;

  Table<Entry> entries;
  Table<Morph> morphs;
  Params params;
  size_t MemoryBytes() const;

 private:
  friend class ModelBuilder;
  template <typename M, typename F>
  friend void VisitTables(M& m, F&& f);
  Status Validate() const;
  // The compiled blob the tables point into when Load copied it (8-byte aligned).
  std::vector<uint64_t> blob_;
  Table<char> pool_;
  Table<float> trans_;
  Table<float> lex_cost_;
  Table<float> cross_, cross_end_;
  Table<float> unk_syl_;
  // Trie: node 0 unused; root children indexed directly by symbol.
  Table<uint32_t> root_;  // symbol -> node (0 = none)
  Table<uint32_t> node_child_begin_;
  Table<uint16_t> node_child_count_;
  Table<uint32_t> node_entry_begin_;
  Table<uint16_t> node_entry_count_;
  Table<uint16_t> child_sym_;  // sorted per node
  Table<uint32_t> child_node_;
  Table<uint32_t> entry_ids_;  // per node entry lists
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

// Hash of the in-memory layout of the compiled model's structs (sizes and field offsets of
// Entry, Morph, Params; kTT, kNumSymbols): written into compiled models and checked where they
// are used, so a model compiled by a host tool for a cross build is known to fit the target.
constexpr uint32_t CompiledModelLayout() {
  const uint64_t parts[] = {
      sizeof(Entry), offsetof(Entry, morph_begin), offsetof(Entry, n_morph),
      offsetof(Entry, left), offsetof(Entry, first_consonant), offsetof(Entry, final),
      offsetof(Entry, stem), offsetof(Entry, harmony), offsetof(Entry, uncontracted_ok),
      offsetof(Entry, harmonic_output), offsetof(Entry, merge_bits), offsetof(Entry, merge_id),
      offsetof(Entry, first_tag), offsetof(Entry, last_tag), offsetof(Entry, lex_row),
      offsetof(Entry, first_emit), offsetof(Entry, rest_cost), sizeof(Morph),
      offsetof(Morph, form), offsetof(Morph, alt), offsetof(Morph, form_len),
      offsetof(Morph, alt_len), offsetof(Morph, tag), offsetof(Morph, alt_static),
      offsetof(Morph, sym_begin), offsetof(Morph, sym_end), sizeof(Params), sizeof(bool),
      sizeof(Tag), sizeof(LeftClass), static_cast<uint64_t>(Model::kTT),
      static_cast<uint64_t>(kNumSymbols)};
  uint32_t h = 2166136261u;  // FNV-1a over the little-endian bytes of each part
  for (uint64_t v : parts) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint32_t>((v >> (8 * i)) & 0xff);
      h *= 16777619u;
    }
  }
  return h;
}

// Converts a Hangul string (syllables; compatibility consonants stand for a bare final
// consonant) to split-coda symbols. Returns false if it contains anything else.
bool ToSymbols(std::string_view utf8, std::vector<uint16_t>* out);

// The embedded data blobs (tokenizer/korean/data/*.z, compiled into the library).
std::string_view EmbeddedStemsBlob();
std::string_view EmbeddedStatsBlob();
// The default model compiled at build time (Model::Serialize), or empty where the build could
// not run the compiler (cross builds): Analyzer::Create then builds from the blobs above.
std::string_view EmbeddedCompiledModel();

// Inflates an "OKZ1" blob (zlib text behind a 4-byte magic and a little-endian size).
Status UnpackBlob(std::string_view blob, std::string* out);

}  // namespace ondo::korean::detail
