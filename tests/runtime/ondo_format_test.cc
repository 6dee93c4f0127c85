// The .ondo format: GGUF -> .ondo round trips (folder and single file) give bitwise the same
// logits; shards are cut on layer boundaries and aligned; the --quant presets give the types
// they promise; and every damaged, truncated or inconsistent model is an error at open, never
// a crash. Synthetic models are written by the independent test fixture (gguf_writer); the
// shared ko-mini-a files are used when ../shared is there.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/gguf.h"
#include "runtime/imatrix.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {

namespace fs = std::filesystem;
using kernels::DType;
using test::GgmlType;
using test::RefConfig;
using test::SmallLlama;

// A GGUF file of a synthetic model, removed at the end of the test.
class TempFiles {
 public:
  ~TempFiles() {
    std::error_code ec;
    for (const std::string& p : paths_) fs::remove_all(p, ec);
  }
  std::string New(const std::string& stem) {
    paths_.push_back(test::UniqueTempPath(::testing::TempDir(), stem));
    // Conversions write "<out>.partial" first: clean that too.
    paths_.push_back(paths_.back() + ".partial");
    return paths_[paths_.size() - 2];
  }

 private:
  std::vector<std::string> paths_;
};

std::string WriteSynthetic(const RefConfig& config, GgmlType type, TempFiles* tmp) {
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = config;
  spec.weight_type = type;
  spec.seed = 5;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, &w, &ref);
  const std::string path = tmp->New("ondo_fmt_src");
  EXPECT_TRUE(w.WriteFile(path));
  return path;
}

const std::vector<int32_t> kPrompt = {1, 270, 3, 150, 287, 42, 42, 200, 7, 259, 100, 13};

