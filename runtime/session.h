// Session: the per-request state of one model — KV cache, scratch activations, logits —
// all sized at Create. Prefill and Decode allocate nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "memory/budget.h"
#include "memory/kv_cache.h"
#include "memory/residency.h"
#include "platform/status.h"
#include "platform/thread_pool.h"
#include "runtime/model.h"
#include "runtime/weight_stream.h"

namespace ondo::runtime {

struct SessionOptions {
  int n_ctx = 0;      // KV capacity in tokens; 0 = min(training context, 4096)
  int n_threads = 0;  // 0 = platform::DefaultThreadCount(): the usable cores, big ones only on big.LITTLE
  int n_batch = 64;   // largest prefill chunk (tokens per forward pass)
  // KV cache element type: f16, or q8_0 (8.5 bits per element, REQUIRES head_dim % 32 == 0;
  // Create and PlanSession fail with InvalidArgument otherwise).
  memory::KvType kv_type = memory::KvType::kF16;
  // What the session may use (resident weights + KV cache + scratch). Create fails with
  // OutOfMemory, naming every figure, when the plan's minimum exceeds it. Default: not
  // enforced; `ondo run`/`bench` and the C API pass memory::DefaultBudget() unless given one.
  memory::Budget budget;
  // When the weights do not fit in the budget, keep the first layers that do resident and
  // stream the others from the file each forward pass (memory/residency.h). Off: a plan over
  // the budget fails instead.
  bool stream_weights = true;
  // Streamed reads bypass the page cache (O_DIRECT) where the filesystem allows.
  bool stream_direct_io = true;
  // Memory the process already uses outside the session (code, tokenizer and analyzer tables:
  // `ondo run` passes its resident set before creating the session), counted against the
  // budget so that the whole process stays under it.
  uint64_t process_bytes = 0;
  // Sliding-window layers (gemma3's local layers) keep only their window of positions, in a
  // ring, when the context is longer than the window: the KV cache is then a fraction of a
  // full one, with the same results. False: every layer keeps n_ctx rows (what the prompt
  // cache needs: it saves every position's rows).
  bool swa_ring = true;
};

// Byte figures a session will use, known before allocating anything (for the budget,
// `ondo inspect` and `ondo run --verbose`).
struct SessionPlan {
  int n_ctx = 0;
  int n_batch = 0;    // largest prefill chunk
  int n_threads = 0;
  memory::KvType kv_type = memory::KvType::kF16;
  uint64_t kv_bytes = 0;  // exact: 2 x n_kv_head x row bytes (f16: head_dim x 2, q8_0: head_dim / 32 x 34)
                          // x the rows of all layers (n_ctx each, kv_ring_rows for a ring layer)
  int kv_ring_rows = 0;        // rows of a sliding-window layer's ring; 0: no ring
  int kv_ring_layers = 0;      // layers that keep a ring
  uint64_t kv_full_bytes = 0;  // what the cache would take with n_ctx rows in every layer
  // Scratch, by part; scratch_bytes is their sum.
  uint64_t activation_bytes = 0;  // activations of the largest prefill chunk (n_batch tokens)
  uint64_t attention_bytes = 0;   // attention scores, n_threads x n_group x n_ctx floats
  uint64_t logits_bytes = 0;      // n_vocab floats
  uint64_t sampler_bytes = 0;     // sampler candidates and script-guard mask (per n_vocab)
  uint64_t scratch_bytes = 0;
  // Weights: all tensors, mapped from the file, and the part that stays resident: all of
  // them when they fit in the budget; otherwise the tensors outside the layers and the first
  // n_layer_resident layers, and the other layers are streamed: read, every forward pass,
  // stream_read_bytes in all, into two buffers of the largest streamed layer.
  uint64_t weight_bytes = 0;
  uint64_t weight_resident_bytes = 0;
  int n_layer = 0;
  int n_layer_resident = 0;
  uint64_t stream_buffer_bytes = 0;  // both buffers; 0 when nothing is streamed
  uint64_t stream_read_bytes = 0;    // per forward pass
  uint64_t process_bytes = 0;        // copied from SessionOptions
  memory::Budget budget;  // copied from SessionOptions
  bool streamed() const { return n_layer_resident < n_layer; }
  // The least the session needs resident.
  uint64_t total() const {
    return weight_resident_bytes + stream_buffer_bytes + kv_bytes + scratch_bytes + process_bytes;
  }
  bool fits() const { return !budget.enforced() || total() <= budget.bytes; }
};
Status PlanSession(const Model& model, const SessionOptions& options, SessionPlan* plan);
// The plan, one figure per line ("  weights   ...\n"), for `ondo inspect` and `ondo run --verbose`.
std::string DescribePlan(const SessionPlan& plan, const ModelConfig& config);
// OutOfMemory naming every figure (weights, KV cache, scratch, total, budget and its source)
// when the plan does not fit its budget; OK otherwise.
Status CheckPlanFitsBudget(const SessionPlan& plan);

// Sees the input of every matrix product, in f32 before it is converted to the weight's
// vec-dot type (what `ondo imatrix` accumulates). Called on the thread that runs the session.
class MatMulObserver {
 public:
  virtual ~MatMulObserver() = default;
  // in: n_tokens rows of w.n_cols floats, in_stride apart.
  virtual void Observe(const WeightView& w, const float* in, int64_t in_stride, int n_tokens) = 0;
};

// A step of one token that produces that token's input row of a product (a norm, the
// residual sum, the gated activation). MatMuls runs it in the pool task that converts the
// row to the products' activation type, right before, while the row is in that core's cache,
// instead of one more pass of its own over every token's row. It writes token t's rows only,
// so the results are the same as with a separate pass. Refers to a callable on the caller's
// stack; no allocation.
struct TokenStep {
  void (*fn)(const void* ctx, int t) = nullptr;
  const void* ctx = nullptr;
  explicit operator bool() const { return fn != nullptr; }
  void operator()(int t) const { fn(ctx, t); }
  template <class F>
  static TokenStep Of(const F& f) {
    return {[](const void* c, int t) { (*static_cast<const F*>(c))(t); }, &f};
  }
};

class Session {
 public:
  static Status Create(const Model& model, const SessionOptions& options,
                       std::unique_ptr<Session>* out);
  ~Session();

