// bench_e2e: end-to-end prompt and decode throughput and peak RSS of one GGUF model.
// Each workload is repeated; the median is reported (warm-up run discarded).
//   bench_e2e MODEL [--threads N] [--prompt-tokens N] [--decode-tokens N] [--reps N] [--ctx N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "platform/sys_info.h"
#include "runtime/model.h"
#include "runtime/session.h"

using namespace ondo;

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "bench_e2e: error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_e2e MODEL [--threads N] [--prompt-tokens N] [--decode-tokens N] [--reps N] [--ctx N]\n");
    return 2;
  }
  std::string path = argv[1];
  int threads = 2, prompt_tokens = 128, decode_tokens = 64, reps = 5, ctx = 512;
  for (int i = 2; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = v;
    else if (!std::strcmp(argv[i], "--prompt-tokens")) prompt_tokens = v;
    else if (!std::strcmp(argv[i], "--decode-tokens")) decode_tokens = v;
    else if (!std::strcmp(argv[i], "--reps")) reps = v;
    else if (!std::strcmp(argv[i], "--ctx")) ctx = v;
    else { std::fprintf(stderr, "bench_e2e: unknown flag %s\n", argv[i]); return 2; }
  }
  if (prompt_tokens + decode_tokens > ctx) ctx = prompt_tokens + decode_tokens;
  std::unique_ptr<runtime::Model> model;
  if (Status s = runtime::Model::Load(path, &model); !s.ok()) return Fail(s);
  runtime::SessionOptions so;
  so.n_ctx = ctx;
  so.n_threads = threads;
  std::unique_ptr<runtime::Session> session;
  if (Status s = runtime::Session::Create(*model, so, &session); !s.ok()) return Fail(s);

  // Deterministic pseudo-random prompt of ordinary tokens.
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  uint32_t x = 12345;
  for (auto& id : prompt) {
    x = x * 1664525u + 1013904223u;
    id = static_cast<int32_t>(16 + x % static_cast<uint32_t>(model->config().n_vocab - 16));
  }
  std::vector<double> pp, tg;
  for (int r = 0; r <= reps; ++r) {
    session->Reset();
    uint64_t t0 = platform::NowNs();
    if (Status s = session->Prefill(prompt); !s.ok()) return Fail(s);
    uint64_t t1 = platform::NowNs();
    int32_t id = prompt.back();
    for (int i = 0; i < decode_tokens; ++i) {
      // Greedy, so the run is the same every repetition.
      const float* l = session->logits();
      id = static_cast<int32_t>(std::max_element(l, l + session->n_vocab()) - l);
      if (Status s = session->Decode(id); !s.ok()) return Fail(s);
    }
    uint64_t t2 = platform::NowNs();
    if (r == 0) continue;  // warm-up
    pp.push_back(prompt_tokens * 1e9 / static_cast<double>(t1 - t0));
    tg.push_back(decode_tokens * 1e9 / static_cast<double>(t2 - t1));
  }
  const auto& cpu = platform::GetCpuFeatures();
  std::printf("model        %s (%s, %d layers, n_embd %d, vocab %d)\n", path.c_str(),
              runtime::ArchName(model->config().arch), model->config().n_layer,
              model->config().n_embd, model->config().n_vocab);
  std::printf("machine      %d threads, kernels %s, cpu %s\n", threads, kernels::ActiveIsa(), cpu.ToString().c_str());
  std::printf("pp%-4d       %.1f tok/s (median of %d)\n", prompt_tokens, Median(pp), reps);
  std::printf("tg%-4d       %.1f tok/s (median of %d)\n", decode_tokens, Median(tg), reps);
  std::printf("peak RSS     %.1f MiB (weights mapped %.1f MiB, KV %.1f MiB)\n",
              platform::PeakRssBytes() / 1048576.0, model->weight_bytes() / 1048576.0,
              session->plan().kv_bytes / 1048576.0);
  return 0;
}
