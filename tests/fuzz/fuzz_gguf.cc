// libFuzzer target: arbitrary bytes through the GGUF reader, then the model loader
// (hyper-parameters, tensor shapes, tokenizer from metadata). Must never crash, hang or
// allocate beyond what the input justifies.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/gguf.h"
#include "runtime/model.h"

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
  (void)Model::FromGguf(std::move(gguf), &model);
  return 0;
}
