// The C API (include/ondo.h) over the C++ runtime: handles own C++ objects, Status becomes
// ondo_status plus a thread-local message, and no exception crosses the boundary.
#include "ondo.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/post/post_processor.h"

// Returns a non-OK ondo_status to the caller.
#define ONDO_RETURN_IF_ERROR_C(expr)                     \
  do {                                                   \
    const ondo_status ondo_c_status_ = (expr);           \
    if (ondo_c_status_ != ONDO_OK) return ondo_c_status_; \
  } while (0)

#ifndef ONDO_VERSION_STRING
#define ONDO_VERSION_STRING "0.0.0"
#endif

// ondo_status values are StatusCode values.
static_assert(ONDO_OK == static_cast<int>(ondo::StatusCode::kOk));
static_assert(ONDO_INVALID_ARGUMENT == static_cast<int>(ondo::StatusCode::kInvalidArgument));
static_assert(ONDO_NOT_FOUND == static_cast<int>(ondo::StatusCode::kNotFound));
static_assert(ONDO_CORRUPT == static_cast<int>(ondo::StatusCode::kCorrupt));
static_assert(ONDO_UNSUPPORTED == static_cast<int>(ondo::StatusCode::kUnsupported));
static_assert(ONDO_OUT_OF_MEMORY == static_cast<int>(ondo::StatusCode::kOutOfMemory));
static_assert(ONDO_IO_ERROR == static_cast<int>(ondo::StatusCode::kIoError));
static_assert(ONDO_OUT_OF_RANGE == static_cast<int>(ondo::StatusCode::kOutOfRange));
static_assert(ONDO_INTERNAL == static_cast<int>(ondo::StatusCode::kInternal));

struct ondo_model {
  std::unique_ptr<ondo::runtime::Model> model;
};

struct ondo_session {
  const ondo_model* model = nullptr;
  std::unique_ptr<ondo::runtime::Session> session;
  ondo::runtime::GenerateResult result;  // of the last generation; reused to keep its capacity
  // Script guard of the last generation that used one, with the script set it was built for.
  std::unique_ptr<ondo::tokenizer::ScriptGuard> guard;
  bool guard_hanja = false;
  // Korean post-processor (ondo_generate_params::post), created on first use.
  std::unique_ptr<ondo::korean::PostProcessor> post;
  std::string post_out;
  ondo_generate_stats stats{};
  bool has_stats = false;
};

