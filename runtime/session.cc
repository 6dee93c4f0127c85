// Session forward pass: one code path for llama, qwen2, qwen3, gemma3 and gptneox, differing
// only in the flags of ModelConfig. Matrix products are split across the pool by rows,
// attention by (token, KV head); every split writes disjoint outputs, so results do not
// depend on the thread count.
#include "runtime/session.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "memory/prompt_cache.h"
#include "platform/file_reader.h"
#include "platform/sys_info.h"
#include "runtime/sampler.h"

namespace ondo::runtime {
namespace {

// The kernels' row type of a KV cache element type.
kernels::DType KvDType(memory::KvType t) {
  return t == memory::KvType::kQ8_0 ? kernels::DType::kQ8_0 : kernels::DType::kF16;
}

// The usable CPUs, or the big cores of a heterogeneous CPU (platform::DefaultThreadCount).
int DefaultThreads() { return std::min(platform::DefaultThreadCount(), 64); }

}  // namespace

Status PlanSession(const Model& model, const SessionOptions& options, SessionPlan* plan) {
  const ModelConfig& c = model.config();
  if (options.n_ctx < 0) return InvalidArgument("context size {} is negative", options.n_ctx);
  if (options.n_batch < 0) return InvalidArgument("batch size {} is negative", options.n_batch);
  int n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min(c.n_ctx_train, 4096);
  if (n_ctx <= 0) n_ctx = 4096;
  if (n_ctx > (1 << 20)) return InvalidArgument("context size {} is too large (at most {})", n_ctx, 1 << 20);
  int n_batch = options.n_batch > 0 ? options.n_batch : 64;
  n_batch = std::min(n_batch, n_ctx);
  const int n_threads = options.n_threads > 0 ? options.n_threads : DefaultThreads();
  const uint64_t f = sizeof(float);
  plan->n_ctx = n_ctx;
  plan->n_batch = n_batch;
  plan->n_threads = n_threads;
  memory::KvCacheShape kv_shape{c.n_layer, c.n_head_kv, c.head_dim, n_ctx, options.kv_type};
  ONDO_RETURN_IF_ERROR(memory::CheckKvCacheShape(kv_shape));
  plan->kv_type = options.kv_type;
  plan->kv_full_bytes = memory::KvCache::BytesFor(kv_shape);
  // Sliding-window layers attend to their last n_swa positions only: a ring of n_swa rows
  // holds them all once the context is longer.
  plan->kv_ring_rows = 0;
  plan->kv_ring_layers = 0;
  if (options.swa_ring && c.n_swa > 0 && c.n_swa < n_ctx) {
    kv_shape.ring_rows = c.n_swa;
    kv_shape.ring_period = c.swa_pattern;
    plan->kv_ring_rows = c.n_swa;
    for (int il = 0; il < c.n_layer; ++il) plan->kv_ring_layers += kv_shape.is_ring_layer(il) ? 1 : 0;
  }
  plan->kv_bytes = memory::KvCache::BytesFor(kv_shape);
  // Mirrors the buffers Session::Create sizes (x_ .. ffn_b_, act_).
  const uint64_t B = static_cast<uint64_t>(n_batch);
  const uint64_t widest = static_cast<uint64_t>(std::max({c.n_embd, c.n_embd_q(), c.n_ff}));
  uint64_t floats = B * (2ull * c.n_embd + 2ull * c.n_embd_q() + 2ull * c.n_embd_kv() + 2ull * c.n_ff);
  if (c.arch == Arch::kGptNeox) floats += B * (c.n_embd_q() + 2ull * c.n_embd_kv());
  if (c.parallel_residual) floats += B * c.n_embd;
  plan->activation_bytes = floats * f + B * widest * f + 64;
  plan->attention_bytes = static_cast<uint64_t>(n_threads) * c.n_group() * n_ctx * f;
  plan->logits_bytes = static_cast<uint64_t>(c.n_vocab) * f;
  // The sampler (default history) and the script guard's tables: two bit masks and at most
  // one id per token for the pieces that start inside a character.
  const uint64_t mask_bytes = (static_cast<uint64_t>(c.n_vocab) + 63) / 64 * 8;
  plan->sampler_bytes = Sampler::BytesFor(c.n_vocab, SamplerOptions().repeat_last_n) + 2 * mask_bytes +
                        static_cast<uint64_t>(c.n_vocab) * sizeof(int32_t);
  plan->scratch_bytes = plan->activation_bytes + plan->attention_bytes + plan->logits_bytes + plan->sampler_bytes;
  plan->weight_bytes = model.weight_bytes();
  plan->weight_resident_bytes = plan->weight_bytes;
  plan->n_layer = c.n_layer;
  plan->n_layer_resident = c.n_layer;
  plan->stream_buffer_bytes = 0;
  plan->stream_read_bytes = 0;
  plan->process_bytes = options.process_bytes;
  plan->budget = options.budget;
  // Over the budget with every weight resident: keep what fits and stream the rest.
  if (options.stream_weights && !plan->fits()) {
    LayerStreamLayout layout;
    if (BuildLayerStreamLayout(model, &layout).ok()) {
      const uint64_t others = plan->kv_bytes + plan->scratch_bytes + plan->process_bytes;
      const uint64_t available = plan->budget.bytes > others ? plan->budget.bytes - others : 0;
      const memory::ResidencyPlan r =
          memory::PlanResidency(layout.layer_bytes, layout.layer_read_bytes, layout.fixed_bytes, available);
      plan->n_layer_resident = r.n_resident;
      plan->weight_resident_bytes = r.resident_bytes;
      plan->stream_buffer_bytes = r.buffer_bytes;
      plan->stream_read_bytes = r.streamed_bytes;
    }
  }
  return Status::Ok();
}

namespace {

std::string Figure(uint64_t bytes) { return fmt::format("{} bytes ({})", bytes, memory::FormatBytes(bytes)); }

}  // namespace

std::string DescribePlan(const SessionPlan& p, const ModelConfig& c) {
  std::string s;
  if (p.streamed()) {
    const std::string layers =
        p.n_layer_resident > 0 ? fmt::format("layers 0..{} of {}", p.n_layer_resident - 1, p.n_layer) : "no layer";
    s += fmt::format("  weights   {:>12} bytes  {:>11}  resident: {} and the tensors outside the layers, of {} "
                     "mapped from the file\n",
                     p.weight_resident_bytes, memory::FormatBytes(p.weight_resident_bytes), layers,
                     memory::FormatBytes(p.weight_bytes));
    s += fmt::format("  streamed  {:>12} bytes  {:>11}  two buffers; layers {}..{} read every forward pass ({} per "
                     "pass)\n",
                     p.stream_buffer_bytes, memory::FormatBytes(p.stream_buffer_bytes), p.n_layer_resident,
                     p.n_layer - 1, memory::FormatBytes(p.stream_read_bytes));
  } else {
    s += fmt::format("  weights   {:>12} bytes  {:>11}  resident, of {} mapped from the file\n", p.weight_resident_bytes,
                     memory::FormatBytes(p.weight_resident_bytes), memory::FormatBytes(p.weight_bytes));
  }
  const char* kv_elem = p.kv_type == memory::KvType::kQ8_0 ? "q8_0 (34 bytes per 32)" : "f16";
  if (p.kv_ring_rows > 0) {
    s += fmt::format("  KV cache  {:>12} bytes  {:>11}  2 x {} kv heads x {} dims x ({} sliding-window layers x "
                     "{} tokens (ring) + {} global x {} tokens) x {}; a full cache: {}\n",
                     p.kv_bytes, memory::FormatBytes(p.kv_bytes), c.n_head_kv, c.head_dim, p.kv_ring_layers,
                     p.kv_ring_rows, p.n_layer - p.kv_ring_layers, p.n_ctx, kv_elem, Figure(p.kv_full_bytes));
  } else {
    s += fmt::format("  KV cache  {:>12} bytes  {:>11}  2 x {} layers x {} kv heads x {} dims x {} tokens x {}\n",
                     p.kv_bytes, memory::FormatBytes(p.kv_bytes), c.n_layer, c.n_head_kv, c.head_dim, p.n_ctx,
                     kv_elem);
  }
  s += fmt::format("  scratch   {:>12} bytes  {:>11}  activations {} ({} tokens), attention {} ({} threads), "
                   "logits {}, sampler {}\n",
                   p.scratch_bytes, memory::FormatBytes(p.scratch_bytes), memory::FormatBytes(p.activation_bytes),
                   p.n_batch, memory::FormatBytes(p.attention_bytes), p.n_threads,
                   memory::FormatBytes(p.logits_bytes), memory::FormatBytes(p.sampler_bytes));
  if (p.process_bytes > 0) {
    s += fmt::format("  process   {:>12} bytes  {:>11}  already used by the process (code, tokenizer, tables)\n",
                     p.process_bytes, memory::FormatBytes(p.process_bytes));
  }
  s += fmt::format("  total     {:>12} bytes  {:>11}\n", p.total(), memory::FormatBytes(p.total()));
  if (p.budget.enforced()) {
    s += fmt::format("  budget    {:>12} bytes  {:>11}  {}; {}\n", p.budget.bytes, memory::FormatBytes(p.budget.bytes),
                     p.budget.Describe(),
                     p.fits() ? fmt::format("fits, {} to spare", memory::FormatBytes(p.budget.bytes - p.total()))
                              : fmt::format("DOES NOT FIT, {} over", memory::FormatBytes(p.total() - p.budget.bytes)));
  } else {
    s += "  budget    none\n";
  }
  return s;
}

Status CheckPlanFitsBudget(const SessionPlan& p) {
  if (p.fits()) return Status::Ok();
  const std::string streamed =
      p.streamed() ? fmt::format(", stream buffers {} (layers {}..{} streamed)", Figure(p.stream_buffer_bytes),
                                 p.n_layer_resident, p.n_layer - 1)
                   : std::string();
  const std::string process =
      p.process_bytes > 0 ? fmt::format(", used by the process {}", Figure(p.process_bytes)) : std::string();
  return OutOfMemory(
      "the session does not fit in the memory budget: weights {} resident (of {} mapped){}, KV cache {} "
      "(n_ctx {}), scratch {} (prefill chunk {} tokens){}, total {} > budget {} from {}",
      Figure(p.weight_resident_bytes), memory::FormatBytes(p.weight_bytes), streamed, Figure(p.kv_bytes), p.n_ctx,
      Figure(p.scratch_bytes), p.n_batch, process, Figure(p.total()), Figure(p.budget.bytes), p.budget.Describe());
}

Session::Session(const Model& model, const SessionPlan& plan, int n_threads)
    : model_(model), plan_(plan), pool_(n_threads) {}

Session::~Session() = default;

Status Session::Create(const Model& model, const SessionOptions& options,
                       std::unique_ptr<Session>* out) {
  SessionPlan plan;
  ONDO_RETURN_IF_ERROR(PlanSession(model, options, &plan));
  ONDO_RETURN_IF_ERROR(CheckPlanFitsBudget(plan));  // before allocating anything
  const ModelConfig& c = model.config();
  const int n_threads = plan.n_threads;
  std::unique_ptr<Session> s(new Session(model, plan, n_threads));
  memory::KvCacheShape kv_shape{c.n_layer, c.n_head_kv, c.head_dim, plan.n_ctx, plan.kv_type};
  if (plan.kv_ring_rows > 0) {
    kv_shape.ring_rows = plan.kv_ring_rows;
    kv_shape.ring_period = c.swa_pattern;
  }
  ONDO_RETURN_IF_ERROR(memory::KvCache::Create(kv_shape, &s->kv_));
  const size_t B = static_cast<size_t>(plan.n_batch);
  s->x_.resize(B * c.n_embd);
  s->xb_.resize(B * c.n_embd);
  s->q_.resize(B * c.n_embd_q());
  s->k_.resize(B * c.n_embd_kv());
  s->v_.resize(B * c.n_embd_kv());
  if (c.arch == Arch::kGptNeox) s->qkv_.resize(B * (c.n_embd_q() + 2 * c.n_embd_kv()));
  if (c.parallel_residual) s->attn_out_.resize(B * c.n_embd);
  s->att_.resize(B * c.n_embd_q());
  s->ffn_a_.resize(B * c.n_ff);
  s->ffn_b_.resize(B * c.n_ff);
  s->logits_.assign(static_cast<size_t>(c.n_vocab), 0.0f);
  s->att_scratch_.resize(static_cast<size_t>(n_threads) * c.n_group() * plan.n_ctx);
  const size_t widest = static_cast<size_t>(std::max({c.n_embd, c.n_embd_q(), c.n_ff}));
  s->act_.resize(B * widest * sizeof(float) + 64);
  s->shares_ = std::make_unique<ShareCursor[]>(static_cast<size_t>(s->pool_.size()));
  if (plan.streamed()) ONDO_RETURN_IF_ERROR(s->StartStreaming(options.stream_direct_io));
  *out = std::move(s);
  return Status::Ok();
}

Status Session::Prefill(std::span<const int32_t> ids, float* all_logits) {
  const int n_vocab = model_.config().n_vocab;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n_vocab) {
      return InvalidArgument("token id {} at index {} is outside the vocabulary (0..{})", ids[i], i, n_vocab - 1);
    }
  }
  if (ids.empty()) return InvalidArgument("no tokens to process");
  if (ids.size() > static_cast<size_t>(plan_.n_ctx - n_past_)) {
    return OutOfRange("{} tokens do not fit in the context: {} of {} positions are used", ids.size(), n_past_, plan_.n_ctx);
  }
  size_t done = 0;
  while (done < ids.size()) {
    const int n = static_cast<int>(std::min<size_t>(ids.size() - done, static_cast<size_t>(plan_.n_batch)));
    float* rows = all_logits ? all_logits + done * static_cast<size_t>(n_vocab) : nullptr;
    ONDO_RETURN_IF_ERROR(Forward(ids.data() + done, n, rows));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status Session::Shift(int keep, int discard) {
  if (keep < 0 || discard < 0 || keep > n_past_ || discard > n_past_ - keep) {
    return InvalidArgument("cannot shift the context: keep {} and discard {} tokens of the {} it holds", keep,
                           discard, n_past_);
  }
  if (discard == 0) return Status::Ok();
  const ModelConfig& c = model_.config();
  const int hd = c.head_dim;
  const int first = keep + discard;  // first position that moves
  const int n_move = n_past_ - first;
  // Ring layers that have wrapped hold positions [n_past - W, n_past) only. After the shift
  // their next token attends to the W - 1 positions before it, which must all be moved ones.
  const int ring_rows = kv_->shape().ring_rows;
  const bool ring_wrapped = kv_->shape().has_ring() && n_past_ > ring_rows;
  if (ring_wrapped && n_move < ring_rows - 1) {
    return Unsupported(
        "cannot shift the context: the sliding-window layers keep only their last {} positions (ring KV cache) "
        "and keeping {} and discarding {} of {} tokens would need earlier ones; discard fewer tokens, or "
        "create the session without the ring",
        ring_rows, keep, discard, n_past_);
  }
  // One task per KV head, each with its own slice of k_ (n_batch x n_embd_kv floats, so
  // n_batch rows of head_dim per head) as scratch. A head's rows are contiguous in the cache,
  // so a chunk of rows is converted, rotated (Rope treats the rows as heads at one position)
  // and written back at once. Chunks go upwards and each is read whole before it is written
  // `discard` rows lower, so an overlap of source and destination is harmless.
  // Rows of either KV type are whole blocks, so a run of rows converts as one longer row.
  const int chunk = plan_.n_batch;
  const kernels::DType kv_type = KvDType(kv_->type());
  // The same frequencies (factors, YaRN mix) as the forward pass: angles are linear in the
  // position, so rotating by -discard moves a key exactly. Without YaRN's magnitude scale,
  // which the keys already carry.
  // Each layer with its own rotation (gemma3's sliding-window layers have their own base).
  kernels::RopeParams shift_rope = model_.rope();
  shift_rope.mscale = 1.0f;
  kernels::RopeParams shift_rope_swa = model_.rope(0);  // == rope() when no layer is local
  shift_rope_swa.mscale = 1.0f;
  pool_.ParallelFor(c.n_head_kv, [&](int h, int) {
    float* buf = k_.data() + static_cast<size_t>(h) * chunk * hd;
    for (int il = 0; il < c.n_layer; ++il) {
      const kernels::RopeParams& rope = c.is_swa_layer(il) ? shift_rope_swa : shift_rope;
      if (ring_wrapped && kv_->shape().is_ring_layer(il)) {
        // New position q belongs in row q % W and was old position q + discard, in row
        // (q + discard) % W: the rows rotate left by discard % W (in place), then every row
        // is re-rotated by -discard (the one row left over, position n_past - discard - W,
        // is the next to be overwritten and never read).
        const size_t rb = static_cast<size_t>(kv_->row_bytes());
        const size_t d = static_cast<size_t>(discard % ring_rows);
        for (uint8_t* base : {kv_->K(il, h, 0), kv_->V(il, h, 0)}) {
          std::rotate(base, base + d * rb, base + static_cast<size_t>(ring_rows) * rb);
        }
        for (int j = 0; j < ring_rows; j += chunk) {
          const int n = std::min(chunk, ring_rows - j);
          const int64_t len = static_cast<int64_t>(n) * hd;
          kernels::DequantizeRow(kv_type, kv_->K(il, h, j), buf, len);
          kernels::Rope(buf, n, hd, -discard, rope);
          kernels::QuantizeRow(kv_type, buf, kv_->K(il, h, j), len);
        }
        continue;
      }
      for (int j = 0; j < n_move; j += chunk) {
        const int n = std::min(chunk, n_move - j);
        const int64_t len = static_cast<int64_t>(n) * hd;
        kernels::DequantizeRow(kv_type, kv_->K(il, h, first + j), buf, len);
        kernels::Rope(buf, n, hd, -discard, rope);
        kernels::QuantizeRow(kv_type, buf, kv_->K(il, h, keep + j), len);
      }
      if (n_move > 0) {
        std::memmove(kv_->V(il, h, keep), kv_->V(il, h, first), static_cast<size_t>(n_move) * kv_->row_bytes());
      }
    }
  });
  n_past_ -= discard;
  return Status::Ok();
}

void Session::MatMul(const WeightView& w, const WeightView* bias, const float* in,
                     int64_t in_stride, int n_tokens, float* out, int64_t out_stride, TokenStep step) {
  const MatMulJob job{&w, bias, out, out_stride};
  MatMuls(std::span<const MatMulJob>(&job, 1), in, in_stride, n_tokens, step);
}

void Session::MatMuls(std::span<const MatMulJob> jobs, const float* in, int64_t in_stride,
                      int n_tokens, TokenStep step) {
  assert(!jobs.empty() && jobs.size() <= kMaxJobs);
  const int64_t k = jobs[0].w->n_cols;
  const kernels::DType vd = kernels::Info(jobs[0].w->type).vec_dot_type;
  const bool mixed = std::any_of(jobs.begin() + 1, jobs.end(), [&](const MatMulJob& j) {
    return kernels::Info(j.w->type).vec_dot_type != vd;
  });
  // The observer and mixed products read the whole input first: the step's pass of its own.
  if (step && (mixed || observer_ != nullptr)) {
    ForTokens(n_tokens, step);
    step = {};
  }
  if (mixed) {
    // Mixed activation types (a rare file layout): one product at a time.
    for (const MatMulJob& one : jobs) MatMul(*one.w, one.bias, in, in_stride, n_tokens, one.out, one.out_stride);
    return;
  }
  if (observer_ != nullptr) {
    for (const MatMulJob& j : jobs) observer_->Observe(ModelView(j.w), in, in_stride, n_tokens);
  }
  const size_t x_row_bytes = kernels::RowBytes(vd, k);
  uint8_t* act = act_.data();
  ForTokens(n_tokens, [&](int t) {
    if (step) step(t);
    kernels::QuantizeRow(vd, in + t * in_stride, act + t * x_row_bytes, k);
  });
  // Chunks of rows shared out to the threads: about kTasksPerThread each, so the wait
  // for the last chunk is short, each a multiple of 16 rows (whole SIMD row tiles) and large
  // enough to amortize taking it (one atomic increment) and the kernel call's set-up (it
  // rearranges the activations). Decode cuts kDecodeSplit times finer chunks but each thread
  // takes them kDecodeSplit at a time while its share is large (one kernel call), so only the
  // chunks finished last are small. Measured on the 1.5B-shape Q8_0, 2 threads: the time one
  // thread waits for the other at the end of a product fell from 4.2% to 1.7-2.0% of the
  // products' time.
  constexpr int64_t kTasksPerThread = 16;
  constexpr int kDecodeSplit = 4;
  const int64_t n_threads = pool_.size();
  const bool decode = n_tokens == 1 && n_threads > 1;
  int64_t total_rows = 0;
  for (const MatMulJob& j : jobs) total_rows += j.w->n_rows;
  const int64_t n_split = kTasksPerThread * n_threads * (decode ? kDecodeSplit : 1);
  int64_t chunk = std::max<int64_t>(16, (total_rows + n_split - 1) / n_split);
  chunk = (chunk + 15) / 16 * 16;
  int task_start[kMaxJobs + 1];
  task_start[0] = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    task_start[i + 1] = task_start[i] + static_cast<int>((jobs[i].w->n_rows + chunk - 1) / chunk);
  }
  const uint8_t* x = act_.data();
  const auto has_bias = [](const MatMulJob& j) { return j.bias != nullptr && j.bias->present(); };
  // Tasks [t0, t1): one kernel call per product they cover, and its bias (Qwen's Q, K and V)
  // added to the rows it wrote while they are in this core's cache.
  const auto run = [&](int t0, int t1) {
    size_t i = 0;
    while (t0 < t1) {
      while (t0 >= task_start[i + 1]) ++i;
      const int end = std::min(t1, task_start[i + 1]);
      const WeightView& w = *jobs[i].w;
      const int64_t r0 = (t0 - task_start[i]) * chunk;
      const int64_t r1 = std::min(w.n_rows, (end - task_start[i]) * chunk);
      kernels::MatMul(w.type, w.data, w.row_bytes, r0, r1, k, x, x_row_bytes, n_tokens, jobs[i].out,
                      jobs[i].out_stride);
      if (has_bias(jobs[i])) {
        for (int t = 0; t < n_tokens; ++t) {
          kernels::Add(jobs[i].bias->f32() + r0, jobs[i].out + t * jobs[i].out_stride + r0, r1 - r0);
        }
      }
      t0 = end;
    }
  };
  const int n_tasks = task_start[jobs.size()];
  // Each pool thread owns a contiguous share of the chunks and takes them front to back; a
  // thread done with its share takes the chunks left in the others' from their back ends, one
  // at a time. The chunks and their results are the same whoever computes them. Decode reads
  // every weight once, from memory: one sequential stream per thread, which the prefetchers
  // follow. The share is the pool thread's own (not the pool task's, which any thread may
  // take), so the same thread computes the same rows call after call: on the Zen 5 VM host of
  // issue 8, where weight pages read by another CPU than last time are slower to reach (README,
  // "Speed"), the 2-thread Q2_K prefill gained 3% (prompt 512, ab.py, 4 interleaved rounds,
  // 0.957-0.975) over chunks taken in any order.
  const int n = static_cast<int>(n_threads);
  for (int s = 0; s < n; ++s) {
    const uint64_t lo = static_cast<uint64_t>(n_tasks) * s / n;
    const uint64_t hi = static_cast<uint64_t>(n_tasks) * (s + 1) / n;
    shares_[s].range.store(lo << 32 | hi, std::memory_order_relaxed);
  }
  // Takes chunks of share s: from its front (its owner; in decode kDecodeSplit of them while
  // more than 2 * kDecodeSplit are left, else one) or one from its back (taken over). Returns
  // the first and sets *end; -1 when none is left.
  const auto take = [&](int s, bool front, int* end) -> int {
    std::atomic<uint64_t>& r = shares_[s].range;
    uint64_t v = r.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t f = v >> 32, b = v & 0xFFFFFFFFu;
      if (f >= b) return -1;
      const uint64_t m = decode && front && b - f > 2 * kDecodeSplit ? kDecodeSplit : 1;
      const uint64_t next = front ? (f + m) << 32 | b : f << 32 | (b - 1);
      if (r.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
        *end = static_cast<int>(front ? f + m : b);
        return static_cast<int>(front ? f : b - 1);
      }
    }
  };
  // One pool task per thread; a thread that gets a second task (the other was slow to wake)
  // finds every share empty or drains what is left.
  pool_.ParallelFor(n, [&](int, int thread) {
    int end = 0;
    for (int c; (c = take(thread, true, &end)) >= 0;) run(c, end);
    for (int o = 1; o < n; ++o) {
      for (int c; (c = take((thread + o) % n, false, &end)) >= 0;) run(c, end);
    }
  });
}

