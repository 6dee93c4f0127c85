// Model: hyper-parameters and weight views of a transformer loaded from GGUF. Weights are
// non-owning views into the file mapping (the GgufFile owns it); a Model is read-only and
// shared by every Session created from it.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "platform/status.h"
#include "runtime/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

enum class Arch { kLlama, kQwen2, kQwen3, kGptNeox, kGemma3, kExaone };
const char* ArchName(Arch arch);

// rope.scaling.type: how positions beyond the training context are mapped (llama.cpp's
// llama_rope_scaling_type). Absent means linear, as in llama.cpp.
enum class RopeScaling { kNone, kLinear, kYarn };
const char* RopeScalingName(RopeScaling s);

struct ModelConfig {
  Arch arch = Arch::kLlama;
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;      // attention.key_length (== value_length), default n_embd / n_head
  int n_ff = 0;
  int n_ctx_train = 0;
  int n_rot = 0;         // rotated dims per head (partial rotary when < head_dim)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;    // 1 / rope.scaling.factor; 1 when the type is none
  kernels::RopeMode rope_mode = kernels::RopeMode::kNormal;
  RopeScaling rope_scaling = RopeScaling::kLinear;
  bool rope_freq_factors = false;  // rope_freqs.weight: per-pair frequency divisors (llama3)
  // YaRN (rope_scaling kYarn): llama.cpp's defaults unless the file sets them.
  int n_ctx_orig_yarn = 0;         // rope.scaling.original_context_length, else n_ctx_train
  float yarn_ext_factor = 0.0f;    // 1 for YaRN, 0 otherwise (rope.scaling.yarn_ext_factor)
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  float norm_eps = 1e-5f;
  bool layer_norm = false;         // LayerNorm with bias (gptneox) instead of RMSNorm
  bool parallel_residual = false;  // gptneox: x + attn(ln1(x)) + ffn(ln2(x))
  bool gelu_ffn = false;           // up -> GELU -> down instead of SwiGLU
  bool tied_output = false;        // output head shares token_embd
  // gemma3 (llama.cpp's build_gemma3): the embeddings are multiplied by embd_scale, the
  // attention and FFN outputs are RMS-normed again (attn_post_norm, ffn_post_norm) before
  // their residual add, and the FFN is gelu(gate) * up.
  float embd_scale = 1.0f;         // sqrt(n_embd) for gemma3
  bool post_norms = false;
  bool gelu_gated_ffn = false;
  float attn_scale = 0.0f;         // scale of q.k; set at load (1/sqrt(head_dim) unless gemma3 27B)
  // Sliding-window attention (gemma3): a local layer attends to the last n_swa positions
  // (its own included) and rotates with rope_freq_base_swa, unscaled; every swa_pattern-th
  // layer (il % swa_pattern == swa_pattern - 1) is global. n_swa 0: every layer is global.
  int n_swa = 0;
  int swa_pattern = 0;
  float rope_freq_base_swa = 10000.0f;
  bool is_swa_layer(int il) const { return n_swa > 0 && il % swa_pattern != swa_pattern - 1; }

  int n_embd_q() const { return n_head * head_dim; }
  int n_embd_kv() const { return n_head_kv * head_dim; }
  int n_group() const { return n_head / n_head_kv; }
};

