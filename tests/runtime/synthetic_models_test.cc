// End-to-end forward tests per architecture: a small random model is written as GGUF by the
// test fixture, loaded with Model::Load, run through Session (chunked prefill, then decode)
// and compared after every step with the double-precision reference in reference_forward.cc,
// which shares no code with runtime/ or kernels/.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {

using test::GgmlType;
using test::RefArch;
using test::RefConfig;
using test::RefModel;

// --- tolerance --------------------------------------------------------------------------
// Where the runtime legitimately differs from the exact (double) reference:
//  * always: K and V are stored in an f16 cache, q is rounded to f16 before q·k, and the
//    softmax probabilities are rounded to f16 before p·V (llama.cpp's non-flash f16 path):
//    4 f16 roundings per layer;
//  * every matrix product rounds its input vector to the weight type's vec-dot type
//    (kernels::TypeInfo::vec_dot_type): f16 for F16, bf16 for BF16, Q8_0 for Q8_0, Q4_0,
//    Q5_0, IQ4_NL, Q8_1 for Q4_1, Q5_1, Q8_K for the K-quants and IQ4_XS, none for F32.
//    There are 4 such inputs per layer (QKV, attention output, FFN-in, FFN-down) and 1 more
//    (the output head). When weights reading one input have different vec-dot types (mixed
//    files), each type's rounding is counted there.
// The weights themselves are no source of error: the reference reads the values the file
// stores (dequantized exactly as the runtime does).
// One rounding perturbs each element of a vector by a relative error of RMS u:
//    f16: uniform in +-2^-11 relative, so u = 2^-11 / sqrt(3) ~ 2^-11.8;
//    bf16: 8 significant bits instead of 11, u = 2^-8 / sqrt(3);
//    Q8_0: uniform in +-d/2 with d = amax/127 per block of 32, and amax ~ 2.5x the block's
//          RMS, so u ~ 2.5 / (127 sqrt(12)) ~ 2^-7.5;
//    Q8_1: the same quants as Q8_0 (plus s = f16(d * sum q), which only carries the min term
//          of Q4_1/Q5_1 with an f16 rounding, negligible next to u): u as Q8_0;
//    Q8_K: the same rounding with d = amax/127 (f32 d) per block of 256. The expected max of
//          n |N(0,1)| values is ~2.1 for n = 32 and ~3.0 for n = 256; Q8_0's 2.5 allows
//          2.5/2.1 for heavier-than-Gaussian tails, and the same margin gives amax ~ 3.5x
//          RMS here, so u ~ 3.5 / (127 sqrt(12)) ~ 2^-7.0 (1.4x Q8_0's).
// A dot product with such a vector carries the same relative RMS error u (n independent
// term errors add like sqrt(n), as does the random-sign dot itself). Norms and residual
// additions keep gains O(1), so the roundings on the way to the logits add in quadrature:
//    rel_rms = sqrt(sum_i u_i^2).
// The ratio max_v |logit_v - ref_v| / max_v |ref_v| estimates rel_rms (both maxima are ~3σ
// of ~300 logits). We allow 3x that estimate:
//    max_v |logit_v - ref_v| <= 3 * rel_rms * max_v |ref_v|,
// which for these 2-layer models is 2.4e-3 (F32 weights), 3.5e-3 (F16; ~2^-8, i.e. the form
// c * max|logit| * 2^-8 with c ~ 0.9), 2.0e-2 (BF16), 5.1e-2 (Q8_0 and the legacy quants)
// and 7.1e-2 (K-quants); mixes fall in between. Each test prints its observed ratio:
// 0.1x-0.5x of these bounds over seeds 1..8 and 1234 (legacy quants 0.2x-0.53x, K-quants
// and mixes 0.12x-0.49x: K-quant cases run no closer to their bound than Q8_0's, so the
// amax margin for Q8_K is not hiding anything). For scale: giving the reference the F32
// weights instead of the stored ones fails all quantized cases but Q5_K, Q6_K and the tied
// Q4_K_M (0.8x-0.9x), by 1.6x-11x.
double RoundingU(kernels::DType weight_type) {
  using kernels::DType;
  switch (kernels::Info(weight_type).vec_dot_type) {
    case DType::kF32: return 0.0;
    case DType::kF16: return 0x1.0p-11 / std::sqrt(3.0);
    case DType::kBF16: return 0x1.0p-8 / std::sqrt(3.0);
    case DType::kQ8_0:
    case DType::kQ8_1: return 2.5 / (127.0 * std::sqrt(12.0));
    case DType::kQ8_K: return 3.5 / (127.0 * std::sqrt(12.0));
    default: break;
  }
  ADD_FAILURE() << "no rounding model for the vec-dot type of " << kernels::Info(weight_type).name;
  return 1.0;
}

// A weight type per tensor: the first rule whose `part` matches the tensor's name applies
// (see TensorType). Only 2-D tensors are requantized; norms and biases stay F32.
struct TypeRule {
  const char* part;
  kernels::DType type;
};

