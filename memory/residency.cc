// Weight residency plan and the layer streamer.
#include "memory/residency.h"

#include <algorithm>
#include <cstdlib>

namespace ondo::memory {

ResidencyPlan PlanResidency(std::span<const uint64_t> layer_bytes, std::span<const uint64_t> layer_read_bytes,
                            uint64_t fixed_bytes, uint64_t available) {
  const int n = static_cast<int>(layer_bytes.size());
  ResidencyPlan p;
  p.n_layer = n;
  // From all resident downwards: the first count that fits is the largest.
  for (int k = n; k >= 0; --k) {
    uint64_t resident = fixed_bytes;
    for (int i = 0; i < k; ++i) resident += layer_bytes[static_cast<size_t>(i)];
    uint64_t largest = 0, streamed = 0;
    for (int i = k; i < n; ++i) {
      largest = std::max(largest, layer_read_bytes[static_cast<size_t>(i)]);
      streamed += layer_read_bytes[static_cast<size_t>(i)];
    }
    p.n_resident = k;
    p.resident_bytes = resident;
    p.buffer_bytes = 2 * largest;
    p.streamed_bytes = streamed;
    if (p.total() <= available) break;
  }
  return p;
}

void WeightStreamer::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

Status WeightStreamer::Create(std::vector<std::unique_ptr<platform::FileReader>> files,
                              std::vector<StreamedLayer> layers, std::unique_ptr<WeightStreamer>* out) {
  constexpr uint64_t kAlign = platform::FileReader::kDirectAlign;
  if (layers.empty()) return InvalidArgument("no layers to stream");
  uint64_t slot = kAlign;
  for (size_t i = 0; i < layers.size(); ++i) {
    for (const StreamExtent& e : layers[i].extents) {
      if (e.file < 0 || static_cast<size_t>(e.file) >= files.size() || files[static_cast<size_t>(e.file)] == nullptr) {
        return InvalidArgument("streamed layer {} reads file {} of {}", i, e.file, files.size());
      }
      if (e.offset % kAlign != 0 || e.bytes % kAlign != 0 || e.buffer_offset % kAlign != 0 || e.min_bytes > e.bytes ||
          e.buffer_offset + e.bytes > layers[i].buffer_bytes) {
        return InvalidArgument("streamed layer {} has an unaligned or overlapping extent ({} bytes at {} to {})", i,
                               e.bytes, e.offset, e.buffer_offset);
      }
    }
    slot = std::max(slot, (layers[i].buffer_bytes + kAlign - 1) / kAlign * kAlign);
  }
  std::unique_ptr<WeightStreamer> s(new WeightStreamer());
  s->buffers_.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlign, 2 * slot)));
  if (s->buffers_ == nullptr) return OutOfMemory("cannot allocate the weight stream buffers (2 x {} bytes)", slot);
  s->slot_bytes_ = slot;
  s->files_ = std::move(files);
  s->layers_ = std::move(layers);
  s->reader_ = std::thread([p = s.get()] { p->ReaderLoop(); });
  *out = std::move(s);
  return Status::Ok();
}

WeightStreamer::~WeightStreamer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
}

bool WeightStreamer::direct() const {
  for (const auto& f : files_) {
    if (f != nullptr && !f->direct()) return false;
  }
  return true;
}

void WeightStreamer::ReaderLoop() {
  const uint64_t n = layers_.size();
  for (uint64_t seq = 0;; ++seq) {
    {
      // The slot of read `seq` last held read seq - 2, which must have been released.
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || seq < consumed_ + 2; });
      if (stop_) return;
    }
    const StreamedLayer& layer = layers_[seq % n];
    uint8_t* dst = buffers_.get() + (seq % 2) * slot_bytes_;
    Status s;
    for (const StreamExtent& e : layer.extents) {
      s = files_[static_cast<size_t>(e.file)]->ReadAt(e.offset, e.bytes, e.min_bytes, dst + e.buffer_offset);
      if (!s.ok()) break;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      slot_status_[seq % 2] = std::move(s);
      produced_ = seq + 1;
    }
    cv_.notify_all();
  }
}

Status WeightStreamer::Acquire(int layer, const uint8_t** data) {
  std::unique_lock<std::mutex> l(mu_);
  if (acquired_ || layer != static_cast<int>(consumed_ % layers_.size())) {
    return MakeStatus(StatusCode::kInternal, "streamed layer {} requested out of order (next is {}{})", layer,
                      consumed_ % layers_.size(), acquired_ ? ", the previous one not released" : "");
  }
  cv_.wait(l, [&] { return produced_ > consumed_; });
  acquired_ = true;
  *data = buffers_.get() + (consumed_ % 2) * slot_bytes_;
  return slot_status_[consumed_ % 2];
}

void WeightStreamer::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!acquired_) return;
    acquired_ = false;
    ++consumed_;
  }
  cv_.notify_all();
}

}  // namespace ondo::memory
