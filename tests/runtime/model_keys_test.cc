// No silent wrong answers: a metadata key or a tensor that would change what the model
// computes and that ondo does not implement is refused at load, naming it; the keys known to
// be irrelevant (runtime/model.cc, kArchKeyRules and kOtherNamespaces) load. Files are
// synthetic llama / qwen / gemma3 / gptneox models written by tests/runtime/gguf_writer with one key or
// tensor added.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {

using test::GgmlType;
using test::GgufWriter;
using test::RefArch;
using test::RefConfig;

// Builds a small model of `arch`, lets `edit` change the writer, and loads it.
Status LoadEdited(RefArch arch, const std::function<void(GgufWriter*)>& edit,
                  std::unique_ptr<Model>* out = nullptr) {
  RefConfig c = test::SmallLlama(32, 64, 1);
  c.arch = arch;
  if (arch == RefArch::kGptNeox) {
    c.n_head_kv = c.n_head;
    c.n_rot = c.head_dim / 2;
  }
  if (arch == RefArch::kGemma3) c.sliding_window = 4;
  GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = c;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, &w, &ref);
  edit(&w);
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_model_keys");
  EXPECT_TRUE(w.WriteFile(path));
  std::unique_ptr<Model> model;
  Status s = Model::Load(path, &model);
  std::remove(path.c_str());
  if (out != nullptr) *out = std::move(model);
  return s;
}

void ExpectRefusedNaming(const Status& s, const std::string& name) {
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << name << ": " << s.ToString();
  EXPECT_NE(s.message().find(name), std::string::npos) << "the message does not name '" << name << "': " << s.message();
}

TEST(ModelKeysTest, PlainSyntheticModelsLoad) {
  for (RefArch arch : {RefArch::kLlama, RefArch::kQwen2, RefArch::kQwen3, RefArch::kGptNeox, RefArch::kGemma3,
                       RefArch::kExaone}) {
    const Status s = LoadEdited(arch, [](GgufWriter*) {});
    EXPECT_TRUE(s.ok()) << test::RefArchName(arch) << ": " << s.ToString();
  }
}

// Keys that change the computation in ways ondo does not implement: refused, by name.
TEST(ModelKeysTest, UnimplementedKeysAreRefusedByName) {
  struct KeyCase {
    std::string key;
    std::function<void(GgufWriter*, const std::string&)> add;
  };
  auto f32 = [](float v) { return [v](GgufWriter* w, const std::string& k) { w->AddF32(k, v); }; };
  auto u32 = [](uint32_t v) { return [v](GgufWriter* w, const std::string& k) { w->AddU32(k, v); }; };
  const std::vector<KeyCase> cases = {
      {"llama.final_logit_softcapping", f32(30.0f)},
      {"llama.attn_logit_softcapping", f32(50.0f)},
      {"llama.attention.sliding_window", u32(4096)},
      {"llama.attention.sliding_window_pattern", u32(6)},
      {"llama.rope.freq_base_swa", f32(10000.0f)},
      {"llama.embedding_scale", f32(12.0f)},
      {"llama.residual_scale", f32(0.22f)},
      {"llama.logit_scale", f32(0.25f)},
      {"llama.attention.scale", f32(0.0078125f)},
      {"llama.expert_count", u32(8)},
      {"llama.expert_used_count", u32(2)},
      {"llama.expert_shared_count", u32(1)},
      {"llama.expert_feed_forward_length", u32(512)},
      {"llama.attention.causal", [](GgufWriter* w, const std::string& k) { w->AddBool(k, false); }},
      {"llama.attention.max_alibi_bias", f32(8.0f)},
      {"llama.attention.clamp_kqv", f32(8.0f)},
      {"llama.rope.scaling.attn_factor", f32(1.2f)},
      {"llama.rope.scaling.yarn_log_multiplier", f32(0.1f)},
      {"llama.rope.dimension_sections", [](GgufWriter* w, const std::string& k) { w->AddI32Array(k, {4, 2, 2, 0}); }},
      // Not in any list: a future key is refused rather than ignored.
      {"llama.attention.some_future_multiplier", f32(2.0f)},
      {"llama.swin_norm", [](GgufWriter* w, const std::string& k) { w->AddBool(k, true); }},
      // A namespace ondo does not know.
      {"mystery.setting", u32(1)},
  };
  for (const KeyCase& c : cases) {
    const Status s = LoadEdited(RefArch::kLlama, [&](GgufWriter* w) { c.add(w, c.key); });
    ExpectRefusedNaming(s, c.key);
  }
  // The same key in another architecture's file is refused under that name.
  ExpectRefusedNaming(LoadEdited(RefArch::kQwen2, [](GgufWriter* w) { w->AddU32("qwen2.attention.sliding_window", 4096); }),
                      "qwen2.attention.sliding_window");
  ExpectRefusedNaming(LoadEdited(RefArch::kExaone, [](GgufWriter* w) { w->AddU32("exaone.attention.sliding_window", 4096); }),
                      "exaone.attention.sliding_window");
  ExpectRefusedNaming(LoadEdited(RefArch::kExaone, [](GgufWriter* w) { w->AddF32("exaone.final_logit_softcapping", 30.0f); }),
                      "exaone.final_logit_softcapping");
}

