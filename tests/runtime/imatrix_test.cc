// Importance matrices: what the collector accumulates against a direct computation from the
// synthetic model's weights, the legacy file format read and written (and every malformed file
// refused), and llama.cpp's own files (../shared/models/ko-mini-a.imatrix) read. The comparison
// with llama-imatrix's output on the same text is in tests/examples (EvalCliKoMini).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/imatrix.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {


class ImatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::GgufWriter w;
    test::SyntheticSpec spec;
    spec.config = test::SmallLlama(64, 96, 2);
    spec.seed = 3;
    test::BuildSyntheticModel(spec, &w, &ref_);
    path_ = test::UniqueTempPath(::testing::TempDir(), "ondo_imatrix_model");
    ASSERT_TRUE(w.WriteFile(path_));
    ASSERT_TRUE(Model::Load(path_, &model_).ok());
    std::remove(path_.c_str());
  }
  test::RefModel ref_;
  std::string path_;
  std::unique_ptr<Model> model_;
};

const std::vector<int32_t> kTokens = {1, 270, 3, 150, 287, 42, 42, 200, 7, 259, 100, 13, 5, 77};

TEST_F(ImatrixTest, CollectsMeanSquaresOfEveryMatrixInput) {
  SessionOptions opt;
  opt.n_ctx = 32;
  opt.n_threads = 2;
  std::unique_ptr<Session> s;
  ASSERT_TRUE(Session::Create(*model_, opt, &s).ok());
  ImatrixCollector collector(*model_, true);
  s->set_observer(&collector);
  const std::span<const int32_t> all(kTokens);
  ASSERT_TRUE(s->Prefill(all.first(9)).ok());
  ASSERT_TRUE(s->Prefill(all.subspan(9)).ok());
  collector.EndChunk();
  s->set_observer(nullptr);
  ASSERT_TRUE(s->Decode(3).ok());  // not observed any more

  const Imatrix& m = collector.imatrix();
  EXPECT_EQ(m.chunks(), 1);
  // 7 matrices per layer; the synthetic model's output head is untied.
  EXPECT_EQ(m.entries().size(), 2u * 7u + (ref_.config.tied_output ? 0u : 1u));
  for (const auto& [name, e] : m.entries()) {
    EXPECT_EQ(e.ncall, 2) << name;
    // The output head runs only where logits are asked for: the last token of each Prefill.
    EXPECT_EQ(e.count, name == "output.weight" ? 2 : static_cast<int64_t>(kTokens.size())) << name;
  }
  // blk.0's q, k and v see RMSNorm(embedding) * attn_norm: computed here from the weights.
  const int E = ref_.config.n_embd;
  std::vector<double> want(static_cast<size_t>(E), 0.0);
  for (int32_t id : kTokens) {
    const double* x = ref_.tok_embd.data() + static_cast<size_t>(id) * E;
    double ss = 0;
    for (int j = 0; j < E; ++j) ss += x[j] * x[j];
    const double inv = 1.0 / std::sqrt(ss / E + ref_.config.norm_eps);
    for (int j = 0; j < E; ++j) {
      const double v = x[j] * inv * ref_.layers[0].attn_norm[static_cast<size_t>(j)];
      want[static_cast<size_t>(j)] += v * v / static_cast<double>(kTokens.size());
    }
  }
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
    const ImatrixEntry* e = m.Find(name);
    ASSERT_NE(e, nullptr) << name;
    const std::vector<float> got = e->Means();
    ASSERT_EQ(got.size(), want.size());
    for (int j = 0; j < E; ++j) EXPECT_NEAR(got[j], want[j], 1e-5 * want[j] + 1e-9) << name << " column " << j;
  }
  EXPECT_EQ(m.Find("blk.1.ffn_down.weight")->sum2.size(), static_cast<size_t>(ref_.config.n_ff));
  EXPECT_EQ(m.Find("token_embd.weight"), nullptr);
}

TEST_F(ImatrixTest, SaveLoadRoundTripAndMalformedFiles) {
  SessionOptions opt;
  opt.n_ctx = 32;
  std::unique_ptr<Session> s;
  ASSERT_TRUE(Session::Create(*model_, opt, &s).ok());
  ImatrixCollector collector(*model_, false);
  s->set_observer(&collector);
  ASSERT_TRUE(s->Prefill(kTokens).ok());
  collector.EndChunk();
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_imatrix");
  ASSERT_TRUE(collector.imatrix().Save(path, "calib.txt").ok());
  Imatrix back;
  const Status ls = Imatrix::Load(path, &back);
  ASSERT_TRUE(ls.ok()) << ls.ToString();
  EXPECT_EQ(back.chunks(), 1);
  ASSERT_EQ(back.entries().size(), collector.imatrix().entries().size());
  for (const auto& [name, e] : collector.imatrix().entries()) {
    const ImatrixEntry* b = back.Find(name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(b->ncall, e.ncall);
    EXPECT_EQ(b->Means(), e.Means()) << name;  // ncall 1: mean * 1 / 1 is exact
  }

  std::ifstream in(path, std::ios::binary);
  const std::vector<char> good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto load = [&](const std::vector<char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    Imatrix m;
    return Imatrix::Load(path, &m);
  };
  // Truncated inside any entry: an error. (The trailing chunk count and dataset name are
  // optional, as in llama.cpp's reader.)
  const size_t entries_end = good.size() - 4 - 4 - std::strlen("calib.txt");
  for (size_t n = 0; n < entries_end; n += 7) {
    EXPECT_FALSE(load(std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))).ok()) << n;
  }
  EXPECT_TRUE(load(std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(entries_end))).ok());
  std::vector<char> nan = good;
  // The first value of the first entry: after n, len, name, ncall, nval.
  int32_t len = 0;
  std::memcpy(&len, nan.data() + 4, 4);
  const float v = NAN;
  std::memcpy(nan.data() + 8 + len + 8, &v, 4);
  const Status ns = load(nan);
  EXPECT_EQ(ns.code(), StatusCode::kCorrupt);
  EXPECT_NE(ns.message().find("finite"), std::string::npos) << ns.message();
  std::vector<char> huge = good;
  const int32_t n = 1 << 30;
  std::memcpy(huge.data(), &n, 4);
  EXPECT_EQ(load(huge).code(), StatusCode::kCorrupt);
  std::remove(path.c_str());
  Imatrix m;
  EXPECT_EQ(Imatrix::Load(path, &m).code(), StatusCode::kNotFound);
}

// llama.cpp's file for ko-mini-a: its 42 matrices, each with one value per input column.
TEST(ImatrixShared, ReadsLlamaCppFile) {
  const std::string dir = ONDO_SHARED_DIR "/models";
  const std::string imatrix = dir + "/ko-mini-a.imatrix", model = dir + "/ko-mini-a.f32.gguf";
  if (!std::filesystem::exists(imatrix) || !std::filesystem::exists(model)) GTEST_SKIP() << "no ../shared";
  Imatrix m;
  const Status s = Imatrix::Load(imatrix, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<Model> mod;
  ASSERT_TRUE(Model::Load(model, &mod).ok());
  EXPECT_EQ(m.entries().size(), 42u);
  for (const auto& [name, e] : m.entries()) {
    const GgufTensorInfo* t = mod->gguf().FindTensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(e.sum2.size(), static_cast<size_t>(t->ne[0])) << name;
    EXPECT_GT(e.ncall, 0) << name;
    for (float v : e.Means()) EXPECT_GE(v, 0.0f);
  }
}

}  // namespace
}  // namespace ondo::runtime
