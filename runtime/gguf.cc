// GGUF parsing. Layout (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
// n_kv x (string key, u32 type, value), n_tensors x (string name, u32 n_dims, u64 ne[n_dims],
// u32 type, u64 offset), padding to general.alignment, then the data section.
// Strings are u64 length + bytes (no terminator). Nothing read here is trusted.
#include "runtime/gguf.h"

#include <cstring>
#include <limits>
#include <unordered_set>

namespace ondo::runtime {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 4;

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

bool ValidType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

// Bounds-checked little-endian reader over [p, end).
class Reader {
 public:
  Reader(const uint8_t* base, size_t size) : base_(base), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  bool Read(T* out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool ReadString(std::string_view* out) {
    uint64_t len = 0;
    if (!Read(&len) || len > remaining()) return false;
    *out = std::string_view(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return true;
  }
  bool Skip(size_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }
  const uint8_t* here() const { return base_ + pos_; }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
};

Status ReadScalar(Reader& r, GgufType t, GgufValue* v) {
  bool ok = true;
  switch (t) {
    case GgufType::kU8: { uint8_t x = 0; ok = r.Read(&x); v->scalar.u64 = x; break; }
    case GgufType::kI8: { int8_t x = 0; ok = r.Read(&x); v->scalar.i64 = x; break; }
    case GgufType::kU16: { uint16_t x = 0; ok = r.Read(&x); v->scalar.u64 = x; break; }
    case GgufType::kI16: { int16_t x = 0; ok = r.Read(&x); v->scalar.i64 = x; break; }
    case GgufType::kU32: { uint32_t x = 0; ok = r.Read(&x); v->scalar.u64 = x; break; }
    case GgufType::kI32: { int32_t x = 0; ok = r.Read(&x); v->scalar.i64 = x; break; }
    case GgufType::kU64: { uint64_t x = 0; ok = r.Read(&x); v->scalar.u64 = x; break; }
    case GgufType::kI64: { int64_t x = 0; ok = r.Read(&x); v->scalar.i64 = x; break; }
    case GgufType::kF32: { float x = 0; ok = r.Read(&x); v->scalar.f64 = x; break; }
    case GgufType::kF64: { double x = 0; ok = r.Read(&x); v->scalar.f64 = x; break; }
    case GgufType::kBool: {
      uint8_t x = 0;
      ok = r.Read(&x);
      if (ok && x > 1) return Corrupt("bool value {} is neither 0 nor 1 at byte {}", x, r.pos() - 1);
      v->scalar.b = x != 0;
      break;
    }
    default: return Corrupt("not a scalar type");
  }
  if (!ok) return Corrupt("file ends inside a metadata value at byte {}", r.pos());
  return Status::Ok();
}

// Skips an array body of `count` elements of `elem` (validating strings and nested arrays).
Status SkipArray(Reader& r, GgufType elem, uint64_t count, int depth) {
  if (depth > kMaxArrayDepth) return Corrupt("metadata arrays nested deeper than {}", kMaxArrayDepth);
  size_t es = ScalarSize(elem);
  if (es != 0) {
    if (count > r.remaining() / es) {
      return Corrupt("array of {} x {}-byte elements runs past the end of the file", count, es);
    }
    // Bool arrays must hold 0/1 too.
    if (elem == GgufType::kBool) {
      for (uint64_t i = 0; i < count; ++i) {
        if (r.here()[i] > 1) return Corrupt("bool array element is neither 0 nor 1");
      }
    }
    (void)r.Skip(static_cast<size_t>(count * es));
    return Status::Ok();
  }
  // Each string or nested array takes at least 8 (or 12) bytes: bound count before looping.
  if (count > r.remaining() / 8) return Corrupt("array of {} elements runs past the end of the file", count);
  for (uint64_t i = 0; i < count; ++i) {
    if (elem == GgufType::kString) {
      std::string_view s;
      if (!r.ReadString(&s)) return Corrupt("string element {} of an array runs past the end of the file", i);
    } else {
      uint32_t sub_type = 0;
      uint64_t sub_count = 0;
      if (!r.Read(&sub_type) || !r.Read(&sub_count)) return Corrupt("nested array header truncated");
      if (!ValidType(sub_type)) return Corrupt("unknown metadata value type {}", sub_type);
      ONDO_RETURN_IF_ERROR(SkipArray(r, static_cast<GgufType>(sub_type), sub_count, depth + 1));
    }
  }
  return Status::Ok();
}

Status ReadValue(Reader& r, GgufType t, GgufValue* v) {
  v->type = t;
  if (t == GgufType::kString) {
    if (!r.ReadString(&v->str)) return Corrupt("string value runs past the end of the file at byte {}", r.pos());
    return Status::Ok();
  }
  if (t == GgufType::kArray) {
    uint32_t elem = 0;
    uint64_t count = 0;
    if (!r.Read(&elem) || !r.Read(&count)) return Corrupt("array header truncated at byte {}", r.pos());
    if (!ValidType(elem)) return Corrupt("unknown array element type {}", elem);
    v->elem_type = static_cast<GgufType>(elem);
    v->count = count;
    v->data = r.here();
    size_t start = r.pos();
    ONDO_RETURN_IF_ERROR(SkipArray(r, v->elem_type, count, 1));
    v->bytes = r.pos() - start;
    return Status::Ok();
  }
  return ReadScalar(r, t, v);
}

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace

const char* GgufTypeName(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "?";
}

bool GgufValue::IsInteger() const {
  switch (type) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

Status GgufFile::Open(const std::string& path, std::unique_ptr<GgufFile>* out) {
  std::unique_ptr<platform::MappedFile> mapping;
  ONDO_RETURN_IF_ERROR(platform::MappedFile::Open(path, &mapping));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = mapping->data();
  f->size_ = mapping->size();
  f->mapping_ = std::move(mapping);
  Status s = f->ParseAll();
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  *out = std::move(f);
  return Status::Ok();
}

Status GgufFile::Parse(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>* out) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = data;
  f->size_ = size;
  ONDO_RETURN_IF_ERROR(f->ParseAll());
  *out = std::move(f);
  return Status::Ok();
}

Status GgufFile::ParseMetadata(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>* out) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = data;
  f->size_ = size;
  f->metadata_only_ = true;
  ONDO_RETURN_IF_ERROR(f->ParseAll());
  *out = std::move(f);
  return Status::Ok();
}

Status GgufFile::ParseAll() {
  Reader r(base_, size_);
  uint32_t magic = 0;
  if (!r.Read(&magic)) return Corrupt("file is {} bytes, too short for a GGUF header", size_);
  if (magic != kGgufMagic) {
    return Corrupt("bad magic 0x{:08x}: not a GGUF file", magic);
  }
  if (!r.Read(&version_)) return Corrupt("file ends inside the GGUF header");
  if (version_ == 1) return Unsupported("GGUF version 1 is not supported (versions 2 and 3 are)");
  if (version_ != 2 && version_ != 3) {
    // A big-endian file reads as 0x02000000 / 0x03000000 here.
    if (version_ == 0x02000000u || version_ == 0x03000000u) {
      return Unsupported("big-endian GGUF files are not supported");
    }
    return Unsupported("GGUF version {} is not supported (versions 2 and 3 are)", version_);
  }
  uint64_t n_tensors = 0, n_kv = 0;
  if (!r.Read(&n_tensors) || !r.Read(&n_kv)) return Corrupt("file ends inside the GGUF header");
  // Each KV takes >= 8 (key length) + 4 (type) + 1 bytes; each tensor info >= 8 + 4 + 4 + 8.
  if (n_kv > r.remaining() / 13) return Corrupt("header claims {} metadata entries, more than the file can hold", n_kv);
  if (n_tensors > r.remaining() / 24) return Corrupt("header claims {} tensors, more than the file can hold", n_tensors);

  kvs_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    if (!r.ReadString(&kv.key)) return Corrupt("metadata key {} runs past the end of the file", i);
    uint32_t type = 0;
    if (!r.Read(&type)) return Corrupt("metadata entry '{}' is truncated", kv.key);
    if (!ValidType(type)) return Corrupt("metadata entry '{}' has unknown value type {}", kv.key, type);
    Status s = ReadValue(r, static_cast<GgufType>(type), &kv.value);
    if (!s.ok()) return Status(s.code(), fmt::format("metadata '{}': {}", kv.key, s.message()));
    if (!keys.insert(kv.key).second) return Corrupt("duplicate metadata key '{}'", kv.key);
    kvs_.push_back(kv);
  }

