// Model loading: hyper-parameters from "<arch>.*" metadata, weight views checked for shape
// and type. Tensor names follow llama.cpp (blk.N.attn_q.weight, ...).
#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "runtime/ondo_format.h"
#include "runtime/vocab_from_gguf.h"

namespace ondo::runtime {

const char* ArchName(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
    case Arch::kGptNeox: return "gptneox";
    case Arch::kGemma3: return "gemma3";
    case Arch::kExaone: return "exaone";
  }
  return "?";
}

const char* RopeScalingName(RopeScaling s) {
  switch (s) {
    case RopeScaling::kNone: return "none";
    case RopeScaling::kLinear: return "linear";
    case RopeScaling::kYarn: return "yarn";
  }
  return "?";
}

namespace {

// --- metadata keys ------------------------------------------------------------------------
// Every key of the architecture's namespace ("<arch>.<suffix>") a file may carry and what ondo
// does with it: ONE list, a reason per entry. A key not listed is refused, so an unknown or
// future key (a multiplier, a window, a cap) cannot be silently ignored: a plausible wrong
// answer is worse than a refusal. Keys outside the namespace: kOtherNamespaces below.
enum class KeyUse {
  kRead,         // read by Model::Init and implemented
  kIgnored,      // known not to change the computation
  kNeutralOnly,  // a no-op at its neutral value, accepted only with it
  kUnsupported,  // changes the computation in a way ondo does not implement
};
struct KeyRule {
  std::string_view suffix;
  KeyUse use;
  std::string_view reason;  // kUnsupported / kNeutralOnly: what the key does, for the message
  double neutral = 0.0;     // kNeutralOnly
  // Non-empty: the key is read only for this architecture and refused (with `reason`) for
  // the others.
  std::string_view only_arch = {};
};
constexpr KeyRule kArchKeyRules[] = {
    {"context_length", KeyUse::kRead, "n_ctx_train: the default context, YaRN's default original context"},
    {"embedding_length", KeyUse::kRead, "n_embd"},
    {"block_count", KeyUse::kRead, "n_layer"},
    {"feed_forward_length", KeyUse::kRead, "n_ff"},
    {"attention.head_count", KeyUse::kRead, "n_head"},
    {"attention.head_count_kv", KeyUse::kRead, "n_head_kv (GQA)"},
    {"attention.key_length", KeyUse::kRead, "head_dim"},
    {"attention.value_length", KeyUse::kRead, "must equal key_length"},
    {"attention.layer_norm_rms_epsilon", KeyUse::kRead, "RMSNorm epsilon (llama, qwen2, qwen3, gemma3, exaone)"},
    {"attention.layer_norm_epsilon", KeyUse::kRead, "LayerNorm epsilon (gptneox; llama.cpp ignores it elsewhere too)"},
    {"use_parallel_residual", KeyUse::kRead, "gptneox residual form (llama.cpp ignores it elsewhere too)"},
    {"rope.dimension_count", KeyUse::kRead, "n_rot (partial rotary)"},
    {"rope.freq_base", KeyUse::kRead, "rope base"},
    {"rope.scaling.type", KeyUse::kRead, "none, linear, yarn implemented; other types refused"},
    {"rope.scaling.factor", KeyUse::kRead, "linear / YaRN factor"},
    {"rope.scale_linear", KeyUse::kRead, "old name of rope.scaling.factor, read as llama.cpp does"},
    {"rope.scaling.original_context_length", KeyUse::kRead, "YaRN's original context (unused by linear)"},
    {"rope.scaling.yarn_ext_factor", KeyUse::kRead, "YaRN extrapolation mix"},
    {"rope.scaling.yarn_attn_factor", KeyUse::kRead, "YaRN magnitude factor"},
    {"rope.scaling.yarn_beta_fast", KeyUse::kRead, "YaRN ramp start"},
    {"rope.scaling.yarn_beta_slow", KeyUse::kRead, "YaRN ramp end"},
    {"vocab_size", KeyUse::kIgnored, "informational: n_vocab is token_embd's row count"},
    {"rope.scaling.finetuned", KeyUse::kIgnored, "informational: llama.cpp reads it and never uses it"},
    {"tensor_data_layout", KeyUse::kIgnored, "informational: the converter already laid q/k out as ggml rotates them"},
    {"expert_count", KeyUse::kNeutralOnly, "mixture of experts", 0.0},
    {"expert_used_count", KeyUse::kNeutralOnly, "mixture of experts", 0.0},
    {"attention.causal", KeyUse::kNeutralOnly, "non-causal attention", 1.0},
    {"attention.max_alibi_bias", KeyUse::kNeutralOnly, "ALiBi position bias", 0.0},
    {"rope.scaling.attn_factor", KeyUse::kNeutralOnly, "rope magnitude scaling", 1.0},
    {"embedding_scale", KeyUse::kNeutralOnly, "an embedding multiplier", 1.0},
    {"residual_scale", KeyUse::kNeutralOnly, "a residual multiplier", 1.0},
    {"logit_scale", KeyUse::kNeutralOnly, "a logit multiplier", 1.0},
    {"attention.scale", KeyUse::kUnsupported, "an attention scale other than 1/sqrt(head_dim)"},
    {"final_logit_softcapping", KeyUse::kUnsupported, "logit soft-capping"},
    {"attn_logit_softcapping", KeyUse::kUnsupported, "attention logit soft-capping"},
    {"attention.sliding_window", KeyUse::kRead, "sliding-window attention (implemented for gemma3 only: its local layers' window)", 0.0, "gemma3"},
    {"attention.sliding_window_pattern", KeyUse::kUnsupported, "sliding-window attention"},
    {"rope.freq_base_swa", KeyUse::kUnsupported, "a rope base for sliding-window layers"},
    {"rope.dimension_sections", KeyUse::kUnsupported, "multi-section rope (M-RoPE)"},
    {"rope.scaling.yarn_log_multiplier", KeyUse::kUnsupported, "YaRN log multiplier"},
    {"attention.clamp_kqv", KeyUse::kUnsupported, "clamping of q, k, v"},
    {"expert_shared_count", KeyUse::kUnsupported, "mixture of experts"},
    {"expert_feed_forward_length", KeyUse::kUnsupported, "mixture of experts"},
};

// Namespaces other than the architecture's. A key in none of them is refused like an unknown
// architecture key.
struct NamespaceRule {
  std::string_view prefix;
  std::string_view reason;
};
constexpr NamespaceRule kOtherNamespaces[] = {
    {"general.", "architecture read here, alignment by the GGUF reader; name, license, file_type, ... describe the file"},
    {"tokenizer.", "read by the tokenizer (runtime/vocab_from_gguf.cc)"},
    {"quantize.", "llama-quantize's provenance (imatrix file, dataset, counts): informational"},
    {"ondo.", "the .ondo manifest's shard tables (runtime/ondo_format.cc) and test keys: informational"},
    {"split.", "gguf-split bookkeeping: ondo reads one file, a tensor in another split is missing and refused"},
};

bool IsNeutral(const GgufValue& v, double neutral) {
  switch (v.type) {
    case GgufType::kBool: return (v.scalar.b ? 1.0 : 0.0) == neutral;
    case GgufType::kF32: case GgufType::kF64: return v.scalar.f64 == neutral;
    case GgufType::kI8: case GgufType::kI16: case GgufType::kI32: case GgufType::kI64:
      return static_cast<double>(v.scalar.i64) == neutral;
    default: return v.IsInteger() && static_cast<double>(v.scalar.u64) == neutral;
  }
}

Status CheckMetadataKeys(const GgufFile& g, std::string_view arch) {
  for (const GgufKv& kv : g.kvs()) {
    const std::string_view key = kv.key;
    if (key.size() > arch.size() && key.starts_with(arch) && key[arch.size()] == '.') {
      const std::string_view suffix = key.substr(arch.size() + 1);
      const KeyRule* rule = nullptr;
      for (const KeyRule& r : kArchKeyRules) {
        if (r.suffix == suffix) rule = &r;
      }
      if (rule == nullptr) {
        return Unsupported("metadata key '{}' is not known to ondo and may change what the model computes; refusing rather than ignoring it", key);
      }
      if (!rule->only_arch.empty() && rule->only_arch != arch) {
        return Unsupported("metadata key '{}' = {} ({}) is not supported by ondo for architecture '{}'", key,
                           GgufFile::ValueToString(kv.value), rule->reason, arch);
      }
      if (rule->use == KeyUse::kUnsupported ||
          (rule->use == KeyUse::kNeutralOnly && !IsNeutral(kv.value, rule->neutral))) {
        return Unsupported("metadata key '{}' = {} ({}) is not supported by ondo", key,
                           GgufFile::ValueToString(kv.value), rule->reason);
      }
      continue;
    }
    bool known = false;
    for (const NamespaceRule& n : kOtherNamespaces) known = known || key.starts_with(n.prefix);
    if (!known) {
      return Unsupported("metadata key '{}' is not known to ondo (neither '{}.*' nor general, tokenizer, quantize, ondo, split); refusing rather than ignoring it", key, arch);
    }
  }
  return Status::Ok();
}

// YaRN's correction dimension for `n_rot_turns` rotations over the original context, as
// ggml_rope_yarn_corr_dim (float).
float YarnCorrDim(int n_dims, int n_ctx_orig, float n_rot_turns, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rot_turns * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

}  // namespace

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
  const size_t index = static_cast<size_t>(t - gguf_->tensors().data());
  if (index < tensor_used_.size()) tensor_used_[index] = true;
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
  } else if (arch_name == "gemma3") {
    c.arch = Arch::kGemma3;
  } else if (arch_name == "exaone") {
    // EXAONE 3.0/3.5 (llama.cpp's LLM_ARCH_EXAONE): llama's blocks and tensor names (the
    // converter renames Hugging Face's), NEOX rope, rope_freqs.weight (llama3 factors) in 3.5.
    c.arch = Arch::kExaone;
  } else {
    return Unsupported("architecture '{}' is not supported (llama, qwen2, qwen3, gemma3, gptneox, exaone are)", arch_name);
  }
  ONDO_RETURN_IF_ERROR(CheckMetadataKeys(g, arch_name));
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
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch == Arch::kGemma3) {
    // As llama.cpp (llama_model::load_hparams, build_gemma3): embeddings times sqrt(n_embd),
    // norms after attention and FFN, GELU-gated FFN, five sliding-window layers of six with
    // rope base 10000 unscaled. The norm weights need no "+1": llama.cpp's converter stores
    // Gemma's (1 + w). Hugging Face multiplies by sqrt(n_embd) rounded to the weights' dtype
    // (bf16: 34 for n_embd 1152); llama.cpp and ondo use it unrounded.
    c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
    c.post_norms = true;
    c.gelu_gated_ffn = true;
    c.swa_pattern = 6;
    c.rope_freq_base_swa = 10000.0f;
    uint32_t n_swa = 0;
    ONDO_RETURN_IF_ERROR(g.GetU32(key("attention.sliding_window"), &n_swa));
    if (n_swa == 0 || n_swa > (1u << 24)) return Corrupt("attention.sliding_window {} is out of range", n_swa);
    c.n_swa = static_cast<int>(n_swa);
    // Gemma 3 27B's query_pre_attn_scalar is n_embd / n_head (168), not head_dim (128); the
    // file does not carry it and llama.cpp recognizes that model by its 62 layers.
    if (c.n_layer == 62) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
  }
  tensor_used_.assign(g.tensors().size(), false);
  ONDO_RETURN_IF_ERROR(ReadRope());

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
  // Only LayerNorm adds a bias: for RMSNorm models the tensor stays unused, so it is refused.
  if (c.layer_norm) ONDO_RETURN_IF_ERROR(View("output_norm.bias", E, 0, true, &output_norm_b_));
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
      if (c.arch == Arch::kQwen3 || c.arch == Arch::kGemma3) {
        ONDO_RETURN_IF_ERROR(View(name("attn_q_norm.weight"), c.head_dim, 0, true, &L.q_norm));
        ONDO_RETURN_IF_ERROR(View(name("attn_k_norm.weight"), c.head_dim, 0, true, &L.k_norm));
      }
      ONDO_RETURN_IF_ERROR(View(name("ffn_norm.weight"), E, 0, true, &L.ffn_norm));
      ONDO_RETURN_IF_ERROR(View(name("ffn_gate.weight"), E, F, true, &L.ffn_gate));
      if (c.post_norms) {
        ONDO_RETURN_IF_ERROR(View(name("post_attention_norm.weight"), E, 0, true, &L.attn_post_norm));
        ONDO_RETURN_IF_ERROR(View(name("post_ffw_norm.weight"), E, 0, true, &L.ffn_post_norm));
      }
    }
    ONDO_RETURN_IF_ERROR(View(name("attn_output.weight"), Q, E, true, &L.wo));
    ONDO_RETURN_IF_ERROR(View(name("ffn_up.weight"), E, F, true, &L.ffn_up));
    ONDO_RETURN_IF_ERROR(View(name("ffn_down.weight"), F, E, true, &L.ffn_down));
  }
  // Every tensor must be one a view took: a weight the architecture does not use (llama3's
  // rope factors on gptneox, a bias ondo does not add, an expert) means ondo would compute
  // something else than the model. llama.cpp refuses such files too ("wrong number of
  // tensors").
  for (size_t i = 0; i < tensor_used_.size(); ++i) {
    if (!tensor_used_[i]) {
      return Unsupported("tensor '{}' is not used by ondo's {} architecture; refusing rather than running the model without it",
                         g.tensors()[i].name, arch_name);
    }
  }
  tensor_used_ = {};
  for (const auto& t : g.tensors()) weight_bytes_ += t.bytes;
  return Status::Ok();
}

