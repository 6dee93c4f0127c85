// Loader fault tests: valid synthetic GGUF files from the fixture writer, then broken one
// field at a time (truncation, magic, version, offsets, dimensions, types, metadata, model
// hyper-parameters). Every case must give a clear non-OK Status naming the offending thing,
// and never read out of bounds (run under -DONDO_SANITIZE=ON: buffers are sized exactly).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/gguf.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::runtime {
namespace {

using test::GgmlType;
using test::GgufLayout;
using test::GgufWriter;

// A small valid llama model (F16 matrices, F32 norms), as a writer to break.
// n_embd 32 by default; 256 gives rows of one K-quant super-block.
GgufWriter ModelWriter(test::RefArch arch = test::RefArch::kLlama, int n_embd = 32) {
  test::SyntheticSpec spec;
  spec.config.arch = arch;
  spec.config.n_embd = n_embd;
  spec.config.n_layer = 2;
  spec.config.n_head = 4;
  spec.config.n_head_kv = 2;
  spec.config.head_dim = n_embd / 4;
  spec.config.n_ff = 2 * n_embd;
  spec.config.n_rot = n_embd / 4;
  spec.weight_type = GgmlType::kF16;
  GgufWriter w;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, &w, &ref);
  return w;
}

// Parses a copy of `bytes` in a buffer of exactly that size, so a read past the end is an
// ASan error rather than a read of the vector's spare capacity.
Status ParseExact(const std::vector<uint8_t>& bytes, size_t n = SIZE_MAX) {
  n = std::min(n, bytes.size());
  std::unique_ptr<uint8_t[]> buf(new uint8_t[n == 0 ? 1 : n]);
  if (n > 0) std::memcpy(buf.get(), bytes.data(), n);
  std::unique_ptr<GgufFile> f;
  Status s = GgufFile::Parse(buf.get(), n, &f);
  if (s.ok()) {
    // A successful parse must be internally consistent: every tensor inside the buffer.
    for (const auto& t : f->tensors()) {
      EXPECT_GE(t.data, buf.get());
      EXPECT_LE(t.data + t.bytes, buf.get() + n);
    }
  }
  return s;
}

// Loads a whole model from bytes through a file (the mmap path).
Status LoadBytes(const std::vector<uint8_t>& bytes, const std::string& name, std::unique_ptr<Model>* out = nullptr) {
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_fault_" + name);
  std::FILE* fp = std::fopen(path.c_str(), "wb");
  if (fp == nullptr) return Status(StatusCode::kIoError, "cannot write " + path);
  const bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size();
  std::fclose(fp);
  if (!ok) return Status(StatusCode::kIoError, "cannot write " + path);
  std::unique_ptr<Model> m;
  Status s = Model::Load(path, &m);
  std::remove(path.c_str());
  if (out != nullptr) *out = std::move(m);
  return s;
}

Status LoadWriter(const GgufWriter& w, const std::string& name) { return LoadBytes(w.Build(), name); }

#define EXPECT_ERROR_MENTIONS(status, code_, text)                                      \
  do {                                                                                  \
    const ::ondo::Status st_ = (status);                                                \
    EXPECT_FALSE(st_.ok()) << "expected an error mentioning '" << (text) << "'";       \
    EXPECT_EQ(st_.code(), (code_)) << st_.ToString();                                   \
    EXPECT_NE(st_.message().find(text), std::string::npos) << st_.ToString();           \
  } while (0)

// --- the valid file, read back ----------------------------------------------------------

