// Hugging Face folder -> in-memory GgufFile, written from llama.cpp's convert_hf_to_gguf.py
// (LlamaModel, Qwen2Model, gguf-py's SpecialVocab) so that a folder and the GGUF llama.cpp
// makes of it load identically. The metadata is serialized as a GGUF v3 header with no data
// section and parsed back with GgufFile::ParseMetadata (one validated representation, every
// string_view into one owned buffer); each tensor is then bound to its safetensors mapping or
// to a converted copy. Safetensors layout: u64 header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data; offsets are relative to the data. Nothing read from the folder is trusted.
#include "runtime/hf_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <initializer_list>
#include <map>
#include <numbers>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "platform/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

// Builds the GgufFile (a friend: it fills the private parts, as OndoReader does).
class HfImporter {
 public:
  static Status Open(const std::string& folder, std::unique_ptr<GgufFile>* out);
};

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using tokenizer::TokenType;
using tokenizer::VocabKind;
using tokenizer::VocabSpec;

constexpr uint32_t kGgufMagicLe = 0x46554747;           // "GGUF"
constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;  // the format's own limit
constexpr int64_t kMaxDim = int64_t{1} << 40;

// ---- small helpers -----------------------------------------------------------------------

std::string_view AsText(const platform::MappedFile& f) {
  return std::string_view(reinterpret_cast<const char*>(f.data()), f.size());
}

// Parses a whole JSON file without exceptions. NotFound when the file is absent.
Status ReadJsonFile(const fs::path& path, json* out) {
  std::unique_ptr<platform::MappedFile> f;
  ONDO_RETURN_IF_ERROR(platform::MappedFile::Open(path.string(), &f));
  const std::string_view text = AsText(*f);
  *out = json::parse(text.begin(), text.end(), nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    return Corrupt("'{}' is not a JSON object", path.string());
  }
  return Status::Ok();
}

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// config.json integer in [lo, hi]; `def` when absent and not required.
Status ConfigInt(const json& cfg, const char* key, bool required, int64_t def, int64_t lo,
                 int64_t hi, int64_t* out) {
  const json* v = Field(cfg, key);
  if (v == nullptr) {
    if (required) return NotFound("config.json: '{}' is missing", key);
    *out = def;
    return Status::Ok();
  }
  if (!v->is_number_integer()) return Corrupt("config.json: '{}' is not an integer", key);
  const int64_t x = v->is_number_unsigned()
                        ? static_cast<int64_t>(std::min<uint64_t>(v->get<uint64_t>(), uint64_t{1} << 62))
                        : v->get<int64_t>();
  if (x < lo || x > hi) return Corrupt("config.json: '{}' = {} is out of range [{}, {}]", key, x, lo, hi);
  *out = x;
  return Status::Ok();
}

Status ConfigFloat(const json& cfg, const char* key, bool required, double def, double* out) {
  const json* v = Field(cfg, key);
  if (v == nullptr) {
    if (required) return NotFound("config.json: '{}' is missing", key);
    *out = def;
    return Status::Ok();
  }
  if (!v->is_number()) return Corrupt("config.json: '{}' is not a number", key);
  *out = v->get<double>();
  if (!std::isfinite(*out) || !(*out > 0.0)) return Corrupt("config.json: '{}' = {} must be positive", key, *out);
  return Status::Ok();
}

bool ConfigBool(const json& cfg, const char* key, bool def) {
  const json* v = Field(cfg, key);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : def;
}

