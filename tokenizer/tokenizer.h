// Tokenizer: SPM and byte-level BPE encoders that give exactly the ids Hugging Face
// tokenizers / llama.cpp give, built from GGUF metadata (via VocabSpec) or tokenizer.json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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
  // tokenizer.json BPE over characters, not byte-level (Gemma 3, Llama 2 style): merges by
  // rank, ▁ for spaces (via normalizer/pre-tokenizer steps), unknown characters -> <0xXX>
  // tokens when byte_fallback, else unk.
  kCharBpe,
};

// How a pre-tokenizer split treats the matches of its pattern (Hugging Face semantics).
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

// One step of a tokenizer.json normalizer, applied in order to each text fragment.
struct NormalizerStep {
  enum class Kind { kNfc, kNfd, kReplace, kPrepend, kStrip };
  Kind kind = Kind::kNfc;
  std::string pattern;            // kReplace: what to replace (literal, or regex if pattern_is_regex)
  bool pattern_is_regex = false;
  std::string content;            // kReplace: replacement; kPrepend: prefix
  bool strip_left = false, strip_right = false;  // kStrip
};

// One step of a pre-tokenizer, applied in order to every piece produced so far.
struct PreTokenizerStep {
  enum class Kind {
    kSplit,            // split on `pattern` with `behavior` / `invert`
    kByteLevel,        // optional prefix space, optional GPT-2 regex split (use_regex)
    kDigits,           // numbers apart: runs, or each digit if individual_digits
    kPunctuation,      // punctuation (ASCII punctuation and \p{P}) with `behavior`
    kMetaspace,        // ' ' -> replacement, prepend_scheme, optional split before replacement
    kWhitespace,       // \w+|[^\w\s]+ kept, the rest removed
    kWhitespaceSplit,  // split on whitespace, removed
  };
  enum class PrependScheme { kAlways, kFirst, kNever };
  Kind kind = Kind::kSplit;
  std::string pattern;
  bool pattern_is_regex = true;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // kByteLevel
  bool use_regex = true;          // kByteLevel
  bool individual_digits = false; // kDigits
  std::string replacement = "\xe2\x96\x81";  // kMetaspace (U+2581)
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // kMetaspace
  bool split = true;              // kMetaspace
};

// A token matched in the raw text before the model runs (tokenizer.json added_tokens, or
// GGUF control / user-defined / unknown tokens).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // only matched when EncodeOptions::parse_special
  bool lstrip = false;       // absorbs whitespace on its left
  bool rstrip = false;       // absorbs whitespace on its right
  bool normalized = false;   // matched in the normalized text (hf_added_tokens only)
  bool single_word = false;  // only matched as a whole word (hf_added_tokens only)
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

  // --- Additions (tokenizer.json, and finer control for GGUF) -------------------------------
  // BPE merges as token id pairs (rank = index); used instead of `merges` when not empty
  // (tokenizer.json tokens may contain spaces, so "left right" strings are ambiguous).
  std::vector<std::pair<int32_t, int32_t>> merge_ids;
  // Tokens matched in the input before normalization / pre-tokenization. Empty: every
  // control, user-defined and unknown token of token_types, without strip flags.
  std::vector<AddedToken> added_tokens;
  // false: llama.cpp matching (tokens longest first, each split out of all remaining text,
  //        lstrip/rstrip over ASCII spaces);
  // true:  Hugging Face AddedVocabulary (leftmost-longest, `normalized` tokens matched after
  //        the normalizer, single_word, lstrip/rstrip over Unicode whitespace).
  bool hf_added_tokens = false;
  // tokenizer.json normalizer steps, applied after normalize_nfc.
  std::vector<NormalizerStep> normalizers;
  // Pre-tokenizer steps. Empty: derived from `pre` for kBpe ("none": no splitting).
  std::vector<PreTokenizerStep> pre_tokenizers;
  bool byte_fallback = false;           // kCharBpe: unknown characters -> <0xXX> tokens
  bool fuse_unk = false;                // kCharBpe: consecutive unknowns -> one unk
  int32_t sep_id = -1;
  std::vector<int32_t> eog_ids;         // more end-of-generation tokens
  // ondo's own pre-tokenizer for kCharBpe tokenizers trained by `ondo tokenizer train`
  // (tokenizer.json key "ondo": {"pre_tokenizer": ...}): "" none, "whitespace" or
  // "korean_morph" (tokenizer/morph_pretokenizer.h). When set, it replaces `normalizers` and
  // `pre_tokenizers`: spaces become the U+2581 token, a literal U+2581 in the text becomes byte
  // tokens, so decoding gives back any valid UTF-8 text exactly.
  std::string ondo_pre_tokenizer;
};

// The pre-tokenizer regexes for a GGUF tokenizer.ggml.pre value (llama.cpp's families), each
// applied as an isolated split, in order. NotFound for an unknown name.
Status PreTokenizerRegexes(std::string_view pre, std::vector<std::string>* regexes);

struct EncodeOptions {
  bool add_special = false;    // add BOS/EOS as the vocabulary says (add_bos/add_eos)
  // Control / unknown (tokenizer.json: special) token text in the input becomes its id.
  // User-defined (tokenizer.json: non-special added) tokens are matched either way, as in
  // llama.cpp and Hugging Face.
  bool parse_special = false;
};

class Tokenizer {
 public:
  static Status Create(VocabSpec spec, std::unique_ptr<Tokenizer>* out);
  // Reads a Hugging Face tokenizer.json (and tokenizer_config.json beside it when present,
  // for add_bos_token/add_eos_token and the bos/eos/unk/pad tokens). Supported: model BPE
  // (byte-level, or character BPE with byte_fallback), normalizers NFC/NFD/Replace/Prepend/
  // Strip/Sequence, pre-tokenizers Split/ByteLevel/Digits/Punctuation/Metaspace/Whitespace/
  // WhitespaceSplit/Sequence, TemplateProcessing for BOS/EOS, and the top-level "ondo" key of
  // tokenizers trained by `ondo tokenizer train` (bpe_trainer.h, VocabSpec::ondo_pre_tokenizer).
  // Anything else is Unsupported.
  static Status FromHfJsonFile(const std::string& path, std::unique_ptr<Tokenizer>* out);
  static Status FromHfJsonText(std::string_view json, std::unique_ptr<Tokenizer>* out);
  // Same, with the text of tokenizer_config.json (may be empty).
  static Status FromHfJsonText(std::string_view json, std::string_view config_json,
                               std::unique_ptr<Tokenizer>* out);
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

  // Appends the pieces of `ids` (ids out of range are skipped). strip_leading_space drops one
  // space at the start of the first non-empty piece (llama.cpp's detokenize for add_space_prefix
  // vocabularies when the ids do not start with BOS).
  void Decode(const int32_t* ids, size_t n_ids, bool strip_leading_space, std::string* out) const;
  std::string Decode(const std::vector<int32_t>& ids, bool strip_leading_space = false) const;
};

// Builds a VocabSpec from a Hugging Face tokenizer.json text and, optionally, the
// tokenizer_config.json beside it (empty string_view: none).
Status VocabSpecFromHfJson(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                           VocabSpec* out);

// Streaming detokenizer: feeds token ids, emits only complete UTF-8 characters.
// Push never allocates once `out` has capacity; invalid sequences become U+FFFD.
class StreamDecoder {
 public:
  // strip_leading_space: drop the space an SPM tokenizer put in front of the first non-empty
  // piece. Ids out of range are ignored.
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
