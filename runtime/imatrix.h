// Importance matrix: per input column of every matrix, the mean of x^2 over the activations
// it multiplied on a calibration text (llama.cpp's llama-imatrix; what importance-weighted
// quantizers minimize their error against). Files are llama.cpp's legacy binary format
// (`.imatrix` / `.dat`), read and written:
//   i32 n_entries
//   n_entries x { i32 name_len, name bytes, i32 ncall, i32 nval, f32 values[nval] }
//   i32 last_call, then optionally i32 len + the calibration file's name
// where values[j] = mean(x_j^2) * ncall and ncall is the number of calls (chunks) seen.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/status.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace ondo::runtime {

struct ImatrixEntry {
  std::vector<double> sum2;  // sum over activations of x_j^2
  int64_t count = 0;         // activations (token rows) summed
  int32_t ncall = 0;         // calls (batches) that contributed
  // mean(x_j^2)
  std::vector<float> Means() const;
};

class Imatrix {
 public:
  // Reads a legacy llama.cpp imatrix file (every length and count checked).
  static Status Load(const std::string& path, Imatrix* out);
  // Writes the legacy format (entries sorted by name), `dataset` as the trailing file name.
  Status Save(const std::string& path, const std::string& dataset) const;

  const std::map<std::string, ImatrixEntry>& entries() const { return entries_; }
  const ImatrixEntry* Find(const std::string& name) const;
  int32_t chunks() const { return chunks_; }

 private:
  friend class ImatrixCollector;
  std::map<std::string, ImatrixEntry> entries_;
  int32_t chunks_ = 0;
};

// Accumulates an Imatrix from a session's matrix products (Session::set_observer), as
// llama-imatrix does: the matrices of the layers (blk.*), and the output head only when asked
// (never a tied head, which is token_embd).
class ImatrixCollector : public MatMulObserver {
 public:
  ImatrixCollector(const Model& model, bool include_output);
  void Observe(const WeightView& w, const float* in, int64_t in_stride, int n_tokens) override;
  // Counts one chunk of the calibration text (the file's last_call).
  void EndChunk() { ++imatrix_.chunks_; }
  const Imatrix& imatrix() const { return imatrix_; }

 private:
  std::unordered_map<const WeightView*, ImatrixEntry*> slots_;
  Imatrix imatrix_;
};

}  // namespace ondo::runtime
