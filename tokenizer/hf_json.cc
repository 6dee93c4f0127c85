// Hugging Face tokenizer.json (+ tokenizer_config.json) -> VocabSpec. Uses nlohmann::json
// without exceptions: every field is type-checked before use; anything not understood is an
// Unsupported error rather than a silently different tokenizer.
#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/mapped_file.h"
#include "tokenizer/model.h"
#include "tokenizer/morph_pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace ondo::tokenizer {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxVocab = 1 << 24;

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

bool BoolField(const json& obj, const char* key, bool def) {
  const json* v = Field(obj, key);
  return v && v->is_boolean() ? v->get<bool>() : def;
}

// A string field, or "" when absent / not a string.
std::string StringField(const json& obj, const char* key) {
  const json* v = Field(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// tokenizer_config.json token fields: "text" or {"content": "text", ...}.
std::string TokenField(const json& obj, const char* key) {
  const json* v = Field(obj, key);
  if (!v) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) return StringField(*v, "content");
  return {};
}

// Streams tokenizer.json: model.vocab and model.merges (hundreds of thousands of entries in
// Gemma's 33 MB file) go straight into flat vectors; the rest becomes a small DOM. Several
// times faster and far smaller than a full nlohmann DOM.
class HfJsonSax : public nlohmann::json_sax<json> {
 public:
  json root;
  bool vocab_seen = false, merges_seen = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::string> merge_left, merge_right;
  std::string error;

  bool null() override { return Value(json(nullptr)); }
  bool boolean(bool v) override { return Value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) {
      vocab.emplace_back(std::move(vocab_key_), v);
      return true;
    }
    return Value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) {
      vocab.emplace_back(std::move(vocab_key_), v > static_cast<number_unsigned_t>(INT64_MAX)
                                                    ? INT64_MAX
                                                    : static_cast<int64_t>(v));
      return true;
    }
    return Value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return Value(json(v)); }
  bool string(string_t& v) override {
    switch (mode_) {
      case Mode::kMerges: {
        const size_t sp = v.find(' ');
        if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos) {
          merge_left.emplace_back();  // placeholder: keeps ranks aligned
          merge_right.emplace_back();
        } else {
          merge_left.emplace_back(v, 0, sp);
          merge_right.emplace_back(v, sp + 1);
        }
        return true;
      }
      case Mode::kMergePair:
        if (pair_.size() >= 2) return Fail("merge pair with more than two parts");
        pair_.push_back(std::move(v));
        return true;
      default:
        return Value(json(std::move(v)));
    }
  }
  bool binary(binary_t&) override { return Fail("binary value"); }
  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return Fail("unexpected object in vocab/merges");
    if (InModel() && last_key_ == "vocab" && !vocab_seen) {
      mode_ = Mode::kVocab;
      vocab_seen = true;
      return true;
    }
    json* v = Value(json::value_t::object);
    if (v == nullptr) return false;
    if (stack_.size() == 1 && stack_[0] == &root && last_key_ == "model") model_ = v;
    stack_.push_back(v);
    return true;
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    last_key_ = k;
    object_element_ = &(*stack_.back())[k];
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kDom) return Fail("unexpected array in vocab/merges");
    if (InModel() && last_key_ == "merges" && !merges_seen) {
      mode_ = Mode::kMerges;
      merges_seen = true;
      return true;
    }
    json* v = Value(json::value_t::array);
    if (v == nullptr) return false;
    stack_.push_back(v);
    return true;
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_.size() != 2) return Fail("merge pair without two parts");
      merge_left.push_back(std::move(pair_[0]));
      merge_right.push_back(std::move(pair_[1]));
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    if (error.empty()) error = "JSON syntax error at byte " + std::to_string(position);
    return false;
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  bool Fail(const char* what) {
    if (error.empty()) error = what;
    return false;
  }
  bool InModel() const { return model_ != nullptr && !stack_.empty() && stack_.back() == model_; }
  bool Value(json&& v) { return Value(std::move(v), 0) != nullptr; }
  json* Value(json&& v, int) {
    if (mode_ == Mode::kVocab) {
      Fail("vocab value is not an integer");
      return nullptr;
    }
    if (mode_ == Mode::kMerges || mode_ == Mode::kMergePair) {
      Fail("bad merge entry");
      return nullptr;
    }
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    *object_element_ = std::move(v);
    return object_element_;
  }
  json* Value(json::value_t t) { return Value(json(t), 0); }

  Mode mode_ = Mode::kDom;
  std::vector<json*> stack_;
  json* object_element_ = nullptr;
  json* model_ = nullptr;
  std::string last_key_;
  std::string vocab_key_;
  std::vector<std::string> pair_;
};

