// libFuzzer target for tokenizer/korean: arbitrary bytes through the morpheme analyzer (plain
// and lenient), the post-processor (whole text, and streamed in chunks whose sizes come from
// the input) and the morpheme pre-tokenizer of trained tokenizers. Must never crash, hang or
// over-allocate; invalid UTF-8 must be an error. Also checks the documented invariants:
// morpheme offsets inside their eojeol and in order, output that stays valid UTF-8, streaming
// equal to whole-text processing, and a stream buffer that never exceeds its capacity.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/post/post_processor.h"
#include "tokenizer/morph_pretokenizer.h"

namespace {

using ondo::korean::Analysis;
using ondo::korean::Analyzer;
using ondo::korean::AnalyzeOptions;
using ondo::korean::PostOptions;
using ondo::korean::PostProcessor;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const Analyzer& SharedAnalyzer() {
  static const std::unique_ptr<Analyzer> analyzer = [] {
    std::unique_ptr<Analyzer> a;
    Check(Analyzer::Create(&a).ok());
    return a;
  }();
  return *analyzer;
}

void CheckAnalysis(std::string_view text, const Analysis& a) {
  int32_t last_end = 0;
  for (const ondo::korean::Eojeol& e : a.eojeols) {
    Check(e.begin >= last_end && e.begin < e.end && static_cast<size_t>(e.end) <= text.size());
    Check(e.morph_begin + e.morph_count <= a.morphemes.size());
    int32_t pos = e.begin;
    for (uint32_t k = 0; k < e.morph_count; ++k) {
      const ondo::korean::Morpheme& m = a.morphemes[e.morph_begin + k];
      Check(m.form_offset + m.form_size <= a.pool.size());
      if (m.begin < 0) continue;
      Check(m.begin >= pos && m.begin < m.end && m.end <= e.end);
      pos = m.end;
    }
    last_end = e.end;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 14) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool valid = ondo::korean::IsValidUtf8(input);

  static Analysis analysis;
  for (bool lenient : {false, true}) {
    AnalyzeOptions options;
    options.lenient_particles = lenient;
    const bool ok = SharedAnalyzer().Analyze(input, options, &analysis).ok();
    Check(ok == valid);
    if (ok) CheckAnalysis(input, analysis);
  }

  // The post-processor without and with spacing restoration (which runs first, on whole lines).
  auto make_post = [](bool spacing) {
    PostOptions options;
    options.buffer_capacity = 256;  // small, so that inputs reach the full-buffer path
    options.spacing = spacing;
    std::unique_ptr<PostProcessor> p;
    Check(PostProcessor::Create(&SharedAnalyzer(), options, &p).ok());
    return p;
  };
  static std::unique_ptr<PostProcessor> posts[2] = {make_post(false), make_post(true)};
  for (const std::unique_ptr<PostProcessor>& post : posts) {
    std::string whole;
    const bool ok = post->Process(input, &whole).ok();
    Check(ok == valid);
    if (ok) {
      Check(ondo::korean::IsValidUtf8(whole));
      // The same text streamed in chunks of 1..16 bytes (sizes from the input's own bytes).
      std::string streamed;
      bool stream_ok = true;
      for (size_t i = 0, k = 0; i < size && stream_ok; ++k) {
        const size_t n = 1 + data[k % size] % 16;
        stream_ok = post->Push(input.substr(i, n), &streamed).ok();
        Check(post->pending_bytes() <= post->options().buffer_capacity);
        i += n;
      }
      Check(stream_ok && post->Finish(&streamed).ok());
      Check(streamed == whole);
    } else {
      post->Reset();
    }
  }

  static std::unique_ptr<ondo::tokenizer::MorphSplitter> splitter = [] {
    std::unique_ptr<ondo::tokenizer::MorphSplitter> s;
    Check(ondo::tokenizer::MorphSplitter::Create(ondo::tokenizer::OndoPreTokenizer::kKoreanMorph,
                                                 &s)
              .ok());
    return s;
  }();
  if (valid) {
    static ondo::tokenizer::MorphSplitter::Scratch scratch;
    std::vector<ondo::tokenizer::PieceSpan> pieces;
    Check(splitter->Split(input, &scratch, &pieces).ok());
    uint32_t pos = 0;
    for (const ondo::tokenizer::PieceSpan& p : pieces) {
      Check(p.begin == pos && p.end > p.begin);
      pos = p.end;
    }
    Check(pos == size);
  }
  return 0;
}