TEST(GgufRoundTrip, EveryValueTypeAndTensorReadsBack) {
  GgufWriter w = ModelWriter();
  w.AddStringArray("ondo.test.strings", {"", "a", "\xED\x95\x9C\xEA\xB8\x80"});  // "", a, 한글
  w.AddF32Array("ondo.test.empty", {});
  w.AddU32("ondo.test.u32", 4000000000u);
  GgufLayout lay;
  const std::vector<uint8_t> bytes = w.Build(&lay);
  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(GgufFile::Parse(bytes.data(), bytes.size(), &f).ok());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset(), lay.data_offset);
  EXPECT_EQ(f->kvs().size(), lay.kvs.size());

  auto get = [&](const char* key) -> const GgufValue& {
    const GgufKv* kv = f->Find(key);
    EXPECT_NE(kv, nullptr) << key;
    static const GgufValue none;
    return kv ? kv->value : none;
  };
  EXPECT_EQ(get("ondo.test.u8").type, GgufType::kU8);
  EXPECT_EQ(get("ondo.test.u8").scalar.u64, 200u);
  EXPECT_EQ(get("ondo.test.i8").scalar.i64, -100);
  EXPECT_EQ(get("ondo.test.u16").scalar.u64, 60000u);
  EXPECT_EQ(get("ondo.test.i16").scalar.i64, -30000);
  EXPECT_EQ(get("ondo.test.i32").scalar.i64, -2000000000);
  EXPECT_EQ(get("ondo.test.u64").scalar.u64, 1ull << 40);
  EXPECT_EQ(get("ondo.test.i64").scalar.i64, -(1ll << 40));
  EXPECT_EQ(get("ondo.test.f64").scalar.f64, 0.125);
  EXPECT_EQ(get("ondo.test.u8_array").type, GgufType::kArray);
  EXPECT_EQ(get("ondo.test.u8_array").elem_type, GgufType::kU8);
  EXPECT_EQ(get("ondo.test.u8_array").count, 3u);
  EXPECT_EQ(get("ondo.test.nested").elem_type, GgufType::kArray);
  EXPECT_EQ(get("ondo.test.nested").count, 3u);
  EXPECT_EQ(get("ondo.test.empty").count, 0u);
  uint32_t u32 = 0;
  EXPECT_TRUE(f->GetU32("ondo.test.u32", &u32).ok());
  EXPECT_EQ(u32, 4000000000u);
  int32_t i32 = 0;
  EXPECT_FALSE(f->GetI32("ondo.test.u32", &i32).ok());  // does not fit
  float eps = 0;
  EXPECT_TRUE(f->GetF32("llama.attention.layer_norm_rms_epsilon", &eps).ok());
  EXPECT_EQ(eps, 1e-5f);
  bool add_bos = false;
  EXPECT_TRUE(f->GetBool("tokenizer.ggml.add_bos_token", &add_bos).ok());
  EXPECT_TRUE(add_bos);
  std::string_view arch;
  EXPECT_TRUE(f->GetString("general.architecture", &arch).ok());
  EXPECT_EQ(arch, "llama");
  std::vector<std::string_view> strs;
  ASSERT_TRUE(f->GetStringArray("ondo.test.strings", &strs).ok());
  ASSERT_EQ(strs.size(), 3u);
  EXPECT_EQ(strs[0], "");
  EXPECT_EQ(strs[1], "a");
  EXPECT_EQ(strs[2], "\xED\x95\x9C\xEA\xB8\x80");
  std::vector<std::string_view> tokens;
  ASSERT_TRUE(f->GetStringArray("tokenizer.ggml.tokens", &tokens).ok());
  ASSERT_EQ(tokens.size(), static_cast<size_t>(test::kSyntheticVocab));
  EXPECT_EQ(tokens[3], "<0x00>");
  std::vector<float> scores;
  ASSERT_TRUE(f->GetF32Array("tokenizer.ggml.scores", &scores).ok());
  EXPECT_EQ(scores.back(), -29.0f);
  std::vector<int32_t> types;
  ASSERT_TRUE(f->GetI32Array("tokenizer.ggml.token_type", &types).ok());
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(f->GetString("general.alignment", &arch).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetU32("no.such.key", &u32).code(), StatusCode::kNotFound);

  ASSERT_EQ(f->tensors().size(), lay.tensors.size());
  for (size_t i = 0; i < lay.tensors.size(); ++i) {
    const GgufTensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, lay.tensors[i].name);
    EXPECT_EQ(t.data, bytes.data() + lay.tensors[i].data_pos) << t.name;
    EXPECT_EQ(t.bytes, lay.tensors[i].data_bytes) << t.name;
    EXPECT_EQ(t.offset % 32, 0u);
  }
  const GgufTensorInfo* emb = f->FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->n_dims, 2);
  EXPECT_EQ(emb->ne[0], 32);
  EXPECT_EQ(emb->ne[1], test::kSyntheticVocab);
  EXPECT_EQ(emb->type, kernels::DType::kF16);
}

