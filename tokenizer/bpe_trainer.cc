// BPE training with incremental pair counts and a lazily invalidated max-heap.
#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <queue>

#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

constexpr char kSpaceEscape[] = "\xe2\x96\x81";  // U+2581
constexpr uint32_t kSpaceEscapeCp = 0x2581;
constexpr uint32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;
constexpr uint32_t kJamoFirst = 0x3131, kJamoLast = 0x318E;
// The regex of the Split step Hugging Face runs before Metaspace (control whitespace runs).
constexpr char kControlSpaceRegex[] = "[\t\n\v\f\r]+";

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string ByteTokenText(int b) {
  static const char kHex[] = "0123456789ABCDEF";
  return std::string{'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
}

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct PairStat {
  int64_t count = 0;
  int64_t pushed = -1;          // count of the newest heap entry
  uint64_t touched = 0;         // merge step that last changed the count
  bool done = false;            // merged or refused
  std::vector<uint32_t> words;  // words that contain (or contained) the pair
};

struct HeapEntry {
  int64_t count;
  int32_t a, b;
  // std::priority_queue pops the largest: highest count, then smallest a, then smallest b.
  bool operator<(const HeapEntry& o) const {
    if (count != o.count) return count < o.count;
    if (a != o.a) return a > o.a;
    return b > o.b;
  }
};

struct Word {
  uint32_t offset, len;
  int64_t count;
};

}  // namespace

BpeTrainer::~BpeTrainer() = default;

Status BpeTrainer::Create(const BpeTrainerOptions& options, std::unique_ptr<BpeTrainer>* out) {
  if (options.vocab_size <= 0 || options.vocab_size > (1 << 24)) {
    return InvalidArgument("vocabulary size {} out of range (1..16777216)", options.vocab_size);
  }
  if (options.min_pair_count < 1 || options.min_char_count < 1) {
    return InvalidArgument("minimum counts must be at least 1");
  }
  for (const std::string& s : options.special_tokens) {
    if (s.empty() || !unicode::IsValidUtf8(s)) return InvalidArgument("bad special token");
  }
  auto t = std::unique_ptr<BpeTrainer>(new BpeTrainer());
  t->options_ = options;
  ONDO_RETURN_IF_ERROR(MorphSplitter::Create(
      options.morph ? OndoPreTokenizer::kKoreanMorph : OndoPreTokenizer::kWhitespace,
      &t->splitter_));
  *out = std::move(t);
  return Status::Ok();
}

Status BpeTrainer::AddText(std::string_view text) {
  const size_t bad = unicode::FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    return InvalidArgument("training text is not valid UTF-8 (byte offset {})", bad);
  }
  const double t0 = Now();
  size_t pos = 0;
  std::string key;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    eol = eol == std::string_view::npos ? text.size() : eol + 1;
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol;
    ONDO_RETURN_IF_ERROR(splitter_->Split(line, &scratch_, &spans_));
    for (const PieceSpan& s : spans_) {
      key.assign(line.substr(s.begin, s.end - s.begin));
      ++piece_counts_[key];
    }
    n_pieces_ += static_cast<int64_t>(spans_.size());
  }
  split_seconds_ += Now() - t0;
  return Status::Ok();
}

