// Linux implementations of sys_info.h.
#include "platform/sys_info.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace ondo::platform {
namespace {

// Reads "Key:   123 kB" from /proc/self/status.
uint64_t ProcStatusKb(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  size_t key_len = std::strlen(key);
  uint64_t kb = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
      kb = std::strtoull(line + key_len + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb;
}

}  // namespace

uint64_t CurrentRssBytes() { return ProcStatusKb("VmRSS") * 1024; }

uint64_t PeakRssBytes() {
  uint64_t kb = ProcStatusKb("VmHWM");
  if (kb == 0) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) kb = static_cast<uint64_t>(ru.ru_maxrss);
  }
  return kb * 1024;
}

uint64_t PhysicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

int DefaultThreadCountFrom(const std::vector<int>& cpus, const std::string& sysfs_cpu_dir) {
  if (cpus.empty()) return 1;
  std::vector<long> capacity;
  for (int cpu : cpus) {
    const std::string path = sysfs_cpu_dir + "/cpu" + std::to_string(cpu) + "/cpu_capacity";
    std::FILE* f = std::fopen(path.c_str(), "r");
    long c = -1;
    if (f != nullptr) {
      if (std::fscanf(f, "%ld", &c) != 1) c = -1;
      std::fclose(f);
    }
    if (c <= 0) return static_cast<int>(cpus.size());  // unknown: treat as homogeneous
    capacity.push_back(c);
  }
  const long big = *std::max_element(capacity.begin(), capacity.end());
  return static_cast<int>(std::count(capacity.begin(), capacity.end(), big));
}

int DefaultThreadCount() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  if (cpus.empty()) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < (n > 0 ? n : 1); ++i) cpus.push_back(static_cast<int>(i));
  }
  return std::max(1, DefaultThreadCountFrom(cpus, "/sys/devices/system/cpu"));
}

std::string CpuFeatures::ToString() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avxvnni, "avxvnni");
  add(neon, "neon");
  add(dotprod, "dotprod");
  return s.empty() ? std::string("scalar") : s;
}

namespace {

CpuFeatures Probe() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  // "AuthenticAMD" in ebx, edx, ecx.
  const bool amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const int base_family = static_cast<int>((a >> 8) & 0xF);
  const int family = base_family == 0xF ? base_family + static_cast<int>((a >> 20) & 0xFF) : base_family;
  const bool osxsave = (c >> 27) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  const bool avx = (c >> 28) & 1;
  if (!osxsave || !avx) return CpuFeatures{};
  // XCR0: the OS must save YMM (bits 1,2) and, for AVX-512, opmask/ZMM (bits 5,6,7).
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_ok = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_ok = (xcr0_lo & 0xe6) == 0xe6;
  if (!ymm_ok) return CpuFeatures{};
  f.amd = amd;
  f.x86_family = family;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = (b >> 5) & 1;
    if (zmm_ok) {
      f.avx512f = (b >> 16) & 1;
      f.avx512bw = (b >> 30) & 1;
      f.avx512vl = (b >> 31) & 1;
      f.avx512vnni = (c >> 11) & 1;
    }
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.avxvnni = (a >> 4) & 1;
    if (zmm_ok) f.avx512bf16 = (a >> 5) & 1;
  }
  // Allow forcing the scalar/AVX2 paths for testing: ONDO_CPU=scalar|avx2.
  if (const char* force = std::getenv("ONDO_CPU")) {
    if (std::strcmp(force, "scalar") == 0) return CpuFeatures{};
    if (std::strcmp(force, "avx2") == 0) {
      f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
    }
  }
#elif defined(__aarch64__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = (hwcap & HWCAP_ASIMD) != 0;
  f.dotprod = f.neon && (hwcap & HWCAP_ASIMDDP) != 0;
  if (const char* force = std::getenv("ONDO_CPU")) {
    if (std::strcmp(force, "scalar") == 0) return CpuFeatures{};
    if (std::strcmp(force, "neon") == 0) f.dotprod = false;
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Probe();
  return features;
}

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace ondo::platform