void Session::NormRow(const WeightView& w, const WeightView& b, const float* in, float* out,
                      int64_t n) const {
  const ModelConfig& c = model_.config();
  if (c.layer_norm) {
    kernels::LayerNorm(in, w.f32(), b.present() ? b.f32() : nullptr, out, n, c.norm_eps);
  } else {
    kernels::RmsNorm(in, w.f32(), out, n, c.norm_eps);
  }
}

void Session::Attention(int layer, int t_begin, int t_end) {
  const ModelConfig& c = model_.config();
  const int n_group = c.n_group();
  const int hd = c.head_dim;
  const float scale = c.attn_scale;
  const int n_tasks = (t_end - t_begin) * c.n_head_kv;
  // A sliding-window layer attends to the last n_swa positions only (its own included), as
  // llama.cpp's SWA mask (p_query - p_key >= n_swa is masked): rows [first, n_kv).
  const int window = c.is_swa_layer(layer) ? c.n_swa : 0;
  // A ring layer (ring_rows == n_swa) holds position p in row p % n_swa: once it has wrapped,
  // its rows are exactly the window's positions, in rotated order, which attention (a sum
  // over the rows) does not depend on beyond float rounding.
  const bool ring = kv_->shape().is_ring_layer(layer);
  const int ring_rows = kv_->shape().ring_rows;
  const bool q8 = kv_->type() == memory::KvType::kQ8_0;
  pool_.ParallelFor(n_tasks, [&](int task, int thread) {
    const int t = t_begin + task / c.n_head_kv;
    const int h = task % c.n_head_kv;
    const float* q = q_.data() + static_cast<size_t>(t) * c.n_embd_q() + static_cast<size_t>(h) * n_group * hd;
    const int n_end = n_past_ + t + 1;  // causal: position n_past + t sees 0..n_past + t
    int first = window > 0 ? std::max(0, n_end - window) : 0;
    int n_kv = n_end - first;
    if (ring && n_end > ring_rows) {
      first = 0;
      n_kv = ring_rows;
    }
    float* out = att_.data() + static_cast<size_t>(t) * c.n_embd_q() + static_cast<size_t>(h) * n_group * hd;
    float* scratch = att_scratch_.data() + static_cast<size_t>(thread) * n_group * plan_.n_ctx;
    // The fields both argument types share.
    auto common = [&](auto& a) {
      a.q = q;
      a.n_group = n_group;
      a.head_dim = hd;
      a.n_kv = n_kv;
      a.scale = scale;
      a.out = out;
      a.scratch = scratch;
    };
    if (q8) {
      kernels::AttentionQ8Args a;
      common(a);
      a.k = kv_->K(layer, h, first);
      a.v = kv_->V(layer, h, first);
      a.kv_row_bytes = kv_->row_bytes();
      kernels::AttentionQ8_0(a);
    } else {
      kernels::AttentionArgs a;
      common(a);
      a.k = reinterpret_cast<const uint16_t*>(kv_->K(layer, h, first));
      a.v = reinterpret_cast<const uint16_t*>(kv_->V(layer, h, first));
      a.kv_row_stride = kv_->row_bytes() / static_cast<int64_t>(sizeof(uint16_t));
      kernels::AttentionF16(a);
    }
  });
}

