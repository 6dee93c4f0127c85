// Process memory figures, cgroup limit, CPU features and a monotonic clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ondo::platform {

// Resident set size of this process now and at its peak, in bytes (0 if unknown).
uint64_t CurrentRssBytes();
uint64_t PeakRssBytes();
// Physical RAM in bytes.
uint64_t PhysicalMemoryBytes();
// (The cgroup memory limit: memory/budget.h, which walks the cgroup tree.)

// Worker threads to use by default: the CPUs this process may run on (its affinity mask,
// which containers and taskset narrow); on a heterogeneous CPU (big.LITTLE: the cores'
// /sys/devices/system/cpu/cpuN/cpu_capacity differ) only those of the highest capacity, since
// a parallel step waits for its slowest thread and the small cores would hold the big ones
// back. At least 1.
int DefaultThreadCount();
// The same from given figures (tests): `cpus` are the usable CPU numbers, `sysfs_cpu_dir` the
// folder holding cpuN/cpu_capacity. Missing or unreadable capacities count as homogeneous.
int DefaultThreadCountFrom(const std::vector<int>& cpus, const std::string& sysfs_cpu_dir);

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  // aarch64 (getauxval(AT_HWCAP)): Advanced SIMD is part of the base architecture; the
  // dot-product extension (ARMv8.2 sdot/udot, HWCAP_ASIMDDP) is optional (absent on
  // Cortex-A53/A55 r0/A72 class cores: Raspberry Pi 3/4).
  bool neon = false;
  bool dotprod = false;
  // x86: the vendor and the family (cpuid leaf 1, extended family added when the base family is
  // 0xF: AMD 0x19 Zen 3/4, 0x1A Zen 5), for microarchitecture-tuned constants such as prefetch
  // distances; 0 elsewhere.
  bool amd = false;
  int x86_family = 0;
  std::string ToString() const;
};
// Probed once (cpuid on x86, the auxiliary vector on aarch64); cheap to call. ONDO_CPU forces a
// lower set for tests: scalar|avx2 on x86, scalar|neon on aarch64.
const CpuFeatures& GetCpuFeatures();

// Monotonic nanoseconds.
uint64_t NowNs();

// Whether standard error is a terminal (progress bars redraw in place only there).
bool StderrIsTerminal();

}  // namespace ondo::platform
