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
#include <vector>

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
  // Ring layers (sliding-window attention: gemma3's local layers) keep only ring_rows rows
  // per head instead of n_ctx: position p lives in row p % ring_rows. Layer l is a ring layer
  // when ring_rows > 0 and l % ring_period != ring_period - 1 (every ring_period-th layer is
  // global and keeps n_ctx rows). ring_rows 0: every layer keeps n_ctx rows.
  // REQUIRES: ring_rows == 0, or 0 < ring_rows <= n_ctx and ring_period > 0.
  int ring_rows = 0;
  int ring_period = 0;
  bool is_ring_layer(int layer) const { return ring_rows > 0 && layer % ring_period != ring_period - 1; }
  // Rows per head of `layer`.
  int rows(int layer) const { return is_ring_layer(layer) ? ring_rows : n_ctx; }
  bool has_ring() const { return ring_rows > 0 && ring_rows < n_ctx; }
};
// InvalidArgument, naming the figure, unless every dimension is positive and head_dim suits
// the type (q8_0: a multiple of 32).
Status CheckKvCacheShape(const KvCacheShape& shape);

class KvCache {
 public:
  // Exact bytes: 2 * n_kv_head * KvRowBytes(type, head_dim) * (the sum over layers of
  // rows(layer): n_ctx, or ring_rows for a ring layer) (f16: head_dim * 2 per row; q8_0:
  // head_dim / 32 * 34).
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
  // one head are contiguous (rows r and r + 1 are row_bytes() apart). For a ring layer the
  // caller maps a position to its row (p % ring_rows). REQUIRES: 0 <= pos < shape().rows(layer).
  uint8_t* K(int layer, int h, int pos) { return Row(0, layer, h, pos); }
  uint8_t* V(int layer, int h, int pos) { return Row(1, layer, h, pos); }
  const uint8_t* K(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(0, layer, h, pos); }
  const uint8_t* V(int layer, int h, int pos) const { return const_cast<KvCache*>(this)->Row(1, layer, h, pos); }
  // Bytes of one row, and so between consecutive positions of one head.
  int64_t row_bytes() const { return row_bytes_; }

 private:
  KvCache(const KvCacheShape& shape, uint8_t* data, uint64_t bytes);
  // Layer l's K (which 0) or V (1) block: n_kv_head heads of rows(l) rows, from
  // data_ + layer_offset_[2 * l + which].
  uint8_t* Row(int which, int layer, int h, int pos) {
    const int64_t head = static_cast<int64_t>(shape_.rows(layer)) * row_bytes_;
    return data_ + layer_offset_[static_cast<size_t>(2 * layer + which)] + h * head +
           static_cast<int64_t>(pos) * row_bytes_;
  }
  KvCacheShape shape_;
  uint8_t* data_ = nullptr;
  uint64_t bytes_ = 0;
  int64_t row_bytes_ = 0;
  std::vector<int64_t> layer_offset_;
};

}  // namespace ondo::memory
