// Tokenizer: vocabulary tables, special-token splitting (llama.cpp and Hugging Face rules),
// the encode pipeline (normalize -> pre-tokenize -> BPE/SPM), pieces and streaming decode.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/model.h"
#include "tokenizer/morph_pretokenizer.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

constexpr size_t kMaxTextBytes = size_t{1} << 30;
constexpr int64_t kBaseRegexBudget = 20'000'000;
constexpr int64_t kRegexBudgetPerByte = 4'000;
constexpr int32_t kMaxVocab = 1 << 24;

constexpr char kSpaceEscape[] = "\xe2\x96\x81";  // U+2581

bool IsAsciiSpace(char c) {  // C isspace in the "C" locale
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// "<0xAB>" -> 0xAB; -1 if the text is not a byte token.
int ParseByteToken(std::string_view t) {
  if (t.size() != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char h = t[static_cast<size_t>(k)];
    int d;
    if (h >= '0' && h <= '9') {
      d = h - '0';
    } else if (h >= 'A' && h <= 'F') {
      d = h - 'A' + 10;
    } else if (h >= 'a' && h <= 'f') {
      d = h - 'a' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

void ReplaceAll(std::string_view in, std::string_view from, std::string_view to, std::string* out) {
  size_t last = 0;
  for (size_t p = in.find(from); p != std::string_view::npos; p = in.find(from, p + from.size())) {
    out->append(in.substr(last, p - last));
    out->append(to);
    last = p + from.size();
  }
  out->append(in.substr(last));
}

bool IsAlnumChar(uint32_t cp) {
  return (unicode::CategoryBit(cp) & (unicode::kMaskL | unicode::kMaskN)) != 0;
}

// A byte trie over added-token contents, for leftmost-longest matching.
class Trie {
 public:
  Trie() { nodes_.emplace_back(); }
  bool empty() const { return nodes_.size() == 1; }
  void Insert(std::string_view key, int32_t value) {
    int32_t node = 0;
    for (char ch : key) {
      const uint8_t b = static_cast<uint8_t>(ch);
      int32_t child = Child(node, b);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        nodes_.back().byte = b;
        nodes_.back().next_sibling = nodes_[static_cast<size_t>(node)].first_child;
        nodes_[static_cast<size_t>(node)].first_child = child;
      }
      node = child;
    }
    if (nodes_[static_cast<size_t>(node)].value < 0) nodes_[static_cast<size_t>(node)].value = value;
  }
  // Longest key that is a prefix of s[pos..]; returns its value or -1, and its length.
  int32_t Longest(std::string_view s, size_t pos, size_t* len) const {
    int32_t node = 0;
    int32_t best = -1;
    for (size_t i = pos; i < s.size(); ++i) {
      node = Child(node, static_cast<uint8_t>(s[i]));
      if (node < 0) break;
      if (nodes_[static_cast<size_t>(node)].value >= 0) {
        best = nodes_[static_cast<size_t>(node)].value;
        *len = i + 1 - pos;
      }
    }
    return best;
  }
  // Calls f(value) for every key occurring anywhere in s.
  template <typename F>
  void ForEachOccurrence(std::string_view s, F&& f) const {
    for (size_t pos = 0; pos < s.size(); ++pos) {
      int32_t node = 0;
      for (size_t i = pos; i < s.size(); ++i) {
        node = Child(node, static_cast<uint8_t>(s[i]));
        if (node < 0) break;
        if (nodes_[static_cast<size_t>(node)].value >= 0) f(nodes_[static_cast<size_t>(node)].value);
      }
    }
  }

 private:
  struct Node {
    int32_t first_child = -1;
    int32_t next_sibling = -1;
    int32_t value = -1;
    uint8_t byte = 0;
  };
  int32_t Child(int32_t node, uint8_t b) const {
    for (int32_t c = nodes_[static_cast<size_t>(node)].first_child; c >= 0;
         c = nodes_[static_cast<size_t>(c)].next_sibling) {
      if (nodes_[static_cast<size_t>(c)].byte == b) return c;
    }
    return -1;
  }
  std::vector<Node> nodes_;
};

struct Fragment {
  bool is_token;
  int32_t id;
  size_t begin, end;  // text range when !is_token
};

class TokenizerImpl final : public Tokenizer {
 public:
  explicit TokenizerImpl(VocabSpec spec) : spec_(std::move(spec)) {}
  Status Init();

  Status Encode(std::string_view text, const EncodeOptions& options,
                std::vector<int32_t>* ids) const override;
  std::string_view Piece(int32_t id) const override {
    const size_t i = static_cast<size_t>(id);
    return std::string_view(piece_data_).substr(piece_offsets_[i],
                                                piece_offsets_[i + 1] - piece_offsets_[i]);
  }
  std::string_view TokenText(int32_t id) const override {
    return spec_.tokens[static_cast<size_t>(id)];
  }
  TokenType GetTokenType(int32_t id) const override {
    return static_cast<TokenType>(types_[static_cast<size_t>(id)]);
  }
  int32_t FindToken(std::string_view text) const override { return index_.Find(text); }
  int32_t n_vocab() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  const VocabSpec& spec() const override { return spec_; }
  bool IsEog(int32_t id) const override {
    return id >= 0 && id < n_vocab() && eog_[static_cast<size_t>(id)] != 0;
  }

 private:
  Status InitMerges();
  Status InitAddedTokens();
  Status InitPieces();
  void InitEog();

  bool Eligible(const AddedToken& t, bool parse_special) const {
    return parse_special || !t.special;
  }
  void SplitLlamaCpp(std::string_view text, bool parse_special, std::vector<Fragment>* frags) const;
  void SplitHf(std::string_view text, size_t offset, const Trie& trie, bool parse_special,
               std::vector<Fragment>* frags) const;
  Status EncodeText(std::string_view text, bool first, const EncodeOptions& options,
                    std::vector<int32_t>* ids, Workspace* ws, ModelScratch* ms) const;
  void EncodePiece(std::string_view piece, std::vector<int32_t>* ids, ModelScratch* ms) const;
  // ondo pre-tokenizer path (VocabSpec::ondo_pre_tokenizer).
  Status InitOndo();
  Status EncodeOndo(std::string_view text, std::vector<int32_t>* ids, ModelScratch* ms) const;

  VocabSpec spec_;
  TokenIndex index_;
  MergeTable merges_;
  std::vector<uint8_t> types_;
  std::vector<float> scores_;  // SPM; NaN-free
  std::string piece_data_;
  std::vector<uint32_t> piece_offsets_;
  std::vector<uint8_t> eog_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  std::vector<AddedToken> added_;         // effective list
  std::vector<int32_t> llama_order_;      // indices of added_, longest content first
  Trie raw_trie_, norm_trie_;             // values: indices into added_
  int32_t byte_ids_[256];                 // SPM / byte fallback: token for a raw byte
  int32_t byte_char_ids_[256];            // byte-level BPE: token of the byte's symbol
  std::unique_ptr<MorphSplitter> ondo_splitter_;
  int32_t ondo_space_id_ = -1;            // the U+2581 token
};

Status TokenizerImpl::Init() {
  const size_t n = spec_.tokens.size();
  if (n == 0) return InvalidArgument("vocabulary has no tokens");
  if (n > static_cast<size_t>(kMaxVocab)) return InvalidArgument("vocabulary too large: {}", n);
  if (!spec_.scores.empty() && spec_.scores.size() != n) {
    return InvalidArgument("scores has {} entries for {} tokens", spec_.scores.size(), n);
  }
  if (!spec_.token_types.empty() && spec_.token_types.size() != n) {
    return InvalidArgument("token_types has {} entries for {} tokens", spec_.token_types.size(), n);
  }
  const int32_t nv = static_cast<int32_t>(n);
  for (int32_t* id : {&spec_.bos_id, &spec_.eos_id, &spec_.eot_id, &spec_.eom_id, &spec_.unk_id,
                      &spec_.pad_id, &spec_.sep_id}) {
    if (*id < -1 || *id >= nv) return InvalidArgument("special token id {} out of range", *id);
  }
  if (spec_.add_bos && spec_.bos_id < 0) spec_.add_bos = false;
  if (spec_.add_eos && spec_.eos_id < 0) spec_.add_eos = false;

  index_.Build(&spec_.tokens);
  types_.resize(n, static_cast<uint8_t>(TokenType::kNormal));
  for (size_t i = 0; i < spec_.token_types.size(); ++i) {
    const int32_t t = spec_.token_types[i];
    types_[i] = static_cast<uint8_t>(t >= 0 && t <= 6 ? t : 0);
  }
  if (!spec_.scores.empty()) {
    scores_ = spec_.scores;
    for (float& s : scores_) {
      if (std::isnan(s)) s = -std::numeric_limits<float>::infinity();
    }
  }
  for (int b = 0; b < 256; ++b) {
    static const char kHex[] = "0123456789ABCDEF";
    const char name[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
    int32_t id = index_.Find(std::string_view(name, 6));
    if (id < 0 && spec_.kind == VocabKind::kSpm) {
      const char c = static_cast<char>(b);
      id = index_.Find(std::string_view(&c, 1));
    }
    byte_ids_[b] = id;
    std::string sym;
    unicode::AppendUtf8(unicode::ByteToCodepoint(static_cast<uint8_t>(b)), &sym);
    byte_char_ids_[b] = index_.Find(sym);
  }

  ONDO_RETURN_IF_ERROR(InitMerges());
  ONDO_RETURN_IF_ERROR(Normalizer::Create(spec_.normalize_nfc, spec_.normalizers, &normalizer_));
  if (spec_.kind != VocabKind::kSpm) {
    std::vector<PreTokenizerStep> steps = spec_.pre_tokenizers;
    if (steps.empty() && spec_.kind == VocabKind::kBpe) {
      std::vector<std::string> regexes;
      Status st = PreTokenizerRegexes(spec_.pre, &regexes);
      if (!st.ok()) return Unsupported("{}", st.message());
      for (const std::string& r : regexes) {
        PreTokenizerStep step;
        step.kind = PreTokenizerStep::Kind::kSplit;
        step.pattern = r;
        steps.push_back(std::move(step));
      }
    }
    ONDO_RETURN_IF_ERROR(PreTokenizer::Create(steps, &pre_));
  }
  ONDO_RETURN_IF_ERROR(InitAddedTokens());
  ONDO_RETURN_IF_ERROR(InitPieces());
  InitEog();
  return InitOndo();
}

Status TokenizerImpl::InitOndo() {
  if (spec_.ondo_pre_tokenizer.empty()) return Status::Ok();
  OndoPreTokenizer kind = OndoPreTokenizer::kNone;
  ONDO_RETURN_IF_ERROR(ParseOndoPreTokenizer(spec_.ondo_pre_tokenizer, &kind));
  if (spec_.kind != VocabKind::kCharBpe || !spec_.byte_fallback) {
    return Unsupported("ondo pre-tokenizer needs a character BPE model with byte_fallback");
  }
  for (int b = 0; b < 256; ++b) {
    if (byte_ids_[b] < 0) return InvalidArgument("ondo pre-tokenizer: byte token {} missing", b);
  }
  ondo_space_id_ = index_.Find(kSpaceEscape);
  if (ondo_space_id_ < 0) return InvalidArgument("ondo pre-tokenizer: no U+2581 token");
  return MorphSplitter::Create(kind, &ondo_splitter_);
}

Status TokenizerImpl::EncodeOndo(std::string_view text, std::vector<int32_t>* ids,
                                 ModelScratch* ms) const {
  // One Scratch per thread: the analyzer's lattice and the piece list stay warm across calls.
  struct OndoScratch {
    MorphSplitter::Scratch split;
    std::vector<PieceSpan> pieces;
  };
  thread_local OndoScratch scratch;
  ONDO_RETURN_IF_ERROR(ondo_splitter_->Split(text, &scratch.split, &scratch.pieces));
  std::vector<int32_t>& syms = ms->ids;
  for (const PieceSpan& p : scratch.pieces) {
    syms.clear();
    size_t pos = p.begin;
    if (text[pos] == ' ') {
      syms.push_back(ondo_space_id_);
      ++pos;
    }
    while (pos < p.end) {
      const size_t at = pos;
      const size_t len = unicode::Utf8SeqLen(static_cast<uint8_t>(text[at]));
      pos = at + len;
      const std::string_view ch = text.substr(at, len);
      // A literal U+2581 would decode as a space: it goes as bytes.
      const int32_t id = ch == kSpaceEscape ? -1 : index_.Find(ch);
      if (id >= 0) {
        syms.push_back(id);
      } else {
        for (size_t k = at; k < pos; ++k) syms.push_back(byte_ids_[static_cast<uint8_t>(text[k])]);
      }
    }
    BpeMerge(merges_, &syms, ms);
    ids->insert(ids->end(), syms.begin(), syms.end());
  }
  return Status::Ok();
}

Status TokenizerImpl::InitMerges() {
  const int32_t nv = n_vocab();
  if (!spec_.merge_ids.empty()) {
    merges_.Reserve(spec_.merge_ids.size());
    std::string joined;
    for (size_t r = 0; r < spec_.merge_ids.size(); ++r) {
      const auto [a, b] = spec_.merge_ids[r];
      if (a < 0 || b < 0) continue;  // placeholder for a merge of unknown tokens
      if (a >= nv || b >= nv) return InvalidArgument("merge {} refers to token ids out of range", r);
      joined = spec_.tokens[static_cast<size_t>(a)];
      joined += spec_.tokens[static_cast<size_t>(b)];
      const int32_t merged = index_.Find(joined);
      if (merged < 0) continue;  // cannot form a token
      merges_.Add(a, b, static_cast<int32_t>(r), merged);
    }
  } else if (!spec_.merges.empty()) {
    merges_.Reserve(spec_.merges.size());
    for (size_t r = 0; r < spec_.merges.size(); ++r) {
      const std::string& m = spec_.merges[r];
      // Split at the first space after the first byte (llama.cpp).
      const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos) continue;
      const std::string_view left(m.data(), sp);
      const std::string_view right(m.data() + sp + 1, m.size() - sp - 1);
      const int32_t a = index_.Find(left), b = index_.Find(right);
      if (a < 0 || b < 0) continue;
      std::string joined(left);
      joined += right;
      const int32_t merged = index_.Find(joined);
      if (merged < 0) continue;
      merges_.Add(a, b, static_cast<int32_t>(r), merged);
    }
  }
  return Status::Ok();
}

Status TokenizerImpl::InitAddedTokens() {
  const int32_t nv = n_vocab();
  if (spec_.added_tokens.empty()) {
    for (int32_t id = 0; id < nv; ++id) {
      const auto t = static_cast<TokenType>(types_[static_cast<size_t>(id)]);
      if (t != TokenType::kControl && t != TokenType::kUserDefined && t != TokenType::kUnknown) {
        continue;
      }
      AddedToken a;
      a.id = id;
      a.content = spec_.tokens[static_cast<size_t>(id)];
      a.special = t != TokenType::kUserDefined;
      added_.push_back(std::move(a));
    }
  } else {
    for (const AddedToken& a : spec_.added_tokens) {
      if (a.id < 0 || a.id >= nv) return InvalidArgument("added token id {} out of range", a.id);
      added_.push_back(a);
    }
  }
  // Unmatchable contents are dropped.
  added_.erase(std::remove_if(added_.begin(), added_.end(),
                              [](const AddedToken& a) {
                                return a.content.empty() || !unicode::IsValidUtf8(a.content);
                              }),
               added_.end());
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& a = added_[i];
    if (spec_.hf_added_tokens && a.normalized && !normalizer_->empty()) {
      norm_trie_.Insert(a.content, static_cast<int32_t>(i));
    } else {
      raw_trie_.Insert(a.content, static_cast<int32_t>(i));
    }
    llama_order_.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(llama_order_.begin(), llama_order_.end(), [&](int32_t x, int32_t y) {
    return added_[static_cast<size_t>(x)].content.size() > added_[static_cast<size_t>(y)].content.size();
  });
  return Status::Ok();
}

Status TokenizerImpl::InitPieces() {
  const size_t n = spec_.tokens.size();
  piece_offsets_.assign(n + 1, 0);
  std::string piece;
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = spec_.tokens[id];
    const auto type = static_cast<TokenType>(types_[id]);
    piece.clear();
    switch (type) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUnused:
      case TokenType::kUndefined:
        break;
      case TokenType::kByte: {
        const int b = ParseByteToken(text);
        if (b >= 0 && spec_.kind != VocabKind::kBpe) piece.push_back(static_cast<char>(b));
        break;
      }
      case TokenType::kUserDefined:
        if (spec_.kind == VocabKind::kCharBpe) {
          ReplaceAll(text, kSpaceEscape, " ", &piece);
        } else {
          piece = text;
        }
        break;
      case TokenType::kNormal:
        if (spec_.kind == VocabKind::kBpe) {
          size_t pos = 0;
          while (pos < text.size()) {
            const size_t at = pos;
            uint32_t cp = 0;
            if (!unicode::DecodeOne(text, &pos, &cp)) {
              piece.push_back(text[at]);
              pos = at + 1;
              continue;
            }
            const int b = unicode::CodepointToByte(cp);
            if (b >= 0) {
              piece.push_back(static_cast<char>(b));
            } else {
              piece.append(text, at, pos - at);
            }
          }
        } else {
          ReplaceAll(text, kSpaceEscape, " ", &piece);
        }
        break;
    }
    piece_data_ += piece;
    if (piece_data_.size() > UINT32_MAX) return InvalidArgument("vocabulary text too large");
    piece_offsets_[id + 1] = static_cast<uint32_t>(piece_data_.size());
  }
  return Status::Ok();
}

void TokenizerImpl::InitEog() {
  eog_.assign(spec_.tokens.size(), 0);
  auto mark = [&](int32_t id) {
    if (id >= 0 && id < n_vocab()) eog_[static_cast<size_t>(id)] = 1;
  };
  mark(spec_.eos_id);
  mark(spec_.eot_id);
  mark(spec_.eom_id);
  for (int32_t id : spec_.eog_ids) mark(id);
  for (const char* text : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                           "<|eom_id|>", "<EOT>"}) {
    mark(index_.Find(text));
  }
}

