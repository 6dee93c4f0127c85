// `ondo run`: one prompt in, generated text streamed out, one timing line on stderr.
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "examples/ondo/cli.h"
#include "examples/ondo/demo_model.h"
#include "platform/sys_info.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/post/post_processor.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis = "ondo run [-m MODEL] -p TEXT [options]";
constexpr std::string_view kSummary =
    "Generates a reply to TEXT and streams it to stdout. Without --raw, the model's chat\n"
    "template (ChatML, Llama 3, Gemma or ko-mini) is applied when it has one, and with it the\n"
    "Korean script guard and loop stop. One timing line (prompt and decode tok/s, peak RSS)\n"
    "goes to stderr.";

bool StreamToStdout(void* /*user_data*/, int32_t /*id*/, std::string_view text) {
  if (!text.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  return true;
}

// --post ko: generated text goes through the Korean post-processor sentence by sentence.
struct PostStream {
  korean::PostProcessor* pp = nullptr;
  std::string out;
  Status status;
};

bool StreamPostToStdout(void* user_data, int32_t /*id*/, std::string_view text) {
  auto* ps = static_cast<PostStream*>(user_data);
  ps->out.clear();
  if (ps->status.ok()) {
    ps->status = ps->pp->Push(text, &ps->out);
  } else {
    ps->out.assign(text);  // after an error (invalid UTF-8) the rest passes through
  }
  if (!ps->out.empty()) {
    std::fwrite(ps->out.data(), 1, ps->out.size(), stdout);
    std::fflush(stdout);
  }
  return true;
}

// --prompt-cache: saved from Generate's after_prefill hook, once the whole prompt is in the
// session. Not when the prompt slid through a full context: positions then no longer match
// the prompt's tokens.
struct PromptCacheSave {
  std::string path;
  std::span<const int32_t> ids;
  Status status;
};

void SavePromptCacheAfterPrefill(void* user_data, runtime::Session& session) {
  auto* save = static_cast<PromptCacheSave*>(user_data);
  if (session.n_past() != static_cast<int>(save->ids.size())) {
    save->status = Status(StatusCode::kOutOfRange, "the prompt did not fit the context");
    return;
  }
  save->status = session.SavePromptCache(save->path, save->ids);
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  const runtime::GenerateOptions defaults;
  const runtime::SamplerOptions& sd = defaults.sampler;
  std::string model_path, prompt, system;
  int n_predict = 0, n_ctx = 0, n_threads = 0, top_k = 0;
  float temp = 0, top_p = 0, min_p = 0, repeat_penalty = 0;
  uint64_t seed = 0;
  std::string script, loop_stop, post, spacing, mem_budget, ctx_full, prompt_cache, kv_type;
  int keep = 0;

  po::options_description options("options");
  options.add_options()
      ("model,m", po::value(&model_path)->value_name("FILE"),
       "GGUF or .ondo model (default: the embedded demo model, ondo-demo-ko)")
      ("prompt,p", po::value(&prompt)->value_name("TEXT")->required(), "prompt (UTF-8)")
      ("n-predict,n", po::value(&n_predict)->value_name("N")->default_value(defaults.max_tokens),
       "tokens to generate at most (< 0: until the end token or a full context)")
      ("ctx", po::value(&n_ctx)->value_name("N")->default_value(0),
       "context size in tokens (0: min(training context, 4096))")
      ("ctx-full", po::value(&ctx_full)->value_name("stop|slide")->default_value("stop"),
       "when the context is full: stop (finish reason context; a longer prompt is an error) or "
       "slide (keep the first --keep tokens, drop half of the rest and go on; a longer prompt "
       "is processed in pieces)")
      ("keep", po::value(&keep)->value_name("N")->default_value(0),
       "with --ctx-full slide: tokens at the start of the context that are never dropped "
       "(0 <= N < --ctx)")
      ("kv-type", po::value(&kv_type)->value_name("f16|q8")->default_value("f16"), kKvTypeHelp)
      ("threads,t", po::value(&n_threads)->value_name("N")->default_value(0),
       "worker threads (0: the usable cores; the big ones on a big.LITTLE CPU)")
      ("mem-budget", po::value(&mem_budget)->value_name("BYTES"), kMemBudgetHelp)
      ("verbose,v", "print the memory plan on stderr before generating")
      ("ignore-eos", "never sample an end-of-generation token: exactly -n tokens (benchmarks, "
       "long-generation tests)")
      ("prompt-cache", po::value(&prompt_cache)->value_name("FILE"),
       "prefix cache: if FILE holds the KV of a prompt this one starts with (same model), "
       "restore it and prefill only the rest; then save this prompt's KV to FILE (replaced "
       "atomically). An invalid or mismatched FILE is ignored with a warning")
      ("temp", po::value(&temp)->value_name("T")->default_value(sd.temperature, fmt::format("{}", sd.temperature)),
       "temperature (0: greedy)")
      ("top-k", po::value(&top_k)->value_name("K")->default_value(sd.top_k), "top-k (0: off)")
      ("top-p", po::value(&top_p)->value_name("P")->default_value(sd.top_p, fmt::format("{}", sd.top_p)),
       "top-p (1: off)")
      ("min-p", po::value(&min_p)->value_name("P")->default_value(sd.min_p, fmt::format("{}", sd.min_p)),
       "min-p (0: off)")
      ("repeat-penalty", po::value(&repeat_penalty)->value_name("R")
           ->default_value(sd.repeat_penalty, fmt::format("{}", sd.repeat_penalty)),
       "repetition penalty over the last tokens (1: off)")
      ("seed", po::value(&seed)->value_name("S")->default_value(sd.seed),
       "random seed (the same seed gives the same output)")
      ("chat", "apply the model's chat template (error when it has none)")
      ("raw", "no chat template; tokenize the prompt as llama.cpp does (BOS if the model "
              "says add_bos, special tokens parsed)")
      ("system", po::value(&system)->value_name("TEXT"), "system message (chat template only)")
      ("script", po::value(&script)->value_name("MODE")->default_value("auto"),
       "script guard: ko (Hangul, Latin, digits, punctuation), ko+hanja, none, or auto (ko "
       "with a chat template, none with --raw)")
      ("loop-stop", po::value(&loop_stop)->value_name("on|off|auto")->default_value("auto"),
       "end generation when the output repeats itself (finish reason loop); auto: on with a "
       "chat template, off with --raw")
      ("post", po::value(&post)->value_name("ko|none|auto")->default_value("auto"),
       "Korean post-processor on the output (punctuation, repetition, particles); auto: ko "
       "with a chat template, none with --raw. With --json, text is processed and raw_text "
       "added")
      ("spacing", po::value(&spacing)->value_name("on|off|auto")->default_value("auto"),
       "with the post-processor: restore word spacing first (밥먹었어 -> 밥 먹었어, 학 교에 -> "
       "학교에); auto: on only if its held-out measurement met the targets (it does not yet, so "
       "off)")
      ("json", "print one JSON object with ids, text and timings instead of streaming text");

  po::variables_map vm;
  if (int rc = ParseArgs("run", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  const bool chat = vm.count("chat") != 0, raw = vm.count("raw") != 0, json = vm.count("json") != 0;
  if (chat && raw) return UsageError("run", "--chat and --raw exclude each other");
  if (raw && vm.count("system") != 0) return UsageError("run", "--system needs a chat template, not --raw");
  if (n_ctx < 0) return UsageError("run", fmt::format("--ctx {} is negative", n_ctx));
  runtime::ContextFull ctx_full_mode = runtime::ContextFull::kStop;
  if (!runtime::ParseContextFull(ctx_full, &ctx_full_mode)) {
    return UsageError("run", fmt::format("--ctx-full {} is not one of stop, slide", ctx_full));
  }
  if (keep < 0) return UsageError("run", fmt::format("--keep {} is negative", keep));
  if (keep > 0 && ctx_full_mode != runtime::ContextFull::kSlide) {
    return UsageError("run", "--keep needs --ctx-full slide");
  }
  if (n_ctx > 0 && keep >= n_ctx) {
    return UsageError("run", fmt::format("--keep {} is not below --ctx {}", keep, n_ctx));
  }
  if (n_threads < 0) return UsageError("run", fmt::format("--threads {} is negative", n_threads));
  if (!(top_p > 0.0f && top_p <= 1.0f)) return UsageError("run", fmt::format("--top-p {} is not in (0, 1]", top_p));
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return UsageError("run", fmt::format("--min-p {} is not in [0, 1]", min_p));
  if (!(repeat_penalty > 0.0f)) return UsageError("run", fmt::format("--repeat-penalty {} is not positive", repeat_penalty));
  runtime::ScriptMode script_mode = runtime::ScriptMode::kAuto;
  if (!runtime::ParseScriptMode(script, &script_mode)) {
    return UsageError("run", fmt::format("--script {} is not one of auto, none, ko, ko+hanja", script));
  }
  if (loop_stop != "auto" && loop_stop != "on" && loop_stop != "off") {
    return UsageError("run", fmt::format("--loop-stop {} is not one of auto, on, off", loop_stop));
  }
  if (post != "auto" && post != "ko" && post != "none") {
    return UsageError("run", fmt::format("--post {} is not one of auto, ko, none", post));
  }
  if (spacing != "auto" && spacing != "on" && spacing != "off") {
    return UsageError("run", fmt::format("--spacing {} is not one of auto, on, off", spacing));
  }
  memory::Budget budget;
  if (Status s = ResolveMemBudget(mem_budget, &budget); !s.ok()) return UsageError("run", s.message());
  memory::KvType kv_element = memory::KvType::kF16;
  if (Status s = ResolveKvType(kv_type, &kv_element); !s.ok()) return UsageError("run", s.message());
  if (Status s = runtime::CheckUtf8(prompt, "the prompt"); !s.ok()) return Error(s);
  if (Status s = runtime::CheckUtf8(system, "the system message"); !s.ok()) return Error(s);

  if (model_path.empty()) {
    model_path = FindDemoModel();
    if (model_path.empty()) return Error(DemoModelSearchDescription());
  }
  std::unique_ptr<runtime::Model> model;
  const uint64_t load_start = platform::NowNs();
  if (Status s = runtime::Model::Load(model_path, &model); !s.ok()) return Error(s);

  runtime::PromptOptions prompt_options;
  prompt_options.mode = raw ? runtime::PromptMode::kRaw : chat ? runtime::PromptMode::kChat
                                                               : runtime::PromptMode::kAuto;
  prompt_options.system = system;
  runtime::PreparedPrompt prepared;
  if (Status s = runtime::PreparePrompt(*model, prompt, prompt_options, &prepared); !s.ok()) {
    if (s.code() == StatusCode::kUnsupported && chat) return Error(s.message() + "; use --raw");
    return Error(s);
  }

  runtime::SessionOptions session_options;
  session_options.n_ctx = n_ctx;
  session_options.n_threads = n_threads;
  session_options.budget = budget;
  session_options.process_bytes = ProcessBytesForBudget();
  session_options.kv_type = kv_element;
  // The prompt cache saves every position's rows: no ring for sliding-window layers then.
  if (!prompt_cache.empty()) session_options.swa_ring = false;
  if (vm.count("verbose") != 0) {
    runtime::SessionPlan plan;
    if (Status s = runtime::PlanSession(*model, session_options, &plan); !s.ok()) return Error(s);
    fmt::print(stderr, "memory plan (n_ctx {}, prefill chunk {} tokens):\n{}", plan.n_ctx, plan.n_batch,
               runtime::DescribePlan(plan, model->config()));
  }
  std::unique_ptr<runtime::Session> session;
  if (Status s = runtime::Session::Create(*model, session_options, &session); !s.ok()) return Error(s);
  // Load: mapping and checking the model, and planning the session (weights are paged in
  // from the mapping as the first tokens use them: that part shows in the prompt speed).
  const double load_s = static_cast<double>(platform::NowNs() - load_start) * 1e-9;
  if (keep >= session->n_ctx()) {  // --ctx 0: the size is known only now
    return UsageError("run", fmt::format("--keep {} is not below the context size {}", keep, session->n_ctx()));
  }
  if (ctx_full_mode == runtime::ContextFull::kStop && prepared.ids.size() > static_cast<size_t>(session->n_ctx())) {
    return Error(fmt::format("the prompt has {} tokens but the context holds {}; use a larger --ctx or "
                             "--ctx-full slide",
                             prepared.ids.size(), session->n_ctx()));
  }

  runtime::GenerateOptions gen;
  gen.max_tokens = n_predict;
  gen.ctx_full = ctx_full_mode;
  gen.keep = keep;
  gen.ignore_eog = vm.count("ignore-eos") != 0;
  gen.sampler.temperature = temp;
  gen.sampler.top_k = top_k;
  gen.sampler.top_p = top_p;
  gen.sampler.min_p = min_p;
  gen.sampler.repeat_penalty = repeat_penalty;
  gen.sampler.seed = seed;
  const bool chat_applied = prepared.format != runtime::ChatFormat::kNone;
  tokenizer::ScriptSet script_set;
  std::unique_ptr<tokenizer::ScriptGuard> guard;
  if (runtime::ResolveScriptMode(script_mode, chat_applied, &script_set)) {
    guard = std::make_unique<tokenizer::ScriptGuard>(model->tokenizer(), script_set);
    gen.script_guard = guard.get();
  }
  if (loop_stop == "on" || (loop_stop == "auto" && chat_applied)) {
    gen.loop_max_period = runtime::kDefaultLoopMaxPeriod;
  }
  const bool post_on = post == "ko" || (post == "auto" && chat_applied);
  const korean::Analyzer* analyzer = nullptr;
  std::unique_ptr<korean::PostProcessor> pp;
  PostStream post_stream;
  if (post_on) {
    if (Status st = korean::Analyzer::Shared(&analyzer); !st.ok()) return Error(st);
    korean::PostOptions post_options;
    post_options.spacing = spacing == "on" || (spacing == "auto" && korean::kSpacingAuto);
    if (Status st = korean::PostProcessor::Create(analyzer, post_options, &pp); !st.ok()) {
      return Error(st);
    }
    post_stream.pp = pp.get();
    post_stream.out.reserve(8192);
  }
  runtime::TokenCallback callback = nullptr;
  void* user_data = nullptr;
  if (!json) {
    callback = post_on ? &StreamPostToStdout : &StreamToStdout;
    if (post_on) user_data = &post_stream;
  }
  PromptCacheSave cache_save{prompt_cache, prepared.ids, Status::Ok()};
  if (!prompt_cache.empty()) {
    int n_reused = 0;
    const Status st = session->LoadPromptCache(prompt_cache, prepared.ids, &n_reused);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      fmt::print(stderr, "ondo: warning: prompt cache ignored, prefilling the whole prompt: {}\n", st.message());
    }
    gen.n_cached = n_reused;
    gen.after_prefill = &SavePromptCacheAfterPrefill;
    gen.after_prefill_data = &cache_save;
  }
  runtime::GenerateResult result;
  const Status s = runtime::Generate(*session, prepared.ids, gen, callback, user_data, &result);
  if (!s.ok()) {
    if (!json && !result.ids.empty()) std::fputc('\n', stdout);
    return Error(s);
  }
  if (!cache_save.status.ok()) {
    fmt::print(stderr, "ondo: warning: prompt cache not saved: {}\n", cache_save.status.message());
  }
  std::string post_text;
  if (post_on) {
    if (json) {
      // Invalid UTF-8 (a token cut inside a character) leaves the text unprocessed.
      if (!pp->Process(result.text, &post_text).ok()) post_text = result.text;
    } else {
      post_stream.out.clear();
      if (post_stream.status.ok()) post_stream.status = pp->Finish(&post_stream.out);
      std::fwrite(post_stream.out.data(), 1, post_stream.out.size(), stdout);
      if (!post_stream.status.ok()) {
        fmt::print(stderr, "ondo: warning: post-processor: {}\n", post_stream.status.message());
      }
    }
  }
  const uint64_t peak_rss = platform::PeakRssBytes();

  if (json) {
    nlohmann::ordered_json j;
    j["prompt_ids"] = prepared.ids;
    j["ids"] = result.ids;
    if (post_on) {
      j["text"] = post_text;
      j["raw_text"] = result.text;
    } else {
      j["text"] = result.text;
    }
    j["finish_reason"] = runtime::FinishReasonName(result.finish);
    if (!prompt_cache.empty()) j["prompt_cached_tokens"] = result.n_cached;  // only with the option
    j["prompt_tok_s"] = result.prompt_tok_s();
    j["decode_tok_s"] = result.decode_tok_s();
    j["peak_rss_bytes"] = peak_rss;
    j["load_s"] = load_s;
    const std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    fmt::print("{}\n", out);
  } else {
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  // Prompt tokens restored from --prompt-cache are counted apart from those prefilled.
  const std::string cached = result.n_cached > 0 ? fmt::format(" (+{} cached)", result.n_cached) : "";
  fmt::print(stderr,
             "load: {:.2f} s | prompt: {} tokens{}, {:.1f} tok/s | decode: {} tokens, {:.1f} tok/s | "
             "peak RSS: {} | finish: {}\n",
             load_s, result.n_prompt, cached, result.prompt_tok_s(), result.ids.size(), result.decode_tok_s(),
             HumanBytes(peak_rss), runtime::FinishReasonName(result.finish));
  return kExitOk;
}

}  // namespace ondo::cli
