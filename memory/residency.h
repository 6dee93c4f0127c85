// Weight residency: which layers of a model stay resident in memory and which are streamed
// (DESIGN.md §5). When the weights do not fit in a session's budget, the first layers that fit
// stay mapped and resident, and the others are read, in order, into a fixed pair of buffers by
// a reader thread that runs one layer ahead of the computation: each token reads exactly the
// non-resident bytes once, in large sequential reads, and the memory used is the resident
// part plus two buffers of the largest streamed layer, whatever the model's size.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "platform/file_reader.h"
#include "platform/status.h"

namespace ondo::memory {

// How many layers stay resident. layer_bytes[i]: layer i's tensors as mapped (what residency
// costs); layer_read_bytes[i]: its bytes as streamed (whole aligned pages, what one buffer
// must hold). fixed_bytes: weights outside the layers (embeddings, output head, final norm),
// always resident. available: what the budget leaves for weights.
struct ResidencyPlan {
  int n_layer = 0;
  int n_resident = 0;             // layers 0..n_resident-1 resident; n_layer: nothing streamed
  uint64_t resident_bytes = 0;    // fixed + the resident layers
  uint64_t buffer_bytes = 0;      // both stream buffers (0 when nothing is streamed)
  uint64_t streamed_bytes = 0;    // read per forward pass (sum of the streamed layers' reads)
  bool streamed() const { return n_resident < n_layer; }
  uint64_t total() const { return resident_bytes + buffer_bytes; }
};
// The most resident layers whose total fits `available`; with none fitting (not even every
// layer streamed), n_resident = 0 and total() > available: the caller reports it.
ResidencyPlan PlanResidency(std::span<const uint64_t> layer_bytes, std::span<const uint64_t> layer_read_bytes,
                            uint64_t fixed_bytes, uint64_t available);

// One contiguous read: `bytes` (a multiple of FileReader::kDirectAlign) of file `file` at
// `offset` (aligned too) into the layer's buffer at buffer_offset (aligned); the read may
// stop at the end of the file only after `min_bytes`.
struct StreamExtent {
  int file = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint64_t min_bytes = 0;
  uint64_t buffer_offset = 0;
};
// A streamed layer: its extents, and the buffer bytes they fill.
struct StreamedLayer {
  std::vector<StreamExtent> extents;
  uint64_t buffer_bytes = 0;
};

// Reads the streamed layers cyclically (0, 1, ..., n-1, 0, 1, ...) into two buffers: layer
// reads alternate between them, and a buffer is refilled only after the computation has
// released it. The computation acquires the layers in the same cyclic order. The reader starts
// at Create, so the first two layers are read before the first token needs them. Acquire and
// Release allocate nothing; the reader thread allocates nothing while it reads (a Status on a
// read error excepted).
class WeightStreamer {
 public:
  static Status Create(std::vector<std::unique_ptr<platform::FileReader>> files, std::vector<StreamedLayer> layers,
                       std::unique_ptr<WeightStreamer>* out);
  ~WeightStreamer();
  WeightStreamer(const WeightStreamer&) = delete;
  WeightStreamer& operator=(const WeightStreamer&) = delete;

  int n_layers() const { return static_cast<int>(layers_.size()); }
  // Index of the layer the next Acquire returns.
  int next_layer() const { return static_cast<int>(consumed_ % layers_.size()); }
  // Waits until the next layer of the cycle is in a buffer and returns its bytes in *data
  // (laid out as its extents' buffer_offsets say). `layer` must be next_layer() (Internal
  // otherwise). Returns the read's error, if it failed; Release must follow either way.
  Status Acquire(int layer, const uint8_t** data);
  // Gives the acquired layer's buffer back to the reader.
  void Release();
  // Both buffers, allocated at Create.
  uint64_t buffer_bytes() const { return 2 * slot_bytes_; }
  bool direct() const;

 private:
  WeightStreamer() = default;
  void ReaderLoop();
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };

  std::vector<std::unique_ptr<platform::FileReader>> files_;
  std::vector<StreamedLayer> layers_;
  uint64_t slot_bytes_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> buffers_;  // two slots of slot_bytes_
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t consumed_ = 0;  // reads released by the computation (guarded by mu_)
  uint64_t produced_ = 0;  // reads finished by the reader (guarded by mu_)
  bool acquired_ = false;
  bool stop_ = false;
  Status slot_status_[2];  // the result of the read in each slot (guarded by mu_)
  std::thread reader_;
};

}  // namespace ondo::memory