namespace {

using ondo::Status;

thread_local std::string t_last_error;

ondo_status SetError(ondo_status code, std::string_view message) {
  try {
    t_last_error.assign(message);
  } catch (...) {
    t_last_error.clear();  // no room for the message; the code still tells what happened
  }
  return code;
}

ondo_status FromStatus(const Status& s) {
  if (s.ok()) return ONDO_OK;
  return SetError(static_cast<ondo_status>(s.code()), s.message());
}

// Runs `body` (returning ondo_status) with every exception turned into a status.
template <typename F>
ondo_status Guard(F&& body) noexcept {
  try {
    t_last_error.clear();
    return body();
  } catch (const std::bad_alloc&) {
    return SetError(ONDO_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return SetError(ONDO_INTERNAL, e.what());
  } catch (...) {
    return SetError(ONDO_INTERNAL, "unknown exception");
  }
}

struct CallbackAdapter {
  ondo_token_callback cb;
  void* user_data;
};

bool CallUser(void* user_data, int32_t id, std::string_view text) {
  const auto* a = static_cast<const CallbackAdapter*>(user_data);
  return a->cb(text.data(), text.size(), id, a->user_data) != 0;
}

// The same through the post-processor: the user sees processed text as sentences complete.
struct PostAdapter {
  ondo_token_callback cb;
  void* user_data;
  ondo::korean::PostProcessor* pp;
  std::string* out;
  ondo::Status status;
  bool finished = false;
  bool cancelled = false;
};

bool CallUserPost(void* user_data, int32_t id, std::string_view text) {
  auto* a = static_cast<PostAdapter*>(user_data);
  a->out->clear();
  if (a->status.ok()) {
    a->status = a->pp->Push(text, a->out);
    if (a->status.ok() && id < 0) {
      a->status = a->pp->Finish(a->out);
      a->finished = true;
    }
  } else {
    a->out->assign(text);  // after invalid UTF-8 the rest passes through unprocessed
  }
  const bool go = a->cb(a->out->data(), a->out->size(), id, a->user_data) != 0;
  a->cancelled = a->cancelled || !go;
  return go;
}

ondo_finish_reason ToC(ondo::runtime::FinishReason r) {
  using ondo::runtime::FinishReason;
  switch (r) {
    case FinishReason::kStop: return ONDO_FINISH_STOP;
    case FinishReason::kLength: return ONDO_FINISH_LENGTH;
    case FinishReason::kContext: return ONDO_FINISH_CONTEXT;
    case FinishReason::kCancelled: return ONDO_FINISH_CANCELLED;
    case FinishReason::kLoop: return ONDO_FINISH_LOOP;
  }
  return ONDO_FINISH_STOP;
}

}  // namespace

extern "C" {

const char* ondo_status_string(ondo_status status) {
  switch (status) {
    case ONDO_OK: return "ok";
    case ONDO_INVALID_ARGUMENT: return "invalid argument";
    case ONDO_NOT_FOUND: return "not found";
    case ONDO_CORRUPT: return "corrupt";
    case ONDO_UNSUPPORTED: return "unsupported";
    case ONDO_OUT_OF_MEMORY: return "out of memory";
    case ONDO_IO_ERROR: return "I/O error";
    case ONDO_OUT_OF_RANGE: return "out of range";
    case ONDO_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* ondo_last_error(void) { return t_last_error.c_str(); }

const char* ondo_version(void) { return ONDO_VERSION_STRING; }

ondo_status ondo_model_load(const char* path, ondo_model** out) {
  return Guard([&]() -> ondo_status {
    if (out == nullptr) return SetError(ONDO_INVALID_ARGUMENT, "ondo_model_load: out is NULL");
    *out = nullptr;
    if (path == nullptr) return SetError(ONDO_INVALID_ARGUMENT, "ondo_model_load: path is NULL");
    auto handle = std::make_unique<ondo_model>();
    const ondo_status s = FromStatus(ondo::runtime::Model::Load(path, &handle->model));
    if (s != ONDO_OK) return s;
    *out = handle.release();
    return ONDO_OK;
  });
}

void ondo_model_free(ondo_model* model) { delete model; }

int32_t ondo_model_n_vocab(const ondo_model* model) {
  return model == nullptr ? 0 : model->model->config().n_vocab;
}

ondo_status ondo_tokenize(const ondo_model* model, const char* text, size_t text_len,
                          int add_special, int parse_special, int32_t* ids, size_t capacity,
                          size_t* n_ids) {
  return Guard([&]() -> ondo_status {
    if (model == nullptr || n_ids == nullptr || (text == nullptr && text_len > 0) ||
        (ids == nullptr && capacity > 0)) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_tokenize: NULL argument");
    }
    ondo::tokenizer::EncodeOptions options;
    options.add_special = add_special != 0;
    options.parse_special = parse_special != 0;
    std::vector<int32_t> out;
    const std::string_view sv(text == nullptr ? "" : text, text_len);
    ONDO_RETURN_IF_ERROR_C(FromStatus(ondo::runtime::CheckUtf8(sv, "the text")));
    ONDO_RETURN_IF_ERROR_C(FromStatus(model->model->tokenizer().Encode(sv, options, &out)));
    *n_ids = out.size();
    if (out.size() > capacity) {
      return SetError(ONDO_OUT_OF_RANGE, "ondo_tokenize: the text needs " +
                                             std::to_string(out.size()) + " ids but the buffer holds " +
                                             std::to_string(capacity));
    }
    if (!out.empty()) std::memcpy(ids, out.data(), out.size() * sizeof(int32_t));
    return ONDO_OK;
  });
}

ondo_session_params ondo_session_params_default(void) {
  ondo_session_params p;
  p.n_ctx = 0;
  p.n_threads = 0;
  p.budget_bytes = 0;
  p.kv_type = ONDO_KV_F16;
  return p;
}

ondo_status ondo_session_create(const ondo_model* model, const ondo_session_params* params,
                                ondo_session** out) {
  return Guard([&]() -> ondo_status {
    if (out == nullptr) return SetError(ONDO_INVALID_ARGUMENT, "ondo_session_create: out is NULL");
    *out = nullptr;
    if (model == nullptr) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_session_create: model is NULL");
    }
    const ondo_session_params p = params != nullptr ? *params : ondo_session_params_default();
    if (p.n_threads < 0) {
      return SetError(ONDO_INVALID_ARGUMENT,
                      "n_threads " + std::to_string(p.n_threads) + " is negative");
    }
    ondo::runtime::SessionOptions options;
    options.n_ctx = p.n_ctx;
    options.n_threads = p.n_threads;
    // 0: the default budget (cgroup limit or physical RAM, minus the margin).
    options.budget = p.budget_bytes != 0 ? ondo::memory::GivenBudget(p.budget_bytes) : ondo::memory::DefaultBudget();
    switch (p.kv_type) {
      case ONDO_KV_F16: options.kv_type = ondo::memory::KvType::kF16; break;
      case ONDO_KV_Q8_0: options.kv_type = ondo::memory::KvType::kQ8_0; break;
      default: return SetError(ONDO_INVALID_ARGUMENT, "ondo_session_create: unknown kv_type value");
    }
    auto handle = std::make_unique<ondo_session>();
    handle->model = model;
    ONDO_RETURN_IF_ERROR_C(
        FromStatus(ondo::runtime::Session::Create(*model->model, options, &handle->session)));
    *out = handle.release();
    return ONDO_OK;
  });
}

void ondo_session_free(ondo_session* session) { delete session; }

int32_t ondo_session_n_ctx(const ondo_session* session) {
  return session == nullptr ? 0 : session->session->n_ctx();
}

ondo_generate_params ondo_generate_params_default(void) {
  const ondo::runtime::GenerateOptions d;
  ondo_generate_params p;
  p.max_tokens = d.max_tokens;
  p.temperature = d.sampler.temperature;
  p.top_k = d.sampler.top_k;
  p.top_p = d.sampler.top_p;
  p.min_p = d.sampler.min_p;
  p.repeat_penalty = d.sampler.repeat_penalty;
  p.seed = d.sampler.seed;
  p.chat = 0;
  p.raw = 0;
  p.system = nullptr;
  p.script = ONDO_SCRIPT_AUTO;
  p.loop_stop = -1;
  p.post = -1;
  p.ctx_full = ONDO_CTX_FULL_STOP;
  p.keep = 0;
  p.spacing = -1;
  return p;
}

ondo_status ondo_generate(ondo_session* session, const char* prompt,
                          const ondo_generate_params* params, ondo_token_callback cb,
                          void* user_data) {
  return Guard([&]() -> ondo_status {
    if (session == nullptr) return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: session is NULL");
    if (prompt == nullptr) return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: prompt is NULL");
    const ondo_generate_params p = params != nullptr ? *params : ondo_generate_params_default();
    if (p.chat != 0 && p.raw != 0) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: chat and raw are both set");
    }
    session->has_stats = false;
    const ondo::runtime::Model& model = *session->model->model;

    ondo::runtime::PromptOptions prompt_options;
    prompt_options.mode = p.raw != 0    ? ondo::runtime::PromptMode::kRaw
                          : p.chat != 0 ? ondo::runtime::PromptMode::kChat
                                        : ondo::runtime::PromptMode::kAuto;
    if (p.system != nullptr) prompt_options.system = p.system;
    ondo::runtime::PreparedPrompt prepared;
    ONDO_RETURN_IF_ERROR_C(
        FromStatus(ondo::runtime::PreparePrompt(model, prompt, prompt_options, &prepared)));

    ondo::runtime::GenerateOptions options;
    options.max_tokens = p.max_tokens;
    options.sampler.temperature = p.temperature;
    options.sampler.top_k = p.top_k;
    options.sampler.top_p = p.top_p;
    options.sampler.min_p = p.min_p;
    options.sampler.repeat_penalty = p.repeat_penalty;
    options.sampler.seed = p.seed;
    ondo::runtime::ScriptMode mode;
    switch (p.script) {
      case ONDO_SCRIPT_AUTO: mode = ondo::runtime::ScriptMode::kAuto; break;
      case ONDO_SCRIPT_NONE: mode = ondo::runtime::ScriptMode::kNone; break;
      case ONDO_SCRIPT_KO: mode = ondo::runtime::ScriptMode::kKo; break;
      case ONDO_SCRIPT_KO_HANJA: mode = ondo::runtime::ScriptMode::kKoHanja; break;
      default: return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: unknown script value");
    }
    if (p.loop_stop < -1 || p.loop_stop > 1) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: loop_stop must be -1, 0 or 1");
    }
    if (p.post < -1 || p.post > 1) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: post must be -1, 0 or 1");
    }
    if (p.spacing < -1 || p.spacing > 1) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: spacing must be -1, 0 or 1");
    }
    switch (p.ctx_full) {
      case ONDO_CTX_FULL_STOP: options.ctx_full = ondo::runtime::ContextFull::kStop; break;
      case ONDO_CTX_FULL_SLIDE: options.ctx_full = ondo::runtime::ContextFull::kSlide; break;
      default: return SetError(ONDO_INVALID_ARGUMENT, "ondo_generate: unknown ctx_full value");
    }
    if (p.keep < 0 || p.keep >= session->session->n_ctx()) {
      return SetError(ONDO_INVALID_ARGUMENT, fmt::format("ondo_generate: keep {} is not in [0, {}) (the context size)",
                                                         p.keep, session->session->n_ctx()));
    }
    options.keep = p.keep;
    const bool chat_applied = prepared.format != ondo::runtime::ChatFormat::kNone;
    ondo::tokenizer::ScriptSet set;
    if (ondo::runtime::ResolveScriptMode(mode, chat_applied, &set)) {
      if (session->guard == nullptr || session->guard_hanja != set.hanja) {
        session->guard = std::make_unique<ondo::tokenizer::ScriptGuard>(model.tokenizer(), set);
        session->guard_hanja = set.hanja;
      }
      options.script_guard = session->guard.get();
    }
    if (p.loop_stop == 1 || (p.loop_stop == -1 && chat_applied)) {
      options.loop_max_period = ondo::runtime::kDefaultLoopMaxPeriod;
    }

