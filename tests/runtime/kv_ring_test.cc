// The ring KV cache of gemma3's sliding-window layers (SessionOptions::swa_ring): a local
// layer keeps only its window of positions, so the cache is a fraction of a full one, and
// the results are those of the full cache (the window's rows are the same, only their order
// in the sum differs): checked against a full-cache session of the same model and against
// the double-precision reference forward, for prompts longer than the window, prefill chunks
// that cross the wrap, decode past it, context shift, both KV types; decode allocates nothing
// (one executable of its own: it counts allocations).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "memory/kv_cache.h"
#include "runtime/generate.h"
#include "runtime/weight_stream.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/count_allocations.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tests/runtime/synthetic_model_file.h"

using ondo::alloc_count::g_allocations;
using ondo::alloc_count::g_counting;

namespace ondo::runtime {
namespace {

using test::RefArch;
using test::RefConfig;

constexpr int kWindow = 8;
constexpr int kCtx = 64;

// gemma3, 7 layers (0-4 and 6 sliding-window, 5 global), 4 query / 2 KV heads of 32 (q8_0
// KV needs head_dim % 32 == 0), window 8; global rope base 100 so that the two layer kinds
// rotate differently over these positions.
RefConfig Gemma3Config() {
  RefConfig c = test::SmallLlama(64, 128, 7);
  c.arch = RefArch::kGemma3;
  c.head_dim = 32;
  c.n_rot = 32;
  c.rope_base = 100.0;
  c.norm_eps = 1e-6;
  c.n_ctx_train = 256;
  c.sliding_window = kWindow;
  c.tied_output = true;
  return c;
}

struct Loaded {
  std::unique_ptr<Model> model;
  test::RefModel ref;
};

// F32 weights, so that the reference sees exactly what the runtime reads.
Loaded LoadGemma3(uint64_t seed) {
  Loaded l;
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = Gemma3Config();
  spec.weight_type = test::GgmlType::kF32;
  spec.seed = seed;
  test::BuildSyntheticModel(spec, &w, &l.ref);
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_kv_ring");
  EXPECT_TRUE(w.WriteFile(path));
  const Status s = Model::Load(path, &l.model);
  std::remove(path.c_str());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return l;
}

std::unique_ptr<Session> NewSession(const Model& m, bool ring, memory::KvType kv, int n_batch) {
  SessionOptions o;
  o.n_ctx = kCtx;
  o.n_threads = 2;
  o.n_batch = n_batch;
  o.kv_type = kv;
  o.swa_ring = ring;
  std::unique_ptr<Session> s;
  const Status st = Session::Create(m, o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// max_v |a_v - b_v| / max_v |b_v|.
double RelDiff(const float* a, const float* b, int n) {
  double max_b = 0.0, max_d = 0.0;
  for (int i = 0; i < n; ++i) {
    max_b = std::max(max_b, std::fabs(static_cast<double>(b[i])));
    max_d = std::max(max_d, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  return max_b > 0.0 ? max_d / max_b : max_d;
}

int Argmax(const float* x, int n) { return static_cast<int>(std::max_element(x, x + n) - x); }

// The ring and the full cache hold the same rows; a wrapped ring sums them in another order,
// and that float difference may flip the f16 (q8_0) rounding of a later K or V element. So
// the logits differ by less than one rounding of the KV type would make them (its relative
// RMS u, as in synthetic_models_test: f16 2^-11 / sqrt(3), q8_0 2.5 / (127 sqrt(12))), with
// the usual factor 3: far below the logit gaps that decide the tokens.
double RingTol(memory::KvType kv) {
  const double u = kv == memory::KvType::kQ8_0 ? 2.5 / (127.0 * std::sqrt(12.0)) : 0x1.0p-11 / std::sqrt(3.0);
  return 3.0 * u;
}

struct RingCase {
  memory::KvType kv;
  int n_batch;
};

class KvRingTest : public ::testing::TestWithParam<RingCase> {};

// A 40-token prompt (5 windows) in chunks of n_batch, then 20 greedy tokens: every logit row
// of the prefill and every decode step agree with the full cache, and the greedy ids are
// the same.
TEST_P(KvRingTest, SameLogitsAndGreedyIdsAsTheFullCache) {
  const RingCase rc = GetParam();
  Loaded l = LoadGemma3(21);
  ASSERT_NE(l.model, nullptr);
  auto ring = NewSession(*l.model, true, rc.kv, rc.n_batch);
  auto full = NewSession(*l.model, false, rc.kv, rc.n_batch);
  ASSERT_TRUE(ring && full);
  ASSERT_EQ(ring->plan().kv_ring_rows, kWindow);
  ASSERT_EQ(full->plan().kv_ring_rows, 0);
  EXPECT_LT(ring->kv_cache().bytes(), full->kv_cache().bytes());
  EXPECT_EQ(ring->kv_cache().bytes(), ring->plan().kv_bytes);
  EXPECT_EQ(ring->plan().kv_full_bytes, full->plan().kv_bytes);

  const int V = l.model->config().n_vocab;
  const std::vector<int32_t> prompt = test::SyntheticTokens(40, 3);
  std::vector<float> ring_rows(prompt.size() * V), full_rows(prompt.size() * V);
  ASSERT_TRUE(ring->Prefill(prompt, ring_rows.data()).ok());
  ASSERT_TRUE(full->Prefill(prompt, full_rows.data()).ok());
  double worst = 0.0;
  for (size_t t = 0; t < prompt.size(); ++t) {
    const double d = RelDiff(ring_rows.data() + t * V, full_rows.data() + t * V, V);
    worst = std::max(worst, d);
    EXPECT_LE(d, RingTol(rc.kv)) << "prompt position " << t;
  }
  std::vector<int32_t> ring_ids, full_ids;
  for (int i = 0; i < 20; ++i) {
    const double d = RelDiff(ring->logits(), full->logits(), V);
    worst = std::max(worst, d);
    EXPECT_LE(d, RingTol(rc.kv)) << "decode step " << i;
    ring_ids.push_back(Argmax(ring->logits(), V));
    full_ids.push_back(Argmax(full->logits(), V));
    ASSERT_TRUE(ring->Decode(full_ids.back()).ok());
    ASSERT_TRUE(full->Decode(full_ids.back()).ok());
  }
  EXPECT_EQ(ring_ids, full_ids);
  std::printf("[ ring ] %s batch %d: KV %llu bytes (full %llu), worst logit difference %.2e of max|logit|\n",
              memory::KvTypeName(rc.kv), rc.n_batch, static_cast<unsigned long long>(ring->plan().kv_bytes),
              static_cast<unsigned long long>(full->plan().kv_bytes), worst);
}

INSTANTIATE_TEST_SUITE_P(Kv, KvRingTest,
                         ::testing::Values(RingCase{memory::KvType::kF16, 16}, RingCase{memory::KvType::kF16, 5},
                                           RingCase{memory::KvType::kF16, 64}, RingCase{memory::KvType::kQ8_0, 16},
                                           RingCase{memory::KvType::kQ8_0, 3}),
                         [](const ::testing::TestParamInfo<RingCase>& i) {
                           return std::string(memory::KvTypeName(i.param.kv)) + "_batch" +
                                  std::to_string(i.param.n_batch);
                         });

// Independent truth: the reference forward (sliding window as Hugging Face masks it) on 30
// positions, against the ring session's logits (f16 KV: 4 f16 roundings per layer, as in
// synthetic_models_test's tolerance: 3 x sqrt(4 x 7) x 2^-11 / sqrt(3)).
TEST(KvRing, MatchesTheReferenceForward) {
  Loaded l = LoadGemma3(22);
  ASSERT_NE(l.model, nullptr);
  auto ring = NewSession(*l.model, true, memory::KvType::kF16, 7);
  ASSERT_NE(ring, nullptr);
  const std::vector<int32_t> tokens = test::SyntheticTokens(30, 5);
  const int V = l.model->config().n_vocab;
  std::vector<float> rows(tokens.size() * V);
  ASSERT_TRUE(ring->Prefill(tokens, rows.data()).ok());
  const std::vector<std::vector<double>> ref = test::ReferenceForward(l.ref, tokens);
  const double tol = 3.0 * std::sqrt(4.0 * 7.0) * 0x1.0p-11 / std::sqrt(3.0);
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<float> r(ref[t].begin(), ref[t].end());
    EXPECT_LE(RelDiff(rows.data() + t * V, r.data(), V), tol) << "position " << t;
  }
}

// Context shift on a wrapped ring: the ring layers' rows rotate to their new positions and
// are re-rotated; the next tokens agree with a full-cache session shifted the same way. A
// shift that would need positions the ring no longer holds is refused, nothing changed.
TEST(KvRing, ShiftMatchesTheFullCache) {
  Loaded l = LoadGemma3(23);
  ASSERT_NE(l.model, nullptr);
  const int V = l.model->config().n_vocab;
  for (memory::KvType kv : {memory::KvType::kF16, memory::KvType::kQ8_0}) {
    for (auto [keep, discard] : {std::pair{4, 20}, std::pair{0, 13}, std::pair{2, 29}}) {
      auto ring = NewSession(*l.model, true, kv, 16);
      auto full = NewSession(*l.model, false, kv, 16);
      ASSERT_TRUE(ring && full);
      const std::vector<int32_t> prompt = test::SyntheticTokens(40, 7);
      ASSERT_TRUE(ring->Prefill(prompt).ok());
      ASSERT_TRUE(full->Prefill(prompt).ok());
      ASSERT_TRUE(ring->Shift(keep, discard).ok()) << keep << " " << discard;
      ASSERT_TRUE(full->Shift(keep, discard).ok());
      ASSERT_EQ(ring->n_past(), full->n_past());
      int32_t id = 11;
      for (int i = 0; i < 12; ++i) {
        ASSERT_TRUE(ring->Decode(id).ok());
        ASSERT_TRUE(full->Decode(id).ok());
        EXPECT_LE(RelDiff(ring->logits(), full->logits(), V), RingTol(kv))
            << memory::KvTypeName(kv) << " keep " << keep << " discard " << discard << " step " << i;
        id = Argmax(full->logits(), V);
      }
    }
    // 40 positions, keep 4, discard 30: 6 moved positions, fewer than the window's 7.
    auto ring = NewSession(*l.model, true, kv, 16);
    ASSERT_NE(ring, nullptr);
    ASSERT_TRUE(ring->Prefill(test::SyntheticTokens(40, 7)).ok());
    const Status s = ring->Shift(4, 30);
    EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
    EXPECT_NE(s.message().find("ring"), std::string::npos) << s.message();
    EXPECT_EQ(ring->n_past(), 40);
    // Before the ring wraps every position is still there: any shift works.
    auto young = NewSession(*l.model, true, kv, 16);
    ASSERT_TRUE(young->Prefill(test::SyntheticTokens(kWindow, 7)).ok());
    EXPECT_TRUE(young->Shift(1, kWindow - 2).ok());
  }
}

// --ctx-full slide on a ring session whose context (16) is short next to the window (8):
// half of what follows keep 4 would leave fewer than the window's 7 positions, so Generate
// discards less (5 rather than 6), and runs far past the context without an error. The
// tokens are those of a full-cache session sliding by the same amounts.
TEST(KvRing, GenerateSlidesWithinTheRing) {
  Loaded l = LoadGemma3(27);
  ASSERT_NE(l.model, nullptr);
  GenerateOptions go;
  go.max_tokens = 60;
  go.ignore_eog = true;
  go.sampler.temperature = 0.0f;
  go.ctx_full = ContextFull::kSlide;
  go.keep = 4;
  SessionOptions o;
  o.n_ctx = 16;
  o.n_threads = 2;
  o.n_batch = 4;
  std::unique_ptr<Session> ring;
  ASSERT_TRUE(Session::Create(*l.model, o, &ring).ok());
  ASSERT_EQ(ring->plan().kv_ring_rows, kWindow);
  GenerateResult r;
  const Status st = Generate(*ring, test::SyntheticTokens(6, 6), go, nullptr, nullptr, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(r.ids.size(), 60u);
  EXPECT_LE(ring->n_past(), 16);

  // The same slides by hand on a full cache: at 16 positions keep 4, discard 5.
  o.swa_ring = false;
  std::unique_ptr<Session> full;
  ASSERT_TRUE(Session::Create(*l.model, o, &full).ok());
  ASSERT_TRUE(full->Prefill(test::SyntheticTokens(6, 6)).ok());
  std::vector<int32_t> ids;
  const int V = l.model->config().n_vocab;
  while (ids.size() < 60) {
    ids.push_back(Argmax(full->logits(), V));
    if (ids.size() == 60) break;
    if (full->n_past() >= 16) {
      ASSERT_TRUE(full->Shift(4, 5).ok());
    }
    ASSERT_TRUE(full->Decode(ids.back()).ok());
  }
  EXPECT_EQ(r.ids, ids);
}

// Weight streaming and the ring together: a budget that holds the ring-sized KV cache, two
// resident layers and two buffers of a streamed one (not the full cache's KV) streams the
// other layers, and the logits are bit for bit those of the resident ring session.
TEST(KvRing, StreamedLayersGiveTheSameLogits) {
  Loaded l = LoadGemma3(28);
  ASSERT_NE(l.model, nullptr);
  SessionOptions o;
  o.n_ctx = kCtx;
  o.n_threads = 2;
  o.n_batch = 16;
  SessionPlan plan;
  ASSERT_TRUE(PlanSession(*l.model, o, &plan).ok());
  LayerStreamLayout layout;
  ASSERT_TRUE(BuildLayerStreamLayout(*l.model, &layout).ok());
  uint64_t budget = plan.kv_bytes + plan.scratch_bytes + layout.fixed_bytes + layout.layer_bytes[0] +
                    layout.layer_bytes[1];
  uint64_t largest = 0;
  for (size_t i = 2; i < layout.layer_read_bytes.size(); ++i) largest = std::max(largest, layout.layer_read_bytes[i]);
  budget += 2 * largest;
  std::unique_ptr<Session> resident, streamed;
  ASSERT_TRUE(Session::Create(*l.model, o, &resident).ok());
  o.budget = memory::GivenBudget(budget);
  const Status st = Session::Create(*l.model, o, &streamed);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(streamed->plan().streamed());
  EXPECT_EQ(streamed->plan().n_layer_resident, 2);
  EXPECT_EQ(streamed->plan().kv_ring_rows, kWindow);
  const std::vector<int32_t> prompt = test::SyntheticTokens(20, 8);
  ASSERT_TRUE(resident->Prefill(prompt).ok());
  ASSERT_TRUE(streamed->Prefill(prompt).ok());
  const size_t V = static_cast<size_t>(l.model->config().n_vocab);
  ASSERT_TRUE(std::equal(resident->logits(), resident->logits() + V, streamed->logits()));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(resident->Decode(3 + i * 17).ok());
    ASSERT_TRUE(streamed->Decode(3 + i * 17).ok());
    ASSERT_TRUE(std::equal(resident->logits(), resident->logits() + V, streamed->logits())) << "step " << i;
  }
}

// The prompt cache needs every position's rows: refused with a ring, fine without.
TEST(KvRing, PromptCacheNeedsTheFullCache) {
  Loaded l = LoadGemma3(24);
  ASSERT_NE(l.model, nullptr);
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_ring_prompt_cache");
  const std::vector<int32_t> prompt = test::SyntheticTokens(20, 1);
  auto ring = NewSession(*l.model, true, memory::KvType::kF16, 16);
  ASSERT_TRUE(ring->Prefill(prompt).ok());
  Status s = ring->SavePromptCache(path, prompt);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("ring"), std::string::npos) << s.message();
  int reused = -1;
  s = ring->LoadPromptCache(path, prompt, &reused);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(reused, 0);
  auto full = NewSession(*l.model, false, memory::KvType::kF16, 16);
  ASSERT_TRUE(full->Prefill(prompt).ok());
  EXPECT_TRUE(full->SavePromptCache(path, prompt).ok());
  std::remove(path.c_str());
}

// Decode (and a prefill that crosses the wrap, one token at a time in the ring layers)
// allocates nothing.
TEST(KvRing, DecodeAllocatesNothing) {
  Loaded l = LoadGemma3(25);
  ASSERT_NE(l.model, nullptr);
  for (memory::KvType kv : {memory::KvType::kF16, memory::KvType::kQ8_0}) {
    auto s = NewSession(*l.model, true, kv, 16);
    ASSERT_NE(s, nullptr);
    const std::vector<int32_t> prompt = test::SyntheticTokens(30, 2);
    g_allocations = 0;
    g_counting = true;
    const Status p = s->Prefill(prompt);
    Status d = Status::Ok();
    for (int i = 0; i < 20 && d.ok(); ++i) d = s->Decode(5 + i);
    g_counting = false;
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(g_allocations.load(), 0) << memory::KvTypeName(kv);
  }
}

// The plan counts the ring: a context no longer than the window has no ring, and a budget
// between the ring's and the full cache's figure fits only with the ring.
TEST(KvRing, PlanCountsTheRing) {
  Loaded l = LoadGemma3(26);
  ASSERT_NE(l.model, nullptr);
  const ModelConfig& c = l.model->config();
  SessionOptions o;
  o.n_ctx = kCtx;
  SessionPlan ring, full, short_ctx;
  ASSERT_TRUE(PlanSession(*l.model, o, &ring).ok());
  o.swa_ring = false;
  ASSERT_TRUE(PlanSession(*l.model, o, &full).ok());
  o.swa_ring = true;
  o.n_ctx = kWindow;
  ASSERT_TRUE(PlanSession(*l.model, o, &short_ctx).ok());
  // Layers 0-4 and 6 keep 8 rows, layer 5 keeps 64; rows of 32 f16.
  const uint64_t row = 32 * 2;
  EXPECT_EQ(ring.kv_bytes, 2 * static_cast<uint64_t>(c.n_head_kv) * row * (6 * kWindow + 1 * kCtx));
  EXPECT_EQ(ring.kv_ring_layers, 6);
  EXPECT_EQ(full.kv_bytes, 2 * static_cast<uint64_t>(c.n_head_kv) * row * 7 * kCtx);
  EXPECT_EQ(ring.kv_full_bytes, full.kv_bytes);
  EXPECT_EQ(short_ctx.kv_ring_rows, 0);
  const std::string text = DescribePlan(ring, c);
  EXPECT_NE(text.find("ring"), std::string::npos) << text;
  EXPECT_NE(text.find(std::to_string(full.kv_bytes)), std::string::npos) << text;
}

// Gemma 3 1B's shape (Hugging Face config: 26 layers, 1 KV head, head_dim 256, sliding
// window 512, pattern 6: layers 5, 11, 17, 23 global) at context 4096: by hand,
// f16 rows of 512 bytes: ring 2 x 512 x (22 x 512 + 4 x 4096) = 28,311,552 bytes,
// full 2 x 512 x 26 x 4096 = 109,051,904; q8_0 rows of 272 bytes: 15,040,512 and 57,933,824.
TEST(KvRing, Gemma3OneBShapeFigures) {
  memory::KvCacheShape s{26, 1, 256, 4096, memory::KvType::kF16};
  const uint64_t full_f16 = memory::KvCache::BytesFor(s);
  s.ring_rows = 512;
  s.ring_period = 6;
  const uint64_t ring_f16 = memory::KvCache::BytesFor(s);
  s.type = memory::KvType::kQ8_0;
  const uint64_t ring_q8 = memory::KvCache::BytesFor(s);
  s.ring_rows = 0;
  const uint64_t full_q8 = memory::KvCache::BytesFor(s);
  EXPECT_EQ(full_f16, 109051904u);
  EXPECT_EQ(ring_f16, 28311552u);
  EXPECT_EQ(full_q8, 57933824u);
  EXPECT_EQ(ring_q8, 15040512u);
  std::printf("[ ring ] Gemma 3 1B shape, n_ctx 4096: f16 %llu bytes (full %llu), q8_0 %llu (full %llu)\n",
              static_cast<unsigned long long>(ring_f16), static_cast<unsigned long long>(full_f16),
              static_cast<unsigned long long>(ring_q8), static_cast<unsigned long long>(full_q8));
}

}  // namespace
}  // namespace ondo::runtime
