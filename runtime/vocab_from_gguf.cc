// GGUF tokenizer metadata -> VocabSpec (llama.cpp's load() rules, written from its behavior).
#include "runtime/vocab_from_gguf.h"

#include <algorithm>
#include <string>

#include "tokenizer/bpe_trainer.h"

namespace ondo::runtime {
namespace {

using tokenizer::TokenType;
using tokenizer::VocabKind;
using tokenizer::VocabSpec;

bool OneOf(std::string_view s, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (s == n) return true;
  }
  return false;
}

// Reads an optional token id; leaves *id when absent or out of range (llama.cpp warns and
// keeps its default).
Status ReadId(const GgufFile& gguf, const char* key, int32_t n_vocab, int32_t* id) {
  uint32_t v = 0;
  const GgufKv* kv = gguf.Find(key);
  if (kv == nullptr) return Status::Ok();
  Status st = gguf.GetU32(key, &v);
  if (!st.ok()) {
    int32_t s = 0;
    if (gguf.GetI32(key, &s).ok() && s < 0) return Status::Ok();  // -1: none
    return st;
  }
  if (v < static_cast<uint32_t>(n_vocab)) *id = static_cast<int32_t>(v);
  return Status::Ok();
}

// A tokenizer trained by `ondo tokenizer train`, stored as SentencePiece metadata (so llama.cpp
// loads it, without the morpheme cuts) plus tokenizer.ondo.pre_tokenizer and the merges as id
// pairs, tokenizer.ondo.merges = [left0, right0, left1, right1, ...] in rank order. The leading
// control tokens are its special tokens; then come the 256 byte tokens.
Status OndoTrainedSpec(const GgufFile& gguf, const VocabSpec& read, VocabSpec* spec) {
  std::string_view pre;
  ONDO_RETURN_IF_ERROR(gguf.GetString("tokenizer.ondo.pre_tokenizer", &pre));
  tokenizer::TrainedBpe bpe;
  ONDO_RETURN_IF_ERROR(tokenizer::ParseOndoPreTokenizer(pre, &bpe.pre));
  std::vector<int32_t> pairs;
  ONDO_RETURN_IF_ERROR(gguf.GetI32Array("tokenizer.ondo.merges", &pairs));
  if (pairs.size() % 2 != 0) {
    return Corrupt("tokenizer.ondo.merges has an odd number of ids ({})", pairs.size());
  }
  const auto n_vocab = static_cast<int32_t>(read.tokens.size());
  for (size_t i = 0; i < pairs.size(); i += 2) {
    if (pairs[i] < 0 || pairs[i] >= n_vocab || pairs[i + 1] < 0 || pairs[i + 1] >= n_vocab) {
      return Corrupt("tokenizer.ondo.merges: merge {} names a token outside the {} of the vocabulary",
                     i / 2, n_vocab);
    }
    bpe.merges.emplace_back(pairs[i], pairs[i + 1]);
  }
  while (bpe.n_special < n_vocab &&
         read.token_types[static_cast<size_t>(bpe.n_special)] ==
             static_cast<int32_t>(TokenType::kControl)) {
    ++bpe.n_special;
  }
  if (n_vocab - bpe.n_special < 256) {
    return Corrupt("tokenizer.ondo: {} tokens after the special ones, fewer than the 256 byte tokens",
                   n_vocab - bpe.n_special);
  }
  bpe.tokens = read.tokens;
  tokenizer::TrainedBpeToVocabSpec(bpe, /*with_ondo_key=*/true, spec);
  spec->scores = read.scores;
  return Status::Ok();
}

}  // namespace

