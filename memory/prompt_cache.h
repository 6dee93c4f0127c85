// Prompt (prefix) cache: the KV rows and token ids of a prefilled prompt, saved to a file so a
// later run whose prompt starts with the same tokens prefills only the rest.
//
// File layout (little-endian):
//   magic "ONDOPC\0\0", u32 version, u64 model identity, u32 KV type (1 = f16, 2 = q8_0),
//   u32 n_layer, u32 n_kv_head, u32 head_dim, u32 n_tokens, u64 compressed bytes,
//   i32 ids[n_tokens], zstd frame of the rows, u32 CRC-32 (zlib) of everything before it.
// Rows, uncompressed: for each layer, K then V, for each KV head, positions [0, n_tokens),
// one row of the KV type each (f16: head_dim values; q8_0: head_dim / 32 block_q8_0). A file
// of another KV type than the session's is refused like one of another geometry.
//
// A file is trusted only after its length, CRC, magic, version, identity, KV type, geometry and
// decompressed size all check out; anything else is an error status saying why (the caller
// warns and recomputes). The cache in the session is written only after all checks pass.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "memory/kv_cache.h"
#include "platform/status.h"

namespace ondo::memory {

inline constexpr uint32_t kPromptCacheVersion = 1;

// Writes rows [0, ids.size()) of `kv` and `ids` to `path`, atomically: to `path`.tmp, then
// renamed over `path` (an existing file is replaced only by a complete one; the temporary is
// removed on failure). InvalidArgument if ids is empty or longer than the cache, or if `kv`
// has ring layers (KvCacheShape::has_ring: they lack early positions; also for Load).
Status SavePromptCache(const std::string& path, uint64_t model_id, const KvCache& kv,
                       std::span<const int32_t> ids);

// Reads `path` and, if it is valid for `model_id` and the geometry of `kv`, copies the rows of
// the longest common prefix of its ids and `prompt` — at most prompt.size() - 1 tokens, so at
// least one is left to prefill for the last token's logits, and at most kv's n_ctx — into
// `kv` and sets *n_reused to their number (possibly 0). NotFound if the file does not exist;
// Corrupt / Unsupported / InvalidArgument, with `kv` untouched and *n_reused = 0, otherwise.
Status LoadPromptCache(const std::string& path, uint64_t model_id, std::span<const int32_t> prompt,
                       KvCache* kv, int* n_reused);

}  // namespace ondo::memory
