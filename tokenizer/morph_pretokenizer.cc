// Whitespace / Korean morpheme pre-tokenizer of trained tokenizers.
#include "tokenizer/morph_pretokenizer.h"

#include <algorithm>
#include <limits>

namespace ondo::tokenizer {

Status ParseOndoPreTokenizer(std::string_view name, OndoPreTokenizer* out) {
  if (name == "whitespace") {
    *out = OndoPreTokenizer::kWhitespace;
  } else if (name == "korean_morph") {
    *out = OndoPreTokenizer::kKoreanMorph;
  } else {
    return Unsupported("ondo pre-tokenizer '{}' (known: whitespace, korean_morph)", name);
  }
  return Status::Ok();
}

std::string_view OndoPreTokenizerName(OndoPreTokenizer p) {
  switch (p) {
    case OndoPreTokenizer::kWhitespace:
      return "whitespace";
    case OndoPreTokenizer::kKoreanMorph:
      return "korean_morph";
    case OndoPreTokenizer::kNone:
      break;
  }
  return "";
}

Status MorphSplitter::Create(OndoPreTokenizer kind, std::unique_ptr<MorphSplitter>* out) {
  if (kind == OndoPreTokenizer::kNone) return InvalidArgument("MorphSplitter: no pre-tokenizer");
  auto s = std::unique_ptr<MorphSplitter>(new MorphSplitter());
  s->kind_ = kind;
  if (kind == OndoPreTokenizer::kKoreanMorph) {
    ONDO_RETURN_IF_ERROR(korean::Analyzer::Shared(&s->analyzer_));
  }
  *out = std::move(s);
  return Status::Ok();
}

Status MorphSplitter::Split(std::string_view text, Scratch* scratch,
                            std::vector<PieceSpan>* pieces) const {
  pieces->clear();
  if (text.size() > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument("text too long for the pre-tokenizer: {} bytes", text.size());
  }
  std::vector<uint32_t>& cuts = scratch->cuts;
  cuts.clear();
  if (analyzer_ != nullptr) {
    ONDO_RETURN_IF_ERROR(analyzer_->Analyze(text, &scratch->analysis));
    const korean::Analysis& a = scratch->analysis;
    for (const korean::Eojeol& e : a.eojeols) {
      for (uint32_t k = 0; k < e.morph_count; ++k) {
        const korean::Morpheme& m = a.morphemes[e.morph_begin + k];
        if (m.end > e.begin && m.end < e.end) cuts.push_back(static_cast<uint32_t>(m.end));
      }
    }
    // Offsets come in text order; keep it robust anyway.
    if (!std::is_sorted(cuts.begin(), cuts.end())) std::sort(cuts.begin(), cuts.end());
  }
  size_t next_cut = 0;
  const uint32_t n = static_cast<uint32_t>(text.size());
  uint32_t start = 0;  // start of the open piece
  bool open = false;   // a piece is open
  uint32_t body = 0;   // first byte after the open piece's leading space
  uint32_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (IsControlSpace(c)) {
      if (open) pieces->push_back({start, i});
      uint32_t j = i + 1;
      while (j < n && IsControlSpace(text[j])) ++j;
      pieces->push_back({i, j});
      open = false;
      i = j;
      continue;
    }
    if (c == ' ') {
      if (open) pieces->push_back({start, i});
      start = i;
      body = i + 1;
      open = true;
      ++i;
      continue;
    }
    // Another character (UTF-8 continuation bytes never equal the bytes tested above).
    while (next_cut < cuts.size() && cuts[next_cut] < i) ++next_cut;
    if (!open) {
      start = i;
      body = i;
      open = true;
    } else if (next_cut < cuts.size() && cuts[next_cut] == i && i > body) {
      pieces->push_back({start, i});
      start = i;
      body = i;
    }
    ++i;
  }
  if (open) pieces->push_back({start, n});
  return Status::Ok();
}

}  // namespace ondo::tokenizer
