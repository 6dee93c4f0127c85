// The trained spacing model (spacing_model.h): feature hashing must match
// tokenizer/korean/tools/build_spacing.py byte for byte (FNV-1a 32 over the feature type, the
// UTF-8 of the left characters, '|', the UTF-8 of the right characters).
#include "tokenizer/korean/post/spacing_model.h"

#include <cstring>
#include <iterator>
#include <mutex>
#include <string>

#include "tokenizer/korean/lexicon.h"

namespace ondo::korean {

namespace detail {
// tokenizer/korean/data/spacing_model.bin, embedded by tokenizer/korean/post/CMakeLists.txt.
std::string_view EmbeddedSpacingModelBlob();
}  // namespace detail

namespace {

// (left characters, right characters) of each feature type, in the order of build_spacing.py.
constexpr int kTypes[][2] = {{1, 0}, {0, 1}, {2, 0}, {0, 2}, {1, 1},
                             {2, 1}, {1, 2}, {3, 0}, {0, 3}, {2, 2}};

inline uint32_t FnvByte(uint32_t h, uint8_t b) { return (h ^ b) * 0x01000193u; }

inline uint32_t FnvChar(uint32_t h, char32_t c) {
  if (c < 0x80) return FnvByte(h, static_cast<uint8_t>(c));
  if (c < 0x800) {
    h = FnvByte(h, static_cast<uint8_t>(0xC0 | (c >> 6)));
  } else if (c < 0x10000) {
    h = FnvByte(h, static_cast<uint8_t>(0xE0 | (c >> 12)));
    h = FnvByte(h, static_cast<uint8_t>(0x80 | ((c >> 6) & 0x3F)));
  } else {
    h = FnvByte(h, static_cast<uint8_t>(0xF0 | (c >> 18)));
    h = FnvByte(h, static_cast<uint8_t>(0x80 | ((c >> 12) & 0x3F)));
    h = FnvByte(h, static_cast<uint8_t>(0x80 | ((c >> 6) & 0x3F)));
  }
  return FnvByte(h, static_cast<uint8_t>(0x80 | (c & 0x3F)));
}

Status Bad(std::string_view what) { return Corrupt("spacing model: {}", what); }

uint32_t ReadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

float ReadF32(const char* p) {
  const uint32_t u = ReadU32(p);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

char32_t SpacingModel::MapChar(char32_t c) {
  if ((c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x3131 && c <= 0x318E) ||
      (c >= 0x1100 && c <= 0x11FF)) {
    return c;
  }
  if ((c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19)) return U'0';
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xFF21 && c <= 0xFF3A) ||
      (c >= 0xFF41 && c <= 0xFF5A)) {
    return U'a';
  }
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)) return 0x6F22;
  if (c < 0x80) return c;
  return 0x00B7;
}

Status SpacingModel::CreateInPlace(std::string_view raw, std::unique_ptr<SpacingModel>* out) {
  // "OSPM", version 1, bits, 2 reserved bytes, scale (f32), bias (f32), 2^bits int8 weights.
  if (raw.size() < 16 || raw.substr(0, 4) != "OSPM") return Bad("bad magic");
  if (raw[4] != 1) return Bad("unknown version");
  const int bits = static_cast<unsigned char>(raw[5]);
  if (bits < 8 || bits > 24) return Bad("table size out of range");
  if (raw.size() != 16 + (size_t{1} << bits)) return Bad("wrong size");
  std::unique_ptr<SpacingModel> m(new SpacingModel());
  m->bits_ = bits;
  m->scale_ = ReadF32(raw.data() + 8);
  m->bias_ = ReadF32(raw.data() + 12);
  if (!(m->scale_ > 0 && m->scale_ < 1) || !(m->bias_ > -100 && m->bias_ < 100)) {
    return Bad("scale or bias out of range");
  }
  m->weights_ = reinterpret_cast<const int8_t*>(raw.data() + 16);
  *out = std::move(m);
  return Status::Ok();
}

Status SpacingModel::Create(std::string_view blob, std::unique_ptr<SpacingModel>* out) {
  std::string unpacked;
  if (blob.substr(0, 4) == "OKZ1") {
    ONDO_RETURN_IF_ERROR(detail::UnpackBlob(blob, &unpacked));
    blob = unpacked;
  }
  std::unique_ptr<SpacingModel> m;
  ONDO_RETURN_IF_ERROR(CreateInPlace(blob, &m));
  m->owned_.assign(m->weights_, m->weights_ + (size_t{1} << m->bits_));
  m->weights_ = m->owned_.data();
  *out = std::move(m);
  return Status::Ok();
}

Status SpacingModel::Shared(const SpacingModel** out) {
  static std::once_flag once;
  static std::unique_ptr<SpacingModel> model;
  static Status status;
  std::call_once(once,
                 [] { status = CreateInPlace(detail::EmbeddedSpacingModelBlob(), &model); });
  *out = model.get();
  return status;
}

void SpacingModel::Scores(const char32_t* mapped, size_t n, float* out) const {
  if (n == 0) return;
  out[0] = 0;
  const uint32_t mask = (uint32_t{1} << bits_) - 1;
  auto at = [&](ptrdiff_t i) -> char32_t {
    return i < 0 ? U'^' : i >= static_cast<ptrdiff_t>(n) ? U'$' : mapped[i];
  };
  for (size_t k = 1; k < n; ++k) {
    int32_t sum = 0;
    for (int t = 0; t < static_cast<int>(std::size(kTypes)); ++t) {
      uint32_t h = FnvByte(0x811C9DC5u, static_cast<uint8_t>(t + 1));
      const ptrdiff_t p = static_cast<ptrdiff_t>(k);
      for (ptrdiff_t i = p - kTypes[t][0]; i < p; ++i) h = FnvChar(h, at(i));
      h = FnvByte(h, '|');
      for (ptrdiff_t i = p; i < p + kTypes[t][1]; ++i) h = FnvChar(h, at(i));
      sum += weights_[h & mask];
    }
    out[k] = bias_ + scale_ * static_cast<float>(sum);
  }
}

}  // namespace ondo::korean
