// Generate: prefill a prompt, then sample and decode until an end-of-generation token, the
// token limit, a full context or the caller's stop. Text is streamed through a callback in
// complete UTF-8 characters.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/script_guard.h"

namespace ondo::runtime {

enum class FinishReason {
  kStop,       // an end-of-generation token was produced
  kLength,     // max_tokens reached
  kContext,    // the KV cache is full
  kCancelled,  // the callback asked to stop
  kLoop,       // the output started repeating itself (loop stop)
};
const char* FinishReasonName(FinishReason r);

// What generation does when the KV cache is full (`--ctx-full`).
enum class ContextFull {
  kStop,   // end with FinishReason::kContext; a prompt longer than the room is OutOfRange
  kSlide,  // Session::Shift: keep the first `keep` tokens, drop half of the rest, go on
};
// "stop", "slide" -> mode; false for anything else.
bool ParseContextFull(std::string_view name, ContextFull* out);
// How many tokens --ctx-full slide discards from a full session keeping the first `keep`:
// half of the rest, but with a ring KV (gemma3's sliding-window layers, once wrapped) no more
// than leaves the window's last ring - 1 positions in place (Session::Shift refuses to drop
// those). At least 1.
int SlideDiscard(const Session& session, int keep);

struct GenerateOptions {
  int max_tokens = 256;           // < 0: until EOG or context end (with kSlide: until EOG)
  // When the context is full. With kSlide, `keep` (0 <= keep < n_ctx) tokens at the start of
  // the context (attention sinks; the prompt's first tokens, BOS included) are never dropped;
  // each shift discards (n_past - keep) / 2 tokens after them (at least 1), as llama.cpp's
  // main does. A prompt longer than the room is then processed in pieces, shifting between
  // them, so every prompt token is seen by the model (a longer wait than truncating to the
  // first `keep` and the last tokens that fit, but no part of the text is skipped).
  ContextFull ctx_full = ContextFull::kStop;
  int keep = 0;
  SamplerOptions sampler;
  // SPM: drop the space before the first generated piece. Off by default: a continuation's
  // leading space is part of the text (llama.cpp's reference output keeps it).
  bool strip_leading_space = false;
  // Never sample an end-of-generation token (benchmarks and tests that need exactly
  // max_tokens tokens; llama.cpp's --ignore-eos).
  bool ignore_eog = false;
  // Script guard (tokenizer/script_guard.h): only tokens it allows may be sampled. Not owned;
  // built once per vocabulary and reset by Generate; nullptr = no restriction.
  tokenizer::ScriptGuard* script_guard = nullptr;
  // Loop stop: generation ends with kLoop when the last `loop_min_repeats` blocks of p tokens
  // are identical for some period p in [2, loop_max_period] covering >= loop_min_span tokens,
  // or one token repeats loop_single_repeats times. loop_max_period = 0 turns it off.
  int loop_max_period = 0;
  int loop_min_repeats = 4;
  int loop_min_span = 12;
  int loop_single_repeats = 16;
  // Prompt cache: the first n_cached prompt tokens are already in the session, at positions
  // n_past() - n_cached.. (Session::LoadPromptCache), so only the rest is prefilled; the
  // sampler still sees the whole prompt. 0 <= n_cached < prompt size.
  int n_cached = 0;
  // Called once after the prompt's prefill, before the first token is sampled (e.g. to save
  // the prompt cache); not part of prompt_ns. nullptr = none.
  void (*after_prefill)(void* user_data, Session& session) = nullptr;
  void* after_prefill_data = nullptr;
};

// Korean answer mode: the script guard (--script) and the loop stop. kAuto turns both on when
// a chat template is applied (ondo's chat templates are for Korean chat) and off for raw
// prompts, which must tokenize and continue exactly as llama.cpp does.
enum class ScriptMode { kAuto, kNone, kKo, kKoHanja };
inline constexpr int kDefaultLoopMaxPeriod = 16;
// "auto", "none", "ko", "ko+hanja" -> mode; false for anything else.
bool ParseScriptMode(std::string_view name, ScriptMode* out);
// Whether the guard is on for `mode` and, if so, the scripts it allows.
bool ResolveScriptMode(ScriptMode mode, bool chat_template_applied, tokenizer::ScriptSet* set);

// True if `ids` ends in a loop as GenerateOptions defines it. Allocates nothing.
bool EndsInLoop(std::span<const int32_t> ids, const GenerateOptions& options);

// Called with each generated token id and the newly completed text (may be empty).
// Return false to stop generation.
using TokenCallback = bool (*)(void* user_data, int32_t id, std::string_view text);

struct GenerateResult {
  std::vector<int32_t> ids;  // generated ids, including a final EOG token if one ended it
  std::string text;          // detokenized text of the generated ids (EOG tokens render empty)
  FinishReason finish = FinishReason::kStop;
  int n_prompt = 0;          // prompt tokens prefilled (those not restored from a cache)
  int n_cached = 0;          // prompt tokens restored from a prompt cache (options.n_cached)
  uint64_t prompt_ns = 0;    // time of the prefill
  uint64_t decode_ns = 0;    // time from the first sampled token to the end
  double prompt_tok_s() const { return prompt_ns ? n_prompt * 1e9 / static_cast<double>(prompt_ns) : 0.0; }
  double decode_tok_s() const;
};

// The session must be fresh or hold a prefix of the prompt's context; prompt is appended.
// `result->ids` and `text` are reserved up front; decoding itself allocates nothing.
Status Generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                TokenCallback callback, void* user_data, GenerateResult* result);

}  // namespace ondo::runtime
