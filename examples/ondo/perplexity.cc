// `ondo perplexity` and `ondo kld`: the perplexity of a model on a text, and the KL divergence
// of its next-token distributions from a reference model's, computed the way llama.cpp's
// llama-perplexity (and its --kl-divergence) computes them, so the figures compare:
//  * the file is read whole and one trailing '\n' dropped (llama.cpp's -f);
//  * the whole text is tokenized once, BOS as the vocabulary says (add_bos), special-token
//    text not parsed;
//  * it is cut into n_tokens / n_ctx non-overlapping chunks of n_ctx tokens (the tail is
//    dropped; --chunks keeps the first N), each evaluated from an empty cache with its first
//    token replaced by BOS when the vocabulary adds BOS;
//  * only the second half of a chunk is scored: for j in [n_ctx/2, n_ctx - 1), the
//    log-probability of token j+1 under the logits after token j, i.e. n_ctx - 1 - n_ctx/2
//    tokens per chunk, each predicted from at least n_ctx/2 tokens of context;
//  * PPL = exp(mean nll), and its uncertainty ppl * sqrt((E[nll^2] - E[nll]^2) / (n - 1)).
// One difference in kld: llama.cpp stores the reference's log-probabilities as 16-bit steps
// over [max - 16, max] and skips tokens below that range; here both distributions come from
// the logits in double precision. KLD agrees to ~3 digits; llama.cpp's "PPL(base)" caps each
// token's nll near 16 + log-sum-exp, so on texts with very unlikely tokens it reads lower
// than the reference's real perplexity, which `ondo kld` reports as ppl_ref.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "examples/ondo/cli.h"
#include "platform/sys_info.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"
#include "runtime/imatrix.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kPerplexitySynopsis = "ondo perplexity -m MODEL -f TEXT [options]";
constexpr std::string_view kPerplexitySummary =
    "Perplexity of MODEL on the text file TEXT, as llama.cpp's llama-perplexity computes it:\n"
    "the text is tokenized whole (BOS per the vocabulary), cut into chunks of --ctx tokens,\n"
    "each evaluated from an empty cache with BOS first, and the second half of every chunk\n"
    "is scored. Prints PPL +/- its uncertainty; progress goes to stderr.";
constexpr std::string_view kKldSynopsis = "ondo kld -m MODEL --ref REF_MODEL -f TEXT [options]";
constexpr std::string_view kKldSummary =
    "KL divergence KL(P_ref || P_model) of MODEL's next-token distributions from REF_MODEL's\n"
    "on the text file TEXT, over the positions llama-perplexity --kl-divergence scores (the\n"
    "second half of each chunk of --ctx tokens). Both models must share the vocabulary.\n"
    "Prints the perplexity of both, KLD statistics (mean, percentiles, max), the change in\n"
    "the actual token's probability and how often the top token agrees.";

constexpr std::string_view kImatrixSynopsis = "ondo imatrix -m MODEL -f TEXT -o FILE [options]";
constexpr std::string_view kImatrixSummary =
    "Importance matrix of MODEL on the calibration text TEXT, as llama.cpp's llama-imatrix\n"
    "computes it: the text is tokenized and cut into chunks of --ctx tokens as for perplexity,\n"
    "and for every matrix of the layers (and the output head with --process-output) the mean\n"
    "of x^2 of each input column over all the chunks' tokens is written to FILE in llama.cpp's\n"
    "imatrix format (readable by llama-quantize --imatrix and `ondo convert --imatrix`).";

constexpr int kMinCtx = 4;

struct EvalArgs {
  std::string model_path, ref_path, text_path, kv_type_name;
  memory::KvType kv_type = memory::KvType::kF16;  // of MODEL's session (kld's reference: f16)
  int n_ctx = 256;
  int n_threads = 0;
  int max_chunks = 0;  // 0: all
  bool json = false;
};

