// `ondo bench`: prompt and decode speed of a model, measured like llama-bench's pp512 / tg64.
// Each repetition starts from an empty cache: the prompt (fixed pseudo-random ordinary token
// ids) goes through one Prefill of a single batch, timed; then --gen greedy Decode steps,
// timed. One untimed warm-up repetition pages the weights in; the medians over --reps are
// reported.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "examples/ondo/cli.h"
#include "kernels/kernels.h"
#include "platform/read_bandwidth.h"
#include "platform/sys_info.h"
#include "platform/thread_pool.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis = "ondo bench -m MODEL [options]";
constexpr std::string_view kSummary =
    "Measures prompt processing (one prefill of --prompt tokens from an empty cache) and\n"
    "decoding (--gen greedy steps after it) in tokens per second, like llama-bench's pp512\n"
    "and tg64: one warm-up repetition, then the median of --reps. The prompt is a fixed\n"
    "pseudo-random sequence of ordinary tokens (no special tokens), the same every run.";

// The prompt: n ids drawn from the vocabulary's normal tokens by a fixed-seed generator
// (splitmix64), so every run and every build measures the same sequence.
std::vector<int32_t> BenchPrompt(const tokenizer::Tokenizer& tok, int n) {
  std::vector<int32_t> normal;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.GetTokenType(id) == tokenizer::TokenType::kNormal) normal.push_back(id);
  }
  if (normal.empty()) {  // a vocabulary without type information: any id but the specials
    const tokenizer::VocabSpec& v = tok.spec();
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (id != v.bos_id && id != v.eos_id && id != v.unk_id && id != v.pad_id) normal.push_back(id);
    }
  }
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t state = 0x6f6e646f;  // "ondo"
  for (int32_t& id : ids) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    id = normal[static_cast<size_t>(z % normal.size())];
  }
  return ids;
}

int Argmax(const float* x, int n) { return static_cast<int>(std::max_element(x, x + n) - x); }

// Seconds for the prompt's prefill and for the decode steps of one repetition.
struct Timing {
  double prompt_s = 0.0, decode_s = 0.0;
};