// Little-endian GGUF metadata writer (header, key/values, tensor infos; no data section).
class MetaBuilder {
 public:
  void U32(std::string_view key, uint32_t v) { Key(key, GgufType::kU32); Put(v); }
  void F32(std::string_view key, float v) { Key(key, GgufType::kF32); Put(v); }
  void Bool(std::string_view key, bool v) { Key(key, GgufType::kBool); Put<uint8_t>(v ? 1 : 0); }
  void Str(std::string_view key, std::string_view v) { Key(key, GgufType::kString); PutStr(kv_, v); }
  void StrArray(std::string_view key, const std::vector<std::string>& v) {
    ArrayHeader(key, GgufType::kString, v.size());
    for (const std::string& s : v) PutStr(kv_, s);
  }
  void F32Array(std::string_view key, const std::vector<float>& v) {
    ArrayHeader(key, GgufType::kF32, v.size());
    for (float x : v) Put(x);
  }
  void I32Array(std::string_view key, const std::vector<int32_t>& v) {
    ArrayHeader(key, GgufType::kI32, v.size());
    for (int32_t x : v) Put(x);
  }
  // ne[0] is the contiguous dimension. Offsets are 0: the data is bound afterwards.
  void Tensor(std::string_view name, int n_dims, const int64_t* ne, kernels::DType type) {
    PutStr(ti_, name);
    PutRaw(ti_, static_cast<uint32_t>(n_dims));
    for (int d = 0; d < n_dims; ++d) PutRaw(ti_, static_cast<uint64_t>(ne[d]));
    PutRaw(ti_, static_cast<uint32_t>(type));
    PutRaw(ti_, uint64_t{0});
    ++n_tensors_;
  }
  std::vector<uint8_t> Finish() const {
    std::vector<uint8_t> out;
    PutRaw(out, kGgufMagicLe);
    PutRaw(out, uint32_t{3});
    PutRaw(out, n_tensors_);
    PutRaw(out, n_kv_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    out.insert(out.end(), ti_.begin(), ti_.end());
    return out;
  }

 private:
  template <typename T>
  static void PutRaw(std::vector<uint8_t>& b, T v) {
    uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    b.insert(b.end(), bytes, bytes + sizeof(T));
  }
  static void PutStr(std::vector<uint8_t>& b, std::string_view s) {
    PutRaw(b, static_cast<uint64_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  template <typename T>
  void Put(T v) { PutRaw(kv_, v); }
  void Key(std::string_view key, GgufType type) {
    PutStr(kv_, key);
    PutRaw(kv_, static_cast<uint32_t>(type));
    ++n_kv_;
  }
  void ArrayHeader(std::string_view key, GgufType elem, size_t n) {
    Key(key, GgufType::kArray);
    PutRaw(kv_, static_cast<uint32_t>(elem));
    PutRaw(kv_, static_cast<uint64_t>(n));
  }

  std::vector<uint8_t> kv_, ti_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
};

// ---- config.json ---------------------------------------------------------------------------

struct HParams {
  std::string arch;  // GGUF general.architecture
  int64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx = 0, n_vocab = 0;
  int64_t head_dim = 0;
  bool head_dim_given = false;
  double rope_theta = 10000.0, rms_eps = 0.0;
  double rope_linear_factor = 0.0;  // > 0: linear rope scaling
  // llama3 rope scaling (factor > 0): written as rope_freqs.weight, as convert_hf_to_gguf.py does.
  double llama3_factor = 0.0, llama3_low_freq_factor = 1.0, llama3_high_freq_factor = 4.0;
  double llama3_original_context = 8192.0;
  // YaRN (factor > 0): rope.scaling.type yarn, factor, original_context_length.
  double yarn_factor = 0.0;
  int64_t yarn_original_context = 0;
  bool tied = false;
};

// rope_scaling (or transformers 5's rope_parameters): none/default, linear, llama3 and yarn
// (with Hugging Face's default beta_fast 32, beta_slow 1 and attention factor, which are what
// llama.cpp applies) are modelled by ondo; dynamic, longrope, ... are refused.
Status ReadRopeScaling(const json& cfg, HParams* hp) {
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const json* rs = Field(cfg, key);
    if (rs == nullptr) continue;
    if (!rs->is_object()) return Corrupt("config.json: '{}' is not an object", key);
    std::string type;
    if (const json* t = Field(*rs, "rope_type"); t && t->is_string()) type = t->get<std::string>();
    if (const json* t = Field(*rs, "type"); type.empty() && t && t->is_string()) type = t->get<std::string>();
    if (std::string_view(key) == "rope_parameters") {
      if (const json* th = Field(*rs, "rope_theta"); th != nullptr) {
        if (!th->is_number() || !(th->get<double>() > 0.0)) return Corrupt("config.json: rope_parameters.rope_theta is not a positive number");
        hp->rope_theta = th->get<double>();
      }
    }
    if (type.empty() || type == "default") continue;
    if (type == "linear") {
      double factor = 0.0;
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "factor", true, 1.0, &factor));
      hp->rope_linear_factor = factor;
      continue;
    }
    // Only the fields ondo models; any other (attention_factor, mscale, truncate, ...) would
    // change the frequencies or magnitudes the converted file implies.
    auto only_known = [&](std::initializer_list<std::string_view> known) -> Status {
      for (auto it = rs->begin(); it != rs->end(); ++it) {
        const std::string& f = it.key();
        if (f == "type" || f == "rope_type" || f == "rope_theta") continue;
        if (std::find(known.begin(), known.end(), f) != known.end()) continue;
        if (f == "beta_fast" && it->is_number() && it->get<double>() == 32.0) continue;
        if (f == "beta_slow" && it->is_number() && it->get<double>() == 1.0) continue;
        if (it->is_null()) continue;
        return Unsupported("config.json: {}.{} is not supported with rope type '{}'", key, f, type);
      }
      return Status::Ok();
    };
    if (type == "llama3") {
      ONDO_RETURN_IF_ERROR(only_known({"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}));
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "factor", true, 1.0, &hp->llama3_factor));
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "low_freq_factor", false, 1.0, &hp->llama3_low_freq_factor));
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "high_freq_factor", false, 4.0, &hp->llama3_high_freq_factor));
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "original_max_position_embeddings", false, 8192.0, &hp->llama3_original_context));
      if (!(hp->llama3_high_freq_factor > hp->llama3_low_freq_factor)) {
        return Corrupt("config.json: {}.high_freq_factor must exceed low_freq_factor", key);
      }
      continue;
    }
    if (type == "yarn") {
      ONDO_RETURN_IF_ERROR(only_known({"factor", "original_max_position_embeddings"}));
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "factor", true, 1.0, &hp->yarn_factor));
      double orig = 0.0;
      ONDO_RETURN_IF_ERROR(ConfigFloat(*rs, "original_max_position_embeddings", false, 0.0, &orig));
      if (orig > 1e9) return Corrupt("config.json: {}.original_max_position_embeddings {} is out of range", key, orig);
      hp->yarn_original_context = static_cast<int64_t>(orig);
      continue;
    }
    return Unsupported("config.json: {} of type '{}' is not supported (linear, llama3 and yarn rope scaling are)", key, type);
  }
  return Status::Ok();
}