// Logits after the prompt and after two decode steps, from a fresh session.
std::vector<float> RunLogits(const Model& model) {
  SessionOptions opt;
  opt.n_ctx = 32;
  opt.n_threads = 2;
  std::unique_ptr<Session> s;
  EXPECT_TRUE(Session::Create(model, opt, &s).ok());
  std::vector<float> out;
  const int n_vocab = model.config().n_vocab;
  EXPECT_TRUE(s->Prefill(kPrompt).ok());
  out.insert(out.end(), s->logits(), s->logits() + n_vocab);
  for (int32_t id : {5, 42}) {
    EXPECT_TRUE(s->Decode(id).ok());
    out.insert(out.end(), s->logits(), s->logits() + n_vocab);
  }
  return out;
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint64_t> U64Array(const GgufFile& f, const char* key) {
  const GgufKv* kv = f.Find(key);
  std::vector<uint64_t> v;
  if (kv == nullptr) return v;
  const size_t es = kv->value.elem_type == GgufType::kU64 ? 8 : 4;
  for (uint64_t i = 0; i < kv->value.count; ++i) {
    uint64_t x = 0;
    std::memcpy(&x, kv->value.data + es * i, es);
    v.push_back(x);
  }
  return v;
}

int LayerOf(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  return std::atoi(std::string(name.substr(4)).c_str());
}

Status Convert(const std::string& in, const std::string& out, OndoQuant q, uint64_t shard_bytes,
               bool single) {
  std::unique_ptr<GgufFile> f;
  ONDO_RETURN_IF_ERROR(OpenModelFile(in, &f));
  OndoWriteOptions opt;
  opt.quant = q;
  opt.shard_bytes = shard_bytes;
  opt.single_file = single;
  opt.n_threads = 2;
  OndoWriteStats st;
  return WriteOndo(*f, out, opt, &st);
}

TEST(OndoFormat, RoundTripIsBitwiseIdenticalInAFolderAndInOneFile) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(64, 96, 3), GgmlType::kF16, &tmp);
  std::unique_ptr<Model> gguf_model;
  ASSERT_TRUE(Model::Load(src, &gguf_model).ok());
  const std::vector<float> want = RunLogits(*gguf_model);

  for (bool single : {false, true}) {
    const std::string out = tmp.New(single ? "ondo_fmt_single" : "ondo_fmt_folder");
    // 20 KB shards: each layer (~40 KB in F16) gets one of its own.
    const Status cs = Convert(src, out, OndoQuant::kKeep, 20000, single);
    ASSERT_TRUE(cs.ok()) << cs.ToString();
    EXPECT_TRUE(IsOndoModel(out));
    EXPECT_FALSE(IsOndoModel(src));
    std::unique_ptr<Model> m;
    const Status ls = Model::Load(out, &m);
    ASSERT_TRUE(ls.ok()) << ls.ToString();
    EXPECT_EQ(RunLogits(*m), want) << (single ? "single file" : "folder");

    std::unique_ptr<GgufFile> f;
    ASSERT_TRUE(OpenOndo(out, true, &f).ok());
    const std::vector<uint64_t> tshard = U64Array(*f, "ondo.tensors.shard");
    const std::vector<uint64_t> offs = U64Array(*f, "ondo.shards.offset");
    ASSERT_EQ(tshard.size(), f->tensors().size());
    EXPECT_GE(offs.size(), 4u) << "the layers should not fit one 20 KB shard";
    // Layer boundaries: all of a layer's tensors in one shard, shards in layer order.
    std::vector<int64_t> layer_shard(3, -1);
    uint64_t last = 0;
    for (size_t i = 0; i < tshard.size(); ++i) {
      const GgufTensorInfo& t = f->tensors()[i];
      EXPECT_EQ(t.offset % kOndoTensorAlign, 0u) << t.name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % kOndoTensorAlign, 0u) << t.name;
      EXPECT_GE(tshard[i], last) << "tensors are stored in group order";
      last = tshard[i];
      const int layer = LayerOf(t.name);
      if (layer < 0) continue;
      if (layer_shard[layer] < 0) layer_shard[layer] = static_cast<int64_t>(tshard[i]);
      EXPECT_EQ(layer_shard[layer], static_cast<int64_t>(tshard[i])) << t.name << " left its layer's shard";
    }
    EXPECT_EQ(f->tensors().front().name, "token_embd.weight");
    EXPECT_TRUE(f->tensors().back().name.starts_with("output"));
    for (uint64_t o : offs) EXPECT_EQ(o % (single ? kOndoShardAlign : 1), 0u);
    if (!single) {
      for (uint64_t o : offs) EXPECT_EQ(o, 0u);
    }
    std::vector<OndoShardCheck> checks;
    EXPECT_TRUE(VerifyOndo(out, &checks).ok());
    EXPECT_EQ(checks.size(), offs.size());
  }
}

TEST(OndoFormat, OutputMustNotExistAndNothingIsLeftOnFailure) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(64, 96, 2), GgmlType::kF32, &tmp);
  const std::string out = tmp.New("ondo_fmt_exists");
  ASSERT_TRUE(Convert(src, out, OndoQuant::kKeep, 1 << 20, false).ok());
  const Status again = Convert(src, out, OndoQuant::kKeep, 1 << 20, false);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.message().find("already exists"), std::string::npos) << again.message();
  const Status nodir = Convert(src, "/nonexistent-dir/x.ondo", OndoQuant::kKeep, 1 << 20, false);
  EXPECT_EQ(nodir.code(), StatusCode::kNotFound) << nodir.ToString();
}