  if (const GgufKv* a = Find("general.alignment")) {
    if (a->value.type != GgufType::kU32) return Corrupt("general.alignment must be u32");
    if (!IsPowerOfTwo(a->value.scalar.u64)) return Corrupt("general.alignment {} is not a power of two", a->value.scalar.u64);
    alignment_ = static_cast<size_t>(a->value.scalar.u64);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string_view> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    if (!r.ReadString(&t.name)) return Corrupt("tensor info {} runs past the end of the file", i);
    uint32_t n_dims = 0;
    if (!r.Read(&n_dims)) return Corrupt("tensor '{}': info truncated", t.name);
    if (n_dims == 0 || n_dims > kGgufMaxDims) return Corrupt("tensor '{}' has {} dimensions (1..{} allowed)", t.name, n_dims, kGgufMaxDims);
    t.n_dims = static_cast<int>(n_dims);
    int64_t n_elem = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      if (!r.Read(&ne)) return Corrupt("tensor '{}': info truncated", t.name);
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Corrupt("tensor '{}' has absurd dimension {} = {}", t.name, d, ne);
      }
      if (static_cast<int64_t>(ne) > std::numeric_limits<int64_t>::max() / n_elem) {
        return Corrupt("tensor '{}': element count overflows", t.name);
      }
      t.ne[d] = static_cast<int64_t>(ne);
      n_elem *= t.ne[d];
    }
    uint32_t type = 0;
    if (!r.Read(&type) || !r.Read(&t.offset)) return Corrupt("tensor '{}': info truncated", t.name);
    const kernels::TypeInfo* info = kernels::GetTypeInfo(type);
    if (info == nullptr) return Corrupt("tensor '{}' has unknown type id {}", t.name, type);
    t.type = info->type;
    if (kernels::IsNativeType(t.type) && !metadata_only_) {
      // ondo's own ids mean nothing to ggml and may mean something else to a later one.
      return Unsupported("tensor '{}' has type {} (id {}), which only an .ondo model may hold", t.name, info->name, type);
    }
    if (t.ne[0] % info->block_size != 0) {
      return Corrupt("tensor '{}': row length {} is not a multiple of the {} block size {}", t.name, t.ne[0], info->name, info->block_size);
    }
    const uint64_t blocks = static_cast<uint64_t>(n_elem / info->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info->type_size)) {
      return Corrupt("tensor '{}': byte size overflows", t.name);
    }
    const uint64_t bytes = blocks * static_cast<uint64_t>(info->type_size);
    if (!metadata_only_ && bytes > size_) {
      return Corrupt("tensor '{}' needs {} bytes, more than the whole file ({})", t.name, bytes, size_);
    }
    if (bytes > std::numeric_limits<size_t>::max()) return Corrupt("tensor '{}' is too large", t.name);
    t.bytes = static_cast<size_t>(bytes);
    if (t.offset % alignment_ != 0) return Corrupt("tensor '{}' offset {} is not aligned to {}", t.name, t.offset, alignment_);
    if (!names.insert(t.name).second) return Corrupt("duplicate tensor name '{}'", t.name);
    tensors_.push_back(t);
  }

  if (metadata_only_) return Status::Ok();
  size_t pos = r.pos();
  size_t data = (pos + alignment_ - 1) / alignment_ * alignment_;
  if (n_tensors > 0 && data > size_) return Corrupt("file ends before the tensor data section");
  data_offset_ = data;
  for (auto& t : tensors_) {
    if (t.offset > size_ - std::min(size_, data_offset_) ||
        t.bytes > size_ - data_offset_ - t.offset) {
      return Corrupt("tensor '{}' ({} bytes at data offset {}) ends past the end of the file ({} bytes): truncated?",
                     t.name, t.bytes, t.offset, size_);
    }
    t.data = base_ + data_offset_ + t.offset;
  }
  return Status::Ok();
}