Status ReadConfig(const json& cfg, HParams* hp) {
  const json* archs = Field(cfg, "architectures");
  if (archs == nullptr) return NotFound("config.json: 'architectures' is missing");
  if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return Corrupt("config.json: 'architectures' is not a list of names");
  }
  const std::string name = (*archs)[0].get<std::string>();
  if (name == "LlamaForCausalLM") {
    hp->arch = "llama";
  } else if (name == "Qwen2ForCausalLM") {
    hp->arch = "qwen2";
  } else {
    return Unsupported("architecture '{}' is not supported (LlamaForCausalLM and Qwen2ForCausalLM are)", name);
  }
  constexpr int64_t kBig = int64_t{1} << 30;
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "hidden_size", true, 0, 1, 65536, &hp->n_embd));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "num_hidden_layers", true, 0, 1, 1024, &hp->n_layer));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "num_attention_heads", true, 0, 1, 1024, &hp->n_head));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "num_key_value_heads", false, hp->n_head, 1, 1024, &hp->n_head_kv));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "intermediate_size", true, 0, 1, 1048576, &hp->n_ff));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "max_position_embeddings", true, 0, 1, kBig, &hp->n_ctx));
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "vocab_size", true, 0, 1, int64_t{1} << 22, &hp->n_vocab));
  hp->head_dim_given = Field(cfg, "head_dim") != nullptr;
  ONDO_RETURN_IF_ERROR(ConfigInt(cfg, "head_dim", false, hp->n_embd / hp->n_head, 2, 1024, &hp->head_dim));
  if (hp->n_head % hp->n_head_kv != 0) {
    return Corrupt("config.json: num_key_value_heads {} does not divide num_attention_heads {}", hp->n_head_kv, hp->n_head);
  }
  if (hp->head_dim % 2 != 0) return Corrupt("config.json: head dimension {} is odd", hp->head_dim);
  ONDO_RETURN_IF_ERROR(ConfigFloat(cfg, "rms_norm_eps", true, 0.0, &hp->rms_eps));
  ONDO_RETURN_IF_ERROR(ConfigFloat(cfg, "rope_theta", false, 10000.0, &hp->rope_theta));
  ONDO_RETURN_IF_ERROR(ReadRopeScaling(cfg, hp));
  hp->tied = ConfigBool(cfg, "tie_word_embeddings", false);

  // Keys that change the math and that ondo does not model.
  for (const char* act_key : {"hidden_act", "hidden_activation"}) {
    if (const json* act = Field(cfg, act_key); act != nullptr && (!act->is_string() || act->get<std::string>() != "silu")) {
      return Unsupported("config.json: {} '{}' is not supported (only silu)", act_key, act->dump());
    }
  }
  if (hp->arch == "llama") {
    if (ConfigBool(cfg, "attention_bias", false)) return Unsupported("config.json: attention_bias is true (biases on llama attention are not supported)");
    if (ConfigBool(cfg, "mlp_bias", false)) return Unsupported("config.json: mlp_bias is true (biases on the llama MLP are not supported)");
  }
  if (ConfigBool(cfg, "use_sliding_window", false)) {
    return Unsupported("config.json: use_sliding_window is true (sliding-window attention is not supported)");
  }
  if (const json* lt = Field(cfg, "layer_types"); lt != nullptr && lt->is_array()) {
    for (const json& t : *lt) {
      if (!t.is_string() || t.get<std::string>() != "full_attention") {
        return Unsupported("config.json: layer_types has '{}' (only full_attention is supported)", t.dump());
      }
    }
  }
  if (Field(cfg, "quantization_config") != nullptr) {
    return Unsupported("config.json: quantization_config (quantized checkpoints are not supported; F32/F16/BF16 are)");
  }
  if (const json* p = Field(cfg, "partial_rotary_factor"); p != nullptr && (!p->is_number() || p->get<double>() != 1.0)) {
    return Unsupported("config.json: partial_rotary_factor {} is not supported", p->dump());
  }
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping", "embedding_multiplier",
                          "residual_multiplier", "attention_multiplier", "logits_scaling", "logit_scale",
                          "num_experts", "num_local_experts"}) {
    if (Field(cfg, key) != nullptr) return Unsupported("config.json: '{}' is not supported for {}", key, name);
  }
  return Status::Ok();
}

// ---- tokenizer -----------------------------------------------------------------------------

// The Split regexes of the tokenizer.json files llama.cpp maps to these pre-tokenizer names
// (its chkhsh table would give the same answer for these models).
constexpr const char kHfLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char kHfQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// tokenizer.ggml.pre for a byte-level BPE tokenizer.json, from its normalizer and pre-tokenizer.
Status ChooseBpePre(const VocabSpec& spec, std::string* pre) {
  using Kind = tokenizer::PreTokenizerStep::Kind;
  const auto& steps = spec.pre_tokenizers;
  bool nfc = false;
  for (const tokenizer::NormalizerStep& n : spec.normalizers) {
    if (n.kind != tokenizer::NormalizerStep::Kind::kNfc) {
      return Unsupported("tokenizer.json: a byte-level BPE normalizer other than NFC has no GGUF equivalent");
    }
    nfc = true;
  }
  if (steps.size() == 1 && steps[0].kind == Kind::kByteLevel && steps[0].use_regex && !steps[0].add_prefix_space) {
    *pre = "gpt-2";
  } else if (steps.size() == 2 && steps[0].kind == Kind::kSplit && steps[0].pattern_is_regex &&
             steps[0].behavior == tokenizer::SplitBehavior::kIsolated && !steps[0].invert &&
             steps[1].kind == Kind::kByteLevel && !steps[1].use_regex && !steps[1].add_prefix_space) {
    if (steps[0].pattern == kHfLlama3Regex) {
      *pre = "llama-bpe";
    } else if (steps[0].pattern == kHfQwen2Regex) {
      *pre = "qwen2";
    } else {
      return Unsupported("tokenizer.json: pre-tokenizer regex '{}' is not one llama.cpp names (Llama 3, Qwen2)", steps[0].pattern);
    }
  } else {
    return Unsupported("tokenizer.json: pre-tokenizer sequence is not one llama.cpp names (GPT-2, Llama 3, Qwen2)");
  }
  // ondo's GGUF loader normalizes to NFC exactly for the qwen2 pre-tokenizer.
  if (nfc != (*pre == "qwen2")) {
    return Unsupported("tokenizer.json: {} NFC normalizer with the '{}' pre-tokenizer has no GGUF equivalent", nfc ? "an" : "no", *pre);
  }
  return Status::Ok();
}

// llama.cpp's does_token_look_special (the forms these vocabularies use).
bool LooksSpecial(std::string_view t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") ||
         t == "<pad>" || t == "<mask>" || t == "<s>" || t == "</s>" || t == "<unk>";
}

// SentencePiece-style BPE (Llama 2 tokenizer.json): "▁" prefix and spaces as "▁", by the
// normalizer (Prepend + Replace) or a Metaspace pre-tokenizer without splitting.
Status CheckSpmLike(const VocabSpec& spec, bool* add_space_prefix) {
  using NKind = tokenizer::NormalizerStep::Kind;
  using PKind = tokenizer::PreTokenizerStep::Kind;
  static const std::string kSpace = "\xe2\x96\x81";
  if (!spec.byte_fallback) {
    return Unsupported("tokenizer.json: character-level BPE without byte_fallback has no GGUF equivalent");
  }
  const auto& n = spec.normalizers;
  const auto& p = spec.pre_tokenizers;
  if (p.empty() && n.size() == 2 && n[0].kind == NKind::kPrepend && n[0].content == kSpace &&
      n[1].kind == NKind::kReplace && !n[1].pattern_is_regex && n[1].pattern == " " && n[1].content == kSpace) {
    *add_space_prefix = true;
    return Status::Ok();
  }
  if (p.empty() && n.size() == 1 && n[0].kind == NKind::kReplace && !n[0].pattern_is_regex &&
      n[0].pattern == " " && n[0].content == kSpace) {
    *add_space_prefix = false;
    return Status::Ok();
  }
  if (n.empty() && p.size() == 1 && p[0].kind == PKind::kMetaspace && p[0].replacement == kSpace && !p[0].split) {
    if (p[0].prepend_scheme == tokenizer::PreTokenizerStep::PrependScheme::kAlways ||
        p[0].prepend_scheme == tokenizer::PreTokenizerStep::PrependScheme::kFirst) {
      *add_space_prefix = true;
      return Status::Ok();
    }
    *add_space_prefix = false;
    return Status::Ok();
  }
  return Unsupported("tokenizer.json: this character-level BPE normalizer / pre-tokenizer has no GGUF (SentencePiece) equivalent");
}