void TokenizerImpl::SplitLlamaCpp(std::string_view text, bool parse_special,
                                  std::vector<Fragment>* frags) const {
  frags->clear();
  if (text.empty()) return;
  frags->push_back({false, -1, 0, text.size()});
  if (added_.empty()) return;
  // Only tokens that occur somewhere in the text can split it.
  std::vector<uint8_t> occurs(added_.size(), 0);
  raw_trie_.ForEachOccurrence(text, [&](int32_t i) { occurs[static_cast<size_t>(i)] = 1; });
  std::vector<Fragment> next;
  for (int32_t idx : llama_order_) {
    if (!occurs[static_cast<size_t>(idx)]) continue;
    const AddedToken& tok = added_[static_cast<size_t>(idx)];
    if (!Eligible(tok, parse_special)) continue;
    const std::string& content = tok.content;
    next.clear();
    for (const Fragment& f : *frags) {
      if (f.is_token) {
        next.push_back(f);
        continue;
      }
      size_t base = f.begin;
      const size_t end = f.end;
      for (;;) {
        const size_t m = text.find(content, base);
        if (m == std::string_view::npos || m + content.size() > end) break;
        size_t left_end = m;
        if (tok.lstrip) {
          while (left_end > base && IsAsciiSpace(text[left_end - 1])) --left_end;
        }
        if (left_end > base) next.push_back({false, -1, base, left_end});
        next.push_back({true, tok.id, 0, 0});
        base = m + content.size();
        if (tok.rstrip) {
          while (base < end && IsAsciiSpace(text[base])) ++base;
        }
      }
      if (base < end) next.push_back({false, -1, base, end});
    }
    frags->swap(next);
  }
}