Status ParsePattern(const json& step, const char* what, std::string* pattern, bool* is_regex) {
  const json* p = Field(step, "pattern");
  if (!p || !p->is_object()) return Unsupported("tokenizer.json: {} without a pattern", what);
  if (const json* s = Field(*p, "String"); s && s->is_string()) {
    *pattern = s->get<std::string>();
    *is_regex = false;
    return Status::Ok();
  }
  if (const json* r = Field(*p, "Regex"); r && r->is_string()) {
    *pattern = r->get<std::string>();
    *is_regex = true;
    return Status::Ok();
  }
  return Unsupported("tokenizer.json: {} pattern is neither String nor Regex", what);
}

Status ParseBehavior(const json& step, SplitBehavior def, SplitBehavior* out) {
  const json* b = Field(step, "behavior");
  if (!b) {
    *out = def;
    return Status::Ok();
  }
  const std::string s = b->is_string() ? b->get<std::string>() : std::string();
  if (s == "Isolated") {
    *out = SplitBehavior::kIsolated;
  } else if (s == "Removed") {
    *out = SplitBehavior::kRemoved;
  } else if (s == "MergedWithPrevious") {
    *out = SplitBehavior::kMergedWithPrevious;
  } else if (s == "MergedWithNext") {
    *out = SplitBehavior::kMergedWithNext;
  } else if (s == "Contiguous") {
    *out = SplitBehavior::kContiguous;
  } else {
    return Unsupported("tokenizer.json: unknown split behavior '{}'", s);
  }
  return Status::Ok();
}

Status ParseNormalizer(const json& n, int depth, std::vector<NormalizerStep>* steps) {
  if (n.is_null()) return Status::Ok();
  if (depth > 16) return Unsupported("tokenizer.json: normalizers nested too deeply");
  const std::string type = StringField(n, "type");
  NormalizerStep step;
  if (type == "Sequence") {
    const json* list = Field(n, "normalizers");
    if (!list || !list->is_array()) return Corrupt("tokenizer.json: Sequence without normalizers");
    for (const json& sub : *list) ONDO_RETURN_IF_ERROR(ParseNormalizer(sub, depth + 1, steps));
    return Status::Ok();
  }
  if (type == "NFC") {
    step.kind = NormalizerStep::Kind::kNfc;
  } else if (type == "NFD") {
    step.kind = NormalizerStep::Kind::kNfd;
  } else if (type == "Replace") {
    step.kind = NormalizerStep::Kind::kReplace;
    ONDO_RETURN_IF_ERROR(ParsePattern(n, "Replace", &step.pattern, &step.pattern_is_regex));
    step.content = StringField(n, "content");
  } else if (type == "Prepend") {
    step.kind = NormalizerStep::Kind::kPrepend;
    step.content = StringField(n, "prepend");
  } else if (type == "Strip") {
    step.kind = NormalizerStep::Kind::kStrip;
    step.strip_left = BoolField(n, "strip_left", true);
    step.strip_right = BoolField(n, "strip_right", true);
  } else if (type == "Precompiled") {
    // An empty charsmap is the identity; anything else needs SentencePiece's normalizer.
    const json* map = Field(n, "precompiled_charsmap");
    if (!map || (map->is_string() && map->get_ref<const std::string&>().empty())) {
      return Status::Ok();
    }
    return Unsupported("tokenizer.json: Precompiled normalizer");
  } else {
    return Unsupported("tokenizer.json: normalizer '{}'", type);
  }
  steps->push_back(std::move(step));
  return Status::Ok();
}

