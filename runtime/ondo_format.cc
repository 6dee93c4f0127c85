// .ondo reader and writer (see ondo_format.h for the layout).
#include "runtime/ondo_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "kernels/kernels.h"
#include "platform/mapped_file.h"
#include "platform/thread_pool.h"

namespace ondo::runtime {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'O', 'N', 'D', 'O'};
constexpr uint32_t kGgufMagicLe = 0x46554747;  // "GGUF"
constexpr size_t kMaxShards = 1 << 16;

Status IoError(const std::string& what) {
  return Status(StatusCode::kIoError, fmt::format("{}: {}", what, std::strerror(errno)));
}

uint32_t Crc32(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}
uint32_t Crc32(const uint8_t* p, size_t n) { return Crc32(static_cast<uint32_t>(crc32(0L, Z_NULL, 0)), p, n); }

template <typename T>
T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string ShardFileName(size_t i) { return fmt::format("shard-{:05d}.bin", i); }

// --- serialization of the manifest body (GGUF v3 metadata) ------------------------------------

class Bytes {
 public:
  template <typename T>
  void Put(T v) {
    const size_t n = buf_.size();
    buf_.resize(n + sizeof(T));
    std::memcpy(buf_.data() + n, &v, sizeof(T));
  }
  void PutRaw(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    PutRaw(s.data(), s.size());
  }
  std::vector<uint8_t>& buf() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

size_t ScalarBytes(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

// A value exactly as GGUF encodes it (arrays copied as their encoded bytes).
void PutValue(Bytes& b, const GgufValue& v) {
  b.Put<uint32_t>(static_cast<uint32_t>(v.type));
  switch (v.type) {
    case GgufType::kString:
      b.PutString(v.str);
      return;
    case GgufType::kArray:
      b.Put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.Put<uint64_t>(v.count);
      b.PutRaw(v.data, v.bytes);
      return;
    case GgufType::kF32:
      b.Put<float>(static_cast<float>(v.scalar.f64));
      return;
    case GgufType::kF64:
      b.Put<double>(v.scalar.f64);
      return;
    case GgufType::kBool:
      b.Put<uint8_t>(v.scalar.b ? 1 : 0);
      return;
    default: {
      // Integers: the low bytes of the (sign-extended) 64-bit value, little-endian.
      const uint64_t u = v.scalar.u64;
      b.PutRaw(&u, ScalarBytes(v.type));
      return;
    }
  }
}

template <typename T>
void PutArray(Bytes& b, std::string_view key, GgufType elem, const std::vector<T>& values) {
  b.PutString(key);
  b.Put<uint32_t>(static_cast<uint32_t>(GgufType::kArray));
  b.Put<uint32_t>(static_cast<uint32_t>(elem));
  b.Put<uint64_t>(values.size());
  for (T v : values) b.Put<T>(v);
}

// --- the plan of a conversion -------------------------------------------------------------------

struct PlannedTensor {
  const GgufTensorInfo* src = nullptr;
  kernels::DType type = kernels::DType::kF32;
  uint64_t bytes = 0;
  uint32_t shard = 0;
  uint64_t offset = 0;  // inside the shard
};

// "blk.N." -> N, else -1.
int LayerOf(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int n = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    n = n * 10 + (name[i] - '0');
    if (n > 1000000) return -1;
    ++i;
  }
  return i < name.size() && name[i] == '.' ? n : -1;
}

// Group order: 0 = before the layers, 1 + N = layer N, max = after the layers.
int64_t GroupOf(std::string_view name) {
  const int layer = LayerOf(name);
  if (layer >= 0) return 1 + static_cast<int64_t>(layer);
  if (name.starts_with("output")) return std::numeric_limits<int64_t>::max();
  return 0;
}

bool RowsFit(kernels::DType t, int64_t n_cols) {
  return n_cols % kernels::Info(t).block_size == 0;
}

// llama.cpp's use_more_bits(i_layer, n_layers) of Q4_K_M.
bool MoreBits(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

kernels::DType ChooseType(const GgufTensorInfo& t, OndoQuant q, bool has_output, int n_layer) {
  using kernels::DType;
  const std::string_view name = t.name;
  const bool matrix = t.n_dims >= 2 && name.ends_with(".weight");
  if (q == OndoQuant::kKeep || !matrix) return t.type;
  DType want = DType::kF16;
  switch (q) {
    case OndoQuant::kF16: want = DType::kF16; break;
    case OndoQuant::kQ8: want = DType::kQ8_0; break;
    case OndoQuant::kQ4: {
      const int layer = LayerOf(name);
      const bool head = name == "output.weight" || (!has_output && name == "token_embd.weight");
      const bool sensitive = name.ends_with(".attn_v.weight") ||
                             (name.ends_with(".ffn_down.weight") && layer >= 0 && MoreBits(layer, n_layer));
      want = head || sensitive ? DType::kQ6_K : DType::kQ4_K;
      break;
    }
    case OndoQuant::kQ3: {
      const int layer = LayerOf(name);
      const bool head = name == "output.weight" || (!has_output && name == "token_embd.weight");
      const bool sensitive = name.ends_with(".attn_v.weight") || name.ends_with(".attn_output.weight") ||
                             (name.ends_with(".ffn_down.weight") && layer >= 0 && MoreBits(layer, n_layer));
      want = head ? DType::kQ6_K : sensitive ? DType::kQ4_K : DType::kQ3_K;
      break;
    }
    case OndoQuant::kQ2: {
      const bool embd_or_head = name == "output.weight" || name == "token_embd.weight";
      want = embd_or_head || name.ends_with(".attn_v.weight") ? DType::kQ4_K : DType::kOQ2;
      break;
    }
    case OndoQuant::kKeep: break;
  }
  for (DType d : {want, DType::kQ8_0, DType::kF16}) {
    if (RowsFit(d, t.ne[0])) return d;
  }
  return t.type;
}

// --- the q2 bit allocator ---------------------------------------------------------------------

// The next type up the q2 ladder, or the same type at its top.
kernels::DType NextUp(kernels::DType t) {
  using kernels::DType;
  switch (t) {
    case DType::kOQ2: return DType::kQ3_K;
    case DType::kQ3_K: return DType::kQ4_K;
    case DType::kQ4_K: return DType::kQ6_K;
    default: return t;
  }
}

void ReleaseInput(const GgufFile& in, const uint8_t* p, size_t n);

// Estimated output error of tensor t stored as `type`: sum over a sample of at most 64 rows
// (scaled to all rows) of sum_c imatrix_c (w - q(w))^2, i.e. E|dW x|^2 for activations whose
// column means of x^2 are the importance matrix (1 where there is none).
double QuantError(const GgufFile& in, const GgufTensorInfo& t, kernels::DType type, const float* imatrix) {
  const int64_t n_cols = t.ne[0];
  const int64_t n_rows = t.n_rows();
  const int64_t n_sample = std::min<int64_t>(n_rows, 64);
  const size_t src_rb = kernels::RowBytes(t.type, n_cols);
  std::vector<float> x(static_cast<size_t>(n_cols)), y(static_cast<size_t>(n_cols));
  std::vector<uint8_t> q(kernels::RowBytes(type, n_cols));
  double err = 0;
  for (int64_t i = 0; i < n_sample; ++i) {
    const int64_t r = i * n_rows / n_sample;
    kernels::DequantizeRow(t.type, t.data + static_cast<size_t>(r) * src_rb, x.data(), n_cols);
    kernels::QuantizeRowWeighted(type, x.data(), q.data(), n_cols, imatrix);
    kernels::DequantizeRow(type, q.data(), y.data(), n_cols);
    for (int64_t c = 0; c < n_cols; ++c) {
      const double d = static_cast<double>(x[c]) - y[c];
      err += (imatrix != nullptr ? imatrix[c] : 1.0) * d * d;
    }
  }
  // The sampled rows' pages (and the kernel's read-ahead around them) leave the mapping: they
  // would otherwise stay resident, a good part of the model on a large one.
  ReleaseInput(in, t.data, t.bytes);
  return err * static_cast<double>(n_rows) / static_cast<double>(n_sample);
}

// Approximate manifest bytes of `in`'s metadata and tensor infos (the part of an .ondo model
// that is not tensor data), for the size target.
uint64_t ManifestEstimate(const GgufFile& in) {
  Bytes b;
  for (const GgufKv& kv : in.kvs()) {
    b.PutString(kv.key);
    PutValue(b, kv.value);
  }
  uint64_t n = kOndoManifestHeaderBytes + 64 + b.buf().size();
  for (const GgufTensorInfo& t : in.tensors()) n += 8 + t.name.size() + 4 + 8 * static_cast<uint64_t>(t.n_dims) + 4 + 8 + 4;
  return n;
}

// The allocator's phases: the measure (the error of a matrix's own output) compares matrices
// of one kind across layers, but not kinds with each other -- the error of ffn_down adds to the
// residual stream as it is, that of ffn_gate passes through SwiGLU and ffn_down first. So the
// budget goes first to ffn_down (in every model measured, llama.cpp's and ours, the most
// sensitive to 2 bits), then attn_output, then the rest; within a phase, by error per byte.
constexpr int kAllocPhases = 3;
int AllocPhase(std::string_view name) {
  if (name.ends_with(".ffn_down.weight")) return 0;
  if (name.ends_with(".attn_output.weight")) return 1;
  return 2;
}

// The q2 allocator (see OndoWriteOptions::target_bytes). `plan` holds the base mix.
Status AllocateQ2(const GgufFile& in, const OndoWriteOptions& opt, int n_layer,
                  std::vector<PlannedTensor>* plan, int* n_upgraded) {
  using kernels::DType;
  auto aligned = [](uint64_t b) { return (b + kOndoTensorAlign - 1) / kOndoTensorAlign * kOndoTensorAlign; };
  auto bytes_of = [](const GgufTensorInfo& t, DType d) { return kernels::RowBytes(d, t.ne[0]) * static_cast<uint64_t>(t.n_rows()); };
  uint64_t total = ManifestEstimate(in);
  for (const PlannedTensor& p : *plan) total += aligned(p.bytes);
  if (opt.imatrix == nullptr && opt.target_bytes == 0) {
    // No measure of sensitivity: llama.cpp's experience instead -- the ffn_down of the first
    // layers (their inputs are the largest activations of the model) one step up.
    const int first = std::max(2, n_layer / 8);
    for (PlannedTensor& p : *plan) {
      const std::string_view name = p.src->name;
      const int layer = LayerOf(name);
      if (p.type == DType::kOQ2 && name.ends_with(".ffn_down.weight") && layer >= 0 && layer < first) {
        p.type = DType::kQ3_K;
        p.bytes = bytes_of(*p.src, p.type);
        ++*n_upgraded;
      }
    }
    return Status::Ok();
  }
  const uint64_t budget = opt.target_bytes > 0 ? opt.target_bytes : total + total * 3 / 100;
  if (budget < total) {
    return InvalidArgument("--target-size {} is below the smallest q2 mix of this model ({} bytes)", budget, total);
  }
  struct Cand {
    size_t idx;
    int phase;
    DType next;
    double err_cur, err_next;
    std::vector<float> weights;
  };
  std::vector<Cand> cands;
  for (size_t i = 0; i < plan->size(); ++i) {
    const PlannedTensor& p = (*plan)[i];
    if (p.type != DType::kOQ2 && p.type != DType::kQ3_K && p.type != DType::kQ4_K) continue;
    if (p.type == p.src->type) continue;  // not re-quantized by the preset
    const int phase = AllocPhase(p.src->name);
    Cand c{i, phase, NextUp(p.type), 0, 0, {}};
    if (opt.imatrix != nullptr) {
      const ImatrixEntry* e = opt.imatrix->Find(std::string(p.src->name));
      if (e == nullptr) continue;  // no measure comparable with the others
      c.weights = e->Means();
      if (static_cast<int64_t>(c.weights.size()) != p.src->ne[0]) continue;  // refused later
    }
    if (NextUp(p.type) == p.type || !RowsFit(c.next, p.src->ne[0])) continue;
    const float* w = c.weights.empty() ? nullptr : c.weights.data();
    c.err_cur = QuantError(in, *p.src, p.type, w);
    c.err_next = QuantError(in, *p.src, c.next, w);
    cands.push_back(std::move(c));
  }
  for (int phase = 0; phase < kAllocPhases;) {
    Cand* best = nullptr;
    double best_rate = 0;
    for (Cand& c : cands) {
      PlannedTensor& p = (*plan)[c.idx];
      if (c.phase != phase || c.next == p.type) continue;
      const uint64_t extra = aligned(bytes_of(*p.src, c.next)) - aligned(p.bytes);
      if (total + extra > budget || c.err_cur <= c.err_next) continue;
      const double rate = (c.err_cur - c.err_next) / static_cast<double>(std::max<uint64_t>(extra, 1));
      if (rate > best_rate) {
        best_rate = rate;
        best = &c;
      }
    }
    if (best == nullptr) {
      ++phase;
      continue;
    }
    PlannedTensor& p = (*plan)[best->idx];
    if (p.type == DType::kOQ2) ++*n_upgraded;
    total += aligned(bytes_of(*p.src, best->next)) - aligned(p.bytes);
    p.type = best->next;
    p.bytes = bytes_of(*p.src, p.type);
    best->err_cur = best->err_next;
    best->next = NextUp(p.type);
    if (best->next != p.type && RowsFit(best->next, p.src->ne[0])) {
      best->err_next = QuantError(in, *p.src, best->next, best->weights.empty() ? nullptr : best->weights.data());
    } else {
      best->next = p.type;
    }
  }
  return Status::Ok();
}

Status CheckWritable(const std::string& out_path) {
  std::error_code ec;
  if (fs::exists(out_path, ec)) {
    return InvalidArgument("'{}' already exists (remove it first, or choose another output)", out_path);
  }
  const fs::path parent = fs::path(out_path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return NotFound("folder '{}' (for the output) does not exist", parent.string());
  }
  return Status::Ok();
}

class FileWriter {
 public:
  ~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return IoError("cannot create '" + path + "'");
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return IoError("cannot write '" + path_ + "'");
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }
  // Flushes [offset, offset + n) and drops it from the page cache, so that a conversion does
  // not keep the model it wrote in memory (best effort).
  void DropWritten(uint64_t offset, uint64_t n) {
    if (::fdatasync(fd_) == 0) {
      (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_DONTNEED);
    }
  }
  Status Finish(uint64_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return IoError("cannot size '" + path_ + "'");
    if (::fsync(fd_) != 0) return IoError("cannot flush '" + path_ + "'");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return IoError("cannot close '" + path_ + "'");
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Streams one shard's bytes: tensors at their offsets, zero padding between, CRC over all.
class ShardSink {
 public:
  ShardSink(FileWriter* file, uint64_t base) : file_(file), base_(base) {}
  Status Write(const uint8_t* p, size_t n) {
    ONDO_RETURN_IF_ERROR(file_->WriteAt(base_ + pos_, p, n));
    crc_ = Crc32(crc_, p, n);
    pos_ += n;
    return Status::Ok();
  }
  Status PadTo(uint64_t offset) {
    static const uint8_t kZeros[kOndoTensorAlign] = {};
    while (pos_ < offset) {
      ONDO_RETURN_IF_ERROR(Write(kZeros, static_cast<size_t>(std::min<uint64_t>(offset - pos_, sizeof(kZeros)))));
    }
    return Status::Ok();
  }
  uint64_t pos() const { return pos_; }
  uint32_t crc() const { return crc_; }

 private:
  FileWriter* file_;
  uint64_t base_;
  uint64_t pos_ = 0;
  uint32_t crc_ = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
};

// Unmaps input pages [p, p + n) of `in` once converted: the conversion's resident memory
// stays at its buffers, not the input mapping (best effort; a page is read again if needed).
void ReleaseInput(const GgufFile& in, const uint8_t* p, size_t n) {
  const platform::MappedFile* m = in.mapping();
  if (m == nullptr || p < m->data() || n > m->size() || static_cast<size_t>(p - m->data()) > m->size() - n) {
    return;
  }
  m->Advise(static_cast<size_t>(p - m->data()), n, platform::Advice::kDontNeed);
}

// Writes tensor `t` converted to `dst`, rows in parallel, a bounded chunk at a time.
// `imatrix`: n_cols importance weights, or nullptr.
Status WriteTensor(const GgufFile& in, const GgufTensorInfo& t, kernels::DType dst,
                   const float* imatrix, platform::ThreadPool& pool, ShardSink* sink) {
  if (dst == t.type) {
    for (size_t done = 0; done < t.bytes;) {
      const size_t n = std::min<size_t>(t.bytes - done, 4u << 20);
      ONDO_RETURN_IF_ERROR(sink->Write(t.data + done, n));
      ReleaseInput(in, t.data + done, n);
      done += n;
    }
    return Status::Ok();
  }
  const int64_t n_cols = t.ne[0];
  const int64_t n_rows = t.n_rows();
  const size_t src_rb = kernels::RowBytes(t.type, n_cols);
  const size_t dst_rb = kernels::RowBytes(dst, n_cols);
  const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>((4u << 20) / std::max<size_t>(dst_rb, 1)));
  std::vector<uint8_t> out(static_cast<size_t>(std::min(rows_per_chunk, n_rows)) * dst_rb);
  std::vector<float> rows(static_cast<size_t>(pool.size()) * static_cast<size_t>(n_cols));
  std::atomic<int64_t> bad_row{-1};
  for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
    const int64_t n = std::min(rows_per_chunk, n_rows - r0);
    pool.ParallelFor(static_cast<int>(n), [&](int i, int thread) {
      float* f = rows.data() + static_cast<size_t>(thread) * static_cast<size_t>(n_cols);
      const int64_t r = r0 + i;
      kernels::DequantizeRow(t.type, t.data + static_cast<size_t>(r) * src_rb, f, n_cols);
      for (int64_t j = 0; j < n_cols; ++j) {
        if (!std::isfinite(f[j])) {
          int64_t none = -1;
          bad_row.compare_exchange_strong(none, r);
          return;
        }
      }
      kernels::QuantizeRowWeighted(dst, f, out.data() + static_cast<size_t>(i) * dst_rb, n_cols, imatrix);
    });
    if (bad_row.load() >= 0) {
      return Corrupt("tensor '{}' row {} holds a NaN or an infinity: it cannot be converted", t.name, bad_row.load());
    }
    ONDO_RETURN_IF_ERROR(sink->Write(out.data(), static_cast<size_t>(n) * dst_rb));
    ReleaseInput(in, t.data + static_cast<size_t>(r0) * src_rb, static_cast<size_t>(n) * src_rb);
  }
  return Status::Ok();
}

}  // namespace