void TokenizerImpl::SplitHf(std::string_view text, size_t offset, const Trie& trie,
                            bool parse_special, std::vector<Fragment>* frags) const {
  size_t prev = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 0;
    const int32_t idx = trie.Longest(text, pos, &len);
    if (idx < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = added_[static_cast<size_t>(idx)];
    size_t start = pos, stop = pos + len;
    bool ok = Eligible(tok, parse_special);
    if (ok && tok.single_word) {
      // The character before `at`, if any.
      auto char_before = [&](size_t at, uint32_t* cp) {
        if (at == 0) return false;
        size_t b = at - 1;
        while (b > 0 && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80) --b;
        return unicode::DecodeOne(text, &b, cp);
      };
      uint32_t cp = 0;
      const bool start_space = !char_before(start, &cp) || !IsAlnumChar(cp);
      size_t p = stop;
      const bool stop_space =
          stop == text.size() || !unicode::DecodeOne(text, &p, &cp) || !IsAlnumChar(cp);
      ok = start_space && stop_space;
    }
    if (!ok) {  // skipped match: its bytes stay text
      pos = stop;
      continue;
    }
    if (tok.lstrip) {
      // Move start left over whitespace, not past the previous match.
      size_t s = start;
      while (s > prev) {
        size_t b = s - 1;
        while (b > prev && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80) --b;
        size_t p = b;
        uint32_t cp = 0;
        if (!unicode::DecodeOne(text, &p, &cp) || !unicode::IsWhitespace(cp)) break;
        s = b;
      }
      start = s;
    }
    if (tok.rstrip) {
      size_t p = stop;
      while (p < text.size()) {
        size_t q = p;
        uint32_t cp = 0;
        if (!unicode::DecodeOne(text, &q, &cp) || !unicode::IsWhitespace(cp)) break;
        p = q;
      }
      stop = p;
    }
    if (start > prev) frags->push_back({false, -1, offset + prev, offset + start});
    frags->push_back({true, tok.id, 0, 0});
    prev = stop;
    pos = stop;
  }
  if (prev < text.size()) frags->push_back({false, -1, offset + prev, offset + text.size()});
}