Status ParsePreTokenizer(const json& p, int depth, std::vector<PreTokenizerStep>* steps,
                         bool* byte_level) {
  if (p.is_null()) return Status::Ok();
  if (depth > 16) return Unsupported("tokenizer.json: pre-tokenizers nested too deeply");
  const std::string type = StringField(p, "type");
  using Kind = PreTokenizerStep::Kind;
  PreTokenizerStep step;
  if (type == "Sequence") {
    const json* list = Field(p, "pretokenizers");
    if (!list || !list->is_array()) return Corrupt("tokenizer.json: Sequence without pretokenizers");
    for (const json& sub : *list) {
      ONDO_RETURN_IF_ERROR(ParsePreTokenizer(sub, depth + 1, steps, byte_level));
    }
    return Status::Ok();
  }
  if (type == "Split") {
    step.kind = Kind::kSplit;
    ONDO_RETURN_IF_ERROR(ParsePattern(p, "Split", &step.pattern, &step.pattern_is_regex));
    ONDO_RETURN_IF_ERROR(ParseBehavior(p, SplitBehavior::kIsolated, &step.behavior));
    step.invert = BoolField(p, "invert", false);
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    step.add_prefix_space = BoolField(p, "add_prefix_space", true);
    step.use_regex = BoolField(p, "use_regex", true);
    *byte_level = true;
  } else if (type == "Digits") {
    step.kind = Kind::kDigits;
    step.individual_digits = BoolField(p, "individual_digits", false);
  } else if (type == "Punctuation") {
    step.kind = Kind::kPunctuation;
    ONDO_RETURN_IF_ERROR(ParseBehavior(p, SplitBehavior::kIsolated, &step.behavior));
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    const json* rep = Field(p, "replacement");
    if (rep && rep->is_string()) step.replacement = rep->get<std::string>();
    const std::string scheme = StringField(p, "prepend_scheme");
    if (scheme == "first") {
      step.prepend_scheme = PreTokenizerStep::PrependScheme::kFirst;
    } else if (scheme == "never") {
      step.prepend_scheme = PreTokenizerStep::PrependScheme::kNever;
    } else if (scheme == "always") {
      step.prepend_scheme = PreTokenizerStep::PrependScheme::kAlways;
    } else {
      step.prepend_scheme = BoolField(p, "add_prefix_space", true)
                                ? PreTokenizerStep::PrependScheme::kAlways
                                : PreTokenizerStep::PrependScheme::kNever;
    }
    step.split = BoolField(p, "split", true);
  } else if (type == "Whitespace") {
    step.kind = Kind::kWhitespace;
  } else if (type == "WhitespaceSplit") {
    step.kind = Kind::kWhitespaceSplit;
  } else if (type == "CharDelimiterSplit") {
    step.kind = Kind::kSplit;
    step.pattern = StringField(p, "delimiter");
    step.pattern_is_regex = false;
    step.behavior = SplitBehavior::kRemoved;
  } else {
    return Unsupported("tokenizer.json: pre-tokenizer '{}'", type);
  }
  steps->push_back(std::move(step));
  return Status::Ok();
}

bool DecoderIsByteLevel(const json& d, int depth) {
  if (depth > 16 || !d.is_object()) return false;
  const std::string type = StringField(d, "type");
  if (type == "ByteLevel") return true;
  if (type == "Sequence") {
    const json* list = Field(d, "decoders");
    if (list && list->is_array()) {
      for (const json& sub : *list) {
        if (DecoderIsByteLevel(sub, depth + 1)) return true;
      }
    }
  }
  return false;
}

