#include "platform/read_bandwidth.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "platform/sys_info.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ondo::platform {
namespace {

// Eight independent accumulators; compilers vectorise the loop with the baseline ISA.
uint64_t SumWordsPortable(const uint8_t* p, size_t bytes) {
  uint64_t s[8] = {};
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    for (int k = 0; k < 8; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * static_cast<size_t>(k), 8);
      s[k] += w;
    }
  }
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    s[0] += w;
  }
  for (; i < bytes; ++i) s[0] += p[i];
  uint64_t total = 0;
  for (uint64_t v : s) total += v;
  return total;
}

#if defined(__x86_64__)
// Four 32-byte loads per iteration into four accumulators: on the Zen 4 machines here it reads
// ~5-10% faster than the SSE2 code of the portable loop.
__attribute__((target("avx2"))) uint64_t SumWordsAvx2(const uint8_t* p, size_t bytes) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  uint64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + SumWordsPortable(p + i, bytes - i);
}
#endif

using SumFn = uint64_t (*)(const uint8_t*, size_t);

SumFn ChooseSum() {
#if defined(__x86_64__)
  if (GetCpuFeatures().avx2) return SumWordsAvx2;
#endif
  return SumWordsPortable;
}

}  // namespace

uint64_t SumWords(const void* p, size_t bytes) {
  static const SumFn sum = ChooseSum();
  return sum(static_cast<const uint8_t*>(p), bytes);
}

double TimedParallelRead(ThreadPool& pool, std::span<const ByteRange> ranges, uint64_t* checksum) {
  uint64_t total = 0;
  for (const ByteRange& r : ranges) total += r.bytes;
  // Many more pieces than threads, taken as the threads come: a worker that wakes late does
  // not leave its whole share to the others (which would understate the bandwidth).
  const int n = pool.size() * 16;
  std::atomic<uint64_t> sum{0};
  std::atomic<uint64_t> end_ns{0};
  const uint64_t start_ns = NowNs();
  pool.ParallelFor(n, [&](int t, int) {
    // Piece t: the bytes [lo, hi) of the concatenated ranges.
    const uint64_t lo = total * static_cast<uint64_t>(t) / static_cast<uint64_t>(n) / 64 * 64;
    const uint64_t hi =
        t + 1 == n ? total : total * static_cast<uint64_t>(t + 1) / static_cast<uint64_t>(n) / 64 * 64;
    uint64_t s = 0, off = 0;
    for (const ByteRange& r : ranges) {
      const uint64_t a = std::max(lo, off), b = std::min(hi, off + r.bytes);
      if (a < b) s += SumWords(static_cast<const uint8_t*>(r.data) + (a - off), b - a);
      off += r.bytes;
    }
    sum.fetch_add(s, std::memory_order_relaxed);
    const uint64_t now = NowNs();
    uint64_t prev = end_ns.load(std::memory_order_relaxed);
    while (now > prev && !end_ns.compare_exchange_weak(prev, now, std::memory_order_relaxed)) {
    }
  });
  if (checksum != nullptr) *checksum = sum.load();
  return static_cast<double>(end_ns.load() - start_ns) * 1e-9;
}

}  // namespace ondo::platform