Status BpeTrainer::Train(TrainedBpe* out) {
  const double t0 = Now();
  TrainedBpe r;
  r.pre = splitter_->kind();
  r.n_pieces = n_pieces_;
  r.n_distinct_pieces = static_cast<int64_t>(piece_counts_.size());
  r.split_seconds = split_seconds_;

  // --- Base alphabet --------------------------------------------------------------------
  std::unordered_map<uint32_t, int64_t> char_counts;
  for (const auto& [piece, count] : piece_counts_) {
    size_t p = 0;
    uint32_t cp = 0;
    while (p < piece.size() && unicode::DecodeOne(piece, &p, &cp)) char_counts[cp] += count;
  }
  std::vector<uint32_t> alphabet;
  alphabet.push_back(kSpaceEscapeCp);
  for (uint32_t c : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du}) alphabet.push_back(c);
  for (uint32_t c = 0x21; c <= 0x7E; ++c) alphabet.push_back(c);
  if (options_.full_hangul) {
    for (uint32_t c = kHangulFirst; c <= kHangulLast; ++c) alphabet.push_back(c);
    for (uint32_t c = kJamoFirst; c <= kJamoLast; ++c) alphabet.push_back(c);
  }
  for (const auto& [cp, count] : char_counts) {
    if (count >= options_.min_char_count && cp != ' ' && cp != kSpaceEscapeCp) {
      alphabet.push_back(cp);
    }
  }
  std::sort(alphabet.begin(), alphabet.end());
  alphabet.erase(std::unique(alphabet.begin(), alphabet.end()), alphabet.end());

  std::unordered_map<std::string, int32_t> ids;  // token text -> id
  auto add_token = [&](std::string text) {
    const int32_t id = static_cast<int32_t>(r.tokens.size());
    ids.emplace(text, id);
    r.tokens.push_back(std::move(text));
    return id;
  };
  for (const std::string& s : options_.special_tokens) {
    if (ids.count(s) != 0) return InvalidArgument("special token '{}' given twice", s);
    add_token(s);
  }
  r.n_special = static_cast<int32_t>(r.tokens.size());
  for (int b = 0; b < 256; ++b) {
    std::string t = ByteTokenText(b);
    if (ids.count(t) != 0) return InvalidArgument("special token '{}' is a byte token", t);
    add_token(std::move(t));
  }
  std::unordered_map<uint32_t, int32_t> char_ids;
  std::string ch;
  for (uint32_t cp : alphabet) {
    ch.clear();
    unicode::AppendUtf8(cp, &ch);
    if (ids.count(ch) != 0) continue;  // a one-character special token
    char_ids.emplace(cp, add_token(ch));
  }
  r.n_base = static_cast<int32_t>(r.tokens.size());
  if (options_.vocab_size < r.n_base) {
    return InvalidArgument(
        "vocabulary size {} is smaller than the base alphabet ({} tokens: {} special, 256 bytes, "
        "{} characters{}); use a larger size{}",
        options_.vocab_size, r.n_base, r.n_special, r.n_base - r.n_special - 256,
        options_.full_hangul ? " including all 11,172 Hangul syllables" : "",
        options_.full_hangul ? " or only the Hangul syllables seen in the corpus" : "");
  }

  // --- Words ------------------------------------------------------------------------------
  std::vector<int32_t> syms;
  std::vector<Word> words;
  words.reserve(piece_counts_.size());
  for (const auto& [piece, count] : piece_counts_) {
    Word w{static_cast<uint32_t>(syms.size()), 0, count};
    size_t p = 0;
    uint32_t cp = 0;
    while (p < piece.size() && unicode::DecodeOne(piece, &p, &cp)) {
      int32_t id = -1;  // not in the alphabet: byte fallback at encode time, never merged
      if (cp == ' ') {
        id = char_ids[kSpaceEscapeCp];
      } else if (cp != kSpaceEscapeCp) {
        const auto it = char_ids.find(cp);
        if (it != char_ids.end()) id = it->second;
      }
      syms.push_back(id);
    }
    w.len = static_cast<uint32_t>(syms.size()) - w.offset;
    if (w.len >= 2) {
      words.push_back(w);
    } else {
      syms.resize(w.offset);  // nothing to merge
    }
  }
  piece_counts_ = {};
  // The word order (hash order) affects nothing but memory layout: merge choices depend only on
  // pair counts and ids.

  std::unordered_map<uint64_t, PairStat> pairs;
  pairs.reserve(words.size() * 2);
  for (uint32_t wi = 0; wi < words.size(); ++wi) {
    const Word& w = words[wi];
    for (uint32_t k = 0; k + 1 < w.len; ++k) {
      const int32_t a = syms[w.offset + k], b = syms[w.offset + k + 1];
      if (a < 0 || b < 0) continue;
      PairStat& st = pairs[PairKey(a, b)];
      st.count += w.count;
      if (st.words.empty() || st.words.back() != wi) st.words.push_back(wi);
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (auto& [key, st] : pairs) {
    if (st.count >= options_.min_pair_count) {
      heap.push(
          {st.count, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFF)});
      st.pushed = st.count;
    }
  }

  // --- Merges -----------------------------------------------------------------------------
  std::vector<uint64_t> word_stamp(words.size(), 0);
  std::vector<uint64_t> touched;
  uint64_t step = 0;
  std::string merged_text;
  while (static_cast<int32_t>(r.tokens.size()) < options_.vocab_size && !heap.empty()) {
    const HeapEntry e = heap.top();
    heap.pop();
    const auto it = pairs.find(PairKey(e.a, e.b));
    PairStat& st = it->second;
    if (st.done || st.count != e.count) continue;  // stale
    st.done = true;
    merged_text = r.tokens[static_cast<size_t>(e.a)];
    merged_text += r.tokens[static_cast<size_t>(e.b)];
    int32_t c;
    if (const auto found = ids.find(merged_text); found != ids.end()) {
      c = found->second;
      // Never a merge into a special or byte token (decoding would change the text).
      if (c < r.n_special + 256) continue;
    } else {
      c = add_token(merged_text);
    }
    r.merges.emplace_back(e.a, e.b);
    ++step;
    touched.clear();
    std::vector<uint32_t> list = std::move(st.words);
    st.words = {};
    auto change = [&](int32_t x, int32_t y, int64_t delta, uint32_t wi) {
      if (x < 0 || y < 0) return;
      PairStat& ps = pairs[PairKey(x, y)];
      ps.count += delta;
      if (delta > 0 && (x == c || y == c) && (ps.words.empty() || ps.words.back() != wi)) {
        ps.words.push_back(wi);
      }
      if (ps.touched != step) {
        ps.touched = step;
        touched.push_back(PairKey(x, y));
      }
    };
    for (uint32_t wi : list) {
      if (word_stamp[wi] == step) continue;
      word_stamp[wi] = step;
      Word& w = words[wi];
      int32_t* s = syms.data() + w.offset;
      bool has = false;
      for (uint32_t k = 0; k + 1 < w.len && !has; ++k) has = s[k] == e.a && s[k + 1] == e.b;
      if (!has) continue;
      for (uint32_t k = 0; k + 1 < w.len; ++k) change(s[k], s[k + 1], -w.count, wi);
      uint32_t out_len = 0;
      for (uint32_t k = 0; k < w.len;) {
        if (k + 1 < w.len && s[k] == e.a && s[k + 1] == e.b) {
          s[out_len++] = c;
          k += 2;
        } else {
          s[out_len++] = s[k++];
        }
      }
      w.len = out_len;
      for (uint32_t k = 0; k + 1 < w.len; ++k) change(s[k], s[k + 1], w.count, wi);
    }
    for (uint64_t key : touched) {
      PairStat& ps = pairs[key];
      if (!ps.done && ps.count != ps.pushed && ps.count >= options_.min_pair_count) {
        heap.push(
            {ps.count, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFF)});
        ps.pushed = ps.count;
      }
    }
  }
  r.merge_seconds = Now() - t0;
  *out = std::move(r);
  return Status::Ok();
}