void TokenizerImpl::EncodePiece(std::string_view piece, std::vector<int32_t>* ids,
                                ModelScratch* ms) const {
  std::vector<int32_t> syms;
  if (spec_.kind == VocabKind::kBpe) {
    if (spec_.ignore_merges) {
      std::string mapped;
      for (char c : piece) {
        unicode::AppendUtf8(unicode::ByteToCodepoint(static_cast<uint8_t>(c)), &mapped);
      }
      const int32_t whole = index_.Find(mapped);
      if (whole >= 0) {
        ids->push_back(whole);
        return;
      }
    }
    syms.reserve(piece.size());
    for (char c : piece) {
      // A byte the vocabulary has no symbol for is dropped (llama.cpp; Hugging Face too when
      // the model has no unk_token, as byte-level models do).
      const int32_t id = byte_char_ids_[static_cast<uint8_t>(c)];
      if (id >= 0) syms.push_back(id);
    }
  } else {  // kCharBpe
    if (spec_.ignore_merges) {
      const int32_t whole = index_.Find(piece);
      if (whole >= 0) {
        ids->push_back(whole);
        return;
      }
    }
    size_t pos = 0;
    bool prev_unk = false;
    while (pos < piece.size()) {
      const size_t at = pos;
      const size_t len = std::min(unicode::Utf8SeqLen(static_cast<uint8_t>(piece[at])),
                                  piece.size() - at);
      pos = at + len;
      const int32_t id = index_.Find(piece.substr(at, len));
      if (id >= 0) {
        syms.push_back(id);
        prev_unk = false;
        continue;
      }
      if (spec_.byte_fallback) {
        bool all = true;
        for (size_t k = at; k < pos; ++k) all = all && byte_ids_[static_cast<uint8_t>(piece[k])] >= 0;
        if (all) {
          for (size_t k = at; k < pos; ++k) syms.push_back(byte_ids_[static_cast<uint8_t>(piece[k])]);
          prev_unk = false;
          continue;
        }
      }
      if (spec_.unk_id >= 0) {
        if (!(spec_.fuse_unk && prev_unk)) syms.push_back(spec_.unk_id);
        prev_unk = true;
      }
    }
  }
  BpeMerge(merges_, &syms, ms);
  ids->insert(ids->end(), syms.begin(), syms.end());
}