Status ParseOndoQuant(std::string_view name, OndoQuant* out) {
  if (name == "keep") *out = OndoQuant::kKeep;
  else if (name == "f16") *out = OndoQuant::kF16;
  else if (name == "q8") *out = OndoQuant::kQ8;
  else if (name == "q4") *out = OndoQuant::kQ4;
  else if (name == "q3") *out = OndoQuant::kQ3;
  else if (name == "q2") *out = OndoQuant::kQ2;
  else return InvalidArgument("unknown --quant '{}' (keep, f16, q8, q4, q3 or q2)", name);
  return Status::Ok();
}

const char* OndoQuantName(OndoQuant q) {
  switch (q) {
    case OndoQuant::kKeep: return "keep";
    case OndoQuant::kF16: return "f16";
    case OndoQuant::kQ8: return "q8";
    case OndoQuant::kQ4: return "q4";
    case OndoQuant::kQ3: return "q3";
    case OndoQuant::kQ2: return "q2";
  }
  return "?";
}

// --- writer -------------------------------------------------------------------------------------

Status WriteOndo(const GgufFile& in, const std::string& out_path, const OndoWriteOptions& opt,
                 OndoWriteStats* stats) {
  ONDO_RETURN_IF_ERROR(CheckWritable(out_path));
  if (opt.shard_bytes == 0) return InvalidArgument("shard size must be positive");
  for (const GgufTensorInfo& t : in.tensors()) {
    if (t.data == nullptr) return InvalidArgument("tensor '{}' has no data to convert", t.name);
    if (!kernels::Info(t.type).supported) {
      return Unsupported("tensor '{}' has type {}, which ondo cannot convert", t.name, kernels::Info(t.type).name);
    }
  }
  uint32_t n_layer = 0;
  for (const GgufKv& kv : in.kvs()) {
    if (kv.key.ends_with(".block_count") && kv.value.IsInteger() && kv.value.scalar.u64 < 1000000) {
      n_layer = static_cast<uint32_t>(kv.value.scalar.u64);
    }
  }
  const bool has_output = in.FindTensor("output.weight") != nullptr;

  // Plan: tensors grouped (before the layers, layer by layer, after), types, shards, offsets.
  std::vector<PlannedTensor> plan;
  for (const GgufTensorInfo& t : in.tensors()) {
    PlannedTensor p;
    p.src = &t;
    p.type = ChooseType(t, opt.quant, has_output, static_cast<int>(n_layer));
    p.bytes = kernels::RowBytes(p.type, t.ne[0]) * static_cast<uint64_t>(t.n_rows());
    plan.push_back(p);
  }
  OndoWriteStats st;
  if (opt.quant == OndoQuant::kQ2) {
    ONDO_RETURN_IF_ERROR(AllocateQ2(in, opt, static_cast<int>(n_layer), &plan, &st.n_upgraded));
  } else if (opt.target_bytes > 0) {
    return InvalidArgument("a target size needs --quant q2");
  }
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    return GroupOf(a.src->name) < GroupOf(b.src->name);
  });
  std::vector<uint64_t> shard_bytes;
  {
    uint64_t cur = 0;
    size_t i = 0;
    while (i < plan.size()) {
      const int64_t g = GroupOf(plan[i].src->name);
      size_t j = i;
      uint64_t group = 0;
      for (; j < plan.size() && GroupOf(plan[j].src->name) == g; ++j) {
        group = (group + kOndoTensorAlign - 1) / kOndoTensorAlign * kOndoTensorAlign + plan[j].bytes;
      }
      if (shard_bytes.empty() || (cur > 0 && cur + group > opt.shard_bytes)) {
        if (!shard_bytes.empty()) shard_bytes.back() = cur;
        shard_bytes.push_back(0);
        cur = 0;
      }
      for (size_t k = i; k < j; ++k) {
        cur = (cur + kOndoTensorAlign - 1) / kOndoTensorAlign * kOndoTensorAlign;
        plan[k].shard = static_cast<uint32_t>(shard_bytes.size() - 1);
        plan[k].offset = cur;
        cur += plan[k].bytes;
      }
      i = j;
    }
    if (shard_bytes.empty()) shard_bytes.push_back(0);
    shard_bytes.back() = cur;
  }
  if (shard_bytes.size() > kMaxShards) return InvalidArgument("{} shards: choose a larger shard size", shard_bytes.size());

  // The manifest body with the shards' CRCs still zero: its size does not depend on them.
  const size_t n_shards = shard_bytes.size();
  std::vector<uint64_t> shard_offset(n_shards, 0);
  uint64_t file_end = 0;
  auto build_body = [&](const std::vector<uint32_t>& crcs) {
    Bytes b;
    b.Put<uint32_t>(kGgufMagicLe);
    b.Put<uint32_t>(3);
    b.Put<uint64_t>(plan.size());
    size_t n_kv = 0;
    for (const GgufKv& kv : in.kvs()) {
      if (!kv.key.starts_with("ondo.") && kv.key != "general.alignment") ++n_kv;
    }
    b.Put<uint64_t>(n_kv + 5);
    for (const GgufKv& kv : in.kvs()) {
      if (kv.key.starts_with("ondo.") || kv.key == "general.alignment") continue;
      b.PutString(kv.key);
      PutValue(b, kv.value);
    }
    b.PutString("general.alignment");
    b.Put<uint32_t>(static_cast<uint32_t>(GgufType::kU32));
    b.Put<uint32_t>(static_cast<uint32_t>(kOndoTensorAlign));
    PutArray(b, "ondo.shards.offset", GgufType::kU64, shard_offset);
    PutArray(b, "ondo.shards.bytes", GgufType::kU64, shard_bytes);
    PutArray(b, "ondo.shards.crc32", GgufType::kU32, crcs);
    std::vector<uint32_t> tensor_shard;
    for (const PlannedTensor& p : plan) tensor_shard.push_back(p.shard);
    PutArray(b, "ondo.tensors.shard", GgufType::kU32, tensor_shard);
    for (const PlannedTensor& p : plan) {
      b.PutString(p.src->name);
      b.Put<uint32_t>(static_cast<uint32_t>(p.src->n_dims));
      for (int d = 0; d < p.src->n_dims; ++d) b.Put<uint64_t>(static_cast<uint64_t>(p.src->ne[d]));
      b.Put<uint32_t>(static_cast<uint32_t>(p.type));
      b.Put<uint64_t>(p.offset);
    }
    return std::move(b.buf());
  };
  std::vector<uint32_t> crcs(n_shards, 0);
  const size_t body_size = build_body(crcs).size();
  const uint64_t manifest_bytes = kOndoManifestHeaderBytes + body_size;
  if (opt.single_file) {
    uint64_t pos = (manifest_bytes + kOndoShardAlign - 1) / kOndoShardAlign * kOndoShardAlign;
    for (size_t s = 0; s < n_shards; ++s) {
      shard_offset[s] = pos;
      pos += shard_bytes[s];
      if (s + 1 < n_shards) pos = (pos + kOndoShardAlign - 1) / kOndoShardAlign * kOndoShardAlign;
    }
    file_end = pos;
  }

  // Write under a temporary name, rename at the end.
  const std::string tmp = out_path + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!opt.single_file && !fs::create_directory(tmp, ec)) {
    return Status(StatusCode::kIoError, fmt::format("cannot create folder '{}': {}", tmp, ec.message()));
  }
  auto fail = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };

  platform::ThreadPool pool(std::max(1, opt.n_threads));
  uint64_t in_total = 0, in_done = 0;
  for (const PlannedTensor& p : plan) in_total += p.src->bytes;
  st.n_tensors = static_cast<int>(plan.size());
  st.n_shards = static_cast<int>(n_shards);
  {
    FileWriter single;
    if (opt.single_file) {
      if (Status s = single.Open(tmp); !s.ok()) return fail(s);
    }
    size_t k = 0;
    for (size_t s = 0; s < n_shards; ++s) {
      FileWriter own;
      FileWriter* file = &single;
      if (!opt.single_file) {
        if (Status e = own.Open((fs::path(tmp) / ShardFileName(s)).string()); !e.ok()) return fail(e);
        file = &own;
      }
      ShardSink sink(file, shard_offset[s]);
      for (; k < plan.size() && plan[k].shard == s; ++k) {
        const PlannedTensor& p = plan[k];
        if (Status e = sink.PadTo(p.offset); !e.ok()) return fail(e);
        std::vector<float> weights;
        if (opt.imatrix != nullptr && p.type != p.src->type) {
          if (const ImatrixEntry* e = opt.imatrix->Find(std::string(p.src->name)); e != nullptr) {
            weights = e->Means();
            if (static_cast<int64_t>(weights.size()) != p.src->ne[0]) {
              return fail(InvalidArgument("the importance matrix has {} values for '{}', which has {} columns", weights.size(), p.src->name, p.src->ne[0]));
            }
            ++st.n_with_imatrix;
          }
        }
        if (Status e = WriteTensor(in, *p.src, p.type, weights.empty() ? nullptr : weights.data(), pool, &sink); !e.ok()) return fail(e);
        if (p.type != p.src->type) ++st.n_requantized;
        in_done += p.src->bytes;
        if (opt.progress) opt.progress(in_done, in_total);
      }
      if (sink.pos() != shard_bytes[s]) {
        return fail(Status(StatusCode::kInternal, fmt::format("shard {}: wrote {} bytes, planned {}", s, sink.pos(), shard_bytes[s])));
      }
      crcs[s] = sink.crc();
      st.bytes += shard_bytes[s];
      file->DropWritten(shard_offset[s], shard_bytes[s]);
      if (!opt.single_file) {
        if (Status e = own.Finish(shard_bytes[s]); !e.ok()) return fail(e);
      }
    }
    // The manifest, now with the CRCs.
    const std::vector<uint8_t> body = build_body(crcs);
    Bytes m;
    m.PutRaw(kMagic, 4);
    m.Put<uint32_t>(kOndoFormatVersion);
    m.Put<uint64_t>(body.size());
    m.Put<uint32_t>(Crc32(body.data(), body.size()));
    m.Put<uint32_t>(0);
    m.PutRaw(body.data(), body.size());
    st.bytes += m.buf().size();
    if (opt.single_file) {
      if (Status e = single.WriteAt(0, m.buf().data(), m.buf().size()); !e.ok()) return fail(e);
      if (Status e = single.Finish(file_end); !e.ok()) return fail(e);
    } else {
      FileWriter mf;
      if (Status e = mf.Open((fs::path(tmp) / kOndoManifestName).string()); !e.ok()) return fail(e);
      if (Status e = mf.WriteAt(0, m.buf().data(), m.buf().size()); !e.ok()) return fail(e);
      if (Status e = mf.Finish(m.buf().size()); !e.ok()) return fail(e);
    }
  }
  fs::rename(tmp, out_path, ec);
  if (ec) return fail(Status(StatusCode::kIoError, fmt::format("cannot rename '{}' to '{}': {}", tmp, out_path, ec.message())));
  if (stats != nullptr) *stats = st;
  return Status::Ok();
}