TEST(GgufRoundTrip, Version2AndWiderAlignmentParse) {
  GgufWriter w = ModelWriter();
  w.set_version(2);
  ASSERT_TRUE(w.ReplaceU32("general.alignment", 64));
  w.set_alignment(64);
  GgufLayout lay;
  const std::vector<uint8_t> bytes = w.Build(&lay);
  std::unique_ptr<GgufFile> f;
  Status s = GgufFile::Parse(bytes.data(), bytes.size(), &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_TRUE(LoadBytes(bytes, "v2").ok());
}

TEST(GgufRoundTrip, ValidModelLoads) {
  Status s = LoadWriter(ModelWriter(), "valid");
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (auto arch : {test::RefArch::kQwen2, test::RefArch::kQwen3, test::RefArch::kGptNeox}) {
    s = LoadWriter(ModelWriter(arch), std::string("valid_") + test::RefArchName(arch));
    EXPECT_TRUE(s.ok()) << test::RefArchName(arch) << ": " << s.ToString();
  }
}

// --- truncation ---------------------------------------------------------------------------

TEST(GgufFault, TruncatedAtEveryHeaderByteAndAlongTheData) {
  GgufLayout lay;
  const std::vector<uint8_t> bytes = ModelWriter().Build(&lay);
  // The file is complete once the last tensor's data is; only zero padding follows.
  const size_t needed = lay.tensors.back().data_pos + lay.tensors.back().data_bytes;
  std::vector<size_t> cuts;
  for (size_t n = 0; n <= lay.data_offset + 64; ++n) cuts.push_back(n);
  for (size_t n = lay.data_offset + 64; n < needed; n += 61) cuts.push_back(n);
  cuts.push_back(needed - 1);
  for (size_t n : cuts) {
    Status s = ParseExact(bytes, n);
    ASSERT_FALSE(s.ok()) << "cut at " << n << " of " << bytes.size() << " parsed";
    EXPECT_FALSE(s.message().empty());
    if (n >= lay.data_offset) {
      // Header intact: the error names a tensor that does not fit ("needs N bytes, more than
      // the whole file" or "ends past the end of the file").
      EXPECT_NE(s.message().find("tensor '"), std::string::npos) << n << ": " << s.ToString();
    }
  }
  EXPECT_TRUE(ParseExact(bytes, needed).ok());
  EXPECT_TRUE(ParseExact(bytes).ok());
}

TEST(GgufFault, TruncatedFilesFailToLoad) {
  GgufLayout lay;
  const std::vector<uint8_t> bytes = ModelWriter().Build(&lay);
  for (size_t n : {size_t{0}, size_t{3}, size_t{4}, size_t{23}, size_t{24}, lay.kvs[5].value_pos,
                   lay.tensors[0].name_len_pos + 3, lay.data_offset, bytes.size() / 2, bytes.size() - 40}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    Status s = LoadBytes(cut, "truncated");
    EXPECT_FALSE(s.ok()) << "cut at " << n;
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << n << ": " << s.ToString();
  }
}

// --- header -------------------------------------------------------------------------------

TEST(GgufFault, BadMagic) {
  std::vector<uint8_t> bytes = ModelWriter().Build();
  bytes[3] = 'X';
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "magic");
  std::vector<uint8_t> gguf_be = {'F', 'U', 'G', 'G'};
  EXPECT_ERROR_MENTIONS(ParseExact(gguf_be), StatusCode::kCorrupt, "magic");
  EXPECT_ERROR_MENTIONS(LoadBytes(bytes, "magic"), StatusCode::kCorrupt, "magic");
}