TEST(ModelKeysTest, UnimplementedRopeScalingTypesAreRefused) {
  for (const char* type : {"longrope", "dynamic", "su", "llama3"}) {
    const Status s = LoadEdited(RefArch::kQwen2, [&](GgufWriter* w) {
      w->AddString("qwen2.rope.scaling.type", type);
      w->AddF32("qwen2.rope.scaling.factor", 4.0f);
    });
    ExpectRefusedNaming(s, "qwen2.rope.scaling.type");
    EXPECT_NE(s.message().find(type), std::string::npos) << s.message();
  }
}

// Keys known not to change the computation, and neutral values of the others, load.
TEST(ModelKeysTest, KnownIrrelevantKeysLoad) {
  const Status s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) {
    w->AddU32("llama.vocab_size", test::kSyntheticVocab);
    w->AddBool("llama.rope.scaling.finetuned", false);
    w->AddString("llama.tensor_data_layout", "Meta AI original pth");
    w->AddU32("llama.expert_count", 0);
    w->AddU32("llama.expert_used_count", 0);
    w->AddBool("llama.attention.causal", true);
    w->AddF32("llama.attention.max_alibi_bias", 0.0f);
    w->AddF32("llama.rope.scaling.attn_factor", 1.0f);
    w->AddF32("llama.embedding_scale", 1.0f);
    w->AddF32("llama.residual_scale", 1.0f);
    w->AddF32("llama.logit_scale", 1.0f);
    w->AddU32("llama.rope.scaling.original_context_length", 64);
    w->AddString("general.license", "mit");
    w->AddU32("general.file_type", 0);
    w->AddString("quantize.imatrix.file", "x.imatrix");
    w->AddI32("quantize.imatrix.chunks_count", 10);
    w->AddU16("split.count", 1);
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// llama.cpp's reading of the rope scaling keys: absent type = linear, type none ignores the
// factor, factor 0 = no scaling, the old key rope.scale_linear.
TEST(ModelKeysTest, RopeScalingKeysAsLlamaCppReadsThem) {
  struct ScaleCase {
    const char* what;
    std::function<void(GgufWriter*)> edit;
    float want_scale;
  };
  const std::vector<ScaleCase> cases = {
      {"none", [](GgufWriter*) {}, 1.0f},
      {"factor without type", [](GgufWriter* w) { w->AddF32("llama.rope.scaling.factor", 2.0f); }, 0.5f},
      {"linear", [](GgufWriter* w) {
         w->AddString("llama.rope.scaling.type", "linear");
         w->AddF32("llama.rope.scaling.factor", 4.0f);
       }, 0.25f},
      {"type none with a factor", [](GgufWriter* w) {
         w->AddString("llama.rope.scaling.type", "none");
         w->AddF32("llama.rope.scaling.factor", 4.0f);
       }, 1.0f},
      {"factor 0", [](GgufWriter* w) { w->AddF32("llama.rope.scaling.factor", 0.0f); }, 1.0f},
      {"old key", [](GgufWriter* w) { w->AddF32("llama.rope.scale_linear", 2.0f); }, 0.5f},
  };
  for (const ScaleCase& c : cases) {
    std::unique_ptr<Model> m;
    const Status s = LoadEdited(RefArch::kLlama, c.edit, &m);
    ASSERT_TRUE(s.ok()) << c.what << ": " << s.ToString();
    EXPECT_EQ(m->config().rope_freq_scale, c.want_scale) << c.what;
    EXPECT_EQ(m->rope().freq_scale, c.want_scale) << c.what;
    EXPECT_EQ(m->rope().ext_factor, 0.0f) << c.what;
    EXPECT_EQ(m->rope().freq_factors, nullptr) << c.what;
  }
  // A negative factor is corrupt.
  const Status s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) { w->AddF32("llama.rope.scaling.factor", -2.0f); });
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
}