// The id of a special token named in config.json ("bos_token_id": 1), when an integer.
int32_t ConfigTokenId(const json& cfg, const char* key, int64_t n_vocab) {
  const json* v = Field(cfg, key);
  if (v == nullptr || !v->is_number_integer()) return -1;
  const int64_t id = v->get<int64_t>();
  return id >= 0 && id < n_vocab ? static_cast<int32_t>(id) : -1;
}

// tokenizer.* keys as gguf-py writes them for this folder.
Status AddVocab(const fs::path& folder, const json& cfg, const HParams& hp, MetaBuilder* mb) {
  std::unique_ptr<platform::MappedFile> tok_file, tok_cfg_file;
  ONDO_RETURN_IF_ERROR(platform::MappedFile::Open((folder / "tokenizer.json").string(), &tok_file));
  std::string_view tok_cfg_text;
  json tok_cfg = json::object();
  if (fs::exists(folder / "tokenizer_config.json")) {
    ONDO_RETURN_IF_ERROR(platform::MappedFile::Open((folder / "tokenizer_config.json").string(), &tok_cfg_file));
    tok_cfg_text = AsText(*tok_cfg_file);
    tok_cfg = json::parse(tok_cfg_text.begin(), tok_cfg_text.end(), nullptr, false);
    if (tok_cfg.is_discarded() || !tok_cfg.is_object()) return Corrupt("tokenizer_config.json is not a JSON object");
  }
  VocabSpec spec;
  ONDO_RETURN_IF_ERROR(tokenizer::VocabSpecFromHfJson(AsText(*tok_file), tok_cfg_text, &spec));
  if (!spec.ondo_pre_tokenizer.empty()) {
    return Unsupported("tokenizer.json: ondo's own pre-tokenizer '{}' has no GGUF equivalent", spec.ondo_pre_tokenizer);
  }
  const size_t n_tok = spec.tokens.size();
  if (n_tok > static_cast<size_t>(hp.n_vocab)) {
    return Corrupt("tokenizer.json has {} tokens, more than config.json's vocab_size {}", n_tok, hp.n_vocab);
  }
  // The vocabulary padded to vocab_size (the embedding rows), as llama.cpp pads it.
  std::vector<std::string> tokens(std::move(spec.tokens));
  std::vector<int32_t> types(std::move(spec.token_types));
  for (size_t i = n_tok; i < static_cast<size_t>(hp.n_vocab); ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(static_cast<int32_t>(TokenType::kUnused));
  }
  for (size_t i = 0; i < n_tok; ++i) {
    if (types[i] == static_cast<int32_t>(TokenType::kUserDefined) && LooksSpecial(tokens[i])) {
      types[i] = static_cast<int32_t>(TokenType::kControl);
    }
  }

  if (spec.kind == VocabKind::kBpe) {
    std::string pre;
    ONDO_RETURN_IF_ERROR(ChooseBpePre(spec, &pre));
    mb->Str("tokenizer.ggml.model", "gpt2");
    mb->Str("tokenizer.ggml.pre", pre);
    mb->StrArray("tokenizer.ggml.tokens", tokens);
    mb->I32Array("tokenizer.ggml.token_type", types);
    std::vector<std::string> merges;
    merges.reserve(spec.merge_ids.size());
    for (const auto& [a, b] : spec.merge_ids) {
      // A merge of a part not in the vocabulary can never apply: dropping it keeps the order.
      if (a < 0 || b < 0) continue;
      merges.push_back(tokens[static_cast<size_t>(a)] + " " + tokens[static_cast<size_t>(b)]);
    }
    mb->StrArray("tokenizer.ggml.merges", merges);
  } else if (spec.kind == VocabKind::kCharBpe) {
    bool add_space_prefix = true;
    ONDO_RETURN_IF_ERROR(CheckSpmLike(spec, &add_space_prefix));
    std::vector<float> scores;
    CharBpeSpmScores(spec, tokens, n_tok, &types, &scores);
    mb->Str("tokenizer.ggml.model", "llama");
    mb->Str("tokenizer.ggml.pre", "default");
    mb->StrArray("tokenizer.ggml.tokens", tokens);
    mb->F32Array("tokenizer.ggml.scores", scores);
    mb->I32Array("tokenizer.ggml.token_type", types);
    mb->Bool("tokenizer.ggml.add_space_prefix", add_space_prefix);
  } else {
    return Unsupported("tokenizer.json: tokenizer kind has no GGUF equivalent");
  }

  // Special tokens: tokenizer_config.json / the post-processor first, then config.json's
  // *_token_id (gguf-py's SpecialVocab order).
  const int64_t n_vocab = hp.n_vocab;
  auto pick = [&](int32_t from_tokenizer, const char* cfg_key) {
    return from_tokenizer >= 0 ? from_tokenizer : ConfigTokenId(cfg, cfg_key, n_vocab);
  };
  const int32_t bos = pick(spec.bos_id, "bos_token_id");
  const int32_t eos = pick(spec.eos_id, "eos_token_id");
  const int32_t unk = spec.unk_id;
  const int32_t pad = pick(spec.pad_id, "pad_token_id");
  if (bos >= 0) mb->U32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  if (eos >= 0) mb->U32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  if (unk >= 0) mb->U32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(unk));
  if (pad >= 0) mb->U32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
  // Written always: what the Hugging Face tokenizer does, not the loader's per-family default.
  mb->Bool("tokenizer.ggml.add_bos_token", spec.add_bos && bos >= 0);
  mb->Bool("tokenizer.ggml.add_eos_token", spec.add_eos && eos >= 0);

  // Chat template: chat_template.jinja (newer transformers) or tokenizer_config.json's, a
  // string or a list of {name, template} (the "default" one is tokenizer.chat_template).
  if (fs::exists(folder / "chat_template.jinja")) {
    std::unique_ptr<platform::MappedFile> f;
    ONDO_RETURN_IF_ERROR(platform::MappedFile::Open((folder / "chat_template.jinja").string(), &f));
    mb->Str("tokenizer.chat_template", AsText(*f));
  } else if (const json* ct = Field(tok_cfg, "chat_template"); ct != nullptr) {
    if (ct->is_string()) {
      mb->Str("tokenizer.chat_template", ct->get_ref<const std::string&>());
    } else if (ct->is_array()) {
      std::set<std::string> seen;
      for (const json& e : *ct) {
        const json* name = Field(e, "name");
        const json* text = Field(e, "template");
        if (!name || !name->is_string() || !text || !text->is_string()) {
          return Corrupt("tokenizer_config.json: a chat_template entry lacks a name or template");
        }
        const std::string& n = name->get_ref<const std::string&>();
        if (!seen.insert(n).second) return Corrupt("tokenizer_config.json: chat_template '{}' appears twice", n);
        mb->Str(n == "default" ? std::string("tokenizer.chat_template") : "tokenizer.chat_template." + n,
                text->get_ref<const std::string&>());
      }
    } else {
      return Corrupt("tokenizer_config.json: chat_template is neither a string nor a list");
    }
  }
  return Status::Ok();
}