// The options both commands share; kld adds --ref.
void AddEvalOptions(po::options_description* options, EvalArgs* a) {
  options->add_options()
      ("model,m", po::value(&a->model_path)->value_name("FILE")->required(), "GGUF model file")
      ("file,f", po::value(&a->text_path)->value_name("TEXT")->required(), "UTF-8 text file")
      ("ctx,c", po::value(&a->n_ctx)->value_name("N")->default_value(256),
       "tokens per chunk (at most the model's training context)")
      ("threads,t", po::value(&a->n_threads)->value_name("N")->default_value(0),
       "worker threads (0: the usable cores; the big ones on a big.LITTLE CPU)")
      ("chunks", po::value(&a->max_chunks)->value_name("N")->default_value(0),
       "evaluate at most the first N chunks (0: all)")
      ("kv-type", po::value(&a->kv_type_name)->value_name("f16|q8")->default_value("f16"),
       "KV cache element type of MODEL's session (kld: the reference's stays f16, so -m X "
       "--ref X --kv-type q8 measures the 8-bit cache alone): f16 or q8 (q8_0)")
      ("json", "print one JSON object instead of the summary");
}

int CheckEvalArgs(std::string_view command, const po::variables_map& vm, EvalArgs* a) {
  a->json = vm.count("json") != 0;
  if (a->n_ctx < kMinCtx) {
    return UsageError(command, fmt::format("--ctx {} is too small (at least {})", a->n_ctx, kMinCtx));
  }
  if (a->n_threads < 0) return UsageError(command, fmt::format("--threads {} is negative", a->n_threads));
  if (a->max_chunks < 0) return UsageError(command, fmt::format("--chunks {} is negative", a->max_chunks));
  if (Status s = ResolveKvType(a->kv_type_name, &a->kv_type); !s.ok()) return UsageError(command, s.message());
  return -1;
}

// The file as llama.cpp's -f reads it: whole, one trailing newline dropped.
Status ReadText(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '{}'", path);
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return MakeStatus(StatusCode::kIoError, "cannot read '{}'", path);
  if (!text->empty() && text->back() == '\n') text->pop_back();
  return runtime::CheckUtf8(*text, fmt::format("'{}'", path));
}

// One model ready to evaluate chunks: a session of n_ctx tokens prefilling a chunk in one
// pass, and the logits of every position of the chunk (allocated once).
struct Evaluator {
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<runtime::Session> session;
  std::vector<float> logits;   // (n_ctx, n_vocab): row j = logits after token j
  std::vector<int32_t> chunk;  // (n_ctx) the ids evaluated, BOS first
  int n_vocab() const { return model->config().n_vocab; }
};

// kv_type: the session's KV cache element type.
Status OpenEvaluator(const std::string& path, const EvalArgs& a, memory::KvType kv_type, Evaluator* e) {
  ONDO_RETURN_IF_ERROR(runtime::Model::Load(path, &e->model));
  const int n_ctx_train = e->model->config().n_ctx_train;
  if (n_ctx_train > 0 && a.n_ctx > n_ctx_train) {
    return InvalidArgument("--ctx {} is larger than the {} tokens of context '{}' was trained with "
                           "(use --ctx {} or less)", a.n_ctx, n_ctx_train, path, n_ctx_train);
  }
  runtime::SessionOptions options;
  options.n_ctx = a.n_ctx;
  options.n_threads = a.n_threads;
  options.n_batch = a.n_ctx;  // one forward pass per chunk, as llama-perplexity does
  options.kv_type = kv_type;
  ONDO_RETURN_IF_ERROR(runtime::Session::Create(*e->model, options, &e->session));
  e->logits.assign(static_cast<size_t>(a.n_ctx) * static_cast<size_t>(e->n_vocab()), 0.0f);
  e->chunk.assign(static_cast<size_t>(a.n_ctx), 0);
  return Status::Ok();
}

