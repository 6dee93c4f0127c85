// make_synthetic: writes a GGUF v3 file with seeded random weights in the exact shape of
// Qwen2.5-1.5B (qwen2: hidden 1536, 28 layers, 12 heads / 2 KV heads of 128, FFN 8960, vocab
// 151936, tied embeddings, QKV bias), laid out as llama.cpp's convert_hf_to_gguf.py and
// llama-quantize would write it, with a real tokenizer. For benchmarks only: the weights mean
// nothing, but every byte a decode step reads is where and what it would be in the real file.
//
//   make_synthetic --tokenizer DIR/tokenizer.json --type f16|q8_0|q4_k_m|q2_k -o FILE
//                  [--seed N] [--layers N] [--threads N]
//
// Tensor types per mix follow llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for
// this shape (GQA 6, one expert, 28 layers):
//   f16     every matrix F16 (convert_hf_to_gguf --outtype f16)
//   q8_0    every matrix Q8_0 (the tied token_embd stays Q8_0)
//   q4_k_m  Q4_K; token_embd (tied output head) Q6_K; attn_v and ffn_down Q6_K in the
//           use_more_bits layers (first 1/8, last 1/8, every third in between), else Q4_K
//   q2_k    Q2_K; token_embd Q6_K; attn_v Q4_K (GQA >= 4); attn_output, ffn_down Q3_K
// Norms and biases are F32 in every mix. Quantized mixes quantize the F16-rounded values, so a
// mix is what llama-quantize makes from the f16 file of the same seed: checked for seed 1, the
// q8_0, q4_k_m and q2_k files are byte-identical to llama-quantize's (llama.cpp c392e5094)
// Q8_0, Q4_K_M and Q2_K output from the f16 file, tensor types and data.
//
// The file is streamed: offsets are computed up front, then each tensor is generated,
// quantized (row by row, on --threads threads) and written in chunks of rows, so memory stays
// at the tokenizer plus a few MiB whatever the model size. It is written to FILE.tmp and
// renamed, so an interrupted run never leaves a truncated FILE behind.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "platform/status.h"
#include "platform/sys_info.h"
#include "platform/thread_pool.h"

