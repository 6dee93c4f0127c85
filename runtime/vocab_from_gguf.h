// VocabSpecFromGguf: the tokenizer.ggml.* metadata of a GGUF file -> tokenizer::VocabSpec, with
// llama.cpp's defaults and per-family rules (llama-vocab.cpp load()).
#pragma once

#include "platform/status.h"
#include "runtime/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

// Supports tokenizer.ggml.model "llama" (SPM) and "gpt2" (byte-level BPE). Differences from
// llama.cpp, on purpose: the "qwen2" pre-tokenizer family also gets Qwen's NFC normalizer (as
// Hugging Face does), so NFD input gives the same ids as the original tokenizer.
Status VocabSpecFromGguf(const GgufFile& gguf, tokenizer::VocabSpec* out);

}  // namespace ondo::runtime
