// Reference forward pass and synthetic model builder. Each architecture is written out from
// its Hugging Face definition, with the tensor conventions llama.cpp's converter produces:
//   llama:   x += Wo·attn(rope_normal(Wq·rms(x)), rope_normal(Wk·rms(x)), Wv·rms(x));
//            x += Wdown·(silu(Wgate·rms(x)) * Wup·rms(x)). The converter permutes Wq/Wk so
//            that rotating adjacent pairs (2i, 2i+1) equals HF's rotate_half.
//   qwen2:   llama with biases on q, k, v and NEOX rope (pairs i, i + n_rot/2).
//   qwen3:   llama with NEOX rope and RMSNorm over each q and k head (own weights) before rope.
//   gptneox: LayerNorm with bias; fused [Q; K; V] projection with bias; partial rotary (the
//            first n_rot dims of a head, NEOX pairs); GELU (tanh form, as llama.cpp computes
//            it) MLP with biases; parallel residual x + attn(ln1(x)) + mlp(ln2(x)), or
//            sequential when use_parallel_residual is false.
//   gemma3:  Hugging Face's modeling_gemma3 (Gemma3ForCausalLM, text only): x = embed *
//            sqrt(n_embd); per layer
//              h = x + post_attention_norm(Wo·attn(rope(q_norm(Wq·rms(x))), rope(k_norm(Wk·rms(x))),
//                                                   Wv·rms(x)))
//              x = h + post_feedforward_norm(Wdown·(gelu_tanh(Wgate·rms(h)) * Wup·rms(h)))
//            with NEOX rope, per-head q/k RMSNorm, scale query_pre_attn_scalar^-0.5 =
//            head_dim^-0.5; a layer i with (i + 1) % 6 != 0 is a sliding-window layer: query
//            t sees keys j with t - j < sliding_window and rotates with the local base
//            (rope_local_base_freq), others see 0..t with the file's base. Gemma's RMSNorm
//            multiplies by (1 + w); llama.cpp's converter stores 1 + w, which is what the
//            reference holds, so every norm here is x * rms * stored.
// Everything is double; rope angles are pos * inv_freq_i evaluated directly, inv_freq_i =
// base^(-2i/n_rot) with llama3 or YaRN scaling as Hugging Face's modeling_rope_utils computes
// them (_compute_llama3_parameters, _compute_yarn_parameters).
#include "tests/runtime/reference_forward.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace ondo::test {
namespace {

using Vec = std::vector<double>;

// y = W x (+ b), W is n_out rows of n_in.
Vec MatVec(const Vec& w, const Vec& x, size_t n_out, const Vec* b = nullptr) {
  const size_t n_in = x.size();
  assert(w.size() == n_in * n_out);
  Vec y(n_out);
  for (size_t o = 0; o < n_out; ++o) {
    double s = 0.0;
    for (size_t i = 0; i < n_in; ++i) s += w[o * n_in + i] * x[i];
    y[o] = s + (b != nullptr && !b->empty() ? (*b)[o] : 0.0);
  }
  return y;
}

Vec RmsNorm(const Vec& x, const Vec& w, double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * w[i];
  return y;
}

Vec LayerNorm(const Vec& x, const Vec& w, const Vec& b, double eps) {
  const double n = static_cast<double>(x.size());
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= n;
  double var = 0.0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= n;
  const double r = 1.0 / std::sqrt(var + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) * r * w[i] + b[i];
  return y;
}

Vec Norm(const RefConfig& c, const Vec& x, const Vec& w, const Vec& b) {
  return c.arch == RefArch::kGptNeox ? LayerNorm(x, w, b, c.norm_eps) : RmsNorm(x, w, c.norm_eps);
}

// Rotates the first n_rot dims of the head starting at x[off].
void Rope(const RefConfig& c, const std::vector<double>& inv_freq, Vec& x, size_t off, int pos) {
  const bool neox = c.arch != RefArch::kLlama;
  const int half = c.n_rot / 2;
  const double m = RefRopeMagnitude(c);
  for (int i = 0; i < half; ++i) {
    const double theta = pos * inv_freq[static_cast<size_t>(i)];
    const size_t i0 = off + (neox ? i : 2 * i);
    const size_t i1 = off + (neox ? i + half : 2 * i + 1);
    const double a = x[i0], b = x[i1];
    x[i0] = m * (a * std::cos(theta) - b * std::sin(theta));
    x[i1] = m * (a * std::sin(theta) + b * std::cos(theta));
  }
}

double Silu(double g) { return g / (1.0 + std::exp(-g)); }
double GeluTanh(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

Vec Add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

}  // namespace

const char* RefArchName(RefArch arch) {
  switch (arch) {
    case RefArch::kLlama: return "llama";
    case RefArch::kQwen2: return "qwen2";
    case RefArch::kQwen3: return "qwen3";
    case RefArch::kGptNeox: return "gptneox";
    case RefArch::kGemma3: return "gemma3";
    case RefArch::kExaone: return "exaone";
  }
  return "?";
}

std::vector<double> RefInvFreq(const RefConfig& c) {
  const int half = c.n_rot / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) inv[static_cast<size_t>(i)] = std::pow(c.rope_base, -2.0 * i / c.n_rot);
  const double two_pi = 2.0 * std::numbers::pi;
  if (c.llama3_factor > 0.0) {
    // _compute_llama3_parameters: low frequencies divided by factor, high ones kept, a smooth
    // mix of the two in between (by wavelength against the original context).
    const double factor = c.llama3_factor, lo = c.llama3_low_freq_factor, hi = c.llama3_high_freq_factor;
    const double old_ctx = c.llama3_original_context;
    const double low_freq_wavelen = old_ctx / lo, high_freq_wavelen = old_ctx / hi;
    for (double& f : inv) {
      const double wavelen = two_pi / f;
      double llama = wavelen > low_freq_wavelen ? f / factor : f;
      const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
      const double smoothed = (1.0 - smooth) * llama / factor + smooth * llama;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      f = medium ? smoothed : llama;
    }
  }
  if (c.yarn_factor > 0.0) {
    // _compute_yarn_parameters: interpolated (/ factor) and extrapolated frequencies mixed by a
    // linear ramp over the pair index between the correction dims of beta_fast and beta_slow.
    const double dim = c.n_rot, base = c.rope_base, orig = c.yarn_original_context;
    auto corr_dim = [&](double n_rotations) {
      return dim * std::log(orig / (n_rotations * two_pi)) / (2.0 * std::log(base));
    };
    const double low = std::max(std::floor(corr_dim(c.yarn_beta_fast)), 0.0);
    double high = std::min(std::ceil(corr_dim(c.yarn_beta_slow)), dim - 1.0);
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrapolation_factor = 1.0 - ramp;
      const double extrap = inv[static_cast<size_t>(i)];
      const double interp = extrap / c.yarn_factor;
      inv[static_cast<size_t>(i)] = interp * (1.0 - extrapolation_factor) + extrap * extrapolation_factor;
    }
  }
  return inv;
}

