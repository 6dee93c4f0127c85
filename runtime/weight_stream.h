// Where a model's layers lie in its files, for streaming the layers that do not fit in a
// session's budget (memory/residency.h), and the layer views rebased onto a stream buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "memory/residency.h"
#include "platform/status.h"
#include "runtime/model.h"

namespace ondo::runtime {

struct LayerStreamLayout {
  std::vector<const platform::MappedFile*> files;  // StreamExtent::file indexes these
  uint64_t fixed_bytes = 0;                        // tensors outside the layers, always resident
  std::vector<uint64_t> layer_bytes;               // per layer: its tensors' bytes as mapped
  std::vector<uint64_t> layer_read_bytes;          // per layer: bytes one streamed read takes
  std::vector<memory::StreamedLayer> layers;       // per layer: the reads
  // Per layer and view (kLayerWeightViews order): the view's offset in the layer's buffer,
  // or -1 for a view the layer does not have.
  std::vector<int64_t> view_offsets;
};

// The tensors named blk.N.* are layer N's; each layer's tensors, sorted by file offset, are
// read as whole 4 KiB pages, and pages closer than 64 KiB merged into one read. Unsupported
// when some layer tensor is not in a mapped file (a Hugging Face folder converted in memory, a
// parsed buffer): such a model cannot be streamed.
Status BuildLayerStreamLayout(const Model& model, LayerStreamLayout* out);

// Points `out`'s views (a copy of the model's layer `layer`) into `data`, the stream buffer
// holding that layer. Allocates nothing.
void RebaseLayer(const LayerStreamLayout& layout, const Model& model, int layer, const uint8_t* data,
                 LayerWeights* out);

}  // namespace ondo::runtime
