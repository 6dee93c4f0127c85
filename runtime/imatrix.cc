// Importance matrices: collection from a session, llama.cpp's legacy file format.
#include "runtime/imatrix.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>

namespace ondo::runtime {

namespace {

class In {
 public:
  explicit In(const std::vector<uint8_t>& b) : b_(b) {}
  bool I32(int32_t* v) {
    if (b_.size() - pos_ < 4) return false;
    std::memcpy(v, b_.data() + pos_, 4);
    pos_ += 4;
    return true;
  }
  bool Bytes(size_t n, const uint8_t** p) {
    if (b_.size() - pos_ < n) return false;
    *p = b_.data() + pos_;
    pos_ += n;
    return true;
  }
  size_t remaining() const { return b_.size() - pos_; }

 private:
  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
};

void PutI32(std::string* out, int32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }

}  // namespace

std::vector<float> ImatrixEntry::Means() const {
  std::vector<float> m(sum2.size(), 0.0f);
  if (count > 0) {
    for (size_t j = 0; j < sum2.size(); ++j) m[j] = static_cast<float>(sum2[j] / static_cast<double>(count));
  }
  return m;
}

const ImatrixEntry* Imatrix::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

Status Imatrix::Load(const std::string& path, Imatrix* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open imatrix file '{}'", path);
  const std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return MakeStatus(StatusCode::kIoError, "cannot read '{}'", path);
  auto corrupt = [&](const std::string& what) {
    return Corrupt("imatrix file '{}': {} (a llama.cpp legacy .imatrix/.dat file is expected)", path, what);
  };
  In in(b);
  int32_t n = 0;
  if (!in.I32(&n) || n < 0) return corrupt("no entry count");
  // Each entry takes at least 12 bytes: bound n before looping.
  if (static_cast<size_t>(n) > in.remaining() / 12) return corrupt(fmt::format("{} entries cannot fit in {} bytes", n, b.size()));
  Imatrix m;
  for (int32_t i = 0; i < n; ++i) {
    int32_t len = 0, ncall = 0, nval = 0;
    const uint8_t* name = nullptr;
    if (!in.I32(&len) || len <= 0 || len > 4096 || !in.Bytes(static_cast<size_t>(len), &name)) {
      return corrupt(fmt::format("entry {}: bad name", i));
    }
    const std::string key(reinterpret_cast<const char*>(name), static_cast<size_t>(len));
    if (!in.I32(&ncall) || ncall < 0 || !in.I32(&nval) || nval < 0) return corrupt(fmt::format("'{}': bad header", key));
    const uint8_t* vals = nullptr;
    if (static_cast<size_t>(nval) > in.remaining() / 4 || !in.Bytes(4 * static_cast<size_t>(nval), &vals)) {
      return corrupt(fmt::format("'{}': {} values run past the end", key, nval));
    }
    ImatrixEntry e;
    e.ncall = ncall;
    // values = mean * ncall: keep sum2 = values and count = ncall, so Means() = values / ncall
    // (llama-quantize divides by ncall the same way).
    e.count = ncall > 0 ? ncall : 1;
    e.sum2.resize(static_cast<size_t>(nval));
    for (int32_t j = 0; j < nval; ++j) {
      float v;
      std::memcpy(&v, vals + 4 * static_cast<size_t>(j), 4);
      if (!(v >= 0.0f) || v > std::numeric_limits<float>::max()) {
        return corrupt(fmt::format("'{}' value {} is {} (must be finite and >= 0)", key, j, v));
      }
      e.sum2[static_cast<size_t>(j)] = v;
    }
    if (!m.entries_.emplace(key, std::move(e)).second) return corrupt(fmt::format("'{}' appears twice", key));
  }
  int32_t last_call = 0;
  if (in.I32(&last_call) && last_call >= 0) m.chunks_ = last_call;
  *out = std::move(m);
  return Status::Ok();
}

Status Imatrix::Save(const std::string& path, const std::string& dataset) const {
  std::string out;
  PutI32(&out, static_cast<int32_t>(entries_.size()));
  for (const auto& [name, e] : entries_) {
    PutI32(&out, static_cast<int32_t>(name.size()));
    out += name;
    PutI32(&out, e.ncall);
    PutI32(&out, static_cast<int32_t>(e.sum2.size()));
    const std::vector<float> means = e.Means();
    for (float m : means) {
      const float v = m * static_cast<float>(e.ncall);
      out.append(reinterpret_cast<const char*>(&v), 4);
    }
  }
  PutI32(&out, chunks_);
  PutI32(&out, static_cast<int32_t>(dataset.size()));
  out += dataset;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return MakeStatus(StatusCode::kIoError, "cannot create '{}'", path);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  f.close();
  if (!f) return MakeStatus(StatusCode::kIoError, "cannot write '{}'", path);
  return Status::Ok();
}

ImatrixCollector::ImatrixCollector(const Model& model, bool include_output) {
  const ModelConfig& c = model.config();
  auto add = [&](const WeightView& w, const std::string& name) {
    if (!w.present()) return;
    ImatrixEntry& e = imatrix_.entries_[name];
    e.sum2.assign(static_cast<size_t>(w.n_cols), 0.0);
    slots_[&w] = &e;
  };
  for (int i = 0; i < c.n_layer; ++i) {
    const LayerWeights& L = model.layer(i);
    auto name = [i](const char* t) { return fmt::format("blk.{}.{}", i, t); };
    add(L.wq, name("attn_q.weight"));
    add(L.wk, name("attn_k.weight"));
    add(L.wv, name("attn_v.weight"));
    add(L.wqkv, name("attn_qkv.weight"));
    add(L.wo, name("attn_output.weight"));
    add(L.ffn_gate, name("ffn_gate.weight"));
    add(L.ffn_up, name("ffn_up.weight"));
    add(L.ffn_down, name("ffn_down.weight"));
  }
  if (include_output && !c.tied_output) add(model.output(), "output.weight");
}

void ImatrixCollector::Observe(const WeightView& w, const float* in, int64_t in_stride, int n_tokens) {
  auto it = slots_.find(&w);
  if (it == slots_.end()) return;
  ImatrixEntry& e = *it->second;
  double* s = e.sum2.data();
  const int64_t n = static_cast<int64_t>(e.sum2.size());
  for (int t = 0; t < n_tokens; ++t) {
    const float* x = in + static_cast<int64_t>(t) * in_stride;
    for (int64_t j = 0; j < n; ++j) s[j] += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  }
  e.count += n_tokens;
  ++e.ncall;
}

}  // namespace ondo::runtime
