// CoNLL-U reading and the LCS morpheme metric (eval.h).
#include "tokenizer/korean/eval.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "platform/fields.h"
#include "tokenizer/korean/hangul.h"

namespace ondo::korean {
namespace {

Status Normalise(std::string_view in, std::string* out) {
  std::string nfc;
  ONDO_RETURN_IF_ERROR(HangulToNfc(in, &nfc));
  return ConjoiningToCompatString(nfc, out);
}

// 아서/여서 -> 어서, 았/였 -> 었 for ending tags.
std::string_view CanonEnding(std::string_view form, std::string_view tag, std::string* buf) {
  if (tag.empty() || tag[0] != 'E' || form.size() < 3) return form;
  const std::string_view first = form.substr(0, 3);
  if (first == "아" || first == "여") {
    *buf = "어";
  } else if (first == "았" || first == "였") {
    *buf = "었";
  } else {
    return form;
  }
  buf->append(form.substr(3));
  return *buf;
}

size_t CountCodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

Status ParseConllu(std::string_view text, std::vector<GoldSentence>* out) {
  out->clear();
  GoldSentence cur;
  size_t line_no = 0;
  auto flush = [&]() {
    if (!cur.eojeols.empty()) out->push_back(std::move(cur));
    cur = GoldSentence();
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      flush();
      if (nl == text.size()) break;
      continue;
    }
    if (line[0] == '#') continue;
    const auto cols = platform::SplitFields(line, '\t');
    if (cols.size() != 10)
      return Corrupt("CoNLL-U line {}: {} columns, expected 10", line_no, cols.size());
    if (cols[0].find_first_of("-.") != std::string_view::npos) continue;  // ranges, empty nodes
    GoldEojeol e;
    ONDO_RETURN_IF_ERROR(ValidateUtf8(cols[1]));
    e.form = std::string(cols[1]);
    if (e.form.empty() || e.form.find_first_of(" \t") != std::string::npos) {
      return Corrupt("CoNLL-U line {}: empty form or form with a space", line_no);
    }
    auto lemmas = platform::SplitFields(cols[2], '+');
    const auto tags = platform::SplitFields(cols[4], '+');
    // A literal '+' in a lemma ("+" itself, "C++") breaks the split: keep the form whole.
    if (lemmas.size() != tags.size() ||
        std::any_of(lemmas.begin(), lemmas.end(), [](std::string_view x) { return x.empty(); })) {
      lemmas = {cols[2]};
    }
    for (size_t i = 0; i < lemmas.size(); ++i) {
      GoldMorpheme m;
      ONDO_RETURN_IF_ERROR(Normalise(lemmas[i], &m.form));
      m.tag = std::string(lemmas.size() == tags.size() ? tags[i] : cols[4]);
      e.morphemes.push_back(std::move(m));
    }
    if (!cur.text.empty()) cur.text.push_back(' ');
    cur.text += e.form;
    cur.eojeols.push_back(std::move(e));
    if (nl == text.size()) break;
  }
  flush();
  return Status::Ok();
}

Status Evaluate(const Analyzer& analyzer, const std::vector<GoldSentence>& gold,
                const EvalOptions& options, EvalResult* out) {
  *out = EvalResult();
  Analysis a;
  std::vector<uint32_t> dp;
  std::vector<std::string> pforms, gforms;
  std::string predicted, buf;
  for (const GoldSentence& s : gold) {
    ONDO_RETURN_IF_ERROR(analyzer.Analyze(s.text, &a));
    if (a.eojeols.size() != s.eojeols.size()) {
      return MakeStatus(StatusCode::kInternal, "sentence '{}': {} eojeols analysed, {} in the file",
                        s.text, a.eojeols.size(), s.eojeols.size());
    }
    ++out->n_sentences;
    out->n_chars += CountCodePoints(s.text);
    for (size_t i = 0; i < s.eojeols.size(); ++i) {
      const GoldEojeol& g = s.eojeols[i];
      const Eojeol& e = a.eojeols[i];
      const size_t np = e.morph_count, ng = g.morphemes.size();
      // LCS table over forms; backtrack to count tag agreement on one optimal alignment.
      dp.assign((np + 1) * (ng + 1), 0);
      auto at = [&](size_t x, size_t y) -> uint32_t& { return dp[x * (ng + 1) + y]; };
      pforms.resize(np);
      gforms.resize(ng);
      for (size_t x = 0; x < np; ++x) {
        const Morpheme& m = a.morphemes[e.morph_begin + x];
        pforms[x] = std::string(a.Form(m));
        if (options.canonical_endings)
          pforms[x] = std::string(CanonEnding(pforms[x], TagName(m.tag), &buf));
      }
      for (size_t y = 0; y < ng; ++y) {
        gforms[y] = g.morphemes[y].form;
        if (options.canonical_endings)
          gforms[y] = std::string(CanonEnding(gforms[y], g.morphemes[y].tag, &buf));
      }
      for (size_t x = 1; x <= np; ++x) {
        for (size_t y = 1; y <= ng; ++y) {
          at(x, y) = pforms[x - 1] == gforms[y - 1] ? at(x - 1, y - 1) + 1
                                                    : std::max(at(x - 1, y), at(x, y - 1));
        }
      }
      const size_t lcs = at(np, ng);
      size_t x = np, y = ng;
      while (x > 0 && y > 0) {
        const Morpheme& m = a.morphemes[e.morph_begin + x - 1];
        if (pforms[x - 1] == gforms[y - 1] && at(x, y) == at(x - 1, y - 1) + 1) {
          out->n_tag_match += TagName(m.tag) == g.morphemes[y - 1].tag;
          --x, --y;
        } else if (at(x - 1, y) >= at(x, y - 1)) {
          --x;
        } else {
          --y;
        }
      }
      out->n_pred += np;
      out->n_gold += ng;
      out->n_lcs += lcs;
      ++out->n_eojeols;
      if (options.on_eojeol) {
        predicted = a.Format(i);
        options.on_eojeol(g, predicted, lcs);
      }
    }
  }
  out->precision = out->n_pred ? static_cast<double>(out->n_lcs) / out->n_pred : 0;
  out->recall = out->n_gold ? static_cast<double>(out->n_lcs) / out->n_gold : 0;
  out->f1 = out->precision + out->recall > 0
                ? 2 * out->precision * out->recall / (out->precision + out->recall)
                : 0;
  out->tag_accuracy = out->n_lcs ? static_cast<double>(out->n_tag_match) / out->n_lcs : 0;
  // Speed: whole passes over the set, fastest one (warm caches, one thread).
  double best = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < options.timing_passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const GoldSentence& s : gold) ONDO_RETURN_IF_ERROR(analyzer.Analyze(s.text, &a));
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, sec);
  }
  if (options.timing_passes > 0 && best > 0) {
    out->seconds = best;
    out->chars_per_s = static_cast<double>(out->n_chars) / best;
  }
  return Status::Ok();
}

}  // namespace ondo::korean