Status TokenizerImpl::EncodeText(std::string_view text, bool first, const EncodeOptions& options,
                                 std::vector<int32_t>* ids, Workspace* ws,
                                 ModelScratch* ms) const {
  if (ondo_splitter_ != nullptr) {
    std::vector<Fragment> subs;
    if (!norm_trie_.empty()) {
      SplitHf(text, 0, norm_trie_, options.parse_special, &subs);
    } else if (!text.empty()) {
      subs.push_back({false, -1, 0, text.size()});
    }
    for (const Fragment& f : subs) {
      if (f.is_token) {
        ids->push_back(f.id);
      } else {
        ONDO_RETURN_IF_ERROR(EncodeOndo(text.substr(f.begin, f.end - f.begin), ids, ms));
      }
    }
    return Status::Ok();
  }
  std::string normalized;
  if (!normalizer_->empty()) {
    ONDO_RETURN_IF_ERROR(normalizer_->Run(text, &normalized, ws));
    text = normalized;
  }
  std::vector<Fragment> subs;
  if (!norm_trie_.empty()) {
    SplitHf(text, 0, norm_trie_, options.parse_special, &subs);
  } else if (!text.empty()) {
    subs.push_back({false, -1, 0, text.size()});
  }
  std::vector<std::string> pieces;
  for (const Fragment& f : subs) {
    if (f.is_token) {
      ids->push_back(f.id);
      continue;
    }
    pieces.clear();
    ONDO_RETURN_IF_ERROR(
        pre_->Run(text.substr(f.begin, f.end - f.begin), first && f.begin == 0, &pieces, ws));
    for (const std::string& p : pieces) EncodePiece(p, ids, ms);
  }
  return Status::Ok();
}