// --quant: matrices re-quantized, norms kept; rows that do not fit a 256-block fall back.
TEST(OndoFormat, QuantPresetsGiveThePromisedTypes) {
  TempFiles tmp;
  // n_embd 256 and n_ff 512 fit Q4_K's 256-value blocks; 8 layers exercise the Q4_K_M rule.
  const std::string src = WriteSynthetic(SmallLlama(256, 512, 8), GgmlType::kF32, &tmp);
  std::unique_ptr<Model> f32_model;
  ASSERT_TRUE(Model::Load(src, &f32_model).ok());
  std::unique_ptr<GgufFile> src_file;
  ASSERT_TRUE(GgufFile::Open(src, &src_file).ok());
  const std::vector<float> want = RunLogits(*f32_model);
  for (OndoQuant q : {OndoQuant::kF16, OndoQuant::kQ8, OndoQuant::kQ4}) {
    const std::string out = tmp.New(std::string("ondo_fmt_") + OndoQuantName(q));
    const Status cs = Convert(src, out, q, 64 << 20, true);
    ASSERT_TRUE(cs.ok()) << cs.ToString();
    std::unique_ptr<GgufFile> f;
    ASSERT_TRUE(OpenOndo(out, true, &f).ok());
    for (const GgufTensorInfo& t : f->tensors()) {
      const std::string name(t.name);
      DType want_type = DType::kF32;
      if (t.n_dims >= 2) {
        if (q == OndoQuant::kF16) want_type = DType::kF16;
        if (q == OndoQuant::kQ8) want_type = DType::kQ8_0;
        if (q == OndoQuant::kQ4) {
          const int layer = LayerOf(name);
          // llama.cpp's use_more_bits for 8 layers: 0, 7 and (i - 1) % 3 == 2, i.e. 3 and 6.
          const bool more = layer == 0 || layer == 7 || layer == 3 || layer == 6;
          const bool q6 = name == "output.weight" || name.find("attn_v") != std::string::npos ||
                          (name.find("ffn_down") != std::string::npos && more);
          want_type = q6 ? DType::kQ6_K : DType::kQ4_K;
          if (name == "token_embd.weight" && f->FindTensor("output.weight") == nullptr) want_type = DType::kQ6_K;
        }
      }
      EXPECT_EQ(t.type, want_type) << OndoQuantName(q) << " " << name;
      // The bytes are the source rows run through QuantizeRow, whose output is checked
      // byte for byte against llama-quantize in quant_parity_test.
      const GgufTensorInfo* in = src_file->FindTensor(t.name);
      ASSERT_NE(in, nullptr);
      const int64_t n = t.ne[0];
      const size_t rb = kernels::RowBytes(t.type, n);
      std::vector<uint8_t> row(rb);
      for (int64_t r = 0; r < t.n_rows(); ++r) {
        kernels::QuantizeRow(t.type, reinterpret_cast<const float*>(in->data) + r * n, row.data(), n);
        ASSERT_EQ(std::memcmp(row.data(), t.data + static_cast<size_t>(r) * rb, rb), 0)
            << OndoQuantName(q) << " " << name << " row " << r;
      }
    }
    std::unique_ptr<Model> m;
    ASSERT_TRUE(Model::Load(out, &m).ok());
    const std::vector<float> got = RunLogits(*m);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(want[i])));
    }
    // A sanity bound (the bytes are checked above): quantization noise of 8 layers of random
    // weights relative to the largest logit, measured 1.3e-3 (f16), 0.03 (q8), 0.24 (q4).
    const double tol = q == OndoQuant::kF16 ? 4e-3 : q == OndoQuant::kQ8 ? 0.06 : 0.5;
    EXPECT_LT(worst / scale, tol) << OndoQuantName(q);
  }
  // 64-wide rows do not fit Q4_K: Q8_0 instead.
  const std::string narrow = WriteSynthetic(SmallLlama(64, 96, 2), GgmlType::kF32, &tmp);
  const std::string out = tmp.New("ondo_fmt_narrow");
  ASSERT_TRUE(Convert(narrow, out, OndoQuant::kQ4, 64 << 20, false).ok());
  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(OpenOndo(out, false, &f).ok());
  EXPECT_EQ(f->FindTensor("blk.0.attn_q.weight")->type, DType::kQ8_0);
}

