// Weight streaming (issue 10, item 2): a session whose budget holds only some layers keeps the
// first ones resident and streams the rest; its logits are bit-identical to a session with
// every weight resident, for GGUF files and for .ondo folders whose layers lie in different
// shard files, with direct and buffered reads; the plan stays under the budget and says what
// is streamed; decoding allocates nothing; a budget below the streaming minimum fails naming
// each figure. One executable of its own: it counts allocations.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "platform/sys_info.h"
#include "runtime/gguf.h"
#include "runtime/imatrix.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"
#include "runtime/session.h"
#include "tests/count_allocations.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tests/runtime/synthetic_model_file.h"

using ondo::alloc_count::g_allocations;
using ondo::alloc_count::g_counting;

namespace ondo::runtime {
namespace {

// Six layers of about 1.2 MB (F16): big enough for several pages per tensor and reads that
// merge, small enough to run in a moment.
test::RefConfig StreamConfig() { return test::SmallLlama(256, 512, 6); }

struct Fixture {
  std::unique_ptr<Model> model;
  SessionPlan full;  // the plan with every weight resident
};

SessionOptions BaseOptions() {
  SessionOptions o;
  o.n_ctx = 64;
  o.n_threads = 2;
  o.n_batch = 16;
  return o;
}

// A budget that leaves room for the tensors outside the layers, `resident` layers and two
// buffers of a streamed layer, and no more.
uint64_t BudgetFor(const Model& model, int resident) {
  LayerStreamLayout layout;
  EXPECT_TRUE(BuildLayerStreamLayout(model, &layout).ok());
  SessionPlan full;
  EXPECT_TRUE(PlanSession(model, BaseOptions(), &full).ok());
  uint64_t b = full.kv_bytes + full.scratch_bytes + layout.fixed_bytes;
  uint64_t largest = 0;
  for (int i = 0; i < model.config().n_layer; ++i) {
    if (i < resident) {
      b += layout.layer_bytes[static_cast<size_t>(i)];
    } else {
      largest = std::max(largest, layout.layer_read_bytes[static_cast<size_t>(i)]);
    }
  }
  return b + 2 * largest;
}

// Prefill 20 tokens, then decode 12, comparing every step's logits bit for bit.
void ExpectSameLogits(Session* a, Session* b) {
  const std::vector<int32_t> prompt = test::SyntheticTokens(20, 3);
  ASSERT_TRUE(a->Prefill(prompt).ok());
  Status st = b->Prefill(prompt);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const size_t n = static_cast<size_t>(a->n_vocab());
  ASSERT_EQ(std::memcmp(a->logits(), b->logits(), n * sizeof(float)), 0) << "after the prompt";
  for (int i = 0; i < 12; ++i) {
    const int32_t id = 3 + (i * 29) % 250;
    ASSERT_TRUE(a->Decode(id).ok());
    st = b->Decode(id);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(std::memcmp(a->logits(), b->logits(), n * sizeof(float)), 0) << "decode step " << i;
  }
}

class StreamingTest : public ::testing::TestWithParam<bool> {};

TEST_P(StreamingTest, GgufLayersStreamedGiveTheSameLogits) {
  std::unique_ptr<Model> model = test::LoadSyntheticModel(StreamConfig(), 5, "ondo_stream_gguf");
  ASSERT_NE(model, nullptr);
  std::unique_ptr<Session> full;
  ASSERT_TRUE(Session::Create(*model, BaseOptions(), &full).ok());
  EXPECT_FALSE(full->plan().streamed());
  for (int resident : {0, 2, 3}) {  // 4 or 5 resident + two buffers would exceed all 6
    SCOPED_TRACE(resident);
    SessionOptions o = BaseOptions();
    o.budget = memory::GivenBudget(BudgetFor(*model, resident));
    o.stream_direct_io = GetParam();
    std::unique_ptr<Session> s;
    Status st = Session::Create(*model, o, &s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    const SessionPlan& p = s->plan();
    EXPECT_TRUE(p.streamed());
    EXPECT_EQ(p.n_layer_resident, resident);
    EXPECT_LE(p.total(), o.budget.bytes);
    EXPECT_LT(p.weight_resident_bytes, p.weight_bytes);
    EXPECT_GT(p.stream_read_bytes, 0u);
    const std::string text = DescribePlan(p, model->config());
    EXPECT_NE(text.find("streamed"), std::string::npos) << text;
    EXPECT_NE(text.find("fits"), std::string::npos) << text;
    full->Reset();
    ExpectSameLogits(full.get(), s.get());
  }
}

TEST_P(StreamingTest, OndoShardsStreamedGiveTheSameLogits) {
  // Written to a file (not unlinked) so that it can be converted to an .ondo folder with a
  // shard per layer (1 MiB shards close before each 1.2 MB layer).
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = StreamConfig();
  spec.weight_type = test::GgmlType::kF16;
  spec.seed = 9;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, &w, &ref);
  const std::string gguf_path = test::UniqueTempPath(::testing::TempDir(), "ondo_stream_src");
  ASSERT_TRUE(w.WriteFile(gguf_path));
  const std::string ondo_path = gguf_path + ".ondo";
  {
    std::unique_ptr<GgufFile> in;
    ASSERT_TRUE(GgufFile::Open(gguf_path, &in).ok());
    OndoWriteOptions wo;
    wo.shard_bytes = 1 << 20;
    OndoWriteStats stats;
    Status st = WriteOndo(*in, ondo_path, wo, &stats);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_GE(stats.n_shards, 6);
  }
  std::unique_ptr<Model> gguf_model, ondo_model;
  ASSERT_TRUE(Model::Load(gguf_path, &gguf_model).ok());
  ASSERT_TRUE(Model::Load(ondo_path, &ondo_model).ok());
  std::remove(gguf_path.c_str());
  std::filesystem::remove_all(ondo_path);  // the shards stay readable through their descriptors
  std::unique_ptr<Session> full, s;
  ASSERT_TRUE(Session::Create(*gguf_model, BaseOptions(), &full).ok());
  SessionOptions o = BaseOptions();
  o.budget = memory::GivenBudget(BudgetFor(*ondo_model, 1));
  o.stream_direct_io = GetParam();
  Status st = Session::Create(*ondo_model, o, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(s->plan().n_layer_resident, 1);
  ExpectSameLogits(full.get(), s.get());
}

INSTANTIATE_TEST_SUITE_P(Io, StreamingTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Direct") : std::string("Buffered"); });

TEST(Streaming, DecodeAllocatesNothing) {
  std::unique_ptr<Model> model = test::LoadSyntheticModel(StreamConfig(), 6, "ondo_stream_alloc");
  ASSERT_NE(model, nullptr);
  SessionOptions o = BaseOptions();
  o.budget = memory::GivenBudget(BudgetFor(*model, 2));
  std::unique_ptr<Session> s;
  ASSERT_TRUE(Session::Create(*model, o, &s).ok());
  ASSERT_TRUE(s->plan().streamed());
  ASSERT_TRUE(s->Prefill(test::SyntheticTokens(8, 1)).ok());
  g_allocations = 0;
  g_counting = true;
  bool ok = true;
  for (int i = 0; i < 16 && ok; ++i) ok = s->Decode(5 + i).ok();
  g_counting = false;
  EXPECT_TRUE(ok);
  EXPECT_EQ(g_allocations.load(), 0);
}

// Observers (`ondo imatrix`) see the model's own views even when a layer is streamed: the
// importance matrix of a streamed session equals a resident one's, entry for entry.
TEST(Streaming, ObserverSeesTheModelsViews) {
  std::unique_ptr<Model> model = test::LoadSyntheticModel(StreamConfig(), 4, "ondo_stream_imatrix");
  ASSERT_NE(model, nullptr);
  SessionOptions o = BaseOptions();
  std::unique_ptr<Session> full, streamed;
  ASSERT_TRUE(Session::Create(*model, o, &full).ok());
  o.budget = memory::GivenBudget(BudgetFor(*model, 1));
  ASSERT_TRUE(Session::Create(*model, o, &streamed).ok());
  ASSERT_TRUE(streamed->plan().streamed());
  ImatrixCollector a(*model, false), b(*model, false);
  full->set_observer(&a);
  streamed->set_observer(&b);
  const std::vector<int32_t> ids = test::SyntheticTokens(24, 5);
  ASSERT_TRUE(full->Prefill(ids).ok());
  ASSERT_TRUE(streamed->Prefill(ids).ok());
  ASSERT_EQ(a.imatrix().entries().size(), b.imatrix().entries().size());
  for (const auto& [name, e] : a.imatrix().entries()) {
    const ImatrixEntry* f = b.imatrix().Find(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_GT(e.ncall, 0) << name;
    EXPECT_EQ(f->ncall, e.ncall) << name;
    EXPECT_EQ(f->sum2, e.sum2) << name;
  }
}

TEST(Streaming, BelowTheMinimumFailsNamingEachFigure) {
  std::unique_ptr<Model> model = test::LoadSyntheticModel(StreamConfig(), 7, "ondo_stream_min");
  ASSERT_NE(model, nullptr);
  SessionOptions o = BaseOptions();
  o.budget = memory::GivenBudget(BudgetFor(*model, 0) - 1);
  std::unique_ptr<Session> s;
  Status st = Session::Create(*model, o, &s);
  ASSERT_EQ(st.code(), StatusCode::kOutOfMemory) << st.ToString();
  EXPECT_EQ(s, nullptr);
  for (const char* figure : {"weights ", "stream buffers ", "layers 0..5 streamed", "KV cache ", "scratch ", "budget "}) {
    EXPECT_NE(st.message().find(figure), std::string::npos) << figure << " in: " << st.message();
  }
  // At the minimum it runs, everything streamed.
  o.budget = memory::GivenBudget(BudgetFor(*model, 0));
  ASSERT_TRUE(Session::Create(*model, o, &s).ok());
  EXPECT_EQ(s->plan().n_layer_resident, 0);
  ASSERT_TRUE(s->Prefill(test::SyntheticTokens(4, 2)).ok());
  // Without streaming the same budget is refused.
  o.stream_weights = false;
  EXPECT_EQ(Session::Create(*model, o, &s).code(), StatusCode::kOutOfMemory);
}

TEST(Streaming, ProcessBytesCountAgainstTheBudget) {
  std::unique_ptr<Model> model = test::LoadSyntheticModel(StreamConfig(), 8, "ondo_stream_proc");
  ASSERT_NE(model, nullptr);
  SessionOptions o = BaseOptions();
  o.budget = memory::GivenBudget(BudgetFor(*model, 3));
  SessionPlan p;
  ASSERT_TRUE(PlanSession(*model, o, &p).ok());
  EXPECT_EQ(p.n_layer_resident, 3);
  // What the process already uses leaves room for fewer resident layers.
  o.process_bytes = p.stream_buffer_bytes / 2;  // one buffer: about a layer
  ASSERT_TRUE(PlanSession(*model, o, &p).ok());
  EXPECT_LT(p.n_layer_resident, 3);
  EXPECT_TRUE(p.fits());
  EXPECT_NE(DescribePlan(p, model->config()).find("process"), std::string::npos);
}

}  // namespace
}  // namespace ondo::runtime