void TrainedBpeToVocabSpec(const TrainedBpe& bpe, bool with_ondo_key, VocabSpec* out) {
  VocabSpec spec;
  spec.kind = VocabKind::kCharBpe;
  spec.pre = "none";
  spec.add_space_prefix = false;
  spec.hf_added_tokens = true;
  spec.byte_fallback = true;
  spec.tokens = bpe.tokens;
  spec.token_types.assign(bpe.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  for (int32_t i = 0; i < bpe.n_special; ++i) {
    spec.token_types[static_cast<size_t>(i)] = static_cast<int32_t>(TokenType::kControl);
    AddedToken a;
    a.id = i;
    a.content = bpe.tokens[static_cast<size_t>(i)];
    a.special = true;
    spec.added_tokens.push_back(std::move(a));
  }
  for (int32_t b = 0; b < 256; ++b) {
    spec.token_types[static_cast<size_t>(bpe.n_special + b)] =
        static_cast<int32_t>(TokenType::kByte);
  }
  spec.merge_ids = bpe.merges;
  PreTokenizerStep split;
  split.kind = PreTokenizerStep::Kind::kSplit;
  split.pattern = kControlSpaceRegex;
  split.pattern_is_regex = true;
  split.behavior = SplitBehavior::kIsolated;
  PreTokenizerStep meta;
  meta.kind = PreTokenizerStep::Kind::kMetaspace;
  meta.replacement = kSpaceEscape;
  meta.prepend_scheme = PreTokenizerStep::PrependScheme::kNever;
  meta.split = true;
  spec.pre_tokenizers = {split, meta};
  if (with_ondo_key) spec.ondo_pre_tokenizer = std::string(OndoPreTokenizerName(bpe.pre));
  // Special tokens: <s> / </s> when present (not added by default).
  for (int32_t i = 0; i < bpe.n_special; ++i) {
    if (bpe.tokens[static_cast<size_t>(i)] == "<s>") spec.bos_id = i;
    if (bpe.tokens[static_cast<size_t>(i)] == "</s>") spec.eos_id = i;
    if (bpe.tokens[static_cast<size_t>(i)] == "<pad>") spec.pad_id = i;
  }
  *out = std::move(spec);
}

std::string TrainedBpeToHfJson(const TrainedBpe& bpe, bool with_ondo_key) {
  using ojson = nlohmann::ordered_json;
  ojson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  ojson added = ojson::array();
  for (int32_t i = 0; i < bpe.n_special; ++i) {
    added.push_back({{"id", i},
                     {"content", bpe.tokens[static_cast<size_t>(i)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  root["added_tokens"] = std::move(added);
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", ojson::array({{{"type", "Split"},
                                       {"pattern", {{"Regex", kControlSpaceRegex}}},
                                       {"behavior", "Isolated"},
                                       {"invert", false}},
                                      {{"type", "Metaspace"},
                                       {"replacement", kSpaceEscape},
                                       {"prepend_scheme", "never"},
                                       {"split", true}}})}};
  root["post_processor"] = nullptr;
  root["decoder"] = {
      {"type", "Sequence"},
      {"decoders",
       ojson::array(
           {{{"type", "Replace"}, {"pattern", {{"String", kSpaceEscape}}}, {"content", " "}},
            {{"type", "ByteFallback"}},
            {{"type", "Fuse"}}})}};
  ojson vocab = ojson::object();
  for (size_t i = 0; i < bpe.tokens.size(); ++i) vocab[bpe.tokens[i]] = static_cast<int64_t>(i);
  ojson merges = ojson::array();
  for (const auto& [a, b] : bpe.merges) {
    merges.push_back(
        ojson::array({bpe.tokens[static_cast<size_t>(a)], bpe.tokens[static_cast<size_t>(b)]}));
  }
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", true},
                   {"ignore_merges", false},
                   {"vocab", std::move(vocab)},
                   {"merges", std::move(merges)}};
  if (with_ondo_key) {
    root["ondo"] = {{"pre_tokenizer", std::string(OndoPreTokenizerName(bpe.pre))}, {"version", 1}};
  }
  std::string s = root.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
  s += '\n';
  return s;
}

}  // namespace ondo::tokenizer
