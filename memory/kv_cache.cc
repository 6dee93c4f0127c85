// KvCache allocation and the KV element types.
#include "memory/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ondo::memory {
namespace {

constexpr int kQ8Block = 32;        // elements per block_q8_0
constexpr int kQ8BlockBytes = 34;   // f16 scale + 32 int8

}  // namespace

const char* KvTypeName(KvType type) { return type == KvType::kQ8_0 ? "q8_0" : "f16"; }

bool ParseKvType(std::string_view name, KvType* type) {
  if (name == "f16") {
    *type = KvType::kF16;
  } else if (name == "q8" || name == "q8_0") {
    *type = KvType::kQ8_0;
  } else {
    return false;
  }
  return true;
}

uint64_t KvRowBytes(KvType type, int head_dim) {
  const uint64_t n = static_cast<uint64_t>(head_dim);
  return type == KvType::kQ8_0 ? n / kQ8Block * kQ8BlockBytes : n * sizeof(uint16_t);
}

Status CheckKvCacheShape(const KvCacheShape& s) {
  if (s.n_layer <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.n_ctx <= 0) {
    return InvalidArgument("KV cache shape must be positive (layers {}, kv heads {}, head dim {}, ctx {})",
                           s.n_layer, s.n_kv_head, s.head_dim, s.n_ctx);
  }
  if (s.ring_rows < 0 || s.ring_rows > s.n_ctx || (s.ring_rows > 0 && s.ring_period <= 0)) {
    return InvalidArgument("KV ring of {} rows (period {}) does not fit a context of {}", s.ring_rows,
                           s.ring_period, s.n_ctx);
  }
  if (s.type == KvType::kQ8_0 && s.head_dim % kQ8Block != 0) {
    return InvalidArgument(
        "the 8-bit KV cache (q8_0) stores rows in blocks of {} but this model's head_dim is {} "
        "(use --kv-type f16)",
        kQ8Block, s.head_dim);
  }
  return Status::Ok();
}

uint64_t KvCache::BytesFor(const KvCacheShape& s) {
  uint64_t rows = 0;
  for (int l = 0; l < s.n_layer; ++l) rows += static_cast<uint64_t>(s.rows(l));
  return 2ull * rows * static_cast<uint64_t>(s.n_kv_head) * KvRowBytes(s.type, s.head_dim);
}

KvCache::KvCache(const KvCacheShape& shape, uint8_t* data, uint64_t bytes)
    : shape_(shape), data_(data), bytes_(bytes),
      row_bytes_(static_cast<int64_t>(KvRowBytes(shape.type, shape.head_dim))),
      layer_offset_(2 * static_cast<size_t>(shape.n_layer)) {
  int64_t off = 0;
  for (int l = 0; l < shape.n_layer; ++l) {
    for (int which = 0; which < 2; ++which) {
      layer_offset_[static_cast<size_t>(2 * l + which)] = off;
      off += static_cast<int64_t>(shape.rows(l)) * shape.n_kv_head * row_bytes_;
    }
  }
}

Status KvCache::Create(const KvCacheShape& shape, std::unique_ptr<KvCache>* out) {
  ONDO_RETURN_IF_ERROR(CheckKvCacheShape(shape));
  const uint64_t bytes = BytesFor(shape);
  // Dimensions are ints, so the full-cache figure fits in 2^31 * 2^31 * ... only when small:
  // check the largest one (every layer at n_ctx rows) in floating point.
  const double most = 2.0 * shape.n_layer * shape.n_kv_head * static_cast<double>(shape.n_ctx) *
                      static_cast<double>(KvRowBytes(shape.type, shape.head_dim));
  if (most > 9.0e18) return OutOfMemory("KV cache size overflows");
  const size_t rounded = static_cast<size_t>((bytes + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) return OutOfMemory("cannot allocate the KV cache ({} bytes)", bytes);
  std::memset(p, 0, rounded);
  out->reset(new KvCache(shape, static_cast<uint8_t*>(p), bytes));
  return Status::Ok();
}

KvCache::~KvCache() { std::free(data_); }

}  // namespace ondo::memory
