// BPE vocabulary training for `ondo tokenizer train`: plain (whitespace pieces) or
// morpheme-aware (pieces further cut at Korean morpheme ends, morph_pretokenizer.h), with a
// SentencePiece-style U+2581 for spaces, byte fallback (<0x00>..<0xFF>) and, by default, all
// 11,172 Hangul syllables and the compatibility jamo in the base alphabet. The result is
// written as a Hugging Face tokenizer.json that ondo's loader reads back (Tokenizer::
// FromHfJsonFile) and Hugging Face loads too (without the morpheme cuts).
//
// Algorithm: pieces are counted once; each distinct piece is a word of symbols; pair counts are
// kept incrementally (only the words that contain the merged pair are rewritten) and the best
// pair comes from a max-heap with lazy invalidation. Merges never cross a piece boundary, so
// never a space or a morpheme cut. Deterministic: the best pair is the one with the highest
// count, ties broken by the smaller left id, then the smaller right id. Ids: special tokens,
// then the 256 byte tokens, then the base characters in code point order (U+2581 among them),
// then merged tokens in the order they were learned.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "platform/status.h"
#include "tokenizer/morph_pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace ondo::tokenizer {

struct BpeTrainerOptions {
  int32_t vocab_size = 32000;  // total, special and byte tokens included
  bool morph = true;           // cut pieces at morpheme ends (else whitespace pieces only)
  // All 11,172 Hangul syllables and the 94 compatibility jamo (U+3131..U+318E) in the base
  // alphabet. false: only those seen min_char_count times (for vocabularies under ~12 k).
  bool full_hangul = true;
  int64_t min_pair_count = 2;  // stop when the best pair is rarer
  int64_t min_char_count = 2;  // other characters enter the alphabet when seen this often
  std::vector<std::string> special_tokens = {"<pad>", "<s>", "</s>"};
};

struct TrainedBpe {
  std::vector<std::string> tokens;  // id -> text ("▁" for a space, "<0xAB>" byte tokens)
  std::vector<std::pair<int32_t, int32_t>> merges;  // rank -> (left id, right id)
  int32_t n_special = 0;  // ids [0, n_special) are special, then 256 byte tokens
  int32_t n_base = 0;     // ids below n_base are special, byte or base characters
  OndoPreTokenizer pre = OndoPreTokenizer::kKoreanMorph;
  // Statistics of the training run.
  int64_t n_pieces = 0;  // pieces seen (with repeats)
  int64_t n_distinct_pieces = 0;
  double split_seconds = 0;  // AddText (pre-tokenization, analysis)
  double merge_seconds = 0;  // Train
};

class BpeTrainer {
 public:
  static Status Create(const BpeTrainerOptions& options, std::unique_ptr<BpeTrainer>* out);
  ~BpeTrainer();

  // Adds training text (any size; processed line by line). InvalidArgument on invalid UTF-8,
  // naming the byte offset.
  Status AddText(std::string_view text);

  // Learns the merges. InvalidArgument when vocab_size is smaller than the base alphabet.
  Status Train(TrainedBpe* out);

 private:
  BpeTrainer() = default;
  BpeTrainerOptions options_;
  std::unique_ptr<MorphSplitter> splitter_;
  MorphSplitter::Scratch scratch_;
  std::vector<PieceSpan> spans_;
  std::unordered_map<std::string, int64_t> piece_counts_;
  int64_t n_pieces_ = 0;
  double split_seconds_ = 0;
};

// The tokenizer.json text of a trained vocabulary. with_ondo_key: add "ondo": {"pre_tokenizer":
// NAME, "version": 1}, which makes ondo run its own pre-tokenizer (exact round trip, morpheme
// cuts); without it the file is a standard Hugging Face BPE tokenizer.
std::string TrainedBpeToHfJson(const TrainedBpe& bpe, bool with_ondo_key);

// The VocabSpec that loading that tokenizer.json gives, built directly.
void TrainedBpeToVocabSpec(const TrainedBpe& bpe, bool with_ondo_key, VocabSpec* out);

}  // namespace ondo::tokenizer