// --- reader -------------------------------------------------------------------------------------

class OndoReader {
 public:
  // manifest: the whole manifest (header + body); shard(i) gives shard i's bytes or an error.
  static Status Bind(const uint8_t* manifest, size_t size, bool single_file,
                     const uint8_t* file, size_t file_size, const std::string& folder,
                     bool verify_shards, std::unique_ptr<GgufFile>* out,
                     std::vector<OndoShardCheck>* checks);
  // Hands the manifest's mapping to the file (its metadata points into it).
  static void Adopt(GgufFile& f, std::unique_ptr<platform::MappedFile> map) {
    f.mapping_ = std::move(map);
  }
};

namespace {

Status ReadU64Array(const GgufFile& m, std::string_view key, std::vector<uint64_t>* out) {
  const GgufKv* kv = m.Find(key);
  if (kv == nullptr) return Corrupt("manifest lacks '{}'", key);
  if (kv->value.type != GgufType::kArray || (kv->value.elem_type != GgufType::kU64 && kv->value.elem_type != GgufType::kU32)) {
    return Corrupt("manifest '{}' is not an array of integers", key);
  }
  const size_t es = kv->value.elem_type == GgufType::kU64 ? 8 : 4;
  if (kv->value.count > kv->value.bytes / es) return Corrupt("manifest '{}' is truncated", key);
  out->resize(static_cast<size_t>(kv->value.count));
  for (size_t i = 0; i < out->size(); ++i) {
    (*out)[i] = es == 8 ? LoadLe<uint64_t>(kv->value.data + 8 * i) : LoadLe<uint32_t>(kv->value.data + 4 * i);
  }
  return Status::Ok();
}

Status CheckHeader(const uint8_t* p, size_t size, size_t* body_bytes) {
  if (size < kOndoManifestHeaderBytes) return Corrupt("manifest is {} bytes, shorter than its {}-byte header", size, kOndoManifestHeaderBytes);
  if (std::memcmp(p, kMagic, 4) != 0) return Corrupt("not an .ondo manifest (bad magic)");
  const uint32_t version = LoadLe<uint32_t>(p + 4);
  if (version != kOndoFormatVersion) {
    return Unsupported(".ondo format version {} (this ondo reads version {})", version, kOndoFormatVersion);
  }
  const uint64_t body = LoadLe<uint64_t>(p + 8);
  if (body > size - kOndoManifestHeaderBytes) {
    return Corrupt("manifest body of {} bytes runs past the end ({} bytes): truncated?", body, size);
  }
  const uint32_t crc = LoadLe<uint32_t>(p + 16);
  const uint32_t actual = Crc32(p + kOndoManifestHeaderBytes, static_cast<size_t>(body));
  if (crc != actual) return Corrupt("manifest CRC-32 mismatch (stored {:08x}, computed {:08x}): the manifest is damaged", crc, actual);
  *body_bytes = static_cast<size_t>(body);
  return Status::Ok();
}

}  // namespace

