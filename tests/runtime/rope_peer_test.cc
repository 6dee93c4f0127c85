// Greedy ids of small synthetic models with rope scaling (llama, qwen2, exaone) equal llama.cpp's, and of a gemma3
// model (sliding window, two rope bases) equal ik_llama.cpp's (the llama.cpp build here
// predates gemma3). The models are built here (BuildSyntheticModel with fixed seeds,
// attention sharpened so that positions matter); the expected ids were produced once by the
// peer's llama-cli from the very same files and are recorded, with how, in
// tests/runtime/data/rope_peer/*.txt: the test needs no peer. Set ONDO_WRITE_PEER_MODELS=DIR
// to write the model files again (DIR/<name>.gguf).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {

using test::GgmlType;
using test::GgufWriter;
using test::RefArch;
using test::RefConfig;

struct PeerCase {
  const char* name;  // also the data file's stem
  RefConfig config;
  uint64_t seed;
};
void PrintTo(const PeerCase& c, std::ostream* os) { *os << c.name; }  // not the config's bytes

// llama, 2 layers, 4 query / 2 KV heads of 16, llama3 rope factors over an original context
// of 32 (factor 8): at positions past ~3 the low frequencies rotate 8x slower than unscaled.
PeerCase Llama3Case() {
  RefConfig c = test::SmallLlama(64, 128, 2);
  c.n_ctx_train = 256;
  c.llama3_factor = 8.0;
  c.llama3_low_freq_factor = 1.0;
  c.llama3_high_freq_factor = 4.0;
  c.llama3_original_context = 32;
  return {"llama3_rope_llama", c, 7};
}

// qwen2 (q/k/v biases, NEOX rope, base 1e6) with YaRN: factor 4 over an original context
// of 64, llama.cpp's defaults for the rest (ext_factor 1, beta 32 / 1, attn_factor 1).
PeerCase Qwen2YarnCase() {
  RefConfig c = test::SmallLlama(64, 128, 2);
  c.arch = RefArch::kQwen2;
  c.rope_base = 1000000.0;
  c.norm_eps = 1e-6;
  c.n_ctx_train = 256;
  c.yarn_factor = 4.0;
  c.yarn_original_context = 64;
  return {"yarn_qwen2", c, 8};
}

// exaone (EXAONE 3.5: llama's blocks, NEOX rope, llama3 rope factors in rope_freqs.weight),
// 2 layers, 4 query / 2 KV heads of 16, factor 8 over an original context of 32, rope base
// 1e6 as EXAONE 3.5 has.
PeerCase ExaoneCase() {
  RefConfig c = Llama3Case().config;
  c.arch = RefArch::kExaone;
  c.rope_base = 1000000.0;
  return {"exaone_llama3_rope", c, 10};
}

// gemma3, 8 layers (0-4, 6, 7 sliding-window, 5 global), 4 query / 2 KV heads of 32, window
// 8 (the prompt alone is longer), global rope base 1e6, local 1e4, tied output.
PeerCase Gemma3Case() {
  RefConfig c = test::SmallLlama(64, 128, 8);
  c.arch = RefArch::kGemma3;
  c.head_dim = 32;
  c.n_rot = 32;
  c.rope_base = 1000000.0;
  c.norm_eps = 1e-6;
  c.n_ctx_train = 256;
  c.sliding_window = 8;
  c.tied_output = true;
  return {"gemma3_swa", c, 9};
}

// Writes the case's model. q and k weights (gemma3: its q and k norm weights, as q and k are
// normalized) are scaled by 3 (2) so that attention is sharp enough for the rotation to
// decide the tokens; the keys of every value type the synthetic builder adds for the
// reader's sake are removed (llama.cpp rejects nested arrays). Without `with_feature`, the
// rope scaling is left out, or gemma3's window is wider than any test context.
void BuildPeerModel(const PeerCase& pc, bool with_feature, GgufWriter* w) {
  test::SyntheticSpec spec;
  spec.config = pc.config;
  if (!with_feature) {
    spec.config.llama3_factor = 0.0;
    spec.config.yarn_factor = 0.0;
    if (spec.config.sliding_window > 0) spec.config.sliding_window = 4096;
  }
  spec.weight_type = GgmlType::kF32;
  spec.seed = pc.seed;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, w, &ref);
  for (const char* k : {"ondo.test.u8", "ondo.test.i8", "ondo.test.u16", "ondo.test.i16", "ondo.test.i32",
                        "ondo.test.u64", "ondo.test.i64", "ondo.test.f64", "ondo.test.u8_array",
                        "ondo.test.nested"}) {
    ASSERT_TRUE(w->RemoveKey(k)) << k;
  }
  const RefConfig& c = pc.config;
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const test::RefLayer& L = ref.layers[static_cast<size_t>(i)];
    if (c.arch == RefArch::kGemma3) {
      for (auto [vals, name] : {std::pair{&L.q_norm, "attn_q_norm.weight"}, std::pair{&L.k_norm, "attn_k_norm.weight"}}) {
        std::vector<float> x;
        for (double v : *vals) x.push_back(static_cast<float>(2.0 * v));
        ASSERT_TRUE(w->RemoveTensor(p + name));
        w->AddTensor(p + name, {c.head_dim}, GgmlType::kF32, x);
      }
      continue;
    }
    const std::vector<double>* vals[] = {&L.wq, &L.wk};
    const char* names[] = {"attn_q.weight", "attn_k.weight"};
    const int rows[] = {c.n_head * c.head_dim, c.n_head_kv * c.head_dim};
    for (int j = 0; j < 2; ++j) {
      std::vector<float> x;
      for (double v : *vals[j]) x.push_back(static_cast<float>(3.0 * v));
      ASSERT_TRUE(w->RemoveTensor(p + names[j]));
      w->AddTensor(p + names[j], {c.n_embd, rows[j]}, GgmlType::kF32, x);
    }
  }
}

