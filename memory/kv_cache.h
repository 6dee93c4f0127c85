// KvCache: fixed-capacity f16 key/value cache, laid out for grouped-query attention:
// per layer, K and V are (n_kv_head, n_ctx, head_dim), so the rows one KV head attends over
// are contiguous and read once for all query heads of its group.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "platform/status.h"

namespace ondo::memory {

struct KvCacheShape {
  int n_layer = 0;
  int n_kv_head = 0;
  int head_dim = 0;
  int n_ctx = 0;
};

class KvCache {
 public:
  // Exact bytes: 2 * n_layer * n_kv_head * n_ctx * head_dim * sizeof(f16).
  static uint64_t BytesFor(const KvCacheShape& shape);
  // Allocates (and zero-fills) the whole cache up front; OutOfMemory if it cannot.
  static Status Create(const KvCacheShape& shape, std::unique_ptr<KvCache>* out);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheShape& shape() const { return shape_; }
  uint64_t bytes() const { return bytes_; }
  // Row `pos` of KV head `h` in layer `layer`. REQUIRES: indices in range.
  uint16_t* K(int layer, int h, int pos) { return Row(0, layer, h, pos); }
  uint16_t* V(int layer, int h, int pos) { return Row(1, layer, h, pos); }
  const uint16_t* K(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(0, layer, h, pos); }
  const uint16_t* V(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(1, layer, h, pos); }
  // Elements between consecutive positions of one head.
  int64_t row_stride() const { return shape_.head_dim; }

 private:
  KvCache(const KvCacheShape& shape, uint16_t* data, uint64_t bytes)
      : shape_(shape), data_(data), bytes_(bytes) {}
  uint16_t* Row(int which, int layer, int h, int pos) {
    const int64_t head = static_cast<int64_t>(shape_.n_ctx) * shape_.head_dim;
    const int64_t layer_sz = head * shape_.n_kv_head;
    return data_ + (static_cast<int64_t>(which) * shape_.n_layer + layer) * layer_sz + h * head +
           static_cast<int64_t>(pos) * shape_.head_dim;
  }
  KvCacheShape shape_;
  uint16_t* data_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace ondo::memory