double RefRopeMagnitude(const RefConfig& c) {
  // get_mscale(factor) = 0.1 ln(factor) + 1 (1 for factor <= 1).
  if (c.yarn_factor > 1.0) return 0.1 * std::log(c.yarn_factor) + 1.0;
  return 1.0;
}

std::vector<double> Llama3RopeFactors(const RefConfig& c) {
  // convert_hf_to_gguf.py (LlamaModel): 1 for high frequencies, factor for low ones,
  // 1 / ((1 - smooth) / factor + smooth) between.
  std::vector<double> out;
  const double factor = c.llama3_factor, lo = c.llama3_low_freq_factor, hi = c.llama3_high_freq_factor;
  const double old_ctx = c.llama3_original_context;
  for (int i = 0; i < c.n_rot / 2; ++i) {
    const double freq = std::pow(c.rope_base, -2.0 * i / c.n_rot);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    if (wavelen < old_ctx / hi) {
      out.push_back(1.0);
    } else if (wavelen > old_ctx / lo) {
      out.push_back(factor);
    } else {
      const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
      out.push_back(1.0 / ((1.0 - smooth) / factor + smooth));
    }
  }
  return out;
}

RefConfig SmallLlama(int n_embd, int n_ff, int n_layer) {
  RefConfig c;
  c.arch = RefArch::kLlama;
  c.n_embd = n_embd;
  c.n_layer = n_layer;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = n_embd / 4;
  c.n_ff = n_ff;
  c.n_rot = c.head_dim;
  c.rope_base = 10000.0;
  c.norm_eps = 1e-5;
  return c;
}

