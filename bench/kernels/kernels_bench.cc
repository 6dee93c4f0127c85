// bench_kernels: MatMul of every weight type (decode = 1 token, prefill = 64 tokens) and
// AttentionF16 and AttentionQ8_0 (the 8-bit KV cache) for every kernel set this CPU runs
// (scalar = the reference, avx2, avx512), single thread.
// Each workload is named kind/type/isa/rows x k/tokens; 5 repetitions after a warm-up,
// median reported; bytes_per_second counts the weight (or K+V) bytes read per call.
// The decode shape 143360x1536 is 16 copies of the 8960x1536 matrix one after another (72-440
// MB, more than any L3): weights streamed from DRAM, as in a real decode step or the LM head.
//
//   bench_kernels --benchmark_filter='MatMul/F16/.*/4096x256/1$'
//   bench_kernels --benchmark_filter='MatMul/Q4_K/avx512/8960x1536/'   # Qwen2.5-1.5B ffn_up
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "platform/sys_info.h"

namespace ondo::kernels {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

void BenchMatMul(benchmark::State& state, const KernelSet* set, DType type, int64_t rows, int64_t k,
                 int n_tok, int copies) {
  const TypeKernels& tk = set->For(type);
  const size_t wrb = RowBytes(type, k);
  const DType vd = Info(type).vec_dot_type;
  const size_t xrb = RowBytes(vd, k);
  const size_t one = wrb * static_cast<size_t>(rows);
  std::vector<unsigned char> w(one * copies), x(xrb * n_tok);
  const std::vector<float> wf = Random(static_cast<size_t>(rows * k), 1);
  const std::vector<float> xf = Random(static_cast<size_t>(n_tok * k), 2);
  for (int64_t r = 0; r < rows; ++r) tk.quantize_row(wf.data() + r * k, w.data() + r * wrb, k);
  for (int c = 1; c < copies; ++c) std::copy(w.begin(), w.begin() + one, w.begin() + one * c);
  rows *= copies;
  for (int t = 0; t < n_tok; ++t) {
    set->For(vd).quantize_row(xf.data() + t * k, x.data() + t * xrb, k);
  }
  std::vector<float> y(static_cast<size_t>(n_tok * rows));
  for (auto _ : state) {
    tk.mat_mul(w.data(), wrb, 0, rows, k, x.data(), xrb, n_tok, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(w.size()));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(rows) * static_cast<double>(k) * n_tok *
                             static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}

void BenchAttention(benchmark::State& state, const KernelSet* set, int n_group, int head_dim,
                    int n_kv) {
  const std::vector<float> qf = Random(static_cast<size_t>(n_group * head_dim), 3);
  const std::vector<float> kf = Random(static_cast<size_t>(n_kv * head_dim), 4);
  const std::vector<float> vf = Random(static_cast<size_t>(n_kv * head_dim), 5);
  std::vector<uint16_t> k(kf.size()), v(vf.size());
  for (size_t i = 0; i < kf.size(); ++i) {
    k[i] = FloatToHalf(kf[i]);
    v[i] = FloatToHalf(vf[i]);
  }
  std::vector<float> out(qf.size()), scratch(static_cast<size_t>(n_group * n_kv));
  AttentionArgs a{};
  a.q = qf.data();
  a.k = k.data();
  a.v = v.data();
  a.kv_row_stride = head_dim;
  a.n_group = n_group;
  a.head_dim = head_dim;
  a.n_kv = n_kv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  a.out = out.data();
  a.scratch = scratch.data();
  for (auto _ : state) {
    set->attention_f16(a);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * 2 * n_kv * head_dim);
}

// The same attention over an 8-bit (Q8_0) cache: 34 bytes per 32 elements instead of 64.
void BenchAttentionQ8(benchmark::State& state, const KernelSet* set, int n_group, int head_dim,
                      int n_kv) {
  const std::vector<float> qf = Random(static_cast<size_t>(n_group * head_dim), 3);
  const std::vector<float> kf = Random(static_cast<size_t>(n_kv * head_dim), 4);
  const std::vector<float> vf = Random(static_cast<size_t>(n_kv * head_dim), 5);
  const size_t row = RowBytes(DType::kQ8_0, head_dim);
  std::vector<uint8_t> k(row * n_kv), v(row * n_kv);
  for (int j = 0; j < n_kv; ++j) {
    QuantizeRow(DType::kQ8_0, kf.data() + static_cast<size_t>(j) * head_dim, k.data() + j * row, head_dim);
    QuantizeRow(DType::kQ8_0, vf.data() + static_cast<size_t>(j) * head_dim, v.data() + j * row, head_dim);
  }
  std::vector<float> out(qf.size()), scratch(static_cast<size_t>(n_group * n_kv));
  AttentionQ8Args a{};
  a.q = qf.data();
  a.k = k.data();
  a.v = v.data();
  a.kv_row_bytes = static_cast<int64_t>(row);
  a.n_group = n_group;
  a.head_dim = head_dim;
  a.n_kv = n_kv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  a.out = out.data();
  a.scratch = scratch.data();
  for (auto _ : state) {
    set->attention_q8_0(a);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * n_kv * static_cast<int64_t>(row));
}

void Register() {
  struct Shape {
    int64_t rows, k;
    int copies;
  };
  // 256 rows of k = 1536 (0.2-0.8 MB: in L2, the kernel's own speed, no memory stalls),
  // ko-mini-a's output head, Qwen2.5-1.5B's attention and FFN matrices, and the FFN matrix 16
  // times over (decode only: from DRAM).
  const Shape shapes[] = {
      {256, 1536, 1}, {4096, 256, 1}, {1536, 1536, 1}, {8960, 1536, 1}, {8960, 1536, 16}};
  for (int i = 0; i < kNumIsas; ++i) {
    const KernelSet* set = GetKernelSet(static_cast<Isa>(i));
    if (!set) continue;
    for (DType type : {DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                       DType::kQ5_1, DType::kIQ4_NL, DType::kQ2_K, DType::kOQ2, DType::kQ3_K, DType::kQ4_K,
                       DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS}) {
      for (const Shape& s : shapes) {
        if (s.k % Info(type).block_size != 0) continue;
        for (int n_tok : {1, 64}) {
          if (s.copies > 1 && n_tok > 1) continue;
          const std::string name = std::string("MatMul/") + Info(type).name + "/" + set->name +
                                   "/" + std::to_string(s.rows * s.copies) + "x" +
                                   std::to_string(s.k) + "/" + std::to_string(n_tok);
          benchmark::RegisterBenchmark(name.c_str(), BenchMatMul, set, type, s.rows, s.k, n_tok,
                                       s.copies)
              ->Unit(benchmark::kMicrosecond)
              ->MinWarmUpTime(0.05)
              ->Repetitions(5)
              ->ReportAggregatesOnly(true);
        }
      }
    }
    for (int n_kv : {256, 1024}) {
      // A Qwen2.5-1.5B-like head: 6 query heads per KV head, head_dim 128.
      const std::string name =
          std::string("AttentionF16/") + set->name + "/group6_hd128/" + std::to_string(n_kv);
      benchmark::RegisterBenchmark(name.c_str(), BenchAttention, set, 6, 128, n_kv)
          ->Unit(benchmark::kMicrosecond)
          ->MinWarmUpTime(0.05)
          ->Repetitions(5)
          ->ReportAggregatesOnly(true);
      const std::string q8_name =
          std::string("AttentionQ8_0/") + set->name + "/group6_hd128/" + std::to_string(n_kv);
      benchmark::RegisterBenchmark(q8_name.c_str(), BenchAttentionQ8, set, 6, 128, n_kv)
          ->Unit(benchmark::kMicrosecond)
          ->MinWarmUpTime(0.05)
          ->Repetitions(5)
          ->ReportAggregatesOnly(true);
    }
  }
}

}  // namespace
}  // namespace ondo::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("ondo_cpu_features", ondo::platform::GetCpuFeatures().ToString());
  benchmark::AddCustomContext("ondo_active_isa", ondo::kernels::ActiveIsa());
  ondo::kernels::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