namespace ondo::bench {
namespace {

using kernels::DType;

// --- the model's shape (Qwen2.5-1.5B config.json) -------------------------------------
struct Shape {
  int n_embd = 1536;
  int n_layer = 28;
  int n_head = 12;
  int n_head_kv = 2;
  int head_dim = 128;
  int n_ff = 8960;
  int n_vocab = 151936;          // config.json vocab_size: token_embd rows
  int n_ctx_train = 32768;
  float rope_freq_base = 1000000.0f;
  float rms_eps = 1e-6f;
  int n_gqa() const { return n_head / n_head_kv; }
};

// --- mixes --------------------------------------------------------------------------------
enum class Mix { kF16, kQ8_0, kQ4_K_M, kQ2_K };

struct MixInfo {
  Mix mix;
  const char* flag;      // --type value
  const char* name;      // as llama.cpp names the file type
  uint32_t file_type;    // llama_ftype stored in general.file_type
};
constexpr MixInfo kMixes[] = {
    {Mix::kF16, "f16", "F16", 1},
    {Mix::kQ8_0, "q8_0", "Q8_0", 7},
    {Mix::kQ4_K_M, "q4_k_m", "Q4_K_M", 15},
    {Mix::kQ2_K, "q2_k", "Q2_K", 10},
};

enum class Role { kTokenEmbd, kAttnQ, kAttnK, kAttnV, kAttnOutput, kFfnGate, kFfnUp, kFfnDown };

// llama.cpp's use_more_bits(i_layer, n_layers).
bool UseMoreBits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// llama_tensor_get_type for one matrix of this model. Every row length here (1536, 8960) is a
// multiple of 256, so llama.cpp's fallbacks for odd shapes never apply.
DType MatrixType(Mix mix, Role role, int layer, const Shape& s) {
  switch (mix) {
    case Mix::kF16: return DType::kF16;
    case Mix::kQ8_0: return DType::kQ8_0;  // a tied output stays Q8_0 ("new_type != Q8_0")
    case Mix::kQ4_K_M:
      if (role == Role::kTokenEmbd) return DType::kQ6_K;  // tied: quantized as the output head
      if ((role == Role::kAttnV || role == Role::kFfnDown) && UseMoreBits(layer, s.n_layer)) {
        return DType::kQ6_K;
      }
      return DType::kQ4_K;
    case Mix::kQ2_K:
      switch (role) {
        case Role::kTokenEmbd: return DType::kQ6_K;
        case Role::kAttnV: return s.n_gqa() >= 4 ? DType::kQ4_K : DType::kQ3_K;
        case Role::kAttnOutput: return DType::kQ3_K;
        case Role::kFfnDown: return DType::kQ3_K;
        default: return DType::kQ2_K;
      }
  }
  return DType::kF16;
}

// --- tensor plan --------------------------------------------------------------------------
enum class Init { kMatrix, kNorm, kBias };

struct TensorPlan {
  std::string name;
  int n_dims = 2;
  int64_t ne0 = 0;  // row length (contiguous)
  int64_t ne1 = 1;  // rows
  DType type = DType::kF32;
  Init init = Init::kMatrix;
  int layer = -1;   // -1: not in a block
  uint64_t offset = 0;  // in the data section
  size_t bytes = 0;
};

std::vector<TensorPlan> PlanTensors(const Shape& s, Mix mix) {
  std::vector<TensorPlan> t;
  const int64_t E = s.n_embd, Q = int64_t{s.n_head} * s.head_dim,
                KV = int64_t{s.n_head_kv} * s.head_dim, F = s.n_ff;
  auto matrix = [&](std::string name, int64_t cols, int64_t rows, Role role, int layer) {
    t.push_back({std::move(name), 2, cols, rows, MatrixType(mix, role, layer, s), Init::kMatrix,
                 layer});
  };
  auto vec = [&](std::string name, int64_t n, Init init, int layer) {
    t.push_back({std::move(name), 1, n, 1, DType::kF32, init, layer});
  };
  matrix("token_embd.weight", E, s.n_vocab, Role::kTokenEmbd, -1);  // tied: no output.weight
  for (int i = 0; i < s.n_layer; ++i) {
    auto n = [i](const char* what) { return fmt::format("blk.{}.{}", i, what); };
    vec(n("attn_norm.weight"), E, Init::kNorm, i);
    matrix(n("attn_q.weight"), E, Q, Role::kAttnQ, i);
    vec(n("attn_q.bias"), Q, Init::kBias, i);
    matrix(n("attn_k.weight"), E, KV, Role::kAttnK, i);
    vec(n("attn_k.bias"), KV, Init::kBias, i);
    matrix(n("attn_v.weight"), E, KV, Role::kAttnV, i);
    vec(n("attn_v.bias"), KV, Init::kBias, i);
    matrix(n("attn_output.weight"), Q, E, Role::kAttnOutput, i);
    vec(n("ffn_norm.weight"), E, Init::kNorm, i);
    matrix(n("ffn_gate.weight"), E, F, Role::kFfnGate, i);
    matrix(n("ffn_up.weight"), E, F, Role::kFfnUp, i);
    matrix(n("ffn_down.weight"), F, E, Role::kFfnDown, i);
  }
  vec("output_norm.weight", E, Init::kNorm, -1);
  return t;
}

// --- tokenizer (as convert_hf_to_gguf.py's get_vocab_base / gguf.SpecialVocab) -----------
enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

struct Vocab {
  std::vector<std::string> tokens;  // n_vocab entries, "[PAD{id}]" where the tokenizer has none
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // "a b"
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
  bool has_add_bos = false, add_bos = false;
  std::string chat_template;
};

// convert_hf_to_gguf.py's does_token_look_special.
bool LooksSpecial(const std::string& t) {
  auto wrapped = [&t](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
           t.compare(t.size() - close.size(), close.size(), close) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" ||
         wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") ||
         wrapped("<unused", ">");
}

std::string ReplaceAll(const std::string& s, std::string_view from, std::string_view to) {
  std::string r;
  size_t i = 0;
  for (size_t p; (p = s.find(from, i)) != std::string::npos; i = p + from.size()) {
    r.append(s, i, p - i).append(to);
  }
  return r.append(s, i, std::string::npos);
}

Status ReadJson(const std::string& path, nlohmann::json* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '{}'", path);
  *out = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return Corrupt("'{}' is not valid JSON", path);
  return Status::Ok();
}

// A special token named in tokenizer_config.json: a string or {"content": ...}.
std::string TokenContent(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return {};
}

Status LoadVocab(const std::string& tokenizer_json, int n_vocab, Vocab* out) {
  Vocab v;
  v.tokens.assign(static_cast<size_t>(n_vocab), {});
  v.types.assign(static_cast<size_t>(n_vocab), 0);
  std::vector<bool> is_added(static_cast<size_t>(n_vocab), false);
  {
    nlohmann::json j;
    ONDO_RETURN_IF_ERROR(ReadJson(tokenizer_json, &j));
    const nlohmann::json& model = j["model"];
    if (!model.is_object() || model.value("type", "") != "BPE" || !model["vocab"].is_object() ||
        !model["merges"].is_array()) {
      return Unsupported("'{}' is not a BPE tokenizer.json (model.type BPE with vocab and merges)",
                         tokenizer_json);
    }
    for (const auto& [text, id_json] : model["vocab"].items()) {
      if (!id_json.is_number_integer()) return Corrupt("vocab entry '{}' has no integer id", text);
      const int64_t id = id_json.get<int64_t>();
      if (id < 0 || id >= n_vocab) {
        return Corrupt("token '{}' has id {}, outside the model's {} rows", text, id, n_vocab);
      }
      v.tokens[static_cast<size_t>(id)] = text;
      v.types[static_cast<size_t>(id)] = kNormal;
    }
    if (j["added_tokens"].is_array()) {
      for (const auto& a : j["added_tokens"]) {
        const int64_t id = a.value("id", int64_t{-1});
        const std::string content = a.value("content", std::string());
        if (id < 0 || id >= n_vocab || content.empty()) {
          return Corrupt("added token '{}' has id {}, outside the model's {} rows", content, id,
                         n_vocab);
        }
        // Added tokens are stored as their text; non-special ones that do not look special
        // are USER_DEFINED with SentencePiece's U+2581 turned back into spaces.
        std::string text = content;
        int32_t type = kControl;
        if (!a.value("special", false) && !LooksSpecial(content)) {
          type = kUserDefined;
          text = ReplaceAll(text, "\xe2\x96\x81", " ");
        }
        v.tokens[static_cast<size_t>(id)] = std::move(text);
        v.types[static_cast<size_t>(id)] = type;
        is_added[static_cast<size_t>(id)] = true;
      }
    }
    v.merges.reserve(model["merges"].size());
    for (const auto& m : model["merges"]) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return Corrupt("'{}': merge {} is neither \"a b\" nor [\"a\", \"b\"]", tokenizer_json,
                       v.merges.size());
      }
    }
  }  // the parsed JSON (~10x the file) is freed here
  for (int id = 0; id < n_vocab; ++id) {
    if (v.types[static_cast<size_t>(id)] == 0) {
      v.tokens[static_cast<size_t>(id)] = fmt::format("[PAD{}]", id);
      v.types[static_cast<size_t>(id)] = kUnused;
    }
  }
  auto find_id = [&](const std::string& text) -> int32_t {
    if (text.empty()) return -1;
    for (int id = 0; id < n_vocab; ++id) {  // added tokens first, as the tokenizer resolves them
      if (is_added[static_cast<size_t>(id)] && v.tokens[static_cast<size_t>(id)] == text) return id;
    }
    for (int id = 0; id < n_vocab; ++id) {
      if (v.tokens[static_cast<size_t>(id)] == text) return id;
    }
    return -1;
  };

