// Sampler: repetition penalty, then greedy or top-k -> top-p -> min-p -> temperature -> draw.
// Buffers are sized at Create; Sample() allocates nothing. The random stream depends only on
// the seed, so the same seed gives the same tokens whatever the thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "platform/status.h"

namespace ondo::runtime {

struct SamplerOptions {
  float temperature = 0.8f;    // <= 0: greedy (argmax)
  int top_k = 40;              // <= 0: no limit
  float top_p = 0.95f;         // 1: off
  float min_p = 0.05f;         // 0: off
  float repeat_penalty = 1.0f; // 1: off (llama.cpp's rule: divide positive, multiply negative)
  int repeat_last_n = 64;      // tokens of history the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  static Status Create(const SamplerOptions& options, int n_vocab, std::unique_ptr<Sampler>* out);
  // Bytes Create allocates (candidates, history), for the session's memory plan.
  static uint64_t BytesFor(int n_vocab, int repeat_last_n) {
    return static_cast<uint64_t>(n_vocab) * sizeof(Candidate) +
           static_cast<uint64_t>(repeat_last_n > 1 ? repeat_last_n : 1) * sizeof(int32_t);
  }

  // Picks the next token from n_vocab logits (not modified).
  int32_t Sample(const float* logits);
  // Restricts sampling to the tokens whose bit is set (bit id % 64 of word id / 64); ids
  // past `n_bits` are excluded. nullptr lifts the restriction. The mask is not copied: it
  // must outlive the sampler's use of it. Used by the script guard.
  void SetAllowedMask(const uint64_t* mask, int n_bits) {
    allowed_ = mask;
    allowed_bits_ = n_bits;
  }
  // Tokens that are never sampled (ignore_eog: the end-of-generation tokens). Not copied.
  void SetBannedTokens(const int32_t* ids, int n) {
    banned_ = ids;
    n_banned_ = n;
  }
  // Records a token in the repetition history (prompt tokens too, if wanted).
  void Accept(int32_t id);
  void Reset();
  const SamplerOptions& options() const { return options_; }

 private:
  Sampler(const SamplerOptions& options, int n_vocab);
  double NextUniform();  // [0, 1)

  SamplerOptions options_;
  int n_vocab_;
  uint64_t rng_[4];
  struct Candidate {
    float logit;
    int32_t id;
    float p;
  };
  std::vector<Candidate> cand_;
  std::vector<int32_t> history_;  // ring buffer of repeat_last_n ids
  const uint64_t* allowed_ = nullptr;
  int allowed_bits_ = 0;
  const int32_t* banned_ = nullptr;
  int n_banned_ = 0;
  int history_len_ = 0;
  int history_pos_ = 0;
};

}  // namespace ondo::runtime