  // Appends tokens at positions n_past()..; runs in chunks of n_batch. After it returns OK,
  // logits() holds the distribution for the position after the last token.
  // OutOfRange if the tokens do not fit in the context; the session is unchanged then.
  // With `all_logits` (ids.size() * n_vocab floats, caller-owned), row i receives the logits
  // after token i (what perplexity and KL divergence need); logits() is still the last row.
  Status Prefill(std::span<const int32_t> ids, float* all_logits = nullptr);
  Status Decode(int32_t id) { return Prefill(std::span<const int32_t>(&id, 1)); }

  const float* logits() const { return logits_.data(); }
  int n_vocab() const { return model_.config().n_vocab; }
  int n_past() const { return n_past_; }
  int n_ctx() const { return plan_.n_ctx; }
  int n_threads() const { return pool_.size(); }
  const SessionPlan& plan() const { return plan_; }
  const Model& model() const { return model_; }
  // Forgets all tokens (the cache is overwritten from position 0).
  void Reset() { n_past_ = 0; }
  // Context shift (llama.cpp's): forgets the `discard` tokens at positions keep..keep+discard-1
  // and moves the later ones down by `discard`, so n_past() drops by `discard` and the freed
  // positions are at the end. The first `keep` rows (attention sinks) are untouched. Moved K
  // rows are re-rotated in place by -discard positions (RoPE in the model's mode, in float,
  // rounded back to f16, or quantized back to q8_0 for an 8-bit cache); V rows are moved as
  // they are. Allocates nothing.
  // Re-rotation composes two rotations, R(-discard) * f16(R(p) k), where a fresh session
  // computes f16(R(p - discard) k): the extra f16 rounding of the stored row and the float
  // angles (theta computed from p and from -discard instead of from p - discard) can make a
  // moved element differ from the fresh one by an ulp or two of f16 (more, in absolute terms,
  // only as float theta loses precision at large positions, as llama.cpp's does).
  // logits() still describes the last token processed. InvalidArgument unless
  // 0 <= keep, 0 <= discard and keep + discard <= n_past(); the session is unchanged then.
  // With a ring KV (plan().kv_ring_rows > 0) that has wrapped (n_past() > the ring), the
  // sliding-window layers no longer hold the first positions: a shift that would need them
  // (fewer than ring - 1 positions moved) is Unsupported, the session unchanged.
  Status Shift(int keep, int discard);
  // The cache, for tests and diagnostics.
  const memory::KvCache& kv_cache() const { return *kv_; }
  // Prompt (prefix) cache, memory/prompt_cache.h, keyed by ModelIdentity(model()).
  // Save: the rows of positions [0, ids.size()) and `ids`, which must be the tokens the
  // session holds there (InvalidArgument if ids.size() > n_past()). Both are Unsupported
  // for a session with a ring KV (SessionOptions::swa_ring), which lacks early positions.
  Status SavePromptCache(const std::string& path, std::span<const int32_t> ids) const;
  // Load: forgets all tokens, then restores the longest prefix of `prompt` the file holds
  // (at most prompt.size() - 1 tokens) and sets n_past() = *n_reused. On any error (NotFound
  // for a missing file) the session holds no tokens and *n_reused is 0.
  Status LoadPromptCache(const std::string& path, std::span<const int32_t> prompt, int* n_reused);
  // nullptr (the default) or an observer of every matrix product's input; not owned.
  void set_observer(MatMulObserver* observer) { observer_ = observer; }

