// Tokenizer: SPM and byte-level BPE encoders that give exactly the ids Hugging Face
// tokenizers / llama.cpp give, built from GGUF metadata (via VocabSpec) or tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"

namespace ondo::tokenizer {

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class VocabKind {
  kSpm,  // GGUF tokenizer.ggml.model == "llama": SentencePiece (scores, byte fallback, ▁)
  kBpe,  // GGUF "gpt2": byte-level BPE with a family pre-tokenizer
};

// Everything needed to build a tokenizer, independent of where it came from.
// runtime/ fills it from GGUF metadata; FromHfJson fills it from tokenizer.json.
struct VocabSpec {
  VocabKind kind = VocabKind::kSpm;
  std::string pre = "default";          // tokenizer.ggml.pre: "llama-bpe", "qwen2", "gpt-2", ...
  std::vector<std::string> tokens;      // token text as stored (▁ for SPM, byte-level for BPE)
  std::vector<float> scores;            // empty, or one per token
  std::vector<int32_t> token_types;     // empty, or one per token (TokenType values)
  std::vector<std::string> merges;      // BPE: "left right", rank = index
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;         // SPM: prepend ▁ to the text (tokenizer.ggml.add_space_prefix)
  bool normalize_nfc = false;           // tokenizer.json normalizer NFC (Qwen)
  bool ignore_merges = false;           // tokenizer.json model.ignore_merges (Llama 3)
};

struct EncodeOptions {
  bool add_special = false;    // add BOS/EOS as the vocabulary says (add_bos/add_eos)
  bool parse_special = false;  // control/user-defined token text in the input becomes its id
};

class Tokenizer {
 public:
  static Status Create(VocabSpec spec, std::unique_ptr<Tokenizer>* out);
  // Reads a Hugging Face tokenizer.json (and tokenizer_config.json beside it when present,
  // for add_bos/eos and chat specials).
  static Status FromHfJsonFile(const std::string& path, std::unique_ptr<Tokenizer>* out);
  static Status FromHfJsonText(std::string_view json, std::unique_ptr<Tokenizer>* out);
  virtual ~Tokenizer() = default;

  // Encodes UTF-8 text and appends ids. Invalid UTF-8 is an InvalidArgument error.
  virtual Status Encode(std::string_view text, const EncodeOptions& options,
                        std::vector<int32_t>* ids) const = 0;

  // The bytes token `id` stands for when decoding (byte tokens -> their byte, ▁ -> space,
  // byte-level BPE symbols -> bytes; control tokens -> empty). Precomputed: no allocation.
  // REQUIRES: 0 <= id < n_vocab().
  virtual std::string_view Piece(int32_t id) const = 0;
  // The token's text as stored in the vocabulary.
  virtual std::string_view TokenText(int32_t id) const = 0;
  virtual TokenType GetTokenType(int32_t id) const = 0;
  // Finds an exact token text (e.g. "<|im_end|>"); -1 if absent.
  virtual int32_t FindToken(std::string_view text) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual const VocabSpec& spec() const = 0;
  // End-of-generation: eos, eot, eom and other tokens the vocabulary marks as such.
  virtual bool IsEog(int32_t id) const = 0;
};

// Streaming detokenizer: feeds token ids, emits only complete UTF-8 characters.
// Push never allocates once `out` has capacity; invalid sequences become U+FFFD.
class StreamDecoder {
 public:
  // strip_leading_space: drop the space an SPM tokenizer put in front of the first piece.
  StreamDecoder(const Tokenizer& tok, bool strip_leading_space);
  // Appends the complete characters now available to *out.
  void Push(int32_t id, std::string* out);
  // Appends what is left (an incomplete tail becomes U+FFFD).
  void Flush(std::string* out);
  void Reset();

 private:
  const Tokenizer& tok_;
  bool strip_leading_space_;
  bool at_start_ = true;
  char pending_[4] = {0, 0, 0, 0};
  int n_pending_ = 0;
};

}  // namespace ondo::tokenizer
