// Generation loop.
#include "runtime/generate.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "platform/sys_info.h"

namespace ondo::runtime {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kContext: return "context";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kLoop: return "loop";
  }
  return "?";
}

bool ParseContextFull(std::string_view name, ContextFull* out) {
  if (name == "stop") *out = ContextFull::kStop;
  else if (name == "slide") *out = ContextFull::kSlide;
  else return false;
  return true;
}

int SlideDiscard(const Session& session, int keep) {
  int discard = std::max(1, (session.n_past() - keep) / 2);
  const int ring = session.plan().kv_ring_rows;
  if (ring > 0 && session.n_past() > ring) {
    discard = std::max(1, std::min(discard, session.n_past() - keep - (ring - 1)));
  }
  return discard;
}

namespace {

// Frees room for at least one token at the end of a full context (kSlide).
Status SlideContext(Session& session, int keep) { return session.Shift(keep, SlideDiscard(session, keep)); }

}  // namespace

bool ParseScriptMode(std::string_view name, ScriptMode* out) {
  if (name == "auto") *out = ScriptMode::kAuto;
  else if (name == "none") *out = ScriptMode::kNone;
  else if (name == "ko") *out = ScriptMode::kKo;
  else if (name == "ko+hanja") *out = ScriptMode::kKoHanja;
  else return false;
  return true;
}

bool ResolveScriptMode(ScriptMode mode, bool chat_template_applied, tokenizer::ScriptSet* set) {
  *set = tokenizer::ScriptSet{};
  switch (mode) {
    case ScriptMode::kNone: return false;
    case ScriptMode::kAuto: return chat_template_applied;
    case ScriptMode::kKo: return true;
    case ScriptMode::kKoHanja: set->hanja = true; return true;
  }
  return false;
}

bool EndsInLoop(std::span<const int32_t> ids, const GenerateOptions& o) {
  if (o.loop_max_period <= 0) return false;
  const size_t n = ids.size();
  // Single token flood.
  if (o.loop_single_repeats > 1 && n >= static_cast<size_t>(o.loop_single_repeats)) {
    bool same = true;
    for (size_t i = n - static_cast<size_t>(o.loop_single_repeats); i < n && same; ++i) {
      same = ids[i] == ids[n - 1];
    }
    if (same) return true;
  }
  for (int p = 2; p <= o.loop_max_period; ++p) {
    const int repeats = std::max(o.loop_min_repeats, (o.loop_min_span + p - 1) / p);
    const size_t span = static_cast<size_t>(p) * static_cast<size_t>(repeats);
    if (span > n) break;
    // A run of one token is a flood, judged by loop_single_repeats above, not a period-p loop.
    bool flood = true;
    for (size_t i = n - static_cast<size_t>(p); i < n && flood; ++i) flood = ids[i] == ids[n - 1];
    if (flood) continue;
    bool periodic = true;
    for (size_t i = n - span; i + static_cast<size_t>(p) < n && periodic; ++i) {
      periodic = ids[i] == ids[i + static_cast<size_t>(p)];
    }
    if (periodic) return true;
  }
  return false;
}

double GenerateResult::decode_tok_s() const {
  // The first token comes from the prefill's logits; decode time covers the rest.
  const size_t n = ids.size();
  return (decode_ns && n > 1) ? static_cast<double>(n - 1) * 1e9 / static_cast<double>(decode_ns) : 0.0;
}

