// bench_isa (x86-64): how many independent vector instructions of a few kinds this core retires
// per cycle, the figure that decides whether a decode kernel is bound by its count of vector
// operations (README, Speed). Each benchmark runs 12 independent chains of one instruction
// (registers 0-11, the source register 12) in an assembly loop and reports `per_cycle` =
// instructions per second / the clock, the clock being measured first by a chain of dependent
// scalar adds (one per cycle on x86-64 cores). The assembler takes AVX-512 mnemonics whatever the
// compiler flags, so this file is built without -m flags and each benchmark checks the CPU
// first. On the 2-core Zen 4 host of 2026-12-07 (AVX-512 as two 256-bit halves), clock 3.6 GHz,
// best of 4 runs: vpaddd zmm 2.0, ymm 3.7; vpshufb zmm 1.0, ymm 2.0; vpdpbusd zmm 1.0.
//
//   bench_isa --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <cstdint>

#include "platform/sys_info.h"

namespace {

constexpr int kInner = 1000;  // iterations of the assembly loop per benchmark iteration
constexpr int kChains = 12;   // instructions per assembly iteration

// One instruction of chain n: dst = op(register 12, dst), "op %w12, %wN, %wN" in AT&T order.
#define ONDO_ISA_1(op, w, n) op " %%" w "12, %%" w #n ", %%" w #n "\n\t"
// clang-format off
#define ONDO_ISA_OP(op, w)                                                                \
  ONDO_ISA_1(op, w, 0) ONDO_ISA_1(op, w, 1) ONDO_ISA_1(op, w, 2) ONDO_ISA_1(op, w, 3)    \
  ONDO_ISA_1(op, w, 4) ONDO_ISA_1(op, w, 5) ONDO_ISA_1(op, w, 6) ONDO_ISA_1(op, w, 7)    \
  ONDO_ISA_1(op, w, 8) ONDO_ISA_1(op, w, 9) ONDO_ISA_1(op, w, 10) ONDO_ISA_1(op, w, 11)
// clang-format on
// The body kInner times, then vzeroupper (no AVX-SSE transition costs after it).
#define ONDO_ISA_LOOP(body)                                                                       \
  __asm__ volatile("mov %0, %%ecx\n\t1:\n\t" body "dec %%ecx\n\tjnz 1b\n\tvzeroupper"             \
                   :                                                                              \
                   : "i"(kInner)                                                                  \
                   : "rcx", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
                     "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13")

// Dependent scalar adds per second: the clock.
double MeasureClockHz() {
  uint64_t x = 0;
  const uint64_t t0 = ondo::platform::NowNs();
  constexpr uint64_t kAdds = 200'000'000;
  for (uint64_t i = 0; i < kAdds / 8; ++i) {
    __asm__ volatile(
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
        : "+r"(x));
  }
  const uint64_t t1 = ondo::platform::NowNs();
  return static_cast<double>(kAdds) * 1e9 / static_cast<double>(t1 - t0);
}

double ClockHz() {
  static const double hz = MeasureClockHz();
  return hz;
}

template <class Run>
void Bench(benchmark::State& state, bool supported, Run run) {
  if (!supported) {
    state.SkipWithError("the CPU lacks this instruction set");
    return;
  }
  const double hz = ClockHz();
  const uint64_t t0 = ondo::platform::NowNs();
  for (auto _ : state) run();
  const double seconds = static_cast<double>(ondo::platform::NowNs() - t0) * 1e-9;
  const double insns = static_cast<double>(state.iterations()) * kInner * kChains;
  state.SetItemsProcessed(static_cast<int64_t>(insns));
  state.counters["per_cycle"] = insns / (seconds * hz);
  state.counters["clock_GHz"] = hz * 1e-9;
}

const ondo::platform::CpuFeatures& Cpu() { return ondo::platform::GetCpuFeatures(); }

// The clock as this benchmark measures it now (the mean of its own runs), not the cached first
// measurement the per-cycle figures use: the two differ when the clock has changed since.
void ClockBench(benchmark::State& state) {
  double sum_hz = 0;
  for (auto _ : state) sum_hz += MeasureClockHz();
  state.counters["clock_GHz"] = sum_hz / static_cast<double>(state.iterations()) * 1e-9;
}
BENCHMARK(ClockBench)->Name("Clock/dependent_add")->Iterations(3);

void ZmmPaddd(benchmark::State& state) {
  Bench(state, Cpu().avx512f, [] { ONDO_ISA_LOOP(ONDO_ISA_OP("vpaddd", "zmm")); });
}
void YmmPaddd(benchmark::State& state) {
  Bench(state, Cpu().avx2, [] { ONDO_ISA_LOOP(ONDO_ISA_OP("vpaddd", "ymm")); });
}
void ZmmPshufb(benchmark::State& state) {
  Bench(state, Cpu().avx512bw, [] { ONDO_ISA_LOOP(ONDO_ISA_OP("vpshufb", "zmm")); });
}
void YmmPshufb(benchmark::State& state) {
  Bench(state, Cpu().avx2, [] { ONDO_ISA_LOOP(ONDO_ISA_OP("vpshufb", "ymm")); });
}
void ZmmDpbusd(benchmark::State& state) {
  Bench(state, Cpu().avx512vnni, [] { ONDO_ISA_LOOP(ONDO_ISA_OP("vpdpbusd", "zmm")); });
}
BENCHMARK(ZmmPaddd)->Name("Throughput/vpaddd/zmm");
BENCHMARK(YmmPaddd)->Name("Throughput/vpaddd/ymm");
BENCHMARK(ZmmPshufb)->Name("Throughput/vpshufb/zmm");
BENCHMARK(YmmPshufb)->Name("Throughput/vpshufb/ymm");
BENCHMARK(ZmmDpbusd)->Name("Throughput/vpdpbusd/zmm");

}  // namespace

BENCHMARK_MAIN();
