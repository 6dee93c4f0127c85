// Model loading: hyper-parameters from "<arch>.*" metadata, weight views checked for shape
// and type. Tensor names follow llama.cpp (blk.N.attn_q.weight, ...).
#include "runtime/model.h"

#include <algorithm>
#include <cmath>

#include "runtime/ondo_format.h"
#include "runtime/vocab_from_gguf.h"

namespace ondo::runtime {

const char* ArchName(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
    case Arch::kGptNeox: return "gptneox";
  }
  return "?";
}

Status Model::Load(const std::string& path, std::unique_ptr<Model>* out) {
  std::unique_ptr<GgufFile> gguf;
  ONDO_RETURN_IF_ERROR(OpenModelFile(path, &gguf));
  Status s = FromGguf(std::move(gguf), out);
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  return s;
}

Status Model::FromGguf(std::unique_ptr<GgufFile> gguf, std::unique_ptr<Model>* out) {
  std::unique_ptr<Model> m(new Model());
  m->gguf_ = std::move(gguf);
  ONDO_RETURN_IF_ERROR(m->Init());
  *out = std::move(m);
  return Status::Ok();
}

Status Model::View(const std::string& name, int64_t n_cols, int64_t n_rows, bool required,
                   WeightView* out) {
  const GgufTensorInfo* t = gguf_->FindTensor(name);
  if (t == nullptr) {
    if (required) return NotFound("tensor '{}' is missing", name);
    *out = WeightView{};
    return Status::Ok();
  }
  const bool one_d = n_rows == 0;
  const int64_t want_rows = one_d ? 1 : n_rows;
  if (t->ne[0] != n_cols || t->ne[1] != want_rows || t->ne[2] != 1 || t->ne[3] != 1) {
    return Corrupt("tensor '{}' has shape [{}, {}, {}, {}], expected [{}, {}]", name, t->ne[0],
                   t->ne[1], t->ne[2], t->ne[3], n_cols, want_rows);
  }
  const kernels::TypeInfo& info = kernels::Info(t->type);
  if (one_d && t->type != kernels::DType::kF32) {
    return Unsupported("tensor '{}' is {}; norms and biases must be F32", name, info.name);
  }
  if (!info.supported) {
    return Unsupported("tensor '{}' has type {}, which ondo does not support (supported weight types: {})", name, info.name, kernels::SupportedTypeNames());
  }
  out->type = t->type;
  out->n_cols = n_cols;
  out->n_rows = want_rows;
  out->row_bytes = kernels::RowBytes(t->type, n_cols);
  out->data = t->data;
  // Kernels read through float (F32) or 2-byte (F16, BF16, block scales) pointers; a file with
  // general.alignment 1 or 2 can place any tensor, 1-D norms included, off that alignment.
  const uintptr_t need = t->type == kernels::DType::kF32 ? 4 : 2;
  if (reinterpret_cast<uintptr_t>(t->data) % need != 0) {
    return Corrupt("tensor '{}' is not {}-byte aligned (general.alignment {})", name, need, gguf_->alignment());
  }
  return Status::Ok();
}

