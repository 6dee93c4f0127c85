// Budget detection: parsers of the cgroup and mount files, the walk up the cgroup tree, and
// the margin. Files are read with the standard library; physical RAM comes from platform/.
#include "memory/budget.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <cctype>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "platform/fields.h"
#include "platform/sys_info.h"

namespace ondo::memory {
namespace {

// Anything at or above this is "no limit" (v1 writes PAGE_COUNTER_MAX * page size, which
// depends on the page size; real limits are far below).
constexpr uint64_t kNoLimitThreshold = 1ull << 62;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Decimal digits only, no sign; false on overflow or when empty.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *v = x;
  return true;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// The directory of `cgroup_path` under a mount of the hierarchy whose root is `root`: inside
// a container the mount shows only the container's group, so its own path is stripped.
std::string GroupDir(const std::string& mount, const std::string& root, const std::string& cgroup_path) {
  std::string rel = cgroup_path;
  if (root != "/" && (rel == root || rel.rfind(root + "/", 0) == 0)) rel = rel.substr(root.size());
  // A group outside our namespace shows as "/../x": only the mount itself is ours to read.
  if (rel.find("/..") != std::string::npos) rel.clear();
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  return mount + rel;
}

// Reads `file_name` in `dir` and each parent up to `mount`; keeps the smallest limit.
void WalkUp(std::string dir, const std::string& mount, const char* file_name, BudgetSource source,
            CgroupLimit* best) {
  while (true) {
    const std::string path = dir + "/" + file_name;
    std::string text;
    uint64_t limit = 0;
    if (ReadWholeFile(path, &text) && ParseCgroupLimit(text, &limit).ok() && limit != 0 &&
        (best->bytes == 0 || limit < best->bytes)) {
      best->bytes = limit;
      best->source = source;
      best->file = path;
    }
    if (dir.size() <= mount.size()) return;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos || slash < mount.size()) return;
    dir.resize(slash);
  }
}

}  // namespace

const char* BudgetSourceName(BudgetSource source) {
  switch (source) {
    case BudgetSource::kNone: return "none";
    case BudgetSource::kGiven: return "given";
    case BudgetSource::kCgroupV2: return "cgroup v2";
    case BudgetSource::kCgroupV1: return "cgroup v1";
    case BudgetSource::kPhysicalRam: return "physical RAM";
  }
  return "?";
}

std::string Budget::Describe() const {
  switch (source) {
    case BudgetSource::kNone: return "no budget";
    case BudgetSource::kGiven: return "given (--mem-budget / budget_bytes)";
    case BudgetSource::kCgroupV2:
    case BudgetSource::kCgroupV1:
      return fmt::format("{} limit {} in {} minus margin {}", BudgetSourceName(source),
                         FormatBytes(limit_bytes), file, FormatBytes(BudgetMargin(limit_bytes)));
    case BudgetSource::kPhysicalRam:
      return fmt::format("physical RAM {} minus margin {} (no cgroup limit)", FormatBytes(limit_bytes),
                         FormatBytes(BudgetMargin(limit_bytes)));
  }
  return "?";
}

Budget GivenBudget(uint64_t bytes) {
  Budget b;
  b.bytes = bytes;
  b.limit_bytes = bytes;
  b.source = BudgetSource::kGiven;
  return b;
}

uint64_t BudgetMargin(uint64_t limit_bytes) {
  return kBudgetMarginFixedBytes + limit_bytes / 100 * kBudgetMarginPercent;
}

Budget BudgetFromLimits(uint64_t cgroup_limit_bytes, BudgetSource cgroup_source, std::string cgroup_file,
                        uint64_t physical_bytes) {
  Budget b;
  if (cgroup_limit_bytes != 0 && (physical_bytes == 0 || cgroup_limit_bytes <= physical_bytes)) {
    b.limit_bytes = cgroup_limit_bytes;
    b.source = cgroup_source;
    b.file = std::move(cgroup_file);
  } else if (physical_bytes != 0) {
    b.limit_bytes = physical_bytes;
    b.source = BudgetSource::kPhysicalRam;
  } else {
    return b;  // nothing known: no budget
  }
  const uint64_t margin = BudgetMargin(b.limit_bytes);
  b.bytes = b.limit_bytes > margin ? b.limit_bytes - margin : 0;
  return b;
}

Budget DefaultBudget() {
  CgroupLimit cg = ReadCgroupLimit();
  return BudgetFromLimits(cg.bytes, cg.source, std::move(cg.file), platform::PhysicalMemoryBytes());
}