// The text's ids as llama-perplexity tokenizes it.
Status TokenizeText(const runtime::Model& model, const std::string& text, std::vector<int32_t>* ids) {
  tokenizer::EncodeOptions options;
  options.add_special = true;     // BOS when the vocabulary says add_bos
  options.parse_special = false;  // "<s>" in the text is text
  return model.tokenizer().Encode(text, options, ids);
}

// Chunks of n_ctx tokens the text gives, or an error when it is shorter than two.
Status CountChunks(const std::string& text_path, size_t n_tokens, const EvalArgs& a, int* n_chunks) {
  const size_t n_ctx = static_cast<size_t>(a.n_ctx);
  if (n_tokens < 2 * n_ctx) {
    return InvalidArgument("'{}' has {} tokens but --ctx {} needs at least {} (use a longer text or "
                           "a smaller --ctx)", text_path, n_tokens, a.n_ctx, 2 * n_ctx);
  }
  size_t n = n_tokens / n_ctx;
  if (a.max_chunks > 0) n = std::min(n, static_cast<size_t>(a.max_chunks));
  *n_chunks = static_cast<int>(n);
  return Status::Ok();
}

// Runs chunk `index` of `tokens` from an empty cache; afterwards e->logits row j holds the
// logits after token j of the chunk.
Status EvalChunk(const std::vector<int32_t>& tokens, int index, Evaluator* e) {
  const size_t n_ctx = e->chunk.size();
  const auto begin = tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(index) * n_ctx);
  std::copy(begin, begin + static_cast<std::ptrdiff_t>(n_ctx), e->chunk.begin());
  const tokenizer::VocabSpec& v = e->model->tokenizer().spec();
  if (v.add_bos && v.bos_id >= 0) e->chunk[0] = v.bos_id;
  e->session->Reset();
  return e->session->Prefill(e->chunk, e->logits.data());
}

// The text, the model and its session, the text's ids and chunk count, for the commands that
// evaluate one model (perplexity, imatrix).
Status OpenOneModelEval(const EvalArgs& a, Evaluator* e, std::vector<int32_t>* tokens, int* n_chunks) {
  std::string text;
  ONDO_RETURN_IF_ERROR(ReadText(a.text_path, &text));
  ONDO_RETURN_IF_ERROR(OpenEvaluator(a.model_path, a, a.kv_type, e));
  ONDO_RETURN_IF_ERROR(TokenizeText(*e->model, text, tokens));
  return CountChunks(a.text_path, tokens->size(), a, n_chunks);
}

// log(sum_i exp(x_i)) of a row of logits, in double with the maximum subtracted first.
// When `exps` is given it receives exp(x_i - max) and `*sum` their sum, so the
// probabilities are exps[i] / *sum.
double LogSumExp(const float* x, int n, double* exps = nullptr, double* sum = nullptr) {
  const double max = *std::max_element(x, x + n);
  double s = 0.0;
  for (int i = 0; i < n; ++i) {
    const double e = std::exp(static_cast<double>(x[i]) - max);
    if (exps != nullptr) exps[i] = e;
    s += e;
  }
  if (sum != nullptr) *sum = s;
  return max + std::log(s);
}

int Argmax(const float* x, int n) { return static_cast<int>(std::max_element(x, x + n) - x); }

// The mean of n values from their sum and sum of squares, and the standard error of that
// mean (0 when it cannot be estimated), as llama-perplexity reports them.
struct MeanErr {
  double mean = 0.0, err = 0.0;
};
MeanErr MeanAndError(double sum, double sum2, size_t n) {
  MeanErr m;
  if (n == 0) return m;
  m.mean = sum / static_cast<double>(n);
  const double var = sum2 / static_cast<double>(n) - m.mean * m.mean;
  if (var > 0.0 && n > 1) m.err = std::sqrt(var / static_cast<double>(n - 1));
  return m;
}