// ---- safetensors ---------------------------------------------------------------------------

struct StTensor {
  std::string name;
  std::string dtype;            // as written ("F32", "BF16", ...)
  std::vector<int64_t> shape;   // outermost first
  int64_t n_elements = 1;
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  std::string file;             // for messages
};

// Element bytes of a safetensors dtype, 0 when unknown.
size_t DtypeBytes(std::string_view d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

Status ParseSafetensors(const platform::MappedFile& f, const std::string& label, std::vector<StTensor>* out) {
  const uint8_t* base = f.data();
  const uint64_t size = f.size();
  if (size < 8) return Corrupt("'{}': {} bytes, too short for a safetensors header", label, size);
  uint64_t n = 0;
  std::memcpy(&n, base, 8);
  if (n > size - 8) return Corrupt("'{}': header length {} runs past the end of the file ({} bytes): truncated?", label, n, size);
  if (n > kMaxSafetensorsHeader) return Corrupt("'{}': header length {} is over the 100 MB limit", label, n);
  const char* text = reinterpret_cast<const char*>(base + 8);
  const json header = json::parse(text, text + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Corrupt("'{}': the header is not a JSON object", label);
  const uint8_t* data = base + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    StTensor t;
    t.name = name;
    t.file = label;
    const json* dtype = Field(info, "dtype");
    const json* shape = Field(info, "shape");
    const json* offs = Field(info, "data_offsets");
    if (!dtype || !dtype->is_string() || !shape || !shape->is_array() || !offs || !offs->is_array()) {
      return Corrupt("'{}': tensor '{}' lacks dtype, shape or data_offsets", label, name);
    }
    t.dtype = dtype->get<std::string>();
    if (shape->size() > 8) return Corrupt("'{}': tensor '{}' has {} dimensions", label, name, shape->size());
    for (const json& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(kMaxDim)) {
        return Corrupt("'{}': tensor '{}' has a bad dimension {}", label, name, d.dump());
      }
      const int64_t v = static_cast<int64_t>(d.get<uint64_t>());
      if (v != 0 && t.n_elements > std::numeric_limits<int64_t>::max() / 8 / v) {
        return Corrupt("'{}': tensor '{}': element count overflows", label, name);
      }
      t.n_elements *= v;
      t.shape.push_back(v);
    }
    if (offs->size() != 2 || !(*offs)[0].is_number_unsigned() || !(*offs)[1].is_number_unsigned()) {
      return Corrupt("'{}': tensor '{}' data_offsets is not two offsets", label, name);
    }
    const uint64_t begin = (*offs)[0].get<uint64_t>(), end = (*offs)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Corrupt("'{}': tensor '{}' data [{}, {}) runs past the data section ({} bytes): truncated?", label, name, begin, end, data_size);
    }
    if (const size_t es = DtypeBytes(t.dtype); es != 0 && end - begin != static_cast<uint64_t>(t.n_elements) * es) {
      return Corrupt("'{}': tensor '{}' holds {} bytes, its {} shape needs {}", label, name, end - begin, t.dtype, static_cast<uint64_t>(t.n_elements) * es);
    }
    t.data = data + begin;
    t.bytes = static_cast<size_t>(end - begin);
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

// A file name from an index (no directories: the weights stay inside the folder).
bool PlainFileName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos;
}

// ---- tensor names --------------------------------------------------------------------------

enum class Role { kPlain, kPermuteQ, kPermuteK };

struct Mapped {
  std::string gguf;
  int64_t layer = -1;                 // -1: not in a layer
  int order = 0;                      // position inside its group
  std::vector<int64_t> expect_shape;  // HF shape implied by config.json
  Role role = Role::kPlain;
};

