// GGUF fixture writer. Layout (ggml docs/gguf.md, all little-endian):
//   u32 magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
//   n_kv x { string key, u32 value_type, value },
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
//   zero padding to `alignment`, then tensor data (each offset a multiple of `alignment`).
// string = u64 length + bytes; array = u32 elem_type + u64 count + elements.
#include "tests/runtime/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace ondo::test {
namespace {

constexpr int kQ8Block = 32;
constexpr size_t kQ8BlockBytes = 2 + kQ8Block;

template <typename T>
void Put(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));  // the test hosts are little-endian, as GGUF is
}

void PutBytes(std::vector<uint8_t>* out, const void* p, size_t n) {
  const size_t at = out->size();
  out->resize(at + n);
  if (n > 0) std::memcpy(out->data() + at, p, n);
}

template <typename T>
std::vector<uint8_t> Bytes(T v) {
  std::vector<uint8_t> out;
  Put(&out, v);
  return out;
}

uint32_t FloatBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}

}  // namespace

std::string UniqueTempPath(const std::string& dir, const std::string& stem) {
  static std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".%016llx.gguf", static_cast<unsigned long long>(rng()));
  return dir + "/" + stem + suffix;
}

void PutU32(std::vector<uint8_t>* out, uint32_t v) { Put(out, v); }
void PutU64(std::vector<uint8_t>* out, uint64_t v) { Put(out, v); }
void PutString(std::vector<uint8_t>* out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  PutBytes(out, s.data(), s.size());
}
void PatchU32(std::vector<uint8_t>* file, size_t pos, uint32_t v) { std::memcpy(file->data() + pos, &v, 4); }
void PatchU64(std::vector<uint8_t>* file, size_t pos, uint64_t v) { std::memcpy(file->data() + pos, &v, 8); }

uint16_t F32ToF16(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return sign | (a > 0x7f800000u ? 0x7e00 : 0x7c00);  // NaN, inf
  if (a >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to inf
  if (a < 0x38800000u) {
    // Below 2^-14: a multiple of 2^-24. |f| * 2^24 is exact in float; nearbyint rounds to
    // nearest even in the default mode. 1024 is the smallest normal, encoded the same way.
    const float m = std::nearbyint(std::fabs(f) * 16777216.0f);
    return sign | static_cast<uint16_t>(m);
  }
  const uint32_t mant = a & 0x7fffffu;
  const uint32_t exp = (a >> 23) - 127 + 15;  // 1..30
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return sign | static_cast<uint16_t>(h);
}

float F16ToF32(uint16_t h) {
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -24);
  if (exp == 31) return mant ? std::nanf("") : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(mant + 1024), exp - 25);
}

uint16_t F32ToBf16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float Bf16ToF32(uint16_t h) {
  const uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

std::vector<uint8_t> EncodeTensor(GgmlType type, const std::vector<float>& values) {
  std::vector<uint8_t> out;
  switch (type) {
    case GgmlType::kF32:
      for (float v : values) Put(&out, v);
      break;
    case GgmlType::kF16:
      for (float v : values) Put(&out, F32ToF16(v));
      break;
    case GgmlType::kBF16:
      for (float v : values) Put(&out, F32ToBf16(v));
      break;
    case GgmlType::kQ8_0:
      for (size_t b = 0; b + kQ8Block <= values.size(); b += kQ8Block) {
        float amax = 0.0f;
        for (int j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(values[b + j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        Put(&out, F32ToF16(d));
        for (int j = 0; j < kQ8Block; ++j) {
          out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::round(values[b + j] * id))));
        }
      }
      break;
  }
  return out;
}

std::vector<float> DecodeTensor(GgmlType type, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n);
  switch (type) {
    case GgmlType::kF32:
      if (n > 0) std::memcpy(out.data(), bytes.data(), n * 4);
      break;
    case GgmlType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = F16ToF32(h);
      }
      break;
    case GgmlType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = Bf16ToF32(h);
      }
      break;
    case GgmlType::kQ8_0:
      for (size_t b = 0; b < n / kQ8Block; ++b) {
        const uint8_t* blk = bytes.data() + b * kQ8BlockBytes;
        uint16_t dh;
        std::memcpy(&dh, blk, 2);
        const float d = F16ToF32(dh);
        for (int j = 0; j < kQ8Block; ++j) {
          out[b * kQ8Block + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
        }
      }
      break;
  }
  return out;
}