std::vector<std::vector<double>> ReferenceForward(const RefModel& m, const std::vector<int32_t>& tokens) {
  const RefConfig& c = m.config;
  const size_t T = tokens.size();
  const size_t E = static_cast<size_t>(c.n_embd), hd = static_cast<size_t>(c.head_dim);
  const size_t Q = static_cast<size_t>(c.n_head) * hd, KV = static_cast<size_t>(c.n_head_kv) * hd;
  const size_t F = static_cast<size_t>(c.n_ff), V = static_cast<size_t>(c.n_vocab);
  const int group = c.n_head / c.n_head_kv;
  const bool gemma3 = c.arch == RefArch::kGemma3;
  const std::vector<double> inv_freq_global = RefInvFreq(c);
  std::vector<double> inv_freq_local(static_cast<size_t>(c.n_rot / 2));
  for (int i = 0; i < c.n_rot / 2; ++i) {
    inv_freq_local[static_cast<size_t>(i)] = std::pow(c.rope_local_base, -2.0 * i / c.n_rot);
  }

  std::vector<Vec> x(T);
  for (size_t t = 0; t < T; ++t) {
    const size_t id = static_cast<size_t>(tokens[t]);
    x[t].assign(m.tok_embd.begin() + static_cast<std::ptrdiff_t>(id * E),
                m.tok_embd.begin() + static_cast<std::ptrdiff_t>((id + 1) * E));
    if (gemma3) {
      for (double& e : x[t]) e *= std::sqrt(static_cast<double>(E));
    }
  }

  for (size_t il = 0; il < m.layers.size(); ++il) {
    const RefLayer& L = m.layers[il];
    const bool sliding = gemma3 && (il + 1) % 6 != 0;
    RefConfig rope_c = c;  // local layers: plain rope, no scaling
    if (sliding) rope_c.yarn_factor = 0.0;
    const std::vector<double>& inv_freq = sliding ? inv_freq_local : inv_freq_global;
    std::vector<Vec> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      const Vec h = Norm(c, x[t], L.attn_norm, L.attn_norm_b);
      if (c.arch == RefArch::kGptNeox) {
        const Vec qkv = MatVec(L.wqkv, h, Q + 2 * KV, &L.bqkv);
        q[t].assign(qkv.begin(), qkv.begin() + static_cast<std::ptrdiff_t>(Q));
        k[t].assign(qkv.begin() + static_cast<std::ptrdiff_t>(Q), qkv.begin() + static_cast<std::ptrdiff_t>(Q + KV));
        v[t].assign(qkv.begin() + static_cast<std::ptrdiff_t>(Q + KV), qkv.end());
      } else {
        q[t] = MatVec(L.wq, h, Q, &L.bq);
        k[t] = MatVec(L.wk, h, KV, &L.bk);
        v[t] = MatVec(L.wv, h, KV, &L.bv);
      }
      if (c.arch == RefArch::kQwen3 || gemma3) {
        auto head_norm = [&](Vec& y, int n_heads, const Vec& w) {
          for (int hh = 0; hh < n_heads; ++hh) {
            Vec head(y.begin() + static_cast<std::ptrdiff_t>(hh * hd), y.begin() + static_cast<std::ptrdiff_t>((hh + 1) * hd));
            head = RmsNorm(head, w, c.norm_eps);
            std::copy(head.begin(), head.end(), y.begin() + static_cast<std::ptrdiff_t>(hh * hd));
          }
        };
        head_norm(q[t], c.n_head, L.q_norm);
        head_norm(k[t], c.n_head_kv, L.k_norm);
      }
      for (int hh = 0; hh < c.n_head; ++hh) Rope(rope_c, inv_freq, q[t], hh * hd, static_cast<int>(t));
      for (int hh = 0; hh < c.n_head_kv; ++hh) Rope(rope_c, inv_freq, k[t], hh * hd, static_cast<int>(t));
    }

    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (size_t t = 0; t < T; ++t) {
      // Keys j0..t: all of them, or the last sliding_window on a sliding-window layer.
      const size_t window = static_cast<size_t>(c.sliding_window);
      const size_t j0 = sliding && t + 1 > window ? t + 1 - window : 0;
      Vec att(Q, 0.0);
      for (int hq = 0; hq < c.n_head; ++hq) {
        const size_t qo = static_cast<size_t>(hq) * hd;
        const size_t ko = static_cast<size_t>(hq / group) * hd;
        Vec s(t + 1);
        double mx = -INFINITY;
        for (size_t j = j0; j <= t; ++j) {
          double d = 0.0;
          for (size_t i = 0; i < hd; ++i) d += q[t][qo + i] * k[j][ko + i];
          s[j] = d * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0.0;
        for (size_t j = j0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (size_t j = j0; j <= t; ++j) {
          const double p = s[j] / sum;
          for (size_t i = 0; i < hd; ++i) att[qo + i] += p * v[j][ko + i];
        }
      }
      Vec attn_out = MatVec(L.wo, att, E, &L.bo);
      if (gemma3) attn_out = RmsNorm(attn_out, L.attn_post_norm, c.norm_eps);

      auto mlp = [&](const Vec& h) {
        if (c.arch == RefArch::kGptNeox) {
          Vec u = MatVec(L.ffn_up, h, F, &L.ffn_up_b);
          for (double& e : u) e = GeluTanh(e);
          return MatVec(L.ffn_down, u, E, &L.ffn_down_b);
        }
        const Vec g = MatVec(L.ffn_gate, h, F);
        Vec u = MatVec(L.ffn_up, h, F);
        for (size_t i = 0; i < F; ++i) u[i] *= gemma3 ? GeluTanh(g[i]) : Silu(g[i]);
        const Vec down = MatVec(L.ffn_down, u, E);
        return gemma3 ? RmsNorm(down, L.ffn_post_norm, c.norm_eps) : down;
      };
      if (c.arch == RefArch::kGptNeox && c.parallel_residual) {
        const Vec ff = mlp(Norm(c, x[t], L.ffn_norm, L.ffn_norm_b));
        x[t] = Add(Add(x[t], attn_out), ff);
      } else {
        x[t] = Add(x[t], attn_out);
        x[t] = Add(x[t], mlp(Norm(c, x[t], L.ffn_norm, L.ffn_norm_b)));
      }
    }
  }

  std::vector<Vec> logits(T);
  const Vec& out = c.tied_output ? m.tok_embd : m.output;
  for (size_t t = 0; t < T; ++t) logits[t] = MatVec(out, Norm(c, x[t], m.output_norm, m.output_norm_b), V);
  return logits;
}

namespace {

// splitmix64: a tiny generator whose sequence is the same on every platform and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-52 - 1.0; }

 private:
  uint64_t s_;
};

struct Builder {
  const SyntheticSpec& spec;
  GgufWriter* w;
  Rng rng;

  // n values uniform with standard deviation `sd` around `mean`.
  std::vector<float> Random(size_t n, double mean, double sd) {
    std::vector<float> v(n);
    const double a = sd * std::sqrt(3.0);
    for (float& e : v) e = static_cast<float>(mean + a * rng.Uniform());
    return v;
  }
  // A 2-D weight of n_out rows of n_in in the spec's type.
  Vec Matrix(const std::string& name, int n_in, int n_out, double sd) {
    const std::vector<float> v = Random(static_cast<size_t>(n_in) * n_out, 0.0, sd);
    const std::vector<float> stored = w->AddTensor(name, {n_in, n_out}, spec.weight_type, v);
    return Vec(stored.begin(), stored.end());
  }
  Vec Vector(const std::string& name, int n, double mean, double sd) {
    const std::vector<float> v = Random(static_cast<size_t>(n), mean, sd);
    const std::vector<float> stored = w->AddTensor(name, {n}, GgmlType::kF32, v);
    return Vec(stored.begin(), stored.end());
  }
};

void AddVocab(GgufWriter* w) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0.0f, 0.0f, 0.0f};
  std::vector<int32_t> types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0.0f);
    types.push_back(6);  // byte
  }
  const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  const std::string pieces[] = {sp, sp + "t", sp + "a", sp + "th", sp + "the", "he", "in", "er",
                                "an", "on", sp + "s", sp + "w", "re", "at", "en", "nd",
                                "e", "t", "a", "o", "i", "n", "s", "h",
                                "r", "d", "l", "\xEC\x98\xA8", "\xEB\x8F\x84"};  // last two: 온, 도
  float score = -1.0f;
  for (const std::string& p : pieces) {
    tokens.push_back(p);
    scores.push_back(score);
    score -= 1.0f;
    types.push_back(1);  // normal
  }
  assert(static_cast<int>(tokens.size()) == kSyntheticVocab);
  w->AddString("tokenizer.ggml.model", "llama");
  w->AddStringArray("tokenizer.ggml.tokens", tokens);
  w->AddF32Array("tokenizer.ggml.scores", scores);
  w->AddI32Array("tokenizer.ggml.token_type", types);
  w->AddU32("tokenizer.ggml.unknown_token_id", 0);
  w->AddU32("tokenizer.ggml.bos_token_id", 1);
  w->AddU32("tokenizer.ggml.eos_token_id", 2);
  w->AddBool("tokenizer.ggml.add_bos_token", true);
  w->AddBool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace

