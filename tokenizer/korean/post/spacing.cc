// Word-spacing restoration (spacing.h): a shortest path over the characters of a line whose
// edges are candidate eojeols scored by the analyzer (Analyzer::PrefixCosts gives the costs of
// every eojeol starting at one character in one lattice search).
#include "tokenizer/korean/post/spacing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "tokenizer/korean/hangul.h"

namespace ondo::korean {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

enum CharClass : uint8_t {
  kHangul,
  kDigit,
  kLatin,
  kHanja,
  kOpen,    // opening bracket
  kClose,   // closing bracket
  kMark,    // . , ! ? ; : and the like
  kQuote,   // ' " (opening or closing)
  kOther
};

bool IsLineSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == 0x00A0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsLineBreak(char32_t c) { return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029; }

CharClass ClassOf(char32_t c) {
  if (IsHangulSyllable(c) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3131 && c <= 0x318E)) {
    return kHangul;
  }
  if ((c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19)) return kDigit;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xFF21 && c <= 0xFF3A) ||
      (c >= 0xFF41 && c <= 0xFF5A)) {
    return kLatin;
  }
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)) return kHanja;
  switch (c) {
    case '(':
    case '[':
    case '{':
    case '<':
    case 0x3008:
    case 0x300A:
    case 0x300C:
    case 0x300E:
    case 0x3010:
    case 0x3014:
    case 0xFF08:
    case 0x2018:
    case 0x201C:
      return kOpen;
    case ')':
    case ']':
    case '}':
    case '>':
    case 0x3009:
    case 0x300B:
    case 0x300D:
    case 0x300F:
    case 0x3011:
    case 0x3015:
    case 0xFF09:
    case 0x2019:
    case 0x201D:
      return kClose;
    case '.':
    case ',':
    case '!':
    case '?':
    case ';':
    case ':':
    case 0x2026:
    case 0x3001:
    case 0x3002:
    case 0xFF01:
    case 0xFF0C:
    case 0xFF1F:
      return kMark;
    case '\'':
    case '"':
      return kQuote;
    default:
      return kOther;
  }
}

bool IsWordClass(uint8_t c) { return c == kHangul || c == kDigit || c == kLatin || c == kHanja; }

// Whether a space may be added between characters of classes a and b: between words'
// characters when one is Hangul, and after a mark before Hangul (다.그래서).
bool NewSpaceAllowed(uint8_t a, uint8_t b) {
  if (IsWordClass(a) && IsWordClass(b)) return a == kHangul || b == kHangul;
  return a == kMark && IsWordClass(b);
}

// Whether a space of the text between characters of classes a and b may be removed: only
// between two Hangul characters (never between Latin words, numbers, marks).
bool RemoveAllowed(uint8_t a, uint8_t b) { return a == kHangul && b == kHangul; }

}  // namespace

Spacer::Spacer(const Analyzer* analyzer, const SpacingModel* model, const SpacingOptions& options)
    : analyzer_(analyzer), model_(model), options_(options) {}
Spacer::~Spacer() = default;

Status Spacer::Create(const Analyzer* analyzer, const SpacingOptions& options,
                      std::unique_ptr<Spacer>* out) {
  if (analyzer == nullptr) return InvalidArgument("spacing: no analyzer");
  if (options.max_eojeol_chars < 1 || options.max_eojeol_chars > 64) {
    return InvalidArgument("spacing: max_eojeol_chars {} is not in 1..64",
                           options.max_eojeol_chars);
  }
  if (options.long_run_chars < 1 || options.long_run_chars > 64) {
    return InvalidArgument("spacing: long_run_chars {} is not in 1..64", options.long_run_chars);
  }
  for (float c : {options.space_cost, options.insert_cost, options.remove_cost,
                  options.attached_cost, options.model_weight, options.long_run_bonus,
                  options.tag_space_weight, options.tag_joined_weight, options.tag_margin}) {
    if (!std::isfinite(c) || c < 0) return InvalidArgument("spacing: costs must be finite and >= 0");
  }
  if (!std::isfinite(options.insert_after_mark_cost) || options.insert_after_mark_cost < -10 ||
      options.insert_after_mark_cost + options.space_cost < -10) {
    return InvalidArgument("spacing: insert_after_mark_cost must be finite and >= -10");
  }
  if (options.model_weight > 10 || options.tag_space_weight > 10 ||
      options.tag_joined_weight > 10) {
    return InvalidArgument("spacing: model_weight and the tag weights must be <= 10");
  }
  const SpacingModel* model = nullptr;
  if (options.model_weight > 0) {
    model = options.model;
    if (model == nullptr) ONDO_RETURN_IF_ERROR(SpacingModel::Shared(&model));
  }
  std::unique_ptr<Analyzer::JunctionCosts> junctions;
  if (options.tag_space_weight > 0 || options.tag_joined_weight > 0) {
    const SpacingTagStats* stats = options.tag_stats;
    if (stats == nullptr) ONDO_RETURN_IF_ERROR(SpacingTagStats::Shared(&stats));
    junctions = std::make_unique<Analyzer::JunctionCosts>();
    for (int a = 0; a < kNumTags; ++a) {
      for (int b = 0; b < kNumTags; ++b) {
        const double p = stats->SpaceProbability(static_cast<Tag>(a), static_cast<Tag>(b));
        const double m = options.tag_margin;
        junctions->spaced[a][b] =
            static_cast<float>(options.tag_space_weight * std::max(0.0, -std::log(p) - m));
        junctions->joined[a][b] =
            static_cast<float>(options.tag_joined_weight * std::max(0.0, -std::log1p(-p) - m));
      }
    }
  }
  out->reset(new Spacer(analyzer, model, options));
  (*out)->junctions_ = std::move(junctions);
  return Status::Ok();
}