// `start_id` is what the first decode step feeds when there is no prompt.
Status RunOnce(runtime::Session& s, const std::vector<int32_t>& prompt, int32_t start_id, int n_gen,
               Timing* t) {
  s.Reset();
  uint64_t t0 = platform::NowNs();
  if (!prompt.empty()) ONDO_RETURN_IF_ERROR(s.Prefill(prompt));
  uint64_t t1 = platform::NowNs();
  t->prompt_s = static_cast<double>(t1 - t0) * 1e-9;
  int32_t next = prompt.empty() ? start_id : Argmax(s.logits(), s.n_vocab());
  t0 = platform::NowNs();
  for (int i = 0; i < n_gen; ++i) {
    ONDO_RETURN_IF_ERROR(s.Decode(next));
    next = Argmax(s.logits(), s.n_vocab());
  }
  t1 = platform::NowNs();
  t->decode_s = static_cast<double>(t1 - t0) * 1e-9;
  return Status::Ok();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The weight bytes one decode step reads: every tensor once, except a token embedding that has
// an output head of its own (then the lookup reads one row of it). With a tied embedding the
// output head reads the whole matrix. (The KV cache, a few MB per token, is left out.)
std::vector<platform::ByteRange> DecodeWeightRanges(const runtime::Model& m) {
  const runtime::GgufFile& g = m.gguf();
  const bool untied = g.FindTensor("output.weight") != nullptr;
  std::vector<platform::ByteRange> ranges;
  for (const runtime::GgufTensorInfo& t : g.tensors()) {
    if (t.data == nullptr || (untied && t.name == "token_embd.weight")) continue;
    ranges.push_back({t.data, t.bytes});
  }
  return ranges;
}

// Read bandwidth (bytes/s) of the pool's threads over the weights themselves, the median of
// `passes` reads: the roofline of decode in the machine's state of the moment, on the same
// pages (same page size, same NUMA placement) that decode reads.
double WeightReadBandwidth(platform::ThreadPool& pool, const std::vector<platform::ByteRange>& ranges,
                           uint64_t bytes, int passes) {
  std::vector<double> rates;
  for (int p = 0; p < passes; ++p) {
    uint64_t checksum = 0;
    const double sec = platform::TimedParallelRead(pool, ranges, &checksum);
    rates.push_back(static_cast<double>(bytes) / std::max(sec, 1e-9));
  }
  return Median(rates);
}

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  std::string model_path, mem_budget, kv_type;
  int n_threads = 0, n_prompt = 0, n_gen = 0, reps = 0, n_ctx = 0;
  po::options_description options("options");
  options.add_options()
      ("model,m", po::value(&model_path)->value_name("FILE")->required(), "GGUF model file")
      ("threads,t", po::value(&n_threads)->value_name("N")->default_value(0),
       "worker threads (0: the usable cores; the big ones on a big.LITTLE CPU)")
      ("prompt,p", po::value(&n_prompt)->value_name("N")->default_value(512),
       "prompt tokens, processed as one batch (0: skip the prompt test)")
      ("gen,n", po::value(&n_gen)->value_name("N")->default_value(64),
       "decode steps after the prompt (0: skip the decode test)")
      ("reps,r", po::value(&reps)->value_name("N")->default_value(3),
       "timed repetitions after one warm-up; the median is reported")
      ("ctx", po::value(&n_ctx)->value_name("N")->default_value(0),
       "context size in tokens (0: prompt + gen)")
      ("kv-type", po::value(&kv_type)->value_name("f16|q8")->default_value("f16"), kKvTypeHelp)
      ("mem-budget", po::value(&mem_budget)->value_name("BYTES"), kMemBudgetHelp)
      ("roofline", "also measure decode against the memory-bandwidth roofline: before and after "
       "every decode repetition the same number of threads read all the weights a decode step "
       "reads (median of 3 passes); each repetition's fraction = weight bytes per token x "
       "tok/s / the mean of those two read rates, and the median fraction is reported")
      ("json", "print one JSON object instead of the table");
  po::variables_map vm;
  if (int rc = ParseArgs("bench", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  const bool json = vm.count("json") != 0;
  const bool roofline = vm.count("roofline") != 0;
  if (n_threads < 0) return UsageError("bench", fmt::format("--threads {} is negative", n_threads));
  if (n_prompt < 0) return UsageError("bench", fmt::format("--prompt {} is negative", n_prompt));
  if (n_gen < 0) return UsageError("bench", fmt::format("--gen {} is negative", n_gen));
  if (n_prompt == 0 && n_gen == 0) return UsageError("bench", "--prompt 0 and --gen 0 leave nothing to measure");
  if (roofline && n_gen == 0) return UsageError("bench", "--roofline measures decode: it needs --gen > 0");
  if (reps < 1) return UsageError("bench", fmt::format("--reps {} is not positive", reps));
  if (n_ctx < 0) return UsageError("bench", fmt::format("--ctx {} is negative", n_ctx));
  memory::Budget budget;
  if (Status s = ResolveMemBudget(mem_budget, &budget); !s.ok()) return UsageError("bench", s.message());
  memory::KvType kv_element = memory::KvType::kF16;
  if (Status s = ResolveKvType(kv_type, &kv_element); !s.ok()) return UsageError("bench", s.message());
  if (n_ctx == 0) n_ctx = n_prompt + n_gen;
  if (n_prompt + n_gen > n_ctx) {
    return Error(fmt::format("--prompt {} and --gen {} need {} tokens of context but --ctx is {} "
                             "(use a larger --ctx)", n_prompt, n_gen, n_prompt + n_gen, n_ctx));
  }

  std::unique_ptr<runtime::Model> model;
  if (Status s = runtime::Model::Load(model_path, &model); !s.ok()) return Error(s);
  runtime::SessionOptions session_options;
  session_options.n_ctx = n_ctx;
  session_options.n_threads = n_threads;
  session_options.n_batch = std::max(n_prompt, 1);  // the whole prompt in one batch (capped at n_ctx)
  session_options.budget = budget;
  session_options.process_bytes = ProcessBytesForBudget();
  session_options.kv_type = kv_element;
  std::unique_ptr<runtime::Session> session;
  if (Status s = runtime::Session::Create(*model, session_options, &session); !s.ok()) return Error(s);
  const std::vector<int32_t> prompt = BenchPrompt(model->tokenizer(), n_prompt);
  // Without a prompt the decode test starts from an empty cache with an ordinary token.
  const int32_t start_id = BenchPrompt(model->tokenizer(), 1)[0];

  // --roofline: the weights are read with the session's thread count, between repetitions.
  std::vector<platform::ByteRange> weight_ranges;
  uint64_t weight_bytes = 0;
  std::unique_ptr<platform::ThreadPool> read_pool;
  if (roofline) {
    if (session->plan().streamed()) {
      return Error(fmt::format("--roofline needs every weight resident, but the memory budget "
                               "({}) streams {} of {} layers from the file",
                               HumanBytes(budget.bytes),
                               session->plan().n_layer - session->plan().n_layer_resident,
                               session->plan().n_layer));
    }
    weight_ranges = DecodeWeightRanges(*model);
    for (const platform::ByteRange& r : weight_ranges) weight_bytes += r.bytes;
    read_pool = std::make_unique<platform::ThreadPool>(session->n_threads());
  }
  constexpr int kReadPasses = 3;

  Timing t;
  if (Status s = RunOnce(*session, prompt, start_id, n_gen, &t); !s.ok()) return Error(s);  // warm-up
  std::vector<double> prompt_tok_s, decode_tok_s, read_bw, fractions;
  if (roofline) read_bw.push_back(WeightReadBandwidth(*read_pool, weight_ranges, weight_bytes, kReadPasses));
  for (int r = 0; r < reps; ++r) {
    if (Status s = RunOnce(*session, prompt, start_id, n_gen, &t); !s.ok()) return Error(s);
    if (n_prompt > 0) prompt_tok_s.push_back(n_prompt / std::max(t.prompt_s, 1e-9));
    if (n_gen > 0) decode_tok_s.push_back(n_gen / std::max(t.decode_s, 1e-9));
    if (roofline) {
      read_bw.push_back(WeightReadBandwidth(*read_pool, weight_ranges, weight_bytes, kReadPasses));
      const double bw = 0.5 * (read_bw[read_bw.size() - 2] + read_bw.back());
      fractions.push_back(static_cast<double>(weight_bytes) * decode_tok_s.back() / bw);
    }
  }
  const double pp = n_prompt > 0 ? Median(prompt_tok_s) : 0.0;
  const double tg = n_gen > 0 ? Median(decode_tok_s) : 0.0;
  const uint64_t peak_rss = platform::PeakRssBytes();
  const uint64_t model_bytes = model->gguf().total_bytes();
  const std::string model_name = std::filesystem::path(model_path).filename().string();

  if (json) {
    nlohmann::ordered_json j;
    j["prompt_tok_s"] = pp;
    j["decode_tok_s"] = tg;
    j["peak_rss_bytes"] = peak_rss;
    j["prompt_tokens"] = n_prompt;
    j["gen_tokens"] = n_gen;
    j["threads"] = session->n_threads();
    j["reps"] = reps;
    j["model"] = model_path;
    j["model_bytes"] = model_bytes;
    j["isa"] = kernels::ActiveIsa();
    j["kv_type"] = memory::KvTypeName(session->kv_cache().type());
    if (roofline) {
      j["weight_bytes_per_token"] = weight_bytes;
      j["weights_read_gb_s"] = Median(read_bw) * 1e-9;
      j["roofline_fraction"] = Median(fractions);
      j["roofline_fractions"] = fractions;
    }
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    // Rows as llama-bench prints them; the spread is the fastest and slowest repetition.
    const auto row = [&](const std::string& test, double median, const std::vector<double>& all) {
      const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
      fmt::print("| {} | {} | {} | {} | {} | {:.1f} | {:.1f} - {:.1f} |\n", model_name,
                 HumanBytes(model_bytes), session->n_threads(), kernels::ActiveIsa(), test, median,
                 *lo, *hi);
    };
    fmt::print("| model | size | threads | isa | test | tok/s | range |\n");
    fmt::print("|---|---:|---:|---|---|---:|---:|\n");
    if (n_prompt > 0) row(fmt::format("pp{}", n_prompt), pp, prompt_tok_s);
    if (n_gen > 0) row(fmt::format("tg{}", n_gen), tg, decode_tok_s);
    fmt::print("\nmedian of {} repetition{} after 1 warm-up; peak RSS {}; KV cache {}\n", reps,
               reps == 1 ? "" : "s", HumanBytes(peak_rss), memory::KvTypeName(session->kv_cache().type()));
    if (roofline) {
      const auto [lo, hi] = std::minmax_element(fractions.begin(), fractions.end());
      fmt::print("roofline: decode reads {} of weights per token; {} thread{} read them at {:.1f} GB/s "
                 "(median around the repetitions): decode at {:.0f}% of the roofline ({:.0f} - {:.0f}%)\n",
                 HumanBytes(weight_bytes), session->n_threads(), session->n_threads() == 1 ? "" : "s",
                 Median(read_bw) * 1e-9, 100.0 * Median(fractions), 100.0 * *lo, 100.0 * *hi);
    }
  }
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

}  // namespace ondo::cli