const GgufKv* GgufFile::Find(std::string_view key) const {
  for (const auto& kv : kvs_) {
    if (kv.key == key) return &kv;
  }
  return nullptr;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Status Missing(std::string_view key) { return NotFound("metadata key '{}' is missing", key); }
Status Mismatch(std::string_view key, const GgufValue& v, const char* want) {
  return InvalidArgument("metadata key '{}' is {}, expected {}", key, GgufTypeName(v.type), want);
}

// Integer value as int64 range-checked into [lo, hi].
Status IntIn(std::string_view key, const GgufValue& v, int64_t lo, uint64_t hi, uint64_t* out_u, int64_t* out_i) {
  if (!v.IsInteger()) return Mismatch(key, v, "an integer");
  const bool is_signed = v.type == GgufType::kI8 || v.type == GgufType::kI16 ||
                         v.type == GgufType::kI32 || v.type == GgufType::kI64;
  if (is_signed) {
    int64_t x = v.scalar.i64;
    if (x < lo || (x >= 0 && static_cast<uint64_t>(x) > hi)) return InvalidArgument("metadata key '{}' = {} is out of range", key, x);
    *out_i = x;
    *out_u = static_cast<uint64_t>(x);
  } else {
    uint64_t x = v.scalar.u64;
    if (x > hi) return InvalidArgument("metadata key '{}' = {} is out of range", key, x);
    *out_u = x;
    *out_i = static_cast<int64_t>(x);
  }
  return Status::Ok();
}

}  // namespace