// q3 and q2 without an importance matrix: the documented mixes (q2's ffn_down of the first
// max(2, n_layer / 8) layers one step up), bytes as QuantizeRow makes them, and a model that
// still computes close to the F32 one.
TEST(OndoFormat, Q3AndQ2PresetsGiveThePromisedTypes) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(256, 512, 8), GgmlType::kF32, &tmp);
  std::unique_ptr<Model> f32_model;
  ASSERT_TRUE(Model::Load(src, &f32_model).ok());
  const std::vector<float> want = RunLogits(*f32_model);
  std::unique_ptr<GgufFile> src_file;
  ASSERT_TRUE(GgufFile::Open(src, &src_file).ok());
  for (OndoQuant q : {OndoQuant::kQ3, OndoQuant::kQ2}) {
    const std::string out = tmp.New(std::string("ondo_fmt_") + OndoQuantName(q));
    const Status cs = Convert(src, out, q, 64 << 20, false);
    ASSERT_TRUE(cs.ok()) << cs.ToString();
    std::unique_ptr<GgufFile> f;
    ASSERT_TRUE(OpenOndo(out, true, &f).ok());
    int n_oq2 = 0;
    for (const GgufTensorInfo& t : f->tensors()) {
      const std::string name(t.name);
      if (t.n_dims < 2) {
        EXPECT_EQ(t.type, DType::kF32) << name;
        continue;
      }
      const int layer = LayerOf(name);
      auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
      DType want_type;
      if (q == OndoQuant::kQ3) {
        const bool more = layer == 0 || layer == 7 || layer == 3 || layer == 6;
        want_type = name == "output.weight" ? DType::kQ6_K
                    : has("attn_v") || has("attn_output") || (has("ffn_down") && more) ? DType::kQ4_K
                                                                                        : DType::kQ3_K;
      } else {
        want_type = name == "output.weight" || name == "token_embd.weight" || has("attn_v") ? DType::kQ4_K
                    : has("ffn_down") && layer < 2                                          ? DType::kQ3_K
                                                                                             : DType::kOQ2;
      }
      EXPECT_EQ(t.type, want_type) << OndoQuantName(q) << " " << name;
      n_oq2 += t.type == DType::kOQ2;
      const GgufTensorInfo* in = src_file->FindTensor(t.name);
      ASSERT_NE(in, nullptr);
      const int64_t n = t.ne[0];
      const size_t rb = kernels::RowBytes(t.type, n);
      std::vector<uint8_t> row(rb);
      for (int64_t r = 0; r < t.n_rows(); ++r) {
        kernels::QuantizeRow(t.type, reinterpret_cast<const float*>(in->data) + r * n, row.data(), n);
        ASSERT_EQ(std::memcmp(row.data(), t.data + static_cast<size_t>(r) * rb, rb), 0) << name << " row " << r;
      }
    }
    if (q == OndoQuant::kQ2) {
      EXPECT_EQ(n_oq2, 8 * 6 - 2);
    }
    std::unique_ptr<Model> m;
    ASSERT_TRUE(Model::Load(out, &m).ok());
    const std::vector<float> got = RunLogits(*m);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(want[i])));
    }
    // Sanity bound (bytes checked above): 8 layers of random weights at 3 and 2 bits.
    EXPECT_LT(worst / scale, q == OndoQuant::kQ3 ? 0.8 : 1.2) << OndoQuantName(q) << " " << worst / scale;
  }
}

// Writes a legacy llama.cpp imatrix file (the layout runtime/imatrix.h documents): every
// matrix of the model, with `boost` times the weight on the ffn_down of layer `boosted`.
void WriteImatrix(const GgufFile& f, const std::string& path, int boosted, float boost, int64_t bad_cols = 0) {
  std::vector<uint8_t> b;
  auto put32 = [&](int32_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); };
  std::vector<const GgufTensorInfo*> mats;
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.n_dims >= 2 && t.name.starts_with("blk.")) mats.push_back(&t);
  }
  put32(static_cast<int32_t>(mats.size()));
  for (const GgufTensorInfo* t : mats) {
    const std::string name(t->name);
    put32(static_cast<int32_t>(name.size()));
    b.insert(b.end(), name.begin(), name.end());
    put32(1);  // ncall
    const int64_t n = t->ne[0] + (name.find("attn_q") != std::string::npos ? bad_cols : 0);
    put32(static_cast<int32_t>(n));
    const bool boost_this = name == "blk." + std::to_string(boosted) + ".ffn_down.weight";
    for (int64_t c = 0; c < n; ++c) {
      const float v = (boost_this ? boost : 1.0f) * (1.0f + static_cast<float>(c % 7));
      b.insert(b.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + 4);
    }
  }
  put32(1);
  WriteAll(path, b);
}