Status Model::Init() {
  const GgufFile& g = *gguf_;
  std::string_view arch_name;
  ONDO_RETURN_IF_ERROR(g.GetString("general.architecture", &arch_name));
  ModelConfig& c = config_;
  if (arch_name == "llama") {
    c.arch = Arch::kLlama;
  } else if (arch_name == "qwen2") {
    c.arch = Arch::kQwen2;
  } else if (arch_name == "qwen3") {
    c.arch = Arch::kQwen3;
  } else if (arch_name == "gptneox") {
    c.arch = Arch::kGptNeox;
  } else {
    return Unsupported("architecture '{}' is not supported (llama, qwen2, qwen3, gptneox are)", arch_name);
  }
  const std::string a(arch_name);
  auto key = [&a](const char* k) { return a + "." + k; };
  uint32_t n_embd = 0, n_layer = 0, n_head = 0, n_ff = 0, n_ctx = 0;
  ONDO_RETURN_IF_ERROR(g.GetU32(key("embedding_length"), &n_embd));
  ONDO_RETURN_IF_ERROR(g.GetU32(key("block_count"), &n_layer));
  ONDO_RETURN_IF_ERROR(g.GetU32(key("attention.head_count"), &n_head));
  ONDO_RETURN_IF_ERROR(g.GetU32(key("feed_forward_length"), &n_ff));
  ONDO_RETURN_IF_ERROR(g.GetU32(key("context_length"), &n_ctx));
  uint32_t n_head_kv = n_head;
  ONDO_RETURN_IF_ERROR(g.GetU32Opt(key("attention.head_count_kv"), &n_head_kv));
  // Sanity bounds: far above any model that fits in 3 GB, far below overflow.
  if (n_embd == 0 || n_embd > 65536) return Corrupt("embedding_length {} is out of range", n_embd);
  if (n_layer == 0 || n_layer > 1024) return Corrupt("block_count {} is out of range", n_layer);
  if (n_head == 0 || n_head > 1024) return Corrupt("head_count {} is out of range", n_head);
  if (n_head_kv == 0 || n_head_kv > n_head || n_head % n_head_kv != 0) {
    return Corrupt("head_count_kv {} does not divide head_count {}", n_head_kv, n_head);
  }
  if (n_ff == 0 || n_ff > 1048576) return Corrupt("feed_forward_length {} is out of range", n_ff);
  uint32_t head_dim = n_embd / n_head;
  ONDO_RETURN_IF_ERROR(g.GetU32Opt(key("attention.key_length"), &head_dim));
  uint32_t v_dim = head_dim;
  ONDO_RETURN_IF_ERROR(g.GetU32Opt(key("attention.value_length"), &v_dim));
  if (head_dim == 0 || head_dim > 1024 || head_dim % 2 != 0) return Corrupt("head dimension {} is out of range", head_dim);
  if (v_dim != head_dim) return Unsupported("value_length {} != key_length {}", v_dim, head_dim);
  uint32_t n_rot = head_dim;
  ONDO_RETURN_IF_ERROR(g.GetU32Opt(key("rope.dimension_count"), &n_rot));
  if (n_rot == 0 || n_rot > head_dim || n_rot % 2 != 0) return Corrupt("rope.dimension_count {} is invalid for head dimension {}", n_rot, head_dim);
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.freq_base"), &c.rope_freq_base));
  if (!(c.rope_freq_base > 0.0f) || !std::isfinite(c.rope_freq_base)) return Corrupt("rope.freq_base must be positive");
  float rope_scale = 1.0f;
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scaling.factor"), &rope_scale));
  if (!(rope_scale > 0.0f) || !std::isfinite(rope_scale)) return Corrupt("rope.scaling.factor must be positive");
  c.rope_freq_scale = 1.0f / rope_scale;
  if (g.Find(key("rope.scaling.type")) != nullptr) {
    std::string_view type;
    ONDO_RETURN_IF_ERROR(g.GetString(key("rope.scaling.type"), &type));
    if (type != "none" && type != "linear") return Unsupported("rope scaling '{}' is not supported", type);
  }

  c.n_embd = static_cast<int>(n_embd);
  c.n_layer = static_cast<int>(n_layer);
  c.n_head = static_cast<int>(n_head);
  c.n_head_kv = static_cast<int>(n_head_kv);
  c.head_dim = static_cast<int>(head_dim);
  c.n_ff = static_cast<int>(n_ff);
  c.n_ctx_train = static_cast<int>(n_ctx);
  c.n_rot = static_cast<int>(n_rot);
  if (c.arch == Arch::kGptNeox) {
    c.layer_norm = true;
    c.gelu_ffn = true;
    c.parallel_residual = true;
    ONDO_RETURN_IF_ERROR(g.GetBoolOpt(key("use_parallel_residual"), &c.parallel_residual));
    c.rope_mode = kernels::RopeMode::kNeox;
    ONDO_RETURN_IF_ERROR(g.GetF32(key("attention.layer_norm_epsilon"), &c.norm_eps));
  } else {
    c.rope_mode = c.arch == Arch::kLlama ? kernels::RopeMode::kNormal : kernels::RopeMode::kNeox;
    ONDO_RETURN_IF_ERROR(g.GetF32(key("attention.layer_norm_rms_epsilon"), &c.norm_eps));
  }
  if (!(c.norm_eps > 0.0f) || !(c.norm_eps < 1.0f)) return Corrupt("norm epsilon {} is out of range", c.norm_eps);

  // Tokenizer.
  tokenizer::VocabSpec spec;
  ONDO_RETURN_IF_ERROR(VocabSpecFromGguf(g, &spec));
  ONDO_RETURN_IF_ERROR(tokenizer::Tokenizer::Create(std::move(spec), &tokenizer_));

  // Weights.
  const GgufTensorInfo* embd = g.FindTensor("token_embd.weight");
  if (embd == nullptr) return NotFound("tensor 'token_embd.weight' is missing");
  c.n_vocab = static_cast<int>(std::min<int64_t>(embd->ne[1], 1 << 24));
  if (embd->ne[1] > (1 << 22)) return Corrupt("vocabulary of {} rows is out of range", embd->ne[1]);
  if (tokenizer_->n_vocab() > c.n_vocab) {
    return Corrupt("tokenizer has {} tokens but token_embd has only {} rows", tokenizer_->n_vocab(), c.n_vocab);
  }
  const int64_t E = c.n_embd, Q = c.n_embd_q(), KV = c.n_embd_kv(), F = c.n_ff, V = c.n_vocab;
  ONDO_RETURN_IF_ERROR(View("token_embd.weight", E, V, true, &tok_embd_));
  ONDO_RETURN_IF_ERROR(View("output_norm.weight", E, 0, true, &output_norm_));
  ONDO_RETURN_IF_ERROR(View("output_norm.bias", E, 0, c.layer_norm, &output_norm_b_));
  ONDO_RETURN_IF_ERROR(View("output.weight", E, V, false, &output_));
  ONDO_RETURN_IF_ERROR(View("output.bias", V, 0, false, &output_b_));
  if (!output_.present()) {
    c.tied_output = true;
    output_ = tok_embd_;
  }

  layers_.reset(new LayerWeights[static_cast<size_t>(c.n_layer)]);
  for (int i = 0; i < c.n_layer; ++i) {
    LayerWeights& L = layers_[static_cast<size_t>(i)];
    auto name = [i](const char* t) { return fmt::format("blk.{}.{}", i, t); };
    ONDO_RETURN_IF_ERROR(View(name("attn_norm.weight"), E, 0, true, &L.attn_norm));
    if (c.arch == Arch::kGptNeox) {
      ONDO_RETURN_IF_ERROR(View(name("attn_norm.bias"), E, 0, true, &L.attn_norm_b));
      ONDO_RETURN_IF_ERROR(View(name("attn_qkv.weight"), E, Q + 2 * KV, true, &L.wqkv));
      ONDO_RETURN_IF_ERROR(View(name("attn_qkv.bias"), Q + 2 * KV, 0, true, &L.bqkv));
      ONDO_RETURN_IF_ERROR(View(name("attn_output.bias"), E, 0, true, &L.bo));
      ONDO_RETURN_IF_ERROR(View(name("ffn_norm.weight"), E, 0, true, &L.ffn_norm));
      ONDO_RETURN_IF_ERROR(View(name("ffn_norm.bias"), E, 0, true, &L.ffn_norm_b));
      ONDO_RETURN_IF_ERROR(View(name("ffn_up.bias"), F, 0, true, &L.ffn_up_b));
      ONDO_RETURN_IF_ERROR(View(name("ffn_down.bias"), E, 0, true, &L.ffn_down_b));
    } else {
      const bool qkv_bias = c.arch == Arch::kQwen2;
      ONDO_RETURN_IF_ERROR(View(name("attn_q.weight"), E, Q, true, &L.wq));
      ONDO_RETURN_IF_ERROR(View(name("attn_k.weight"), E, KV, true, &L.wk));
      ONDO_RETURN_IF_ERROR(View(name("attn_v.weight"), E, KV, true, &L.wv));
      ONDO_RETURN_IF_ERROR(View(name("attn_q.bias"), Q, 0, qkv_bias, &L.bq));
      ONDO_RETURN_IF_ERROR(View(name("attn_k.bias"), KV, 0, qkv_bias, &L.bk));
      ONDO_RETURN_IF_ERROR(View(name("attn_v.bias"), KV, 0, qkv_bias, &L.bv));
      ONDO_RETURN_IF_ERROR(View(name("attn_output.bias"), E, 0, false, &L.bo));
      if (c.arch == Arch::kQwen3) {
        ONDO_RETURN_IF_ERROR(View(name("attn_q_norm.weight"), c.head_dim, 0, true, &L.q_norm));
        ONDO_RETURN_IF_ERROR(View(name("attn_k_norm.weight"), c.head_dim, 0, true, &L.k_norm));
      }
      ONDO_RETURN_IF_ERROR(View(name("ffn_norm.weight"), E, 0, true, &L.ffn_norm));
      ONDO_RETURN_IF_ERROR(View(name("ffn_gate.weight"), E, F, true, &L.ffn_gate));
    }
    ONDO_RETURN_IF_ERROR(View(name("attn_output.weight"), Q, E, true, &L.wo));
    ONDO_RETURN_IF_ERROR(View(name("ffn_up.weight"), E, F, true, &L.ffn_up));
    ONDO_RETURN_IF_ERROR(View(name("ffn_down.weight"), F, E, true, &L.ffn_down));
  }
  for (const auto& t : g.tensors()) weight_bytes_ += t.bytes;
  return Status::Ok();
}

