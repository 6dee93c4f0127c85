// Memory read bandwidth, measured the way a decode step reads its weights: the roofline probe
// of `ondo bench --roofline` (on the model's own mapped weights) and of bench_bandwidth (on a
// large buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/thread_pool.h"

namespace ondo::platform {

// The sum of the 8-byte words at p (bytes / 8 of them; a shorter tail is added byte by byte),
// read with the widest plain loads the CPU has (AVX2 on x86-64 when present) and several
// independent accumulators, so that the loop is bound by the loads. The sum exists so that the
// reads cannot be optimised away.
uint64_t SumWords(const void* p, size_t bytes);

struct ByteRange {
  const void* data = nullptr;
  size_t bytes = 0;
};

// Reads every byte of `ranges` once with the pool's threads (16 contiguous pieces per thread,
// cut at 64-byte multiples of the running offset, taken as the threads come). Returns the seconds from the
// start to the moment the last thread finished; *checksum receives the sum of SumWords.
// Allocates nothing.
double TimedParallelRead(ThreadPool& pool, std::span<const ByteRange> ranges, uint64_t* checksum);

}  // namespace ondo::platform