// TemplateProcessing "single": a leading special token is BOS, a trailing one EOS.
void ParsePostProcessor(const json& p, int depth, const TokenIndex& index, VocabSpec* spec) {
  if (depth > 16 || !p.is_object()) return;
  const std::string type = StringField(p, "type");
  if (type == "Sequence") {
    const json* list = Field(p, "processors");
    if (list && list->is_array()) {
      for (const json& sub : *list) ParsePostProcessor(sub, depth + 1, index, spec);
    }
    return;
  }
  if (type != "TemplateProcessing") return;
  const json* single = Field(p, "single");
  if (!single || !single->is_array() || single->empty()) return;
  auto special_id = [&](const json& item) -> int32_t {
    const json* st = Field(item, "SpecialToken");
    if (!st) return -2;  // not a special token item
    const std::string name = StringField(*st, "id");
    if (const json* specials = Field(p, "special_tokens")) {
      if (const json* entry = Field(*specials, name.c_str())) {
        if (const json* ids = Field(*entry, "ids"); ids && ids->is_array() && ids->size() == 1 &&
                                                    (*ids)[0].is_number_integer()) {
          const int64_t id = (*ids)[0].get<int64_t>();
          if (id >= 0 && id < static_cast<int64_t>(spec->tokens.size())) {
            return static_cast<int32_t>(id);
          }
        }
      }
    }
    return index.Find(name);
  };
  const int32_t first = special_id(single->front());
  if (first >= 0) {
    spec->add_bos = true;
    spec->bos_id = first;
  }
  if (single->size() > 1) {
    const int32_t last = special_id(single->back());
    if (last >= 0) {
      spec->add_eos = true;
      spec->eos_id = last;
    }
  }
}

}  // namespace

