// Hugging Face folders: a synthetic model (reference_forward's weights) written as a real
// checkpoint would store it (safetensors [out, in] rows, llama q/k in HF's rotate_half order,
// config.json, a byte-level BPE tokenizer.json generated here) imports to logits that match
// the reference forward pass and, with F32 weights, the GGUF route bitwise; tokenizes as the
// tokenizer.json itself does; converts to .ondo; and every damaged or unsupported folder is a
// named error, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/gguf.h"
#include "runtime/hf_import.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tests/tokenizer/small_vocab.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::GgmlType;
using test::RefArch;
using test::RefConfig;
using test::RefModel;
using tokenizer::testing::ToByteLevel;

// A folder removed at the end of the test.
class TempDir {
 public:
  TempDir() : path_(test::UniqueTempPath(::testing::TempDir(), "ondo_hf")) { fs::create_directories(path_); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- safetensors writer (from the format's description, not from runtime/) ------------------

struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::string EncodeValues(const std::string& dtype, const std::vector<double>& v) {
  std::string out;
  for (double d : v) {
    const float f = static_cast<float>(d);
    if (dtype == "F32") {
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else {
      const uint16_t h = dtype == "F16" ? test::F32ToF16(f) : test::F32ToBf16(f);
      out.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return out;
}

// The header padded with spaces to a multiple of 8, as the safetensors library writes it.
std::string SafetensorsBytes(const std::vector<StTensor>& tensors) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out += h;
  for (const StTensor& t : tensors) out += t.bytes;
  return out;
}

// HF stores llama q/k rows in rotate_half order: GGUF row h*hd + 2i + s is HF row h*hd + s*hd/2 + i.
std::vector<double> UnpermuteRows(const std::vector<double>& w, int n_heads, int n_cols) {
  const int rows = static_cast<int>(w.size()) / n_cols, hd = rows / n_heads, half = hd / 2;
  std::vector<double> out(w.size());
  for (int h = 0; h < n_heads; ++h) {
    for (int s = 0; s < 2; ++s) {
      for (int i = 0; i < half; ++i) {
        const int hf = h * hd + s * half + i, gg = h * hd + 2 * i + s;
        std::copy_n(w.begin() + gg * n_cols, n_cols, out.begin() + hf * n_cols);
      }
    }
  }
  return out;
}

// The HF tensors of `ref`: matrices as `dtype`, 1-D tensors as `vec_dtype`.
std::vector<StTensor> HfTensors(const RefModel& ref, const std::string& dtype, const std::string& vec_dtype) {
  const RefConfig& c = ref.config;
  const int64_t E = c.n_embd, V = c.n_vocab, F = c.n_ff, Q = c.n_head * c.head_dim, KV = c.n_head_kv * c.head_dim;
  const bool llama = c.arch == RefArch::kLlama;
  std::vector<StTensor> t;
  auto mat = [&](const std::string& name, const std::vector<double>& v, int64_t rows, int64_t cols) {
    t.push_back({name, dtype, {rows, cols}, EncodeValues(dtype, v)});
  };
  auto vec = [&](const std::string& name, const std::vector<double>& v) {
    t.push_back({name, vec_dtype, {static_cast<int64_t>(v.size())}, EncodeValues(vec_dtype, v)});
  };
  mat("model.embed_tokens.weight", ref.tok_embd, V, E);
  vec("model.norm.weight", ref.output_norm);
  if (!c.tied_output) mat("lm_head.weight", ref.output, V, E);
  for (int i = 0; i < c.n_layer; ++i) {
    const test::RefLayer& L = ref.layers[static_cast<size_t>(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    vec(p + "input_layernorm.weight", L.attn_norm);
    mat(p + "self_attn.q_proj.weight", llama ? UnpermuteRows(L.wq, c.n_head, c.n_embd) : L.wq, Q, E);
    mat(p + "self_attn.k_proj.weight", llama ? UnpermuteRows(L.wk, c.n_head_kv, c.n_embd) : L.wk, KV, E);
    mat(p + "self_attn.v_proj.weight", L.wv, KV, E);
    if (!llama) {
      vec(p + "self_attn.q_proj.bias", L.bq);
      vec(p + "self_attn.k_proj.bias", L.bk);
      vec(p + "self_attn.v_proj.bias", L.bv);
    }
    mat(p + "self_attn.o_proj.weight", L.wo, E, Q);
    vec(p + "post_attention_layernorm.weight", L.ffn_norm);
    mat(p + "mlp.gate_proj.weight", L.ffn_gate, F, E);
    mat(p + "mlp.up_proj.weight", L.ffn_up, F, E);
    mat(p + "mlp.down_proj.weight", L.ffn_down, E, F);
  }
  return t;
}

// Token ids of the generated tokenizer.json: 256 bytes, 19 merged tokens, then added tokens.
constexpr int kEndOfText = 275, kImStart = 276, kImEnd = 277, kToolCall = 278;

json ConfigJson(const RefConfig& c) {
  const bool llama = c.arch == RefArch::kLlama;
  return {{"architectures", {llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM"}},
          {"model_type", llama ? "llama" : "qwen2"},
          {"hidden_size", c.n_embd},
          {"num_hidden_layers", c.n_layer},
          {"num_attention_heads", c.n_head},
          {"num_key_value_heads", c.n_head_kv},
          {"intermediate_size", c.n_ff},
          {"max_position_embeddings", c.n_ctx_train},
          {"vocab_size", c.n_vocab},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_base},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", c.tied_output},
          {"rope_scaling", c.llama3_factor > 0.0 ? json{{"rope_type", "llama3"},
                                                        {"factor", c.llama3_factor},
                                                        {"low_freq_factor", c.llama3_low_freq_factor},
                                                        {"high_freq_factor", c.llama3_high_freq_factor},
                                                        {"original_max_position_embeddings", c.llama3_original_context}}
                           : c.yarn_factor > 0.0 ? json{{"rope_type", "yarn"},
                                                       {"factor", c.yarn_factor},
                                                       {"original_max_position_embeddings", c.yarn_original_context}}
                                                 : json(nullptr)},
          {"torch_dtype", "float32"},
          {"bos_token_id", kEndOfText},
          {"eos_token_id", kEndOfText}};
}

// A byte-level BPE tokenizer.json: the 256 byte symbols (id = byte), merges (ids 256..), then
// added tokens. Llama 3 style (pre-tokenizer regex, ignore_merges, string merges) for llama,
// Qwen2 style (NFC, its regex, [a, b] merges) for qwen2. Fewer ids than the model's 288.
constexpr const char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kSpecials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::string TokenizerJson(bool llama) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ToByteLevel(std::string(1, static_cast<char>(b)))] = b;
  const std::pair<const char*, const char*> merges[] = {
      {" ", "t"}, {"t", "h"}, {" t", "h"}, {"h", "e"}, {" th", "e"}, {"l", "l"}, {"ll", "o"},
      {"e", "llo"}, {"h", "ello"}, {" ", "hello"}, {"o", "r"}, {"w", "or"}, {" ", "wor"}, {" wor", "ld"},
      {"l", "d"}, {"1", "2"}, {"\xea", "\xb0"}, {"\xea\xb0", "\x80"}, {"\n", "\n"}};
  json merge_list = json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    const std::string ta = ToByteLevel(a), tb = ToByteLevel(b);
    if (!vocab.contains(ta + tb)) vocab[ta + tb] = next++;
    if (llama) {
      merge_list.push_back(ta + " " + tb);
    } else {
      merge_list.push_back({ta, tb});
    }
  }
  EXPECT_EQ(next, kEndOfText);  // the added tokens' ids below
  json added = json::array();
  for (const char* s : kSpecials) {
    added.push_back({{"id", next++}, {"content", s}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  added.push_back({{"id", next++}, {"content", "<tool_call>"}, {"single_word", false}, {"lstrip", false},
                   {"rstrip", false}, {"normalized", false}, {"special", false}});
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"}, {"pattern", {{"Regex", llama ? kLlama3Regex : kQwen2Regex}}},
                 {"behavior", "Isolated"}, {"invert", false}},
                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  json t = {{"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", llama ? json(nullptr) : json({{"type", "NFC"}})},
            {"pre_tokenizer", pre},
            {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
            {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                       {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                       {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", llama},
                       {"vocab", vocab}, {"merges", merge_list}}}};
  return t.dump(1);
}

constexpr const char kChatTemplate[] =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";

std::string TokenizerConfigJson(bool llama) {
  json c = {{"add_bos_token", llama}, {"eos_token", "<|im_end|>"}, {"pad_token", "<|endoftext|>"},
            {"chat_template", kChatTemplate}};
  c["bos_token"] = llama ? json("<|endoftext|>") : json(nullptr);
  return c.dump(1);
}

struct HfCase {
  RefArch arch = RefArch::kLlama;
  bool tied = false;
  std::string dtype = "F32";      // matrices
  std::string vec_dtype = "F32";  // norms and biases
  int shards = 1;                 // > 1: model.safetensors.index.json
  const char* rope = "";          // rope_scaling: "" none, "llama3" or "yarn"
};

void PrintTo(const HfCase& c, std::ostream* os) {
  *os << (c.arch == RefArch::kLlama ? "llama " : "qwen2 ") << c.dtype << "/" << c.vec_dtype
      << (c.tied ? " tied" : "") << " shards=" << c.shards << " " << c.rope;
}

RefConfig CaseConfig(const HfCase& c) {
  RefConfig cfg = test::SmallLlama(32, 64, 2);
  if (c.arch == RefArch::kQwen2) cfg.arch = RefArch::kQwen2;
  cfg.tied_output = c.tied;
  if (std::string_view(c.rope) == "llama3") {  // scaled within the test's positions
    cfg.llama3_factor = 8.0;
    cfg.llama3_original_context = 32;
  } else if (std::string_view(c.rope) == "yarn") {
    cfg.yarn_factor = 4.0;
    cfg.yarn_original_context = 64;
  }
  return cfg;
}

GgmlType WeightType(const std::string& dtype) {
  return dtype == "F32" ? GgmlType::kF32 : dtype == "F16" ? GgmlType::kF16 : GgmlType::kBF16;
}

// The synthetic model of `c` (weights as the GGUF fixture stores them, in *ref and *gguf) and its
// HF folder in `dir`.
void BuildFolder(const HfCase& c, const TempDir& dir, RefModel* ref, test::GgufWriter* gguf) {
  test::SyntheticSpec spec;
  spec.config = CaseConfig(c);
  spec.weight_type = WeightType(c.dtype);
  spec.seed = 11;
  test::BuildSyntheticModel(spec, gguf, ref);
  // 1-D tensors stored narrower than F32: the reference sees the rounded values.
  if (c.vec_dtype != "F32") {
    auto round = [&](std::vector<double>& v) {
      for (double& x : v) {
        const float f = static_cast<float>(x);
        x = c.vec_dtype == "F16" ? test::F16ToF32(test::F32ToF16(f)) : test::Bf16ToF32(test::F32ToBf16(f));
      }
    };
    round(ref->output_norm);
    for (test::RefLayer& L : ref->layers) {
      for (std::vector<double>* v : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) round(*v);
    }
  }
  const std::vector<StTensor> tensors = HfTensors(*ref, c.dtype, c.vec_dtype);
  if (c.shards <= 1) {
    WriteAll(dir / "model.safetensors", SafetensorsBytes(tensors));
  } else {
    json weight_map = json::object();
    const size_t per = (tensors.size() + static_cast<size_t>(c.shards) - 1) / static_cast<size_t>(c.shards);
    for (int s = 0; s < c.shards; ++s) {
      const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, c.shards);
      std::vector<StTensor> part;
      for (size_t i = s * per; i < std::min(tensors.size(), (s + 1) * per); ++i) {
        part.push_back(tensors[i]);
        weight_map[tensors[i].name] = file;
      }
      WriteAll(dir / file, SafetensorsBytes(part));
    }
    json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
    WriteAll(dir / "model.safetensors.index.json", index.dump(1));
  }
  const bool llama = c.arch == RefArch::kLlama;
  WriteAll(dir / "config.json", ConfigJson(ref->config).dump(1));
  WriteAll(dir / "tokenizer.json", TokenizerJson(llama));
  WriteAll(dir / "tokenizer_config.json", TokenizerConfigJson(llama));
}

const std::vector<int32_t> kPrompt = {1, 270, 3, 150, 287, 42, 42, 200, 7, 259, 100, 13};

// Logits of every prompt position and two decode steps.
std::vector<std::vector<float>> RunLogits(const Model& model, const std::vector<int32_t>& decode = {5, 42}) {
  SessionOptions opt;
  opt.n_ctx = 32;
  opt.n_threads = 2;
  opt.n_batch = 1;
  std::unique_ptr<Session> s;
  EXPECT_TRUE(Session::Create(model, opt, &s).ok());
  std::vector<std::vector<float>> out;
  const int n_vocab = model.config().n_vocab;
  for (int32_t id : kPrompt) {
    EXPECT_TRUE(s->Prefill(std::vector<int32_t>{id}).ok());
    out.emplace_back(s->logits(), s->logits() + n_vocab);
  }
  for (int32_t id : decode) {
    EXPECT_TRUE(s->Decode(id).ok());
    out.emplace_back(s->logits(), s->logits() + n_vocab);
  }
  return out;
}

// max |got - ref| / max |ref| over every position.
double RelError(const std::vector<std::vector<float>>& got, const std::vector<std::vector<double>>& ref) {
  double max_ref = 0.0, max_diff = 0.0;
  EXPECT_EQ(got.size(), ref.size());
  for (size_t p = 0; p < std::min(got.size(), ref.size()); ++p) {
    for (size_t i = 0; i < ref[p].size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(ref[p][i]));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[p][i]) - ref[p][i]));
    }
  }
  return max_diff / std::max(max_ref, 1e-30);
}

Status LoadHf(const std::string& folder, std::unique_ptr<Model>* model) {
  std::unique_ptr<GgufFile> f;
  ONDO_RETURN_IF_ERROR(OpenHfModel(folder, &f));
  return Model::FromGguf(std::move(f), model);
}

std::string CaseName(const ::testing::TestParamInfo<HfCase>& info) {
  const HfCase& c = info.param;
  return fmt::format("{}_{}_{}{}{}{}{}", c.arch == RefArch::kLlama ? "llama" : "qwen2", c.dtype, c.vec_dtype,
                     c.tied ? "_tied" : "", c.shards > 1 ? fmt::format("_{}shards", c.shards) : "",
                     *c.rope != '\0' ? "_" : "", c.rope);
}

class HfImportTest : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfImportTest, MatchesReferenceAndGgufRoute) {
  const HfCase& c = GetParam();
  TempDir dir;
  RefModel ref;
  test::GgufWriter w;
  ASSERT_NO_FATAL_FAILURE(BuildFolder(c, dir, &ref, &w));
  ASSERT_TRUE(IsHfModelFolder(dir.path()));

  std::unique_ptr<Model> hf;
  Status st = LoadHf(dir.path(), &hf);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const ModelConfig& mc = hf->config();
  EXPECT_EQ(mc.n_vocab, test::kSyntheticVocab);
  EXPECT_EQ(mc.n_head_kv, ref.config.n_head_kv);
  EXPECT_EQ(mc.tied_output, c.tied);
  EXPECT_EQ(hf->gguf().FindTensor("output.weight") == nullptr, c.tied);
  EXPECT_EQ(mc.rope_freq_factors, std::string_view(c.rope) == "llama3");
  EXPECT_EQ(mc.rope_scaling == RopeScaling::kYarn, std::string_view(c.rope) == "yarn");

  std::vector<int32_t> all = kPrompt;
  all.push_back(5);
  all.push_back(42);
  const std::vector<std::vector<float>> got = RunLogits(*hf);
  const double err = RelError(got, test::ReferenceForward(ref, all));
  EXPECT_LT(err, c.dtype == "F32" ? 2e-3 : 1e-2) << "relative logit error vs the reference";

  // The same weights through the GGUF fixture: bitwise the same logits when nothing was
  // rounded differently (1-D tensors F32 in both).
  if (c.vec_dtype == "F32") {
    const std::string gguf_path = dir / "synthetic.gguf";
    ASSERT_TRUE(w.WriteFile(gguf_path));
    std::unique_ptr<Model> gm;
    st = Model::Load(gguf_path, &gm);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(got == RunLogits(*gm)) << "HF folder and GGUF file give different logits";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Folders, HfImportTest,
    ::testing::Values(HfCase{RefArch::kLlama, false, "F32", "F32", 1},
                      HfCase{RefArch::kLlama, true, "F32", "F32", 3},
                      HfCase{RefArch::kLlama, false, "F16", "F16", 1},
                      HfCase{RefArch::kLlama, false, "BF16", "F32", 2},
                      HfCase{RefArch::kLlama, false, "BF16", "BF16", 1},
                      HfCase{RefArch::kQwen2, false, "F32", "F32", 1},
                      HfCase{RefArch::kQwen2, true, "F16", "F32", 2},
                      HfCase{RefArch::kQwen2, false, "BF16", "BF16", 1},
                      HfCase{RefArch::kLlama, false, "F32", "F32", 1, "llama3"},
                      HfCase{RefArch::kQwen2, true, "F32", "F32", 1, "llama3"},
                      HfCase{RefArch::kQwen2, false, "F32", "F32", 1, "yarn"},
                      HfCase{RefArch::kLlama, false, "F16", "F32", 1, "yarn"}),
    CaseName);

TEST(HfImport, MetadataAsLlamaCppWritesIt) {
  for (RefArch arch : {RefArch::kLlama, RefArch::kQwen2}) {
    const bool llama = arch == RefArch::kLlama;
    TempDir dir;
    RefModel ref;
    test::GgufWriter w;
    ASSERT_NO_FATAL_FAILURE(BuildFolder(HfCase{arch}, dir, &ref, &w));
    std::unique_ptr<GgufFile> f;
    Status st = OpenHfModel(dir.path(), &f);
    ASSERT_TRUE(st.ok()) << st.ToString();
    const std::string a = llama ? "llama" : "qwen2";
    std::string_view s;
    ASSERT_TRUE(f->GetString("general.architecture", &s).ok());
    EXPECT_EQ(s, a);
    uint32_t u = 0;
    ASSERT_TRUE(f->GetU32(a + ".block_count", &u).ok());
    EXPECT_EQ(u, 2u);
    ASSERT_TRUE(f->GetU32(a + ".attention.head_count_kv", &u).ok());
    EXPECT_EQ(u, 2u);
    ASSERT_TRUE(f->GetString("tokenizer.ggml.model", &s).ok());
    EXPECT_EQ(s, "gpt2");
    ASSERT_TRUE(f->GetString("tokenizer.ggml.pre", &s).ok());
    EXPECT_EQ(s, llama ? "llama-bpe" : "qwen2");
    ASSERT_TRUE(f->GetString("tokenizer.chat_template", &s).ok());
    EXPECT_EQ(s, kChatTemplate);
    std::vector<std::string_view> tokens;
    ASSERT_TRUE(f->GetStringArray("tokenizer.ggml.tokens", &tokens).ok());
    ASSERT_EQ(tokens.size(), static_cast<size_t>(test::kSyntheticVocab));
    EXPECT_EQ(tokens[kEndOfText], "<|endoftext|>");
    EXPECT_EQ(tokens[287], "[PAD287]");
    std::vector<int32_t> types;
    ASSERT_TRUE(f->GetI32Array("tokenizer.ggml.token_type", &types).ok());
    EXPECT_EQ(types[kImStart], 3);   // special added token: control
    EXPECT_EQ(types[kToolCall], 4);  // <tool_call>: user-defined
    EXPECT_EQ(types[287], 5);   // padding: unused
    ASSERT_TRUE(f->GetU32("tokenizer.ggml.bos_token_id", &u).ok());
    EXPECT_EQ(u, static_cast<uint32_t>(kEndOfText));  // tokenizer_config (llama) or config.json (qwen2)
    ASSERT_TRUE(f->GetU32("tokenizer.ggml.eos_token_id", &u).ok());
    EXPECT_EQ(u, static_cast<uint32_t>(kImEnd));  // tokenizer_config, not config.json
    bool b = !llama;
    ASSERT_TRUE(f->GetBool("tokenizer.ggml.add_bos_token", &b).ok());
    EXPECT_EQ(b, llama);
    // The q/k permutation is a copy; everything else points into the mapping.
    const GgufTensorInfo* q = f->FindTensor("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->ne[0], 32);
    EXPECT_EQ(q->ne[1], 32);
    const GgufTensorInfo* v = f->FindTensor("blk.1.attn_v.weight");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->ne[1], 16);
    const uint8_t* m = f->mapping()->data();
    EXPECT_TRUE(v->data >= m && v->data < m + f->mapping()->size());
    EXPECT_EQ(q->data >= m && q->data < m + f->mapping()->size(), !llama);
  }
}

TEST(HfImport, TokenizesAsTokenizerJson) {
  const std::vector<std::string> texts = {
      "the hello world", "Hello, 12345 the\n\n  worlds", "\xea\xb0\x80 the <tool_call>x",
      "<|im_start|>user\nhello<|im_end|>\n", "caf\x65\xcc\x81 \xef\xbc\xa1", ""};
  for (RefArch arch : {RefArch::kLlama, RefArch::kQwen2}) {
    TempDir dir;
    RefModel ref;
    test::GgufWriter w;
    ASSERT_NO_FATAL_FAILURE(BuildFolder(HfCase{arch}, dir, &ref, &w));
    std::unique_ptr<Model> model;
    Status st = LoadHf(dir.path(), &model);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::unique_ptr<tokenizer::Tokenizer> hf;
    st = tokenizer::Tokenizer::FromHfJsonText(ReadAll(dir / "tokenizer.json"),
                                              ReadAll(dir / "tokenizer_config.json"), &hf);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (const std::string& text : texts) {
      for (bool special : {false, true}) {
        tokenizer::EncodeOptions opt;
        opt.add_special = special;
        opt.parse_special = special;
        std::vector<int32_t> want, got;
        ASSERT_TRUE(hf->Encode(text, opt, &want).ok());
        ASSERT_TRUE(model->tokenizer().Encode(text, opt, &got).ok());
        EXPECT_EQ(got, want) << "'" << text << "' special=" << special;
      }
    }
    EXPECT_TRUE(model->tokenizer().IsEog(kImEnd));
  }
}

// Llama 2 style tokenizer.json: character BPE with byte fallback, spaces as U+2581 by the
// normalizer. Imported as a SentencePiece ("llama") vocabulary with scores from the merges.
std::string CharBpeTokenizerJson() {
  const std::string sp = "\xe2\x96\x81";
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  int next = 259;
  for (const std::string& c : {sp, std::string("h"), std::string("e"), std::string("l"), std::string("o"),
                               std::string("w"), std::string("r"), std::string("d"), std::string("\xea\xb0\x80")}) {
    vocab[c] = next++;
  }
  // Pieces in SentencePiece score order; the merges are every split of each piece into two
  // pieces, in that order, as transformers' SentencePieceExtractor writes them.
  const std::vector<std::string> pieces = {sp + "h", "he", "ll", "llo", sp + "he", sp + "hello", "or",
                                           "wor", sp + "w", sp + "wor", sp + "word", sp + "\xea\xb0\x80"};
  for (const std::string& p : pieces) vocab[p] = next++;
  json merge_list = json::array();
  for (const std::string& p : pieces) {
    for (size_t cut = 1; cut < p.size(); ++cut) {
      const std::string a = p.substr(0, cut), b = p.substr(cut);
      if (vocab.contains(a) && vocab.contains(b)) merge_list.push_back(a + " " + b);
    }
  }
  json added = json::array();
  for (int id = 0; id < 3; ++id) {
    added.push_back({{"id", id}, {"content", id == 0 ? "<unk>" : id == 1 ? "<s>" : "</s>"}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json t = {{"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", sp}},
                                                                   {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", sp}}}}}},
            {"pre_tokenizer", nullptr},
            {"post_processor", {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                                {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
            {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}}},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true},
                       {"byte_fallback", true}, {"vocab", vocab}, {"merges", merge_list}}}};
  return t.dump(1);
}

TEST(HfImport, SentencePieceStyleTokenizer) {
  TempDir dir;
  RefModel ref;
  test::GgufWriter w;
  ASSERT_NO_FATAL_FAILURE(BuildFolder(HfCase{RefArch::kLlama}, dir, &ref, &w));
  WriteAll(dir / "tokenizer.json", CharBpeTokenizerJson());
  WriteAll(dir / "tokenizer_config.json", json({{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}}).dump());
  std::unique_ptr<Model> model;
  Status st = LoadHf(dir.path(), &model);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::string_view kind;
  ASSERT_TRUE(model->gguf().GetString("tokenizer.ggml.model", &kind).ok());
  EXPECT_EQ(kind, "llama");
  std::unique_ptr<tokenizer::Tokenizer> hf;
  st = tokenizer::Tokenizer::FromHfJsonText(ReadAll(dir / "tokenizer.json"), ReadAll(dir / "tokenizer_config.json"), &hf);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const std::string text : {"hello world", "hello  word", "\xea\xb0\x80 hello", "xyz \xea\xb0\x80\xea\xb0\x80",
                                 " hello", "ho world<s>wo", ""}) {
    for (bool special : {false, true}) {
      tokenizer::EncodeOptions opt;
      opt.add_special = special;
      opt.parse_special = special;
      std::vector<int32_t> want, got;
      ASSERT_TRUE(hf->Encode(text, opt, &want).ok());
      ASSERT_TRUE(model->tokenizer().Encode(text, opt, &got).ok());
      EXPECT_EQ(got, want) << "'" << text << "' special=" << special;
    }
  }
}

TEST(HfImport, ConvertsToOndo) {
  TempDir dir;
  RefModel ref;
  test::GgufWriter w;
  ASSERT_NO_FATAL_FAILURE(BuildFolder(HfCase{RefArch::kLlama}, dir, &ref, &w));
  std::unique_ptr<Model> hf;
  ASSERT_TRUE(LoadHf(dir.path(), &hf).ok());
  for (OndoQuant q : {OndoQuant::kKeep, OndoQuant::kQ8}) {
    std::unique_ptr<GgufFile> in;
    ASSERT_TRUE(OpenHfModel(dir.path(), &in).ok());
    const std::string out = test::UniqueTempPath(dir.path(), "out") + ".ondo";
    OndoWriteOptions opt;
    opt.quant = q;
    OndoWriteStats stats;
    Status st = WriteOndo(*in, out, opt, &stats);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(stats.n_tensors, static_cast<int>(in->tensors().size()));
    std::unique_ptr<Model> m;
    st = Model::Load(out, &m);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::string_view tmpl;
    EXPECT_TRUE(m->gguf().GetString("tokenizer.chat_template", &tmpl).ok());
    if (q == OndoQuant::kKeep) {
      EXPECT_TRUE(RunLogits(*m) == RunLogits(*hf)) << "keep: the .ondo model must give the same logits";
    } else {
      std::vector<int32_t> all = kPrompt;
      all.push_back(5);
      all.push_back(42);
      EXPECT_LT(RelError(RunLogits(*m), test::ReferenceForward(ref, all)), 0.05);
    }
  }
}

// --- faults ---------------------------------------------------------------------------------

class HfFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RefModel ref;
    test::GgufWriter w;
    ASSERT_NO_FATAL_FAILURE(BuildFolder(HfCase{RefArch::kLlama}, dir_, &ref, &w));
    st_bytes_ = ReadAll(dir_ / "model.safetensors");
    config_ = json::parse(ReadAll(dir_ / "config.json"));
  }
  // Opens the folder; the error must have `code` and mention `needle`.
  void ExpectError(StatusCode code, const std::string& needle) {
    std::unique_ptr<GgufFile> f;
    const Status st = OpenHfModel(dir_.path(), &f);
    ASSERT_FALSE(st.ok()) << "expected an error mentioning '" << needle << "'";
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.ToString();
  }
  void SetConfig(const json& c) { WriteAll(dir_ / "config.json", c.dump()); }
  // Rewrites model.safetensors with its header JSON edited by `edit`.
  template <typename Edit>
  void EditHeader(Edit edit) {
    uint64_t n = 0;
    std::memcpy(&n, st_bytes_.data(), 8);
    json h = json::parse(st_bytes_.substr(8, n));
    edit(h);
    std::string text = h.dump();
    while (text.size() % 8) text.push_back(' ');
    std::string out(8, '\0');
    const uint64_t m = text.size();
    std::memcpy(out.data(), &m, 8);
    WriteAll(dir_ / "model.safetensors", out + text + st_bytes_.substr(8 + n));
  }

  TempDir dir_;
  std::string st_bytes_;
  json config_;
};

TEST_F(HfFaultTest, TruncatedSafetensors) {
  for (size_t keep : {size_t{0}, size_t{5}, size_t{8}, size_t{40}, st_bytes_.size() - 3}) {
    WriteAll(dir_ / "model.safetensors", st_bytes_.substr(0, keep));
    std::unique_ptr<GgufFile> f;
    const Status st = OpenHfModel(dir_.path(), &f);
    EXPECT_EQ(st.code(), StatusCode::kCorrupt) << keep << ": " << st.ToString();
    EXPECT_NE(st.message().find("model.safetensors"), std::string::npos) << st.ToString();
  }
}

TEST_F(HfFaultTest, HeaderLengthBeyondFile) {
  std::string bad = st_bytes_;
  const uint64_t n = bad.size();  // 8 + n > size
  std::memcpy(bad.data(), &n, 8);
  WriteAll(dir_ / "model.safetensors", bad);
  ExpectError(StatusCode::kCorrupt, "header length");
  const uint64_t huge = ~uint64_t{0} - 3;
  std::memcpy(bad.data(), &huge, 8);
  WriteAll(dir_ / "model.safetensors", bad);
  ExpectError(StatusCode::kCorrupt, "header length");
}

TEST_F(HfFaultTest, BadHeaderFields) {
  EditHeader([](json& h) { h["model.norm.weight"]["data_offsets"][1] = 1ull << 40; });
  ExpectError(StatusCode::kCorrupt, "model.norm.weight");
  EditHeader([](json& h) { h["model.norm.weight"]["shape"] = {31}; });
  ExpectError(StatusCode::kCorrupt, "model.norm.weight");
  EditHeader([](json& h) { h["model.norm.weight"]["shape"] = {-1}; });
  ExpectError(StatusCode::kCorrupt, "model.norm.weight");
  EditHeader([](json& h) { h["model.norm.weight"].erase("dtype"); });
  ExpectError(StatusCode::kCorrupt, "model.norm.weight");
  EditHeader([](json& h) { h["model.norm.weight"]["data_offsets"] = {8, 4}; });
  ExpectError(StatusCode::kCorrupt, "model.norm.weight");
}

TEST_F(HfFaultTest, UnsupportedDtype) {
  // Same byte size, a dtype ondo does not take.
  EditHeader([](json& h) { h["model.layers.1.mlp.up_proj.weight"]["dtype"] = "I32"; });
  ExpectError(StatusCode::kUnsupported, "model.layers.1.mlp.up_proj.weight");
  EditHeader([](json& h) { h["model.norm.weight"]["dtype"] = "F8_E9M9"; });
  ExpectError(StatusCode::kUnsupported, "model.norm.weight");
}

TEST_F(HfFaultTest, UnknownAndMissingTensors) {
  EditHeader([](json& h) {
    h["model.layers.0.self_attn.q_norm.weight"] = h["model.norm.weight"];
  });
  ExpectError(StatusCode::kUnsupported, "model.layers.0.self_attn.q_norm.weight");
  EditHeader([](json& h) { h["model.layers.7.mlp.up_proj.weight"] = h["model.layers.1.mlp.up_proj.weight"]; });
  ExpectError(StatusCode::kUnsupported, "model.layers.7.mlp.up_proj.weight");
  EditHeader([](json& h) { h.erase("model.layers.1.mlp.down_proj.weight"); });
  ExpectError(StatusCode::kNotFound, "model.layers.1.mlp.down_proj.weight");
  // A qwen2 bias on llama has no counterpart.
  EditHeader([](json& h) { h["model.layers.0.self_attn.q_proj.bias"] = h["model.norm.weight"]; });
  ExpectError(StatusCode::kUnsupported, "model.layers.0.self_attn.q_proj.bias");
  // inv_freq buffers are dropped, as llama.cpp drops them.
  EditHeader([](json& h) { h["model.layers.0.self_attn.rotary_emb.inv_freq"] = h["model.norm.weight"]; });
  std::unique_ptr<GgufFile> f;
  EXPECT_TRUE(OpenHfModel(dir_.path(), &f).ok());
}

TEST_F(HfFaultTest, ConfigFaults) {
  auto with = [&](const char* key, const json& v) {
    json c = config_;
    c[key] = v;
    SetConfig(c);
  };
  for (const char* key : {"hidden_size", "num_hidden_layers", "rms_norm_eps", "vocab_size", "architectures"}) {
    json c = config_;
    c.erase(key);
    SetConfig(c);
    ExpectError(StatusCode::kNotFound, key);
  }
  with("architectures", {"MistralForCausalLM"});
  ExpectError(StatusCode::kUnsupported, "MistralForCausalLM");
  with("rope_scaling", {{"rope_type", "longrope"}, {"factor", 8.0}});
  ExpectError(StatusCode::kUnsupported, "rope_scaling");
  with("rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}});
  ExpectError(StatusCode::kUnsupported, "rope_scaling");
  // YaRN and llama3 fields ondo does not model are refused by name.
  with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"attention_factor", 0.8}});
  ExpectError(StatusCode::kUnsupported, "attention_factor");
  with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"beta_fast", 16.0}});
  ExpectError(StatusCode::kUnsupported, "beta_fast");
  with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"mscale", 1.0}});
  ExpectError(StatusCode::kUnsupported, "mscale");
  with("attention_bias", true);
  ExpectError(StatusCode::kUnsupported, "attention_bias");
  with("mlp_bias", true);
  ExpectError(StatusCode::kUnsupported, "mlp_bias");
  with("use_sliding_window", true);
  ExpectError(StatusCode::kUnsupported, "use_sliding_window");
  with("hidden_act", "gelu");
  ExpectError(StatusCode::kUnsupported, "hidden_act");
  with("quantization_config", {{"quant_method", "gptq"}});
  ExpectError(StatusCode::kUnsupported, "quantization_config");
  with("hidden_size", 48);  // tensors no longer match
  ExpectError(StatusCode::kCorrupt, "shape");
  with("num_key_value_heads", 3);
  ExpectError(StatusCode::kCorrupt, "num_key_value_heads");
  with("hidden_size", "32");
  ExpectError(StatusCode::kCorrupt, "hidden_size");
  WriteAll(dir_ / "config.json", "{\"architectures\": [");
  ExpectError(StatusCode::kCorrupt, "config.json");
  // Linear rope scaling is modelled.
  with("rope_scaling", {{"type", "linear"}, {"factor", 2.0}});
  std::unique_ptr<GgufFile> f;
  Status st = OpenHfModel(dir_.path(), &f);
  ASSERT_TRUE(st.ok()) << st.ToString();
  float factor = 0;
  EXPECT_TRUE(f->GetF32("llama.rope.scaling.factor", &factor).ok());
  EXPECT_EQ(factor, 2.0f);
}