Status GgufFile::GetU32(std::string_view key, uint32_t* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  uint64_t u; int64_t i;
  ONDO_RETURN_IF_ERROR(IntIn(key, kv->value, 0, std::numeric_limits<uint32_t>::max(), &u, &i));
  *out = static_cast<uint32_t>(u);
  return Status::Ok();
}

Status GgufFile::GetI32(std::string_view key, int32_t* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  uint64_t u; int64_t i;
  ONDO_RETURN_IF_ERROR(IntIn(key, kv->value, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), &u, &i));
  *out = static_cast<int32_t>(i);
  return Status::Ok();
}

Status GgufFile::GetU64(std::string_view key, uint64_t* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  uint64_t u; int64_t i;
  ONDO_RETURN_IF_ERROR(IntIn(key, kv->value, 0, std::numeric_limits<uint64_t>::max(), &u, &i));
  *out = u;
  return Status::Ok();
}

Status GgufFile::GetF32(std::string_view key, float* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  if (!kv->value.IsFloat()) return Mismatch(key, kv->value, "a float");
  *out = static_cast<float>(kv->value.scalar.f64);
  return Status::Ok();
}

Status GgufFile::GetBool(std::string_view key, bool* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  if (kv->value.type != GgufType::kBool) return Mismatch(key, kv->value, "a bool");
  *out = kv->value.scalar.b;
  return Status::Ok();
}

Status GgufFile::GetString(std::string_view key, std::string_view* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  if (kv->value.type != GgufType::kString) return Mismatch(key, kv->value, "a string");
  *out = kv->value.str;
  return Status::Ok();
}