TEST(GgufFault, UnsupportedVersions) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  struct V { uint32_t version; const char* mention; };
  for (V v : {V{0, "version 0"}, V{1, "version 1"}, V{4, "version 4"}, V{0x03000000u, "big-endian"},
              V{0x02000000u, "big-endian"}, V{0xffffffffu, "4294967295"}}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU32(&bytes, lay.version_pos, v.version);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kUnsupported, v.mention);
  }
}

TEST(GgufFault, CountsLargerThanTheFile) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  for (uint64_t n : {uint64_t{1} << 40, ~uint64_t{0}, uint64_t{good.size()}}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU64(&bytes, lay.n_kv_pos, n);
    EXPECT_FALSE(ParseExact(bytes).ok()) << n;
    bytes = good;
    test::PatchU64(&bytes, lay.n_tensors_pos, n);
    EXPECT_FALSE(ParseExact(bytes).ok()) << n;
  }
  std::vector<uint8_t> bytes = good;
  test::PatchU64(&bytes, lay.n_kv_pos, ~uint64_t{0});
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "metadata entries");
}

// --- tensor infos -------------------------------------------------------------------------

TEST(GgufFault, TensorDataPastEndOfFile) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  const GgufLayout::Tensor& last = lay.tensors.back();
  const uint64_t data_size = good.size() - lay.data_offset;
  for (uint64_t off : {data_size, data_size + 4096, uint64_t{1} << 62, ~uint64_t{31}}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU64(&bytes, last.offset_pos, off);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, last.name);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "past the end");
  }
  // Within the file, but running over its end by one block.
  std::vector<uint8_t> bytes = good;
  const uint64_t over = (data_size - last.data_bytes + 32) / 32 * 32;
  test::PatchU64(&bytes, last.offset_pos, over);
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "past the end");
  EXPECT_ERROR_MENTIONS(LoadBytes(bytes, "past_end"), StatusCode::kCorrupt, last.name);
}

TEST(GgufFault, TensorOffsetNotAligned) {
  GgufLayout lay;
  std::vector<uint8_t> bytes = ModelWriter().Build(&lay);
  const GgufLayout::Tensor& t = lay.tensors[2];
  uint64_t off;
  std::memcpy(&off, bytes.data() + t.offset_pos, 8);
  test::PatchU64(&bytes, t.offset_pos, off + 2);
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, t.name);
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "not aligned");
}

TEST(GgufFault, AbsurdDimensions) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  const GgufLayout::Tensor& t = *lay.FindTensor("blk.0.attn_q.weight");  // 2-D F16
  const GgufLayout::Tensor& n = *lay.FindTensor("blk.0.attn_norm.weight");  // 1-D F32
  // ne[0] = 2^62: the byte size alone exceeds the file.
  for (uint64_t ne : {uint64_t{1} << 62, uint64_t{1} << 63, ~uint64_t{0}, uint64_t{1} << 32}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU64(&bytes, t.ne_pos, ne);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, t.name);
    bytes = good;
    test::PatchU64(&bytes, t.ne_pos + 8, ne);  // ne[1]: element count overflows
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, t.name);
    bytes = good;
    test::PatchU64(&bytes, n.ne_pos, ne);  // F32: bytes = 4 * ne overflows
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, n.name);
  }
  std::vector<uint8_t> bytes = good;
  test::PatchU64(&bytes, t.ne_pos + 8, 0);
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "dimension");
  for (uint32_t dims : {0u, 5u, 1000u, 0xffffffffu}) {
    bytes = good;
    test::PatchU32(&bytes, t.n_dims_pos, dims);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, std::to_string(dims) + " dimensions");
  }
  // A valid 5-D-looking file written as such (ne all 1 beyond the 4th).
  GgufWriter w = ModelWriter();
  w.AddRawTensor("five_d", {2, 1, 1, 1, 1}, 0, std::vector<uint8_t>(8, 0));
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "five_d");
}

TEST(GgufFault, UnknownTensorType) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  const GgufLayout::Tensor& t = lay.tensors[1];
  for (uint32_t type : {99u, 4u, 5u, 40u, 0x80000000u}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU32(&bytes, t.type_pos, type);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, t.name);
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "type id " + std::to_string(type));
  }
}

