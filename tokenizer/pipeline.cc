// Normalizer and pre-tokenizer stages, and the pre-tokenizer regexes of llama.cpp's families.
#include "tokenizer/pipeline.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

// GPT-2's pre-tokenizer (Hugging Face ByteLevel use_regex).
constexpr const char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (numbers in runs of up to three digits).
constexpr const char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 (single digits).
constexpr const char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Cased letters (Lu, Ll, Lt) as DeepSeek LLM's tokenizer.json lists them.
constexpr const char kDeepseekLetters[] =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char kCjkHangul[] = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

bool IsPunctuationChar(uint32_t cp) {
  // Hugging Face: char::is_ascii_punctuation || Unicode punctuation (P*).
  if (cp < 128) {
    return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') ||
           (cp >= '{' && cp <= '~');
  }
  return (unicode::CategoryBit(cp) & unicode::kMaskP) != 0;
}

void DecodeWithOffsets(std::string_view text, Workspace* ws) {
  ws->cps.clear();
  ws->offsets.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = 0;
    const size_t at = pos;
    if (!unicode::DecodeOne(text, &pos, &cp)) {  // not reached for valid input
      cp = 0xFFFD;
      pos = at + 1;
    }
    ws->cps.push_back(cp);
    ws->offsets.push_back(static_cast<uint32_t>(at));
  }
  ws->offsets.push_back(static_cast<uint32_t>(text.size()));
}

Status SizeError() {
  return InvalidArgument("normalizer / pre-tokenizer output too large for the input");
}

Status BudgetError() {
  return InvalidArgument("text too complex for the pre-tokenizer regex (backtracking limit)");
}

// Applies `behavior` (after `invert`) to spans covering `piece`, appending the new pieces.
template <typename Span>
void ApplyBehavior(std::string_view piece, const std::vector<Span>& spans,
                   SplitBehavior behavior, bool invert, std::vector<std::string>* out) {
  const size_t n = spans.size();
  auto is_match = [&](size_t k) { return spans[k].is_match != invert; };
  auto emit = [&](size_t b, size_t e) {
    if (e > b) out->emplace_back(piece.substr(b, e - b));
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (size_t k = 0; k < n; ++k) emit(spans[k].begin, spans[k].end);
      return;
    case SplitBehavior::kRemoved:
      for (size_t k = 0; k < n; ++k) {
        if (!is_match(k)) emit(spans[k].begin, spans[k].end);
      }
      return;
    case SplitBehavior::kContiguous:
    case SplitBehavior::kMergedWithPrevious: {
      // Contiguous: a match joins a preceding match; MergedWithPrevious: a match joins the
      // preceding non-match.
      const bool join_matches = behavior == SplitBehavior::kContiguous;
      size_t cur_b = 0, cur_e = 0;
      bool have = false, prev_match = false;
      for (size_t k = 0; k < n; ++k) {
        const bool m = is_match(k);
        if (have && m && (join_matches ? prev_match : !prev_match)) {
          cur_e = spans[k].end;
        } else {
          if (have) emit(cur_b, cur_e);
          cur_b = spans[k].begin;
          cur_e = spans[k].end;
          have = true;
        }
        prev_match = m;
      }
      if (have) emit(cur_b, cur_e);
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      // A match joins the following non-match: scan backwards, then emit in order.
      std::vector<std::pair<size_t, size_t>> rev;
      bool prev_match = false;
      for (size_t k = n; k-- > 0;) {
        const bool m = is_match(k);
        if (!rev.empty() && m && !prev_match) {
          rev.back().first = spans[k].begin;
        } else {
          rev.emplace_back(spans[k].begin, spans[k].end);
        }
        prev_match = m;
      }
      for (size_t k = rev.size(); k-- > 0;) emit(rev[k].first, rev[k].second);
      return;
    }
  }
}

}  // namespace

