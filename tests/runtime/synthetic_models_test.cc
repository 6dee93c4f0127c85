// End-to-end forward tests per architecture: a small random model is written as GGUF by the
// test fixture, loaded with Model::Load, run through Session (chunked prefill, then decode)
// and compared after every step with the double-precision reference in reference_forward.cc,
// which shares no code with runtime/ or kernels/.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/model.h"
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
//  * F16 weights: the input vector of every matrix product is rounded to f16 (QKV, output,
//    FFN-in, FFN-down per layer, then the output head): 4 per layer + 1 more;
//  * BF16 weights: those same inputs are rounded to bf16 instead;
//  * Q8_0 weights: those same inputs are quantized to Q8_0 instead.
// One rounding perturbs each element of a vector by a relative error of RMS u:
//    f16: uniform in +-2^-11 relative, so u = 2^-11 / sqrt(3) ~ 2^-11.8;
//    bf16: 8 significant bits instead of 11, u = 2^-8 / sqrt(3);
//    Q8_0: uniform in +-d/2 with d = amax/127 per block of 32, and amax ~ 2.5x the block's
//          RMS, so u ~ 2.5 / (127 sqrt(12)) ~ 2^-7.5.
// A dot product with such a vector carries the same relative RMS error u (n independent
// term errors add like sqrt(n), as does the random-sign dot itself). Norms and residual
// additions keep gains O(1), so the roundings on the way to the logits add in quadrature:
//    rel_rms = sqrt(sum_i u_i^2).
// The ratio max_v |logit_v - ref_v| / max_v |ref_v| estimates rel_rms (both maxima are ~3σ
// of ~300 logits). We allow 3x that estimate:
//    max_v |logit_v - ref_v| <= 3 * rel_rms * max_v |ref_v|,
// which for these 2-layer models is 2.4e-3 (F32 weights), 3.5e-3 (F16; ~2^-8, i.e. the form
// c * max|logit| * 2^-8 with c ~ 0.9), 2.0e-2 (BF16) and 5.1e-2 (Q8_0). Each test prints
// its observed ratio: 0.1x-0.5x of these bounds over seeds 1..8 and 1234.
double Tolerance(GgmlType type, int n_layer) {
  const double u_f16 = 0x1.0p-11 / std::sqrt(3.0);
  const double u_bf16 = 0x1.0p-8 / std::sqrt(3.0);
  const double u_q8 = 2.5 / (127.0 * std::sqrt(12.0));
  const double per_product = 4.0 * n_layer + 1.0;     // matrix-product inputs incl. the head
  double sum_u2 = 4.0 * n_layer * u_f16 * u_f16;      // K, V, q, p
  if (type == GgmlType::kF16) sum_u2 += per_product * u_f16 * u_f16;
  if (type == GgmlType::kBF16) sum_u2 += per_product * u_bf16 * u_bf16;
  if (type == GgmlType::kQ8_0) sum_u2 += per_product * u_q8 * u_q8;
  return 3.0 * std::sqrt(sum_u2);
}

struct Case {
  const char* name;
  RefConfig config;
  GgmlType type;
};

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

std::vector<Case> AllCases() {
  const RefArch q2 = RefArch::kQwen2, q3 = RefArch::kQwen3;
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
  };
}

// A synthetic model written to a temporary file and loaded, with its reference weights.
struct Fixture {
  std::unique_ptr<Model> model;
  RefModel ref;
};

void LoadCase(const Case& c, uint64_t seed, Fixture* f) {
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = c.config;
  spec.weight_type = c.type;
  spec.seed = seed;
  test::BuildSyntheticModel(spec, &w, &f->ref);
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

class SyntheticModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticModelTest, MatchesReferenceForward) {
  const Case& c = GetParam();
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(LoadCase(c, 1234, &f));
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

  const double tol = Tolerance(c.type, c.config.n_layer);
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

// --- session behaviour ----------------------------------------------------------------

const double kTolF16 = Tolerance(GgmlType::kF16, 2);

class SessionBehaviourTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(LoadCase({"session_llama", Llama(4, 2, 16, false), GgmlType::kF16}, 7, &f_));
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

}  // namespace
}  // namespace ondo::runtime