const GgufLayout::Kv* GgufLayout::FindKv(const std::string& key) const {
  for (const auto& kv : kvs) {
    if (kv.key == key) return &kv;
  }
  return nullptr;
}

const GgufLayout::Tensor* GgufLayout::FindTensor(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void GgufWriter::AddKv(const std::string& key, GgufValueType type, std::vector<uint8_t> value) {
  kvs_.push_back({key, static_cast<uint32_t>(type), std::move(value)});
}

void GgufWriter::AddU8(const std::string& key, uint8_t v) { AddKv(key, GgufValueType::kU8, Bytes(v)); }
void GgufWriter::AddI8(const std::string& key, int8_t v) { AddKv(key, GgufValueType::kI8, Bytes(v)); }
void GgufWriter::AddU16(const std::string& key, uint16_t v) { AddKv(key, GgufValueType::kU16, Bytes(v)); }
void GgufWriter::AddI16(const std::string& key, int16_t v) { AddKv(key, GgufValueType::kI16, Bytes(v)); }
void GgufWriter::AddU32(const std::string& key, uint32_t v) { AddKv(key, GgufValueType::kU32, Bytes(v)); }
void GgufWriter::AddI32(const std::string& key, int32_t v) { AddKv(key, GgufValueType::kI32, Bytes(v)); }
void GgufWriter::AddU64(const std::string& key, uint64_t v) { AddKv(key, GgufValueType::kU64, Bytes(v)); }
void GgufWriter::AddI64(const std::string& key, int64_t v) { AddKv(key, GgufValueType::kI64, Bytes(v)); }
void GgufWriter::AddF32(const std::string& key, float v) { AddKv(key, GgufValueType::kF32, Bytes(v)); }
void GgufWriter::AddF64(const std::string& key, double v) { AddKv(key, GgufValueType::kF64, Bytes(v)); }
void GgufWriter::AddBool(const std::string& key, bool v) {
  AddKv(key, GgufValueType::kBool, Bytes<uint8_t>(v ? 1 : 0));
}
void GgufWriter::AddString(const std::string& key, const std::string& v) {
  std::vector<uint8_t> b;
  PutString(&b, v);
  AddKv(key, GgufValueType::kString, std::move(b));
}

void GgufWriter::AddStringArray(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  Put(&b, static_cast<uint32_t>(GgufValueType::kString));
  Put<uint64_t>(&b, v.size());
  for (const auto& s : v) PutString(&b, s);
  AddKv(key, GgufValueType::kArray, std::move(b));
}

void GgufWriter::AddF32Array(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  Put(&b, static_cast<uint32_t>(GgufValueType::kF32));
  Put<uint64_t>(&b, v.size());
  for (float x : v) Put(&b, x);
  AddKv(key, GgufValueType::kArray, std::move(b));
}

void GgufWriter::AddI32Array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b;
  Put(&b, static_cast<uint32_t>(GgufValueType::kI32));
  Put<uint64_t>(&b, v.size());
  for (int32_t x : v) Put(&b, x);
  AddKv(key, GgufValueType::kArray, std::move(b));
}

void GgufWriter::AddU8Array(const std::string& key, const std::vector<uint8_t>& v) {
  std::vector<uint8_t> b;
  Put(&b, static_cast<uint32_t>(GgufValueType::kU8));
  Put<uint64_t>(&b, v.size());
  PutBytes(&b, v.data(), v.size());
  AddKv(key, GgufValueType::kArray, std::move(b));
}

void GgufWriter::AddNestedI32Array(const std::string& key, const std::vector<std::vector<int32_t>>& v) {
  std::vector<uint8_t> b;
  Put(&b, static_cast<uint32_t>(GgufValueType::kArray));
  Put<uint64_t>(&b, v.size());
  for (const auto& inner : v) {
    Put(&b, static_cast<uint32_t>(GgufValueType::kI32));
    Put<uint64_t>(&b, inner.size());
    for (int32_t x : inner) Put(&b, x);
  }
  AddKv(key, GgufValueType::kArray, std::move(b));
}

void GgufWriter::AddRawKv(const std::string& key, uint32_t type, std::vector<uint8_t> value_bytes) {
  kvs_.push_back({key, type, std::move(value_bytes)});
}

