// Memory budget: the bytes a session may use, either given (--mem-budget, C API budget_bytes)
// or detected (the cgroup memory limit, else physical RAM, minus a margin), and the parsers of
// the kernel files the detection reads. Parsing is kept apart from reading so that the parsers
// are tested on the exact text the kernel writes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "platform/status.h"

namespace ondo::memory {

enum class BudgetSource {
  kNone,         // no budget: nothing is enforced
  kGiven,        // set by the caller (--mem-budget, budget_bytes)
  kCgroupV2,     // detected: memory.max of this process's cgroup (v2), minus the margin
  kCgroupV1,     // detected: memory.limit_in_bytes of the memory cgroup (v1), minus the margin
  kPhysicalRam,  // detected: physical RAM, minus the margin
};
const char* BudgetSourceName(BudgetSource source);

struct Budget {
  uint64_t bytes = 0;  // what a session may use; meaningful unless source is kNone
  BudgetSource source = BudgetSource::kNone;
  uint64_t limit_bytes = 0;  // detected: the limit before the margin; given: == bytes
  std::string file;          // cgroup sources: the file that held the (smallest) limit

  bool enforced() const { return source != BudgetSource::kNone; }
  // Where the figure came from, e.g. "cgroup v2 limit 2.00 GiB in /sys/fs/cgroup/a/memory.max
  // minus margin 166.40 MiB" or "--mem-budget / budget_bytes".
  std::string Describe() const;
};

// A budget set by the caller.
Budget GivenBudget(uint64_t bytes);

// Kept free below a detected limit: 64 MiB + 5% of the limit, for what the plan does not
// count (code, tokenizer and analyzer tables, allocator slack, thread stacks, the kernel's
// own charges to the cgroup such as page tables).
inline constexpr uint64_t kBudgetMarginFixedBytes = 64ull << 20;
inline constexpr uint64_t kBudgetMarginPercent = 5;
uint64_t BudgetMargin(uint64_t limit_bytes);

// The default budget from the figures the machine reports: the smaller of the cgroup limit
// (cgroup_limit_bytes, 0 = none) and physical RAM, minus BudgetMargin. With neither known
// (both 0) there is no budget (kNone).
Budget BudgetFromLimits(uint64_t cgroup_limit_bytes, BudgetSource cgroup_source,
                        std::string cgroup_file, uint64_t physical_bytes);

// Reads this machine's cgroup limit and physical RAM (see ReadCgroupLimit) once per call.
Budget DefaultBudget();

// "1048576", "512K", "64M", "3G", "1T" (binary multiples; "KiB", "KB", "k" are accepted the
// same). InvalidArgument on anything else or on overflow.
Status ParseByteSize(std::string_view text, uint64_t* bytes);

// "123.4 MiB": for messages.
std::string FormatBytes(uint64_t bytes);

// ---- cgroup files -------------------------------------------------------------------------

// The content of memory.max (v2: a decimal number or "max") or memory.limit_in_bytes (v1: a
// decimal number, where "no limit" is PAGE_COUNTER_MAX pages, 9223372036854771712 on x86-64
// with 4 KiB pages), with or without the trailing newline. *limit_bytes = 0 for no limit
// (any value >= 2^62 counts as none). Corrupt on anything else.
Status ParseCgroupLimit(std::string_view text, uint64_t* limit_bytes);

// /proc/self/cgroup: lines "hierarchy-ID:controller-list:path". v2 is the line "0::PATH";
// v1's memory controller is the line whose comma-separated controller list has "memory".
struct ProcCgroup {
  bool has_v2 = false;
  std::string v2_path;
  bool has_v1_memory = false;
  std::string v1_memory_path;
};
Status ParseProcCgroup(std::string_view text, ProcCgroup* out);

// /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE
// SUPEROPTS". Finds the first cgroup2 mount and the first v1 cgroup mount whose super options
// include "memory"; ROOT is the cgroup path seen at the mount point (not "/" inside a
// container that mounts only its own group). Octal escapes (\040) are decoded.
struct CgroupMounts {
  std::string v2_mount, v2_root;
  std::string v1_memory_mount, v1_memory_root;
};
Status ParseMountInfo(std::string_view text, CgroupMounts* out);

// Where the detection reads from; tests point these at a fake tree.
struct CgroupFiles {
  std::string proc_cgroup = "/proc/self/cgroup";
  std::string mountinfo = "/proc/self/mountinfo";
  std::string mount_prefix;  // prepended to the mount points found in mountinfo
};
// This process's cgroup folders and the mounts they are under: the v2 group and the v1
// memory group (empty strings when absent).
struct CgroupDirs {
  std::string v2, v2_mount;
  std::string v1_memory, v1_memory_mount;
};
CgroupDirs OwnCgroupDirs(const CgroupFiles& files = CgroupFiles());
struct CgroupLimit {
  uint64_t bytes = 0;  // 0: no limit found
  BudgetSource source = BudgetSource::kNone;
  std::string file;
};
// The smallest limit over this process's cgroup and every ancestor up to the mount's root,
// for v2 (memory.max) and v1 (memory.limit_in_bytes) both. A missing or unreadable file is
// skipped (not an error: the machine may have no cgroups at all).
CgroupLimit ReadCgroupLimit(const CgroupFiles& files = CgroupFiles());

}  // namespace ondo::memory