// HF name -> GGUF name. *skip for tensors llama.cpp drops (rotary inv_freq); Unsupported for
// a name with no counterpart.
Status MapName(const std::string& hf, const HParams& hp, Mapped* m, bool* skip) {
  *skip = false;
  const int64_t E = hp.n_embd, Q = hp.n_head * hp.head_dim, KV = hp.n_head_kv * hp.head_dim;
  const int64_t F = hp.n_ff, V = hp.n_vocab;
  const bool llama = hp.arch == "llama", qwen2 = hp.arch == "qwen2";
  if (hf == "model.embed_tokens.weight") { *m = {"token_embd.weight", -1, 0, {V, E}}; return Status::Ok(); }
  if (hf == "model.norm.weight") { *m = {"output_norm.weight", -1, 1, {E}}; return Status::Ok(); }
  if (hf == "lm_head.weight") {
    if (hp.tied) { *skip = true; return Status::Ok(); }  // the embedding serves as the head
    *m = {"output.weight", -1, 2, {V, E}};
    return Status::Ok();
  }
  constexpr std::string_view kLayers = "model.layers.";
  if (hf.starts_with(kLayers)) {
    size_t pos = kLayers.size();
    int64_t layer = 0;
    const size_t digits_begin = pos;
    while (pos < hf.size() && hf[pos] >= '0' && hf[pos] <= '9' && pos - digits_begin < 6) {
      layer = layer * 10 + (hf[pos] - '0');
      ++pos;
    }
    if (pos > digits_begin && pos < hf.size() && hf[pos] == '.') {
      const std::string_view rest = std::string_view(hf).substr(pos + 1);
      if (layer >= hp.n_layer) {
        return Unsupported("tensor '{}' is in layer {}, but num_hidden_layers is {}", hf, layer, hp.n_layer);
      }
      if (rest == "self_attn.rotary_emb.inv_freq") { *skip = true; return Status::Ok(); }
      struct Entry { std::string_view hf, gguf; std::vector<int64_t> shape; Role role; bool qwen2_only; };
      const Entry table[] = {
          {"input_layernorm.weight", "attn_norm.weight", {E}, Role::kPlain, false},
          {"self_attn.q_proj.weight", "attn_q.weight", {Q, E}, llama ? Role::kPermuteQ : Role::kPlain, false},
          {"self_attn.k_proj.weight", "attn_k.weight", {KV, E}, llama ? Role::kPermuteK : Role::kPlain, false},
          {"self_attn.v_proj.weight", "attn_v.weight", {KV, E}, Role::kPlain, false},
          {"self_attn.q_proj.bias", "attn_q.bias", {Q}, Role::kPlain, true},
          {"self_attn.k_proj.bias", "attn_k.bias", {KV}, Role::kPlain, true},
          {"self_attn.v_proj.bias", "attn_v.bias", {KV}, Role::kPlain, true},
          {"self_attn.o_proj.weight", "attn_output.weight", {E, Q}, Role::kPlain, false},
          {"post_attention_layernorm.weight", "ffn_norm.weight", {E}, Role::kPlain, false},
          {"mlp.gate_proj.weight", "ffn_gate.weight", {F, E}, Role::kPlain, false},
          {"mlp.up_proj.weight", "ffn_up.weight", {F, E}, Role::kPlain, false},
          {"mlp.down_proj.weight", "ffn_down.weight", {E, F}, Role::kPlain, false},
      };
      for (size_t i = 0; i < std::size(table); ++i) {
        const Entry& e = table[i];
        if (rest != e.hf || (e.qwen2_only && !qwen2)) continue;
        *m = {fmt::format("blk.{}.{}", layer, e.gguf), layer, static_cast<int>(i), e.shape, e.role};
        return Status::Ok();
      }
    }
  }
  return Unsupported("tensor '{}' has no GGUF counterpart for architecture '{}'", hf, hp.arch);
}

// The HF tensors every model of this architecture must have.
std::vector<std::string> RequiredTensors(const HParams& hp) {
  std::vector<std::string> r = {"model.embed_tokens.weight", "model.norm.weight"};
  if (!hp.tied) r.push_back("lm_head.weight");
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    for (const char* s : {"input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                          "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                          "post_attention_layernorm.weight", "mlp.gate_proj.weight",
                          "mlp.up_proj.weight", "mlp.down_proj.weight"}) {
      r.push_back(p + s);
    }
    if (hp.arch == "qwen2") {
      for (const char* s : {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"}) r.push_back(p + s);
    }
  }
  return r;
}

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", s[i]);
  return out + "]";
}

// convert_hf_to_gguf.py's LlamaModel.permute: rows h*hd + s*hd/2 + i (HF rotate_half pairs
// i, i + hd/2) go to h*hd + 2i + s (ggml's adjacent rope pairs). `rows` = n_heads * hd.
void PermuteRows(const uint8_t* src, uint8_t* dst, int64_t n_heads, int64_t rows, size_t row_bytes) {
  const int64_t hd = rows / n_heads, half = hd / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t s = 0; s < 2; ++s) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t from = h * hd + s * half + i, to = h * hd + 2 * i + s;
        std::memcpy(dst + static_cast<size_t>(to) * row_bytes, src + static_cast<size_t>(from) * row_bytes, row_bytes);
      }
    }
  }
}

}  // namespace