TEST(GgufFault, RowNotAWholeNumberOfBlocks) {
  GgufWriter w = ModelWriter();
  w.AddRawTensor("odd_q8", {33, 1}, static_cast<uint32_t>(GgmlType::kQ8_0), std::vector<uint8_t>(68, 0));
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "odd_q8");
}

TEST(GgufFault, DuplicateTensorName) {
  GgufWriter w = ModelWriter();
  w.AddRawTensor("output_norm.weight", {32}, 0, std::vector<uint8_t>(128, 0));
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "output_norm.weight");
}

TEST(GgufFault, TensorNameLengthPastEnd) {
  GgufLayout lay;
  std::vector<uint8_t> bytes = ModelWriter().Build(&lay);
  test::PatchU64(&bytes, lay.tensors[3].name_len_pos, uint64_t{1} << 50);
  EXPECT_FALSE(ParseExact(bytes).ok());
}

// --- metadata -----------------------------------------------------------------------------

TEST(GgufFault, DuplicateKey) {
  GgufWriter w = ModelWriter();
  w.AddU32("llama.block_count", 2);
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "duplicate metadata key 'llama.block_count'");
}

TEST(GgufFault, StringLengthPastEnd) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  const GgufLayout::Kv& name = *lay.FindKv("general.name");
  for (uint64_t len : {uint64_t{good.size()}, uint64_t{1} << 40, ~uint64_t{0}}) {
    std::vector<uint8_t> bytes = good;
    test::PatchU64(&bytes, name.value_pos, len);  // the string value's length
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "general.name");
    bytes = good;
    test::PatchU64(&bytes, name.key_len_pos, len);  // the key's own length
    EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "past the end");
  }
  // A string element inside an array.
  const GgufLayout::Kv& toks = *lay.FindKv("tokenizer.ggml.tokens");
  std::vector<uint8_t> bytes = good;
  test::PatchU64(&bytes, toks.value_pos + 4 + 8 + 8 + 5 + 8 + 3, ~uint64_t{0} / 2);  // 3rd element
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "tokenizer.ggml.tokens");
}

TEST(GgufFault, HugeArrayCount) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                          "ondo.test.nested", "ondo.test.u8_array"}) {
    for (uint64_t count : {uint64_t{1} << 60, ~uint64_t{0}, uint64_t{good.size()}}) {
      std::vector<uint8_t> bytes = good;
      test::PatchU64(&bytes, lay.FindKv(key)->value_pos + 4, count);  // after the elem type
      EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, key);
    }
  }
}

TEST(GgufFault, UnknownValueTypes) {
  GgufLayout lay;
  const std::vector<uint8_t> good = ModelWriter().Build(&lay);
  std::vector<uint8_t> bytes = good;
  test::PatchU32(&bytes, lay.FindKv("general.name")->type_pos, 13);
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "general.name");
  bytes = good;
  test::PatchU32(&bytes, lay.FindKv("tokenizer.ggml.scores")->value_pos, 0xdeadu);  // array elem type
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "tokenizer.ggml.scores");
  // A bool that is neither 0 nor 1.
  bytes = good;
  bytes[lay.FindKv("tokenizer.ggml.add_bos_token")->value_pos] = 7;
  EXPECT_ERROR_MENTIONS(ParseExact(bytes), StatusCode::kCorrupt, "tokenizer.ggml.add_bos_token");
}

TEST(GgufFault, ArraysNestedTooDeep) {
  GgufWriter w = ModelWriter();
  // array<array<array<array<array<array<u8>>>>>> with one element each.
  std::vector<uint8_t> v;
  for (int i = 0; i < 6; ++i) {
    test::PutU32(&v, 9);
    test::PutU64(&v, 1);
  }
  test::PutU32(&v, 0);
  test::PutU64(&v, 1);
  v.push_back(0);
  w.AddRawKv("ondo.test.deep", 9, v);
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "ondo.test.deep");
}

