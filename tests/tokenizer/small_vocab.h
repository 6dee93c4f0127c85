// Small vocabularies built in code, for unit tests and the tokenizer fuzz target.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer::testing {

// SPM (llama.cpp "llama" model): <unk> <s> </s> <|user|>, 256 byte tokens, then pieces with
// scores (higher merges first).
inline VocabSpec SmallSpmSpec() {
  VocabSpec spec;
  spec.kind = VocabKind::kSpm;
  auto add = [&](const std::string& text, float score, TokenType type) {
    spec.tokens.push_back(text);
    spec.scores.push_back(score);
    spec.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  add("<|user|>", 0, TokenType::kUserDefined);
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenType::kByte);
  }
  // id 260...
  const char* pieces[] = {"\xe2\x96\x81", "h", "e", "l", "o", "w", "r", "d", "\xea\xb0\x80",
                          "\xe2\x96\x81h", "he", "ll", "llo", "\xe2\x96\x81he", "\xe2\x96\x81hello",
                          "wor", "or", "\xe2\x96\x81w", "\xe2\x96\x81wor", "\xe2\x96\x81world",
                          "\xe2\x96\x81\xea\xb0\x80"};
  float score = -1;
  for (const char* p : pieces) add(p, score--, TokenType::kNormal);
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.unk_id = 0;
  spec.add_bos = true;
  spec.add_space_prefix = true;
  return spec;
}

// Raw bytes -> their byte-level BPE symbols (GPT-2 mapping).
inline std::string ToByteLevel(const std::string& raw) {
  std::string out;
  for (char c : raw) unicode::AppendUtf8(unicode::ByteToCodepoint(static_cast<uint8_t>(c)), &out);
  return out;
}

// Byte-level BPE with the GPT-2 pre-tokenizer: the 256 byte symbols (id = byte), a few merges
// (ids 256...), and <|endoftext|> as a control token (last id).
inline VocabSpec SmallBpeSpec() {
  VocabSpec spec;
  spec.kind = VocabKind::kBpe;
  spec.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(ToByteLevel(std::string(1, static_cast<char>(b))));
  spec.token_types.assign(256, static_cast<int32_t>(TokenType::kNormal));
  const std::pair<const char*, const char*> merges[] = {
      {" ", "t"}, {"t", "h"}, {" t", "h"}, {"h", "e"}, {" th", "e"}, {"l", "l"},
      {"ll", "o"}, {"e", "llo"}, {"h", "ello"}, {"\xea", "\xb0"}, {"\xea\xb0", "\x80"}};
  for (const auto& [a, b] : merges) {
    spec.tokens.push_back(ToByteLevel(std::string(a) + b));
    spec.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));
    spec.merges.push_back(ToByteLevel(a) + " " + ToByteLevel(b));
  }
  spec.tokens.push_back("<|endoftext|>");
  spec.token_types.push_back(static_cast<int32_t>(TokenType::kControl));
  spec.bos_id = spec.eos_id = static_cast<int32_t>(spec.tokens.size()) - 1;
  spec.add_space_prefix = false;
  return spec;
}

}  // namespace ondo::tokenizer::testing
