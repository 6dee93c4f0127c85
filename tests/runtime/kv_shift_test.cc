// Bounded KV cache when full: Session::Shift (context shift with RoPE re-rotation) checked
// against fresh sessions, and Generate's --ctx-full stop / slide, on synthetic models. One
// executable of its own: it counts allocations (replaces the global operator new).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/count_allocations.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/kv_test_cases.h"
#include "tests/runtime/reference_forward.h"
#include "tests/runtime/synthetic_model_file.h"

using ondo::alloc_count::g_allocations;
using ondo::alloc_count::g_counting;

namespace ondo::runtime {
namespace {

using kvtest::Case;
using memory::KvType;
using test::RefConfig;

RefConfig LlamaCase() { return test::SmallLlama(64, 96, 2); }  // normal rope, 4 q / 2 kv heads
RefConfig Qwen2Case() { return kvtest::Qwen2Of(LlamaCase()); }
RefConfig Llama3RopeCase() {  // llama3 rope factors (rope_freqs.weight): Shift must use them
  RefConfig c = test::SmallLlama(64, 96, 2);
  c.llama3_factor = 8.0;
  c.llama3_original_context = 32;
  return c;
}
RefConfig Qwen2YarnCase() {  // YaRN: mixed frequencies and a magnitude Shift must not reapply
  RefConfig c = Qwen2Case();
  c.yarn_factor = 4.0;
  c.yarn_original_context = 64;
  return c;
}
// neox rope over 8 of 16 dims: the rest must not move.
RefConfig NeoxPartialCase() {
  return kvtest::NeoxPartialOf(test::SmallLlama(64, 128, 2), 4, 16, 8);
}
// gemma3: layer 0 is a sliding-window layer rotating with base 1e4, not the file's 1e6, so
// Shift must re-rotate it with that base (and the window is shorter than the text).
RefConfig Gemma3Case() { return kvtest::Gemma3Of(Qwen2Case()); }

std::unique_ptr<Model> LoadModel(const RefConfig& config, const std::string& name) {
  return test::LoadSyntheticModel(config, 11, "ondo_kv_shift_" + name);
}

std::unique_ptr<Session> NewSession(const Model& model, int n_ctx, int n_batch, int n_threads = 2) {
  return kvtest::NewSession(model, KvType::kF16, n_ctx, n_batch, n_threads);
}

std::vector<int32_t> Tokens(int n, int salt) { return test::SyntheticTokens(n, salt); }

// Distance of one f16 step at |x| (the spacing of f16 values there; subnormal floor 2^-24).
double F16Ulp(double x) {
  x = std::fabs(x);
  if (x < 0x1.0p-14) return 0x1.0p-24;
  return std::ldexp(1.0, std::ilogb(x) - 10);
}

class ShiftTest : public ::testing::TestWithParam<Case> {};

// After Shift(keep, discard), layer 0's cache equals what a fresh session computes for the
// kept tokens followed by the moved ones at their new positions: layer 0's K before RoPE and
// its V depend only on the token, so the rows must agree up to the re-rotation's rounding.
// Kept rows (every layer: their context is the same) and V rows are bitwise equal; moved K
// rows agree within 2 f16 ulps of the larger element of each rotated pair (a rotation mixes
// the pair, so the error scales with the pair, not with the smaller element); dims beyond
// n_rot are bitwise equal.
TEST_P(ShiftTest, MatchesFreshSessionAtNewPositions) {
  const Case& c = GetParam();
  std::unique_ptr<Model> model = LoadModel(c.config, c.name);
  ASSERT_NE(model, nullptr);
  const ModelConfig& mc = model->config();
  const int hd = mc.head_dim, half = mc.n_rot / 2;
  const auto moved_k = [&](const uint8_t* ka, const uint8_t* kb, int p) {
    std::vector<float> ga(static_cast<size_t>(hd)), gb(static_cast<size_t>(hd));
    kernels::DequantizeRow(kernels::DType::kF16, ka, ga.data(), hd);
    kernels::DequantizeRow(kernels::DType::kF16, kb, gb.data(), hd);
    for (int i = mc.n_rot; i < hd; ++i) EXPECT_EQ(ga[i], gb[i]) << "unrotated dim " << i;
    double worst_ulps = 0.0;
    for (int i = 0; i < half; ++i) {
      const bool normal = mc.rope_mode == kernels::RopeMode::kNormal;
      const int x = normal ? 2 * i : i, y = normal ? 2 * i + 1 : i + half;
      const double ulp = F16Ulp(
          std::max({std::fabs(ga[x]), std::fabs(ga[y]), std::fabs(gb[x]), std::fabs(gb[y])}));
      for (int d : {x, y}) {
        const double ulps = std::fabs(static_cast<double>(ga[d]) - gb[d]) / ulp;
        worst_ulps = std::max(worst_ulps, ulps);
        EXPECT_LE(ulps, 2.0) << "K pos " << p << " dim " << d << ": " << ga[d] << " vs " << gb[d];
      }
    }
    return worst_ulps;
  };
  kvtest::ExpectShiftMatchesFresh(*model, KvType::kF16, Tokens(40, 1), c.name, "f16 ulps", moved_k);
}

INSTANTIATE_TEST_SUITE_P(Rope, ShiftTest,
                         ::testing::Values(Case{"llama", LlamaCase()}, Case{"qwen2", Qwen2Case()},
                                           Case{"neox_partial", NeoxPartialCase()},
                                           Case{"llama3_rope", Llama3RopeCase()},
                                           Case{"qwen2_yarn", Qwen2YarnCase()},
                                           Case{"gemma3", Gemma3Case()}),
                         kvtest::CaseName);

class ContextFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadModel(LlamaCase(), "ctx_full");
    ASSERT_NE(model_, nullptr);
  }
  static GenerateOptions Sampling(int max_tokens) {
    GenerateOptions go;
    go.max_tokens = max_tokens;
    go.ignore_eog = true;
    go.sampler.temperature = 1.0f;
    go.sampler.top_k = 0;
    go.sampler.top_p = 1.0f;
    go.sampler.min_p = 0.0f;
    go.sampler.seed = 5;
    return go;
  }
  std::unique_ptr<Model> model_;
};