std::unique_ptr<Model> LoadPeerModel(const PeerCase& pc, bool with_feature) {
  GgufWriter w;
  BuildPeerModel(pc, with_feature, &w);
  if (const char* dir = std::getenv("ONDO_WRITE_PEER_MODELS"); dir != nullptr && with_feature) {
    EXPECT_TRUE(w.WriteFile(std::string(dir) + "/" + pc.name + ".gguf"));
  }
  const std::string path = test::UniqueTempPath(::testing::TempDir(), std::string("ondo_peer_") + pc.name);
  EXPECT_TRUE(w.WriteFile(path));
  std::unique_ptr<Model> model;
  const Status s = Model::Load(path, &model);
  std::remove(path.c_str());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return model;
}

struct PeerRun {
  std::vector<int32_t> prompt_ids, greedy_ids;
};

// "prompt_ids: 1 2 3" and "greedy_ids: ..." lines; '#' starts a comment line.
bool ReadRun(const std::string& path, PeerRun* run) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    std::vector<int32_t>* out = tag == "prompt_ids:" ? &run->prompt_ids : tag == "greedy_ids:" ? &run->greedy_ids : nullptr;
    if (out == nullptr) continue;
    for (int32_t id; ls >> id;) out->push_back(id);
  }
  return !run->prompt_ids.empty() && !run->greedy_ids.empty();
}

// Greedy continuation of `prompt`, n ids, stopping after EOS (2) as llama-cli does.
std::vector<int32_t> Greedy(const Model& model, const std::vector<int32_t>& prompt, size_t n) {
  SessionOptions opt;
  opt.n_ctx = 128;
  opt.n_threads = 2;
  opt.n_batch = 16;
  std::unique_ptr<Session> s;
  EXPECT_TRUE(Session::Create(model, opt, &s).ok());
  std::vector<int32_t> out;
  if (s == nullptr || !s->Prefill(prompt).ok()) return out;
  while (out.size() < n) {
    const float* l = s->logits();
    const int32_t id = static_cast<int32_t>(std::max_element(l, l + s->n_vocab()) - l);
    out.push_back(id);
    if (id == 2 || !s->Decode(id).ok()) break;
  }
  return out;
}

class RopePeerTest : public ::testing::TestWithParam<PeerCase> {};

TEST_P(RopePeerTest, GreedyIdsEqualLlamaCpp) {
  const PeerCase& pc = GetParam();
  std::unique_ptr<Model> model = LoadPeerModel(pc, true);  // written first: see the top
  ASSERT_NE(model, nullptr);
  PeerRun run;
  const std::string data = std::string(ONDO_TESTS_DIR) + "/data/rope_peer/" + pc.name + ".txt";
  ASSERT_TRUE(ReadRun(data, &run)) << data;
  EXPECT_EQ(model->config().rope_freq_factors, pc.config.llama3_factor > 0.0);
  EXPECT_EQ(model->config().rope_scaling == RopeScaling::kYarn, pc.config.yarn_factor > 0.0);
  EXPECT_EQ(model->config().n_swa, pc.config.sliding_window);
  const std::vector<int32_t> got = Greedy(*model, run.prompt_ids, run.greedy_ids.size());
  EXPECT_EQ(got, run.greedy_ids);

  // The scaling (window) decides the tokens: without rope_freqs.weight (the YaRN keys, a
  // window shorter than the text) the same weights continue differently, so a runtime
  // ignoring them fails this test.
  std::unique_ptr<Model> plain = LoadPeerModel(pc, false);
  ASSERT_NE(plain, nullptr);
  const std::vector<int32_t> without = Greedy(*plain, run.prompt_ids, run.greedy_ids.size());
  EXPECT_NE(without, run.greedy_ids);
  auto str = [](const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t id : v) s += std::to_string(id) + " ";
    return s;
  };
  std::printf("[ peer ] %s: ondo %s\n[ peer ] without the feature: %s\n", pc.name, str(got).c_str(), str(without).c_str());
}

INSTANTIATE_TEST_SUITE_P(Peers, RopePeerTest, ::testing::Values(Llama3Case(), Qwen2YarnCase(), Gemma3Case(), ExaoneCase()),
                         [](const ::testing::TestParamInfo<PeerCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ondo::runtime
