// Prompt (prefix) cache: a session restored from a file continues exactly as the session that
// saved it; a partly shared prompt reuses exactly the common prefix; truncated, damaged and
// mismatched files are rejected without touching the session; the write is atomic. On
// synthetic models (tests/runtime fixtures), no ../shared needed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "memory/kv_cache.h"
#include "memory/prompt_cache.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tests/runtime/synthetic_model_file.h"

namespace ondo::runtime {
namespace {

std::unique_ptr<Model> LoadModel(const test::RefConfig& config, uint64_t seed, const std::string& name) {
  return test::LoadSyntheticModel(config, seed, "ondo_prompt_cache_" + name);
}

std::unique_ptr<Session> NewSession(const Model& model, int n_ctx = 96,
                                    memory::KvType kv_type = memory::KvType::kF16) {
  SessionOptions o;
  o.n_ctx = n_ctx;
  o.kv_type = kv_type;
  o.n_batch = 16;
  o.n_threads = 2;
  std::unique_ptr<Session> s;
  Status st = Session::Create(model, o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

std::vector<int32_t> Tokens(int n, int salt) { return test::SyntheticTokens(n, salt); }

std::vector<float> Logits(const Session& s) { return {s.logits(), s.logits() + s.n_vocab()}; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Rows [0, n) of every layer and head, K and V, bitwise.
bool SameRows(const memory::KvCache& a, const memory::KvCache& b, int n) {
  const memory::KvCacheShape& s = a.shape();
  const size_t bytes = static_cast<size_t>(a.row_bytes());
  if (b.row_bytes() != a.row_bytes() || b.type() != a.type()) return false;
  for (int l = 0; l < s.n_layer; ++l) {
    for (int h = 0; h < s.n_kv_head; ++h) {
      for (int p = 0; p < n; ++p) {
        if (std::memcmp(a.K(l, h, p), b.K(l, h, p), bytes) != 0) return false;
        if (std::memcmp(a.V(l, h, p), b.V(l, h, p), bytes) != 0) return false;
      }
    }
  }
  return true;
}

class PromptCacheTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = LoadModel(test::SmallLlama(64, 96, 2), 11, "a").release(); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(model_, nullptr);
    path_ = test::UniqueTempPath(::testing::TempDir(), "ondo_prompt_cache_file");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(path_ + ".tmp", ec);
    std::filesystem::remove(path_, ec);
  }
  static Model* model_;
  std::string path_;
};
Model* PromptCacheTest::model_ = nullptr;

// (a) Save after the prompt, restore into a fresh session and continue: the rows are bitwise
// the saved ones, and the logits, prompt tail and continuation alike, are bitwise those of a
// session that computed everything itself in the same chunks.
TEST_F(PromptCacheTest, RestoredSessionContinuesBitwise) {
  const std::vector<int32_t> prompt = Tokens(40, 1), more = Tokens(6, 2);
  std::unique_ptr<Session> a = NewSession(*model_);
  ASSERT_TRUE(a->Prefill(prompt).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, prompt).ok());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));

  std::unique_ptr<Session> b = NewSession(*model_);
  int n_reused = -1;
  Status st = b->LoadPromptCache(path_, prompt, &n_reused);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(n_reused, 39);  // the last prompt token is always prefilled, for its logits
  EXPECT_EQ(b->n_past(), 39);
  EXPECT_TRUE(SameRows(a->kv_cache(), b->kv_cache(), 39));
  ASSERT_TRUE(b->Prefill(std::span<const int32_t>(prompt).subspan(39)).ok());

  // The reference: the same split, computed from scratch.
  std::unique_ptr<Session> r = NewSession(*model_);
  ASSERT_TRUE(r->Prefill(std::span<const int32_t>(prompt).first(39)).ok());
  ASSERT_TRUE(r->Prefill(std::span<const int32_t>(prompt).subspan(39)).ok());
  EXPECT_EQ(Logits(*b), Logits(*r));
  EXPECT_TRUE(SameRows(r->kv_cache(), b->kv_cache(), 40));
  for (int32_t id : more) {
    ASSERT_TRUE(b->Decode(id).ok());
    ASSERT_TRUE(r->Decode(id).ok());
    EXPECT_EQ(Logits(*b), Logits(*r));
  }
}

