// Sampler: greedy is argmax, filters keep exactly the tokens their definitions keep, draws
// follow the softmax distribution, and the same seed gives the same sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "runtime/sampler.h"

namespace ondo::runtime {
namespace {

std::unique_ptr<Sampler> Make(SamplerOptions o, int n_vocab) {
  std::unique_ptr<Sampler> s;
  EXPECT_TRUE(Sampler::Create(o, n_vocab, &s).ok());
  return s;
}

TEST(Sampler, GreedyIsArgmaxWithFirstIndexOnTies) {
  SamplerOptions o;
  o.temperature = 0.0f;
  auto s = Make(o, 6);
  std::vector<float> l = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f, 0.0f};
  EXPECT_EQ(s->Sample(l.data()), 1);
  l[4] = 7.0f;
  EXPECT_EQ(s->Sample(l.data()), 4);
}

TEST(Sampler, RepetitionPenaltyFollowsLlamaCppRule) {
  // Positive logits are divided by the penalty, negative ones multiplied.
  SamplerOptions o;
  o.temperature = 0.0f;
  o.repeat_penalty = 2.0f;
  o.repeat_last_n = 4;
  auto s = Make(o, 3);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  s->Accept(0);
  EXPECT_EQ(s->Sample(l.data()), 1);  // 3/2 = 1.5 < 2
  s->Accept(1);
  s->Accept(1);                       // counted once
  EXPECT_EQ(s->Sample(l.data()), 0);  // 1.5 > 1.0
  // Once id 0 leaves the window of 4, it is no longer penalised.
  s->Accept(2);
  s->Accept(2);
  s->Accept(2);
  s->Accept(2);
  EXPECT_EQ(s->Sample(l.data()), 0);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplerOptions o;
  o.temperature = 1.5f;
  o.top_k = 1;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  auto s = Make(o, 5);
  std::vector<float> l = {0.1f, 0.2f, 0.9f, 0.3f, 0.85f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s->Sample(l.data()), 2);
}

// Draw many samples and compare frequencies with the exact distribution the options define.
std::map<int, double> Frequencies(Sampler& s, const std::vector<float>& l, int n) {
  std::map<int, double> f;
  for (int i = 0; i < n; ++i) f[s.Sample(l.data())] += 1.0 / n;
  return f;
}

TEST(Sampler, DrawsFollowTemperatureSoftmax) {
  SamplerOptions o;
  o.temperature = 0.7f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  o.seed = 7;
  auto s = Make(o, 4);
  std::vector<float> l = {1.0f, 0.0f, -0.5f, 0.3f};
  std::vector<double> p(4);
  double z = 0;
  for (int i = 0; i < 4; ++i) z += p[i] = std::exp(l[i] / 0.7);
  const int n = 200000;
  auto f = Frequencies(*s, l, n);
  for (int i = 0; i < 4; ++i) {
    const double expect = p[i] / z;
    const double sigma = std::sqrt(expect * (1 - expect) / n);
    EXPECT_NEAR(f[i], expect, 5 * sigma) << "token " << i;
  }
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // p = softmax([2, 1, 0, -1]) = .644 .237 .087 .032: top-p 0.85 keeps ids 0 and 1.
  SamplerOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 0.85f;
  o.min_p = 0.0f;
  auto s = Make(o, 4);
  std::vector<float> l = {2.0f, 1.0f, 0.0f, -1.0f};
  auto f = Frequencies(*s, l, 20000);
  EXPECT_EQ(f.count(2) + f.count(3), 0u);
  EXPECT_NEAR(f[0], 0.644 / (0.644 + 0.237), 0.02);
}

TEST(Sampler, MinPDropsTokensBelowFractionOfBest) {
  // min-p 0.3: keep p_i >= 0.3 * p_max -> exp(l_i - l_max) >= 0.3 -> l_i >= l_max - 1.204.
  SamplerOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.3f;
  auto s = Make(o, 4);
  std::vector<float> l = {0.0f, -1.1f, -1.3f, -5.0f};
  auto f = Frequencies(*s, l, 20000);
  EXPECT_GT(f[1], 0.0);
  EXPECT_EQ(f.count(2) + f.count(3), 0u);
}

TEST(Sampler, SameSeedSameSequenceAndResetRestarts) {
  SamplerOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  o.seed = 42;
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[static_cast<size_t>(i)] = std::sin(i * 0.37f);
  auto a = Make(o, 100);
  auto b = Make(o, 100);
  std::vector<int> sa, sb;
  for (int i = 0; i < 50; ++i) sa.push_back(a->Sample(l.data()));
  for (int i = 0; i < 50; ++i) sb.push_back(b->Sample(l.data()));
  EXPECT_EQ(sa, sb);
  a->Reset();
  std::vector<int> sc;
  for (int i = 0; i < 50; ++i) sc.push_back(a->Sample(l.data()));
  EXPECT_EQ(sa, sc);
  o.seed = 43;
  auto c = Make(o, 100);
  std::vector<int> sd;
  for (int i = 0; i < 50; ++i) sd.push_back(c->Sample(l.data()));
  EXPECT_NE(sa, sd);
}

TEST(Sampler, RejectsInvalidOptions) {
  std::unique_ptr<Sampler> s;
  SamplerOptions o;
  o.top_p = 0.0f;
  EXPECT_EQ(Sampler::Create(o, 10, &s).code(), StatusCode::kInvalidArgument);
  o = SamplerOptions{};
  o.min_p = 1.5f;
  EXPECT_EQ(Sampler::Create(o, 10, &s).code(), StatusCode::kInvalidArgument);
  o = SamplerOptions{};
  o.temperature = NAN;
  EXPECT_EQ(Sampler::Create(o, 10, &s).code(), StatusCode::kInvalidArgument);
  o = SamplerOptions{};
  EXPECT_EQ(Sampler::Create(o, 0, &s).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ondo::runtime