Status PreTokenizerRegexes(std::string_view pre, std::vector<std::string>* regexes) {
  regexes->clear();
  auto is = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (pre == n) return true;
    }
    return false;
  };
  if (pre.empty() || is({"default"})) {
    *regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe",
                 "chatglm-bpe", "gpt-4o", "superbpe", "trillion", "bailingmoe", "llama4"})) {
    *regexes = {kLlama3Regex};
  } else if (is({"qwen2", "stablelm2", "megrez", "deepseek-r1-qwen", "hunyuan"})) {
    *regexes = {kQwen2Regex};
  } else if (is({"deepseek-llm"})) {
    *regexes = {"[\r\n]", kDeepseekLetters,
                R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
                R"(\s+$)", kCjkHangul, R"(\p{N}+)"};
  } else if (is({"deepseek-v3"})) {
    *regexes = {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
                R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  } else if (is({"deepseek-coder"})) {
    *regexes = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkHangul, R"(\p{N})"};
  } else if (is({"falcon"})) {
    *regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"};
  } else if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                 "minerva-7b"})) {
    *regexes = {R"(\p{N})", kGpt2Regex};
  } else if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
                 "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})) {
    *regexes = {kGpt2Regex};
  } else if (is({"poro-chat", "bloom", "gpt3-finnish"})) {
    *regexes = {R"( ?[^(\s|.,!?…。，、।۔،)]+)"};
  } else if (is({"viking"})) {
    *regexes = {R"( ?[^(\s|.,!?…。，、।۔،)]+)", R"(\p{N})"};
  } else if (is({"tekken"})) {
    *regexes = {
        R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  } else if (is({"chameleon"})) {
    *regexes = {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
                R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2Regex};
  } else if (is({"none"})) {
    // no splitting
  } else {
    return NotFound("unknown pre-tokenizer type '{}'", pre);
  }
  return Status::Ok();
}

Status RegexFindAll(const Regex& re, std::string_view text, Workspace* ws,
                    std::vector<std::pair<size_t, size_t>>* matches) {
  matches->clear();
  DecodeWithOffsets(text, ws);
  const size_t n = ws->cps.size();
  size_t from = 0;
  while (from <= n) {
    size_t b = 0, e = 0;
    const Regex::FindResult r = re.Find(ws->cps.data(), n, from, &b, &e, &ws->regex, &ws->budget);
    if (r == Regex::FindResult::kBudgetExhausted) return BudgetError();
    if (r == Regex::FindResult::kNotFound) break;
    matches->emplace_back(ws->offsets[b], ws->offsets[e]);
    from = e > b ? e : b + 1;
  }
  return Status::Ok();
}

// --- Normalizer ----------------------------------------------------------------------------

Status Normalizer::Create(bool nfc, const std::vector<NormalizerStep>& steps,
                          std::unique_ptr<Normalizer>* out) {
  auto n = std::make_unique<Normalizer>();
  if (nfc) {
    Step s;
    s.spec.kind = NormalizerStep::Kind::kNfc;
    n->steps_.push_back(std::move(s));
  }
  for (const NormalizerStep& spec : steps) {
    Step s;
    s.spec = spec;
    if (spec.kind == NormalizerStep::Kind::kReplace) {
      if (!unicode::IsValidUtf8(spec.pattern) || !unicode::IsValidUtf8(spec.content)) {
        return InvalidArgument("normalizer: Replace pattern is not valid UTF-8");
      }
      if (spec.pattern_is_regex) ONDO_RETURN_IF_ERROR(Regex::Compile(spec.pattern, &s.re));
    }
    if (spec.kind == NormalizerStep::Kind::kPrepend && !unicode::IsValidUtf8(spec.content)) {
      return InvalidArgument("normalizer: Prepend content is not valid UTF-8");
    }
    n->steps_.push_back(std::move(s));
  }
  *out = std::move(n);
  return Status::Ok();
}