// Non-owning view of a 1-D or 2-D weight: n_rows rows of n_cols elements, row_bytes apart.
struct WeightView {
  kernels::DType type = kernels::DType::kF32;
  int64_t n_cols = 0;  // ne[0], contiguous
  int64_t n_rows = 0;  // ne[1]
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
  bool present() const { return data != nullptr; }
  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

struct LayerWeights {
  WeightView attn_norm, attn_norm_b;
  WeightView wq, wk, wv, wqkv, wo;
  WeightView bq, bk, bv, bqkv, bo;
  WeightView q_norm, k_norm;          // qwen3: RMSNorm over each head
  WeightView ffn_norm, ffn_norm_b;
  WeightView ffn_gate, ffn_up, ffn_down;
  WeightView ffn_up_b, ffn_down_b;
  WeightView attn_post_norm, ffn_post_norm;  // gemma3
};
// Every view of a layer, for code that walks them all (weight streaming rebases them).
inline constexpr WeightView LayerWeights::*kLayerWeightViews[] = {
    &LayerWeights::attn_norm, &LayerWeights::attn_norm_b, &LayerWeights::wq,       &LayerWeights::wk,
    &LayerWeights::wv,        &LayerWeights::wqkv,        &LayerWeights::wo,       &LayerWeights::bq,
    &LayerWeights::bk,        &LayerWeights::bv,          &LayerWeights::bqkv,     &LayerWeights::bo,
    &LayerWeights::q_norm,    &LayerWeights::k_norm,      &LayerWeights::ffn_norm, &LayerWeights::ffn_norm_b,
    &LayerWeights::ffn_gate,  &LayerWeights::ffn_up,      &LayerWeights::ffn_down, &LayerWeights::ffn_up_b,
    &LayerWeights::ffn_down_b, &LayerWeights::attn_post_norm, &LayerWeights::ffn_post_norm};
inline constexpr size_t kNumLayerWeightViews = std::size(kLayerWeightViews);
static_assert(sizeof(LayerWeights) == kNumLayerWeightViews * sizeof(WeightView),
              "a view was added to LayerWeights: list it in kLayerWeightViews");

class Model {
 public:
  // Maps a GGUF file, validates hyper-parameters and every tensor's shape and type, and
  // builds the tokenizer from its metadata.
  static Status Load(const std::string& path, std::unique_ptr<Model>* out);
  // Same from an already-opened file (takes ownership).
  static Status FromGguf(std::unique_ptr<GgufFile> gguf, std::unique_ptr<Model>* out);

  const ModelConfig& config() const { return config_; }
  const GgufFile& gguf() const { return *gguf_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const WeightView& tok_embd() const { return tok_embd_; }
  const WeightView& output_norm() const { return output_norm_; }
  const WeightView& output_norm_b() const { return output_norm_b_; }
  const WeightView& output() const { return output_; }
  const WeightView& output_b() const { return output_b_; }
  const LayerWeights& layer(int i) const { return layers_[static_cast<size_t>(i)]; }
  // Bytes of all tensors (what full residency needs).
  uint64_t weight_bytes() const { return weight_bytes_; }
  // How q and k rotate (frequencies, factors, YaRN ramp), resolved at load; freq_factors
  // points into this Model.
  const kernels::RopeParams& rope() const { return rope_; }
  // The rotation of layer il: rope() for global layers, base rope_freq_base_swa without
  // scaling for sliding-window ones (gemma3).
  const kernels::RopeParams& rope(int il) const { return config_.is_swa_layer(il) ? rope_swa_ : rope_; }

 private:
  Model() = default;
  Status Init();
  Status View(const std::string& name, int64_t n_cols, int64_t n_rows, bool required,
              WeightView* out);
  Status ReadRope();

  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  ModelConfig config_;
  WeightView tok_embd_, output_norm_, output_norm_b_, output_, output_b_;
  std::unique_ptr<LayerWeights[]> layers_;
  uint64_t weight_bytes_ = 0;
  kernels::RopeParams rope_;
  kernels::RopeParams rope_swa_;
  std::vector<float> rope_freq_factors_;  // [n_rot / 2], copied at load (streaming-proof)
  std::vector<bool> tensor_used_;         // during Init: which file tensors a view took
};

// A 64-bit identity of the model for caches that hold its activations (the prompt cache):
// FNV-1a over the hyper-parameters, every tensor's name, type, shape and first 64 bytes, and
// the vocabulary's token texts and types. Cheap (one page per tensor is read, not the
// weights): it tells apart architectures, quantizations, vocabularies and fine-tunes of one
// base (their first bytes differ), though not two files differing only past those bytes.
uint64_t ModelIdentity(const Model& model);

}  // namespace ondo::runtime