namespace {

struct Fnv1a {
  uint64_t h = 0xcbf29ce484222325ull;
  void Bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  template <typename T>
  void Value(T v) { Bytes(&v, sizeof(v)); }
  // Length first, so ("ab", "c") and ("a", "bc") differ.
  void Text(std::string_view s) {
    Value<uint64_t>(s.size());
    Bytes(s.data(), s.size());
  }
};

}  // namespace

uint64_t ModelIdentity(const Model& model) {
  Fnv1a f;
  const ModelConfig& c = model.config();
  f.Value(static_cast<int>(c.arch));
  for (int v : {c.n_vocab, c.n_embd, c.n_layer, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_ctx_train, c.n_rot}) {
    f.Value(v);
  }
  for (float v : {c.rope_freq_base, c.rope_freq_scale, c.norm_eps}) f.Value(v);
  f.Value(static_cast<int>(c.rope_mode));
  for (bool v : {c.layer_norm, c.parallel_residual, c.gelu_ffn, c.tied_output}) f.Value(v);
  for (const GgufTensorInfo& t : model.gguf().tensors()) {
    f.Text(t.name);
    f.Value(static_cast<int>(t.type));
    f.Value(t.n_dims);
    for (int64_t n : t.ne) f.Value(n);
    if (t.data != nullptr) f.Bytes(t.data, std::min<size_t>(t.bytes, 64));
  }
  const tokenizer::Tokenizer& tok = model.tokenizer();
  f.Value(tok.n_vocab());
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    f.Text(tok.TokenText(id));
    f.Value(static_cast<int>(tok.GetTokenType(id)));
  }
  return f.h;
}

}  // namespace ondo::runtime