Status OndoReader::Bind(const uint8_t* manifest, size_t size, bool single_file, const uint8_t* file,
                        size_t file_size, const std::string& folder, bool verify_shards,
                        std::unique_ptr<GgufFile>* out, std::vector<OndoShardCheck>* checks) {
  size_t body = 0;
  ONDO_RETURN_IF_ERROR(CheckHeader(manifest, size, &body));
  std::unique_ptr<GgufFile> m;
  ONDO_RETURN_IF_ERROR(GgufFile::ParseMetadata(manifest + kOndoManifestHeaderBytes, body, &m));
  if (m->alignment() != kOndoTensorAlign) return Corrupt("manifest alignment {} (an .ondo model has {})", m->alignment(), kOndoTensorAlign);
  std::vector<uint64_t> offs, bytes, crcs, tshard;
  ONDO_RETURN_IF_ERROR(ReadU64Array(*m, "ondo.shards.offset", &offs));
  ONDO_RETURN_IF_ERROR(ReadU64Array(*m, "ondo.shards.bytes", &bytes));
  ONDO_RETURN_IF_ERROR(ReadU64Array(*m, "ondo.shards.crc32", &crcs));
  ONDO_RETURN_IF_ERROR(ReadU64Array(*m, "ondo.tensors.shard", &tshard));
  const size_t n = offs.size();
  if (n == 0 || n > kMaxShards) return Corrupt("manifest lists {} shards", n);
  if (bytes.size() != n || crcs.size() != n) return Corrupt("manifest shard arrays differ in length ({}, {}, {})", n, bytes.size(), crcs.size());
  if (tshard.size() != m->tensors().size()) return Corrupt("manifest has {} tensors but {} shard indices", m->tensors().size(), tshard.size());

  // Shard bytes, each checked against its file.
  std::vector<const uint8_t*> base(n, nullptr);
  for (size_t s = 0; s < n; ++s) {
    if (single_file) {
      if (offs[s] % kOndoShardAlign != 0) return Corrupt("shard {} at offset {} is not {}-byte aligned", s, offs[s], kOndoShardAlign);
      if (offs[s] < kOndoManifestHeaderBytes + body) return Corrupt("shard {} at offset {} overlaps the manifest", s, offs[s]);
      if (offs[s] > file_size || bytes[s] > file_size - offs[s]) {
        return Corrupt("shard {} ({} bytes at offset {}) runs past the end of the file ({} bytes): truncated?", s, bytes[s], offs[s], file_size);
      }
      base[s] = file + offs[s];
    } else {
      if (offs[s] != 0) return Corrupt("shard {} of a folder has offset {} (must be 0)", s, offs[s]);
      const std::string path = (fs::path(folder) / ShardFileName(s)).string();
      std::unique_ptr<platform::MappedFile> map;
      Status st = platform::MappedFile::Open(path, &map);
      if (!st.ok()) return Status(st.code(), fmt::format("shard {}: {}", s, st.message()));
      if (map->size() != bytes[s]) return Corrupt("shard '{}' is {} bytes, the manifest says {}: truncated or replaced?", path, map->size(), bytes[s]);
      base[s] = map->data();
      m->extra_mappings_.push_back(std::move(map));
    }
    if (crcs[s] > 0xFFFFFFFFu) return Corrupt("shard {} CRC-32 {} does not fit 32 bits", s, crcs[s]);
  }
  // Tensors inside their shards.
  for (size_t i = 0; i < m->tensors_.size(); ++i) {
    GgufTensorInfo& t = m->tensors_[i];
    if (tshard[i] >= n) return Corrupt("tensor '{}' is in shard {}, but there are {}", t.name, tshard[i], n);
    const uint64_t sb = bytes[tshard[i]];
    if (t.offset > sb || t.bytes > sb - t.offset) {
      return Corrupt("tensor '{}' ({} bytes at offset {}) ends past its shard {} ({} bytes)", t.name, t.bytes, t.offset, tshard[i], sb);
    }
    t.data = base[tshard[i]] + t.offset;
  }
  if (verify_shards || checks != nullptr) {
    Status first = Status::Ok();
    for (size_t s = 0; s < n; ++s) {
      OndoShardCheck c;
      c.where = single_file ? fmt::format("shard {} (offset {})", s, offs[s]) : ShardFileName(s);
      c.bytes = bytes[s];
      c.crc_expected = static_cast<uint32_t>(crcs[s]);
      c.crc_actual = Crc32(base[s], static_cast<size_t>(bytes[s]));
      if (!c.ok() && first.ok()) {
        first = Corrupt("{}: CRC-32 mismatch (stored {:08x}, computed {:08x}): the shard is damaged", c.where, c.crc_expected, c.crc_actual);
      }
      if (checks != nullptr) checks->push_back(c);
    }
    ONDO_RETURN_IF_ERROR(first);
  }
  *out = std::move(m);
  return Status::Ok();
}