Status Generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                TokenCallback callback, void* user_data, GenerateResult* result) {
  const tokenizer::Tokenizer& tok = session.model().tokenizer();
  std::unique_ptr<Sampler> sampler;
  ONDO_RETURN_IF_ERROR(Sampler::Create(options.sampler, session.n_vocab(), &sampler));
  std::vector<int32_t> eog_ids;
  if (options.ignore_eog) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (tok.IsEog(id)) eog_ids.push_back(id);
    }
    sampler->SetBannedTokens(eog_ids.data(), static_cast<int>(eog_ids.size()));
  }
  tokenizer::ScriptGuard* guard = options.script_guard;
  if (guard != nullptr) {
    if (guard->n_bits() != tok.n_vocab()) {
      return InvalidArgument("the script guard was built for another vocabulary ({} tokens, not {})",
                             guard->n_bits(), tok.n_vocab());
    }
    guard->Reset();
  }
  *result = GenerateResult{};
  if (prompt.empty()) return InvalidArgument("the prompt is empty (no tokens)");
  if (options.n_cached < 0 || static_cast<size_t>(options.n_cached) >= prompt.size() ||
      options.n_cached > session.n_past()) {
    return InvalidArgument("n_cached {} is not in [0, {}) or exceeds the session's {} tokens", options.n_cached,
                           prompt.size(), session.n_past());
  }
  // The sampler accepts the whole prompt below; only the part not in the session is prefilled.
  const std::span<const int32_t> full_prompt = prompt;
  prompt = prompt.subspan(static_cast<size_t>(options.n_cached));
  const bool slide = options.ctx_full == ContextFull::kSlide;
  if (slide && (options.keep < 0 || options.keep >= session.n_ctx())) {
    return InvalidArgument("keep {} is not in [0, {}) (the context size)", options.keep, session.n_ctx());
  }
  const int room = session.n_ctx() - session.n_past();
  if (!slide && prompt.size() > static_cast<size_t>(room)) {
    return OutOfRange("the prompt has {} tokens but the context holds {} ({} free); use a larger --ctx or "
                      "--ctx-full slide",
                      prompt.size(), session.n_ctx(), room);
  }
  // max_tokens < 0: no token limit; stop ends at the full context (room - prompt + 1 tokens,
  // the last sampled from the full context), slide only at an end token. With slide `ids`
  // and `text` are then reserved for a few contexts' worth and beyond that grow
  // geometrically (a logarithmic number of allocations over the run, not one per token).
  const int limit = options.max_tokens < 0 ? std::numeric_limits<int>::max() : options.max_tokens;
  const size_t reserve = options.max_tokens >= 0 ? static_cast<size_t>(options.max_tokens)
                         : slide                 ? 4 * static_cast<size_t>(session.n_ctx())
                                                 : static_cast<size_t>(std::max(0, room - static_cast<int>(prompt.size())) + 1);
  result->ids.reserve(reserve + 1);
  result->text.reserve(reserve * 16 + 64);
  std::string piece;
  piece.reserve(256);
  tokenizer::StreamDecoder decoder(tok, options.strip_leading_space);

  result->n_prompt = static_cast<int>(prompt.size());
  result->n_cached = options.n_cached;
  uint64_t t0 = platform::NowNs();
  if (prompt.size() <= static_cast<size_t>(room)) {
    ONDO_RETURN_IF_ERROR(session.Prefill(prompt));
  } else {
    // Slide: as much as fits, then shift, and so on.
    size_t done = 0;
    while (done < prompt.size()) {
      if (session.n_past() >= session.n_ctx()) ONDO_RETURN_IF_ERROR(SlideContext(session, options.keep));
      const size_t n = std::min(prompt.size() - done, static_cast<size_t>(session.n_ctx() - session.n_past()));
      ONDO_RETURN_IF_ERROR(session.Prefill(prompt.subspan(done, n)));
      done += n;
    }
  }
  result->prompt_ns = platform::NowNs() - t0;
  if (options.after_prefill != nullptr) options.after_prefill(options.after_prefill_data, session);
  for (int32_t id : full_prompt) sampler->Accept(id);

  uint64_t t1 = platform::NowNs();
  result->finish = FinishReason::kLength;
  for (int i = 0; i < limit; ++i) {
    if (guard != nullptr) sampler->SetAllowedMask(guard->Mask(), guard->n_bits());
    const int32_t id = sampler->Sample(session.logits());
    sampler->Accept(id);
    if (guard != nullptr) guard->Accept(id);
    result->ids.push_back(id);
    piece.clear();
    const bool eog = tok.IsEog(id);
    if (!eog) decoder.Push(id, &piece);
    result->text += piece;
    if (callback != nullptr && !callback(user_data, id, piece)) {
      result->finish = FinishReason::kCancelled;
      break;
    }
    if (eog) {
      result->finish = FinishReason::kStop;
      break;
    }
    if (EndsInLoop(result->ids, options)) {
      result->finish = FinishReason::kLoop;
      break;
    }
    if (i + 1 == limit) break;
    if (session.n_past() >= session.n_ctx()) {
      if (!slide) {
        result->finish = FinishReason::kContext;
        break;
      }
      ONDO_RETURN_IF_ERROR(SlideContext(session, options.keep));
    }
    ONDO_RETURN_IF_ERROR(session.Decode(id));
  }
  piece.clear();
  decoder.Flush(&piece);
  if (!piece.empty()) {
    result->text += piece;
    if (callback != nullptr) (void)callback(user_data, -1, piece);
  }
  result->decode_ns = platform::NowNs() - t1;
  return Status::Ok();
}

}  // namespace ondo::runtime