TEST_F(ContextFullTest, ShiftRejectsBadArguments) {
  std::unique_ptr<Session> s = NewSession(*model_, 32, 8);
  ASSERT_TRUE(s->Prefill(Tokens(20, 2)).ok());
  for (const auto& [keep, discard] : std::vector<std::pair<int, int>>{{-1, 1}, {0, -1}, {0, 21}, {15, 6}, {21, 0}}) {
    Status st = s->Shift(keep, discard);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << keep << " " << discard << ": " << st.ToString();
    EXPECT_EQ(s->n_past(), 20);
  }
  EXPECT_TRUE(s->Shift(5, 0).ok());
  EXPECT_EQ(s->n_past(), 20);
  EXPECT_TRUE(s->Shift(0, 20).ok());
  EXPECT_EQ(s->n_past(), 0);
}

// Stop (the default) ends with finish reason context exactly at capacity.
TEST_F(ContextFullTest, StopEndsAtCapacity) {
  for (int max_tokens : {-1, 100}) {
    std::unique_ptr<Session> s = NewSession(*model_, 16, 4);
    GenerateResult r;
    const std::vector<int32_t> prompt = Tokens(5, 3);
    Status st = Generate(*s, prompt, Sampling(max_tokens), nullptr, nullptr, &r);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(r.finish, FinishReason::kContext) << FinishReasonName(r.finish);
    EXPECT_STREQ(FinishReasonName(r.finish), "context");
    EXPECT_EQ(s->n_past(), 16);
    // 11 decoded tokens fill it; the 12th is sampled from the full context's logits.
    EXPECT_EQ(r.ids.size(), 12u);
  }
  // Exactly filling the context with the token limit is a length finish.
  std::unique_ptr<Session> s = NewSession(*model_, 16, 4);
  GenerateResult r;
  ASSERT_TRUE(Generate(*s, Tokens(5, 3), Sampling(12), nullptr, nullptr, &r).ok());
  EXPECT_EQ(r.finish, FinishReason::kLength);
}

