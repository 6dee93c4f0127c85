// memory/budget: byte sizes, cgroup v1/v2 limit files, /proc/self/cgroup and mountinfo as the
// kernel writes them, the walk up a fake cgroup tree, the margin, and the real machine.
#include "memory/budget.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "platform/sys_info.h"

namespace ondo::memory {
namespace {

TEST(ParseByteSize, UnitsAndErrors) {
  uint64_t b = 0;
  ASSERT_TRUE(ParseByteSize("1048576", &b).ok());
  EXPECT_EQ(b, 1048576u);
  ASSERT_TRUE(ParseByteSize("1K", &b).ok());
  EXPECT_EQ(b, 1024u);
  ASSERT_TRUE(ParseByteSize("512m", &b).ok());
  EXPECT_EQ(b, 512ull << 20);
  ASSERT_TRUE(ParseByteSize("3G", &b).ok());
  EXPECT_EQ(b, 3ull << 30);
  ASSERT_TRUE(ParseByteSize("2GiB", &b).ok());
  EXPECT_EQ(b, 2ull << 30);
  ASSERT_TRUE(ParseByteSize("64MB", &b).ok());
  EXPECT_EQ(b, 64ull << 20);
  ASSERT_TRUE(ParseByteSize("1T", &b).ok());
  EXPECT_EQ(b, 1ull << 40);
  for (const char* bad : {"", "G", "-1K", "1.5G", "12X", "1 KB x", "99999999999999999999", "17179869184G"}) {
    Status s = ParseByteSize(bad, &b);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseCgroupLimit, V2AndV1Text) {
  uint64_t v = 1;
  // cgroup v2 memory.max: "max\n" or bytes.
  ASSERT_TRUE(ParseCgroupLimit("max\n", &v).ok());
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(ParseCgroupLimit("2147483648\n", &v).ok());
  EXPECT_EQ(v, 2147483648u);
  // cgroup v1 memory.limit_in_bytes: "no limit" is PAGE_COUNTER_MAX pages (4 KiB and 64 KiB).
  ASSERT_TRUE(ParseCgroupLimit("9223372036854771712\n", &v).ok());
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(ParseCgroupLimit("9223372036854710272\n", &v).ok());
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(ParseCgroupLimit("3221225472\n", &v).ok());
  EXPECT_EQ(v, 3221225472u);
  for (const char* bad : {"", "\n", "maxx", "-1", "12 34", "1e9"}) {
    EXPECT_EQ(ParseCgroupLimit(bad, &v).code(), StatusCode::kCorrupt) << bad;
  }
}

TEST(ParseProcCgroup, V2Only) {
  ProcCgroup g;
  ASSERT_TRUE(ParseProcCgroup("0::/user.slice/user-1000.slice/session-2.scope\n", &g).ok());
  EXPECT_TRUE(g.has_v2);
  EXPECT_EQ(g.v2_path, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_FALSE(g.has_v1_memory);
}

TEST(ParseProcCgroup, V1HybridWithCombinedControllers) {
  ProcCgroup g;
  const char* text =
      "12:pids:/docker/abc\n"
      "11:cpu,cpuacct:/docker/abc\n"
      "10:memory:/docker/abc\n"
      "1:name=systemd:/docker/abc\n"
      "0::/docker/abc\n";
  ASSERT_TRUE(ParseProcCgroup(text, &g).ok());
  EXPECT_TRUE(g.has_v1_memory);
  EXPECT_EQ(g.v1_memory_path, "/docker/abc");
  EXPECT_TRUE(g.has_v2);
  ASSERT_TRUE(ParseProcCgroup("4:blkio,memory:/a:b\n", &g).ok());  // ':' inside the path
  EXPECT_EQ(g.v1_memory_path, "/a:b");
  EXPECT_FALSE(g.has_v2);
  EXPECT_EQ(ParseProcCgroup("garbage\n", &g).code(), StatusCode::kCorrupt);
}

TEST(ParseMountInfo, V1AndV2Mounts) {
  const char* text =
      "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified\\040dir rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
  CgroupMounts m;
  ASSERT_TRUE(ParseMountInfo(text, &m).ok());
  EXPECT_EQ(m.v1_memory_mount, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m.v1_memory_root, "/docker/abc");
  EXPECT_EQ(m.v2_mount, "/sys/fs/cgroup/unified dir");
  EXPECT_EQ(m.v2_root, "/");
  EXPECT_EQ(ParseMountInfo("1 2 3:4 / /x rw\n", &m).code(), StatusCode::kCorrupt);
}

class FakeCgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ondo_budget_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    files_.proc_cgroup = (dir_ / "cgroup").string();
    files_.mountinfo = (dir_ / "mountinfo").string();
    files_.mount_prefix = (dir_ / "root").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    const std::filesystem::path p = dir_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::filesystem::path dir_;
  CgroupFiles files_;
};

TEST_F(FakeCgroupTree, V2TakesTheSmallestLimitUpToTheRoot) {
  Write("cgroup", "0::/a/b/c\n");
  Write("mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  Write("root/sys/fs/cgroup/a/memory.max", "1073741824\n");
  Write("root/sys/fs/cgroup/a/b/memory.max", "max\n");
  Write("root/sys/fs/cgroup/a/b/c/memory.max", "2147483648\n");
  CgroupLimit l = ReadCgroupLimit(files_);
  EXPECT_EQ(l.bytes, 1073741824u);
  EXPECT_EQ(l.source, BudgetSource::kCgroupV2);
  EXPECT_EQ(l.file, files_.mount_prefix + "/sys/fs/cgroup/a/memory.max");
}

TEST_F(FakeCgroupTree, V2NoLimitAnywhere) {
  Write("cgroup", "0::/a\n");
  Write("mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  Write("root/sys/fs/cgroup/a/memory.max", "max\n");
  EXPECT_EQ(ReadCgroupLimit(files_).bytes, 0u);
}

TEST_F(FakeCgroupTree, V1ContainerSeesOnlyItsGroupAtTheMount) {
  // Inside a container the mount's root is the container's group: /proc/self/cgroup names
  // the full path, the files are at the mount point itself.
  Write("cgroup", "4:memory:/docker/abc\n0::/\n");
  Write("mountinfo",
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  Write("root/sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
  CgroupLimit l = ReadCgroupLimit(files_);
  EXPECT_EQ(l.bytes, 536870912u);
  EXPECT_EQ(l.source, BudgetSource::kCgroupV1);
}

TEST_F(FakeCgroupTree, V1UnlimitedValueIsNoLimit) {
  Write("cgroup", "4:memory:/x\n");
  Write("mountinfo", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  Write("root/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  Write("root/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(ReadCgroupLimit(files_).bytes, 0u);
}

TEST_F(FakeCgroupTree, MissingFilesAreNoLimit) {
  EXPECT_EQ(ReadCgroupLimit(files_).bytes, 0u);
}

TEST(Budget, MarginAndSources) {
  EXPECT_EQ(BudgetMargin(0), 64ull << 20);
  EXPECT_EQ(BudgetMargin(2000ull << 20), (64ull << 20) + (100ull << 20));
  Budget b = BudgetFromLimits(2000ull << 20, BudgetSource::kCgroupV2, "/x/memory.max", 8ull << 30);
  EXPECT_EQ(b.source, BudgetSource::kCgroupV2);
  EXPECT_EQ(b.limit_bytes, 2000ull << 20);
  EXPECT_EQ(b.bytes, (2000ull - 164) << 20);
  EXPECT_NE(b.Describe().find("/x/memory.max"), std::string::npos) << b.Describe();
  // A cgroup limit above physical RAM: RAM is the real bound.
  b = BudgetFromLimits(64ull << 30, BudgetSource::kCgroupV1, "/y", 4ull << 30);
  EXPECT_EQ(b.source, BudgetSource::kPhysicalRam);
  EXPECT_EQ(b.limit_bytes, 4ull << 30);
  b = BudgetFromLimits(0, BudgetSource::kNone, "", 4ull << 30);
  EXPECT_EQ(b.source, BudgetSource::kPhysicalRam);
  EXPECT_TRUE(b.enforced());
  // A limit below the margin leaves nothing, but stays enforced.
  b = BudgetFromLimits(16ull << 20, BudgetSource::kCgroupV2, "/z", 4ull << 30);
  EXPECT_EQ(b.bytes, 0u);
  EXPECT_TRUE(b.enforced());
  EXPECT_FALSE(BudgetFromLimits(0, BudgetSource::kNone, "", 0).enforced());
  b = GivenBudget(1024);
  EXPECT_EQ(b.bytes, 1024u);
  EXPECT_EQ(b.source, BudgetSource::kGiven);
  EXPECT_FALSE(Budget().enforced());
}

// This machine's /proc and /sys: passes with or without a limit.
TEST(Budget, RealMachine) {
  const CgroupLimit l = ReadCgroupLimit();
  const uint64_t ram = platform::PhysicalMemoryBytes();
  const Budget b = DefaultBudget();
  ASSERT_TRUE(b.enforced());
  if (l.bytes != 0 && l.bytes <= ram) {
    EXPECT_TRUE(b.source == BudgetSource::kCgroupV1 || b.source == BudgetSource::kCgroupV2);
    EXPECT_EQ(b.limit_bytes, l.bytes);
    EXPECT_TRUE(std::filesystem::exists(b.file)) << b.file;
  } else {
    EXPECT_EQ(b.source, BudgetSource::kPhysicalRam);
    EXPECT_EQ(b.limit_bytes, ram);
  }
  EXPECT_LT(b.bytes, b.limit_bytes);
  std::printf("default budget: %llu bytes, %s\n", static_cast<unsigned long long>(b.bytes), b.Describe().c_str());
}

}  // namespace
}  // namespace ondo::memory