  // tokenizer_config.json beside tokenizer.json: special tokens, add_bos, chat template.
  const size_t slash = tokenizer_json.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : tokenizer_json.substr(0, slash);
  nlohmann::json cfg;
  if (ReadJson(dir + "/tokenizer_config.json", &cfg).ok() && cfg.is_object()) {
    if (cfg.contains("bos_token")) v.bos_id = find_id(TokenContent(cfg["bos_token"]));
    if (cfg.contains("eos_token")) v.eos_id = find_id(TokenContent(cfg["eos_token"]));
    if (cfg.contains("pad_token")) v.pad_id = find_id(TokenContent(cfg["pad_token"]));
    if (cfg["add_bos_token"].is_boolean()) {
      v.has_add_bos = true;
      v.add_bos = cfg["add_bos_token"].get<bool>();
    }
    if (cfg["chat_template"].is_string()) v.chat_template = cfg["chat_template"].get<std::string>();
  }
  // Qwen2.5's tokenizer_config.json has "bos_token": null; SpecialVocab then takes
  // bos_token_id from config.json, which is <|endoftext|> (151643) for every Qwen2.5 model.
  if (v.bos_id < 0) v.bos_id = find_id("<|endoftext|>");
  if (v.eos_id < 0) v.eos_id = find_id("<|endoftext|>");
  if (!v.has_add_bos) {
    v.has_add_bos = true;  // Qwen2.5's files say add_bos_token false
    v.add_bos = false;
  }
  *out = std::move(v);
  return Status::Ok();
}

// --- GGUF metadata encoding (ggml docs/gguf.md) -----------------------------------------
enum class GgufType : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };

