// What kv_shift_test (f16 cache) and kv_q8_test (q8_0 cache) share: the per-architecture
// synthetic cases, sessions with the full cache for every layer, the check of Session::Shift
// against a fresh session, and the decode-and-shift loop whose allocations they count.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "memory/kv_cache.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime::kvtest {

struct Case {
  const char* name;
  test::RefConfig config;
};
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // not the config's bytes
inline std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

// qwen2 over a llama config: neox rope, biases, rope base 1e6.
inline test::RefConfig Qwen2Of(test::RefConfig c) {
  c.arch = test::RefArch::kQwen2;
  c.rope_base = 1000000.0;
  c.norm_eps = 1e-6;
  return c;
}
// gemma3 over a qwen2 config: 7 layers, head_dim 32, sliding window 8 (shorter than the
// tests' texts), tied output. Layer 0 is a sliding-window layer rotating with base 1e4, not the
// file's 1e6.
inline test::RefConfig Gemma3Of(test::RefConfig c) {
  c.arch = test::RefArch::kGemma3;
  c.head_dim = 32;
  c.n_rot = 32;
  c.n_layer = 7;
  c.sliding_window = 8;
  c.tied_output = true;
  return c;
}
// gpt-neox over a llama config: n_head q and kv heads of head_dim, neox rope over n_rot dims,
// parallel residual.
inline test::RefConfig NeoxPartialOf(test::RefConfig c, int n_head, int head_dim, int n_rot) {
  c.arch = test::RefArch::kGptNeox;
  c.n_head = n_head;
  c.n_head_kv = n_head;
  c.head_dim = head_dim;
  c.n_rot = n_rot;
  c.parallel_residual = true;
  return c;
}

inline std::unique_ptr<Session> NewSession(const Model& model, memory::KvType kv_type, int n_ctx,
                                           int n_batch, int n_threads = 2) {
  SessionOptions o;
  o.n_ctx = n_ctx;
  o.n_batch = n_batch;
  o.n_threads = n_threads;
  o.kv_type = kv_type;
  // The full cache for every layer: these tests compare rows by position (the ring KV of
  // gemma3's sliding-window layers has its own test, kv_ring_test).
  o.swa_ring = false;
  std::unique_ptr<Session> s;
  Status st = Session::Create(model, o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// For each (keep, discard) of a fixed list: a session of kv_type prefills `all` (40 tokens)
// and shifts; a fresh session (another chunking on purpose) prefills the kept tokens followed
// by the moved ones. Kept rows of every layer (their context is the same) and layer 0's moved V
// rows must be bitwise equal; layer 0's moved K rows (K before RoPE depends only on the token)
// go to moved_k(shifted row, fresh row, position), which checks them and returns their largest
// difference in `unit`. Then decoding on uses the freed positions.
template <class MovedK>
void ExpectShiftMatchesFresh(const Model& model, memory::KvType kv_type,
                             const std::vector<int32_t>& all, const char* name, const char* unit,
                             MovedK moved_k) {
  const ModelConfig& mc = model.config();
  for (const auto& [keep, discard] :
       std::vector<std::pair<int, int>>{{4, 7}, {0, 13}, {1, 1}, {6, 30}}) {
    SCOPED_TRACE(testing::Message() << "keep " << keep << ", discard " << discard);
    std::unique_ptr<Session> a = NewSession(model, kv_type, 48, 8);
    ASSERT_TRUE(a->Prefill(all).ok());
    ASSERT_TRUE(a->Shift(keep, discard).ok());
    ASSERT_EQ(a->n_past(), static_cast<int>(all.size()) - discard);
    std::vector<int32_t> kept(all.begin(), all.begin() + keep);
    kept.insert(kept.end(), all.begin() + keep + discard, all.end());
    std::unique_ptr<Session> b = NewSession(model, kv_type, 48, 5);
    ASSERT_TRUE(b->Prefill(kept).ok());

    const memory::KvCache& ka = a->kv_cache();
    const memory::KvCache& kb = b->kv_cache();
    const size_t rb = static_cast<size_t>(ka.row_bytes());
    double worst = 0.0;
    for (int il = 0; il < mc.n_layer; ++il) {
      for (int h = 0; h < mc.n_head_kv; ++h) {
        for (int p = 0; p < a->n_past(); ++p) {
          if (p < keep) {
            ASSERT_EQ(std::memcmp(ka.K(il, h, p), kb.K(il, h, p), rb), 0)
                << "kept K " << il << " " << p;
            ASSERT_EQ(std::memcmp(ka.V(il, h, p), kb.V(il, h, p), rb), 0)
                << "kept V " << il << " " << p;
            continue;
          }
          if (il != 0) continue;  // later layers' moved rows saw the dropped tokens
          ASSERT_EQ(std::memcmp(ka.V(il, h, p), kb.V(il, h, p), rb), 0) << "moved V " << p;
          const double d = moved_k(ka.K(il, h, p), kb.K(il, h, p), p);
          worst = d > worst ? d : worst;
        }
      }
    }
    std::printf("[ %s keep %d discard %d ] worst moved K difference: %.2f %s\n", name, keep,
                discard, worst, unit);
    ASSERT_TRUE(a->Decode(all[0]).ok());
    EXPECT_EQ(a->n_past(), static_cast<int>(all.size()) - discard + 1);
  }
}

// Decodes `steps` tokens into s (already prefilled), shifting (keep 4, drop half the rest)
// whenever the context is full; counts the shifts. What the allocation tests run.
inline Status DecodeAndShift(Session& s, int steps, int* shifts) {
  Status st;
  for (int i = 0; i < steps && st.ok(); ++i) {
    if (s.n_past() >= s.n_ctx()) {
      st = s.Shift(4, (s.n_past() - 4) / 2);
      ++*shifts;
    }
    if (st.ok()) st = s.Decode(3 + (i * 31) % 280);
  }
  return st;
}

}  // namespace ondo::runtime::kvtest
