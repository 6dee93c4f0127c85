// Layer layout for weight streaming.
#include "runtime/weight_stream.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace ondo::runtime {
namespace {

constexpr uint64_t kPage = platform::FileReader::kDirectAlign;
constexpr uint64_t kMergeGap = 64 * 1024;  // read a gap this small rather than issue a second read

// Layer index of "blk.N.*", or -1.
int LayerOf(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int n = -1;
  const char* b = name.data() + 4;
  const char* e = name.data() + name.size();
  auto [p, ec] = std::from_chars(b, e, n);
  if (ec != std::errc() || p == b || p == e || *p != '.') return -1;
  return n;
}

// The file holding [p, p + bytes), or -1.
int FileOf(const std::vector<const platform::MappedFile*>& files, const uint8_t* p, uint64_t bytes) {
  for (size_t i = 0; i < files.size(); ++i) {
    const uint8_t* b = files[i]->data();
    if (b != nullptr && p >= b && p + bytes <= b + files[i]->size()) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Status BuildLayerStreamLayout(const Model& model, LayerStreamLayout* out) {
  const int n_layer = model.config().n_layer;
  LayerStreamLayout l;
  l.files = model.gguf().mapped_files();
  l.layer_bytes.assign(static_cast<size_t>(n_layer), 0);
  l.layer_read_bytes.assign(static_cast<size_t>(n_layer), 0);
  l.layers.resize(static_cast<size_t>(n_layer));
  l.view_offsets.assign(static_cast<size_t>(n_layer) * kNumLayerWeightViews, -1);
  struct Piece {
    int file;
    uint64_t offset, bytes;
  };
  std::vector<std::vector<Piece>> pieces(static_cast<size_t>(n_layer));
  for (const GgufTensorInfo& t : model.gguf().tensors()) {
    const int layer = LayerOf(t.name);
    if (layer < 0 || layer >= n_layer) {
      l.fixed_bytes += t.bytes;
      continue;
    }
    const int f = t.data == nullptr ? -1 : FileOf(l.files, t.data, t.bytes);
    if (f < 0) return Unsupported("tensor '{}' is not in a mapped file, so its layer cannot be streamed", t.name);
    l.layer_bytes[static_cast<size_t>(layer)] += t.bytes;
    pieces[static_cast<size_t>(layer)].push_back({f, static_cast<uint64_t>(t.data - l.files[static_cast<size_t>(f)]->data()), t.bytes});
  }
  for (int il = 0; il < n_layer; ++il) {
    std::vector<Piece>& ps = pieces[static_cast<size_t>(il)];
    std::sort(ps.begin(), ps.end(), [](const Piece& a, const Piece& b) {
      return a.file != b.file ? a.file < b.file : a.offset < b.offset;
    });
    memory::StreamedLayer& sl = l.layers[static_cast<size_t>(il)];
    for (const Piece& p : ps) {
      const uint64_t begin = p.offset / kPage * kPage;
      const uint64_t end = (p.offset + p.bytes + kPage - 1) / kPage * kPage;
      memory::StreamExtent* last = sl.extents.empty() ? nullptr : &sl.extents.back();
      if (last != nullptr && last->file == p.file && begin <= last->offset + last->bytes + kMergeGap) {
        const uint64_t new_end = std::max(end, last->offset + last->bytes);
        sl.buffer_bytes += new_end - (last->offset + last->bytes);
        last->bytes = new_end - last->offset;
        last->min_bytes = std::max(last->min_bytes, p.offset + p.bytes - last->offset);
      } else {
        sl.extents.push_back({p.file, begin, end - begin, p.offset + p.bytes - begin, sl.buffer_bytes});
        sl.buffer_bytes += end - begin;
      }
    }
    l.layer_read_bytes[static_cast<size_t>(il)] = sl.buffer_bytes;
    // Where each view of the layer lands in the buffer.
    const LayerWeights& w = model.layer(il);
    for (size_t v = 0; v < kNumLayerWeightViews; ++v) {
      const WeightView& view = w.*kLayerWeightViews[v];
      if (!view.present()) continue;
      const int f = FileOf(l.files, view.data, 1);
      const uint64_t off = f < 0 ? 0 : static_cast<uint64_t>(view.data - l.files[static_cast<size_t>(f)]->data());
      const memory::StreamExtent* hit = nullptr;
      for (const memory::StreamExtent& e : sl.extents) {
        if (e.file == f && off >= e.offset && off < e.offset + e.min_bytes) hit = &e;
      }
      if (hit == nullptr) return MakeStatus(StatusCode::kInternal, "a weight of layer {} is not among its tensors", il);
      l.view_offsets[static_cast<size_t>(il) * kNumLayerWeightViews + v] =
          static_cast<int64_t>(hit->buffer_offset + (off - hit->offset));
    }
  }
  *out = std::move(l);
  return Status::Ok();
}

void RebaseLayer(const LayerStreamLayout& layout, const Model& model, int layer, const uint8_t* data,
                 LayerWeights* out) {
  *out = model.layer(layer);
  const int64_t* offsets = layout.view_offsets.data() + static_cast<size_t>(layer) * kNumLayerWeightViews;
  for (size_t v = 0; v < kNumLayerWeightViews; ++v) {
    if (offsets[v] >= 0) ((*out).*kLayerWeightViews[v]).data = data + offsets[v];
  }
}

}  // namespace ondo::runtime
