// VocabSpecFromGguf: the tokenizer.ggml.* metadata of a GGUF file -> tokenizer::VocabSpec, with
// llama.cpp's defaults and per-family rules (llama-vocab.cpp load()).
#pragma once

#include "platform/status.h"
#include "runtime/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

// Supports tokenizer.ggml.model "llama" (SPM) and "gpt2" (byte-level BPE). Differences from
// llama.cpp, on purpose: the "qwen2" pre-tokenizer family also gets Qwen's NFC normalizer (as
// Hugging Face does), so NFD input gives the same ids as the original tokenizer; and a "llama"
// vocabulary with tokenizer.ondo.pre_tokenizer ("korean_morph" or "whitespace") and
// tokenizer.ondo.merges (i32 pairs of token ids, in rank order) is a tokenizer trained by
// `ondo tokenizer train` (its leading control tokens the special ones, then 256 byte tokens),
// encoded exactly as its tokenizer.json (examples/demo/train_demo.py writes these keys).
Status VocabSpecFromGguf(const GgufFile& gguf, tokenizer::VocabSpec* out);

}  // namespace ondo::runtime