Status HfImporter::Open(const std::string& folder_str, std::unique_ptr<GgufFile>* out) {
  const fs::path folder(folder_str);
  json cfg;
  ONDO_RETURN_IF_ERROR(ReadJsonFile(folder / "config.json", &cfg));
  HParams hp;
  ONDO_RETURN_IF_ERROR(ReadConfig(cfg, &hp));

  std::unique_ptr<GgufFile> f(new GgufFile());

  // Safetensors files: the index's, or model.safetensors.
  std::vector<std::string> files;
  std::map<std::string, std::string> weight_map;  // tensor -> file, from the index
  std::error_code ec;
  if (fs::exists(folder / "model.safetensors.index.json", ec)) {
    json index;
    ONDO_RETURN_IF_ERROR(ReadJsonFile(folder / "model.safetensors.index.json", &index));
    const json* wm = Field(index, "weight_map");
    if (!wm || !wm->is_object() || wm->empty()) return Corrupt("model.safetensors.index.json: no weight_map");
    std::set<std::string> seen;
    for (const auto& [name, file] : wm->items()) {
      if (!file.is_string() || !PlainFileName(file.get<std::string>())) {
        return Corrupt("model.safetensors.index.json: tensor '{}' maps to {}, not a file name in the folder", name, file.dump());
      }
      weight_map[name] = file.get<std::string>();
      if (seen.insert(file.get<std::string>()).second) files.push_back(file.get<std::string>());
    }
  } else if (fs::exists(folder / "model.safetensors", ec)) {
    files.push_back("model.safetensors");
  } else {
    return NotFound("'{}' has neither model.safetensors nor model.safetensors.index.json (only safetensors checkpoints are supported)", folder_str);
  }
  std::vector<StTensor> st;
  for (const std::string& name : files) {
    std::unique_ptr<platform::MappedFile> map;
    ONDO_RETURN_IF_ERROR(platform::MappedFile::Open((folder / name).string(), &map));
    ONDO_RETURN_IF_ERROR(ParseSafetensors(*map, name, &st));
    if (f->mapping_ == nullptr) {
      f->mapping_ = std::move(map);  // lets WriteOndo release pages of the first file as it goes
    } else {
      f->extra_mappings_.push_back(std::move(map));
    }
  }
  std::map<std::string, const StTensor*> by_name;
  for (const StTensor& t : st) {
    if (!by_name.emplace(t.name, &t).second) return Corrupt("tensor '{}' appears in two safetensors files", t.name);
  }
  for (const auto& [name, file] : weight_map) {
    if (by_name.find(name) == by_name.end()) return Corrupt("tensor '{}' is listed in the index but not in '{}'", name, file);
  }
  for (const StTensor& t : st) {
    if (!weight_map.empty()) {
      auto it = weight_map.find(t.name);
      if (it == weight_map.end() || it->second != t.file) {
        return Corrupt("tensor '{}' is in '{}', but the index says {}", t.name, t.file,
                       it == weight_map.end() ? std::string("nothing of it") : "'" + it->second + "'");
      }
    }
  }
  for (const std::string& name : RequiredTensors(hp)) {
    if (by_name.find(name) == by_name.end()) return NotFound("tensor '{}' is missing", name);
  }

  // Map, check and order the tensors: token_embd, the layers in order, then the head.
  struct Planned {
    Mapped m;
    const StTensor* src;
  };
  std::vector<Planned> plan;
  for (const StTensor& t : st) {
    Planned p{{}, &t};
    bool skip = false;
    ONDO_RETURN_IF_ERROR(MapName(t.name, hp, &p.m, &skip));
    if (skip) continue;
    if (t.shape != p.m.expect_shape) {
      return Corrupt("tensor '{}' has shape {}, config.json implies {}", t.name, ShapeString(t.shape), ShapeString(p.m.expect_shape));
    }
    if (t.dtype != "F32" && t.dtype != "F16" && t.dtype != "BF16") {
      return Unsupported("tensor '{}' has dtype {} (F32, F16 and BF16 are supported)", t.name, t.dtype);
    }
    plan.push_back(p);
  }
  auto group = [&](const Planned& p) {
    if (p.m.layer >= 0) return p.m.layer + 1;
    return p.m.gguf == "token_embd.weight" ? int64_t{0} : hp.n_layer + 1;
  };
  std::sort(plan.begin(), plan.end(), [&](const Planned& a, const Planned& b) {
    return std::make_pair(group(a), a.m.order) < std::make_pair(group(b), b.m.order);
  });

  // Metadata, as convert_hf_to_gguf.py writes it.
  MetaBuilder mb;
  const std::string& a = hp.arch;
  auto key = [&a](const char* k) { return a + "." + k; };
  std::string name = folder.filename().string();
  if (name.empty()) name = folder.parent_path().filename().string();  // "dir/"
  mb.Str("general.architecture", a);
  mb.Str("general.name", name);
  mb.U32(key("vocab_size"), static_cast<uint32_t>(hp.n_vocab));
  mb.U32(key("context_length"), static_cast<uint32_t>(hp.n_ctx));
  mb.U32(key("embedding_length"), static_cast<uint32_t>(hp.n_embd));
  mb.U32(key("block_count"), static_cast<uint32_t>(hp.n_layer));
  mb.U32(key("feed_forward_length"), static_cast<uint32_t>(hp.n_ff));
  mb.U32(key("attention.head_count"), static_cast<uint32_t>(hp.n_head));
  mb.U32(key("attention.head_count_kv"), static_cast<uint32_t>(hp.n_head_kv));
  mb.F32(key("rope.freq_base"), static_cast<float>(hp.rope_theta));
  mb.F32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(hp.rms_eps));
  if (hp.head_dim_given) {
    mb.U32(key("attention.key_length"), static_cast<uint32_t>(hp.head_dim));
    mb.U32(key("attention.value_length"), static_cast<uint32_t>(hp.head_dim));
  }
  if (a == "llama") mb.U32(key("rope.dimension_count"), static_cast<uint32_t>(hp.head_dim));
  if (hp.rope_linear_factor > 0.0) {
    mb.Str(key("rope.scaling.type"), "linear");
    mb.F32(key("rope.scaling.factor"), static_cast<float>(hp.rope_linear_factor));
  }
  if (hp.yarn_factor > 0.0) {  // as convert_hf_to_gguf.py's Qwen2Model writes it
    mb.Str(key("rope.scaling.type"), "yarn");
    mb.F32(key("rope.scaling.factor"), static_cast<float>(hp.yarn_factor));
    const int64_t orig = hp.yarn_original_context > 0 ? hp.yarn_original_context : hp.n_ctx;
    mb.U32(key("rope.scaling.original_context_length"), static_cast<uint32_t>(orig));
  }
  ONDO_RETURN_IF_ERROR(AddVocab(folder, cfg, hp, &mb));

  // Tensor infos, and each tensor's bytes: in place, or a converted copy the file owns.
  std::vector<const uint8_t*> data(plan.size(), nullptr);
  for (size_t i = 0; i < plan.size(); ++i) {
    const StTensor& t = *plan[i].src;
    const kernels::DType src_type = t.dtype == "F32" ? kernels::DType::kF32
                                    : t.dtype == "F16" ? kernels::DType::kF16 : kernels::DType::kBF16;
    const size_t es = t.dtype == "F32" ? 4 : 2;
    int64_t ne[kGgufMaxDims] = {1, 1, 1, 1};
    const int n_dims = static_cast<int>(t.shape.size());
    for (int d = 0; d < n_dims; ++d) ne[d] = t.shape[static_cast<size_t>(n_dims - 1 - d)];
    kernels::DType type = src_type;
    if (n_dims == 1 && src_type != kernels::DType::kF32) {
      // Norms and biases are F32 in every GGUF llama.cpp writes (and ondo requires it).
      std::vector<uint8_t> buf(static_cast<size_t>(t.n_elements) * 4);
      for (int64_t k = 0; k < t.n_elements; ++k) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * k, 2);
        const float v = src_type == kernels::DType::kF16 ? kernels::HalfToFloat(h) : kernels::Bf16ToFloat(h);
        std::memcpy(buf.data() + 4 * k, &v, 4);
      }
      type = kernels::DType::kF32;
      data[i] = buf.data();
      f->owned_buffers_.push_back(std::move(buf));
    } else if (plan[i].m.role != Role::kPlain) {
      const int64_t heads = plan[i].m.role == Role::kPermuteQ ? hp.n_head : hp.n_head_kv;
      std::vector<uint8_t> buf(t.bytes);
      PermuteRows(t.data, buf.data(), heads, t.shape[0], static_cast<size_t>(t.shape[1]) * es);
      data[i] = buf.data();
      f->owned_buffers_.push_back(std::move(buf));
    } else if (reinterpret_cast<uintptr_t>(t.data) % es != 0) {
      // The kernels read whole elements: a misaligned tensor is copied, not used in place.
      std::vector<uint8_t> buf(t.data, t.data + t.bytes);
      data[i] = buf.data();
      f->owned_buffers_.push_back(std::move(buf));
    } else {
      data[i] = t.data;
    }
    mb.Tensor(plan[i].m.gguf, n_dims, ne, type);
  }
  // llama3 rope factors, computed as convert_hf_to_gguf.py's LlamaModel does: per rotated
  // pair, 1 for wavelengths below original/high_freq_factor, factor above
  // original/low_freq_factor, 1 / ((1 - smooth) / factor + smooth) between.
  const uint8_t* rope_freqs = nullptr;
  if (hp.llama3_factor > 0.0) {
    const int64_t half = hp.head_dim / 2;
    std::vector<uint8_t> buf(static_cast<size_t>(half) * 4);
    const double factor = hp.llama3_factor, lo = hp.llama3_low_freq_factor, hi = hp.llama3_high_freq_factor;
    const double old_ctx = hp.llama3_original_context;
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(hp.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(hp.head_dim));
      const double wavelen = 2.0 * std::numbers::pi / freq;
      double r = 1.0;
      if (wavelen < old_ctx / hi) {
        r = 1.0;
      } else if (wavelen > old_ctx / lo) {
        r = factor;
      } else {
        const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
        r = 1.0 / ((1.0 - smooth) / factor + smooth);
      }
      const float v = static_cast<float>(r);
      std::memcpy(buf.data() + 4 * i, &v, 4);
    }
    rope_freqs = buf.data();
    f->owned_buffers_.push_back(std::move(buf));
    const int64_t ne[kGgufMaxDims] = {half, 1, 1, 1};
    mb.Tensor("rope_freqs.weight", 1, ne, kernels::DType::kF32);
  }

  // Parse the metadata back: the same validation as any GGUF header, views into one buffer.
  std::vector<uint8_t> meta = mb.Finish();
  std::unique_ptr<GgufFile> parsed;
  ONDO_RETURN_IF_ERROR(GgufFile::ParseMetadata(meta.data(), meta.size(), &parsed));
  if (parsed->tensors_.size() != plan.size() + (rope_freqs != nullptr ? 1 : 0)) {
    return Status(StatusCode::kInternal, "tensor count changed in the metadata round trip");
  }
  f->base_ = meta.data();
  f->size_ = meta.size();
  f->version_ = parsed->version_;
  f->alignment_ = parsed->alignment_;
  f->data_offset_ = meta.size();
  f->kvs_ = std::move(parsed->kvs_);
  f->tensors_ = std::move(parsed->tensors_);
  f->owned_buffers_.push_back(std::move(meta));  // the views point into its heap block
  for (size_t i = 0; i < plan.size(); ++i) {
    GgufTensorInfo& t = f->tensors_[i];
    const StTensor& s = *plan[i].src;
    const size_t want = t.type == kernels::DType::kF32 && s.dtype != "F32" ? s.bytes * 2 : s.bytes;
    if (t.bytes != want) return Status(StatusCode::kInternal, fmt::format("tensor '{}': {} bytes, expected {}", t.name, t.bytes, want));
    t.data = data[i];
  }
  if (rope_freqs != nullptr) f->tensors_.back().data = rope_freqs;
  *out = std::move(f);
  return Status::Ok();
}