Status VocabSpecFromGguf(const GgufFile& gguf, VocabSpec* out) {
  VocabSpec spec;
  std::string_view model;
  ONDO_RETURN_IF_ERROR(gguf.GetString("tokenizer.ggml.model", &model));
  std::string_view pre = "default";
  if (gguf.Find("tokenizer.ggml.pre") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetString("tokenizer.ggml.pre", &pre));
  }
  spec.pre = std::string(pre);

  std::vector<std::string_view> tokens;
  ONDO_RETURN_IF_ERROR(gguf.GetStringArray("tokenizer.ggml.tokens", &tokens));
  if (tokens.empty()) return Corrupt("tokenizer.ggml.tokens is empty");
  if (tokens.size() > (size_t{1} << 24)) return Corrupt("tokenizer.ggml.tokens: too many tokens");
  const int32_t n_vocab = static_cast<int32_t>(tokens.size());
  spec.tokens.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) {
      spec.tokens.push_back("[EMPTY_" + std::to_string(i) + "]");  // as llama.cpp
    } else {
      spec.tokens.emplace_back(tokens[i]);
    }
  }
  if (gguf.Find("tokenizer.ggml.scores") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetF32Array("tokenizer.ggml.scores", &spec.scores));
    if (spec.scores.size() != tokens.size()) {
      return Corrupt("tokenizer.ggml.scores has {} entries for {} tokens", spec.scores.size(),
                     tokens.size());
    }
  }
  if (gguf.Find("tokenizer.ggml.token_type") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetI32Array("tokenizer.ggml.token_type", &spec.token_types));
    if (spec.token_types.size() != tokens.size()) {
      return Corrupt("tokenizer.ggml.token_type has {} entries for {} tokens",
                     spec.token_types.size(), tokens.size());
    }
  } else {
    spec.token_types.assign(tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  }

  if (model == "llama" && gguf.Find("tokenizer.ondo.pre_tokenizer") != nullptr) {
    VocabSpec ondo;
    ONDO_RETURN_IF_ERROR(OndoTrainedSpec(gguf, spec, &ondo));
    spec = std::move(ondo);
  } else if (model == "llama") {
    spec.kind = VocabKind::kSpm;
    spec.bos_id = 1;
    spec.eos_id = 2;
    spec.unk_id = 0;
    spec.add_bos = true;
    spec.add_space_prefix = true;
  } else if (model == "gpt2") {
    spec.kind = VocabKind::kBpe;
    spec.bos_id = 11;
    spec.eos_id = 11;
    spec.add_space_prefix = false;
    std::vector<std::string_view> merges;
    ONDO_RETURN_IF_ERROR(gguf.GetStringArray("tokenizer.ggml.merges", &merges));
    spec.merges.assign(merges.begin(), merges.end());
    std::vector<std::string> regexes;
    if (!tokenizer::PreTokenizerRegexes(spec.pre, &regexes).ok()) {
      return Unsupported("unknown tokenizer.ggml.pre '{}'", spec.pre);
    }
    if (OneOf(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "tekken", "chameleon"})) {
      spec.add_bos = true;
    }
    if (OneOf(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "tekken"})) {
      spec.ignore_merges = true;
    }
    if (OneOf(pre, {"chatglm-bpe"})) spec.bos_id = -1;
    // Hugging Face's Qwen2 tokenizer normalizes to NFC before splitting (llama.cpp does not).
    if (OneOf(pre, {"qwen2", "deepseek-r1-qwen"})) spec.normalize_nfc = true;
  } else {
    return Unsupported("tokenizer model '{}' (only llama/SPM and gpt2/BPE)", model);
  }
  bool flag = false;
  if (gguf.Find("tokenizer.ggml.add_space_prefix") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetBool("tokenizer.ggml.add_space_prefix", &flag));
    spec.add_space_prefix = flag;
  }

  for (int32_t* id : {&spec.bos_id, &spec.eos_id, &spec.unk_id}) {
    if (*id >= n_vocab) *id = -1;
  }
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.bos_token_id", n_vocab, &spec.bos_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.eos_token_id", n_vocab, &spec.eos_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.eot_token_id", n_vocab, &spec.eot_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.eom_token_id", n_vocab, &spec.eom_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.unknown_token_id", n_vocab, &spec.unk_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.seperator_token_id", n_vocab, &spec.sep_id));
  ONDO_RETURN_IF_ERROR(ReadId(gguf, "tokenizer.ggml.padding_token_id", n_vocab, &spec.pad_id));
  if (gguf.Find("tokenizer.ggml.add_bos_token") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetBool("tokenizer.ggml.add_bos_token", &flag));
    spec.add_bos = flag;
  }
  if (gguf.Find("tokenizer.ggml.add_eos_token") != nullptr) {
    ONDO_RETURN_IF_ERROR(gguf.GetBool("tokenizer.ggml.add_eos_token", &flag));
    spec.add_eos = flag;
  }

  // End-of-turn tokens found by their text become control tokens (llama.cpp does the same).
  auto force_control = [&](int32_t id) {
    spec.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::kControl);
  };
  for (int32_t id = 0; id < n_vocab; ++id) {
    const std::string& t = spec.tokens[static_cast<size_t>(id)];
    if (spec.eot_id < 0 &&
        OneOf(t, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
                  "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"})) {
      spec.eot_id = id;
      force_control(id);
    }
    if (spec.eom_id < 0 && t == "<|eom_id|>") {
      spec.eom_id = id;
      force_control(id);
    }
    // [|endofturn|]: EXAONE's end of turn (its files also name it as EOS).
    if (OneOf(t, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                  "<|eom_id|>", "<EOT>", "[|endofturn|]"})) {
      spec.eog_ids.push_back(id);
      force_control(id);
    }
  }

  // Phi-3: llama.cpp strips whitespace to the right of its special tokens.
  std::string_view name;
  if (gguf.Find("general.name") != nullptr && gguf.GetString("general.name", &name).ok()) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    if (lower.find("phi-3") != std::string::npos || lower.find("phi3") != std::string::npos) {
      for (int32_t id = 0; id < n_vocab; ++id) {
        const auto type = static_cast<TokenType>(spec.token_types[static_cast<size_t>(id)]);
        const std::string& t = spec.tokens[static_cast<size_t>(id)];
        if (type != TokenType::kControl && type != TokenType::kUserDefined &&
            type != TokenType::kUnknown) {
          continue;
        }
        tokenizer::AddedToken a;
        a.id = id;
        a.content = t;
        a.special = type != TokenType::kUserDefined;
        a.rstrip = !OneOf(t, {"<unk>", "<s>", "<|endoftext|>"});
        spec.added_tokens.push_back(std::move(a));
      }
    }
  }
  if (spec.add_bos && spec.bos_id < 0) spec.add_bos = false;
  if (spec.add_eos && spec.eos_id < 0) spec.add_eos = false;
  *out = std::move(spec);
  return Status::Ok();
}

}  // namespace ondo::runtime