// llama-perplexity's percentile: linear interpolation between the sorted values at
// fraction * (n - 1). REQUIRES: `sorted` is sorted and not empty.
double Percentile(const std::vector<float>& sorted, double fraction) {
  if (fraction <= 0.0) return sorted.front();
  if (fraction >= 1.0) return sorted.back();
  const double p = fraction * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(p);
  const double t = p - static_cast<double>(i);
  return (1.0 - t) * sorted[i] + t * sorted[std::min(i + 1, sorted.size() - 1)];
}

// Chunk progress on stderr: a bar redrawn in place on a terminal; otherwise one line each
// time another tenth of the chunks is done, so logs stay short.
class Progress {
 public:
  Progress(std::string_view command, int n_chunks)
      : command_(command), n_(n_chunks), tty_(platform::StderrIsTerminal()), start_ns_(platform::NowNs()) {}

  void Update(int done, std::string_view figures) {
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(static_cast<long long>(done) * kWidth / n_);
      fmt::print(stderr, "\r{}: [{}{}] {}/{} chunks{}{}\x1b[K", command_, std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), done, n_, figures.empty() ? "" : ", ", figures);
      if (done == n_) std::fputc('\n', stderr);
    } else if (done == n_ || done * 10 / n_ != (done - 1) * 10 / n_) {
      fmt::print(stderr, "{}: chunk {}/{}{}{}\n", command_, done, n_, figures.empty() ? "" : ", ", figures);
    }
    std::fflush(stderr);
  }

  double seconds() const { return static_cast<double>(platform::NowNs() - start_ns_) * 1e-9; }

 private:
  std::string command_;
  int n_;
  bool tty_;
  uint64_t start_ns_;
};

void PrintPlan(std::string_view command, size_t n_tokens, int n_chunks, int n_ctx) {
  fmt::print(stderr, "{}: {} tokens, {} chunks of {}, scoring the last {} predictions of each\n",
             command, n_tokens, n_chunks, n_ctx, n_ctx - 1 - n_ctx / 2);
}

}  // namespace