namespace {

Status OpenImpl(const std::string& path, bool verify_shards, std::unique_ptr<GgufFile>* out,
                std::vector<OndoShardCheck>* checks) {
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  const std::string manifest_path = folder ? (fs::path(path) / kOndoManifestName).string() : path;
  std::unique_ptr<platform::MappedFile> map;
  ONDO_RETURN_IF_ERROR(platform::MappedFile::Open(manifest_path, &map));
  std::unique_ptr<GgufFile> f;
  Status s = OndoReader::Bind(map->data(), map->size(), !folder, map->data(), map->size(), path,
                              verify_shards, &f, checks);
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  OndoReader::Adopt(*f, std::move(map));
  *out = std::move(f);
  return Status::Ok();
}

}  // namespace

bool IsOndoModel(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(fs::path(path) / kOndoManifestName, ec);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, kMagic, 4) == 0;
  std::fclose(f);
  return ok;
}

Status OpenOndo(const std::string& path, bool verify_shards, std::unique_ptr<GgufFile>* out) {
  return OpenImpl(path, verify_shards, out, nullptr);
}

Status ParseOndo(const uint8_t* data, size_t size, bool verify_shards, std::unique_ptr<GgufFile>* out) {
  return OndoReader::Bind(data, size, true, data, size, "", verify_shards, out, nullptr);
}

Status VerifyOndo(const std::string& path, std::vector<OndoShardCheck>* shards) {
  std::unique_ptr<GgufFile> f;
  return OpenImpl(path, true, &f, shards);
}

Status OpenModelFile(const std::string& path, std::unique_ptr<GgufFile>* out) {
  if (IsOndoModel(path)) return OpenOndo(path, false, out);
  return GgufFile::Open(path, out);
}

}  // namespace ondo::runtime