// (b) A prompt sharing only a prefix with the cached one reuses exactly that prefix; a
// longer prompt that extends the cached one reuses all of it.
TEST_F(PromptCacheTest, ReusesExactlyTheCommonPrefix) {
  std::vector<int32_t> cached = Tokens(30, 3);
  std::unique_ptr<Session> a = NewSession(*model_);
  ASSERT_TRUE(a->Prefill(cached).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, cached).ok());

  std::vector<int32_t> partial(cached.begin(), cached.begin() + 17);
  for (int32_t id : Tokens(12, 4)) partial.push_back(id);
  partial[17] = cached[17] == 5 ? 6 : 5;  // differs right after the common part
  std::vector<int32_t> longer = cached;
  for (int32_t id : Tokens(8, 5)) longer.push_back(id);

  struct Want {
    const std::vector<int32_t>* prompt;
    int n_reused;
  };
  for (const Want& w : {Want{&partial, 17}, Want{&longer, 30}}) {
    const std::vector<int32_t>& p = *w.prompt;
    std::unique_ptr<Session> b = NewSession(*model_);
    int n_reused = -1;
    Status st = b->LoadPromptCache(path_, p, &n_reused);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(n_reused, w.n_reused);
    ASSERT_TRUE(b->Prefill(std::span<const int32_t>(p).subspan(static_cast<size_t>(n_reused))).ok());
    std::unique_ptr<Session> r = NewSession(*model_);
    ASSERT_TRUE(r->Prefill(std::span<const int32_t>(p).first(static_cast<size_t>(n_reused))).ok());
    ASSERT_TRUE(r->Prefill(std::span<const int32_t>(p).subspan(static_cast<size_t>(n_reused))).ok());
    EXPECT_EQ(Logits(*b), Logits(*r)) << "reused " << n_reused;
  }

  // Nothing in common, or a one-token prompt: nothing reused, and that is not an error.
  std::unique_ptr<Session> c = NewSession(*model_);
  int n_reused = -1;
  std::vector<int32_t> other = {cached[0] == 7 ? 8 : 7, 9, 10};
  EXPECT_TRUE(c->LoadPromptCache(path_, other, &n_reused).ok());
  EXPECT_EQ(n_reused, 0);
  EXPECT_TRUE(c->LoadPromptCache(path_, std::span<const int32_t>(cached).first(1), &n_reused).ok());
  EXPECT_EQ(n_reused, 0);
  EXPECT_EQ(c->n_past(), 0);
}