Status Spacer::Restore(std::string_view text, std::string* out) {
  out->clear();
  ONDO_RETURN_IF_ERROR(ValidateUtf8(text));
  size_t pos = 0;
  while (pos < text.size()) {
    // One line: up to a line break (kept).
    size_t end = pos, brk_end = text.size();
    bool found = false;
    while (end < text.size()) {
      size_t next = end;
      char32_t c;
      DecodeUtf8(text, &next, &c);
      if (IsLineBreak(c)) {
        brk_end = next;
        found = true;
        break;
      }
      end = next;
    }
    ONDO_RETURN_IF_ERROR(RestoreLine(text.substr(pos, end - pos), out));
    if (!found) break;
    out->append(text.substr(end, brk_end - end));
    pos = brk_end;
  }
  return Status::Ok();
}

Status Spacer::RestoreLine(std::string_view line, std::string* out) {
  // Characters without the spaces, each with the whitespace written before it.
  compact_.clear();
  cbeg_.clear();
  coff_.clear();
  ws_begin_.clear();
  ws_end_.clear();
  cls_.clear();
  mapped_.clear();
  size_t pos = 0;
  uint32_t ws_b = 0, ws_e = 0;
  bool in_ws = false;
  while (pos < line.size()) {
    const size_t at = pos;
    char32_t c;
    DecodeUtf8(line, &pos, &c);
    if (IsLineSpace(c)) {
      if (!in_ws) ws_b = static_cast<uint32_t>(at);
      ws_e = static_cast<uint32_t>(pos);
      in_ws = true;
      continue;
    }
    cbeg_.push_back(static_cast<uint32_t>(at));
    coff_.push_back(static_cast<uint32_t>(compact_.size()));
    ws_begin_.push_back(in_ws ? ws_b : static_cast<uint32_t>(at));
    ws_end_.push_back(in_ws ? ws_e : static_cast<uint32_t>(at));
    cls_.push_back(ClassOf(c));
    mapped_.push_back(SpacingModel::MapChar(c));
    compact_.append(line.substr(at, pos - at));
    in_ws = false;
  }
  const size_t m = cbeg_.size();
  if (m == 0) {
    out->append(line);
    return Status::Ok();
  }
  coff_.push_back(static_cast<uint32_t>(compact_.size()));
  // Leading whitespace is kept as it is.
  out->append(line.substr(0, cbeg_[0]));
  // Spaces of the text before each character (prefix counts) and where new ones may go.
  spaces_before_.assign(m + 1, 0);
  allowed_.assign(m, 0);
  removable_.assign(m, 1);
  for (size_t k = 1; k < m; ++k) {
    const bool sp = ws_end_[k] > ws_begin_[k];
    spaces_before_[k] = spaces_before_[k - 1] + (sp ? 1 : 0);
    allowed_[k] = sp || NewSpaceAllowed(cls_[k - 1], cls_[k]);
    removable_[k] = !sp || RemoveAllowed(cls_[k - 1], cls_[k]);
  }
  spaces_before_[m] = spaces_before_[m - 1];
  auto has_space = [&](size_t k) { return k > 0 && k < m && ws_end_[k] > ws_begin_[k]; };
  space_odds_.assign(m, 0.0f);
  if (model_ != nullptr) model_->Scores(mapped_.data(), m, space_odds_.data());
  // The cost of a new space before each character: lower inside long runs without a space.
  insert_at_.assign(m, options_.insert_cost);
  for (size_t b = 0; b < m;) {
    size_t e = b + 1;
    while (e < m && !has_space(e)) ++e;
    const int extra = static_cast<int>(e - b) - options_.long_run_chars;
    if (extra > 0) {
      const float c = std::max(0.5f * options_.insert_cost,
                               options_.insert_cost - options_.long_run_bonus * extra);
      for (size_t k = b + 1; k < e; ++k) insert_at_[k] = c;
    }
    b = e;
  }
  // Shortest path over (character position, last tag of the eojeol ending there): best_[j * T
  // + t] = cost of the best spacing of characters [0, j) whose last eojeol ends at j in tag t,
  // with a space (or the line's end) at j. As in Analyze, the best states of a position (at
  // most kMaxStates, within kStateBeam nats) are expanded, each as the context of the eojeols
  // that start there.
  constexpr int T = kNumTags;
  constexpr int kMaxStates = 3;
  constexpr float kStateBeam = 4.0f;
  best_.assign((m + 1) * T, kInf);
  back_.assign((m + 1) * T, -1);
  best_[static_cast<size_t>(Tag::kNA)] = 0;  // the start of the line
  const size_t max_chars = static_cast<size_t>(options_.max_eojeol_chars);
  for (size_t i = 0; i < m; ++i) {
    // The states to expand, best first.
    int top[kMaxStates];
    int n_top = 0;
    for (int t = 0; t < T; ++t) {
      const float c = best_[i * T + t];
      if (c == kInf) continue;
      if (n_top < kMaxStates) {
        top[n_top++] = t;
      } else if (c < best_[i * T + top[kMaxStates - 1]]) {
        top[kMaxStates - 1] = t;
      } else {
        continue;
      }
      for (int k = n_top - 1; k > 0 && best_[i * T + top[k - 1]] > best_[i * T + top[k]]; --k) {
        std::swap(top[k - 1], top[k]);
      }
    }
    if (n_top == 0) continue;
    size_t wend = std::min(m, i + max_chars);
    if (i == 0 || has_space(i)) {  // an eojeol as written is always a candidate
      size_t e = i + 1;
      while (e < m && !has_space(e)) ++e;
      wend = std::max(wend, e);
    }
    // No eojeol across a space that may not be removed, and the window stops there: the text
    // beyond it would join the word before (fresh food -> freshfood, one Latin token, with no
    // end after fresh).
    for (size_t q = i + 1; q < wend; ++q) {
      if (!removable_[q]) {
        wend = q;
        break;
      }
    }
    const std::string_view window =
        std::string_view(compact_).substr(coff_[i], coff_[wend] - coff_[i]);
    const float best_here = best_[i * T + top[0]];
    for (int s = 0; s < n_top; ++s) {
      const int state = top[s];
      const float base = best_[i * T + state];
      if (base > best_here + kStateBeam) break;
      ONDO_RETURN_IF_ERROR(
          analyzer_->PrefixCosts(window, static_cast<Tag>(state), options_.attached_cost,
                                 junctions_.get(), &work_, &ends_));
      size_t j = i + 1;
      for (const Analyzer::PrefixCost& pc : ends_) {
        const uint32_t at = coff_[i] + static_cast<uint32_t>(pc.end);
        while (j <= wend && coff_[j] < at) ++j;
        if (j > wend || coff_[j] != at) break;
        if (j < m && !allowed_[j]) continue;
        float c = base + pc.cost;
        // Spaces of the text inside the eojeol (before characters i+1 .. j-1) are removed.
        c += options_.remove_cost * static_cast<float>(spaces_before_[j - 1] - spaces_before_[i]);
        if (j < m) {
          c += options_.space_cost - options_.model_weight * space_odds_[j] +
               (has_space(j)           ? 0.0f
                : cls_[j - 1] == kMark ? options_.insert_after_mark_cost
                                       : insert_at_[j]);
        } else {
          c += analyzer_->TextEndCost(pc.last);
        }
        const size_t at_j = j * T + static_cast<size_t>(pc.last);
        if (c < best_[at_j]) {
          best_[at_j] = c;
          back_[at_j] = static_cast<int32_t>(i * T + static_cast<size_t>(state));
        }
      }
    }
  }
  int32_t end_state = -1;
  for (int t = 0; t < T; ++t) {
    const size_t at = m * T + static_cast<size_t>(t);
    if (best_[at] < kInf && (end_state < 0 || best_[at] < best_[end_state])) {
      end_state = static_cast<int32_t>(at);
    }
  }
  if (end_state < 0) {  // cannot happen (unknown nouns read any Hangul); keep the line
    out->append(line.substr(cbeg_[0]));
    return Status::Ok();
  }
  // Mark the chosen boundaries (reuse allowed_: 2 = space chosen before the character).
  for (int32_t st = back_[end_state]; st >= T; st = back_[st]) allowed_[st / T] = 2;
  for (size_t k = 0; k < m; ++k) {
    if (k > 0 && allowed_[k] == 2) {
      if (has_space(k)) {
        out->append(line.substr(ws_begin_[k], ws_end_[k] - ws_begin_[k]));
      } else {
        out->push_back(' ');
      }
    }
    const uint32_t e = k + 1 < m ? (has_space(k + 1) ? ws_begin_[k + 1] : cbeg_[k + 1])
                                 : static_cast<uint32_t>(line.size());
    // Character k (and, for the last one, the trailing whitespace).
    out->append(line.substr(cbeg_[k], e - cbeg_[k]));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

namespace {

// splitmix64: the same corruption on every platform.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
};

// The characters of a sentence without spaces and, per character, whether a space precedes it.
void Boundaries(std::string_view s, std::vector<std::string_view>* chars,
                std::vector<uint8_t>* space) {
  chars->clear();
  space->clear();
  size_t pos = 0;
  bool pending = false;
  while (pos < s.size()) {
    const size_t at = pos;
    char32_t c;
    DecodeUtf8(s, &pos, &c);
    if (IsLineSpace(c) || IsLineBreak(c)) {
      pending = !chars->empty();
      continue;
    }
    chars->push_back(s.substr(at, pos - at));
    space->push_back(pending ? 1 : 0);
    pending = false;
  }
}

std::string Join(const std::vector<std::string_view>& chars, const std::vector<uint8_t>& space) {
  std::string s;
  for (size_t k = 0; k < chars.size(); ++k) {
    if (space[k]) s.push_back(' ');
    s.append(chars[k]);
  }
  return s;
}

}  // namespace

Status EvaluateSpacing(Spacer* spacer, const std::vector<std::string>& sentences,
                       const SpacingEvalOptions& options, SpacingEvalResult* result,
                       SpacingEvalCallback on_diff, void* user) {
  *result = SpacingEvalResult{};
  Rng rng{options.seed};
  std::vector<std::string_view> chars, out_chars;
  std::vector<uint8_t> gold, corrupt, got;
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& sentence : sentences) {
    ONDO_RETURN_IF_ERROR(ValidateUtf8(sentence));
    Boundaries(sentence, &chars, &gold);
    if (chars.empty()) continue;
    const size_t m = chars.size();
    const std::string clean = Join(chars, gold);
    ++result->sentences;
    // Corruption: drop spaces, then insert spaces inside eojeols of the clean sentence.
    corrupt = gold;
    for (size_t k = 1; k < m; ++k) {
      if (gold[k] && rng.Uniform() < options.remove_rate) corrupt[k] = 0;
    }
    size_t eo_begin = 0;
    for (size_t k = 1; k <= m; ++k) {
      if (k < m && !gold[k]) continue;
      ++result->eojeols;
      const size_t len = k - eo_begin;
      if (len >= 2 && rng.Uniform() < options.insert_rate) {
        corrupt[eo_begin + 1 + static_cast<size_t>(rng.Next() % (len - 1))] = 1;
      }
      eo_begin = k;
    }
    const std::string corrupted = Join(chars, corrupt);
    // Clean: eojeols not kept as they are.
    ONDO_RETURN_IF_ERROR(spacer->Restore(clean, &out));
    result->chars += m;
    Boundaries(out, &out_chars, &got);
    if (out_chars.size() != m) return MakeStatus(StatusCode::kInternal, "spacing changed the characters of '{}'", clean);
    if (got != gold) {
      ++result->clean_changed_sentences;
      size_t b = 0;
      for (size_t k = 1; k <= m; ++k) {
        if (k < m && !gold[k]) continue;
        bool same = k == m || got[k];
        for (size_t q = b + 1; q < k && same; ++q) same = !got[q];
        if (!same) ++result->clean_changed_eojeols;
        b = k;
      }
      if (on_diff != nullptr) on_diff(user, "clean", clean, clean, out);
    }
    // Corrupted copy.
    ONDO_RETURN_IF_ERROR(spacer->Restore(corrupted, &out));
    result->chars += m;
    Boundaries(out, &out_chars, &got);
    if (out_chars.size() != m) return MakeStatus(StatusCode::kInternal, "spacing changed the characters of '{}'", corrupted);
    for (size_t k = 1; k < m; ++k) {
      if (gold[k] && !corrupt[k]) {
        ++result->removed;
        if (got[k]) ++result->removed_restored;
      } else if (!gold[k] && corrupt[k]) {
        ++result->inserted;
        if (!got[k]) ++result->inserted_restored;
      } else if (got[k] != gold[k]) {
        ++result->corrupted_other;
      }
    }
    if (got != gold && on_diff != nullptr) on_diff(user, "corrupted", corrupted, clean, out);
  }
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace ondo::korean
