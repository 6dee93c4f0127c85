// Prompt cache file I/O; the format is described in prompt_cache.h.
#include "memory/prompt_cache.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ondo::memory {
namespace {

static_assert(std::endian::native == std::endian::little, "the prompt cache is written as the host's bytes");

constexpr char kMagic[8] = {'O', 'N', 'D', 'O', 'P', 'C', '\0', '\0'};
// KV element type codes in the file.
constexpr uint32_t kKvTypeF16 = 1;
constexpr uint32_t kKvTypeQ8_0 = 2;
uint32_t KvTypeCode(KvType t) { return t == KvType::kQ8_0 ? kKvTypeQ8_0 : kKvTypeF16; }
const char* KvCodeName(uint32_t code) {
  return code == kKvTypeF16 ? "f16" : code == kKvTypeQ8_0 ? "q8_0" : "unknown";
}
// magic, version, model id, kv type, n_layer, n_kv_head, head_dim, n_tokens, compressed bytes.
constexpr size_t kHeaderBytes = 8 + 4 + 8 + 4 + 4 * 4 + 8;
constexpr int kZstdLevel = 3;

uint32_t Crc32(const uint8_t* p, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

template <typename T>
void Put(std::vector<uint8_t>* b, T v) {
  const size_t at = b->size();
  b->resize(at + sizeof(T));
  std::memcpy(b->data() + at, &v, sizeof(T));
}
template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Bytes of the rows of n tokens: 2 (K, V) x n_layer x n_kv_head x n x row bytes of the type.
uint64_t RowBytes(const KvCacheShape& s, uint64_t n) {
  return 2ull * static_cast<uint64_t>(s.n_layer) * static_cast<uint64_t>(s.n_kv_head) * n *
         KvRowBytes(s.type, s.head_dim);
}

// Calls f(dst_or_src_row_in_kv, index_in_file_order) for each row of positions [0, n) of a
// file holding n_file positions, in the file's order.
template <typename KvT, typename F>
void ForRows(KvT& kv, int n, int n_file, F&& f) {
  const KvCacheShape& s = kv.shape();
  size_t row = 0;
  for (int l = 0; l < s.n_layer; ++l) {
    for (int which = 0; which < 2; ++which) {
      for (int h = 0; h < s.n_kv_head; ++h) {
        for (int pos = 0; pos < n; ++pos) f(which == 0 ? kv.K(l, h, pos) : kv.V(l, h, pos), row + pos);
        row += static_cast<size_t>(n_file);
      }
    }
  }
}

Status IoError(const std::string& what) {
  return Status(StatusCode::kIoError, fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

Status SavePromptCache(const std::string& path, uint64_t model_id, const KvCache& kv,
                       std::span<const int32_t> ids) {
  const KvCacheShape& s = kv.shape();
  if (s.has_ring()) return InvalidArgument("the prompt cache needs every position's rows, not a ring KV cache");
  if (ids.empty()) return InvalidArgument("the prompt cache needs at least one token");
  if (ids.size() > static_cast<size_t>(s.n_ctx)) {
    return InvalidArgument("{} tokens do not fit the KV cache ({} positions)", ids.size(), s.n_ctx);
  }
  const int n = static_cast<int>(ids.size());
  const size_t head_bytes = static_cast<size_t>(kv.row_bytes());
  std::vector<uint8_t> raw(RowBytes(s, ids.size()));
  ForRows(kv, n, n, [&](const uint8_t* row, size_t i) { std::memcpy(raw.data() + i * head_bytes, row, head_bytes); });

  std::vector<uint8_t> b;
  const size_t bound = ZSTD_compressBound(raw.size());
  b.reserve(kHeaderBytes + ids.size() * 4 + bound + 4);
  b.insert(b.end(), kMagic, kMagic + sizeof(kMagic));
  Put<uint32_t>(&b, kPromptCacheVersion);
  Put<uint64_t>(&b, model_id);
  Put<uint32_t>(&b, KvTypeCode(s.type));
  Put<uint32_t>(&b, static_cast<uint32_t>(s.n_layer));
  Put<uint32_t>(&b, static_cast<uint32_t>(s.n_kv_head));
  Put<uint32_t>(&b, static_cast<uint32_t>(s.head_dim));
  Put<uint32_t>(&b, static_cast<uint32_t>(n));
  const size_t size_at = b.size();
  Put<uint64_t>(&b, 0);  // compressed bytes, filled in below
  for (int32_t id : ids) Put<int32_t>(&b, id);
  const size_t data_at = b.size();
  b.resize(data_at + bound);
  const size_t z = ZSTD_compress(b.data() + data_at, bound, raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(z)) return Status(StatusCode::kInternal, fmt::format("zstd: {}", ZSTD_getErrorName(z)));
  b.resize(data_at + z);
  const uint64_t z64 = z;
  std::memcpy(b.data() + size_at, &z64, sizeof(z64));
  Put<uint32_t>(&b, Crc32(b.data(), b.size()));

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return IoError(fmt::format("cannot create '{}'", tmp));
  const bool written = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  const int saved_errno = errno;
  if (std::fclose(f) != 0 || !written) {
    if (!written) errno = saved_errno;
    Status st = IoError(fmt::format("cannot write '{}'", tmp));
    std::remove(tmp.c_str());
    return st;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = IoError(fmt::format("cannot rename '{}' to '{}'", tmp, path));
    std::remove(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

Status LoadPromptCache(const std::string& path, uint64_t model_id, std::span<const int32_t> prompt,
                       KvCache* kv, int* n_reused) {
  *n_reused = 0;
  if (kv->shape().has_ring()) return InvalidArgument("the prompt cache needs every position's rows, not a ring KV cache");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return NotFound("no prompt cache '{}'", path);
    return IoError(fmt::format("cannot open '{}'", path));
  }
  std::vector<uint8_t> b;
  uint8_t buf[1 << 16];
  for (;;) {
    const size_t got = std::fread(buf, 1, sizeof(buf), f);
    b.insert(b.end(), buf, buf + got);
    if (got < sizeof(buf)) break;
  }
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) return IoError(fmt::format("cannot read '{}'", path));

  if (b.size() < kHeaderBytes + 4) return Corrupt("prompt cache '{}' is truncated ({} bytes)", path, b.size());
  if (std::memcmp(b.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt("'{}' is not a prompt cache", path);
  const size_t body = b.size() - 4;
  if (Crc32(b.data(), body) != Get<uint32_t>(b.data() + body)) {
    return Corrupt("prompt cache '{}' fails its CRC-32 (truncated or damaged)", path);
  }
  const uint8_t* p = b.data() + sizeof(kMagic);
  const uint32_t version = Get<uint32_t>(p);
  const uint64_t id = Get<uint64_t>(p + 4);
  const uint32_t kv_type = Get<uint32_t>(p + 12);
  const uint32_t n_layer = Get<uint32_t>(p + 16);
  const uint32_t n_kv_head = Get<uint32_t>(p + 20);
  const uint32_t head_dim = Get<uint32_t>(p + 24);
  const uint32_t n_tokens = Get<uint32_t>(p + 28);
  const uint64_t z = Get<uint64_t>(p + 32);
  if (version != kPromptCacheVersion) {
    return Unsupported("prompt cache '{}' has format version {} (this build reads {})", path, version,
                       kPromptCacheVersion);
  }
  if (id != model_id) return InvalidArgument("prompt cache '{}' was made with another model", path);
  const KvCacheShape& s = kv->shape();
  if (kv_type != KvTypeCode(s.type)) {
    return InvalidArgument("prompt cache '{}' holds a KV cache of type {} (code {}), not {} (--kv-type)", path,
                           KvCodeName(kv_type), kv_type, KvTypeName(s.type));
  }
  if (n_layer != static_cast<uint32_t>(s.n_layer) || n_kv_head != static_cast<uint32_t>(s.n_kv_head) ||
      head_dim != static_cast<uint32_t>(s.head_dim)) {
    return InvalidArgument("prompt cache '{}' has KV geometry {}x{}x{} (layers x heads x dim), not {}x{}x{}", path,
                           n_layer, n_kv_head, head_dim, s.n_layer, s.n_kv_head, s.head_dim);
  }
  // Lengths in 64 bits: n_tokens * 4 cannot overflow, and z is compared against what is left.
  const uint64_t ids_bytes = static_cast<uint64_t>(n_tokens) * 4;
  if (n_tokens == 0 || kHeaderBytes + ids_bytes > body || z != body - kHeaderBytes - ids_bytes) {
    return Corrupt("prompt cache '{}' has inconsistent lengths ({} tokens, {} compressed bytes, {} in the file)",
                   path, n_tokens, z, b.size());
  }
  const uint8_t* ids = b.data() + kHeaderBytes;
  const size_t limit = std::min({static_cast<size_t>(n_tokens), prompt.empty() ? 0 : prompt.size() - 1,
                                 static_cast<size_t>(s.n_ctx)});
  size_t common = 0;
  while (common < limit && Get<int32_t>(ids + common * 4) == prompt[common]) ++common;
  if (common == 0) return Status::Ok();

  const uint64_t raw_bytes = RowBytes(s, n_tokens);
  const uint8_t* zdata = ids + ids_bytes;
  const unsigned long long content = ZSTD_getFrameContentSize(zdata, z);
  if (content != raw_bytes) {
    return Corrupt("prompt cache '{}': the compressed rows hold {} bytes, not {}", path,
                   content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR ? 0ull : content,
                   raw_bytes);
  }
  std::vector<uint8_t> raw(raw_bytes);
  const size_t got = ZSTD_decompress(raw.data(), raw.size(), zdata, z);
  if (ZSTD_isError(got) || got != raw_bytes) {
    return Corrupt("prompt cache '{}': the rows do not decompress{}{}", path, ZSTD_isError(got) ? ": " : "",
                   ZSTD_isError(got) ? ZSTD_getErrorName(got) : "");
  }
  const size_t head_bytes = static_cast<size_t>(kv->row_bytes());
  ForRows(*kv, static_cast<int>(common), static_cast<int>(n_tokens),
          [&](uint8_t* row, size_t i) { std::memcpy(row, raw.data() + i * head_bytes, head_bytes); });
  *n_reused = static_cast<int>(common);
  return Status::Ok();
}

}  // namespace ondo::memory