// (c) Every truncation and every single-byte change is rejected, the session left empty;
// a missing file is NotFound.
TEST_F(PromptCacheTest, RejectsTruncatedAndDamagedFiles) {
  const std::vector<int32_t> prompt = Tokens(8, 6);
  std::unique_ptr<Session> a = NewSession(*model_);
  ASSERT_TRUE(a->Prefill(prompt).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, prompt).ok());
  const std::string good = ReadFile(path_);
  ASSERT_GT(good.size(), 64u);

  std::unique_ptr<Session> b = NewSession(*model_);
  const std::string bad = path_ + ".bad";
  int n_cases = 0;
  auto expect_rejected = [&](const std::string& bytes, const std::string& what) {
    WriteFile(bad, bytes);
    if (n_cases++ % 64 == 0) {  // now and then, something the failed load must forget
      ASSERT_TRUE(b->Prefill(std::span<const int32_t>(prompt).first(3)).ok());
    }
    int n_reused = -1;
    Status st = b->LoadPromptCache(bad, prompt, &n_reused);
    EXPECT_FALSE(st.ok()) << what;
    EXPECT_NE(st.code(), StatusCode::kNotFound) << what;
    EXPECT_FALSE(st.message().empty()) << what;
    EXPECT_EQ(n_reused, 0) << what;
    EXPECT_EQ(b->n_past(), 0) << what;
  };
  for (size_t n = 0; n < good.size(); ++n) expect_rejected(good.substr(0, n), "truncated to " + std::to_string(n));
  // Every header and id byte, then a sample of the compressed rows and the CRC, each with
  // one of three masks in turn (CRC-32 catches every single-byte change; this checks that it
  // is consulted before anything is trusted).
  const uint8_t masks[] = {0x01, 0x80, 0xFF};
  for (size_t i = 0; i < good.size(); i += i < 96 || i + 8 >= good.size() ? 1 : 7) {
    std::string flipped = good;
    const uint8_t x = masks[i % 3];
    flipped[i] = static_cast<char>(static_cast<uint8_t>(flipped[i]) ^ x);
    expect_rejected(flipped, "byte " + std::to_string(i) + " ^ " + std::to_string(x));
  }
  expect_rejected(good + "x", "one byte appended");
  std::remove(bad.c_str());

  int n_reused = -1;
  Status st = b->LoadPromptCache(path_ + ".missing", prompt, &n_reused);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_EQ(n_reused, 0);
  // The good file still loads.
  EXPECT_TRUE(b->LoadPromptCache(path_, prompt, &n_reused).ok());
  EXPECT_EQ(n_reused, 7);
}

// (c) A file from another model, or for another KV geometry, is rejected.
TEST_F(PromptCacheTest, RejectsOtherModelAndGeometry) {
  const std::vector<int32_t> prompt = Tokens(10, 7);
  std::unique_ptr<Session> a = NewSession(*model_);
  ASSERT_TRUE(a->Prefill(prompt).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, prompt).ok());

  // Same shapes, other weights (a "fine-tune"); and another shape.
  std::unique_ptr<Model> reseeded = LoadModel(test::SmallLlama(64, 96, 2), 12, "b");
  std::unique_ptr<Model> deeper = LoadModel(test::SmallLlama(64, 96, 3), 11, "c");
  ASSERT_NE(reseeded, nullptr);
  ASSERT_NE(deeper, nullptr);
  EXPECT_NE(ModelIdentity(*reseeded), ModelIdentity(*model_));
  EXPECT_NE(ModelIdentity(*deeper), ModelIdentity(*model_));
  for (const Model* m : {reseeded.get(), deeper.get()}) {
    std::unique_ptr<Session> b = NewSession(*m);
    int n_reused = -1;
    Status st = b->LoadPromptCache(path_, prompt, &n_reused);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("another model"), std::string::npos) << st.message();
    EXPECT_EQ(n_reused, 0);
    EXPECT_EQ(b->n_past(), 0);
  }

  // The geometry is checked on its own (same identity, another KV shape).
  const uint64_t id = ModelIdentity(*model_);
  memory::KvCacheShape shape = a->kv_cache().shape();
  shape.n_kv_head += 1;
  std::unique_ptr<memory::KvCache> kv;
  ASSERT_TRUE(memory::KvCache::Create(shape, &kv).ok());
  int n_reused = -1;
  Status st = memory::LoadPromptCache(path_, id, prompt, kv.get(), &n_reused);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("geometry"), std::string::npos) << st.message();
  EXPECT_EQ(n_reused, 0);
  // A cache longer than this KV's context reuses only what fits.
  shape = a->kv_cache().shape();
  shape.n_ctx = 4;
  ASSERT_TRUE(memory::KvCache::Create(shape, &kv).ok());
  st = memory::LoadPromptCache(path_, id, prompt, kv.get(), &n_reused);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(n_reused, 4);
}

