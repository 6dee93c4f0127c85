// ondo's own pre-tokenizer for tokenizers trained by `ondo tokenizer train` (bpe_trainer.h),
// recorded in tokenizer.json as the extra top-level key "ondo": {"pre_tokenizer": NAME,
// "version": 1}. Hugging Face ignores that key and runs the file's standard pre_tokenizer
// (Split on runs of \t \n \v \f \r, then Metaspace "▁" with prepend_scheme "never"); ondo runs
// this splitter instead, which gives the same pieces ("whitespace") or the same pieces further
// cut at Korean morpheme boundaries ("korean_morph").
//
// Pieces (byte ranges of the text, never empty):
//   * a maximal run of \t \n \v \f \r is one piece;
//   * every ' ' starts a new piece that holds the space (later written as U+2581) and the
//     characters after it up to the next space or control whitespace;
//   * text at the start or after control whitespace starts a piece without a space;
//   * korean_morph only: a piece is also cut at the end of every morpheme the analyzer gives a
//     surface offset for (학교에 -> 학교 | 에), never inside a contracted syllable
//     (갔다 stays whole: 가+았 have no offsets).
// Concatenating the pieces gives the text back, so the split is lossless.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/korean/analyzer.h"

namespace ondo::tokenizer {

enum class OndoPreTokenizer { kNone, kWhitespace, kKoreanMorph };

// "whitespace" / "korean_morph" -> value; Unsupported for any other name.
Status ParseOndoPreTokenizer(std::string_view name, OndoPreTokenizer* out);
// "", "whitespace", "korean_morph".
std::string_view OndoPreTokenizerName(OndoPreTokenizer p);

struct PieceSpan {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// True for the control whitespace bytes that form pieces of their own (\t \n \v \f \r).
inline bool IsControlSpace(char c) {
  return c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

class MorphSplitter {
 public:
  // Per-thread working memory (a warm Scratch does not allocate for texts of similar size).
  struct Scratch {
    korean::Analysis analysis;
    std::vector<uint32_t> cuts;
  };

  // kKoreanMorph uses the process-wide morpheme analyzer (Analyzer::Shared: created once,
  // a few ms, its tables read in place from the library); kWhitespace needs nothing.
  static Status Create(OndoPreTokenizer kind, std::unique_ptr<MorphSplitter>* out);

  // Replaces *pieces with the pieces of `text` (REQUIRES: valid UTF-8, at most 2 GiB).
  Status Split(std::string_view text, Scratch* scratch, std::vector<PieceSpan>* pieces) const;

  OndoPreTokenizer kind() const { return kind_; }

 private:
  OndoPreTokenizer kind_ = OndoPreTokenizer::kWhitespace;
  const korean::Analyzer* analyzer_ = nullptr;  // Analyzer::Shared, never freed
};

}  // namespace ondo::tokenizer