uint64_t FolderBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += fs::file_size(e.path());
  return n;
}

// --target-size: the allocator spends the bytes on ffn_down first, the one whose
// importance-weighted error is largest (layer 5, whose inputs the imatrix makes 100 times
// larger) before the others; the result fits the target; impossible targets are refused.
TEST(OndoFormat, Q2TargetSizeGoesToTheMostSensitiveMatrixAndFits) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(256, 512, 8), GgmlType::kF32, &tmp);
  std::unique_ptr<GgufFile> in;
  ASSERT_TRUE(OpenModelFile(src, &in).ok());
  const std::string im_path = tmp.New("ondo_fmt_imatrix");
  WriteImatrix(*in, im_path, 5, 100.0f);
  Imatrix im;
  ASSERT_TRUE(Imatrix::Load(im_path, &im).ok());

  auto convert = [&](uint64_t target, OndoQuant q, OndoWriteStats* st, std::string* out) {
    *out = tmp.New("ondo_fmt_target");
    OndoWriteOptions opt;
    opt.quant = q;
    opt.imatrix = &im;
    opt.target_bytes = target;
    opt.n_threads = 2;
    return WriteOndo(*in, *out, opt, st);
  };
  // The base mix with a target far too small, then the base size plus one ffn_down's step.
  OndoWriteStats st;
  std::string out;
  Status s = convert(1000, OndoQuant::kQ2, &st, &out);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("below the smallest q2 mix"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out));
  s = convert(1 << 30, OndoQuant::kQ2, &st, &out);  // everything up to Q6_K
  ASSERT_TRUE(s.ok()) << s.ToString();
  const uint64_t big = FolderBytes(out);
  EXPECT_LE(big, uint64_t{1} << 30);

  const uint64_t oq2 = kernels::RowBytes(DType::kOQ2, 512) * 256, q3 = kernels::RowBytes(DType::kQ3_K, 512) * 256;
  // Base size: all ffn_down in OQ2 (the imatrix replaces the first-layers rule).
  s = convert(0, OndoQuant::kQ2, &st, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(OpenOndo(out, false, &f).ok());
  EXPECT_EQ(st.n_with_imatrix, 8 * 7);  // every matrix of the layers
  const uint64_t base_est = FolderBytes(out);  // the default target spent 3% more than base
  EXPECT_GE(st.n_upgraded, 1);
  const DType t5 = f->FindTensor("blk.5.ffn_down.weight")->type;
  EXPECT_TRUE(t5 == DType::kQ3_K || t5 == DType::kQ4_K || t5 == DType::kQ6_K) << kernels::Info(t5).name;

  // Exactly enough for one step more than the smallest mix: it goes to layer 5's ffn_down.
  uint64_t smallest = 0;
  {
    Status e = convert(1000, OndoQuant::kQ2, &st, &out);
    const std::string m = e.message();
    const size_t p = m.find("mix of this model (");
    ASSERT_NE(p, std::string::npos) << m;
    smallest = std::stoull(m.substr(p + 19));
  }
  s = convert(smallest + (q3 - oq2) + 64, OndoQuant::kQ2, &st, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(st.n_upgraded, 1);
  EXPECT_LE(FolderBytes(out), smallest + (q3 - oq2) + 64);
  ASSERT_TRUE(OpenOndo(out, false, &f).ok());
  for (const GgufTensorInfo& t : f->tensors()) {
    if (t.n_dims < 2 || t.name == "token_embd.weight" || t.name == "output.weight" ||
        t.name.find("attn_v") != std::string_view::npos) {
      continue;
    }
    EXPECT_EQ(t.type, t.name == "blk.5.ffn_down.weight" ? DType::kQ3_K : DType::kOQ2) << t.name;
  }
  EXPECT_LT(smallest, base_est);
  EXPECT_LT(base_est, big);

  // A target needs q2; an imatrix whose sizes do not match the model is named.
  s = convert(smallest * 2, OndoQuant::kQ4, &st, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  const std::string bad_path = tmp.New("ondo_fmt_bad_imatrix");
  WriteImatrix(*in, bad_path, 5, 100.0f, 3);
  Imatrix bad;
  ASSERT_TRUE(Imatrix::Load(bad_path, &bad).ok());
  OndoWriteOptions opt;
  opt.quant = OndoQuant::kQ2;
  opt.imatrix = &bad;
  out = tmp.New("ondo_fmt_bad");
  s = WriteOndo(*in, out, opt, &st);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("attn_q"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out));
}

// ondo's own type ids are refused in a plain GGUF file (they could mean something else to
// another program), and named.
TEST(OndoFormat, NativeTypesAreRefusedInGguf) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(256, 512, 1), GgmlType::kF32, &tmp);
  std::vector<uint8_t> b = ReadAll(src);
  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(GgufFile::Open(src, &f).ok());
  // Patch the type of blk.0.attn_q.weight from F32 (0) to OQ2 in its tensor info: the u32
  // after the name and its dimensions.
  const std::string name = "blk.0.attn_q.weight";
  auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  ASSERT_NE(it, b.end());
  const size_t type_pos = static_cast<size_t>(it - b.begin()) + name.size() + 4 + 2 * 8;
  uint32_t type = 0;
  std::memcpy(&type, b.data() + type_pos, 4);
  ASSERT_EQ(type, 0u);
  type = static_cast<uint32_t>(DType::kOQ2);
  std::memcpy(b.data() + type_pos, &type, 4);
  const std::string patched = tmp.New("ondo_fmt_native");
  WriteAll(patched, b);
  std::unique_ptr<GgufFile> g;
  const Status s = GgufFile::Open(patched, &g);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("OQ2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(".ondo"), std::string::npos) << s.message();
}