Status GgufFile::GetStringArray(std::string_view key, std::vector<std::string_view>* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  const GgufValue& v = kv->value;
  if (v.type != GgufType::kArray || v.elem_type != GgufType::kString) return Mismatch(key, v, "an array of strings");
  out->clear();
  out->reserve(static_cast<size_t>(v.count));
  // Already validated at Open: every length fits inside v.bytes.
  const uint8_t* p = v.data;
  for (uint64_t i = 0; i < v.count; ++i) {
    uint64_t len;
    std::memcpy(&len, p, 8);
    out->emplace_back(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(len));
    p += 8 + len;
  }
  return Status::Ok();
}

Status GgufFile::GetF32Array(std::string_view key, std::vector<float>* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  const GgufValue& v = kv->value;
  if (v.type != GgufType::kArray || v.elem_type != GgufType::kF32) return Mismatch(key, v, "an array of f32");
  out->resize(static_cast<size_t>(v.count));
  if (v.count) std::memcpy(out->data(), v.data, static_cast<size_t>(v.count) * 4);
  return Status::Ok();
}

Status GgufFile::GetI32Array(std::string_view key, std::vector<int32_t>* out) const {
  const GgufKv* kv = Find(key);
  if (kv == nullptr) return Missing(key);
  const GgufValue& v = kv->value;
  if (v.type != GgufType::kArray || (v.elem_type != GgufType::kI32 && v.elem_type != GgufType::kU32)) {
    return Mismatch(key, v, "an array of i32");
  }
  out->resize(static_cast<size_t>(v.count));
  if (v.count) std::memcpy(out->data(), v.data, static_cast<size_t>(v.count) * 4);
  return Status::Ok();
}

Status GgufFile::GetU32Opt(std::string_view key, uint32_t* out) const {
  return Find(key) ? GetU32(key, out) : Status::Ok();
}
Status GgufFile::GetF32Opt(std::string_view key, float* out) const {
  return Find(key) ? GetF32(key, out) : Status::Ok();
}
Status GgufFile::GetBoolOpt(std::string_view key, bool* out) const {
  return Find(key) ? GetBool(key, out) : Status::Ok();
}

std::string GgufFile::ValueToString(const GgufValue& v, size_t max_items) {
  switch (v.type) {
    case GgufType::kString: {
      std::string s(v.str.substr(0, 200));
      if (v.str.size() > 200) s += "...";
      return fmt::format("\"{}\"", s);
    }
    case GgufType::kBool: return v.scalar.b ? "true" : "false";
    case GgufType::kF32: case GgufType::kF64: return fmt::format("{}", v.scalar.f64);
    case GgufType::kI8: case GgufType::kI16: case GgufType::kI32: case GgufType::kI64:
      return fmt::format("{}", v.scalar.i64);
    case GgufType::kArray: {
      std::string s = fmt::format("[{} x {}]", v.count, GgufTypeName(v.elem_type));
      size_t es = ScalarSize(v.elem_type);
      if (v.elem_type == GgufType::kString) {
        s += " [";
        const uint8_t* p = v.data;
        for (uint64_t i = 0; i < v.count && i < max_items; ++i) {
          uint64_t len;
          std::memcpy(&len, p, 8);
          std::string_view str(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(len));
          s += fmt::format("{}\"{}\"", i ? ", " : "", str.substr(0, 40));
          p += 8 + len;
        }
        s += v.count > max_items ? ", ...]" : "]";
      } else if (es != 0) {
        s += " [";
        for (uint64_t i = 0; i < v.count && i < max_items; ++i) {
          GgufValue e;
          e.type = v.elem_type;
          Reader r(v.data + i * es, es);
          (void)ReadScalar(r, v.elem_type, &e);
          s += (i ? ", " : "") + ValueToString(e);
        }
        s += v.count > max_items ? ", ...]" : "]";
      }
      return s;
    }
    default: return fmt::format("{}", v.scalar.u64);
  }
}

}  // namespace ondo::runtime