Status VocabSpecFromHfJson(std::string_view tokenizer_json, std::string_view config_json,
                           VocabSpec* out) {
  HfJsonSax sax;
  if (!json::sax_parse(tokenizer_json.begin(), tokenizer_json.end(), &sax)) {
    return Corrupt("tokenizer.json: {}", sax.error.empty() ? "parse error" : sax.error);
  }
  const json& root = sax.root;
  if (!root.is_object()) return Corrupt("tokenizer.json: not a JSON object");
  const json* model = Field(root, "model");
  if (!model || !model->is_object()) return Corrupt("tokenizer.json: no model");
  const std::string model_type = StringField(*model, "type");
  if (!model_type.empty() && model_type != "BPE") {
    return Unsupported("tokenizer.json: model type '{}' (only BPE)", model_type);
  }
  if (!sax.vocab_seen) return Corrupt("tokenizer.json: model.vocab is not an object");
  if (!StringField(*model, "continuing_subword_prefix").empty() ||
      !StringField(*model, "end_of_word_suffix").empty()) {
    return Unsupported("tokenizer.json: BPE subword prefix/suffix");
  }

  VocabSpec spec;
  spec.pre = "none";
  spec.add_space_prefix = false;
  spec.hf_added_tokens = true;

  // Size the vocabulary from the largest id, refusing sparse ids that would over-allocate.
  const json* added = Field(root, "added_tokens");
  if (added && !added->is_array()) return Corrupt("tokenizer.json: added_tokens is not an array");
  int64_t max_id = -1;
  for (const auto& [text, id] : sax.vocab) {
    if (id < 0 || id >= kMaxVocab) return Corrupt("tokenizer.json: vocab id {} out of range", id);
    max_id = std::max(max_id, id);
  }
  size_t n_added = 0;
  if (added) {
    for (const json& a : *added) {
      const json* id = Field(a, "id");
      const json* content = Field(a, "content");
      if (!id || !id->is_number_integer() || !content || !content->is_string()) {
        return Corrupt("tokenizer.json: bad added token");
      }
      const int64_t v = id->get<int64_t>();
      if (v < 0 || v >= kMaxVocab) return Corrupt("tokenizer.json: added token id {} out of range", v);
      max_id = std::max(max_id, v);
      ++n_added;
    }
  }
  const int64_t n = max_id + 1;
  if (n <= 0) return Corrupt("tokenizer.json: empty vocabulary");
  if (n > 2 * static_cast<int64_t>(sax.vocab.size() + n_added) + 256) {
    return Corrupt("tokenizer.json: vocabulary ids are too sparse ({} ids for {} entries)", n,
                   sax.vocab.size() + n_added);
  }
  spec.tokens.assign(static_cast<size_t>(n), std::string());
  std::vector<uint8_t> present(static_cast<size_t>(n), 0);
  for (auto& [text, id] : sax.vocab) {
    spec.tokens[static_cast<size_t>(id)] = std::move(text);
    present[static_cast<size_t>(id)] = 1;
  }
  sax.vocab = {};
  spec.token_types.assign(static_cast<size_t>(n), static_cast<int32_t>(TokenType::kNormal));
  if (added) {
    for (const json& a : *added) {
      AddedToken t;
      t.id = static_cast<int32_t>(Field(a, "id")->get<int64_t>());
      t.content = Field(a, "content")->get<std::string>();
      t.special = BoolField(a, "special", false);
      t.lstrip = BoolField(a, "lstrip", false);
      t.rstrip = BoolField(a, "rstrip", false);
      t.normalized = BoolField(a, "normalized", !t.special);
      t.single_word = BoolField(a, "single_word", false);
      spec.tokens[static_cast<size_t>(t.id)] = t.content;
      present[static_cast<size_t>(t.id)] = 1;
      spec.token_types[static_cast<size_t>(t.id)] =
          static_cast<int32_t>(t.special ? TokenType::kControl : TokenType::kUserDefined);
      spec.added_tokens.push_back(std::move(t));
    }
  }
  for (size_t i = 0; i < present.size(); ++i) {
    if (!present[i]) {
      spec.tokens[i] = "[PAD" + std::to_string(i) + "]";
      spec.token_types[i] = static_cast<int32_t>(TokenType::kUnused);
    }
  }

  TokenIndex index;
  index.Build(&spec.tokens);

  spec.byte_fallback = BoolField(*model, "byte_fallback", false);
  spec.fuse_unk = BoolField(*model, "fuse_unk", false);
  spec.ignore_merges = BoolField(*model, "ignore_merges", false);
  const std::string unk = StringField(*model, "unk_token");
  if (!unk.empty()) {
    spec.unk_id = index.Find(unk);
    if (spec.unk_id >= 0 && spec.token_types[static_cast<size_t>(spec.unk_id)] ==
                                static_cast<int32_t>(TokenType::kNormal)) {
      spec.token_types[static_cast<size_t>(spec.unk_id)] = static_cast<int32_t>(TokenType::kUnknown);
    }
  }

  spec.merge_ids.reserve(sax.merge_left.size());
  for (size_t r = 0; r < sax.merge_left.size(); ++r) {
    // Unknown parts keep their rank slot (-1) so ranks stay the file's indices.
    spec.merge_ids.emplace_back(index.Find(sax.merge_left[r]), index.Find(sax.merge_right[r]));
  }
  sax.merge_left = {};
  sax.merge_right = {};

  if (const json* norm = Field(root, "normalizer")) {
    ONDO_RETURN_IF_ERROR(ParseNormalizer(*norm, 0, &spec.normalizers));
  }
  bool byte_level = false;
  if (const json* pre = Field(root, "pre_tokenizer")) {
    ONDO_RETURN_IF_ERROR(ParsePreTokenizer(*pre, 0, &spec.pre_tokenizers, &byte_level));
  }
  if (const json* dec = Field(root, "decoder")) byte_level = byte_level || DecoderIsByteLevel(*dec, 0);
  // ondo's own pre-tokenizer (tokenizers trained by `ondo tokenizer train`; Hugging Face
  // ignores the key and uses pre_tokenizer above).
  if (const json* ondo = Field(root, "ondo")) {
    if (!ondo->is_object()) return Corrupt("tokenizer.json: \"ondo\" is not an object");
    const json* version = Field(*ondo, "version");
    if (!version || !version->is_number_integer() || version->get<int64_t>() != 1) {
      return Unsupported("tokenizer.json: \"ondo\" section version (only 1)");
    }
    spec.ondo_pre_tokenizer = StringField(*ondo, "pre_tokenizer");
    OndoPreTokenizer kind = OndoPreTokenizer::kNone;
    ONDO_RETURN_IF_ERROR(ParseOndoPreTokenizer(spec.ondo_pre_tokenizer, &kind));
  }
  spec.kind = byte_level ? VocabKind::kBpe : VocabKind::kCharBpe;
  if (spec.byte_fallback && spec.kind == VocabKind::kCharBpe) {
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      const std::string& t = spec.tokens[i];
      if (spec.token_types[i] == static_cast<int32_t>(TokenType::kNormal) && t.size() == 6 &&
          t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        spec.token_types[i] = static_cast<int32_t>(TokenType::kByte);
      }
    }
  }
  if (const json* post = Field(root, "post_processor")) ParsePostProcessor(*post, 0, index, &spec);
  const int32_t template_eos = spec.eos_id;

  if (!config_json.empty()) {
    const json cfg = json::parse(config_json.begin(), config_json.end(), nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object()) {
      return Corrupt("tokenizer_config.json: not a JSON object");
    }
    auto find = [&](const char* key) {
      const std::string t = TokenField(cfg, key);
      return t.empty() ? -1 : index.Find(t);
    };
    if (int32_t id = find("bos_token"); id >= 0) spec.bos_id = id;
    if (int32_t id = find("eos_token"); id >= 0) spec.eos_id = id;
    if (int32_t id = find("unk_token"); id >= 0) spec.unk_id = id;
    if (int32_t id = find("pad_token"); id >= 0) spec.pad_id = id;
    if (const json* v = Field(cfg, "add_bos_token"); v && v->is_boolean()) spec.add_bos = v->get<bool>();
    if (const json* v = Field(cfg, "add_eos_token"); v && v->is_boolean()) spec.add_eos = v->get<bool>();
  }
  if (template_eos >= 0 && template_eos != spec.eos_id) spec.eog_ids.push_back(template_eos);
  if (spec.add_bos && spec.bos_id < 0) spec.add_bos = false;
  if (spec.add_eos && spec.eos_id < 0) spec.add_eos = false;
  *out = std::move(spec);
  return Status::Ok();
}

Status Tokenizer::FromHfJsonText(std::string_view json_text, std::string_view config_json,
                                 std::unique_ptr<Tokenizer>* out) {
  VocabSpec spec;
  ONDO_RETURN_IF_ERROR(VocabSpecFromHfJson(json_text, config_json, &spec));
  return Create(std::move(spec), out);
}

Status Tokenizer::FromHfJsonText(std::string_view json_text, std::unique_ptr<Tokenizer>* out) {
  return FromHfJsonText(json_text, std::string_view(), out);
}

Status Tokenizer::FromHfJsonFile(const std::string& path, std::unique_ptr<Tokenizer>* out) {
  std::unique_ptr<platform::MappedFile> file;
  ONDO_RETURN_IF_ERROR(platform::MappedFile::Open(path, &file));
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  // tokenizer_config.json beside it, when present.
  std::unique_ptr<platform::MappedFile> config;
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  std::string_view config_text;
  if (platform::MappedFile::Open(dir + "tokenizer_config.json", &config).ok()) {
    config_text = std::string_view(reinterpret_cast<const char*>(config->data()), config->size());
  }
  return FromHfJsonText(text, config_text, out);
}

}  // namespace ondo::tokenizer