class MetaWriter {
 public:
  std::vector<uint8_t>& bytes() { return b_; }
  uint64_t n_kv() const { return n_kv_; }

  void U32(const std::string& key, uint32_t v) { Key(key, GgufType::kU32); Put(v); }
  void F32(const std::string& key, float v) { Key(key, GgufType::kF32); Put(v); }
  void Bool(const std::string& key, bool v) { Key(key, GgufType::kBool); Put(uint8_t{v}); }
  void Str(const std::string& key, const std::string& v) { Key(key, GgufType::kString); PutStr(v); }
  void StrArray(const std::string& key, const std::vector<std::string>& v) {
    Key(key, GgufType::kArray);
    Put(static_cast<uint32_t>(GgufType::kString));
    Put(static_cast<uint64_t>(v.size()));
    for (const auto& s : v) PutStr(s);
  }
  void I32Array(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, GgufType::kArray);
    Put(static_cast<uint32_t>(GgufType::kI32));
    Put(static_cast<uint64_t>(v.size()));
    for (int32_t x : v) Put(x);
  }

  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b_.insert(b_.end(), p, p + sizeof v);  // little-endian hosts only (x86, arm64)
  }
  void PutStr(const std::string& s) {
    Put(static_cast<uint64_t>(s.size()));
    b_.insert(b_.end(), s.begin(), s.end());
  }

 private:
  void Key(const std::string& key, GgufType t) {
    PutStr(key);
    Put(static_cast<uint32_t>(t));
    ++n_kv_;
  }
  std::vector<uint8_t> b_;
  uint64_t n_kv_ = 0;
};

// --- random values ------------------------------------------------------------------------
uint64_t SplitMix64(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Fills one row of tensor `t` from its own stream (seed, tensor name, row), so the values do
// not depend on the thread count or the chunking. Each value is the Irwin-Hall sum of four
// 16-bit uniforms scaled to unit variance: a near-normal bounded at +-3.46 sigma, at ~1 ns per
// value (the distribution does not change the speed of any kernel). Matrices: std 0.02, rounded
// through F16 (the f16 file holds exactly these values); norms 1 + 0.05 z; biases 0.02 z.
void FillRow(const TensorPlan& t, uint64_t seed, int64_t row, float* x) {
  uint64_t s = seed * 0xD1B54A32D192ED03ull ^ Fnv1a(t.name) ^ static_cast<uint64_t>(row) * 0x9E3779B97F4A7C15ull;
  SplitMix64(&s);
  constexpr float kMean = 2.0f * 65535.0f;
  constexpr float kInvStd = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16: sum of 4 U(0, 2^16)
  const float scale = t.init == Init::kNorm ? 0.05f : 0.02f;
  const float bias = t.init == Init::kNorm ? 1.0f : 0.0f;
  for (int64_t i = 0; i < t.ne0; ++i) {
    const uint64_t r = SplitMix64(&s);
    const float sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    x[i] = bias + scale * (sum - kMean) * kInvStd;
  }
  if (t.type != DType::kF32 && t.type != DType::kF16) {
    for (int64_t i = 0; i < t.ne0; ++i) x[i] = kernels::HalfToFloat(kernels::FloatToHalf(x[i]));
  }
}

// --- writing ------------------------------------------------------------------------------
struct Options {
  std::string tokenizer;
  std::string out;
  Mix mix = Mix::kF16;
  uint64_t seed = 1;
  int layers = 28;
  int threads = 0;
};

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class Output {
 public:
  ~Output() {
    if (f_ != nullptr) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "wb");
    if (f_ == nullptr) return MakeStatus(StatusCode::kIoError, "cannot create '{}': {}", path, std::strerror(errno));
    return Status::Ok();
  }
  Status Write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f_) != n) {
      return MakeStatus(StatusCode::kIoError, "writing '{}' failed: {}", path_, std::strerror(errno));
    }
    pos_ += n;
    return Status::Ok();
  }
  Status Pad(uint64_t alignment) {
    static const uint8_t kZeros[64] = {};
    return Write(kZeros, static_cast<size_t>(AlignUp(pos_, alignment) - pos_));
  }
  Status Close() {
    const bool failed = std::fflush(f_) != 0 || std::ferror(f_) != 0;
    const bool close_failed = std::fclose(f_) != 0;
    f_ = nullptr;
    if (failed || close_failed) return MakeStatus(StatusCode::kIoError, "writing '{}' failed: {}", path_, std::strerror(errno));
    return Status::Ok();
  }
  uint64_t pos() const { return pos_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;
};

