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

#include "tests/count_allocations.h"

using ondo::alloc_count::g_allocations;
using ondo::alloc_count::g_counting;

namespace ondo::korean {
namespace {

void ExpectNoAllocationPerChunk(const PostOptions& options) {
  std::unique_ptr<Analyzer> analyzer;
  ASSERT_TRUE(Analyzer::Create(&analyzer).ok());
  std::unique_ptr<PostProcessor> pp;
  ASSERT_TRUE(PostProcessor::Create(analyzer.get(), options, &pp).ok());
  const std::string text =
      "안녕하세요 . 저는 LLM가 아닙니다!!! 사과을 먹고 서울으로 갔어요. 좋아요 좋아요 좋아요 "
      "좋아요. 정말?!?! \"책\"를 읽었다. ㅋㅋㅋㅋㅋㅋ 3로 나누면 (1을 더하고) 끝.\n"
      "허리가 아파서, 허리가 아파서, 병원에 갔다. 병원에 갔다. 방식로 한다. 귀이 잘 들린다. "
      "요구할 때이 왔다. ";
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

TEST(PostAllocations, NoAllocationPerChunkAfterWarmUp) { ExpectNoAllocationPerChunk(PostOptions{}); }

// The same with spacing restoration on (its working buffers are warm after the first text).
TEST(PostAllocations, NoAllocationPerChunkWithSpacing) {
  PostOptions o;
  o.spacing = true;
  ExpectNoAllocationPerChunk(o);
}

}  // namespace
}  // namespace ondo::korean