Status Normalizer::Run(std::string_view in, std::string* out, Workspace* ws) const {
  std::string cur(in);
  std::string next;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const Step& step : steps_) {
    next.clear();
    switch (step.spec.kind) {
      case NormalizerStep::Kind::kNfc:
        unicode::Nfc(cur, &next);
        break;
      case NormalizerStep::Kind::kNfd:
        unicode::Nfd(cur, &next);
        break;
      case NormalizerStep::Kind::kReplace: {
        if (step.re) {
          ONDO_RETURN_IF_ERROR(RegexFindAll(*step.re, cur, ws, &matches));
        } else {
          matches.clear();
          const std::string& pat = step.spec.pattern;
          if (!pat.empty()) {
            for (size_t p = cur.find(pat); p != std::string::npos; p = cur.find(pat, p + pat.size())) {
              matches.emplace_back(p, p + pat.size());
            }
          }
        }
        size_t last = 0;
        for (const auto& m : matches) {
          next.append(cur, last, m.first - last);
          next.append(step.spec.content);
          last = m.second;
          if (ws->max_bytes != 0 && next.size() > ws->max_bytes) return SizeError();
        }
        next.append(cur, last, std::string::npos);
        break;
      }
      case NormalizerStep::Kind::kPrepend:
        if (!cur.empty()) next = step.spec.content;
        next += cur;
        break;
      case NormalizerStep::Kind::kStrip: {
        DecodeWithOffsets(cur, ws);
        size_t b = 0, e = ws->cps.size();
        if (step.spec.strip_left) {
          while (b < e && unicode::IsWhitespace(ws->cps[b])) ++b;
        }
        if (step.spec.strip_right) {
          while (e > b && unicode::IsWhitespace(ws->cps[e - 1])) --e;
        }
        next.assign(cur, ws->offsets[b], ws->offsets[e] - ws->offsets[b]);
        break;
      }
    }
    if (ws->max_bytes != 0 && next.size() > ws->max_bytes) return SizeError();
    cur.swap(next);
  }
  *out = std::move(cur);
  return Status::Ok();
}

// --- PreTokenizer --------------------------------------------------------------------------

Status PreTokenizer::Create(const std::vector<PreTokenizerStep>& steps,
                            std::unique_ptr<PreTokenizer>* out) {
  auto p = std::make_unique<PreTokenizer>();
  for (const PreTokenizerStep& spec : steps) {
    Step s;
    s.spec = spec;
    using Kind = PreTokenizerStep::Kind;
    switch (spec.kind) {
      case Kind::kSplit:
        if (!unicode::IsValidUtf8(spec.pattern)) {
          return InvalidArgument("pre-tokenizer: Split pattern is not valid UTF-8");
        }
        if (spec.pattern_is_regex) {
          ONDO_RETURN_IF_ERROR(Regex::Compile(spec.pattern, &s.re));
          s.matcher = Matcher::kRegex;
        } else {
          s.matcher = Matcher::kLiteral;
        }
        break;
      case Kind::kByteLevel:
        if (spec.use_regex) ONDO_RETURN_IF_ERROR(Regex::Compile(kGpt2Regex, &s.re));
        break;
      case Kind::kDigits:
        ONDO_RETURN_IF_ERROR(Regex::Compile(spec.individual_digits ? R"(\p{N})" : R"(\p{N}+)", &s.re));
        break;
      case Kind::kPunctuation:
        s.matcher = Matcher::kPunctuation;
        break;
      case Kind::kMetaspace:
        if (spec.replacement.empty() || !unicode::IsValidUtf8(spec.replacement)) {
          return InvalidArgument("pre-tokenizer: bad Metaspace replacement");
        }
        s.matcher = Matcher::kLiteral;
        break;
      case Kind::kWhitespace:
        ONDO_RETURN_IF_ERROR(Regex::Compile(R"(\w+|[^\w\s]+)", &s.re));
        break;
      case Kind::kWhitespaceSplit:
        s.matcher = Matcher::kWhitespace;
        break;
    }
    p->steps_.push_back(std::move(s));
  }
  *out = std::move(p);
  return Status::Ok();
}

Status PreTokenizer::FindSpans(const Step& step, std::string_view piece, std::vector<Span>* spans,
                               Workspace* ws) const {
  spans->clear();
  size_t prev = 0;
  auto add_match = [&](size_t b, size_t e) {
    if (b > prev) spans->push_back({prev, b, false});
    spans->push_back({b, e, true});
    prev = e;
  };
  switch (step.matcher) {
    case Matcher::kRegex: {
      std::vector<std::pair<size_t, size_t>> matches;
      ONDO_RETURN_IF_ERROR(RegexFindAll(*step.re, piece, ws, &matches));
      for (const auto& m : matches) add_match(m.first, m.second);
      break;
    }
    case Matcher::kLiteral: {
      const std::string& pat =
          step.spec.kind == PreTokenizerStep::Kind::kMetaspace ? step.spec.replacement
                                                              : step.spec.pattern;
      if (!pat.empty()) {
        for (size_t p = piece.find(pat); p != std::string_view::npos;
             p = piece.find(pat, p + pat.size())) {
          add_match(p, p + pat.size());
        }
      }
      break;
    }
    case Matcher::kPunctuation:
    case Matcher::kWhitespace: {
      size_t pos = 0;
      while (pos < piece.size()) {
        const size_t at = pos;
        uint32_t cp = 0;
        if (!unicode::DecodeOne(piece, &pos, &cp)) {
          pos = at + 1;
          continue;
        }
        const bool hit = step.matcher == Matcher::kPunctuation ? IsPunctuationChar(cp)
                                                              : unicode::IsWhitespace(cp);
        if (hit) add_match(at, pos);
      }
      break;
    }
  }
  if (prev < piece.size()) spans->push_back({prev, piece.size(), false});
  return Status::Ok();
}

