// KvCache allocation.
#include "memory/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ondo::memory {

uint64_t KvCache::BytesFor(const KvCacheShape& s) {
  return 2ull * static_cast<uint64_t>(s.n_layer) * static_cast<uint64_t>(s.n_kv_head) *
         static_cast<uint64_t>(s.n_ctx) * static_cast<uint64_t>(s.head_dim) * sizeof(uint16_t);
}

Status KvCache::Create(const KvCacheShape& shape, std::unique_ptr<KvCache>* out) {
  if (shape.n_layer <= 0 || shape.n_kv_head <= 0 || shape.head_dim <= 0 || shape.n_ctx <= 0) {
    return InvalidArgument("KV cache shape must be positive (layers {}, kv heads {}, head dim {}, ctx {})",
                           shape.n_layer, shape.n_kv_head, shape.head_dim, shape.n_ctx);
  }
  const uint64_t bytes = BytesFor(shape);
  if (bytes / 2 / sizeof(uint16_t) / static_cast<uint64_t>(shape.n_layer) /
          static_cast<uint64_t>(shape.n_kv_head) / static_cast<uint64_t>(shape.head_dim) !=
      static_cast<uint64_t>(shape.n_ctx)) {
    return OutOfMemory("KV cache size overflows");
  }
  const size_t rounded = static_cast<size_t>((bytes + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) return OutOfMemory("cannot allocate the KV cache ({} bytes)", bytes);
  std::memset(p, 0, rounded);
  out->reset(new KvCache(shape, static_cast<uint16_t*>(p), bytes));
  return Status::Ok();
}

KvCache::~KvCache() { std::free(data_); }

}  // namespace ondo::memory