Status TokenizerImpl::Encode(std::string_view text, const EncodeOptions& options,
                             std::vector<int32_t>* ids) const {
  if (text.size() > kMaxTextBytes) return InvalidArgument("text too long: {} bytes", text.size());
  const size_t bad = unicode::FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    return InvalidArgument("text is not valid UTF-8 (byte offset {})", bad);
  }
  Workspace ws;
  ws.budget = kBaseRegexBudget + kRegexBudgetPerByte * static_cast<int64_t>(text.size());
  // Normalizers and pre-tokenizers may grow text (▁ is 3 bytes), never by orders of magnitude.
  ws.max_bytes = 64 * text.size() + 4096;
  ModelScratch ms;
  std::vector<Fragment> frags;
  if (spec_.hf_added_tokens) {
    if (!text.empty()) SplitHf(text, 0, raw_trie_, options.parse_special, &frags);
  } else {
    SplitLlamaCpp(text, options.parse_special, &frags);
  }
  const size_t start_size = ids->size();
  if (options.add_special && spec_.add_bos) ids->push_back(spec_.bos_id);
  bool prev_special = true;  // SPM: a space prefix goes at the start and after special tokens
  std::string escaped;
  for (const Fragment& f : frags) {
    if (f.is_token) {
      ids->push_back(f.id);
      prev_special = true;
      continue;
    }
    const std::string_view part = text.substr(f.begin, f.end - f.begin);
    if (spec_.kind == VocabKind::kSpm) {
      std::string normalized;
      std::string_view src = part;
      if (!normalizer_->empty()) {
        Status st = normalizer_->Run(part, &normalized, &ws);
        if (!st.ok()) {
          ids->resize(start_size);
          return st;
        }
        src = normalized;
      }
      escaped.clear();
      if (spec_.add_space_prefix && prev_special) escaped = kSpaceEscape;
      ReplaceAll(src, " ", kSpaceEscape, &escaped);
      SpmEncode(escaped, index_, scores_, byte_ids_, spec_.unk_id, ids, &ms);
    } else {
      Status st = EncodeText(part, f.begin == 0, options, ids, &ws, &ms);
      if (!st.ok()) {
        ids->resize(start_size);
        return st;
      }
    }
    prev_special = false;
  }
  if (options.add_special && spec_.add_eos) ids->push_back(spec_.eos_id);
  return Status::Ok();
}

}  // namespace