bool GgufWriter::ReplaceU32(const std::string& key, uint32_t v) {
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.type = static_cast<uint32_t>(GgufValueType::kU32);
      kv.value = Bytes(v);
      return true;
    }
  }
  return false;
}

bool GgufWriter::ReplaceString(const std::string& key, const std::string& v) {
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.type = static_cast<uint32_t>(GgufValueType::kString);
      kv.value.clear();
      PutString(&kv.value, v);
      return true;
    }
  }
  return false;
}

bool GgufWriter::RemoveKey(const std::string& key) {
  auto it = std::find_if(kvs_.begin(), kvs_.end(), [&](const Kv& kv) { return kv.key == key; });
  if (it == kvs_.end()) return false;
  kvs_.erase(it);
  return true;
}

std::vector<float> GgufWriter::AddTensor(const std::string& name, const std::vector<int64_t>& ne,
                                         GgmlType type, const std::vector<float>& values) {
  std::vector<uint64_t> dims(ne.begin(), ne.end());
  std::vector<uint8_t> bytes = EncodeTensor(type, values);
  std::vector<float> stored = DecodeTensor(type, bytes, values.size());
  AddRawTensor(name, dims, static_cast<uint32_t>(type), std::move(bytes));
  return stored;
}

void GgufWriter::AddRawTensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type,
                              std::vector<uint8_t> bytes) {
  tensors_.push_back({name, ne, type, std::move(bytes)});
}

bool GgufWriter::RemoveTensor(const std::string& name) {
  auto it = std::find_if(tensors_.begin(), tensors_.end(), [&](const Tensor& t) { return t.name == name; });
  if (it == tensors_.end()) return false;
  tensors_.erase(it);
  return true;
}

bool GgufWriter::HasTensor(const std::string& name) const {
  return std::any_of(tensors_.begin(), tensors_.end(), [&](const Tensor& t) { return t.name == name; });
}

std::vector<uint8_t> GgufWriter::Build(GgufLayout* layout) const {
  GgufLayout lay;
  const size_t align = alignment_ == 0 ? 1 : alignment_;
  auto round_up = [align](size_t x) { return (x + align - 1) / align * align; };

  std::vector<uint8_t> out;
  PutBytes(&out, "GGUF", 4);
  lay.version_pos = out.size();
  Put(&out, version_);
  lay.n_tensors_pos = out.size();
  Put<uint64_t>(&out, tensors_.size());
  lay.n_kv_pos = out.size();
  Put<uint64_t>(&out, kvs_.size());

  for (const auto& kv : kvs_) {
    GgufLayout::Kv k;
    k.key = kv.key;
    k.key_len_pos = out.size();
    PutString(&out, kv.key);
    k.type_pos = out.size();
    Put(&out, kv.type);
    k.value_pos = out.size();
    PutBytes(&out, kv.value.data(), kv.value.size());
    lay.kvs.push_back(k);
  }

  // Data offsets first: every tensor at the next multiple of the alignment.
  std::vector<size_t> offsets;
  size_t data_size = 0;
  for (const auto& t : tensors_) {
    offsets.push_back(data_size);
    data_size = round_up(data_size + t.bytes.size());
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    GgufLayout::Tensor l;
    l.name = t.name;
    l.name_len_pos = out.size();
    PutString(&out, t.name);
    l.n_dims_pos = out.size();
    Put(&out, static_cast<uint32_t>(t.ne.size()));
    l.ne_pos = out.size();
    for (uint64_t d : t.ne) Put(&out, d);
    l.type_pos = out.size();
    Put(&out, t.type);
    l.offset_pos = out.size();
    Put<uint64_t>(&out, offsets[i]);
    l.data_bytes = t.bytes.size();
    lay.tensors.push_back(l);
  }
  lay.infos_end = out.size();
  lay.data_offset = round_up(out.size());
  out.resize(lay.data_offset, 0);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    lay.tensors[i].data_pos = lay.data_offset + offsets[i];
    out.resize(lay.tensors[i].data_pos, 0);
    PutBytes(&out, tensors_[i].bytes.data(), tensors_[i].bytes.size());
  }
  out.resize(lay.data_offset + data_size, 0);
  lay.file_size = out.size();
  if (layout != nullptr) *layout = std::move(lay);
  return out;
}

bool GgufWriter::WriteFile(const std::string& path, GgufLayout* layout) const {
  const std::vector<uint8_t> bytes = Build(layout);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace ondo::test