struct Case {
  // `type`: of every 2-D tensor as BuildSyntheticModel writes it. Non-empty `quant` (with
  // type F32) then requantizes each 2-D tensor to the type of the first matching rule.
  Case(const char* n, const RefConfig& c, GgmlType t, std::vector<TypeRule> q = {})
      : name(n), config(c), type(t), quant(std::move(q)) {}
  const char* name;
  RefConfig config;
  GgmlType type;
  std::vector<TypeRule> quant;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A rule's part matches the tensor of that exact name ("token_embd.weight",
// "blk.0.ffn_down.weight") or, as a suffix after a '.', that tensor of every layer
// ("attn_v.weight"; "output.weight" is thus not "blk.0.attn_output.weight"). "" matches all.
kernels::DType TensorType(const Case& c, const std::string& name) {
  if (c.quant.empty()) return static_cast<kernels::DType>(static_cast<uint32_t>(c.type));
  for (const TypeRule& r : c.quant) {
    const std::string part = r.part;
    if (part.empty() || name == part || EndsWith(name, "." + part)) return r.type;
  }
  ADD_FAILURE() << c.name << ": no type rule for " << name;
  return kernels::DType::kF32;
}

double Tolerance(const Case& c) {
  const RefConfig& cfg = c.config;
  const bool neox = cfg.arch == RefArch::kGptNeox;
  // The matrix-product inputs ("sites") and the weights reading each.
  std::vector<std::vector<std::string>> sites;
  for (int i = 0; i < cfg.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    if (neox) {
      sites.push_back({p + "attn_qkv.weight"});
    } else {
      sites.push_back({p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"});
    }
    sites.push_back({p + "attn_output.weight"});
    if (neox) {
      sites.push_back({p + "ffn_up.weight"});
    } else {
      sites.push_back({p + "ffn_gate.weight", p + "ffn_up.weight"});
    }
    sites.push_back({p + "ffn_down.weight"});
  }
  sites.push_back({cfg.tied_output ? "token_embd.weight" : "output.weight"});

  const double u_f16 = 0x1.0p-11 / std::sqrt(3.0);
  double sum_u2 = 4.0 * cfg.n_layer * u_f16 * u_f16;  // K, V, q, p
  for (const std::vector<std::string>& site : sites) {
    std::vector<kernels::DType> seen;  // vec-dot types rounding this input
    for (const std::string& name : site) {
      const kernels::DType vd = kernels::Info(TensorType(c, name)).vec_dot_type;
      if (std::find(seen.begin(), seen.end(), vd) != seen.end()) continue;
      seen.push_back(vd);
      const double u = RoundingU(TensorType(c, name));
      sum_u2 += u * u;
    }
  }
  return 3.0 * std::sqrt(sum_u2);
}

RefConfig Llama(int n_head, int n_head_kv, int head_dim, bool tied) {
  RefConfig c;
  c.arch = RefArch::kLlama;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = n_head;
  c.n_head_kv = n_head_kv;
  c.head_dim = head_dim;
  c.n_ff = 96;
  c.n_rot = head_dim;
  c.rope_base = 10000.0;
  c.norm_eps = 1e-5;
  c.tied_output = tied;
  return c;
}

RefConfig Qwen(RefArch arch, int n_head, int n_head_kv, int head_dim, bool tied) {
  RefConfig c = Llama(n_head, n_head_kv, head_dim, tied);
  c.arch = arch;
  c.rope_base = 1000000.0;
  c.norm_eps = 1e-6;
  return c;
}

RefConfig Neox(int n_rot, bool parallel, bool tied) {
  RefConfig c = Llama(4, 4, 16, tied);
  c.arch = RefArch::kGptNeox;
  c.n_ff = 128;
  c.n_rot = n_rot;
  c.parallel_residual = parallel;
  return c;
}

// gptneox with 4 heads of 64 (rotating n_rot of them).
RefConfig NeoxWide(int n_rot, bool parallel, bool tied) {
  RefConfig c = Neox(n_rot, parallel, tied);
  c.head_dim = 64;
  return c;
}

// Wide enough for super-blocks of 256 (K-quants, IQ4_XS): n_embd 256, n_ff 512 and
// n_head * head_dim a multiple of 256 (rows of attn_output). Still 2 layers.
RefConfig Wide(RefConfig c, int n_ff = 512) {
  c.n_embd = 256;
  c.n_ff = n_ff;
  return c;
}

// llama3 rope scaling (rope_freqs.weight) with an original context of 32, so that at the
// test's positions (0..16) the low frequencies (divided by 8) and the smoothed one rotate
// visibly less than unscaled ones (RopeScalingIsVisibleToTheTest checks it).
RefConfig Llama3Rope(RefConfig c) {
  c.llama3_factor = 8.0;
  c.llama3_low_freq_factor = 1.0;
  c.llama3_high_freq_factor = 4.0;
  c.llama3_original_context = 32;
  return c;
}

// gemma3 with 7 layers (0-4 and 6 sliding-window, 5 global) and a window of 4, shorter than
// the test's 17 positions. Local rope base 1e4 (fixed for gemma3), the global one 100 (1e6
// in Gemma 3) so that over these few positions the two rotate visibly differently
// (GemmaTest.IsVisibleToTheTest checks that both window and bases matter).
RefConfig Gemma3(int n_head, int n_head_kv, int head_dim, bool tied) {
  RefConfig c = Qwen(RefArch::kGemma3, n_head, n_head_kv, head_dim, tied);
  c.n_layer = 7;
  c.sliding_window = 4;
  c.rope_base = 100.0;
  c.rope_local_base = 10000.0;
  return c;
}

// exaone (EXAONE 3.0/3.5): llama's block with NEOX rope, rope base 1e6 as EXAONE 3.5.
RefConfig Exaone(int n_head, int n_head_kv, int head_dim, bool tied) {
  RefConfig c = Llama(n_head, n_head_kv, head_dim, tied);
  c.arch = RefArch::kExaone;
  c.rope_base = 1000000.0;
  return c;
}

// YaRN, factor 4 over an original context of 64: the ramp spans the first pairs.
RefConfig Yarn(RefConfig c) {
  c.yarn_factor = 4.0;
  c.yarn_original_context = 64;
  return c;
}

std::vector<Case> AllCases() {
  const RefArch q2 = RefArch::kQwen2, q3 = RefArch::kQwen3;
  using D = kernels::DType;
  const GgmlType f32 = GgmlType::kF32;
  return {
      {"llama_gqa_f32_untied", Llama(4, 2, 16, false), GgmlType::kF32},
      {"llama_mha_f32_tied", Llama(4, 4, 16, true), GgmlType::kF32},
      {"llama_gqa4_f32_untied", Llama(8, 2, 8, false), GgmlType::kF32},
      {"llama_gqa_f16_untied", Llama(4, 2, 16, false), GgmlType::kF16},
      {"llama_mha_f16_tied", Llama(4, 4, 16, true), GgmlType::kF16},
      {"llama_gqa_bf16_untied", Llama(4, 2, 16, false), GgmlType::kBF16},
      {"llama_gqa_q8_0_untied", Llama(4, 2, 16, false), GgmlType::kQ8_0},
      {"llama_mha_q8_0_tied", Llama(4, 4, 16, true), GgmlType::kQ8_0},
      {"qwen2_gqa_f32_tied", Qwen(q2, 4, 2, 16, true), GgmlType::kF32},
      {"qwen2_mha_f32_untied", Qwen(q2, 4, 4, 16, false), GgmlType::kF32},
      {"qwen2_gqa_f16_untied", Qwen(q2, 4, 2, 16, false), GgmlType::kF16},
      {"qwen2_mha_f16_tied", Qwen(q2, 4, 4, 16, true), GgmlType::kF16},
      // qwen3 GQA with head_dim 32 != n_embd / n_head (attention.key_length), as Qwen3 has.
      {"qwen3_gqa_f32_untied", Qwen(q3, 4, 2, 32, false), GgmlType::kF32},
      {"qwen3_mha_f32_tied", Qwen(q3, 4, 4, 16, true), GgmlType::kF32},
      {"qwen3_gqa_f16_tied", Qwen(q3, 4, 2, 32, true), GgmlType::kF16},
      {"qwen3_mha_f16_untied", Qwen(q3, 4, 4, 16, false), GgmlType::kF16},
      {"qwen3_gqa_bf16_tied", Qwen(q3, 4, 2, 32, true), GgmlType::kBF16},
      // gptneox: multi-head, partial rotary (8 of 16 dims) unless noted.
      {"gptneox_f32_untied", Neox(8, true, false), GgmlType::kF32},
      {"gptneox_f32_tied", Neox(8, true, true), GgmlType::kF32},
      {"gptneox_f16_untied", Neox(8, true, false), GgmlType::kF16},
      {"gptneox_f16_tied_fullrot", Neox(16, true, true), GgmlType::kF16},
      {"gptneox_sequential_f32_untied", Neox(8, false, false), GgmlType::kF32},
      {"gptneox_q8_0_untied", Neox(8, true, false), GgmlType::kQ8_0},
      // Rope scaling: llama3 factors (rope_freqs.weight) and YaRN, both rope layouts.
      {"llama_gqa_llama3rope_f32_untied", Llama3Rope(Llama(4, 2, 16, false)), GgmlType::kF32},
      {"llama_mha_llama3rope_q8_0_tied", Llama3Rope(Llama(4, 4, 16, true)), GgmlType::kQ8_0},
      {"qwen2_gqa_llama3rope_f16_tied", Llama3Rope(Qwen(q2, 4, 2, 16, true)), GgmlType::kF16},
      {"qwen3_gqa_llama3rope_f32_untied", Llama3Rope(Qwen(q3, 4, 2, 32, false)), GgmlType::kF32},
      {"qwen2_gqa_yarn_f32_untied", Yarn(Qwen(q2, 4, 2, 16, false)), GgmlType::kF32},
      {"llama_gqa_yarn_f16_tied", Yarn(Llama(4, 2, 16, true)), GgmlType::kF16},
      {"qwen3_gqa_yarn_f32_tied", Yarn(Qwen(q3, 4, 2, 32, true)), GgmlType::kF32},
      // gemma3: sliding window 4 on 6 of 7 layers; head_dim 32 != n_embd / n_head as Gemma 3 has.
      {"gemma3_gqa_f32_tied", Gemma3(4, 2, 32, true), GgmlType::kF32},
      {"gemma3_mha_f32_untied", Gemma3(4, 4, 16, false), GgmlType::kF32},
      {"gemma3_gqa_f16_tied", Gemma3(4, 2, 32, true), GgmlType::kF16},
      {"gemma3_gqa_bf16_tied", Gemma3(4, 2, 32, true), GgmlType::kBF16},
      {"gemma3_gqa4_q8_0_tied", Gemma3(8, 2, 16, true), GgmlType::kQ8_0},
      // exaone: EXAONE 3.5 carries llama3 rope factors (rope_freqs.weight); 3.0 none.
      {"exaone_gqa_llama3rope_f32_untied", Llama3Rope(Exaone(4, 2, 16, false)), GgmlType::kF32},
      {"exaone_mha_f32_tied", Exaone(4, 4, 16, true), GgmlType::kF32},
      {"exaone_gqa_llama3rope_f16_tied", Llama3Rope(Exaone(4, 2, 16, true)), GgmlType::kF16},
      {"exaone_gqa_bf16_untied", Exaone(4, 2, 16, false), GgmlType::kBF16},

      // --- quantized weights: built as F32, then each 2-D tensor requantized (LoadCase) ---
      // Legacy types, blocks of 32 (activations in Q8_0 or Q8_1).
      {"llama_gqa_q4_0_untied", Llama(4, 2, 16, false), f32, {{"", D::kQ4_0}}},
      {"llama_mha_q4_1_tied", Llama(4, 4, 16, true), f32, {{"", D::kQ4_1}}},
      {"qwen2_gqa_q5_0_untied", Qwen(q2, 4, 2, 16, false), f32, {{"", D::kQ5_0}}},
      {"qwen3_gqa_q5_1_tied", Qwen(q3, 4, 2, 32, true), f32, {{"", D::kQ5_1}}},
      {"gptneox_iq4_nl_untied", Neox(8, true, false), f32, {{"", D::kIQ4_NL}}},
      // Legacy mix, Q8_0 and Q8_1 activations reading the same input (attn_q/k vs attn_v).
      {"llama_gqa_legacy_mix_untied", Llama(4, 2, 16, false), f32,
       {{"output.weight", D::kQ8_0}, {"attn_v.weight", D::kQ8_0}, {"attn_q.weight", D::kQ4_1},
        {"attn_k.weight", D::kQ4_1}, {"ffn_down.weight", D::kQ5_1}, {"", D::kQ5_0}}},
      // K-quants, super-blocks of 256 (activations in Q8_K).
      {"llama_gqa_q4_k_untied", Wide(Llama(4, 2, 64, false)), f32, {{"", D::kQ4_K}}},
      {"qwen2_mha_q5_k_tied", Wide(Qwen(q2, 4, 4, 64, true)), f32, {{"", D::kQ5_K}}},
      // qwen3 with head_dim 64 != n_embd / n_head = 32.
      {"qwen3_gqa_q6_k_untied", Wide(Qwen(q3, 8, 2, 64, false)), f32, {{"", D::kQ6_K}}},
      {"qwen3_mha_iq4_xs_tied", Wide(Qwen(q3, 4, 4, 64, true)), f32, {{"", D::kIQ4_XS}}},
      {"gptneox_q3_k_tied", Wide(NeoxWide(32, true, true)), f32, {{"", D::kQ3_K}}},
      // Mixed files, after llama-quantize's choices per tensor.
      // Q2_K: output/tied embedding Q6_K, attn_v Q4_K, ffn_down Q3_K, the rest Q2_K.
      {"llama_gqa_q2_k_mix_tied", Wide(Llama(4, 2, 64, true)), f32,
       {{"token_embd.weight", D::kQ6_K}, {"attn_v.weight", D::kQ4_K},
        {"ffn_down.weight", D::kQ3_K}, {"", D::kQ2_K}}},
      {"qwen3_gqa_q2_k_mix_untied", Wide(Qwen(q3, 8, 2, 64, false)), f32,
       {{"output.weight", D::kQ6_K}, {"attn_v.weight", D::kQ4_K},
        {"ffn_down.weight", D::kQ3_K}, {"", D::kQ2_K}}},
      {"gptneox_sequential_q2_k_mix_tied", Wide(NeoxWide(32, false, true)), f32,
       {{"token_embd.weight", D::kQ6_K}, {"attn_qkv.weight", D::kQ4_K},
        {"ffn_down.weight", D::kQ3_K}, {"", D::kQ2_K}}},
      // Q4_K_M: output (or the tied embedding) Q6_K, attn_v Q6_K, ffn_down Q6_K in the first
      // layer only (use_more_bits), the rest Q4_K.
      {"llama_gqa_q4_k_m_untied", Wide(Llama(4, 2, 64, false)), f32,
       {{"output.weight", D::kQ6_K}, {"attn_v.weight", D::kQ6_K},
        {"blk.0.ffn_down.weight", D::kQ6_K}, {"", D::kQ4_K}}},
      {"qwen2_gqa_q4_k_m_tied", Wide(Qwen(q2, 4, 2, 64, true)), f32,
       {{"token_embd.weight", D::kQ6_K}, {"attn_v.weight", D::kQ6_K},
        {"blk.0.ffn_down.weight", D::kQ6_K}, {"", D::kQ4_K}}},
      {"gptneox_q4_k_m_untied", Wide(NeoxWide(32, true, false)), f32,
       {{"output.weight", D::kQ6_K}, {"attn_qkv.weight", D::kQ5_K},
        {"blk.0.ffn_down.weight", D::kQ6_K}, {"", D::kQ4_K}}},
      // Legacy with a K-quant head: Q4_0 files keep output in Q6_K.
      {"qwen2_gqa_q4_0_mix_untied", Wide(Qwen(q2, 4, 2, 64, false)), f32,
       {{"output.weight", D::kQ6_K}, {"", D::kQ4_0}}},
      // IQ4_XS falls back to IQ4_NL for rows that are no multiple of 256 (n_ff 384 here:
      // ffn_down), so Q8_K and Q8_0 activations in one model.
      {"qwen3_mha_iq4_xs_mix_tied", Wide(Qwen(q3, 4, 4, 64, true), 384), f32,
       {{"ffn_down.weight", D::kIQ4_NL}, {"", D::kIQ4_XS}}},
      // gemma3 Q4_K_M-like: the tied embedding and attn_v Q6_K, the rest Q4_K.
      {"gemma3_gqa_q4_k_m_tied", Wide(Gemma3(4, 2, 64, true)), f32,
       {{"token_embd.weight", D::kQ6_K}, {"attn_v.weight", D::kQ6_K}, {"", D::kQ4_K}}},
      {"gemma3_gqa_q4_0_tied", Gemma3(4, 2, 32, true), f32, {{"", D::kQ4_0}}},
      // exaone Q4_K_M-like (output and attn_v Q6_K, first ffn_down Q6_K, the rest Q4_K), and a
      // Q8_0 / Q5_1 / IQ4_NL legacy mix (rope factors: the F32/F16 cases above).
      {"exaone_gqa_q4_k_m_untied", Wide(Exaone(4, 2, 64, false)), f32,
       {{"output.weight", D::kQ6_K}, {"attn_v.weight", D::kQ6_K},
        {"blk.0.ffn_down.weight", D::kQ6_K}, {"", D::kQ4_K}}},
      {"exaone_gqa_legacy_mix_tied", Exaone(4, 2, 16, true), f32,
       {{"token_embd.weight", D::kQ8_0}, {"attn_v.weight", D::kQ5_1}, {"", D::kIQ4_NL}}},
  };
}

// A synthetic model written to a temporary file and loaded, with its reference weights.
struct Fixture {
  std::unique_ptr<Model> model;
  RefModel ref;
};

// Every 2-D tensor of `ref`: its name, its values and its row length (ne[0]).
struct WeightMatrix {
  std::string name;
  std::vector<double>* values;
  int n_in;
};

std::vector<WeightMatrix> Matrices(RefModel* ref) {
  const RefConfig& c = ref->config;
  const int E = c.n_embd, Q = c.n_head * c.head_dim, F = c.n_ff;
  std::vector<WeightMatrix> m = {{"token_embd.weight", &ref->tok_embd, E}};
  if (!c.tied_output) m.push_back({"output.weight", &ref->output, E});
  for (size_t i = 0; i < ref->layers.size(); ++i) {
    test::RefLayer& L = ref->layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    if (c.arch == RefArch::kGptNeox) {
      m.push_back({p + "attn_qkv.weight", &L.wqkv, E});
    } else {
      m.push_back({p + "attn_q.weight", &L.wq, E});
      m.push_back({p + "attn_k.weight", &L.wk, E});
      m.push_back({p + "attn_v.weight", &L.wv, E});
      m.push_back({p + "ffn_gate.weight", &L.ffn_gate, E});
    }
    m.push_back({p + "attn_output.weight", &L.wo, Q});
    m.push_back({p + "ffn_up.weight", &L.ffn_up, E});
    m.push_back({p + "ffn_down.weight", &L.ffn_down, F});
  }
  return m;
}

// Quantizes the rows of every 2-D tensor (written as F32) to the case's type for it with
// kernels::QuantizeRow, stores those bytes in place of the F32 tensor, and gives the
// reference the dequantized values: exactly what the runtime reads.
void Requantize(const Case& c, test::GgufWriter* w, RefModel* ref) {
  for (const WeightMatrix& m : Matrices(ref)) {
    const kernels::DType type = TensorType(c, m.name);
    const kernels::TypeInfo& info = kernels::Info(type);
    ASSERT_TRUE(info.supported) << m.name << ": " << info.name;
    ASSERT_EQ(m.n_in % info.block_size, 0) << m.name << ": rows of " << m.n_in << " in " << info.name;
    ASSERT_FALSE(m.values->empty()) << m.name;
    ASSERT_EQ(m.values->size() % static_cast<size_t>(m.n_in), 0u) << m.name;
    const size_t n_out = m.values->size() / static_cast<size_t>(m.n_in);
    const size_t row_bytes = kernels::RowBytes(type, m.n_in);
    std::vector<float> x(m.values->begin(), m.values->end());  // exact: they were F32
    std::vector<uint8_t> bytes(row_bytes * n_out);
    for (size_t r = 0; r < n_out; ++r) {
      float* row = x.data() + r * static_cast<size_t>(m.n_in);
      kernels::QuantizeRow(type, row, bytes.data() + r * row_bytes, m.n_in);
      kernels::DequantizeRow(type, bytes.data() + r * row_bytes, row, m.n_in);
    }
    std::copy(x.begin(), x.end(), m.values->begin());
    ASSERT_TRUE(w->RemoveTensor(m.name)) << m.name;
    w->AddRawTensor(m.name, {static_cast<uint64_t>(m.n_in), n_out}, static_cast<uint32_t>(type),
                    std::move(bytes));
  }
}

void LoadCase(const Case& c, uint64_t seed, Fixture* f) {
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = c.config;
  spec.weight_type = c.type;
  spec.seed = seed;
  test::BuildSyntheticModel(spec, &w, &f->ref);
  if (!c.quant.empty()) {
    ASSERT_EQ(c.type, GgmlType::kF32) << c.name << ": requantizing needs F32 weights";
    ASSERT_NO_FATAL_FAILURE(Requantize(c, &w, &f->ref));
  }
  const std::string path = test::UniqueTempPath(::testing::TempDir(), std::string("ondo_synthetic_") + c.name);
  ASSERT_TRUE(w.WriteFile(path));
  Status s = Model::Load(path, &f->model);
  std::remove(path.c_str());  // the mapping stays valid after unlink
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Fixed token sequences: a prompt and the tokens fed back one at a time afterwards.
const std::vector<int32_t> kPrompt = {1, 270, 3, 150, 287, 42, 42, 200, 7, 259, 100, 13};
const std::vector<int32_t> kDecode = {281, 5, 42, 260, 0};

std::vector<int32_t> Concat(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

size_t Argmax(const float* x, size_t n) { return static_cast<size_t>(std::max_element(x, x + n) - x); }

// Worst relative error seen and how many steps had their top token checked.
struct Stats {
  double worst = 0.0;
  int steps = 0;
  int argmax_checked = 0;
};

// Compares one step's logits with the reference (see Tolerance above).
void CompareLogits(const float* got, const std::vector<double>& ref, double tol_rel,
                   const std::string& where, Stats* stats = nullptr) {
  const size_t n = ref.size();
  double max_ref = 0.0, max_diff = 0.0;
  for (size_t i = 0; i < n; ++i) {
    // NaN would slip through std::max: fail on it explicitly, on either side.
    if (!std::isfinite(got[i]) || !std::isfinite(ref[i])) {
      ADD_FAILURE() << where << ": logit " << i << " is " << got[i] << ", reference " << ref[i];
      return;
    }
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - ref[i]));
  }
  const double tol = tol_rel * max_ref;
  EXPECT_LE(max_diff, tol) << where << ": max|logit| " << max_ref;
  // The top token must agree whenever the reference's top-2 gap exceeds what rounding can
  // close: each of the two logits may move by up to tol.
  std::vector<double> sorted(ref);
  std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<double>());
  const size_t ref_top = static_cast<size_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
  const bool check_top = sorted[0] - sorted[1] > 2 * tol;
  if (check_top) {
    EXPECT_EQ(Argmax(got, n), ref_top) << where << ": top-2 gap " << sorted[0] - sorted[1];
  }
  if (stats != nullptr) {
    stats->worst = std::max(stats->worst, max_ref > 0 ? max_diff / max_ref : max_diff);
    stats->steps++;
    stats->argmax_checked += check_top;
  }
}

// The model of `f` (built from case `c`) against the reference forward on its weights: the
// prompt in one pass, in chunks and in two calls, then decode, every step's logits within
// Tolerance(c).
void CheckAgainstReference(const Case& c, const Fixture& f) {
  const ModelConfig& mc = f.model->config();
  EXPECT_STREQ(ArchName(mc.arch), test::RefArchName(c.config.arch));
  EXPECT_EQ(mc.n_vocab, test::kSyntheticVocab);
  EXPECT_EQ(mc.n_head_kv, c.config.n_head_kv);
  EXPECT_EQ(mc.head_dim, c.config.head_dim);
  EXPECT_EQ(mc.n_rot, c.config.n_rot);
  EXPECT_EQ(mc.tied_output, c.config.tied_output);
  EXPECT_EQ(f.model->tokenizer().n_vocab(), test::kSyntheticVocab);

  const std::vector<int32_t> all = Concat(kPrompt, kDecode);
  const std::vector<std::vector<double>> ref = test::ReferenceForward(f.ref, all);

  const double tol = Tolerance(c);
  Stats stats;
  // n_batch 64 takes the prompt in one pass; 5 splits it into chunks of 5, 5, 2 -- and the
  // prompt is also given in two Prefill calls (7 + 5 tokens) to compare mid-prompt logits.
  for (int n_batch : {64, 5, 1}) {
    SessionOptions opt;
    opt.n_ctx = 32;
    opt.n_threads = 2;
    opt.n_batch = n_batch;
    std::unique_ptr<Session> s;
    ASSERT_TRUE(Session::Create(*f.model, opt, &s).ok());
    const std::string tag = std::string(c.name) + " n_batch=" + std::to_string(n_batch);
    if (n_batch == 5) {
      const std::span<const int32_t> p(kPrompt);
      ASSERT_TRUE(s->Prefill(p.first(7)).ok());
      CompareLogits(s->logits(), ref[6], tol, tag + " pos 6", &stats);
      ASSERT_TRUE(s->Prefill(p.subspan(7)).ok());
    } else {
      ASSERT_TRUE(s->Prefill(kPrompt).ok());
    }
    ASSERT_EQ(s->n_past(), static_cast<int>(kPrompt.size()));
    CompareLogits(s->logits(), ref[kPrompt.size() - 1], tol, tag + " prompt", &stats);
    for (size_t i = 0; i < kDecode.size(); ++i) {
      ASSERT_TRUE(s->Decode(kDecode[i]).ok());
      const size_t pos = kPrompt.size() + i;
      CompareLogits(s->logits(), ref[pos], tol, tag + " pos " + std::to_string(pos), &stats);
    }
  }
  std::printf("[ synthetic ] %-30s %s  max|diff|/max|logit| = %.3g  (tolerance %.3g; top-1 checked at %d of %d steps)\n",
              c.name, kernels::ActiveIsa(), stats.worst, tol, stats.argmax_checked, stats.steps);
}

class SyntheticModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticModelTest, MatchesReferenceForward) {
  const Case& c = GetParam();
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(LoadCase(c, 1234, &f));
  CheckAgainstReference(c, f);
}

// Thread count changes only which thread computes which rows: results are bitwise equal.
TEST_P(SyntheticModelTest, BitwiseIdenticalAcrossThreadCounts) {
  const Case& c = GetParam();
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(LoadCase(c, 99, &f));
  std::vector<std::vector<float>> first;  // logits after every step with 1 thread
  for (int n_threads : {1, 2, 3}) {
    SessionOptions opt;
    opt.n_ctx = 32;
    opt.n_threads = n_threads;
    opt.n_batch = 5;
    std::unique_ptr<Session> s;
    ASSERT_TRUE(Session::Create(*f.model, opt, &s).ok());
    ASSERT_EQ(s->n_threads(), n_threads);
    std::vector<std::vector<float>> steps;
    ASSERT_TRUE(s->Prefill(kPrompt).ok());
    steps.emplace_back(s->logits(), s->logits() + s->n_vocab());
    for (int32_t id : kDecode) {
      ASSERT_TRUE(s->Decode(id).ok());
      steps.emplace_back(s->logits(), s->logits() + s->n_vocab());
    }
    if (first.empty()) {
      first = steps;
      continue;
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      EXPECT_EQ(0, std::memcmp(steps[i].data(), first[i].data(), steps[i].size() * sizeof(float)))
          << c.name << ": step " << i << " differs between 1 and " << n_threads << " threads";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, SyntheticModelTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// --- .ondo q2 (OQ2 mixes) per family -------------------------------------------------------
// OQ2, ondo's own 2-bit type, exists only in .ondo models: the case's F32 model is converted
// with WriteOndo's q2 preset (OQ2 for most matrices, Q4_K for attn_v and the embeddings /
// output head, Q3_K for early ffn_down, some moved up by the size allocator), loaded from the
// .ondo file, and the reference is given every matrix as that file stores it (dequantized),
// with the tolerance of the types the file holds. Observed 0.17x-0.47x of it; giving the
// reference the F32 weights instead fails every family by 3.6x-9x.
// *as_stored: `c` with a type rule per matrix, named by *names (the rules point into it).
void LoadOndoQ2Case(const Case& c, uint64_t seed, Fixture* f, Case* as_stored, std::deque<std::string>* names) {
  Fixture gguf;
  ASSERT_NO_FATAL_FAILURE(LoadCase(c, seed, &gguf));  // the F32 model, reference weights
  f->ref = gguf.ref;
  const std::string out = test::UniqueTempPath(::testing::TempDir(), std::string("ondo_q2_") + c.name);
  OndoWriteOptions opt;
  opt.quant = OndoQuant::kQ2;
  opt.single_file = true;
  opt.n_threads = 2;
  OndoWriteStats stats;
  Status s = WriteOndo(gguf.model->gguf(), out, opt, &stats);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = Model::Load(out, &f->model);
  std::remove(out.c_str());  // the mapping stays valid after unlink
  ASSERT_TRUE(s.ok()) << s.ToString();
  int n_oq2 = 0;
  as_stored->quant.clear();
  for (const WeightMatrix& m : Matrices(&f->ref)) {
    const GgufTensorInfo* t = f->model->gguf().FindTensor(m.name);
    ASSERT_NE(t, nullptr) << m.name;
    n_oq2 += t->type == kernels::DType::kOQ2;
    names->push_back(m.name);
    as_stored->quant.push_back({names->back().c_str(), t->type});
    const size_t row_bytes = kernels::RowBytes(t->type, m.n_in);
    std::vector<float> row(static_cast<size_t>(m.n_in));
    for (size_t r = 0; r * static_cast<size_t>(m.n_in) < m.values->size(); ++r) {
      kernels::DequantizeRow(t->type, t->data + r * row_bytes, row.data(), m.n_in);
      std::copy(row.begin(), row.end(), m.values->begin() + static_cast<std::ptrdiff_t>(r * m.n_in));
    }
  }
  EXPECT_GT(n_oq2, 0) << c.name;
}

std::vector<Case> OndoQ2Cases() {
  const GgmlType f32 = GgmlType::kF32;
  return {
      {"llama_gqa_q2_untied", Wide(Llama(4, 2, 64, false)), f32},
      {"qwen2_gqa_q2_tied", Wide(Qwen(RefArch::kQwen2, 4, 2, 64, true)), f32},
      {"qwen3_gqa_q2_untied", Wide(Qwen(RefArch::kQwen3, 8, 2, 64, false)), f32},
      {"gemma3_gqa_q2_tied", Wide(Gemma3(4, 2, 64, true)), f32},
      {"gptneox_q2_untied", Wide(NeoxWide(32, true, false)), f32},
      {"exaone_gqa_llama3rope_q2_untied", Llama3Rope(Wide(Exaone(4, 2, 64, false))), f32},
  };
}

class OndoQ2FamilyTest : public ::testing::TestWithParam<Case> {};

TEST_P(OndoQ2FamilyTest, MatchesReferenceForward) {
  Case c = GetParam();
  Fixture f;
  std::deque<std::string> names;
  ASSERT_NO_FATAL_FAILURE(LoadOndoQ2Case(GetParam(), 1234, &f, &c, &names));
  CheckAgainstReference(c, f);
}

INSTANTIATE_TEST_SUITE_P(Families, OndoQ2FamilyTest, ::testing::ValuesIn(OndoQ2Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// The rope-scaling cases test something: the reference logits of their weights differ from
// those of the same weights rotated without scaling by far more than the tolerance, at the
// test's positions (so ignoring rope_freqs.weight or the YaRN keys would fail them).
TEST(RopeScalingTest, IsVisibleToTheTest) {
  int n = 0;
  for (const Case& c : AllCases()) {
    if (c.config.llama3_factor == 0.0 && c.config.yarn_factor == 0.0) continue;
    ++n;
    test::GgufWriter w;
    test::SyntheticSpec spec;
    spec.config = c.config;
    spec.weight_type = c.type;
    spec.seed = 1234;
    RefModel ref;
    test::BuildSyntheticModel(spec, &w, &ref);
    EXPECT_EQ(w.HasTensor("rope_freqs.weight"), c.config.llama3_factor > 0.0) << c.name;
    const std::vector<int32_t> all = Concat(kPrompt, kDecode);
    const std::vector<std::vector<double>> scaled = test::ReferenceForward(ref, all);
    ref.config.llama3_factor = 0.0;
    ref.config.yarn_factor = 0.0;
    const std::vector<std::vector<double>> plain = test::ReferenceForward(ref, all);
    double worst = 0.0;
    for (size_t t = 0; t < all.size(); ++t) {
      double max_ref = 0.0, max_diff = 0.0;
      for (size_t v = 0; v < scaled[t].size(); ++v) {
        max_ref = std::max(max_ref, std::fabs(scaled[t][v]));
        max_diff = std::max(max_diff, std::fabs(scaled[t][v] - plain[t][v]));
      }
      worst = std::max(worst, max_diff / max_ref);
    }
    EXPECT_GT(worst, 10.0 * Tolerance(c)) << c.name;
    std::printf("[ rope scaling ] %-34s max|scaled - plain|/max|logit| = %.3g (tolerance %.3g)\n", c.name, worst,
                Tolerance(c));
  }
  EXPECT_GE(n, 6);
}

// The gemma3 cases test the sliding window and the local rope base: the reference logits
// change by several times the tolerance when the window is lifted or the local layers rotate
// with the global base, so a runtime ignoring either fails them. Checked on the F32/F16
// cases, whose tolerances are tight; the quantized ones are there for the weight types.
TEST(GemmaTest, IsVisibleToTheTest) {
  int n = 0, checked = 0;
  for (const Case& c : AllCases()) {
    if (c.config.arch != RefArch::kGemma3) continue;
    ++n;
    test::GgufWriter w;
    test::SyntheticSpec spec;
    spec.config = c.config;
    spec.weight_type = c.type;
    spec.seed = 1234;
    RefModel ref;
    test::BuildSyntheticModel(spec, &w, &ref);
    const std::vector<int32_t> all = Concat(kPrompt, kDecode);
    ASSERT_GT(all.size(), static_cast<size_t>(c.config.sliding_window)) << c.name;
    const std::vector<std::vector<double>> want = test::ReferenceForward(ref, all);
    auto worst_change = [&](const RefModel& changed) {
      const std::vector<std::vector<double>> other = test::ReferenceForward(changed, all);
      double worst = 0.0;
      for (size_t t = 0; t < all.size(); ++t) {
        double max_ref = 0.0, max_diff = 0.0;
        for (size_t v = 0; v < want[t].size(); ++v) {
          max_ref = std::max(max_ref, std::fabs(want[t][v]));
          max_diff = std::max(max_diff, std::fabs(want[t][v] - other[t][v]));
        }
        worst = std::max(worst, max_diff / max_ref);
      }
      return worst;
    };
    RefModel no_window = ref;
    no_window.config.sliding_window = 1 << 20;
    RefModel one_base = ref;
    one_base.config.rope_local_base = ref.config.rope_base;
    const double w_change = worst_change(no_window), b_change = worst_change(one_base);
    if (c.quant.empty() && (c.type == GgmlType::kF32 || c.type == GgmlType::kF16)) {
      ++checked;
      EXPECT_GT(w_change, 3.0 * Tolerance(c)) << c.name;
      EXPECT_GT(b_change, 3.0 * Tolerance(c)) << c.name;
    }
    std::printf("[ gemma3 ] %-26s window lifted %.3g, local base = global %.3g (tolerance %.3g)\n", c.name,
                w_change, b_change, Tolerance(c));
  }
  EXPECT_GE(n, 5);
  EXPECT_GE(checked, 3);
}

// --- session behaviour ----------------------------------------------------------------

const Case kSessionCase("session_llama", Llama(4, 2, 16, false), GgmlType::kF16);

class SessionBehaviourTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kTolF16 = Tolerance(kSessionCase);
    ASSERT_NO_FATAL_FAILURE(LoadCase(kSessionCase, 7, &f_));
    all_ = Concat(kPrompt, kDecode);
    ref_ = test::ReferenceForward(f_.ref, all_);
  }
  std::unique_ptr<Session> NewSession(int n_ctx, int n_batch) {
    SessionOptions opt;
    opt.n_ctx = n_ctx;
    opt.n_threads = 2;
    opt.n_batch = n_batch;
    std::unique_ptr<Session> s;
    Status st = Session::Create(*f_.model, opt, &s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return s;
  }
  double kTolF16 = 0.0;
  Fixture f_;
  std::vector<int32_t> all_;
  std::vector<std::vector<double>> ref_;
};

TEST_F(SessionBehaviourTest, ResetGivesSameLogits) {
  std::unique_ptr<Session> s = NewSession(32, 4);
  ASSERT_TRUE(s->Prefill(kPrompt).ok());
  const std::vector<float> first(s->logits(), s->logits() + s->n_vocab());
  ASSERT_TRUE(s->Decode(kDecode[0]).ok());
  ASSERT_TRUE(s->Decode(kDecode[1]).ok());
  s->Reset();
  EXPECT_EQ(s->n_past(), 0);
  ASSERT_TRUE(s->Prefill(kPrompt).ok());
  EXPECT_EQ(0, std::memcmp(first.data(), s->logits(), first.size() * sizeof(float)));
  // And the cache rows overwritten after Reset are the right ones for decoding on.
  ASSERT_TRUE(s->Decode(kDecode[0]).ok());
  CompareLogits(s->logits(), ref_[kPrompt.size()], kTolF16, "after reset");
}

TEST_F(SessionBehaviourTest, PromptLongerThanContextIsOutOfRange) {
  std::unique_ptr<Session> s = NewSession(16, 4);
  ASSERT_EQ(s->n_ctx(), 16);
  std::vector<int32_t> long_prompt = Concat(Concat(kPrompt, kDecode), kDecode);  // 22 > 16
  Status st = s->Prefill(long_prompt);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_EQ(s->n_past(), 0);

  // Still usable, and correct.
  ASSERT_TRUE(s->Prefill(kPrompt).ok());
  CompareLogits(s->logits(), ref_[kPrompt.size() - 1], kTolF16, "after OutOfRange");
  // 12 used + 5 more > 16: refused, nothing changes.
  st = s->Prefill(kDecode);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_EQ(s->n_past(), static_cast<int>(kPrompt.size()));
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(s->Decode(kDecode[i]).ok());
    CompareLogits(s->logits(), ref_[kPrompt.size() + i], kTolF16, "decode to the end");
  }
  EXPECT_EQ(s->n_past(), 16);
  st = s->Decode(kDecode[4]);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_EQ(s->n_past(), 16);
}

TEST_F(SessionBehaviourTest, InvalidTokenIsInvalidArgument) {
  std::unique_ptr<Session> s = NewSession(32, 8);
  for (int32_t bad : {-1, test::kSyntheticVocab, std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()}) {
    Status st = s->Decode(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad << ": " << st.ToString();
    EXPECT_NE(st.message().find(std::to_string(bad)), std::string::npos) << st.message();
    std::vector<int32_t> prompt = kPrompt;
    prompt[5] = bad;
    st = s->Prefill(prompt);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(s->n_past(), 0);
  }
  EXPECT_EQ(s->Prefill(std::span<const int32_t>()).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(s->Prefill(kPrompt).ok());
  CompareLogits(s->logits(), ref_[kPrompt.size() - 1], kTolF16, "after invalid tokens");
}

TEST_F(SessionBehaviourTest, SessionsOfOneModelAreIndependent) {
  std::unique_ptr<Session> a = NewSession(32, 64);
  std::unique_ptr<Session> b = NewSession(32, 3);
  ASSERT_TRUE(a->Prefill(kPrompt).ok());
  ASSERT_TRUE(b->Prefill(std::span<const int32_t>(kDecode)).ok());
  ASSERT_TRUE(a->Decode(kDecode[0]).ok());
  CompareLogits(a->logits(), ref_[kPrompt.size()], kTolF16, "session a");
}


// The plan is exact about the KV cache, adds up, and the budget is enforced before anything
// is allocated: just below the plan fails naming every figure, exactly at it succeeds.
TEST_F(SessionBehaviourTest, BudgetBelowPlanFailsNamingEveryFigure) {
  SessionOptions opt;
  opt.stream_weights = false;  // streaming's own plans: tests/runtime/streaming_test.cc
  opt.n_ctx = 32;
  opt.n_threads = 2;
  opt.n_batch = 8;
  SessionPlan plan;
  ASSERT_TRUE(PlanSession(*f_.model, opt, &plan).ok());
  const ModelConfig& c = f_.model->config();
  EXPECT_EQ(plan.kv_bytes, 2ull * c.n_layer * c.n_head_kv * c.head_dim * 32 * 2);
  EXPECT_EQ(plan.scratch_bytes, plan.activation_bytes + plan.attention_bytes + plan.logits_bytes + plan.sampler_bytes);
  EXPECT_EQ(plan.logits_bytes, static_cast<uint64_t>(c.n_vocab) * 4);
  EXPECT_EQ(plan.weight_bytes, f_.model->weight_bytes());
  EXPECT_EQ(plan.weight_resident_bytes, plan.weight_bytes);
  EXPECT_EQ(plan.total(), plan.weight_resident_bytes + plan.kv_bytes + plan.scratch_bytes);
  EXPECT_TRUE(plan.fits());  // no budget

  opt.budget = memory::GivenBudget(plan.total() - 1);
  std::unique_ptr<Session> s;
  Status st = Session::Create(*f_.model, opt, &s);
  ASSERT_EQ(st.code(), StatusCode::kOutOfMemory) << st.ToString();
  EXPECT_EQ(s, nullptr);
  for (const std::string& figure :
       {std::string("weights ") + std::to_string(plan.weight_resident_bytes) + " bytes",
        std::string("KV cache ") + std::to_string(plan.kv_bytes) + " bytes",
        std::string("scratch ") + std::to_string(plan.scratch_bytes) + " bytes",
        std::string("total ") + std::to_string(plan.total()) + " bytes",
        std::string("budget ") + std::to_string(plan.total() - 1) + " bytes", std::string("--mem-budget")}) {
    EXPECT_NE(st.message().find(figure), std::string::npos) << figure << " in: " << st.message();
  }
  // The plan printer agrees with the check.
  ASSERT_TRUE(PlanSession(*f_.model, opt, &plan).ok());
  EXPECT_FALSE(plan.fits());
  EXPECT_NE(DescribePlan(plan, c).find("DOES NOT FIT"), std::string::npos) << DescribePlan(plan, c);

  opt.budget = memory::GivenBudget(plan.total());
  st = Session::Create(*f_.model, opt, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(s->plan().total(), plan.total());
  EXPECT_EQ(s->plan().budget.bytes, plan.total());
  ASSERT_TRUE(s->Prefill(kPrompt).ok());
  CompareLogits(s->logits(), ref_[kPrompt.size() - 1], kTolF16, "at the budget");
}

}  // namespace
}  // namespace ondo::runtime