// An 8-bit (q8_0) cache round-trips bitwise as the f16 one does, and a file of one KV
// type is refused by a session of the other, naming both (the caller warns and prefills).
TEST_F(PromptCacheTest, Q8CacheRoundTripsAndTypeMismatchIsRefused) {
  std::unique_ptr<Model> model = LoadModel(test::SmallLlama(128, 192, 2), 12, "q8");  // head_dim 32
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> prompt = Tokens(30, 10), more = Tokens(4, 11);
  std::unique_ptr<Session> a = NewSession(*model, 64, memory::KvType::kQ8_0);
  ASSERT_TRUE(a->Prefill(prompt).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, prompt).ok());

  std::unique_ptr<Session> b = NewSession(*model, 64, memory::KvType::kQ8_0);
  int n_reused = -1;
  Status st = b->LoadPromptCache(path_, prompt, &n_reused);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(n_reused, 29);
  EXPECT_TRUE(SameRows(a->kv_cache(), b->kv_cache(), 29));
  ASSERT_TRUE(b->Prefill(std::span<const int32_t>(prompt).subspan(29)).ok());
  std::unique_ptr<Session> r = NewSession(*model, 64, memory::KvType::kQ8_0);
  ASSERT_TRUE(r->Prefill(std::span<const int32_t>(prompt).first(29)).ok());
  ASSERT_TRUE(r->Prefill(std::span<const int32_t>(prompt).subspan(29)).ok());
  EXPECT_EQ(Logits(*b), Logits(*r));
  for (int32_t id : more) {
    ASSERT_TRUE(b->Decode(id).ok());
    ASSERT_TRUE(r->Decode(id).ok());
    EXPECT_EQ(Logits(*b), Logits(*r));
  }

  // The q8_0 file into an f16 session, and an f16 file into a q8_0 session.
  std::unique_ptr<Session> f = NewSession(*model, 64, memory::KvType::kF16);
  ASSERT_TRUE(f->Prefill(prompt).ok());
  st = f->LoadPromptCache(path_, prompt, &n_reused);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("type q8_0"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("not f16"), std::string::npos) << st.message();
  EXPECT_EQ(n_reused, 0);
  EXPECT_EQ(f->n_past(), 0);
  ASSERT_TRUE(f->Prefill(prompt).ok());
  ASSERT_TRUE(f->SavePromptCache(path_, prompt).ok());
  st = b->LoadPromptCache(path_, prompt, &n_reused);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("type f16"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("not q8_0"), std::string::npos) << st.message();
  EXPECT_EQ(n_reused, 0);
  EXPECT_EQ(b->n_past(), 0);
}

// (d) The write is atomic: no temporary left behind, and a failed write leaves the old file
// whole. Saving more tokens than the session holds is refused.
TEST_F(PromptCacheTest, WriteIsAtomic) {
  const std::vector<int32_t> first = Tokens(12, 8), second = Tokens(20, 9);
  std::unique_ptr<Session> a = NewSession(*model_);
  ASSERT_TRUE(a->Prefill(first).ok());
  ASSERT_TRUE(a->SavePromptCache(path_, first).ok());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  const std::string old_bytes = ReadFile(path_);

  std::unique_ptr<Session> b = NewSession(*model_);
  ASSERT_TRUE(b->Prefill(second).ok());
  EXPECT_EQ(b->SavePromptCache(path_, Tokens(21, 9)).code(), StatusCode::kInvalidArgument);
  // The temporary cannot be created (a directory has its name): the save fails, the old
  // file is untouched.
  ASSERT_TRUE(std::filesystem::create_directory(path_ + ".tmp"));
  Status st = b->SavePromptCache(path_, second);
  EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
  EXPECT_EQ(ReadFile(path_), old_bytes);
  std::filesystem::remove(path_ + ".tmp");

  ASSERT_TRUE(b->SavePromptCache(path_, second).ok());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  EXPECT_NE(ReadFile(path_), old_bytes);
  std::unique_ptr<Session> c = NewSession(*model_);
  int n_reused = -1;
  ASSERT_TRUE(c->LoadPromptCache(path_, second, &n_reused).ok());
  EXPECT_EQ(n_reused, 19);
}

}  // namespace
}  // namespace ondo::runtime