TEST(GgufFault, AlignmentNotAPowerOfTwo) {
  for (uint32_t a : {0u, 3u, 48u, 0xffffffffu}) {
    GgufWriter w = ModelWriter();
    ASSERT_TRUE(w.ReplaceU32("general.alignment", a));
    EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "general.alignment " + std::to_string(a));
  }
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.RemoveKey("general.alignment"));
  w.AddU64("general.alignment", 32);
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "general.alignment");
  // Declared 64 while the data was laid out at 32: the second 32-byte tensor sits at an
  // offset that is 32 mod 64.
  w = ModelWriter();
  ASSERT_TRUE(w.ReplaceU32("general.alignment", 64));
  w.AddTensor("ondo.pad_a", {8}, GgmlType::kF32, std::vector<float>(8, 0.0f));
  w.AddTensor("ondo.pad_b", {8}, GgmlType::kF32, std::vector<float>(8, 0.0f));
  EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "not aligned to 64");
}

// --- model level --------------------------------------------------------------------------

TEST(ModelFault, MissingFileIsNotFound) {
  std::unique_ptr<Model> m;
  const std::string path = ::testing::TempDir() + "/ondo_no_such_model.gguf";
  EXPECT_ERROR_MENTIONS(Model::Load(path, &m), StatusCode::kNotFound, "ondo_no_such_model.gguf");
  EXPECT_EQ(m, nullptr);
}

TEST(ModelFault, MissingTensor) {
  for (const char* name : {"blk.1.ffn_down.weight", "token_embd.weight", "output_norm.weight", "blk.0.attn_k.weight"}) {
    GgufWriter w = ModelWriter();
    ASSERT_TRUE(w.RemoveTensor(name));
    EXPECT_ERROR_MENTIONS(LoadWriter(w, "missing"), StatusCode::kNotFound, name);
  }
  // Architecture-specific tensors.
  GgufWriter w = ModelWriter(test::RefArch::kQwen2);
  ASSERT_TRUE(w.RemoveTensor("blk.1.attn_v.bias"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "missing"), StatusCode::kNotFound, "blk.1.attn_v.bias");
  w = ModelWriter(test::RefArch::kQwen3);
  ASSERT_TRUE(w.RemoveTensor("blk.0.attn_k_norm.weight"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "missing"), StatusCode::kNotFound, "blk.0.attn_k_norm.weight");
  w = ModelWriter(test::RefArch::kGptNeox);
  ASSERT_TRUE(w.RemoveTensor("blk.0.attn_qkv.bias"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "missing"), StatusCode::kNotFound, "blk.0.attn_qkv.bias");
}

TEST(ModelFault, WrongTensorShape) {
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("blk.1.attn_k.weight"));
  // [n_embd, n_kv_embd + 8] instead of [32, 16].
  w.AddTensor("blk.1.attn_k.weight", {32, 24}, GgmlType::kF16, std::vector<float>(32 * 24, 0.5f));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "shape"), StatusCode::kCorrupt, "blk.1.attn_k.weight");
  // Transposed.
  w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("blk.0.ffn_down.weight"));
  w.AddTensor("blk.0.ffn_down.weight", {32, 64}, GgmlType::kF16, std::vector<float>(32 * 64, 0.5f));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "shape"), StatusCode::kCorrupt, "blk.0.ffn_down.weight");
  // A 3-D tensor where a matrix belongs.
  w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("blk.0.attn_q.weight"));
  w.AddTensor("blk.0.attn_q.weight", {32, 16, 2}, GgmlType::kF16, std::vector<float>(32 * 32, 0.5f));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "shape"), StatusCode::kCorrupt, "blk.0.attn_q.weight");
  // A norm stored as F16 (norms and biases must be F32).
  w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("blk.0.ffn_norm.weight"));
  w.AddTensor("blk.0.ffn_norm.weight", {32}, GgmlType::kF16, std::vector<float>(32, 1.0f));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "shape"), StatusCode::kUnsupported, "blk.0.ffn_norm.weight");
}

