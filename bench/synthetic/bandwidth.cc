// bench_bandwidth: the machine's memory read bandwidth, the roofline of a decode step (which
// reads every weight once per token). Sums a buffer far larger than the caches (1 GiB) with
// 1..N threads, each thread summing its own contiguous slice, and reports the median (and the
// best) of several passes after a discarded warm-up pass. On a virtual machine the figure
// also depends on the neighbours: run_peers.sh measures it again before every benchmark.
//   bench_bandwidth [-t N] [--mib M] [--passes P] [--json]
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "platform/read_bandwidth.h"
#include "platform/sys_info.h"

namespace {

struct Pass {
  double seconds;
  uint64_t checksum;
};

// One pass with `n_threads` threads over `n` words. The time runs from the moment every
// thread is ready (spin barrier) to the moment the last one finishes.
Pass RunPass(const uint64_t* buf, size_t n, int n_threads) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
  std::vector<uint64_t> end_ns(static_cast<size_t>(n_threads));
  std::vector<std::thread> threads;
  uint64_t start_ns = 0;
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&, t] {
      const size_t a = n * static_cast<size_t>(t) / static_cast<size_t>(n_threads);
      const size_t b = n * static_cast<size_t>(t + 1) / static_cast<size_t>(n_threads);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      sums[static_cast<size_t>(t)] = ondo::platform::SumWords(buf + a, (b - a) * sizeof(uint64_t));
      end_ns[static_cast<size_t>(t)] = ondo::platform::NowNs();
    });
  }
  while (ready.load() != n_threads) {
  }
  start_ns = ondo::platform::NowNs();
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  Pass p{(*std::max_element(end_ns.begin(), end_ns.end()) - start_ns) / 1e9, 0};
  for (uint64_t s : sums) p.checksum += s;
  return p;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int max_threads = 2, passes = 15;
  long mib = 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    if (f == "--json") {
      json = true;
    } else if ((f == "-t" || f == "--threads" || f == "--mib" || f == "--passes") && i + 1 < argc) {
      const long v = std::strtol(argv[++i], nullptr, 10);
      if (v < 1 || v > (f == "--mib" ? 65536 : 256)) {
        std::fprintf(stderr, "bench_bandwidth: error: %s %s is out of range\n", f.c_str(), argv[i]);
        return 2;
      }
      if (f == "--mib") mib = v;
      else if (f == "--passes") passes = static_cast<int>(v);
      else max_threads = static_cast<int>(v);
    } else {
      std::fprintf(stderr,
                   "usage: bench_bandwidth [-t N] [--mib M] [--passes P] [--json]\n"
                   "  -t N        measure with 1..N threads (default 2)\n"
                   "  --mib M     buffer size in MiB (default 1024: far larger than any cache)\n"
                   "  --passes P  timed passes per thread count, median reported (default 15)\n");
      return f == "-h" || f == "--help" ? 0 : 2;
    }
  }
  const size_t bytes = static_cast<size_t>(mib) << 20;
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new (std::align_val_t(64)) uint64_t[n]);
  {
    // Touch every page from the thread that will read it most (first touch), so no page fault
    // is timed.
    std::vector<std::thread> th;
    for (int t = 0; t < max_threads; ++t) {
      th.emplace_back([&, t] {
        const size_t a = n * static_cast<size_t>(t) / static_cast<size_t>(max_threads);
        const size_t b = n * static_cast<size_t>(t + 1) / static_cast<size_t>(max_threads);
        for (size_t i = a; i < b; ++i) buf[i] = i;
      });
    }
    for (auto& x : th) x.join();
  }
  const uint64_t expect = static_cast<uint64_t>(n) * (n - 1) / 2;
  std::vector<double> gbs(static_cast<size_t>(max_threads) + 1), best(gbs.size());
  for (int t = 1; t <= max_threads; ++t) {
    std::vector<double> rates;
    for (int p = 0; p <= passes; ++p) {
      const Pass r = RunPass(buf.get(), n, t);
      if (r.checksum != expect) {
        std::fprintf(stderr, "bench_bandwidth: error: checksum %llu, expected %llu\n",
                     static_cast<unsigned long long>(r.checksum), static_cast<unsigned long long>(expect));
        return 1;
      }
      if (p > 0) rates.push_back(static_cast<double>(bytes) / r.seconds / 1e9);  // p 0: warm-up
    }
    gbs[static_cast<size_t>(t)] = Median(rates);
    best[static_cast<size_t>(t)] = *std::max_element(rates.begin(), rates.end());
  }
  if (json) {
    std::printf("{\"buffer_bytes\":%zu,\"passes\":%d,\"loads\":\"%s\",\"gb_per_s\":{", bytes,
                passes, ondo::platform::GetCpuFeatures().avx2 ? "avx2" : "vectorised");
    for (int t = 1; t <= max_threads; ++t) {
      std::printf("%s\"%d\":%.2f", t > 1 ? "," : "", t, gbs[static_cast<size_t>(t)]);
    }
    std::printf("},\"best_gb_per_s\":{");
    for (int t = 1; t <= max_threads; ++t) {
      std::printf("%s\"%d\":%.2f", t > 1 ? "," : "", t, best[static_cast<size_t>(t)]);
    }
    std::printf("}}\n");
  } else {
    std::printf("read bandwidth: %ld MiB buffer, median of %d passes, %s loads, cpu %s\n", mib,
                passes, ondo::platform::GetCpuFeatures().avx2 ? "AVX2" : "compiler-vectorised",
                ondo::platform::GetCpuFeatures().ToString().c_str());
    for (int t = 1; t <= max_threads; ++t) {
      std::printf("  %d thread%s  %6.2f GB/s  (best pass %.2f)\n", t, t > 1 ? "s" : " ",
                  gbs[static_cast<size_t>(t)], best[static_cast<size_t>(t)]);
    }
  }
  return 0;
}
