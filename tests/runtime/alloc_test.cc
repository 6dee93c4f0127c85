// Decoding allocates nothing: counts global operator new calls during Session::Decode and
// during the sampling/detokenizing part of Generate, on the real ko-mini-a model.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"

#include "tests/count_allocations.h"

using ondo::alloc_count::g_allocations;
using ondo::alloc_count::g_counting;

namespace ondo::runtime {
namespace {

// Every weight-type family: F16, Q8_0 and the K-quant mixes (Q4_K + Q6_K, Q2_K + Q3_K + ...),
// with an f16 and an 8-bit (q8_0) KV cache; prefill with all-position logits (what perplexity
// uses) allocates nothing either.
TEST(Allocations, DecodeAllocatesNothing) {
  int tested = 0;
  for (const char* type : {"f16", "Q8_0", "Q4_K_M", "Q2_K"}) {
    const std::string path = std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a." + type + ".gguf";
    if (!std::filesystem::exists(path)) continue;
    ++tested;
    std::unique_ptr<Model> model;
    ASSERT_TRUE(Model::Load(path, &model).ok());
    for (int threads : {1, 2}) {
      for (memory::KvType kv_type : {memory::KvType::kF16, memory::KvType::kQ8_0}) {
        SessionOptions so;
        so.n_ctx = 128;
        so.n_threads = threads;
        so.kv_type = kv_type;
        std::unique_ptr<Session> session;
        ASSERT_TRUE(Session::Create(*model, so, &session).ok());
        std::vector<int32_t> prompt = {1, 3, 1156, 327, 1617, 2919, 4};
        std::vector<float> all(prompt.size() * static_cast<size_t>(session->n_vocab()));
        g_allocations = 0;
        g_counting = true;
        Status prefill = session->Prefill(prompt, all.data());
        int32_t id = 100;
        for (int i = 0; i < 32; ++i) {
          Status s = session->Decode(id);
          if (!s.ok()) break;
          id = (id * 31 + 7) % 4000 + 5;
        }
        g_counting = false;
        ASSERT_TRUE(prefill.ok());
        EXPECT_EQ(g_allocations.load(), 0) << type << ", threads " << threads << ", KV "
                                           << memory::KvTypeName(kv_type);
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no ko-mini-a models in " << ONDO_SHARED_DIR;
}

// After a prompt cache is restored (which reads and decompresses a file: allocations there
// are expected), decoding allocates nothing, with either KV type.
TEST(Allocations, DecodeAfterPromptCacheAllocatesNothing) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a.f16.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::unique_ptr<Model> model;
  ASSERT_TRUE(Model::Load(path, &model).ok());
  const std::string cache = ::testing::TempDir() + "ondo_alloc_prompt_cache.bin";
  const std::vector<int32_t> prompt = {1, 3, 1156, 327, 1617, 2919, 4};
  for (memory::KvType kv_type : {memory::KvType::kF16, memory::KvType::kQ8_0}) {
    SessionOptions so;
    so.n_ctx = 128;
    so.n_threads = 2;
    so.kv_type = kv_type;
    std::unique_ptr<Session> first, second;
    ASSERT_TRUE(Session::Create(*model, so, &first).ok());
    ASSERT_TRUE(first->Prefill(prompt).ok());
    ASSERT_TRUE(first->SavePromptCache(cache, prompt).ok());
    ASSERT_TRUE(Session::Create(*model, so, &second).ok());
    int reused = 0;
    ASSERT_TRUE(second->LoadPromptCache(cache, prompt, &reused).ok());
    ASSERT_EQ(reused, static_cast<int>(prompt.size()) - 1);
    g_allocations = 0;
    g_counting = true;
    Status s = second->Decode(prompt.back());
    for (int i = 0; i < 16 && s.ok(); ++i) s = second->Decode(100 + 7 * i);
    g_counting = false;
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(g_allocations.load(), 0) << memory::KvTypeName(kv_type);
  }
  std::remove(cache.c_str());
}

// Generate reserves its outputs up front; the callback sees every token; the loop itself
// allocates nothing beyond that reservation.
TEST(Allocations, GenerateLoopAllocatesOnlyUpFront) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a.f16.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::unique_ptr<Model> model;
  ASSERT_TRUE(Model::Load(path, &model).ok());
  SessionOptions so;
  so.n_ctx = 256;
  so.n_threads = 2;
  std::unique_ptr<Session> session;
  ASSERT_TRUE(Session::Create(*model, so, &session).ok());
  std::vector<int32_t> prompt = {1, 3, 1156, 327, 1617, 2919, 4};
  GenerateOptions go;
  go.max_tokens = 8;
  GenerateResult warm;
  ASSERT_TRUE(Generate(*session, prompt, go, nullptr, nullptr, &warm).ok());
  // Allocation count must not grow with the number of generated tokens, with and without the
  // script guard and loop stop (Korean mode).
  tokenizer::ScriptGuard guard(model->tokenizer(), tokenizer::ScriptSet{});
  for (bool korean : {false, true}) {
    go.script_guard = korean ? &guard : nullptr;
    go.loop_max_period = korean ? kDefaultLoopMaxPeriod : 0;
    long counts[2];
    int idx = 0;
    for (int max_tokens : {8, 64}) {
      session->Reset();
      go.max_tokens = max_tokens;
      go.sampler.temperature = 1.0f;
      go.sampler.top_k = 0;
      go.sampler.min_p = 0.0f;
      go.sampler.top_p = 1.0f;
      go.sampler.seed = 5;
      go.ignore_eog = true;
      GenerateResult result;
      g_allocations = 0;
      g_counting = true;
      Status s = Generate(*session, prompt, go, nullptr, nullptr, &result);
      g_counting = false;
      ASSERT_TRUE(s.ok());
      counts[idx++] = g_allocations.load();
      // The runs must reach the limit, or the comparison would prove nothing.
      EXPECT_EQ(result.ids.size(), static_cast<size_t>(max_tokens)) << "stopped early";
    }
    EXPECT_EQ(counts[0], counts[1]) << "korean mode " << korean;
  }
}

}  // namespace
}  // namespace ondo::runtime