// A matrix holding a NaN cannot be re-quantized (the quantizers need finite values): the
// conversion names the tensor and row and leaves nothing behind; copying it as it is works.
TEST(OndoFormat, NonFiniteWeightsAreRefusedWhenRequantizing) {
  TempFiles tmp;
  test::GgufWriter w;
  test::SyntheticSpec spec;
  spec.config = SmallLlama(64, 96, 2);
  test::RefModel ref;
  test::BuildSyntheticModel(spec, &w, &ref);
  std::vector<float> values(64 * 96, 0.01f);
  values[5 * 64 + 3] = NAN;  // row 5
  ASSERT_TRUE(w.RemoveTensor("blk.1.ffn_up.weight"));
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  w.AddRawTensor("blk.1.ffn_up.weight", {64, 96}, 0, std::move(bytes));
  const std::string src = tmp.New("ondo_fmt_nan");
  ASSERT_TRUE(w.WriteFile(src));
  const std::string out = tmp.New("ondo_fmt_nan_out");
  const Status s = Convert(src, out, OndoQuant::kQ8, 64 << 20, false);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("'blk.1.ffn_up.weight' row 5"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_TRUE(Convert(src, out, OndoQuant::kKeep, 64 << 20, false).ok());
}

// --- faults ---------------------------------------------------------------------------------------

class OndoFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string src = WriteSynthetic(SmallLlama(64, 96, 2), GgmlType::kQ8_0, &tmp_);
    path_ = tmp_.New("ondo_fault");
    ASSERT_TRUE(Convert(src, path_, OndoQuant::kKeep, 64 << 20, true).ok());
    bytes_ = ReadAll(path_);
    ASSERT_GT(bytes_.size(), kOndoShardAlign);
    std::unique_ptr<GgufFile> f;
    ASSERT_TRUE(ParseOndo(bytes_.data(), bytes_.size(), true, &f).ok());
    std::unique_ptr<Model> m;
    ASSERT_TRUE(Model::FromGguf(std::move(f), &m).ok());
    want_ = RunLogits(*m);
    std::memcpy(&body_bytes_, bytes_.data() + 8, 8);
  }

  // Opens a (damaged) copy: an error, or a model whose output is exactly the original's.
  void ExpectErrorOrSame(const std::vector<uint8_t>& b, const std::string& what) {
    std::unique_ptr<GgufFile> f;
    const Status s = ParseOndo(b.data(), b.size(), true, &f);
    if (!s.ok()) {
      EXPECT_FALSE(s.message().empty()) << what;
      return;
    }
    std::unique_ptr<Model> m;
    if (!Model::FromGguf(std::move(f), &m).ok()) return;
    EXPECT_EQ(RunLogits(*m), want_) << what << ": opened without error but computes otherwise";
  }

  // Patches a manifest body field and re-seals the manifest CRC (a well-formed but
  // inconsistent manifest, as a buggy writer would make).
  std::vector<uint8_t> Resealed(std::vector<uint8_t> b) {
    const uint32_t crc = static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), b.data() + kOndoManifestHeaderBytes, static_cast<uInt>(body_bytes_)));
    std::memcpy(b.data() + 16, &crc, 4);
    return b;
  }
  // Byte position of the first element of a manifest array.
  size_t ArrayPos(const char* key) {
    std::unique_ptr<GgufFile> f;
    EXPECT_TRUE(ParseOndo(bytes_.data(), bytes_.size(), false, &f).ok());
    const GgufKv* kv = f->Find(key);
    EXPECT_NE(kv, nullptr) << key;
    return static_cast<size_t>(kv->value.data - bytes_.data());
  }

  TempFiles tmp_;
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::vector<float> want_;
  uint64_t body_bytes_ = 0;
};

