// GgufWriter: a test fixture that writes GGUF files from the published layout (ggml
// docs/gguf.md), independently of runtime/gguf.cc, so reader and writer check each other.
// It can also write what a valid writer never would (duplicate keys, raw type ids, unaligned
// offsets) and reports where every field landed, for fault tests that patch single fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ondo::test {

// Metadata value type ids as stored in GGUF.
enum class GgufValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Tensor type ids (ggml_type) this fixture can encode.
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };

// IEEE binary16 conversions, round to nearest even (written here, not taken from kernels/).
uint16_t F32ToF16(float f);
float F16ToF32(uint16_t h);
// bfloat16: the top half of a float, rounded to nearest even.
uint16_t F32ToBf16(float f);
float Bf16ToF32(uint16_t h);

// Encodes n values (n % 32 == 0 for Q8_0) as `type` the way ggml's reference quantizer
// does: Q8_0 blocks of 32 are {f16 d = amax / 127, int8 q[32] = round(x / d)}.
std::vector<uint8_t> EncodeTensor(GgmlType type, const std::vector<float>& values);
// Decodes what EncodeTensor wrote: the values a reader of the file sees.
std::vector<float> DecodeTensor(GgmlType type, const std::vector<uint8_t>& bytes, size_t n);

// Byte positions of the fields of one written file (offsets from the start of the file).
struct GgufLayout {
  size_t version_pos = 0;
  size_t n_tensors_pos = 0;
  size_t n_kv_pos = 0;
  struct Kv {
    std::string key;
    size_t key_len_pos = 0;  // u64 key length
    size_t type_pos = 0;     // u32 value type
    size_t value_pos = 0;    // first byte of the value (string/array: its u64 length/elem type)
  };
  struct Tensor {
    std::string name;
    size_t name_len_pos = 0;
    size_t n_dims_pos = 0;
    size_t ne_pos = 0;       // ne[0], then ne[1].. 8 bytes apart
    size_t type_pos = 0;
    size_t offset_pos = 0;   // u64 offset relative to the data section
    size_t data_pos = 0;     // absolute position of the tensor's first byte
    size_t data_bytes = 0;
  };
  std::vector<Kv> kvs;
  std::vector<Tensor> tensors;
  size_t infos_end = 0;      // end of the last tensor info (before padding)
  size_t data_offset = 0;    // start of the data section
  size_t file_size = 0;

  const Kv* FindKv(const std::string& key) const;
  const Tensor* FindTensor(const std::string& name) const;
};

class GgufWriter {
 public:
  GgufWriter() = default;

  void set_version(uint32_t version) { version_ = version; }
  // Alignment used to lay out tensor data. Does not write general.alignment: add that key
  // yourself (AddU32("general.alignment", a)) so faults can make the two disagree.
  void set_alignment(uint32_t alignment) { alignment_ = alignment; }

  // Scalars. Keys are appended in call order; nothing is deduplicated.
  void AddU8(const std::string& key, uint8_t v);
  void AddI8(const std::string& key, int8_t v);
  void AddU16(const std::string& key, uint16_t v);
  void AddI16(const std::string& key, int16_t v);
  void AddU32(const std::string& key, uint32_t v);
  void AddI32(const std::string& key, int32_t v);
  void AddU64(const std::string& key, uint64_t v);
  void AddI64(const std::string& key, int64_t v);
  void AddF32(const std::string& key, float v);
  void AddF64(const std::string& key, double v);
  void AddBool(const std::string& key, bool v);
  void AddString(const std::string& key, const std::string& v);
  // Arrays.
  void AddStringArray(const std::string& key, const std::vector<std::string>& v);
  void AddF32Array(const std::string& key, const std::vector<float>& v);
  void AddI32Array(const std::string& key, const std::vector<int32_t>& v);
  void AddU8Array(const std::string& key, const std::vector<uint8_t>& v);
  // An array of arrays of i32 (nested arrays are legal GGUF).
  void AddNestedI32Array(const std::string& key, const std::vector<std::vector<int32_t>>& v);
  // Any value: `type` and the already-encoded value bytes, unchecked.
  void AddRawKv(const std::string& key, uint32_t type, std::vector<uint8_t> value_bytes);
  // Replaces the value of the first entry named `key` (false if absent).
  bool ReplaceU32(const std::string& key, uint32_t v);
  bool ReplaceString(const std::string& key, const std::string& v);
  bool RemoveKey(const std::string& key);

  // Tensors. `ne` lists dimensions with ne[0] contiguous; `values` has their product.
  // Returns the values as a reader decodes them (rounded to f16 / Q8_0 when so stored).
  std::vector<float> AddTensor(const std::string& name, const std::vector<int64_t>& ne,
                               GgmlType type, const std::vector<float>& values);
  // Any tensor info and payload, unchecked (n_dims = ne.size()).
  void AddRawTensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type,
                    std::vector<uint8_t> bytes);
  bool RemoveTensor(const std::string& name);
  bool HasTensor(const std::string& name) const;

  // Serializes the file. Tensor data is laid out in call order, each tensor starting at a
  // multiple of the alignment and padded with zeros to the next one.
  std::vector<uint8_t> Build(GgufLayout* layout = nullptr) const;
  // Build() written to `path`; false on an I/O error.
  bool WriteFile(const std::string& path, GgufLayout* layout = nullptr) const;

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> value;  // encoded value, as it follows the type field
  };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::vector<uint8_t> bytes;
  };
  void AddKv(const std::string& key, GgufValueType type, std::vector<uint8_t> value);

  uint32_t version_ = 3;
  uint32_t alignment_ = 32;
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

// "<dir>/<stem>.<random>.gguf": a path no other test process (ctest -j, another build
// directory) picks, so one never truncates a file another has mapped (that is a SIGBUS).
std::string UniqueTempPath(const std::string& dir, const std::string& stem);

// Little-endian encoding helpers shared with the fault tests.
void PutU32(std::vector<uint8_t>* out, uint32_t v);
void PutU64(std::vector<uint8_t>* out, uint64_t v);
void PutString(std::vector<uint8_t>* out, const std::string& s);  // u64 length + bytes
void PatchU32(std::vector<uint8_t>* file, size_t pos, uint32_t v);
void PatchU64(std::vector<uint8_t>* file, size_t pos, uint64_t v);

}  // namespace ondo::test
