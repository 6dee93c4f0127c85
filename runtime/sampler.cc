// Sampler implementation. RNG: xoshiro256** seeded by splitmix64 (portable, unlike the
// distributions of <random>).
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace ondo::runtime {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Status Sampler::Create(const SamplerOptions& o, int n_vocab, std::unique_ptr<Sampler>* out) {
  if (n_vocab <= 0) return InvalidArgument("vocabulary size {} must be positive", n_vocab);
  if (!std::isfinite(o.temperature)) return InvalidArgument("temperature must be finite");
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) return InvalidArgument("top-p {} must be in (0, 1]", o.top_p);
  if (!(o.min_p >= 0.0f && o.min_p < 1.0f)) return InvalidArgument("min-p {} must be in [0, 1)", o.min_p);
  if (!(o.repeat_penalty > 0.0f) || !std::isfinite(o.repeat_penalty)) return InvalidArgument("repeat penalty {} must be positive", o.repeat_penalty);
  if (o.repeat_last_n < 0 || o.repeat_last_n > (1 << 20)) return InvalidArgument("repeat-last-n {} is out of range", o.repeat_last_n);
  out->reset(new Sampler(o, n_vocab));
  return Status::Ok();
}

Sampler::Sampler(const SamplerOptions& options, int n_vocab)
    : options_(options), n_vocab_(n_vocab) {
  cand_.resize(static_cast<size_t>(n_vocab));
  history_.assign(static_cast<size_t>(std::max(options.repeat_last_n, 1)), -1);
  Reset();
}

void Sampler::Reset() {
  uint64_t s = options_.seed;
  for (auto& r : rng_) r = SplitMix64(&s);
  history_len_ = 0;
  history_pos_ = 0;
}

double Sampler::NextUniform() {
  const uint64_t result = Rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = Rotl(rng_[3], 45);
  return static_cast<double>(result >> 11) * (1.0 / 9007199254740992.0);
}

void Sampler::Accept(int32_t id) {
  if (options_.repeat_last_n == 0) return;
  history_[static_cast<size_t>(history_pos_)] = id;
  history_pos_ = (history_pos_ + 1) % options_.repeat_last_n;
  history_len_ = std::min(history_len_ + 1, options_.repeat_last_n);
}

int32_t Sampler::Sample(const float* logits) {
  const int n = n_vocab_;
  for (int i = 0; i < n; ++i) cand_[static_cast<size_t>(i)] = {logits[i], i, 0.0f};
  if (allowed_ != nullptr) {
    for (int i = 0; i < n; ++i) {
      const bool ok = i < allowed_bits_ && ((allowed_[i >> 6] >> (i & 63)) & 1);
      if (!ok) cand_[static_cast<size_t>(i)].logit = -INFINITY;
    }
  }
  for (int b = 0; b < n_banned_; ++b) {
    const int32_t id = banned_[b];
    if (id >= 0 && id < n) cand_[static_cast<size_t>(id)].logit = -INFINITY;
  }
  if (options_.repeat_penalty != 1.0f) {
    // Each distinct id in the window is penalised once.
    for (int h = 0; h < history_len_; ++h) {
      const int32_t id = history_[static_cast<size_t>(h)];
      if (id < 0 || id >= n) continue;
      bool seen_before = false;
      for (int g = 0; g < h; ++g) seen_before |= history_[static_cast<size_t>(g)] == id;
      if (seen_before) continue;
      float& l = cand_[static_cast<size_t>(id)].logit;
      l = l > 0.0f ? l / options_.repeat_penalty : l * options_.repeat_penalty;
    }
  }
  if (options_.temperature <= 0.0f) {
    int best = 0;
    for (int i = 1; i < n; ++i) {
      if (cand_[static_cast<size_t>(i)].logit > cand_[static_cast<size_t>(best)].logit) best = i;
    }
    return best;
  }
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t k = static_cast<size_t>(n);
  if (options_.top_k > 0 && options_.top_k < n) k = static_cast<size_t>(options_.top_k);
  std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k), cand_.end(), by_logit);

  // Probabilities of the survivors at temperature 1 (top-p and min-p act on these).
  const float max_l = cand_[0].logit;
  double sum = 0.0;
  for (size_t i = 0; i < k; ++i) sum += std::exp(static_cast<double>(cand_[i].logit - max_l));
  for (size_t i = 0; i < k; ++i) cand_[i].p = static_cast<float>(std::exp(static_cast<double>(cand_[i].logit - max_l)) / sum);
  if (options_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = k;
    for (size_t i = 0; i < k; ++i) {
      cum += cand_[i].p;
      if (cum >= options_.top_p) {
        keep = i + 1;
        break;
      }
    }
    k = keep;
  }
  if (options_.min_p > 0.0f) {
    const float floor = options_.min_p * cand_[0].p;
    size_t keep = 1;
    while (keep < k && cand_[keep].p >= floor) ++keep;
    k = keep;
  }
  // Temperature, then draw.
  double total = 0.0;
  for (size_t i = 0; i < k; ++i) {
    const double w = std::exp(static_cast<double>(cand_[i].logit - max_l) / options_.temperature);
    cand_[i].p = static_cast<float>(w);
    total += w;
  }
  const double r = NextUniform() * total;
  double acc = 0.0;
  for (size_t i = 0; i < k; ++i) {
    acc += cand_[i].p;
    if (r < acc) return cand_[i].id;
  }
  return cand_[k - 1].id;
}

}  // namespace ondo::runtime