TEST_F(OndoFaultTest, EveryFlippedManifestByteAndSampledShardByteIsCaught) {
  const size_t manifest_end = kOndoManifestHeaderBytes + static_cast<size_t>(body_bytes_);
  for (size_t i = 0; i < bytes_.size(); i += (i < manifest_end ? 1 : 251)) {
    std::vector<uint8_t> b = bytes_;
    b[i] ^= 0x5A;
    ExpectErrorOrSame(b, "byte " + std::to_string(i) + " flipped");
    if (HasFatalFailure() || HasFailure()) return;
  }
  // A flip inside a shard is caught by its CRC when verified, and named.
  std::vector<uint8_t> b = bytes_;
  b.back() ^= 1;
  std::unique_ptr<GgufFile> f;
  const Status s = ParseOndo(b.data(), b.size(), true, &f);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("shard 0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("CRC-32"), std::string::npos) << s.message();
}

TEST_F(OndoFaultTest, EveryTruncationIsAnError) {
  const size_t manifest_end = kOndoManifestHeaderBytes + static_cast<size_t>(body_bytes_);
  for (size_t n = 0; n < bytes_.size(); n += (n < manifest_end + 64 ? 1 : 509)) {
    std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(n));
    std::unique_ptr<GgufFile> f;
    const Status s = ParseOndo(b.data(), b.size(), false, &f);
    ASSERT_FALSE(s.ok()) << "truncated to " << n << " bytes";
  }
}

