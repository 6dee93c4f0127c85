// ThreadPool: a fixed set of workers created once; Run() hands them a batch of tasks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ondo::platform {

class ThreadPool {
 public:
  // n_threads counts the calling thread: ThreadPool(1) runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  using TaskFn = void (*)(void* ctx, int task, int thread);
  // Runs fn(ctx, task, thread) for every task in [0, n_tasks) and returns when all are done.
  // `thread` is in [0, size()). Not reentrant; one caller at a time. Allocates nothing.
  // Inside fn, ParallelThreads() gives min(size(), n_tasks) on every thread that runs tasks.
  void Run(int n_tasks, TaskFn fn, void* ctx);

  // Convenience wrapper: f(task, thread). `f` lives on the caller's stack; no allocation.
  template <typename F>
  void ParallelFor(int n_tasks, F&& f) {
    using Fn = std::remove_reference_t<F>;
    Run(n_tasks, [](void* c, int task, int thread) { (*static_cast<Fn*>(c))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  void WorkerLoop(int thread);
  void Drain(int thread);

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_task_{0};
  std::atomic<int> pending_workers_{0};
  std::atomic<bool> stop_{false};
  int n_tasks_ = 0;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
};

// The number of threads running the calling thread's current ThreadPool::Run, 1 outside a Run.
// A Run done inline (one thread or one task) leaves the count as it was; a Run of several
// threads started from a task of another Run sets its own count and restores the outer one.
// Memory-streaming kernels read it once per call to tune for the share of the memory bandwidth each
// thread gets (the Q8_0 decode kernel's prefetch distance).
int ParallelThreads();

}  // namespace ondo::platform
