// libFuzzer target: arbitrary bytes through the GGUF reader, then the model loader
// (hyper-parameters, tensor shapes, tokenizer from metadata), then, for a model small enough,
// a two-token forward pass: every weight type's kernels on whatever bits the blocks hold
// (f16 scales that are NaN or Inf included). Must never crash, hang or allocate beyond what
// the input justifies.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/gguf.h"
#include "runtime/model.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ondo::runtime;
  std::unique_ptr<GgufFile> gguf;
  if (!GgufFile::Parse(data, size, &gguf).ok()) return 0;
  for (const auto& kv : gguf->kvs()) {
    std::string s = GgufFile::ValueToString(kv.value, 4);
    if (kv.value.type == GgufType::kArray && kv.value.elem_type == GgufType::kString) {
      std::vector<std::string_view> strings;
      (void)gguf->GetStringArray(kv.key, &strings);
    }
  }
  for (const auto& t : gguf->tensors()) {
    // Touch first and last byte: must lie inside the buffer.
    if (t.bytes > 0) {
      volatile uint8_t a = t.data[0];
      volatile uint8_t b = t.data[t.bytes - 1];
      (void)a;
      (void)b;
    }
  }
  std::unique_ptr<Model> model;
  if (!Model::FromGguf(std::move(gguf), &model).ok()) return 0;
  // The forward pass costs about one multiply-add per weight byte and token; bound it so
  // each input runs in milliseconds (the seed models are a few hundred kB).
  const ModelConfig& c = model->config();
  if (model->weight_bytes() > (4u << 20) || c.n_layer > 8 || c.n_vocab > 70000) return 0;
  SessionOptions so;
  so.n_ctx = 4;
  so.n_threads = 1;
  std::unique_ptr<Session> session;
  if (!Session::Create(*model, so, &session).ok()) return 0;
  const int32_t ids[2] = {0, c.n_vocab - 1};
  (void)session->Prefill(std::span<const int32_t>(ids, 2));
  return 0;
}