TEST_F(OndoFaultTest, InconsistentManifestsAreNamedErrors) {
  // Writes `v` (sizeof(T) bytes) at `pos`, re-seals the manifest, expects `code` and `fragment`.
  auto expect = [&](size_t pos, auto v, StatusCode code, const std::string& fragment, bool reseal) {
    std::vector<uint8_t> b = bytes_;
    std::memcpy(b.data() + pos, &v, sizeof(v));
    if (reseal) b = Resealed(b);
    std::unique_ptr<GgufFile> f;
    const Status s = ParseOndo(b.data(), b.size(), false, &f);
    EXPECT_EQ(s.code(), code) << fragment << ": " << s.ToString();
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  };
  uint64_t shard_bytes = 0;
  std::memcpy(&shard_bytes, bytes_.data() + ArrayPos("ondo.shards.bytes"), 8);
  expect(ArrayPos("ondo.shards.bytes"), uint64_t{shard_bytes + 65536}, StatusCode::kCorrupt,
         "past the end of the file", true);
  expect(ArrayPos("ondo.shards.bytes"), uint64_t{64}, StatusCode::kCorrupt, "ends past its shard", true);
  expect(ArrayPos("ondo.tensors.shard"), uint32_t{7}, StatusCode::kCorrupt,
         "is in shard 7, but there are 1", true);
  expect(ArrayPos("ondo.shards.offset"), uint64_t{0}, StatusCode::kCorrupt, "overlaps the manifest", true);
  expect(ArrayPos("ondo.shards.offset"), uint64_t{65536 + 64}, StatusCode::kCorrupt, "aligned", true);
  expect(4, uint32_t{2}, StatusCode::kUnsupported, "version 2", false);
  expect(ArrayPos("ondo.shards.bytes"), uint64_t{shard_bytes + 1}, StatusCode::kCorrupt, "CRC-32", false);
}

TEST(OndoFormatFolder, MissingTruncatedOrDamagedShardFilesAreNamed) {
  TempFiles tmp;
  const std::string src = WriteSynthetic(SmallLlama(64, 96, 2), GgmlType::kF32, &tmp);
  const std::string out = tmp.New("ondo_fmt_shards");
  ASSERT_TRUE(Convert(src, out, OndoQuant::kKeep, 1, false).ok());  // a shard per group
  const std::string shard1 = (fs::path(out) / "shard-00001.bin").string();
  const std::vector<uint8_t> good = ReadAll(shard1);
  ASSERT_FALSE(good.empty());
  std::unique_ptr<GgufFile> f;

  std::vector<uint8_t> b = good;
  b[b.size() / 2] ^= 0x10;
  WriteAll(shard1, b);
  EXPECT_TRUE(OpenOndo(out, false, &f).ok()) << "a flipped byte is only seen by the CRC";
  std::vector<OndoShardCheck> checks;
  const Status v = VerifyOndo(out, &checks);
  EXPECT_EQ(v.code(), StatusCode::kCorrupt);
  EXPECT_NE(v.message().find("shard-00001.bin"), std::string::npos) << v.message();
  ASSERT_GE(checks.size(), 2u);
  EXPECT_TRUE(checks[0].ok());
  EXPECT_FALSE(checks[1].ok());

  b.pop_back();
  WriteAll(shard1, b);
  Status s = OpenOndo(out, false, &f);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();

  fs::remove(shard1);
  s = OpenOndo(out, false, &f);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("shard 1"), std::string::npos) << s.message();

  WriteAll(shard1, good);
  EXPECT_TRUE(VerifyOndo(out, &checks).ok());
}

// The shared ko-mini-a files (when ../shared is there): .ondo copies compute exactly what the
// GGUF files do, for the float and the K-quant files.
TEST(OndoFormatShared, KoMiniARoundTripsBitwise) {
  const std::string dir = ONDO_SHARED_DIR "/models";
  for (const char* name : {"ko-mini-a.f32.gguf", "ko-mini-a.Q4_K_M.gguf"}) {
    const std::string src = dir + "/" + name;
    if (!fs::exists(src)) GTEST_SKIP() << src << " not found (../shared is optional)";
    TempFiles tmp;
    const std::string out = tmp.New("ondo_fmt_komini");
    ASSERT_TRUE(Convert(src, out, OndoQuant::kKeep, 4 << 20, false).ok());
    std::unique_ptr<Model> a, b;
    ASSERT_TRUE(Model::Load(src, &a).ok());
    ASSERT_TRUE(Model::Load(out, &b).ok());
    EXPECT_EQ(RunLogits(*a), RunLogits(*b)) << name;
  }
}

}  // namespace
}  // namespace ondo::runtime