Status Tokenizer::Create(VocabSpec spec, std::unique_ptr<Tokenizer>* out) {
  auto impl = std::make_unique<TokenizerImpl>(std::move(spec));
  ONDO_RETURN_IF_ERROR(impl->Init());
  *out = std::move(impl);
  return Status::Ok();
}

void Tokenizer::Decode(const int32_t* ids, size_t n_ids, bool strip_leading_space,
                       std::string* out) const {
  bool strip = strip_leading_space;
  for (size_t i = 0; i < n_ids; ++i) {
    if (ids[i] < 0 || ids[i] >= n_vocab()) continue;
    std::string_view p = Piece(ids[i]);
    if (p.empty()) continue;
    if (strip && p[0] == ' ') p.remove_prefix(1);
    strip = false;
    out->append(p);
  }
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool strip_leading_space) const {
  std::string out;
  Decode(ids.data(), ids.size(), strip_leading_space, &out);
  return out;
}

// --- StreamDecoder -------------------------------------------------------------------------

namespace {

constexpr char kReplacement[] = "\xef\xbf\xbd";  // U+FFFD

// Expected sequence length for a lead byte, 0 if it cannot start a sequence.
int LeadLength(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether b may follow `lead` as the second byte (excludes overlongs and surrogates).
bool ValidSecond(uint8_t lead, uint8_t b) {
  if ((b & 0xC0) != 0x80) return false;
  switch (lead) {
    case 0xE0: return b >= 0xA0;
    case 0xED: return b <= 0x9F;
    case 0xF0: return b >= 0x90;
    case 0xF4: return b <= 0x8F;
    default: return true;
  }
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool strip_leading_space)
    : tok_(tok), strip_leading_space_(strip_leading_space) {}

void StreamDecoder::Push(int32_t id, std::string* out) {
  if (id < 0 || id >= tok_.n_vocab()) return;
  std::string_view piece = tok_.Piece(id);
  if (piece.empty()) return;
  if (at_start_) {
    at_start_ = false;
    if (strip_leading_space_ && piece[0] == ' ') piece.remove_prefix(1);
  }
  for (char ch : piece) {
    const uint8_t b = static_cast<uint8_t>(ch);
    for (;;) {
      if (n_pending_ == 0) {
        const int len = LeadLength(b);
        if (len == 1) {
          out->push_back(ch);
        } else if (len == 0) {
          out->append(kReplacement);
        } else {
          pending_[0] = ch;
          n_pending_ = 1;
        }
        break;
      }
      const uint8_t lead = static_cast<uint8_t>(pending_[0]);
      const bool ok = n_pending_ == 1 ? ValidSecond(lead, b) : (b & 0xC0) == 0x80;
      if (!ok) {
        // The pending prefix is an ill-formed subsequence: one U+FFFD, then retry b.
        out->append(kReplacement);
        n_pending_ = 0;
        continue;
      }
      pending_[n_pending_++] = ch;
      if (n_pending_ == LeadLength(lead)) {
        out->append(pending_, static_cast<size_t>(n_pending_));
        n_pending_ = 0;
      }
      break;
    }
  }
}

void StreamDecoder::Flush(std::string* out) {
  if (n_pending_ > 0) out->append(kReplacement);
  n_pending_ = 0;
}

void StreamDecoder::Reset() {
  at_start_ = true;
  n_pending_ = 0;
}

}  // namespace ondo::tokenizer