Status ParseByteSize(std::string_view text, uint64_t* bytes) {
  std::string_view s = Trim(text);
  size_t n_digits = 0;
  while (n_digits < s.size() && s[n_digits] >= '0' && s[n_digits] <= '9') ++n_digits;
  uint64_t v = 0;
  if (!ParseU64(s.substr(0, n_digits), &v)) {
    return InvalidArgument("'{}' is not a byte count (a whole number with an optional K, M, G or T)", text);
  }
  std::string unit(s.substr(n_digits));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  for (const auto& [prefix, sh] : {std::pair<char, int>{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}}) {
    const std::string p(1, prefix);
    if (unit == p || unit == p + "B" || unit == p + "IB") shift = sh;
  }
  if (shift < 0) {
    return InvalidArgument("'{}' has an unknown unit '{}' (use K, M, G or T)", text, s.substr(n_digits));
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return InvalidArgument("'{}' is too large", text);
  *bytes = v << shift;
  return Status::Ok();
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.2f} {}", v, kUnits[u]);
}

Status ParseCgroupLimit(std::string_view text, uint64_t* limit_bytes) {
  const std::string_view s = Trim(text);
  if (s == "max") {
    *limit_bytes = 0;
    return Status::Ok();
  }
  uint64_t v = 0;
  if (!ParseU64(s, &v)) return Corrupt("cgroup memory limit '{}' is neither a number nor \"max\"", s);
  *limit_bytes = v >= kNoLimitThreshold ? 0 : v;
  return Status::Ok();
}

Status ParseProcCgroup(std::string_view text, ProcCgroup* out) {
  *out = ProcCgroup();
  for (std::string_view line : platform::SplitFields(text, '\n')) {
    if (line.empty()) continue;
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return Corrupt("/proc/self/cgroup line '{}' has fewer than 3 fields", line);
    const std::string_view id = line.substr(0, c1);
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view path = line.substr(c2 + 1);  // may itself contain ':'
    if (id == "0" && controllers.empty()) {
      out->has_v2 = true;
      out->v2_path = std::string(path);
      continue;
    }
    for (std::string_view c : platform::SplitFields(controllers, ',')) {
      if (c == "memory") {
        out->has_v1_memory = true;
        out->v1_memory_path = std::string(path);
      }
    }
  }
  return Status::Ok();
}

Status ParseMountInfo(std::string_view text, CgroupMounts* out) {
  *out = CgroupMounts();
  bool have_v2 = false, have_v1 = false;
  for (std::string_view line : platform::SplitFields(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string_view> f;
    for (std::string_view x : platform::SplitFields(line, ' ')) {
      if (!x.empty()) f.push_back(x);
    }
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 2 >= f.size()) return Corrupt("mountinfo line '{}' has no '- FSTYPE SOURCE' part", line);
    const std::string_view fstype = f[dash + 1];
    const std::string_view super_opts = dash + 3 < f.size() ? f[dash + 3] : std::string_view();
    if (fstype == "cgroup2" && !have_v2) {
      have_v2 = true;
      out->v2_root = Unescape(f[3]);
      out->v2_mount = Unescape(f[4]);
    } else if (fstype == "cgroup" && !have_v1) {
      for (std::string_view o : platform::SplitFields(super_opts, ',')) {
        if (o == "memory") {
          have_v1 = true;
          out->v1_memory_root = Unescape(f[3]);
          out->v1_memory_mount = Unescape(f[4]);
        }
      }
    }
  }
  return Status::Ok();
}

CgroupDirs OwnCgroupDirs(const CgroupFiles& files) {
  CgroupDirs dirs;
  std::string cgroup_text, mount_text;
  if (!ReadWholeFile(files.proc_cgroup, &cgroup_text) || !ReadWholeFile(files.mountinfo, &mount_text)) {
    return dirs;
  }
  ProcCgroup groups;
  CgroupMounts mounts;
  if (!ParseProcCgroup(cgroup_text, &groups).ok() || !ParseMountInfo(mount_text, &mounts).ok()) return dirs;
  if (groups.has_v2 && !mounts.v2_mount.empty()) {
    dirs.v2_mount = files.mount_prefix + mounts.v2_mount;
    dirs.v2 = GroupDir(dirs.v2_mount, mounts.v2_root, groups.v2_path);
  }
  if (groups.has_v1_memory && !mounts.v1_memory_mount.empty()) {
    dirs.v1_memory_mount = files.mount_prefix + mounts.v1_memory_mount;
    dirs.v1_memory = GroupDir(dirs.v1_memory_mount, mounts.v1_memory_root, groups.v1_memory_path);
  }
  return dirs;
}

CgroupLimit ReadCgroupLimit(const CgroupFiles& files) {
  CgroupLimit best;
  const CgroupDirs dirs = OwnCgroupDirs(files);
  if (!dirs.v2.empty()) WalkUp(dirs.v2, dirs.v2_mount, "memory.max", BudgetSource::kCgroupV2, &best);
  if (!dirs.v1_memory.empty()) {
    WalkUp(dirs.v1_memory, dirs.v1_memory_mount, "memory.limit_in_bytes", BudgetSource::kCgroupV1, &best);
  }
  return best;
}

}  // namespace ondo::memory
