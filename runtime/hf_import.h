// Hugging Face model folders (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)
// opened as a GgufFile holding what llama.cpp's convert_hf_to_gguf.py writes for them: the
// same metadata keys, tokenizer.ggml.* vocabulary, tensor names and (for llama) the q/k row
// permutation, so every consumer of a GgufFile (Model::FromGguf, WriteOndo, inspect) takes a
// folder unchanged.
//
// Supported: architectures LlamaForCausalLM ("llama") and Qwen2ForCausalLM ("qwen2");
// safetensors in one model.safetensors or sharded with model.safetensors.index.json; tensor
// dtypes F32, F16 and BF16 (kept as they are: 2-D tensors are used in place from the mappings;
// 1-D tensors become F32 as llama.cpp writes them, llama's q/k weights are permuted copies);
// tokenizer.json byte-level BPE (tokenizer.ggml.model "gpt2", pre "llama-bpe", "qwen2" or
// "gpt-2" chosen from its pre-tokenizer) or SentencePiece-style BPE with byte fallback
// ("llama", scores from the merge ranks).
//
// Refused with a Status naming the cause: any other architecture; config keys that change the
// math and are not modelled (rope_scaling other than linear, llama3 and yarn, sliding window in use, attention/mlp bias on llama,
// an activation other than silu, quantization_config, ...); a tensor name with no GGUF
// counterpart; a tensor dtype other than F32/F16/BF16 (Unsupported). Every length and offset of
// a safetensors header is checked against its file (Corrupt when truncated or inconsistent).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/status.h"
#include "runtime/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

// True when `path` is a folder holding a config.json (a Hugging Face model folder; whether
// it can be opened is OpenHfModel's to say).
bool IsHfModelFolder(const std::string& path);

// Opens the model in `folder` as an in-memory GgufFile (metadata built here, tensors pointing
// into the safetensors mappings, which it owns, or into converted copies it owns).
Status OpenHfModel(const std::string& folder, std::unique_ptr<GgufFile>* out);

// The SentencePiece form (tokenizer.ggml.model "llama") of a tokenizer.json BPE over characters
// (VocabKind::kCharBpe), as OpenHfModel writes it: *scores gets minus the rank of the first
// merge making each token (the converted merges are ordered by the merged piece's score, so
// this orders the bigrams as the merges do), -1e9 for a normal token no merge makes and 0 for
// the others; spec.unk_id is typed unknown in *types. tokens and *types are the vocabulary (the
// first n_tok are spec's, which may have been moved out of it; any after them are padding),
// spec gives the merges and unk_id.
void CharBpeSpmScores(const tokenizer::VocabSpec& spec, const std::vector<std::string>& tokens,
                      size_t n_tok, std::vector<int32_t>* types, std::vector<float>* scores);

}  // namespace ondo::runtime