void BuildSyntheticModel(const SyntheticSpec& spec, GgufWriter* w, RefModel* model) {
  RefConfig c = spec.config;
  c.n_vocab = kSyntheticVocab;
  if (c.n_ctx_train == 0) c.n_ctx_train = 128;
  model->config = c;
  const std::string a = RefArchName(c.arch);
  const bool neox = c.arch == RefArch::kGptNeox;

  w->AddString("general.architecture", a);
  w->AddString("general.name", "synthetic " + a);
  w->AddU32("general.alignment", 32);
  w->set_alignment(32);
  w->AddU32(a + ".context_length", static_cast<uint32_t>(c.n_ctx_train));
  w->AddU32(a + ".embedding_length", static_cast<uint32_t>(c.n_embd));
  w->AddU32(a + ".block_count", static_cast<uint32_t>(c.n_layer));
  w->AddU32(a + ".feed_forward_length", static_cast<uint32_t>(c.n_ff));
  w->AddU32(a + ".attention.head_count", static_cast<uint32_t>(c.n_head));
  w->AddU32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv));
  if (c.head_dim != c.n_embd / c.n_head) {
    w->AddU32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
    w->AddU32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w->AddU32(a + ".rope.dimension_count", static_cast<uint32_t>(c.n_rot));
  w->AddF32(a + ".rope.freq_base", static_cast<float>(c.rope_base));
  if (c.yarn_factor > 0.0) {
    w->AddString(a + ".rope.scaling.type", "yarn");
    w->AddF32(a + ".rope.scaling.factor", static_cast<float>(c.yarn_factor));
    w->AddU32(a + ".rope.scaling.original_context_length", static_cast<uint32_t>(c.yarn_original_context));
  }
  if (c.arch == RefArch::kGemma3) {
    w->AddU32(a + ".attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  }
  if (neox) {
    w->AddF32(a + ".attention.layer_norm_epsilon", static_cast<float>(c.norm_eps));
    w->AddBool(a + ".use_parallel_residual", c.parallel_residual);
  } else {
    w->AddF32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  }
  // The reader must skip keys it does not use, of every value type.
  w->AddU8("ondo.test.u8", 200);
  w->AddI8("ondo.test.i8", -100);
  w->AddU16("ondo.test.u16", 60000);
  w->AddI16("ondo.test.i16", -30000);
  w->AddI32("ondo.test.i32", -2000000000);
  w->AddU64("ondo.test.u64", 1ull << 40);
  w->AddI64("ondo.test.i64", -(1ll << 40));
  w->AddF64("ondo.test.f64", 0.125);
  w->AddU8Array("ondo.test.u8_array", {1, 2, 3});
  w->AddNestedI32Array("ondo.test.nested", {{1, 2}, {}, {3}});
  AddVocab(w);
  // The stored norm_eps is a float: the reference uses the value the runtime reads.
  model->config.norm_eps = static_cast<double>(static_cast<float>(c.norm_eps));
  model->config.rope_base = static_cast<double>(static_cast<float>(c.rope_base));

  Builder b{spec, w, Rng(spec.seed)};
  const int E = c.n_embd, F = c.n_ff, V = c.n_vocab;
  const int Q = c.n_head * c.head_dim, KV = c.n_head_kv * c.head_dim;
  const double sd_e = 1.0 / std::sqrt(static_cast<double>(E));
  // gemma3 multiplies the embeddings by sqrt(n_embd): rows of std 1/sqrt(n_embd) give O(1)
  // activations (as in Gemma 3) rather than a residual stream the embedding dominates.
  const double sd_embd = c.arch == RefArch::kGemma3 ? sd_e : 0.5;
  model->tok_embd = b.Matrix("token_embd.weight", E, V, sd_embd);
  model->output_norm = b.Vector("output_norm.weight", E, 1.0, 0.1);
  if (neox) model->output_norm_b = b.Vector("output_norm.bias", E, 0.0, 0.1);
  if (!c.tied_output) model->output = b.Matrix("output.weight", E, V, 2.0 * sd_e);

  if (c.llama3_factor > 0.0) {
    std::vector<float> factors;
    for (double f : Llama3RopeFactors(c)) factors.push_back(static_cast<float>(f));
    w->AddTensor("rope_freqs.weight", {static_cast<int64_t>(factors.size())}, GgmlType::kF32, factors);
  }

  model->layers.resize(static_cast<size_t>(c.n_layer));
  for (int i = 0; i < c.n_layer; ++i) {
    RefLayer& L = model->layers[static_cast<size_t>(i)];
    const std::string p = "blk." + std::to_string(i) + ".";
    L.attn_norm = b.Vector(p + "attn_norm.weight", E, 1.0, 0.1);
    if (neox) {
      L.attn_norm_b = b.Vector(p + "attn_norm.bias", E, 0.0, 0.1);
      L.wqkv = b.Matrix(p + "attn_qkv.weight", E, Q + 2 * KV, sd_e);
      L.bqkv = b.Vector(p + "attn_qkv.bias", Q + 2 * KV, 0.0, 0.1);
    } else {
      L.wq = b.Matrix(p + "attn_q.weight", E, Q, sd_e);
      L.wk = b.Matrix(p + "attn_k.weight", E, KV, sd_e);
      L.wv = b.Matrix(p + "attn_v.weight", E, KV, sd_e);
      if (c.arch == RefArch::kQwen2) {
        L.bq = b.Vector(p + "attn_q.bias", Q, 0.0, 0.2);
        L.bk = b.Vector(p + "attn_k.bias", KV, 0.0, 0.2);
        L.bv = b.Vector(p + "attn_v.bias", KV, 0.0, 0.2);
      }
      if (c.arch == RefArch::kQwen3 || c.arch == RefArch::kGemma3) {
        L.q_norm = b.Vector(p + "attn_q_norm.weight", c.head_dim, 1.0, 0.2);
        L.k_norm = b.Vector(p + "attn_k_norm.weight", c.head_dim, 1.0, 0.2);
      }
    }
    L.wo = b.Matrix(p + "attn_output.weight", Q, E, 1.0 / std::sqrt(static_cast<double>(Q)));
    if (neox) L.bo = b.Vector(p + "attn_output.bias", E, 0.0, 0.1);
    if (c.arch == RefArch::kGemma3) L.attn_post_norm = b.Vector(p + "post_attention_norm.weight", E, 1.0, 0.1);
    L.ffn_norm = b.Vector(p + "ffn_norm.weight", E, 1.0, 0.1);
    if (neox) L.ffn_norm_b = b.Vector(p + "ffn_norm.bias", E, 0.0, 0.1);
    if (!neox) L.ffn_gate = b.Matrix(p + "ffn_gate.weight", E, F, sd_e);
    L.ffn_up = b.Matrix(p + "ffn_up.weight", E, F, sd_e);
    if (neox) L.ffn_up_b = b.Vector(p + "ffn_up.bias", F, 0.0, 0.1);
    L.ffn_down = b.Matrix(p + "ffn_down.weight", F, E, 1.0 / std::sqrt(static_cast<double>(F)));
    if (neox) L.ffn_down_b = b.Vector(p + "ffn_down.bias", E, 0.0, 0.1);
    if (c.arch == RefArch::kGemma3) L.ffn_post_norm = b.Vector(p + "post_ffw_norm.weight", E, 1.0, 0.1);
  }
}

}  // namespace ondo::test