int PerplexityCommand(const std::vector<std::string>& args) {
  EvalArgs a;
  int slide_keep = 0;
  po::options_description options("options");
  AddEvalOptions(&options, &a);
  options.add_options()
      ("slide-keep", po::value(&slide_keep)->value_name("N"),
       "instead of fresh chunks, run the whole text through one context of --ctx tokens that "
       "slides when full (keeps the first N tokens, drops half of the rest, as `ondo run "
       "--ctx-full slide --keep N`), scoring the same predictions as the chunked evaluation");
  po::variables_map vm;
  if (int rc = ParseArgs("perplexity", kPerplexitySynopsis, kPerplexitySummary, options, args, &vm);
      rc >= 0) {
    return rc;
  }
  if (int rc = CheckEvalArgs("perplexity", vm, &a); rc >= 0) return rc;

  Evaluator e;
  std::vector<int32_t> tokens;
  int n_chunks = 0;
  if (Status s = OpenOneModelEval(a, &e, &tokens, &n_chunks); !s.ok()) return Error(s);

  const int n_ctx = a.n_ctx, first = n_ctx / 2, n_vocab = e.n_vocab();
  const bool slide = vm.count("slide-keep") != 0;
  if (slide && (slide_keep < 0 || slide_keep >= first)) {
    return UsageError("perplexity", fmt::format("--slide-keep {} must be in [0, --ctx / 2)", slide_keep));
  }
  PrintPlan("perplexity", tokens.size(), n_chunks, n_ctx);
  Progress progress("perplexity", n_chunks);
  double nll = 0.0, nll2 = 0.0;
  size_t count = 0;
  auto score = [&](const float* row, int32_t next) {
    const double v = LogSumExp(row, n_vocab) - row[next];
    nll += v;
    nll2 += v * v;
    ++count;
  };
  if (!slide) {
    for (int c = 0; c < n_chunks; ++c) {
      if (Status s = EvalChunk(tokens, c, &e); !s.ok()) return Error(s);
      for (int j = first; j < n_ctx - 1; ++j) {
        score(e.logits.data() + static_cast<size_t>(j) * n_vocab, e.chunk[static_cast<size_t>(j) + 1]);
      }
      progress.Update(c + 1, fmt::format("ppl {:.4f}", std::exp(nll / static_cast<double>(count))));
    }
  } else {
    // One session over the whole text (BOS first), sliding as generation does: when the
    // context is full, keep the first slide_keep tokens and drop half of the rest. The same
    // predictions as the chunked evaluation are scored (token j + 1 of chunk c from the
    // logits after token j, j in [n_ctx/2, n_ctx - 1)), but from the sliding context.
    std::vector<int32_t> ids(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n_chunks) * n_ctx);
    const tokenizer::VocabSpec& v = e.model->tokenizer().spec();
    if (v.add_bos && v.bos_id >= 0) ids[0] = v.bos_id;
    runtime::Session& session = *e.session;
    session.Reset();
    size_t done = 0;
    while (done + 1 < ids.size()) {
      if (session.n_past() == session.n_ctx()) {
        if (Status s = session.Shift(slide_keep, runtime::SlideDiscard(session, slide_keep)); !s.ok()) return Error(s);
      }
      const size_t n = std::min(ids.size() - 1 - done, static_cast<size_t>(session.n_ctx() - session.n_past()));
      if (Status s = session.Prefill(std::span<const int32_t>(ids.data() + done, n), e.logits.data()); !s.ok()) {
        return Error(s);
      }
      for (size_t i = 0; i < n; ++i) {
        const size_t pos = done + i;  // the logits after token pos predict token pos + 1
        const int j = static_cast<int>(pos % static_cast<size_t>(n_ctx));
        if (j >= first && j < n_ctx - 1) score(e.logits.data() + i * static_cast<size_t>(n_vocab), ids[pos + 1]);
      }
      done += n;
      const int c = static_cast<int>(done / static_cast<size_t>(n_ctx));
      if (c > 0 && count > 0 && done % static_cast<size_t>(n_ctx) < n) {
        progress.Update(std::min(c, n_chunks), fmt::format("ppl {:.4f}", std::exp(nll / static_cast<double>(count))));
      }
    }
    progress.Update(n_chunks, fmt::format("ppl {:.4f}", std::exp(nll / static_cast<double>(std::max<size_t>(count, 1)))));
  }
  const MeanErr m = MeanAndError(nll, nll2, count);
  const double ppl = std::exp(m.mean), ppl_err = ppl * m.err;

  if (a.json) {
    nlohmann::ordered_json j;
    j["ppl"] = ppl;
    j["ppl_err"] = ppl_err;
    j["n_tokens"] = count;
    j["n_chunks"] = n_chunks;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{} chunks of {} tokens, {} tokens scored, {:.1f} s\n", n_chunks, n_ctx, count,
               progress.seconds());
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, ppl_err);
  }
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

int ImatrixCommand(const std::vector<std::string>& args) {
  EvalArgs a;
  std::string out_path;
  po::options_description options("options");
  AddEvalOptions(&options, &a);
  options.add_options()
      ("output,o", po::value(&out_path)->value_name("FILE")->required(), "imatrix file to write")
      ("process-output", "also collect the output head (never a tied one)");
  po::variables_map vm;
  if (int rc = ParseArgs("imatrix", kImatrixSynopsis, kImatrixSummary, options, args, &vm); rc >= 0) {
    return rc;
  }
  if (int rc = CheckEvalArgs("imatrix", vm, &a); rc >= 0) return rc;
  Evaluator e;
  std::vector<int32_t> tokens;
  int n_chunks = 0;
  if (Status s = OpenOneModelEval(a, &e, &tokens, &n_chunks); !s.ok()) return Error(s);
  fmt::print(stderr, "imatrix: {} tokens, {} chunks of {}\n", tokens.size(), n_chunks, a.n_ctx);
  runtime::ImatrixCollector collector(*e.model, vm.count("process-output") != 0);
  e.session->set_observer(&collector);
  Progress progress("imatrix", n_chunks);
  for (int c = 0; c < n_chunks; ++c) {
    if (Status s = EvalChunk(tokens, c, &e); !s.ok()) return Error(s);
    collector.EndChunk();
    progress.Update(c + 1, "");
  }
  e.session->set_observer(nullptr);
  const std::string dataset = std::filesystem::path(a.text_path).filename().string();
  if (Status s = collector.imatrix().Save(out_path, dataset); !s.ok()) return Error(s);
  if (a.json) {
    nlohmann::ordered_json j;
    j["entries"] = collector.imatrix().entries().size();
    j["n_chunks"] = n_chunks;
    j["n_tokens"] = static_cast<size_t>(n_chunks) * static_cast<size_t>(a.n_ctx);
    j["output"] = out_path;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}: {} matrices over {} chunks of {} tokens, {:.1f} s\n", out_path,
               collector.imatrix().entries().size(), n_chunks, a.n_ctx, progress.seconds());
  }
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