TEST_F(HfFaultTest, MissingFilesAndIndexFaults) {
  fs::remove(dir_ / "tokenizer.json");
  ExpectError(StatusCode::kNotFound, "tokenizer.json");
  WriteAll(dir_ / "tokenizer.json", TokenizerJson(true));
  fs::remove(dir_ / "model.safetensors");
  ExpectError(StatusCode::kNotFound, "model.safetensors");
  WriteAll(dir_ / "model.safetensors", st_bytes_);
  json index = {{"weight_map", {{"model.norm.weight", "../escape.safetensors"}}}};
  WriteAll(dir_ / "model.safetensors.index.json", index.dump());
  ExpectError(StatusCode::kCorrupt, "escape");
  index = {{"weight_map", {{"model.norm.weight", "model.safetensors"}, {"lm_head.bias", "model.safetensors"}}}};
  WriteAll(dir_ / "model.safetensors.index.json", index.dump());
  ExpectError(StatusCode::kCorrupt, "lm_head.bias");
  index = {{"weight_map", {{"model.norm.weight", "model-2.safetensors"}}}};
  WriteAll(dir_ / "model.safetensors.index.json", index.dump());
  ExpectError(StatusCode::kNotFound, "model-2.safetensors");
}

TEST_F(HfFaultTest, UnsupportedTokenizer) {
  json t = json::parse(TokenizerJson(true));
  t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+";
  WriteAll(dir_ / "tokenizer.json", t.dump());
  ExpectError(StatusCode::kUnsupported, "pre-tokenizer");
  t = json::parse(TokenizerJson(true));
  t["model"]["vocab"]["extra"] = 400;  // more ids than vocab_size
  WriteAll(dir_ / "tokenizer.json", t.dump());
  ExpectError(StatusCode::kCorrupt, "vocab_size");
}

TEST(HfImport, IsHfModelFolder) {
  TempDir dir;
  EXPECT_FALSE(IsHfModelFolder(dir.path()));
  EXPECT_FALSE(IsHfModelFolder(dir / "nothing"));
  WriteAll(dir / "config.json", "{}");
  EXPECT_TRUE(IsHfModelFolder(dir.path()));
  EXPECT_FALSE(IsHfModelFolder(dir / "config.json"));
}

}  // namespace
}  // namespace ondo::runtime