TEST(ModelFault, WeightTypeNotComputable) {
  // Q8_1 (id 9, 36-byte blocks of 32) is a valid GGUF type that only ever holds activations.
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("blk.0.attn_v.weight"));
  w.AddRawTensor("blk.0.attn_v.weight", {32, 16}, 9, std::vector<uint8_t>(16 * 36, 0));
  Status s = LoadWriter(w, "q8_1");
  EXPECT_ERROR_MENTIONS(s, StatusCode::kUnsupported, "blk.0.attn_v.weight");
  EXPECT_NE(s.message().find("Q8_1"), std::string::npos) << s.ToString();
}

TEST(ModelFault, UnsupportedQuantTypesNameTheTensorTheTypeAndWhatIsSupported) {
  // Valid GGUF types whose blocks ondo does not compute with: a one-line refusal at load.
  for (uint32_t id : {16u, 17u, 18u, 19u, 21u, 22u, 29u, 34u, 35u}) {
    const kernels::TypeInfo* info = kernels::GetTypeInfo(id);
    ASSERT_NE(info, nullptr) << id;
    GgufWriter w = ModelWriter(test::RefArch::kLlama, 256);
    ASSERT_TRUE(w.RemoveTensor("blk.1.ffn_up.weight"));
    // ffn_up: ne = {256, 512}, one super-block per row.
    w.AddRawTensor("blk.1.ffn_up.weight", {256, 512}, id,
                   std::vector<uint8_t>(512 * static_cast<size_t>(info->type_size), 0));
    Status s = LoadWriter(w, "iq");
    EXPECT_ERROR_MENTIONS(s, StatusCode::kUnsupported, "blk.1.ffn_up.weight");
    EXPECT_NE(s.message().find(std::string("type ") + info->name + ","), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("Q4_K"), std::string::npos) << s.ToString();  // the supported list
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
  }
}

TEST(GgufFault, QuantizedTensorsWithRaggedRowsOrShortData) {
  for (uint32_t id = 0; id < 40; ++id) {
    const kernels::TypeInfo* info = kernels::GetTypeInfo(id);
    if (info == nullptr || info->block_size == 1) continue;
    SCOPED_TRACE(info->name);
    const uint64_t bs = static_cast<uint64_t>(info->block_size);
    const uint64_t ts = static_cast<uint64_t>(info->type_size);
    // A row of 1.5 blocks.
    GgufWriter w = ModelWriter();
    w.AddRawTensor("ragged", {bs + bs / 2, 2}, id, std::vector<uint8_t>(4 * ts, 0));
    EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "ragged");
    EXPECT_ERROR_MENTIONS(ParseExact(w.Build()), StatusCode::kCorrupt, "block size");
    // Two rows of two blocks, placed last, with the file cut one byte short of its data.
    w = ModelWriter();
    w.AddRawTensor("short", {2 * bs, 2}, id, std::vector<uint8_t>(4 * ts, 0));
    GgufLayout lay;
    const std::vector<uint8_t> bytes = w.Build(&lay);
    const GgufLayout::Tensor* t = lay.FindTensor("short");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->data_bytes, 4 * ts);
    EXPECT_TRUE(ParseExact(bytes, t->data_pos + t->data_bytes).ok());
    EXPECT_ERROR_MENTIONS(ParseExact(bytes, t->data_pos + t->data_bytes - 1), StatusCode::kCorrupt, "short");
  }
}

TEST(ModelFault, HeadCountKvNotDividingHeadCount) {
  for (uint32_t kv : {3u, 0u, 8u}) {
    GgufWriter w = ModelWriter();
    ASSERT_TRUE(w.ReplaceU32("llama.attention.head_count_kv", kv));
    EXPECT_ERROR_MENTIONS(LoadWriter(w, "kv"), StatusCode::kCorrupt, "head_count_kv " + std::to_string(kv));
  }
}

TEST(ModelFault, UnsupportedArchitecture) {
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.ReplaceString("general.architecture", "mamba"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "arch"), StatusCode::kUnsupported, "'mamba'");
  ASSERT_TRUE(w.RemoveKey("general.architecture"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "arch"), StatusCode::kNotFound, "general.architecture");
}