// Rope hyper-parameters as llama.cpp resolves them (llama_model::load_hparams, then the
// context's cparams): the scaling type defaults to linear, a factor of 0 means 1, type none
// forces scale 1, YaRN's ext_factor defaults to 1, and the correction dims and magnitude
// scale are what ggml's rope computes from them.
Status Model::ReadRope() {
  const GgufFile& g = *gguf_;
  ModelConfig& c = config_;
  const std::string a = ArchName(c.arch);
  auto key = [&a](const char* k) { return a + "." + k; };
  std::string_view type = "linear";
  if (g.Find(key("rope.scaling.type")) != nullptr) {
    ONDO_RETURN_IF_ERROR(g.GetString(key("rope.scaling.type"), &type));
  }
  if (type == "none") {
    c.rope_scaling = RopeScaling::kNone;
  } else if (type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
  } else if (type == "yarn") {
    c.rope_scaling = RopeScaling::kYarn;
  } else {
    return Unsupported("metadata key '{}' = '{}' is not supported by ondo (rope scaling none, linear and yarn are)", key("rope.scaling.type"), type);
  }
  float factor = 0.0f;
  if (g.Find(key("rope.scaling.factor")) != nullptr) {
    ONDO_RETURN_IF_ERROR(g.GetF32(key("rope.scaling.factor"), &factor));
  } else {
    ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scale_linear"), &factor));
  }
  if (!(factor >= 0.0f) || !std::isfinite(factor)) return Corrupt("rope.scaling.factor {} must be positive", factor);
  c.rope_freq_scale = factor == 0.0f || c.rope_scaling == RopeScaling::kNone ? 1.0f : 1.0f / factor;

  uint32_t n_ctx_orig = static_cast<uint32_t>(c.n_ctx_train);
  ONDO_RETURN_IF_ERROR(g.GetU32Opt(key("rope.scaling.original_context_length"), &n_ctx_orig));
  c.n_ctx_orig_yarn = static_cast<int>(std::min<uint32_t>(n_ctx_orig, 1u << 30));
  if (c.n_ctx_orig_yarn == 0) c.n_ctx_orig_yarn = c.n_ctx_train;
  c.yarn_ext_factor = c.rope_scaling == RopeScaling::kYarn ? 1.0f : 0.0f;
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scaling.yarn_ext_factor"), &c.yarn_ext_factor));
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scaling.yarn_attn_factor"), &c.yarn_attn_factor));
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scaling.yarn_beta_fast"), &c.yarn_beta_fast));
  ONDO_RETURN_IF_ERROR(g.GetF32Opt(key("rope.scaling.yarn_beta_slow"), &c.yarn_beta_slow));
  for (float v : {c.yarn_ext_factor, c.yarn_attn_factor, c.yarn_beta_fast, c.yarn_beta_slow}) {
    if (!std::isfinite(v) || v < 0.0f) return Corrupt("YaRN parameter {} is out of range", v);
  }
  if (c.arch == Arch::kGemma3 && c.rope_scaling == RopeScaling::kYarn) {
    return Unsupported("metadata key '{}' = 'yarn' is not supported by ondo for gemma3 (none and linear are)", key("rope.scaling.type"));
  }
  if (c.rope_scaling != RopeScaling::kYarn && c.yarn_ext_factor != 0.0f) {
    return Unsupported("rope.scaling.yarn_ext_factor {} without rope.scaling.type yarn is not supported", c.yarn_ext_factor);
  }

  kernels::RopeParams& r = rope_;
  r.n_rot = c.n_rot;
  r.mode = c.rope_mode;
  r.freq_base = c.rope_freq_base;
  r.freq_scale = c.rope_freq_scale;
  r.ext_factor = c.yarn_ext_factor;
  r.mscale = c.yarn_attn_factor;
  if (r.ext_factor != 0.0f) {
    // ggml_rope_yarn_corr_dims, and rope_yarn's magnitude scale (constant over the pairs).
    const float start = std::floor(YarnCorrDim(c.n_rot, c.n_ctx_orig_yarn, c.yarn_beta_fast, c.rope_freq_base));
    const float end = std::ceil(YarnCorrDim(c.n_rot, c.n_ctx_orig_yarn, c.yarn_beta_slow, c.rope_freq_base));
    r.corr_low = std::max(0.0f, start);
    r.corr_high = std::min(static_cast<float>(c.n_rot - 1), end);
    r.mscale *= 1.0f + 0.1f * std::log(1.0f / r.freq_scale);
  }

  // gemma3's sliding-window layers: their own base, no scaling (llama.cpp's
  // rope_freq_base_train_swa / rope_freq_scale_train_swa; Hugging Face's rope_local_base_freq).
  rope_swa_ = r;
  rope_swa_.freq_base = c.rope_freq_base_swa;
  rope_swa_.freq_scale = 1.0f;

  // llama3 rope factors (Llama 3.1/3.2, EXAONE 3.5): one divisor per rotated pair. gemma3
  // does not read them (llama.cpp neither), so there the tensor is refused as unused.
  if (c.arch != Arch::kGptNeox && c.arch != Arch::kGemma3) {
    WeightView rf;
    ONDO_RETURN_IF_ERROR(View("rope_freqs.weight", c.n_rot / 2, 0, false, &rf));
    if (rf.present()) {
      rope_freq_factors_.resize(static_cast<size_t>(c.n_rot / 2));
      std::memcpy(rope_freq_factors_.data(), rf.data, rope_freq_factors_.size() * sizeof(float));
      for (float f : rope_freq_factors_) {
        if (!(f > 0.0f) || !std::isfinite(f)) return Corrupt("tensor 'rope_freqs.weight' holds {}; rope frequency factors must be positive", f);
      }
      c.rope_freq_factors = true;
      r.freq_factors = rope_freq_factors_.data();
    }
  }
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
  if (c.rope_scaling == RopeScaling::kYarn) {  // only then, so other models keep their identity
    f.Value(c.n_ctx_orig_yarn);
    for (float v : {c.yarn_ext_factor, c.yarn_attn_factor, c.yarn_beta_fast, c.yarn_beta_slow}) f.Value(v);
  }
  for (bool v : {c.layer_norm, c.parallel_residual, c.gelu_ffn, c.tied_output}) f.Value(v);
  if (c.n_swa > 0) {  // only then, so other models keep their identity
    f.Value(c.n_swa);
    f.Value(c.swa_pattern);
    f.Value(c.rope_freq_base_swa);
  }
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
