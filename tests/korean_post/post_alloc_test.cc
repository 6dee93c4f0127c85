// The streaming post-processor allocates nothing per chunk after warm-up: counts global
// operator new (all forms, as tests/runtime/alloc_test.cc does) while pushing generated-like
// text in small chunks.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "tokenizer/korean/post/post_processor.h"

// GCC inlines the replaced deletes into gtest's `new TestClass` and then warns that free()
// meets a pointer from operator new: here both are malloc/free, so the warning is spurious.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<long> g_allocations{0};
std::atomic<bool> g_counting{false};
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept {
  return ::operator new(n, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace ondo::korean {
namespace {

TEST(PostAllocations, NoAllocationPerChunkAfterWarmUp) {
  std::unique_ptr<Analyzer> analyzer;
  ASSERT_TRUE(Analyzer::Create(&analyzer).ok());
  std::unique_ptr<PostProcessor> pp;
  ASSERT_TRUE(PostProcessor::Create(analyzer.get(), PostOptions{}, &pp).ok());
  const std::string text =
      "안녕하세요 . 저는 LLM가 아닙니다!!! 사과을 먹고 서울으로 갔어요. 좋아요 좋아요 좋아요 "
      "좋아요. 정말?!?! \"책\"를 읽었다. ㅋㅋㅋㅋㅋㅋ 3로 나누면 (1을 더하고) 끝.\n"
      "허리가 아파서, 허리가 아파서, 병원에 갔다. 병원에 갔다. 방식로 한다. ";
  std::string out;
  out.reserve(1 << 16);
  auto stream = [&] {
    for (size_t i = 0; i < text.size(); i += 3) {
      ASSERT_TRUE(pp->Push(std::string_view(text).substr(i, 3), &out).ok());
    }
    ASSERT_TRUE(pp->Finish(&out).ok());
  };
  stream();  // warm-up
  out.clear();
  g_allocations = 0;
  g_counting = true;
  for (int round = 0; round < 5; ++round) stream();
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace ondo::korean