 private:
  Session(const Model& model, const SessionPlan& plan, int n_threads);
  // all_logits: nullptr, or n_tokens rows of n_vocab floats for every position.
  Status Forward(const int32_t* ids, int n_tokens, float* all_logits);
  // y[t][0..W.n_rows) = W * in[t] (+ bias) for t < n_tokens; in rows are `in_stride` floats,
  // made by `step` first if it is set.
  void MatMul(const WeightView& w, const WeightView* bias, const float* in, int64_t in_stride,
              int n_tokens, float* out, int64_t out_stride, TokenStep step = {});
  // Several products of the same input (q, k, v; gate, up) in one pass over the pool: one
  // conversion of the input, one dispatch, rows of all weights balanced across threads.
  struct MatMulJob {
    const WeightView* w;
    const WeightView* bias;  // nullptr or absent: none
    float* out;
    int64_t out_stride;
  };
  void MatMuls(std::span<const MatMulJob> jobs, const float* in, int64_t in_stride, int n_tokens,
               TokenStep step = {});
  // The model's norm (RMS or layer norm) of one row of n values.
  void NormRow(const WeightView& w, const WeightView& b, const float* in, float* out, int64_t n) const;
  // Attention of the batch's tokens [t_begin, t_end) in `layer`, whose K and V rows are in
  // the cache.
  void Attention(int layer, int t_begin, int t_end);
  // The cache row of position `pos` in `layer` (pos % ring rows in a ring layer).
  int KvRow(int layer, int pos) const {
    const int rows = kv_->shape().rows(layer);
    return kv_->shape().is_ring_layer(layer) ? pos % rows : pos;
  }
  // Shift of the ring layers once they have wrapped (Shift's part for them).
  Status ShiftRing(int keep, int discard);
  // f(t) for t in [0, n) on the pool (inline for one token). Each t must write only its own
  // rows, so the results do not depend on the thread count.
  template <class F>
  void ForTokens(int n, F&& f) {
    if (n == 1) {
      f(0);
    } else {
      pool_.ParallelFor(n, [&](int t, int) { f(t); });
    }
  }

  // Streamed layer `il` (>= plan_.n_layer_resident) into streamed_layer_; on a read error the
  // rest of the pass is skipped so that the streamer's cycle stays in step.
  Status AcquireStreamedLayer(int il);
  // Builds the layer layout and starts the reader of the layers past plan_.n_layer_resident.
  Status StartStreaming(bool direct_io);
  // Drops the mapping's pages of the streamed layers from this process (ModelIdentity reads
  // the first bytes of every tensor through the mapping), so the resident set stays at the
  // plan. No-op unless streaming.
  void UnmapStreamedPages() const;

  const Model& model_;
  SessionPlan plan_;
  // Weight streaming (plan_.streamed()): the layout of the layers and their reader.
  std::unique_ptr<LayerStreamLayout> stream_layout_;
  std::unique_ptr<memory::WeightStreamer> streamer_;
  LayerWeights streamed_layer_;
  int streamed_il_ = 0;  // the layer streamed_layer_ holds
  // The model's own view for `w`, which may be one of streamed_layer_'s (observers key on the
  // model's views).
  const WeightView& ModelView(const WeightView* w) const;
  platform::ThreadPool pool_;
  std::unique_ptr<memory::KvCache> kv_;
  int n_past_ = 0;
  MatMulObserver* observer_ = nullptr;

  // Scratch, (n_batch, width) row-major unless noted.
  std::vector<float> x_, xb_, q_, k_, v_, qkv_, att_, attn_out_, ffn_a_, ffn_b_, logits_;
  std::vector<float> att_scratch_;  // (n_threads, n_group * n_ctx)
  std::vector<uint8_t> act_;        // activations converted to a weight's vec-dot type
  // Decode's matrix products: per thread, the chunks [front, back) of its share still to take
  // (front in the high 32 bits), one cache line each.
  struct alignas(64) ShareCursor {
    std::atomic<uint64_t> range{0};
  };
  std::unique_ptr<ShareCursor[]> shares_;
  static constexpr size_t kMaxJobs = 4;  // MatMuls() groups at most this many products
};

}  // namespace ondo::runtime
