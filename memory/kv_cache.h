// KvCache: fixed-capacity key/value cache, laid out for grouped-query attention: per layer, K
// and V are (n_kv_head, n_ctx, head_dim), so the rows one KV head attends over are contiguous
// and read once for all query heads of its group. Elements are f16, or 8-bit: llama.cpp's
// block_q8_0 (an f16 scale and 32 int8 per 32 elements, 34 bytes: 8.5 bits per element, so
// the cache takes 53% of the f16 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "platform/status.h"

namespace ondo::memory {

enum class KvType {
  kF16,   // IEEE binary16 per element
  kQ8_0,  // ggml Q8_0 blocks of 32 elements; REQUIRES head_dim % 32 == 0
};
// "f16", "q8_0".
const char* KvTypeName(KvType type);
// Accepts "f16", "q8" and "q8_0"; false for anything else.
bool ParseKvType(std::string_view name, KvType* type);
// Bytes of one row of head_dim elements. REQUIRES: head_dim valid for the type.
uint64_t KvRowBytes(KvType type, int head_dim);

struct KvCacheShape {
  int n_layer = 0;
  int n_kv_head = 0;
  int head_dim = 0;
  int n_ctx = 0;
  KvType type = KvType::kF16;
};
// InvalidArgument, naming the figure, unless every dimension is positive and head_dim suits
// the type (q8_0: a multiple of 32).
Status CheckKvCacheShape(const KvCacheShape& shape);

class KvCache {
 public:
  // Exact bytes: 2 * n_layer * n_kv_head * n_ctx * KvRowBytes(type, head_dim)
  // (f16: head_dim * 2 per row; q8_0: head_dim / 32 * 34).
  static uint64_t BytesFor(const KvCacheShape& shape);
  // Checks the shape (CheckKvCacheShape), then allocates (and zero-fills) the whole cache up
  // front; OutOfMemory if it cannot.
  static Status Create(const KvCacheShape& shape, std::unique_ptr<KvCache>* out);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheShape& shape() const { return shape_; }
  KvType type() const { return shape_.type; }
  uint64_t bytes() const { return bytes_; }
  // Row `pos` of KV head `h` in layer `layer`: row_bytes() bytes of shape().type. The rows of
  // one head are contiguous (positions p and p + 1 are row_bytes() apart). REQUIRES: indices in
  // range.
  uint8_t* K(int layer, int h, int pos) { return Row(0, layer, h, pos); }
  uint8_t* V(int layer, int h, int pos) { return Row(1, layer, h, pos); }
  const uint8_t* K(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(0, layer, h, pos); }
  const uint8_t* V(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(1, layer, h, pos); }
  // Bytes of one row, and so between consecutive positions of one head.
  int64_t row_bytes() const { return row_bytes_; }

 private:
  KvCache(const KvCacheShape& shape, uint8_t* data, uint64_t bytes)
      : shape_(shape), data_(data), bytes_(bytes),
        row_bytes_(static_cast<int64_t>(KvRowBytes(shape.type, shape.head_dim))) {}
  uint8_t* Row(int which, int layer, int h, int pos) {
    const int64_t head = static_cast<int64_t>(shape_.n_ctx) * row_bytes_;
    const int64_t layer_sz = head * shape_.n_kv_head;
    return data_ + (static_cast<int64_t>(which) * shape_.n_layer + layer) * layer_sz + h * head +
           static_cast<int64_t>(pos) * row_bytes_;
  }
  KvCacheShape shape_;
  uint8_t* data_ = nullptr;
  uint64_t bytes_ = 0;
  int64_t row_bytes_ = 0;
};

}  // namespace ondo::memory