Status Session::Forward(const int32_t* ids, int n, float* all_logits) {
  const ModelConfig& c = model_.config();
  const int64_t E = c.n_embd, Q = c.n_embd_q(), KV = c.n_embd_kv(), F = c.n_ff;
  const int hd = c.head_dim;
  float* x = x_.data();
  float* xb = xb_.data();

  const WeightView& emb = model_.tok_embd();
  for (int t = 0; t < n; ++t) {
    kernels::DequantizeRow(emb.type, emb.data + static_cast<size_t>(ids[t]) * emb.row_bytes, x + t * E, E);
    if (c.embd_scale != 1.0f) {
      for (int64_t i = 0; i < E; ++i) x[t * E + i] *= c.embd_scale;
    }
  }

  // The per-token steps run inside the products' input conversion (TokenStep): the norm
  // before Q, K and V, the residual sum and norm before gate and up, the gated activation
  // before down. The residual sum of a layer's FFN output (x += xb) is left to the next
  // layer's first step, or the output norm's, where the model has no norm after the FFN.
  bool ffn_out_pending = false;
  const auto add_ffn_out = [&](int t) {
    kernels::Add(xb + t * E, x + t * E, E);
    if (c.parallel_residual) kernels::Add(attn_out_.data() + t * E, x + t * E, E);
  };
  for (int il = 0; il < c.n_layer; ++il) {
    const bool streamed = il >= plan_.n_layer_resident;
    if (streamed) ONDO_RETURN_IF_ERROR(AcquireStreamedLayer(il));
    const LayerWeights& L = streamed ? streamed_layer_ : model_.layer(il);
    const auto attn_in = [&](int t) {
      if (ffn_out_pending) add_ffn_out(t);
      NormRow(L.attn_norm, L.attn_norm_b, x + t * E, xb + t * E, E);
    };
    const TokenStep attn_in_step = TokenStep::Of(attn_in);

    if (c.arch == Arch::kGptNeox) {
      // Fused projection, laid out [Q; K; V] by the converter.
      const int64_t W = Q + 2 * KV;
      MatMul(L.wqkv, &L.bqkv, xb, E, n, qkv_.data(), W, attn_in_step);
      for (int t = 0; t < n; ++t) {
        const float* row = qkv_.data() + t * W;
        std::copy(row, row + Q, q_.data() + t * Q);
        std::copy(row + Q, row + Q + KV, k_.data() + t * KV);
        std::copy(row + Q + KV, row + W, v_.data() + t * KV);
      }
    } else {
      const MatMulJob qkv[] = {{&L.wq, &L.bq, q_.data(), Q}, {&L.wk, &L.bk, k_.data(), KV},
                               {&L.wv, &L.bv, v_.data(), KV}};
      MatMuls(qkv, xb, E, n, attn_in_step);
    }
    ffn_out_pending = false;
    // K and V rows of token t into the cache (row KvRow: a ring layer wraps).
    const kernels::DType kv_type = KvDType(kv_->type());
    auto write_kv = [&](int t) {
      const int row = KvRow(il, n_past_ + t);
      const float* kt = k_.data() + t * KV;
      const float* vt = v_.data() + t * KV;
      for (int h = 0; h < c.n_head_kv; ++h) {
        kernels::QuantizeRow(kv_type, kt + h * hd, kv_->K(il, h, row), hd);
        kernels::QuantizeRow(kv_type, vt + h * hd, kv_->V(il, h, row), hd);
      }
    };
    // A ring layer's rows are overwritten W positions later: once positions reach the ring's
    // size, a token's row would overwrite one an earlier token of the batch still attends to,
    // so from there each token writes its row and attends before the next one writes.
    int n_batched = n;
    if (kv_->shape().is_ring_layer(il)) {
      n_batched = std::clamp(kv_->shape().ring_rows - n_past_, 1, n);
    }
    ForTokens(n, [&](int t) {
      float* qt = q_.data() + t * Q;
      float* kt = k_.data() + t * KV;
      if (L.q_norm.present()) {
        for (int h = 0; h < c.n_head; ++h) kernels::RmsNorm(qt + h * hd, L.q_norm.f32(), qt + h * hd, hd, c.norm_eps);
        for (int h = 0; h < c.n_head_kv; ++h) kernels::RmsNorm(kt + h * hd, L.k_norm.f32(), kt + h * hd, hd, c.norm_eps);
      }
      const int pos = n_past_ + t;
      const kernels::RopeParams& rope = model_.rope(il);
      kernels::Rope(qt, c.n_head, hd, pos, rope);
      kernels::Rope(kt, c.n_head_kv, hd, pos, rope);
      if (t < n_batched) write_kv(t);
    });
    Attention(il, 0, n_batched);
    for (int t = n_batched; t < n; ++t) {  // ring layer past its wrap: one token at a time
      write_kv(t);
      Attention(il, t, t + 1);
    }

    // The FFN's input row of token t into xb: x + attn(ln1(x)) + ffn(ln2(x)) with a parallel
    // residual (xb is free again once attention is done), else x += attn (post-normed), then
    // the FFN norm.
    const auto ffn_in = [&](int t) {
      if (!c.parallel_residual) {
        if (c.post_norms) NormRow(L.attn_post_norm, {}, xb + t * E, xb + t * E, E);
        kernels::Add(xb + t * E, x + t * E, E);
      }
      NormRow(L.ffn_norm, L.ffn_norm_b, x + t * E, xb + t * E, E);
    };
    const TokenStep ffn_in_step = TokenStep::Of(ffn_in);
    MatMul(L.wo, &L.bo, att_.data(), Q, n, c.parallel_residual ? attn_out_.data() : xb, E);

    // The down projection's input row of token t into ffn_b.
    const auto ffn_act = [&](int t) {
      float* a = ffn_a_.data() + t * F;
      float* b = ffn_b_.data() + t * F;
      if (c.gelu_ffn) {
        kernels::Gelu(a, b, F);
      } else if (c.gelu_gated_ffn) {
        kernels::GeGlu(a, b, b, F);
      } else {
        kernels::SwiGlu(a, b, b, F);
      }
    };
    if (c.gelu_ffn) {
      MatMul(L.ffn_up, &L.ffn_up_b, xb, E, n, ffn_a_.data(), F, ffn_in_step);
    } else {
      const MatMulJob gate_up[] = {{&L.ffn_gate, nullptr, ffn_a_.data(), F},
                                   {&L.ffn_up, nullptr, ffn_b_.data(), F}};
      MatMuls(gate_up, xb, E, n, ffn_in_step);
    }
    MatMul(L.ffn_down, &L.ffn_down_b, ffn_b_.data(), F, n, xb, E, TokenStep::Of(ffn_act));
    if (c.post_norms) {
      // The norm after the FFN is this layer's weight (a streamed layer's goes with it).
      ForTokens(n, [&](int t) {
        NormRow(L.ffn_post_norm, {}, xb + t * E, xb + t * E, E);
        add_ffn_out(t);
      });
    } else {
      ffn_out_pending = true;
    }
    if (streamed) streamer_->Release();
  }

  // Logits for the last token, or for every token when all_logits is given.
  const int first = all_logits ? 0 : n - 1;
  const int n_out = n - first;
  ForTokens(n_out, [&](int i) {
    const int t = first + i;
    if (ffn_out_pending) add_ffn_out(t);  // reads xb row t before row i is written (i <= t)
    NormRow(model_.output_norm(), model_.output_norm_b(), x + static_cast<int64_t>(t) * E, xb + i * E, E);
  });
  if (all_logits) {
    MatMul(model_.output(), &model_.output_b(), xb, E, n, all_logits, c.n_vocab);
    std::copy(all_logits + static_cast<size_t>(n - 1) * c.n_vocab,
              all_logits + static_cast<size_t>(n) * c.n_vocab, logits_.begin());
  } else {
    MatMul(model_.output(), &model_.output_b(), xb, E, 1, logits_.data(), c.n_vocab);
  }
  n_past_ += n;
  return Status::Ok();
}