// YaRN resolved as llama.cpp does (ggml_rope_yarn_corr_dims, rope_yarn's mscale): qwen2,
// head_dim 8, n_rot 8, base 10000, factor 4, original context 64, beta 32 / 1.
TEST(ModelKeysTest, YarnParameters) {
  std::unique_ptr<Model> m;
  const Status s = LoadEdited(RefArch::kQwen2, [](GgufWriter* w) {
    w->AddString("qwen2.rope.scaling.type", "yarn");
    w->AddF32("qwen2.rope.scaling.factor", 4.0f);
    w->AddU32("qwen2.rope.scaling.original_context_length", 64);
  }, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const kernels::RopeParams& r = m->rope();
  EXPECT_EQ(m->config().rope_scaling, RopeScaling::kYarn);
  EXPECT_EQ(m->config().n_ctx_orig_yarn, 64);
  EXPECT_EQ(r.freq_scale, 0.25f);
  EXPECT_EQ(r.ext_factor, 1.0f);
  // corr_dim(beta) = n_rot ln(64 / (2 pi beta)) / (2 ln 10000): beta 32 -> -0.50 (floor -1,
  // clamped to 0), beta 1 -> 1.01 (ceil 2).
  EXPECT_EQ(r.corr_low, 0.0f);
  EXPECT_EQ(r.corr_high, 2.0f);
  EXPECT_NEAR(r.mscale, 1.0 + 0.1 * std::log(4.0), 1e-6);
  // The file's yarn_* keys override llama.cpp's defaults.
  const Status s2 = LoadEdited(RefArch::kQwen2, [](GgufWriter* w) {
    w->AddString("qwen2.rope.scaling.type", "yarn");
    w->AddF32("qwen2.rope.scaling.factor", 4.0f);
    w->AddF32("qwen2.rope.scaling.yarn_ext_factor", 0.5f);
    w->AddF32("qwen2.rope.scaling.yarn_attn_factor", 2.0f);
  }, &m);
  ASSERT_TRUE(s2.ok()) << s2.ToString();
  EXPECT_EQ(m->rope().ext_factor, 0.5f);
  EXPECT_NEAR(m->rope().mscale, 2.0 * (1.0 + 0.1 * std::log(4.0)), 1e-6);
}

// Tensors the architecture does not use are refused by name.
TEST(ModelKeysTest, UnusedTensorsAreRefusedByName) {
  struct TensorCase {
    RefArch arch;
    std::string name;
    std::vector<int64_t> ne;
  };
  const std::vector<TensorCase> cases = {
      {RefArch::kLlama, "blk.0.ffn_gate_inp.weight", {32, 4}},   // a MoE router
      {RefArch::kLlama, "blk.0.attn_rot_embd.weight", {4}},      // old rotary buffers
      {RefArch::kLlama, "blk.0.attn_q_norm.weight", {8}},        // qwen3's, not llama's
      {RefArch::kLlama, "blk.0.post_attention_norm.weight", {32}},  // gemma's extra norms
      {RefArch::kLlama, "rope_factors_long.weight", {4}},        // phi3's long rope
      {RefArch::kLlama, "blk.1.attn_q.weight", {32, 32}},        // a layer beyond block_count
      {RefArch::kQwen2, "blk.0.ffn_up.bias", {64}},              // a bias qwen2 does not add
      {RefArch::kGptNeox, "rope_freqs.weight", {2}},             // llama3 factors on gptneox
      {RefArch::kGemma3, "rope_freqs.weight", {4}},              // llama.cpp's gemma3 reads none
      {RefArch::kGemma3, "output_norm.bias", {32}},                // RMSNorm adds no bias
      {RefArch::kLlama, "output_norm.bias", {32}},
      {RefArch::kExaone, "blk.0.attn_q_norm.weight", {8}},       // exaone has no q/k norm
  };
  for (const TensorCase& c : cases) {
    const Status s = LoadEdited(c.arch, [&](GgufWriter* w) {
      int64_t n = 1;
      for (int64_t d : c.ne) n *= d;
      w->AddTensor(c.name, c.ne, GgmlType::kF32, std::vector<float>(static_cast<size_t>(n), 1.0f));
    });
    ExpectRefusedNaming(s, c.name);
  }
}

// rope_freqs.weight: n_rot/2 positive F32 divisors, read once at load.
TEST(ModelKeysTest, RopeFreqsTensor) {
  // SmallLlama(32, ...): head_dim 8, n_rot 8, so 4 factors.
  std::unique_ptr<Model> m;
  Status s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) {
    w->AddTensor("rope_freqs.weight", {4}, GgmlType::kF32, {1.0f, 2.0f, 4.0f, 8.0f});
  }, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(m->config().rope_freq_factors);
  ASSERT_NE(m->rope().freq_factors, nullptr);
  EXPECT_EQ(m->rope().freq_factors[3], 8.0f);
  for (RefArch arch : {RefArch::kQwen2, RefArch::kQwen3, RefArch::kExaone}) {
    s = LoadEdited(arch, [](GgufWriter* w) {
      w->AddTensor("rope_freqs.weight", {4}, GgmlType::kF32, {1.0f, 1.0f, 2.0f, 2.0f});
    }, &m);
    EXPECT_TRUE(s.ok()) << test::RefArchName(arch) << ": " << s.ToString();
  }
  s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) {
    w->AddTensor("rope_freqs.weight", {8}, GgmlType::kF32, std::vector<float>(8, 1.0f));
  });
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) {
    w->AddTensor("rope_freqs.weight", {4}, GgmlType::kF32, {1.0f, 0.0f, 2.0f, 2.0f});
  });
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  s = LoadEdited(RefArch::kLlama, [](GgufWriter* w) {
    w->AddTensor("rope_freqs.weight", {4}, GgmlType::kF16, {1.0f, 1.0f, 2.0f, 2.0f});
  });
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
}

