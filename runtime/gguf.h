// GgufFile: a GGUF (v2/v3) file mapped read-only; metadata and tensor infos are views into
// the mapping, every offset and size checked against it at Open. Weights are never copied.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernels.h"
#include "platform/mapped_file.h"
#include "platform/status.h"

namespace ondo::runtime {

class OndoReader;  // runtime/ondo_format.cc: binds tensors of a metadata-only parse to shards

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* GgufTypeName(GgufType t);

// A metadata value. Scalars are decoded; strings and arrays point into the mapping.
struct GgufValue {
  GgufType type = GgufType::kU8;
  union {
    uint64_t u64;
    int64_t i64;
    double f64;
    bool b;
  } scalar{};
  std::string_view str;            // kString
  GgufType elem_type = GgufType::kU8;  // kArray
  uint64_t count = 0;              // kArray: number of elements
  const uint8_t* data = nullptr;   // kArray: first element; kString: unused
  size_t bytes = 0;                // kArray: encoded size of the elements

  bool IsInteger() const;
  bool IsFloat() const { return type == GgufType::kF32 || type == GgufType::kF64; }
};

struct GgufKv {
  std::string_view key;
  GgufValue value;
};

constexpr int kGgufMaxDims = 4;

struct GgufTensorInfo {
  std::string_view name;
  int n_dims = 0;
  int64_t ne[kGgufMaxDims] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
  kernels::DType type = kernels::DType::kF32;
  uint64_t offset = 0;       // relative to the data section
  size_t bytes = 0;          // total size in the file
  const uint8_t* data = nullptr;  // points into the mapping
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and validates `path`.
  static Status Open(const std::string& path, std::unique_ptr<GgufFile>* out);
  // Validates a buffer the caller keeps alive (fuzzing, tests). Nothing is copied.
  static Status Parse(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>* out);
  // Parses only the header, metadata and tensor infos of a buffer (an .ondo manifest): the
  // tensors' data is elsewhere, so their offsets and sizes are not checked against the buffer
  // and every tensor's `data` is nullptr until bound (runtime/ondo_format.h).
  static Status ParseMetadata(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>* out);

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  // Bytes of every file of the model: the file, or an .ondo folder's manifest and shards.
  uint64_t total_bytes() const {
    // A single-file .ondo parses only its manifest (size_) but maps the whole file.
    uint64_t n = mapping_ != nullptr ? std::max<uint64_t>(size_, mapping_->size()) : size_;
    for (const auto& m : extra_mappings_) n += m->size();
    return n;
  }
  const uint8_t* file_data() const { return base_; }
  const platform::MappedFile* mapping() const { return mapping_.get(); }
  // Every mapped file tensor data may lie in (the file; an .ondo folder's manifest and
  // shards); empty for a parsed buffer. Tensors converted in memory (a Hugging Face folder's)
  // lie in none of them.
  std::vector<const platform::MappedFile*> mapped_files() const {
    std::vector<const platform::MappedFile*> v;
    if (mapping_ != nullptr) v.push_back(mapping_.get());
    for (const auto& m : extra_mappings_) v.push_back(m.get());
    return v;
  }

  const std::vector<GgufKv>& kvs() const { return kvs_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufKv* Find(std::string_view key) const;
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Typed getters. NotFound if the key is absent, InvalidArgument on a type mismatch or a
  // value that does not fit. Integer getters accept any integer type that fits.
  Status GetU32(std::string_view key, uint32_t* out) const;
  Status GetI32(std::string_view key, int32_t* out) const;
  Status GetU64(std::string_view key, uint64_t* out) const;
  Status GetF32(std::string_view key, float* out) const;
  Status GetBool(std::string_view key, bool* out) const;
  Status GetString(std::string_view key, std::string_view* out) const;
  Status GetStringArray(std::string_view key, std::vector<std::string_view>* out) const;
  Status GetF32Array(std::string_view key, std::vector<float>* out) const;
  Status GetI32Array(std::string_view key, std::vector<int32_t>* out) const;
  // Optional variants: leave *out unchanged when the key is absent; errors only on mismatch.
  Status GetU32Opt(std::string_view key, uint32_t* out) const;
  Status GetF32Opt(std::string_view key, float* out) const;
  Status GetBoolOpt(std::string_view key, bool* out) const;

  // Human-readable one-line rendering of a value (arrays abbreviated), for `ondo inspect`.
  static std::string ValueToString(const GgufValue& v, size_t max_items = 8);

 private:
  friend class OndoReader;
  friend class HfImporter;  // runtime/hf_import.cc: a Hugging Face folder as a GgufFile
  GgufFile() = default;
  Status ParseAll();

  std::unique_ptr<platform::MappedFile> mapping_;
  std::vector<std::unique_ptr<platform::MappedFile>> extra_mappings_;  // .ondo shard files
  std::vector<std::vector<uint8_t>> owned_buffers_;  // hf_import: metadata, converted tensors
  bool metadata_only_ = false;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace ondo::runtime
