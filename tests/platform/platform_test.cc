// platform/: mapping, memory figures, CPU probe, thread pool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "platform/mapped_file.h"
#include "platform/sys_info.h"
#include "platform/thread_pool.h"

namespace ondo::platform {
namespace {

std::string TempPath(const char* name) {
  return std::string(::testing::TempDir()) + "/ondo_platform_" + name;
}

TEST(MappedFile, MapsContentsReadOnly) {
  std::string path = TempPath("map.bin");
  std::vector<char> bytes(10000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  std::unique_ptr<MappedFile> f;
  ASSERT_TRUE(MappedFile::Open(path, &f).ok());
  ASSERT_EQ(f->size(), bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(static_cast<char>(f->data()[i]), bytes[i]);
  f->Advise(3, 5000, Advice::kWillNeed);
  f->Advise(1 << 20, 10, Advice::kDontNeed);  // past the end: ignored
  std::remove(path.c_str());
}

TEST(MappedFile, MissingFileIsNotFound) {
  std::unique_ptr<MappedFile> f;
  Status s = MappedFile::Open("/nonexistent/ondo/file.gguf", &f);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/ondo/file.gguf"), std::string::npos);
  EXPECT_EQ(f, nullptr);
}

TEST(MappedFile, DirectoryIsRejected) {
  std::unique_ptr<MappedFile> f;
  EXPECT_FALSE(MappedFile::Open("/tmp", &f).ok());
}

TEST(MappedFile, EmptyFile) {
  std::string path = TempPath("empty.bin");
  std::ofstream(path, std::ios::binary).close();
  std::unique_ptr<MappedFile> f;
  ASSERT_TRUE(MappedFile::Open(path, &f).ok());
  EXPECT_EQ(f->size(), 0u);
  std::remove(path.c_str());
}

TEST(SysInfo, RssGrowsWithTouchedMemory) {
  uint64_t before = CurrentRssBytes();
  ASSERT_GT(before, 0u);
  std::vector<char> block(64 << 20);
  for (size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  uint64_t after = CurrentRssBytes();
  EXPECT_GE(after, before + (48u << 20));
  EXPECT_GE(PeakRssBytes(), after);
  volatile char sink = block[12345];
  (void)sink;
}

TEST(SysInfo, PhysicalMemoryAndPageSize) {
  EXPECT_GT(PhysicalMemoryBytes(), 64ull << 20);
  EXPECT_GE(PageSize(), 4096u);
  EXPECT_EQ(PageSize() & (PageSize() - 1), 0u);
}

TEST(SysInfo, CpuFeaturesAreConsistent) {
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx512f) {
    EXPECT_TRUE(f.avx2);
  }
  EXPECT_FALSE(f.ToString().empty());
}

// The x86 vendor and family (which pick tuned constants such as the Q8_0 decode prefetch
// distance) as the kernel reports them in /proc/cpuinfo ("vendor_id", "cpu family", decimal).
TEST(SysInfo, X86FamilyMatchesProcCpuinfo) {
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (!f.avx2) GTEST_SKIP() << "no AVX2 (or ONDO_CPU=scalar): the family is not probed";
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  std::string line, vendor;
  int family = -1;
  while (std::getline(in, line) && (vendor.empty() || family < 0)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon + 2 > line.size()) continue;
    const std::string value = line.substr(colon + 2);
    if (line.rfind("vendor_id", 0) == 0) vendor = value;
    if (line.rfind("cpu family", 0) == 0) family = std::stoi(value);
  }
  ASSERT_GE(family, 0) << "no 'cpu family' line";
  EXPECT_EQ(f.x86_family, family);
  EXPECT_EQ(f.amd, vendor == "AuthenticAMD") << vendor;
#else
  EXPECT_FALSE(GetCpuFeatures().amd);
  EXPECT_EQ(GetCpuFeatures().x86_family, 0);
#endif
}

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int round = 0; round < 50; ++round) {
      const int n = round * 7 + 1;
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> bad_thread{0};
      pool.ParallelFor(n, [&](int task, int thread) {
        hits[task].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads;
      ASSERT_EQ(bad_thread.load(), 0);
    }
  }
}

TEST(ThreadPool, ZeroTasksIsANoOp) {
  ThreadPool pool(2);
  int calls = 0;
  pool.ParallelFor(0, [&](int, int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

// ParallelThreads() inside a Run is the number of threads that run its tasks (min(size,
// tasks)), on the caller and on the workers alike, and 1 again once the Run is over.
TEST(ThreadPool, ParallelThreadsCountsTheThreadsOfTheRun) {
  EXPECT_EQ(ParallelThreads(), 1);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int n : {1, 2, 5}) {
      std::vector<int> seen(static_cast<size_t>(n), -1);
      pool.ParallelFor(n, [&](int task, int) { seen[task] = ParallelThreads(); });
      const int expected = std::min(threads, n);
      for (int i = 0; i < n; ++i) EXPECT_EQ(seen[i], expected) << threads << " threads, " << n;
      EXPECT_EQ(ParallelThreads(), 1);
    }
  }
}

// A Run of several threads inside a task of another pool's Run: the inner tasks see the inner
// count, and the outer task its own count again once the inner Run has returned.
TEST(ThreadPool, ParallelThreadsOfANestedRunIsRestored) {
  ThreadPool outer(2), inner(3);
  std::vector<int> before(2, -1), after(2, -1);
  int nested = -1;
  outer.ParallelFor(2, [&](int task, int) {
    before[task] = ParallelThreads();
    if (task == 0) {
      inner.ParallelFor(3, [&](int t, int) {
        if (t == 0) nested = ParallelThreads();
      });
    }
    after[task] = ParallelThreads();
  });
  EXPECT_EQ(nested, 3);
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(before[t], 2) << t;
    EXPECT_EQ(after[t], 2) << t;
  }
  EXPECT_EQ(ParallelThreads(), 1);
}

// Default thread count: on a fake sysfs tree in the kernel's layout (cpuN/cpu_capacity, the
// scaled capacity arm64 and some x86 hybrids expose), big.LITTLE counts the big cores only.
TEST(DefaultThreads, BigCoresOfAHeterogeneousCpu) {
  const std::string dir = ::testing::TempDir() + "ondo_fake_cpu_" + std::to_string(::getpid());
  auto write = [&](int cpu, const char* text) {
    std::filesystem::create_directories(dir + "/cpu" + std::to_string(cpu));
    std::ofstream(dir + "/cpu" + std::to_string(cpu) + "/cpu_capacity") << text;
  };
  // A Cortex-A76 x2 + A55 x4 board (RK3588S-like: 1024 for the big cores, 414 for the small).
  for (int c = 0; c < 4; ++c) write(c, "414\n");
  write(4, "1024\n");
  write(5, "1024\n");
  EXPECT_EQ(DefaultThreadCountFrom({0, 1, 2, 3, 4, 5}, dir), 2);
  // Only the small cores usable (affinity): they are all the same, so all of them.
  EXPECT_EQ(DefaultThreadCountFrom({0, 1, 2, 3}, dir), 4);
  // Homogeneous, and unknown capacities (x86 here has no such files): every usable CPU.
  EXPECT_EQ(DefaultThreadCountFrom({0, 1, 2, 3, 4, 5, 6}, dir), 7);  // cpu6 has no file
  EXPECT_EQ(DefaultThreadCountFrom({0, 1}, dir + "/nowhere"), 2);
  EXPECT_EQ(DefaultThreadCountFrom({}, dir), 1);
  std::filesystem::remove_all(dir);
  // This machine: at least one, at most the online CPUs.
  EXPECT_GE(DefaultThreadCount(), 1);
  EXPECT_LE(DefaultThreadCount(), static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
}

}  // namespace
}  // namespace ondo::platform