TEST(ModelFault, BadHyperParameters) {
  struct Bad { const char* key; uint32_t value; const char* mention; };
  for (Bad b : {Bad{"llama.block_count", 0, "block_count 0"},
                Bad{"llama.block_count", 3, "blk.2"},  // claims a layer the file lacks
                Bad{"llama.embedding_length", 0, "embedding_length 0"},
                Bad{"llama.attention.head_count", 0, "head_count"},
                Bad{"llama.feed_forward_length", 0, "feed_forward_length 0"},
                Bad{"llama.rope.dimension_count", 7, "rope.dimension_count 7"},
                Bad{"llama.rope.dimension_count", 16, "rope.dimension_count 16"}}) {
    GgufWriter w = ModelWriter();
    ASSERT_TRUE(w.ReplaceU32(b.key, b.value)) << b.key;
    Status s = LoadWriter(w, "hparams");
    EXPECT_FALSE(s.ok()) << b.key << " = " << b.value;
    EXPECT_NE(s.message().find(b.mention), std::string::npos) << s.ToString();
  }
  // A required key missing, and one of the wrong type.
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.RemoveKey("llama.embedding_length"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "hparams"), StatusCode::kNotFound, "llama.embedding_length");
  w = ModelWriter();
  ASSERT_TRUE(w.ReplaceString("llama.feed_forward_length", "64"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "hparams"), StatusCode::kInvalidArgument, "llama.feed_forward_length");
  w = ModelWriter();
  ASSERT_TRUE(w.RemoveKey("llama.attention.layer_norm_rms_epsilon"));
  EXPECT_ERROR_MENTIONS(LoadWriter(w, "hparams"), StatusCode::kNotFound, "layer_norm_rms_epsilon");
}

TEST(ModelFault, VocabularyLargerThanEmbedding) {
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.RemoveTensor("token_embd.weight"));
  ASSERT_TRUE(w.RemoveTensor("output.weight"));
  w.AddTensor("token_embd.weight", {32, 200}, GgmlType::kF16, std::vector<float>(32 * 200, 0.1f));
  Status s = LoadWriter(w, "vocab");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("200"), std::string::npos) << s.ToString();
}

// general.alignment 1 and 2 are legal, but tensors that land off their element alignment
// must be refused, not handed to kernels that load floats from them.
TEST(ModelFault, TensorMisalignedForItsType) {
  for (uint32_t a : {1u, 2u}) {
    // A padding string whose length puts the data section at an odd (a = 1) or 2-mod-4
    // (a = 2) offset; every tensor size here is a multiple of 4, so the F32 ones follow it.
    GgufLayout lay;
    std::vector<uint8_t> bytes;
    for (size_t pad = 1; pad <= 4; ++pad) {
      GgufWriter w = ModelWriter();
      ASSERT_TRUE(w.ReplaceU32("general.alignment", a));
      w.set_alignment(a);
      w.AddString("ondo.test.pad", std::string(pad, 'x'));
      bytes = w.Build(&lay);
      if (lay.data_offset % 4 == (a == 1 ? 1 : 2)) break;
    }
    ASSERT_EQ(lay.data_offset % 4, a == 1 ? 1u : 2u);
    EXPECT_TRUE(ParseExact(bytes).ok());  // a valid GGUF file...
    EXPECT_ERROR_MENTIONS(LoadBytes(bytes, "misaligned"), StatusCode::kCorrupt, "aligned");  // ...but not computable
  }
  // Alignment 4 keeps every tensor usable.
  GgufWriter w = ModelWriter();
  ASSERT_TRUE(w.ReplaceU32("general.alignment", 4));
  w.set_alignment(4);
  std::unique_ptr<Model> m;
  ASSERT_TRUE(LoadBytes(w.Build(), "align4", &m).ok());
  SessionOptions opt;
  opt.n_ctx = 8;
  opt.n_threads = 1;
  std::unique_ptr<Session> s;
  ASSERT_TRUE(Session::Create(*m, opt, &s).ok());
  EXPECT_TRUE(s->Decode(5).ok());
}

}  // namespace
}  // namespace ondo::runtime