bool IsHfModelFolder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "config.json", ec);
}

Status OpenHfModel(const std::string& folder, std::unique_ptr<GgufFile>* out) {
  Status s = HfImporter::Open(folder, out);
  if (!s.ok()) return Status(s.code(), "'" + folder + "': " + s.message());
  return s;
}

void CharBpeSpmScores(const VocabSpec& spec, const std::vector<std::string>& tokens, size_t n_tok,
                      std::vector<int32_t>* types, std::vector<float>* scores) {
  const float kUnreached = -1e9f;
  scores->assign(tokens.size(), 0.0f);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if ((*types)[i] == static_cast<int32_t>(TokenType::kNormal)) (*scores)[i] = kUnreached;
  }
  std::map<std::string, int32_t> by_text;
  for (size_t i = 0; i < n_tok; ++i) by_text.emplace(tokens[i], static_cast<int32_t>(i));
  for (size_t r = 0; r < spec.merge_ids.size(); ++r) {
    const auto [a, b] = spec.merge_ids[r];
    if (a < 0 || b < 0) continue;
    auto it = by_text.find(tokens[static_cast<size_t>(a)] + tokens[static_cast<size_t>(b)]);
    if (it == by_text.end()) continue;
    float& s = (*scores)[static_cast<size_t>(it->second)];
    if (s == kUnreached) s = -static_cast<float>(r);
  }
  if (spec.unk_id >= 0) {
    (*types)[static_cast<size_t>(spec.unk_id)] = static_cast<int32_t>(TokenType::kUnknown);
  }
}

}  // namespace ondo::runtime
