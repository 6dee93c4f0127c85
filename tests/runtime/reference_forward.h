// Reference transformer forward pass for the runtime tests: plain double-precision loops
// written from the architecture definitions (Hugging Face transformers semantics, GGUF tensor
// layout), sharing no code with runtime/ or kernels/. Slow on purpose; meant for models of a
// few thousand parameters. Also builds the synthetic models those tests load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/runtime/gguf_writer.h"

namespace ondo::test {

// kExaone: EXAONE 3.0/3.5 (Hugging Face's ExaoneForCausalLM): llama's block (RMSNorm, SwiGLU,
// no biases) with rotate_half (NEOX) rope, like every architecture here but llama.
enum class RefArch { kLlama, kQwen2, kQwen3, kGptNeox, kGemma3, kExaone };
const char* RefArchName(RefArch arch);  // the GGUF general.architecture string

struct RefConfig {
  RefArch arch = RefArch::kLlama;
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;   // query head h reads KV head h / (n_head / n_head_kv)
  int head_dim = 0;    // may differ from n_embd / n_head (qwen3)
  int n_ff = 0;
  int n_rot = 0;       // rotated dims per head; < head_dim is partial rotary (gptneox)
  int n_ctx_train = 0;
  double rope_base = 10000.0;
  double norm_eps = 1e-5;
  bool parallel_residual = true;  // gptneox only
  bool tied_output = false;       // logits from token_embd (no output.weight)
  // Rope scaling, as Hugging Face's rope_scaling defines it (modeling_rope_utils); a factor of
  // 0 is none. llama3 (rope_type "llama3"): BuildSyntheticModel writes the per-pair divisors
  // as rope_freqs.weight, as llama.cpp's converter does, and no scaling keys.
  double llama3_factor = 0.0;
  double llama3_low_freq_factor = 1.0;
  double llama3_high_freq_factor = 4.0;
  int llama3_original_context = 0;
  // YaRN (rope_type "yarn"): written as rope.scaling.type/factor/original_context_length.
  double yarn_factor = 0.0;
  int yarn_original_context = 0;
  double yarn_beta_fast = 32.0;
  double yarn_beta_slow = 1.0;
  // gemma3: layer i is a sliding-window layer unless (i + 1) % 6 == 0 (Hugging Face's
  // sliding_window_pattern 6); such a layer attends to the last sliding_window positions and
  // rotates with rope_local_base, unscaled.
  int sliding_window = 0;
  double rope_local_base = 10000.0;
};

// The rotation frequency of each pair i < n_rot/2 (HF's inv_freq, scaling applied), and the
// factor cos and sin are multiplied by (YaRN's attention_factor, else 1).
std::vector<double> RefInvFreq(const RefConfig& c);
double RefRopeMagnitude(const RefConfig& c);
// The llama3 divisors llama.cpp's converter stores in rope_freqs.weight: inv_freq / inv_freq_llama.
std::vector<double> Llama3RopeFactors(const RefConfig& c);

// Weights in GGUF layout, as doubles: a matrix stored with ne = [n_in, n_out] is n_out rows
// of n_in values, row-major. Empty vectors are absent tensors.
struct RefLayer {
  std::vector<double> attn_norm, attn_norm_b;  // [E]
  std::vector<double> wq, wk, wv, bq, bk, bv;  // [Q x E], [KV x E]; biases qwen2
  std::vector<double> wqkv, bqkv;              // gptneox: rows [Q; K; V]
  std::vector<double> q_norm, k_norm;          // qwen3: [head_dim]
  std::vector<double> wo, bo;                  // [E x Q], [E]
  std::vector<double> ffn_norm, ffn_norm_b;    // [E]
  std::vector<double> ffn_gate, ffn_up, ffn_down;  // [F x E], [F x E], [E x F]
  std::vector<double> ffn_up_b, ffn_down_b;    // gptneox
  std::vector<double> attn_post_norm, ffn_post_norm;  // gemma3: [E], stored as 1 + w
};

struct RefModel {
  RefConfig config;
  std::vector<double> tok_embd;                  // [V x E]
  std::vector<double> output_norm, output_norm_b;
  std::vector<double> output;                    // [V x E]; empty when tied
  std::vector<RefLayer> layers;
};

// Logits (one vector of n_vocab per position) of every position of `tokens`, computed from
// scratch: position t attends causally to 0..t. REQUIRES: valid token ids.
std::vector<std::vector<double>> ReferenceForward(const RefModel& model,
                                                  const std::vector<int32_t>& tokens);

// --- synthetic models -----------------------------------------------------------------
// A llama config with 4 query heads sharing 2 KV heads, head_dim = n_embd / 4 fully rotated,
// rope base 10000, RMS eps 1e-5: the small model several test files build.
RefConfig SmallLlama(int n_embd, int n_ff, int n_layer);

struct SyntheticSpec {
  RefConfig config;           // n_vocab is ignored: the synthetic vocabulary sets it
  GgmlType weight_type = GgmlType::kF32;  // of every 2-D tensor; norms and biases stay F32
  uint64_t seed = 1;
};

// Size of the SPM vocabulary BuildSyntheticModel writes: <unk>, <s>, </s>, the 256 byte
// tokens <0x00>..<0xFF>, then normal pieces.
constexpr int kSyntheticVocab = 288;

// Writes the metadata (architecture hyper-parameters, tokenizer, a key of every value type)
// and random weights of `spec` into *w, and the weights as a reader decodes them into *model,
// so the reference sees exactly the stored (rounded/quantized) values. Scales keep
// activations O(1): matrices ~ U with std 1/sqrt(n_in), norm weights ~ 1, biases ~ 0.1.
void BuildSyntheticModel(const SyntheticSpec& spec, GgufWriter* w, RefModel* model);

}  // namespace ondo::test