TEST_F(ContextFullTest, LongPromptIsOutOfRangeUnlessSlide) {
  const std::vector<int32_t> prompt = Tokens(40, 4);
  std::unique_ptr<Session> s = NewSession(*model_, 16, 4);
  GenerateResult r;
  Status st = Generate(*s, prompt, Sampling(4), nullptr, nullptr, &r);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_NE(st.message().find("40 tokens"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("holds 16"), std::string::npos) << st.message();
  EXPECT_EQ(s->n_past(), 0);

  GenerateOptions go = Sampling(4);
  go.ctx_full = ContextFull::kSlide;
  for (int bad_keep : {-1, 16, 17}) {
    go.keep = bad_keep;
    EXPECT_EQ(Generate(*s, prompt, go, nullptr, nullptr, &r).code(), StatusCode::kInvalidArgument) << bad_keep;
  }
  go.keep = 4;
  st = Generate(*s, prompt, go, nullptr, nullptr, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(r.ids.size(), 4u);
  EXPECT_EQ(r.n_prompt, 40);
  EXPECT_LE(s->n_past(), 16);
  // The sinks are the prompt's first tokens, as a fresh session computes them.
  std::unique_ptr<Session> fresh = NewSession(*model_, 16, 4);
  ASSERT_TRUE(fresh->Prefill(std::span<const int32_t>(prompt.data(), 4)).ok());
  const ModelConfig& mc = model_->config();
  for (int il = 0; il < mc.n_layer; ++il) {
    for (int h = 0; h < mc.n_head_kv; ++h) {
      for (int p = 0; p < 4; ++p) {
        EXPECT_TRUE(std::equal(s->kv_cache().K(il, h, p), s->kv_cache().K(il, h, p) + s->kv_cache().row_bytes(),
                               fresh->kv_cache().K(il, h, p)));
      }
    }
  }
}

// Slide runs far beyond the context; neither Shift nor the loop allocates per token.
TEST_F(ContextFullTest, SlideRunsBeyondContextWithoutAllocating) {
  for (int threads : {1, 2}) {
    std::unique_ptr<Session> s = NewSession(*model_, 16, 4, threads);
    // Decode and Shift alone: no allocation at all.
    ASSERT_TRUE(s->Prefill(Tokens(6, 5)).ok());
    int shifts = 0;
    g_allocations = 0;
    g_counting = true;
    Status st = kvtest::DecodeAndShift(*s, 200, &shifts);
    g_counting = false;
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(g_allocations.load(), 0) << "threads " << threads;
    EXPECT_GT(shifts, 20);
    for (int i = 0; i < s->n_vocab(); ++i) ASSERT_TRUE(std::isfinite(s->logits()[i]));

    // Generate: the count does not grow with the number of tokens.
    GenerateOptions go;
    long counts[2];
    int idx = 0;
    for (int max_tokens : {8, 300}) {
      s->Reset();
      go = Sampling(max_tokens);
      go.ctx_full = ContextFull::kSlide;
      go.keep = 4;
      GenerateResult r;
      g_allocations = 0;
      g_counting = true;
      st = Generate(*s, Tokens(6, 6), go, nullptr, nullptr, &r);
      g_counting = false;
      ASSERT_TRUE(st.ok()) << st.ToString();
      counts[idx++] = g_allocations.load();
      EXPECT_EQ(r.finish, FinishReason::kLength);
      EXPECT_EQ(r.ids.size(), static_cast<size_t>(max_tokens));
      EXPECT_LE(s->n_past(), 16);
    }
    EXPECT_EQ(counts[0], counts[1]) << "threads " << threads;
  }
}

}  // namespace
}  // namespace ondo::runtime
