// bench_tokenizer: tokens per Hangul syllable of trained BPE tokenizers (morpheme-aware and
// plain) against Qwen3, Llama 3 and Gemma 3, and encode speed, on the shared Korean text.
//
// Text (../shared/data/korean): ChatbotData.csv questions and answers, KLUE dp dev sentences
// ("## klue-dp...<TAB>sentence" lines), KLUE NLI dev premises and hypotheses, UD Korean GSD dev
// "# text = " lines; one sentence per line, exact duplicates dropped (first occurrence kept, in
// that source order). Every 10th line (index % 10 == 9) is held out; training uses the rest.
// Count = all tokens of the held-out lines (each line encoded alone, no BOS; whitespace-only
// tokens counted like any other) / Hangul syllables (U+AC00..U+D7A3) in them.
// Note: the morpheme analyzer's statistics were learned from KLUE dp dev, which is part of
// both the training and the held-out lines here.
//
//   bench_tokenizer [--shared DIR] [--write-corpus DIR] [--reps N] [--quick]
// --write-corpus writes train.txt and heldout.txt (to reproduce with `ondo tokenizer train`).
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace {

using ondo::Status;
namespace tk = ondo::tokenizer;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// RFC 4180 fields of one CSV record (no newlines inside fields in ChatbotData.csv).
std::vector<std::string> CsvFields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        f.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        f.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  return f;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> LoadSharedLines(const std::string& dir) {
  std::vector<std::string> raw;
  std::string text;
  if (ReadFile(dir + "/chatbot/ChatbotData.csv", &text)) {
    const auto lines = Lines(text);
    for (size_t i = 1; i < lines.size(); ++i) {
      const auto f = CsvFields(lines[i]);
      if (f.size() >= 2) {
        raw.push_back(f[0]);
        raw.push_back(f[1]);
      }
    }
  }
  if (ReadFile(dir + "/klue/klue-dp-v1.1_dev.tsv", &text)) {
    for (const std::string& l : Lines(text)) {
      if (l.rfind("## klue-dp", 0) != 0) continue;
      const size_t tab = l.find('\t');
      if (tab != std::string::npos) raw.push_back(l.substr(tab + 1));
    }
  }
  if (ReadFile(dir + "/klue/klue-nli-v1.1_dev.json", &text)) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_array()) {
      for (const auto& e : j) {
        for (const char* key : {"premise", "hypothesis"}) {
          if (e.contains(key) && e[key].is_string()) raw.push_back(e[key].get<std::string>());
        }
      }
    }
  }
  if (ReadFile(dir + "/ud_korean_gsd/ko_gsd-ud-dev.conllu", &text)) {
    for (const std::string& l : Lines(text)) {
      if (l.rfind("# text = ", 0) == 0) raw.push_back(l.substr(9));
    }
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (std::string& s : raw) {
    s = Trim(s);
    if (s.empty() || !seen.insert(s).second) continue;
    out.push_back(std::move(s));
  }
  return out;
}

int64_t CountHangul(const std::string& s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0xE0 || b0 > 0xEF || i + 2 >= s.size()) continue;
    const uint32_t cp = ((b0 & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 6) |
                        (static_cast<uint8_t>(s[i + 2]) & 0x3Fu);
    if (cp >= 0xAC00 && cp <= 0xD7A3) ++n;
    i += 2;
  }
  return n;
}

