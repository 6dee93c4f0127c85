// bench_korean: Korean morpheme analyzer throughput, one thread, warm Analysis (no allocation).
// Workloads:
//   Analyze/gsd_dev   the 950 sentences of UD Korean GSD dev (../shared; skipped if absent)
//   Analyze/klue_dev  the 2,000 sentences of KLUE dp dev (../shared; skipped if absent)
//   Analyze/builtin   a fixed paragraph of news and conversational Korean (always runs)
//   Create            building the analyzer from the embedded data
// items_per_second = characters (code points, spaces included) analysed per second.
// 5 repetitions; report the median:  bench_korean --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/korean/analyzer.h"

namespace ondo::korean {
namespace {

constexpr const char* kBuiltin[] = {
    "이 행사는 도가 주관하고 경기관광공사와 경기국제의료관광협의회가 주최하며 도내 8개 병원이 "
    "함께 참여한다.",
    "해당 질량은 항성의 구성 원소에 따라 태양의 1.2배에서 1.46배로 약간 차이가 난다.",
    "재판부는 검찰의 공정한 수사에 대한 신뢰가 깨져 버려 최씨와 김씨가 정신적 피해를 봤다는 "
    "점을 인정했다.",
    "내일은 비가 온다니까 우산을 꼭 챙기세요. 저는 먼저 갈게요!",
    "숙소가 역에서 가까워서 좋았고, 직원분들도 친절하셨어요. 다음에 또 올게요.",
    "그 사람은 노래를 불러 주었는데, 목소리가 정말 아름다웠습니다.",
};

size_t CountChars(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

const Analyzer& SharedAnalyzer() {
  static std::unique_ptr<Analyzer> a = [] {
    std::unique_ptr<Analyzer> x;
    if (!Analyzer::Create(&x).ok()) x.reset();
    return x;
  }();
  return *a;
}

// Sentences from a CoNLL-U "# text = " or a KLUE "## klue-dp...\t" line.
std::vector<std::string> LoadSentences(const std::string& path, const std::string& prefix,
                                       char after) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t p = line.find(after, prefix.size());
    if (p != std::string::npos) out.push_back(line.substr(p + 1));
  }
  return out;
}

void RunAnalyze(benchmark::State& state, const std::vector<std::string>& sentences) {
  if (sentences.empty()) {
    state.SkipWithError("data file not found");
    return;
  }
  const Analyzer& analyzer = SharedAnalyzer();
  size_t chars = 0;
  for (const std::string& s : sentences) chars += CountChars(s);
  Analysis a;
  for (const std::string& s : sentences) (void)analyzer.Analyze(s, &a);  // warm
  for (auto _ : state) {
    for (const std::string& s : sentences) {
      if (!analyzer.Analyze(s, &a).ok()) state.SkipWithError("analysis failed");
      benchmark::DoNotOptimize(a.morphemes.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chars));
  state.counters["chars"] = static_cast<double>(chars);
}

void BM_Gsd(benchmark::State& state) {
  static const auto s = LoadSentences(
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu",
      "# text =", ' ');
  RunAnalyze(state, s);
}
void BM_Klue(benchmark::State& state) {
  static const auto s = LoadSentences(
      std::string(ONDO_SHARED_DIR) + "/data/korean/klue/klue-dp-v1.1_dev.tsv", "## klue-dp", '\t');
  RunAnalyze(state, s);
}
void BM_Builtin(benchmark::State& state) {
  static const std::vector<std::string> s(std::begin(kBuiltin), std::end(kBuiltin));
  RunAnalyze(state, s);
}
void BM_Create(benchmark::State& state) {
  for (auto _ : state) {
    std::unique_ptr<Analyzer> a;
    if (!Analyzer::Create(&a).ok()) state.SkipWithError("create failed");
    benchmark::DoNotOptimize(a.get());
  }
}

BENCHMARK(BM_Gsd)->Name("Analyze/gsd_dev")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Klue)->Name("Analyze/klue_dev")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Builtin)->Name("Analyze/builtin")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Create)->Name("Create")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ondo::korean

BENCHMARK_MAIN();
