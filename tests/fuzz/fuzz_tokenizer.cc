// libFuzzer target for tokenizer/: arbitrary bytes as a tokenizer.json (and, when it loads,
// as text to encode with it), and as text for small SPM and byte-level BPE vocabularies built
// in code. Must never crash, hang or over-allocate; errors are fine.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tokenizer/small_vocab.h"
#include "tokenizer/tokenizer.h"

namespace {

using ondo::tokenizer::EncodeOptions;
using ondo::tokenizer::StreamDecoder;
using ondo::tokenizer::Tokenizer;

void Exercise(const Tokenizer& tok, std::string_view text) {
  for (int mode = 0; mode < 2; ++mode) {
    EncodeOptions opts;
    opts.add_special = mode == 1;
    opts.parse_special = mode == 1;
    std::vector<int32_t> ids;
    if (!tok.Encode(text, opts, &ids).ok()) continue;
    for (int32_t id : ids) {
      if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
    }
    std::string decoded;
    tok.Decode(ids.data(), ids.size(), mode == 1, &decoded);
    StreamDecoder dec(tok, mode == 1);
    std::string streamed;
    for (int32_t id : ids) dec.Push(id, &streamed);
    dec.Flush(&streamed);
  }
}

const Tokenizer& SmallSpm() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    std::unique_ptr<Tokenizer> t;
    if (!Tokenizer::Create(ondo::tokenizer::testing::SmallSpmSpec(), &t).ok()) __builtin_trap();
    return t;
  }();
  return *tok;
}

const Tokenizer& SmallBpe() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    std::unique_ptr<Tokenizer> t;
    if (!Tokenizer::Create(ondo::tokenizer::testing::SmallBpeSpec(), &t).ok()) __builtin_trap();
    return t;
  }();
  return *tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Exercise(SmallSpm(), input);
  Exercise(SmallBpe(), input);
  std::unique_ptr<Tokenizer> tok;
  if (Tokenizer::FromHfJsonText(input, &tok).ok()) {
    Exercise(*tok, input);
    // The JSON's own strings are likely to hit its added tokens and merges.
    Exercise(*tok, "Hello, world! 안녕하세요 123 \n\n  <|im_end|>");
  }
  return 0;
}
