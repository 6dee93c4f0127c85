// ThreadPool: workers spin briefly on a generation counter (decode issues many small batches
// per token, and a condition-variable wake costs tens of microseconds), then sleep.
#include "platform/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONDO_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define ONDO_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define ONDO_CPU_RELAX() ((void)0)
#endif

namespace ondo::platform {

namespace {
// Spin ~10-20 us before yielding, then sleep: long enough to bridge the gap between the
// matrix products of one token, short enough not to starve an oversubscribed machine.
constexpr int kSpinIterations = 2000;
constexpr int kYieldIterations = 200;

thread_local int t_parallel_threads = 1;
}

int ParallelThreads() { return t_parallel_threads; }

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::Drain(int thread) {
  // Restored afterwards: a Run started from a task of another pool's Run returns to the outer
  // count.
  const int outer = t_parallel_threads;
  t_parallel_threads = std::min(n_tasks_, n_threads_);
  for (;;) {
    int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    fn_(ctx_, task, thread);
  }
  t_parallel_threads = outer;
}

void ThreadPool::Run(int n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    n_tasks_ = n_tasks;
    fn_ = fn;
    ctx_ = ctx;
    next_task_.store(0, std::memory_order_relaxed);
    pending_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  Drain(0);
  // Wait for the workers still finishing their last task; yield if one was descheduled.
  for (int spins = 0; pending_workers_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIterations) {
      ONDO_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::WorkerLoop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
      ONDO_CPU_RELAX();
      ++spins;
    }
    for (int y = 0; y < kYieldIterations && generation_.load(std::memory_order_acquire) == seen; ++y) {
      std::this_thread::yield();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    Drain(thread);
    pending_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace ondo::platform