struct Row {
  std::string name;
  std::unique_ptr<tk::Tokenizer> tok;
  std::string train_info;
  int64_t tokens = 0;
  bool round_trip = true;
  double tokens_per_s = 0, mb_per_s = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = ONDO_SHARED_DIR;
  std::string write_dir;
  int reps = 5;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--shared" && i + 1 < argc) {
      shared = argv[++i];
    } else if (a == "--write-corpus" && i + 1 < argc) {
      write_dir = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else {
      fmt::print(
          stderr,
          "usage: bench_tokenizer [--shared DIR] [--write-corpus DIR] [--reps N] [--quick]\n");
      return 2;
    }
  }
  const std::vector<std::string> lines = LoadSharedLines(shared + "/data/korean");
  if (lines.empty()) {
    fmt::print("no shared Korean text under {}/data/korean: skipped\n", shared);
    return 0;
  }
  std::string train, held_text;
  std::vector<std::string> held;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i % 10 == 9) {
      held.push_back(lines[i]);
      held_text += lines[i] + "\n";
    } else {
      train += lines[i] + "\n";
    }
  }
  int64_t syllables = 0;
  for (const std::string& l : held) syllables += CountHangul(l);
  fmt::print(
      "lines: {} distinct ({} train, {} held out); train {:.2f} MB; held out {:.2f} MB, "
      "{} Hangul syllables\n",
      lines.size(), lines.size() - held.size(), held.size(), train.size() / 1e6,
      held_text.size() / 1e6, syllables);
  if (!write_dir.empty()) {
    std::ofstream(write_dir + "/train.txt", std::ios::binary) << train;
    std::ofstream(write_dir + "/heldout.txt", std::ios::binary) << held_text;
    fmt::print("wrote {}/train.txt and {}/heldout.txt\n", write_dir, write_dir);
  }

  std::vector<Row> rows;
  struct Config {
    const char* name;
    bool morph;
    int32_t vocab;
    bool full_hangul;
  };
  std::vector<Config> configs = {{"ondo morph BPE 32k", true, 32000, true},
                                 {"ondo plain BPE 32k", false, 32000, true},
                                 {"ondo morph BPE 16k", true, 16000, true},
                                 {"ondo morph BPE 8k (seen Hangul)", true, 8000, false},
                                 {"ondo plain BPE 8k (seen Hangul)", false, 8000, false}};
  if (quick) configs.resize(1);
  for (const Config& c : configs) {
    tk::BpeTrainerOptions opt;
    opt.vocab_size = c.vocab;
    opt.morph = c.morph;
    opt.full_hangul = c.full_hangul;
    std::unique_ptr<tk::BpeTrainer> trainer;
    tk::TrainedBpe bpe;
    Status st = tk::BpeTrainer::Create(opt, &trainer);
    if (st.ok()) st = trainer->AddText(train);
    if (st.ok()) st = trainer->Train(&bpe);
    tk::VocabSpec spec;
    if (st.ok()) {
      tk::TrainedBpeToVocabSpec(bpe, true, &spec);
      Row r;
      r.name = c.name;
      st = tk::Tokenizer::Create(std::move(spec), &r.tok);
      r.train_info =
          fmt::format("{} tokens, {} merges; split {:.2f} s + merges {:.2f} s", bpe.tokens.size(),
                      bpe.merges.size(), bpe.split_seconds, bpe.merge_seconds);
      if (st.ok()) rows.push_back(std::move(r));
    }
    if (!st.ok()) {
      fmt::print(stderr, "{}: {}\n", c.name, st.message());
      return 1;
    }
  }
  for (const auto& [name, dir] : std::vector<std::pair<const char*, const char*>>{
           {"Qwen3", "qwen3"}, {"Llama 3", "llama3"}, {"Gemma 3", "gemma3"}}) {
    Row r;
    r.name = name;
    const std::string path = shared + "/tokenizers/hf/" + dir + "/tokenizer.json";
    Status st = tk::Tokenizer::FromHfJsonFile(path, &r.tok);
    if (!st.ok()) {
      fmt::print(stderr, "{}: {} (skipped)\n", path, st.message());
      continue;
    }
    r.train_info = fmt::format("{} tokens (pretrained)", r.tok->n_vocab());
    rows.push_back(std::move(r));
  }

  std::vector<int32_t> ids;
  const tk::EncodeOptions eo;
  for (Row& r : rows) {
    int64_t n = 0;
    for (const std::string& l : held) {
      ids.clear();
      if (!r.tok->Encode(l, eo, &ids).ok()) {
        fmt::print(stderr, "{}: encode failed\n", r.name);
        return 1;
      }
      n += static_cast<int64_t>(ids.size());
      if (r.round_trip && r.tok->Decode(ids) != l) r.round_trip = false;
    }
    r.tokens = n;
    std::vector<double> times;
    for (int k = 0; k < reps; ++k) {
      const double t0 = Now();
      for (const std::string& l : held) {
        ids.clear();
        (void)r.tok->Encode(l, eo, &ids);
      }
      times.push_back(Now() - t0);
    }
    const double t = Median(times);
    r.tokens_per_s = static_cast<double>(n) / t;
    r.mb_per_s = static_cast<double>(held_text.size()) / t / 1e6;
  }
  const Row* qwen = nullptr;
  for (const Row& r : rows) {
    if (r.name == "Qwen3") qwen = &r;
  }
  fmt::print(
      "\n| tokenizer | vocabulary | held-out tokens | tokens / Hangul syllable | "
      "round trip | encode tokens/s (median of {}) | MB/s | speed vs Qwen3 |\n"
      "|---|---|---|---|---|---|---|---|\n",
      reps);
  for (const Row& r : rows) {
    fmt::print("| {} | {} | {} | {:.4f} | {} | {:.0f} | {:.2f} | {} |\n", r.name, r.train_info,
               r.tokens, static_cast<double>(r.tokens) / static_cast<double>(syllables),
               r.round_trip ? "exact" : "differs", r.tokens_per_s, r.mb_per_s,
               qwen ? fmt::format("{:.2f}x", r.mb_per_s / qwen->mb_per_s) : std::string("-"));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("\npeak RSS of this process: {:.0f} MB\n", ru.ru_maxrss / 1024.0);
  return 0;
}