Status Session::StartStreaming(bool direct_io) {
  stream_layout_ = std::make_unique<LayerStreamLayout>();
  ONDO_RETURN_IF_ERROR(BuildLayerStreamLayout(model_, stream_layout_.get()));
  const int first = plan_.n_layer_resident;
  std::vector<memory::StreamedLayer> layers(stream_layout_->layers.begin() + first, stream_layout_->layers.end());
  // Readers for the files the streamed layers are in (the others stay nullptr).
  std::vector<std::unique_ptr<platform::FileReader>> readers(stream_layout_->files.size());
  for (const memory::StreamedLayer& l : layers) {
    for (const memory::StreamExtent& e : l.extents) {
      auto& r = readers[static_cast<size_t>(e.file)];
      if (r == nullptr) {
        ONDO_RETURN_IF_ERROR(platform::FileReader::Open(*stream_layout_->files[static_cast<size_t>(e.file)], direct_io, &r));
      }
    }
  }
  return memory::WeightStreamer::Create(std::move(readers), std::move(layers), &streamer_);
}

void Session::UnmapStreamedPages() const {
  if (stream_layout_ == nullptr) return;
  for (size_t il = static_cast<size_t>(plan_.n_layer_resident); il < stream_layout_->layers.size(); ++il) {
    for (const memory::StreamExtent& e : stream_layout_->layers[il].extents) {
      stream_layout_->files[static_cast<size_t>(e.file)]->Advise(e.offset, e.bytes, platform::Advice::kDontNeed);
    }
  }
}

