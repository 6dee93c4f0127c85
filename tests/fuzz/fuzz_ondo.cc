// libFuzzer target: arbitrary bytes as a single-file .ondo model through the manifest reader
// (header, CRC, GGUF metadata, shard and tensor bounds; shard CRCs checked on every other
// input), then what fuzz_model.h does with a model file. Must never crash, hang or allocate
// beyond what the input justifies. Seeds: tests/fuzz/corpus/ondo/ (the gguf seeds converted
// with `ondo convert --single`).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/gguf.h"
#include "runtime/ondo_format.h"
#include "tests/fuzz/fuzz_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ondo::runtime;
  std::unique_ptr<GgufFile> f;
  const bool verify = size > 0 && (data[size - 1] & 1) != 0;
  if (!ParseOndo(data, size, verify, &f).ok()) return 0;
  ondo::fuzz::ExerciseModel(std::move(f));
  return 0;
}