int KldCommand(const std::vector<std::string>& args) {
  EvalArgs a;
  po::options_description options("options");
  AddEvalOptions(&options, &a);
  options.add_options()("ref", po::value(&a.ref_path)->value_name("FILE")->required(),
                        "reference GGUF model (same vocabulary), e.g. the F32 or F16 file");
  po::variables_map vm;
  if (int rc = ParseArgs("kld", kKldSynopsis, kKldSummary, options, args, &vm); rc >= 0) return rc;
  if (int rc = CheckEvalArgs("kld", vm, &a); rc >= 0) return rc;

  std::string text;
  if (Status s = ReadText(a.text_path, &text); !s.ok()) return Error(s);
  Evaluator e, r;  // the model under test and the reference
  if (Status s = OpenEvaluator(a.model_path, a, a.kv_type, &e); !s.ok()) return Error(s);
  if (Status s = OpenEvaluator(a.ref_path, a, memory::KvType::kF16, &r); !s.ok()) return Error(s);
  if (e.n_vocab() != r.n_vocab()) {
    return Error(fmt::format("the models have different vocabularies: '{}' has {} tokens, '{}' has "
                             "{} (KL divergence needs the same vocabulary)",
                             a.model_path, e.n_vocab(), a.ref_path, r.n_vocab()));
  }
  std::vector<int32_t> tokens, ref_tokens;
  if (Status s = TokenizeText(*e.model, text, &tokens); !s.ok()) return Error(s);
  if (Status s = TokenizeText(*r.model, text, &ref_tokens); !s.ok()) return Error(s);
  if (tokens != ref_tokens) {
    const auto diff = std::mismatch(tokens.begin(), tokens.end(), ref_tokens.begin(), ref_tokens.end());
    const size_t at = static_cast<size_t>(diff.first - tokens.begin());
    const std::string got = diff.first != tokens.end() ? std::to_string(*diff.first) : "end";
    const std::string want = diff.second != ref_tokens.end() ? std::to_string(*diff.second) : "end";
    return Error(fmt::format("the models tokenize the text differently (token {}: {} in '{}', {} in "
                             "'{}'); KL divergence needs the same vocabulary",
                             at, got, a.model_path, want, a.ref_path));
  }
  int n_chunks = 0;
  if (Status s = CountChunks(a.text_path, tokens.size(), a, &n_chunks); !s.ok()) return Error(s);

  const int n_ctx = a.n_ctx, first = n_ctx / 2, n_vocab = e.n_vocab();
  const size_t n_scored = static_cast<size_t>(n_chunks) * static_cast<size_t>(n_ctx - 1 - first);
  // Sums over the scored tokens: nll of the model and of the reference (their products for
  // the correlation), KL, the change in the actual token's probability.
  double nll = 0, nll2 = 0, nll_ref = 0, nll_ref2 = 0, nll_nll_ref = 0;
  double kld_sum = 0, kld_sum2 = 0, dp_sum = 0, dp_sum2 = 0, dp_sum4 = 0;
  size_t count = 0, same_top = 0;
  std::vector<float> kld_values, dp_values;
  kld_values.reserve(n_scored);
  dp_values.reserve(n_scored);
  std::vector<double> ref_exps(static_cast<size_t>(n_vocab));

  PrintPlan("kld", tokens.size(), n_chunks, n_ctx);
  Progress progress("kld", n_chunks);
  for (int c = 0; c < n_chunks; ++c) {
    if (Status s = EvalChunk(tokens, c, &r); !s.ok()) return Error(s);
    if (Status s = EvalChunk(tokens, c, &e); !s.ok()) return Error(s);
    for (int j = first; j < n_ctx - 1; ++j) {
      const size_t offset = static_cast<size_t>(j) * n_vocab;
      const float* q = e.logits.data() + offset;  // model
      const float* p = r.logits.data() + offset;  // reference
      const int32_t next = e.chunk[static_cast<size_t>(j) + 1];
      const double lse_q = LogSumExp(q, n_vocab);
      double sum_p = 0.0;
      const double lse_p = LogSumExp(p, n_vocab, ref_exps.data(), &sum_p);
      // KL(P || Q) = sum_i P_i (log P_i - log Q_i), with log P_i = p_i - lse_p: exactly 0 for
      // identical logits.
      double kl = 0.0;
      for (int i = 0; i < n_vocab; ++i) {
        const double pi = ref_exps[static_cast<size_t>(i)] / sum_p;
        kl += pi * ((static_cast<double>(p[i]) - lse_p) - (static_cast<double>(q[i]) - lse_q));
      }
      const double v = lse_q - q[next], v_ref = lse_p - p[next];
      const double dp = std::exp(-v) - std::exp(-v_ref);
      nll += v;
      nll2 += v * v;
      nll_ref += v_ref;
      nll_ref2 += v_ref * v_ref;
      nll_nll_ref += v * v_ref;
      kld_sum += kl;
      kld_sum2 += kl * kl;
      dp_sum += dp;
      dp_sum2 += dp * dp;
      dp_sum4 += dp * dp * dp * dp;
      same_top += Argmax(q, n_vocab) == Argmax(p, n_vocab) ? 1 : 0;
      kld_values.push_back(static_cast<float>(kl));
      dp_values.push_back(static_cast<float>(dp));
      ++count;
    }
    progress.Update(c + 1, fmt::format("ppl {:.4f}, ref {:.4f}, mean KLD {:.6f}",
                                       std::exp(nll / static_cast<double>(count)),
                                       std::exp(nll_ref / static_cast<double>(count)),
                                       kld_sum / static_cast<double>(count)));
  }
  std::sort(kld_values.begin(), kld_values.end());
  std::sort(dp_values.begin(), dp_values.end());
  const MeanErr log_ppl = MeanAndError(nll, nll2, count);
  const MeanErr log_ppl_ref = MeanAndError(nll_ref, nll_ref2, count);
  const MeanErr kld = MeanAndError(kld_sum, kld_sum2, count);
  const double ppl = std::exp(log_ppl.mean), ppl_ref = std::exp(log_ppl_ref.mean);
  const double top1 = static_cast<double>(same_top) / static_cast<double>(count);

  if (a.json) {
    nlohmann::ordered_json j;
    j["kld_mean"] = kld.mean;
    j["kld_p99"] = Percentile(kld_values, 0.99);
    j["ppl"] = ppl;
    j["ppl_ref"] = ppl_ref;
    j["top1_agree"] = top1;
    j["n_tokens"] = count;
    j["n_chunks"] = n_chunks;
    j["kv_type"] = memory::KvTypeName(a.kv_type);
    fmt::print("{}\n", j.dump());
    return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
  }

  // The layout of llama-perplexity --kl-divergence's summary; Q is the model, base the reference.
  const double n = static_cast<double>(count);
  const double cov = count > 1 ? (nll_nll_ref / n - log_ppl.mean * log_ppl_ref.mean) / (n - 1) : 0.0;
  const double ppl_err = ppl * log_ppl.err, ppl_ref_err = ppl_ref * log_ppl_ref.err;
  const double ratio_log = log_ppl.mean - log_ppl_ref.mean;
  const double ratio_log_err =
      std::sqrt(std::max(0.0, log_ppl.err * log_ppl.err + log_ppl_ref.err * log_ppl_ref.err - 2 * cov));
  const double diff_err =
      std::sqrt(std::max(0.0, ppl_err * ppl_err + ppl_ref_err * ppl_ref_err - 2 * ppl * ppl_ref * cov));
  const double cor = log_ppl.err > 0 && log_ppl_ref.err > 0 ? cov / (log_ppl.err * log_ppl_ref.err) : 1.0;
  fmt::print("{} chunks of {} tokens, {} tokens scored, {:.1f} s\n\n", n_chunks, n_ctx, count,
             progress.seconds());
  fmt::print("====== Perplexity statistics ======\n");
  fmt::print("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}\n", ppl, ppl_err);
  fmt::print("Mean PPL(base)                : {:10.6f} ± {:10.6f}\n", ppl_ref, ppl_ref_err);
  fmt::print("Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2f}%\n", 100.0 * cor);
  fmt::print("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}\n", ratio_log, ratio_log_err);
  fmt::print("Mean PPL(Q)/PPL(base)         : {:10.6f} ± {:10.6f}\n", std::exp(ratio_log),
             std::exp(ratio_log) * ratio_log_err);
  fmt::print("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}\n\n", ppl - ppl_ref, diff_err);

  fmt::print("====== KL divergence statistics ======\n");
  fmt::print("Mean    KLD: {:10.6f} ± {:10.6f}\n", kld.mean, kld.err);
  fmt::print("Maximum KLD: {:10.6f}\n", kld_values.back());
  for (double f : {0.999, 0.99, 0.95, 0.90, 0.5, 0.10, 0.05, 0.01, 0.001}) {
    if (f == 0.5) {
      fmt::print("Median  KLD: {:10.6f}\n", Percentile(kld_values, f));
    } else {
      fmt::print("{:>4.1f}%   KLD: {:10.6f}\n", 100 * f, Percentile(kld_values, f));
    }
  }
  fmt::print("Minimum KLD: {:10.6f}\n\n", kld_values.front());

  fmt::print("====== Token probability statistics ======\n");
  const MeanErr dp = MeanAndError(dp_sum, dp_sum2, count);
  fmt::print("Mean    Δp: {:6.3f} ± {:5.3f} %\n", 100 * dp.mean, 100 * dp.err);
  fmt::print("Maximum Δp: {:6.3f}%\n", 100 * dp_values.back());
  for (double f : {0.999, 0.99, 0.95, 0.90, 0.75, 0.5, 0.25, 0.10, 0.05, 0.01, 0.001}) {
    if (f == 0.5) {
      fmt::print("Median  Δp: {:6.3f}%\n", 100 * Percentile(dp_values, f));
    } else {
      fmt::print("{:>4.1f}%   Δp: {:6.3f}%\n", 100 * f, 100 * Percentile(dp_values, f));
    }
  }
  fmt::print("Minimum Δp: {:6.3f}%\n", 100 * dp_values.front());
  const MeanErr dp_mse = MeanAndError(dp_sum2, dp_sum4, count);
  const double dp_rms = std::sqrt(dp_mse.mean);
  fmt::print("RMS Δp    : {:6.3f} ± {:5.3f} %\n", 100 * dp_rms, dp_rms > 0 ? 100 * 0.5 / dp_rms * dp_mse.err : 0.0);
  fmt::print("Same top p: {:6.3f} ± {:5.3f} %\n", 100 * top1,
             count > 1 ? 100 * std::sqrt(top1 * (1 - top1) / (n - 1)) : 0.0);
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

}  // namespace ondo::cli