const WeightView& Session::ModelView(const WeightView* w) const {
  if (streamer_ != nullptr) {
    for (WeightView LayerWeights::*m : kLayerWeightViews) {
      if (w == &(streamed_layer_.*m)) return model_.layer(streamed_il_).*m;
    }
  }
  return *w;
}

Status Session::AcquireStreamedLayer(int il) {
  const int first = plan_.n_layer_resident;
  const uint8_t* data = nullptr;
  Status s = streamer_->Acquire(il - first, &data);
  if (s.ok()) {
    RebaseLayer(*stream_layout_, model_, il, data, &streamed_layer_);
    streamed_il_ = il;
    return s;
  }
  // Keep the streamer's cycle in step with the layers: consume the rest of this pass.
  streamer_->Release();
  for (int j = il + 1; j < plan_.n_layer; ++j) {
    (void)streamer_->Acquire(j - first, &data);  // the first error is the one reported
    streamer_->Release();
  }
  return s;
}

namespace {

Status RingRefusesPromptCache(const memory::KvCache& kv) {
  if (!kv.shape().has_ring()) return Status::Ok();
  return Unsupported(
      "the prompt cache saves every position's KV rows, but this session's sliding-window layers keep only "
      "their last {} positions (ring KV cache); create the session with the full cache (SessionOptions::swa_ring "
      "= false; `ondo run --prompt-cache` does so)",
      kv.shape().ring_rows);
}

}  // namespace

Status Session::SavePromptCache(const std::string& path, std::span<const int32_t> ids) const {
  ONDO_RETURN_IF_ERROR(RingRefusesPromptCache(*kv_));
  if (ids.size() > static_cast<size_t>(n_past_)) {
    return InvalidArgument("the prompt cache would hold {} tokens but the session has {}", ids.size(), n_past_);
  }
  const uint64_t identity = ModelIdentity(model_);
  UnmapStreamedPages();
  return memory::SavePromptCache(path, identity, *kv_, ids);
}

Status Session::LoadPromptCache(const std::string& path, std::span<const int32_t> prompt, int* n_reused) {
  // Rows [0, n) are overwritten, so whatever the session held is gone either way.
  n_past_ = 0;
  *n_reused = 0;
  ONDO_RETURN_IF_ERROR(RingRefusesPromptCache(*kv_));
  const uint64_t identity = ModelIdentity(model_);
  UnmapStreamedPages();
  ONDO_RETURN_IF_ERROR(memory::LoadPromptCache(path, identity, prompt, kv_.get(), n_reused));
  n_past_ = *n_reused;
  return Status::Ok();
}

}  // namespace ondo::runtime
