// .ondo: ondo's native model format. A model is a manifest and shards of tensor data, as a
// folder (NAME.ondo/manifest, NAME.ondo/shard-00000.bin, ...) or, with --single, one file
// (the manifest first, then the shards, each at a 64 KiB boundary). Tensors are used in place
// from the shard mappings, like a GGUF file's.
//
// Manifest (little-endian):
//   0   "ONDO"        magic
//   4   u32           format version (1)
//   8   u64           body bytes
//   16  u32           CRC-32 (zlib) of the body
//   20  u32           0
//   24  body          GGUF v3 header, metadata and tensor infos, no data section: the model's
//                     hyper-parameters, tokenizer and chat template exactly as GGUF keys (binary,
//                     no JSON at start-up), plus
//                       general.alignment     u32 = 64 (tensor offsets inside their shard)
//                       ondo.shards.offset    u64[]  byte offset of each shard in the file (0 in
//                                                    a folder, where shard i is shard-0000i.bin)
//                       ondo.shards.bytes     u64[]
//                       ondo.shards.crc32     u32[]  zlib CRC-32 of each shard's bytes
//                       ondo.tensors.shard    u32[]  shard of each tensor, in tensor-info order
// Shards are cut on layer boundaries: the tensors that are not in a layer (token_embd first,
// output_norm/output last) and each layer's blk.N.* tensors stay together, in that order, and
// a shard closes before a group that would take it past the shard size.
//
// Every offset and size in the manifest is checked when a model is opened (a manifest that
// points outside its shard, an unaligned tensor, a shard of the wrong size, a bad manifest
// CRC: a Status naming it, never a crash); the shards' CRCs are checked by VerifyOndo (`ondo
// verify`) or at open when asked.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "runtime/gguf.h"
#include "runtime/imatrix.h"

namespace ondo::runtime {

inline constexpr uint32_t kOndoFormatVersion = 1;
inline constexpr size_t kOndoManifestHeaderBytes = 24;
inline constexpr size_t kOndoTensorAlign = 64;
inline constexpr size_t kOndoShardAlign = 64 * 1024;  // single file: any page size up to 64 KiB
inline constexpr const char* kOndoManifestName = "manifest";

// Per-tensor types chosen by `ondo convert`. kKeep copies every tensor as it is; the others
// re-quantize the matrices (2-D weights; norms and biases stay as they are):
//   kF16  F16
//   kQ8   Q8_0
//   kQ4   Q4_K, with Q6_K for the output head (token_embd when tied), attn_v and the
//         ffn_down of the layers llama.cpp's Q4_K_M gives more bits (first and last eighth,
//         every third between)
//   kQ3   Q3_K, with Q4_K for attn_v, attn_output and those ffn_down, Q6_K for the head
//   kQ2   OQ2 (ondo's 2.25-bit type), with Q4_K for attn_v and the embeddings / output head,
//         and the most sensitive matrices one or more steps up (see target_bytes)
// A matrix whose rows do not fit the chosen block size falls back to Q8_0, then to F16.
enum class OndoQuant { kKeep, kF16, kQ8, kQ4, kQ3, kQ2 };
// "keep", "f16", "q8", "q4", "q3", "q2"
Status ParseOndoQuant(std::string_view name, OndoQuant* out);
const char* OndoQuantName(OndoQuant q);

struct OndoWriteOptions {
  OndoQuant quant = OndoQuant::kKeep;
  uint64_t shard_bytes = 64ull << 20;
  bool single_file = false;
  int n_threads = 1;
  // Importance matrix (llama.cpp's, or `ondo imatrix`'s), or nullptr: the OQ2 search weights
  // each column's error by it. Matrices it has no entry for are quantized without.
  const Imatrix* imatrix = nullptr;
  // --quant q2 only: the total size to fill (manifest and shards), 0 for the preset's own
  // (its base mix plus 3%). Matrices are moved up the ladder OQ2 -> Q3_K -> Q4_K -> Q6_K,
  // always the one whose estimated error drops most per byte, while the model still fits:
  // the error of a matrix is measured by quantizing a sample of its rows and weighting each
  // column's squared error by the importance matrix (1 without one), which estimates how much
  // it perturbs the matrix's output. Too small a target for the base mix is an error.
  uint64_t target_bytes = 0;
  // Called after each tensor with (input bytes done, input bytes total); may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct OndoWriteStats {
  int n_tensors = 0;
  int n_requantized = 0;
  int n_with_imatrix = 0;  // re-quantized with importance weights
  int n_upgraded = 0;      // matrices the q2 allocator gave more bits than the base mix
  int n_shards = 0;
  uint64_t bytes = 0;  // everything written: manifest and shards
};

// Writes the model of `in` to `out_path`, which must not exist. The tensors are streamed one at
// a time (memory: a few MB of row buffers, not the model); the result appears at out_path only
// once complete (written under a temporary name, then renamed).
Status WriteOndo(const GgufFile& in, const std::string& out_path, const OndoWriteOptions& opt,
                 OndoWriteStats* stats);

// True when `path` is an .ondo model: a folder holding a manifest, or a file that starts with
// the manifest magic.
bool IsOndoModel(const std::string& path);

// Opens an .ondo model as a GgufFile whose tensors point into the shard mappings (it owns
// them). With verify_shards, every shard's CRC-32 is checked too (reads the whole model).
Status OpenOndo(const std::string& path, bool verify_shards, std::unique_ptr<GgufFile>* out);
// A single-file .ondo model held in memory by the caller (fuzzing, tests).
Status ParseOndo(const uint8_t* data, size_t size, bool verify_shards,
                 std::unique_ptr<GgufFile>* out);

struct OndoShardCheck {
  std::string where;  // file name, or "offset N" in a single file
  uint64_t bytes = 0;
  uint32_t crc_expected = 0;
  uint32_t crc_actual = 0;
  bool ok() const { return crc_expected == crc_actual; }
};
// Opens the model and checks every shard's CRC-32 (`ondo verify`); `shards` gets one entry per
// shard. Corrupt if any shard fails.
Status VerifyOndo(const std::string& path, std::vector<OndoShardCheck>* shards);

// A GGUF file or an .ondo model, whichever `path` is.
Status OpenModelFile(const std::string& path, std::unique_ptr<GgufFile>* out);

}  // namespace ondo::runtime