// gemma3: the window and the fixed hyper-parameters llama.cpp gives it; the keys llama.cpp's
// gemma3 does not read are refused, and the window is required.
TEST(ModelKeysTest, Gemma3) {
  std::unique_ptr<Model> m;
  Status s = LoadEdited(RefArch::kGemma3, [](GgufWriter*) {}, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ModelConfig& c = m->config();
  EXPECT_EQ(c.arch, Arch::kGemma3);
  EXPECT_EQ(c.n_swa, 4);
  EXPECT_EQ(c.swa_pattern, 6);
  EXPECT_EQ(c.embd_scale, std::sqrt(32.0f));
  EXPECT_TRUE(c.post_norms && c.gelu_gated_ffn);
  EXPECT_EQ(c.attn_scale, 1.0f / std::sqrt(8.0f));
  EXPECT_EQ(c.rope_mode, kernels::RopeMode::kNeox);
  for (int il : {0, 1, 4, 6, 10, 12}) EXPECT_TRUE(c.is_swa_layer(il)) << il;
  for (int il : {5, 11, 17}) EXPECT_FALSE(c.is_swa_layer(il)) << il;
  EXPECT_EQ(m->rope(0).freq_base, 10000.0f);
  EXPECT_EQ(m->rope(5).freq_base, c.rope_freq_base);

  // Linear scaling applies to the global layers only (llama.cpp's rope_freq_scale_train_swa 1).
  s = LoadEdited(RefArch::kGemma3, [](GgufWriter* w) {
    w->AddString("gemma3.rope.scaling.type", "linear");
    w->AddF32("gemma3.rope.scaling.factor", 8.0f);
  }, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(m->rope(5).freq_scale, 0.125f);
  EXPECT_EQ(m->rope(0).freq_scale, 1.0f);

  for (const char* key : {"gemma3.attention.sliding_window_pattern", "gemma3.rope.freq_base_swa",
                          "gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping", "gemma3.attention.scale"}) {
    ExpectRefusedNaming(LoadEdited(RefArch::kGemma3, [&](GgufWriter* w) { w->AddF32(key, 6.0f); }), key);
  }
  s = LoadEdited(RefArch::kGemma3, [](GgufWriter* w) {
    w->AddString("gemma3.rope.scaling.type", "yarn");
    w->AddF32("gemma3.rope.scaling.factor", 4.0f);
  });
  ExpectRefusedNaming(s, "gemma3.rope.scaling.type");
  s = LoadEdited(RefArch::kGemma3, [](GgufWriter* w) { ASSERT_TRUE(w->RemoveKey("gemma3.attention.sliding_window")); });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("gemma3.attention.sliding_window"), std::string::npos) << s.message();
  s = LoadEdited(RefArch::kGemma3, [](GgufWriter* w) {
    ASSERT_TRUE(w->RemoveKey("gemma3.attention.sliding_window"));
    w->AddU32("gemma3.attention.sliding_window", 0);
  });
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  // Its post norms are required.
  s = LoadEdited(RefArch::kGemma3, [](GgufWriter* w) { ASSERT_TRUE(w->RemoveTensor("blk.0.post_ffw_norm.weight")); });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.0.post_ffw_norm.weight"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ondo::runtime
