// Counts global operator new calls, for tests that check that a hot path allocates nothing.
// Replaces the global allocation functions (every form, nothrow included: std::stable_sort's
// temporary buffer uses it, and ASan reports a mismatch if it pairs with the replaced delete),
// so include this header in exactly one source file of a test binary.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace ondo::alloc_count {

inline std::atomic<long> g_allocations{0};
inline std::atomic<bool> g_counting{false};

// Out of line, so that GCC does not pair an inlined free() with `new` and warn
// (-Wmismatched-new-delete): the replaced operator new does use malloc.
[[gnu::noinline]] inline void ReleaseAllocation(void* p) noexcept { std::free(p); }

inline void* CountedMalloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n ? n : 1);
}

}  // namespace ondo::alloc_count

void* operator new(std::size_t n) {
  if (void* p = ondo::alloc_count::CountedMalloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return ondo::alloc_count::CountedMalloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return ondo::alloc_count::CountedMalloc(n);
}
void operator delete(void* p) noexcept { ondo::alloc_count::ReleaseAllocation(p); }
void operator delete[](void* p) noexcept { ondo::alloc_count::ReleaseAllocation(p); }
void operator delete(void* p, std::size_t) noexcept { ondo::alloc_count::ReleaseAllocation(p); }
void operator delete[](void* p, std::size_t) noexcept { ondo::alloc_count::ReleaseAllocation(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept {
  ondo::alloc_count::ReleaseAllocation(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  ondo::alloc_count::ReleaseAllocation(p);
}
