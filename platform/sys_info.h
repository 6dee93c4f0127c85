// Process memory figures, cgroup limit, CPU features and a monotonic clock.
#pragma once

#include <cstdint>
#include <string>

namespace ondo::platform {

// Resident set size of this process now and at its peak, in bytes (0 if unknown).
uint64_t CurrentRssBytes();
uint64_t PeakRssBytes();
// Physical RAM in bytes.
uint64_t PhysicalMemoryBytes();
// (The cgroup memory limit: memory/budget.h, which walks the cgroup tree.)

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
  std::string ToString() const;
};
// Probed once (cpuid on x86); cheap to call.
const CpuFeatures& GetCpuFeatures();

// Monotonic nanoseconds.
uint64_t NowNs();

// Whether standard error is a terminal (progress bars redraw in place only there).
bool StderrIsTerminal();

}  // namespace ondo::platform
