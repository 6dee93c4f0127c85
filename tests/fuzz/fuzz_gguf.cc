// libFuzzer target: arbitrary bytes through the GGUF reader, then the model loader
// (hyper-parameters, tensor shapes, tokenizer from metadata), then, for a model small enough,
// a two-token forward pass: every weight type's kernels on whatever bits the blocks hold
// (f16 scales that are NaN or Inf included). Must never crash, hang or allocate beyond what
// the input justifies.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/gguf.h"
#include "tests/fuzz/fuzz_model.h"

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
  ondo::fuzz::ExerciseModel(std::move(gguf));
  return 0;
}