constexpr uint32_t kAlignment = 32;

Status Run(const Options& o) {
  const uint64_t t_start = platform::NowNs();
  Shape shape;
  shape.n_layer = o.layers;
  const MixInfo& mix = *std::find_if(std::begin(kMixes), std::end(kMixes),
                                     [&](const MixInfo& m) { return m.mix == o.mix; });
  Vocab vocab;
  ONDO_RETURN_IF_ERROR(LoadVocab(o.tokenizer, shape.n_vocab, &vocab));
  std::fprintf(stderr, "make_synthetic: tokenizer %s: %zu merges, bos %d eos %d pad %d, chat template %s\n",
               o.tokenizer.c_str(), vocab.merges.size(), vocab.bos_id, vocab.eos_id, vocab.pad_id,
               vocab.chat_template.empty() ? "none" : "yes");

  std::vector<TensorPlan> plan = PlanTensors(shape, o.mix);
  uint64_t data_bytes = 0;
  for (TensorPlan& t : plan) {
    t.bytes = kernels::RowBytes(t.type, t.ne0) * static_cast<size_t>(t.ne1);
    t.offset = AlignUp(data_bytes, kAlignment);
    data_bytes = t.offset + t.bytes;
  }

  // Metadata in the order convert_hf_to_gguf.py writes it.
  MetaWriter meta;
  const std::string a = "qwen2";
  meta.Str("general.architecture", a);
  meta.Str("general.type", "model");
  meta.Str("general.name", fmt::format("Qwen2.5 1.5B Synthetic (random weights, seed {})", o.seed));
  meta.Str("general.size_label", "1.5B");
  meta.U32(a + ".block_count", static_cast<uint32_t>(shape.n_layer));
  meta.U32(a + ".context_length", static_cast<uint32_t>(shape.n_ctx_train));
  meta.U32(a + ".embedding_length", static_cast<uint32_t>(shape.n_embd));
  meta.U32(a + ".feed_forward_length", static_cast<uint32_t>(shape.n_ff));
  meta.U32(a + ".attention.head_count", static_cast<uint32_t>(shape.n_head));
  meta.U32(a + ".attention.head_count_kv", static_cast<uint32_t>(shape.n_head_kv));
  meta.F32(a + ".rope.freq_base", shape.rope_freq_base);
  meta.F32(a + ".attention.layer_norm_rms_epsilon", shape.rms_eps);
  meta.U32("general.file_type", mix.file_type);
  meta.U32("general.quantization_version", 2);
  meta.U32("general.alignment", kAlignment);
  meta.Str("tokenizer.ggml.model", "gpt2");
  meta.Str("tokenizer.ggml.pre", "qwen2");
  meta.StrArray("tokenizer.ggml.tokens", vocab.tokens);
  meta.I32Array("tokenizer.ggml.token_type", vocab.types);
  meta.StrArray("tokenizer.ggml.merges", vocab.merges);
  if (vocab.eos_id >= 0) meta.U32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
  if (vocab.pad_id >= 0) meta.U32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab.pad_id));
  if (vocab.bos_id >= 0) meta.U32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos_id));
  meta.Bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  if (!vocab.chat_template.empty()) meta.Str("tokenizer.chat_template", vocab.chat_template);
  vocab = Vocab{};  // written into the header; free it before the weights

  MetaWriter header;
  header.Put(uint32_t{0x46554747});  // "GGUF"
  header.Put(uint32_t{3});
  header.Put(static_cast<uint64_t>(plan.size()));
  header.Put(meta.n_kv());
  header.bytes().insert(header.bytes().end(), meta.bytes().begin(), meta.bytes().end());
  meta = MetaWriter{};
  for (const TensorPlan& t : plan) {
    header.PutStr(t.name);
    header.Put(static_cast<uint32_t>(t.n_dims));
    header.Put(static_cast<uint64_t>(t.ne0));
    if (t.n_dims == 2) header.Put(static_cast<uint64_t>(t.ne1));
    header.Put(static_cast<uint32_t>(t.type));
    header.Put(t.offset);
  }
  const uint64_t data_offset = AlignUp(header.bytes().size(), kAlignment);
  const uint64_t file_bytes = data_offset + data_bytes;

  const std::string tmp = o.out + ".tmp";
  Output out;
  ONDO_RETURN_IF_ERROR(out.Open(tmp));
  ONDO_RETURN_IF_ERROR(out.Write(header.bytes().data(), header.bytes().size()));
  header = MetaWriter{};
  ONDO_RETURN_IF_ERROR(out.Pad(kAlignment));

  const int n_threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  platform::ThreadPool pool(n_threads);
  constexpr int64_t kRowsPerTask = 16;
  constexpr int64_t kTasksPerChunk = 32;
  std::vector<std::vector<float>> row_buf(static_cast<size_t>(n_threads));
  std::vector<uint8_t> chunk;
  bool warned[64] = {};
  int last_layer_reported = -2;
  for (const TensorPlan& t : plan) {
    if (out.pos() != data_offset + t.offset) {
      ONDO_RETURN_IF_ERROR(out.Pad(kAlignment));
    }
    if (out.pos() != data_offset + t.offset) return MakeStatus(StatusCode::kInternal, "tensor '{}' would land at {} instead of {}", t.name, out.pos(), data_offset + t.offset);
    const size_t row_bytes = kernels::RowBytes(t.type, t.ne0);
    for (auto& b : row_buf) b.resize(static_cast<size_t>(t.ne0));
    for (int64_t r0 = 0; r0 < t.ne1; r0 += kRowsPerTask * kTasksPerChunk) {
      const int64_t r1 = std::min(t.ne1, r0 + kRowsPerTask * kTasksPerChunk);
      // Zeroed first: a quantizer that writes nothing must show up as zeros, not stale rows.
      chunk.assign(static_cast<size_t>(r1 - r0) * row_bytes, 0);
      const int n_tasks = static_cast<int>((r1 - r0 + kRowsPerTask - 1) / kRowsPerTask);
      pool.ParallelFor(n_tasks, [&](int task, int thread) {
        float* x = row_buf[static_cast<size_t>(thread)].data();
        const int64_t a0 = r0 + task * kRowsPerTask, a1 = std::min(r1, a0 + kRowsPerTask);
        for (int64_t r = a0; r < a1; ++r) {
          FillRow(t, o.seed, r, x);
          kernels::QuantizeRow(t.type, x, chunk.data() + static_cast<size_t>(r - r0) * row_bytes, t.ne0);
        }
      });
      if (r0 == 0 && t.type != DType::kF32 && !warned[static_cast<uint32_t>(t.type) % 64]) {
        const uint8_t* row = chunk.data();
        if (std::all_of(row, row + row_bytes, [](uint8_t b) { return b == 0; })) {
          warned[static_cast<uint32_t>(t.type) % 64] = true;
          std::fprintf(stderr, "make_synthetic: warning: QuantizeRow(%s) wrote an all-zero row for '%s': "
                       "its quantizer is not implemented yet; the file is well-formed but its %s weights are zeros\n",
                       kernels::Info(t.type).name, t.name.c_str(), kernels::Info(t.type).name);
        }
      }
      ONDO_RETURN_IF_ERROR(out.Write(chunk.data(), chunk.size()));
    }
    if (t.layer != last_layer_reported && (t.layer < 0 || t.name.find("ffn_down") != std::string::npos)) {
      last_layer_reported = t.layer;
      std::fprintf(stderr, "make_synthetic: %-18s %7.1f / %.1f MiB  %5.1f s\n",
                   t.layer < 0 ? t.name.c_str() : fmt::format("blk.{}", t.layer).c_str(),
                   out.pos() / 1048576.0, file_bytes / 1048576.0, (platform::NowNs() - t_start) / 1e9);
    }
  }
  ONDO_RETURN_IF_ERROR(out.Pad(kAlignment));  // the data section ends aligned, as gguf-py's
  if (out.pos() < file_bytes) return MakeStatus(StatusCode::kInternal, "wrote {} bytes, planned {}", out.pos(), file_bytes);
  const uint64_t written = out.pos();
  ONDO_RETURN_IF_ERROR(out.Close());
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) {
    return MakeStatus(StatusCode::kIoError, "cannot rename '{}' to '{}': {}", tmp, o.out, std::strerror(errno));
  }

  // Summary: types, the bytes a decode step reads (every tensor once; the tied token_embd is
  // read whole by the output head), time and peak RSS.
  uint64_t per_type[64] = {}, count[64] = {};
  for (const TensorPlan& t : plan) {
    per_type[static_cast<uint32_t>(t.type) % 64] += t.bytes;
    count[static_cast<uint32_t>(t.type) % 64] += 1;
  }
  std::string types;
  for (uint32_t i = 0; i < 64; ++i) {
    if (count[i] == 0) continue;
    types += fmt::format("{}{} x{} ({:.1f} MiB)", types.empty() ? "" : ", ",
                         kernels::GetTypeInfo(i)->name, count[i], per_type[i] / 1048576.0);
  }
  uint64_t tensor_bytes = 0;
  for (const TensorPlan& t : plan) tensor_bytes += t.bytes;
  std::fprintf(stderr, "make_synthetic: wrote %s: %s, %d layers, %zu tensors, %llu bytes "
               "(tensor data %llu), %.1f s, %d threads, peak RSS %.1f MiB\n",
               o.out.c_str(), mix.name, shape.n_layer, plan.size(), static_cast<unsigned long long>(written),
               static_cast<unsigned long long>(tensor_bytes), (platform::NowNs() - t_start) / 1e9, n_threads,
               platform::PeakRssBytes() / 1048576.0);
  std::fprintf(stderr, "make_synthetic: types: %s\n", types.c_str());
  return Status::Ok();
}