    const bool post = cb != nullptr && (p.post == 1 || (p.post == -1 && chat_applied));
    const bool spacing = p.spacing == 1 || (p.spacing == -1 && ondo::korean::kSpacingAuto);
    if (post && (session->post == nullptr || session->post->options().spacing != spacing)) {
      const ondo::korean::Analyzer* analyzer = nullptr;
      // One analyzer for the whole process, created on first use (a few ms: its tables are
      // read in place from the library's read-only data) and shared by every session.
      ONDO_RETURN_IF_ERROR_C(FromStatus(ondo::korean::Analyzer::Shared(&analyzer)));
      ondo::korean::PostOptions post_options;
      post_options.spacing = spacing;
      ONDO_RETURN_IF_ERROR_C(FromStatus(ondo::korean::PostProcessor::Create(
          analyzer, post_options, &session->post)));
      session->post_out.reserve(8192);
    }
    if (post) session->post->Reset();

    session->session->Reset();
    CallbackAdapter adapter{cb, user_data};
    PostAdapter post_adapter{cb, user_data, session->post.get(), &session->post_out, {}};
    ondo::runtime::GenerateResult& r = session->result;
    ondo::runtime::TokenCallback callback = nullptr;
    void* callback_data = nullptr;
    if (post) {
      callback = &CallUserPost;
      callback_data = &post_adapter;
    } else if (cb != nullptr) {
      callback = &CallUser;
      callback_data = &adapter;
    }
    ONDO_RETURN_IF_ERROR_C(FromStatus(ondo::runtime::Generate(
        *session->session, prepared.ids, options, callback, callback_data, &r)));
    if (post && !post_adapter.finished && !post_adapter.cancelled) {
      session->post_out.clear();
      if (post_adapter.status.ok() && session->post->Finish(&session->post_out).ok() &&
          !session->post_out.empty()) {
        cb(session->post_out.data(), session->post_out.size(), -1, user_data);
      }
    }
    session->stats.finish_reason = ToC(r.finish);
    session->stats.n_prompt_tokens = r.n_prompt;
    session->stats.n_generated_tokens = static_cast<int32_t>(r.ids.size());
    session->stats.prompt_tok_s = r.prompt_tok_s();
    session->stats.decode_tok_s = r.decode_tok_s();
    session->has_stats = true;
    return ONDO_OK;
  });
}

ondo_status ondo_session_last_stats(const ondo_session* session, ondo_generate_stats* out) {
  return Guard([&]() -> ondo_status {
    if (session == nullptr || out == nullptr) {
      return SetError(ONDO_INVALID_ARGUMENT, "ondo_session_last_stats: NULL argument");
    }
    if (!session->has_stats) {
      return SetError(ONDO_NOT_FOUND, "ondo_session_last_stats: no successful generation yet");
    }
    *out = session->stats;
    return ONDO_OK;
  });
}

}  // extern "C"