Status PreTokenizer::SplitPieces(const Step& step, SplitBehavior behavior, bool invert,
                                 std::vector<std::string>* pieces, Workspace* ws) const {
  std::vector<std::string> out;
  std::vector<Span> spans;
  for (const std::string& piece : *pieces) {
    ONDO_RETURN_IF_ERROR(FindSpans(step, piece, &spans, ws));
    ApplyBehavior(piece, spans, behavior, invert, &out);
  }
  pieces->swap(out);
  return Status::Ok();
}

Status PreTokenizer::Run(std::string_view text, bool first, std::vector<std::string>* pieces_out,
                         Workspace* ws) const {
  std::vector<std::string> pieces;
  if (!text.empty()) pieces.emplace_back(text);
  using Kind = PreTokenizerStep::Kind;
  for (const Step& step : steps_) {
    switch (step.spec.kind) {
      case Kind::kSplit:
        ONDO_RETURN_IF_ERROR(
            SplitPieces(step, step.spec.behavior, step.spec.invert, &pieces, ws));
        break;
      case Kind::kByteLevel:
        if (step.spec.add_prefix_space) {
          for (std::string& p : pieces) {
            if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
          }
        }
        if (step.re) {
          ONDO_RETURN_IF_ERROR(SplitPieces(step, SplitBehavior::kIsolated, false, &pieces, ws));
        }
        break;
      case Kind::kDigits:
        ONDO_RETURN_IF_ERROR(SplitPieces(step, SplitBehavior::kIsolated, false, &pieces, ws));
        break;
      case Kind::kPunctuation:
        ONDO_RETURN_IF_ERROR(SplitPieces(step, step.spec.behavior, false, &pieces, ws));
        break;
      case Kind::kWhitespace:
        ONDO_RETURN_IF_ERROR(SplitPieces(step, SplitBehavior::kRemoved, true, &pieces, ws));
        break;
      case Kind::kWhitespaceSplit:
        ONDO_RETURN_IF_ERROR(SplitPieces(step, SplitBehavior::kRemoved, false, &pieces, ws));
        break;
      case Kind::kMetaspace: {
        const std::string& rep = step.spec.replacement;
        for (size_t k = 0; k < pieces.size(); ++k) {
          std::string& p = pieces[k];
          std::string replaced;
          for (char c : p) {
            if (c == ' ') {
              replaced += rep;
              if (ws->max_bytes != 0 && replaced.size() > ws->max_bytes) return SizeError();
            } else {
              replaced.push_back(c);
            }
          }
          const bool prepend =
              step.spec.prepend_scheme == PreTokenizerStep::PrependScheme::kAlways ||
              (step.spec.prepend_scheme == PreTokenizerStep::PrependScheme::kFirst && first &&
               k == 0);
          if (prepend && replaced.compare(0, rep.size(), rep) != 0) replaced.insert(0, rep);
          p.swap(replaced);
        }
        if (step.spec.split) {
          ONDO_RETURN_IF_ERROR(SplitPieces(step, SplitBehavior::kMergedWithNext, false, &pieces, ws));
        }
        break;
      }
    }
    if (ws->max_bytes != 0) {
      size_t total = 0;
      for (const std::string& p : pieces) total += p.size();
      if (total > ws->max_bytes) return SizeError();
    }
  }
  for (std::string& p : pieces) {
    if (!p.empty()) pieces_out->push_back(std::move(p));
  }
  return Status::Ok();
}

}  // namespace ondo::tokenizer