constexpr const char* kUsage =
    "usage: make_synthetic --tokenizer tokenizer.json --type f16|q8_0|q4_k_m|q2_k -o FILE\n"
    "                      [--seed N] [--layers N] [--threads N]\n"
    "Writes a GGUF with random weights in the shape of Qwen2.5-1.5B (qwen2, 28 layers, hidden 1536,\n"
    "FFN 8960, vocab 151936, tied embeddings) and the given tokenizer, for benchmarks.\n"
    "  --seed N      random seed (default 1); the same seed gives the same file at any --threads\n"
    "  --layers N    blocks (default 28; fewer for quick tests)\n"
    "  --threads N   quantization threads (default: all cores)\n";

}  // namespace
}  // namespace ondo::bench

int main(int argc, char** argv) {
  using namespace ondo::bench;
  Options o;
  bool have_type = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "make_synthetic: error: %s needs a value\n%s", flag.c_str(), kUsage);
      return 2;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    if (flag == "--tokenizer") {
      o.tokenizer = value;
    } else if (flag == "-o" || flag == "--output") {
      o.out = value;
    } else if (flag == "--type") {
      auto m = std::find_if(std::begin(kMixes), std::end(kMixes),
                            [&](const MixInfo& x) { return value == x.flag; });
      if (m == std::end(kMixes)) {
        std::fprintf(stderr, "make_synthetic: error: --type %s is not one of f16, q8_0, q4_k_m, q2_k\n", value.c_str());
        return 2;
      }
      o.mix = m->mix;
      have_type = true;
    } else if (flag == "--seed") {
      o.seed = std::strtoull(value.c_str(), &end, 10);
      if (*end != '\0') { std::fprintf(stderr, "make_synthetic: error: --seed %s is not a number\n", value.c_str()); return 2; }
    } else if (flag == "--layers" || flag == "--threads") {
      const long v = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || v < (flag == "--layers" ? 1 : 0) || v > 1024) {
        std::fprintf(stderr, "make_synthetic: error: %s %s is out of range\n", flag.c_str(), value.c_str());
        return 2;
      }
      (flag == "--layers" ? o.layers : o.threads) = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "make_synthetic: error: unknown flag %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
  }
  if (o.tokenizer.empty() || o.out.empty() || !have_type) {
    std::fprintf(stderr, "make_synthetic: error: --tokenizer, --type and -o are required\n%s", kUsage);
    return 2;
  }
  if (ondo::Status s = Run(o); !s.ok()) {
    std::fprintf(stderr, "make_synthetic: error: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
