// Post-processor evaluation (post_eval.h).
#include "tokenizer/korean/post/post_eval.h"

#include <chrono>
#include <string>
#include <utility>

#include "platform/fields.h"
#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/tags.h"

namespace ondo::korean {
namespace {

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

// Deterministic generator (splitmix64), independent of the standard library.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }
  double Unit() { return static_cast<double>(Next() >> 11) / 9007199254740992.0; }
};

struct Allomorphs {
  const char* tags;  // tags separated by '|'
  const char* cons;  // after a consonant (and ㄹ, except for the 으로 family)
  const char* vowel;
  bool ro;  // 으로 family: ㄹ takes the vowel form
};
constexpr Allomorphs kAllomorphs[] = {
    {"JKO", "을", "를", false},       {"JKS|JKC", "이", "가", false},
    {"JX", "은", "는", false},        {"JKB|JC", "과", "와", false},
    {"JKB", "으로", "로", true},      {"JKB", "으로서", "로서", true},
    {"JKB", "으로써", "로써", true},  {"JKB", "으로부터", "로부터", true},
    {"JKV", "아", "야", false},       {"JKV", "이여", "여", false},
    {"JX|JC", "이나", "나", false},   {"JKB|JC", "이랑", "랑", false},
    {"JKQ", "이라고", "라고", false}, {"JC", "이며", "며", false},
    {"JX", "이라도", "라도", false},  {"JX", "이야", "야", false},
    {"JX", "이든지", "든지", false},  {"JX", "이란", "란", false},
};

const Allomorphs* FindAllomorphs(std::string_view form, std::string_view tag) {
  for (const Allomorphs& a : kAllomorphs) {
    if (form != a.cons && form != a.vowel) continue;
    for (const std::string_view t : platform::SplitFields(a.tags, '|')) {
      if (t == tag) return &a;
    }
  }
  return nullptr;
}

bool IsPunctTag(std::string_view t) {
  return t == "SF" || t == "SP" || t == "SS" || t == "SE" || t == "SO" || t == "SW";
}
bool IsHostTag(std::string_view t) {
  return t == "NNG" || t == "NNP" || t == "NNB" || t == "NP" || t == "NR" || t == "SN" ||
         t == "SL" || t == "XSN" || t == "ETN" || t == "SS";
}
bool IsSentenceMark(char c) { return c == '.' || c == '!' || c == '?'; }
bool HasBracket(std::string_view w) {
  for (const char c : w) {
    if (c == '"' || c == '\'' || c == '(' || c == ')' || c == '[' || c == ']') return true;
  }
  return w.find("“") != std::string_view::npos || w.find("”") != std::string_view::npos ||
         w.find("‘") != std::string_view::npos || w.find("’") != std::string_view::npos ||
         w.find("「") != std::string_view::npos || w.find("」") != std::string_view::npos ||
         w.find("《") != std::string_view::npos || w.find("》") != std::string_view::npos;
}
bool EndsSentence(std::string_view w) {
  return !w.empty() && (IsSentenceMark(w.back()) || w.ends_with("…"));
}

std::string Join(const std::vector<std::string>& words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) s += ' ';
    s += words[i];
  }
  return s;
}

struct ParticleSite {
  size_t eojeol;  // index into Words(text)
  size_t byte;    // offset of the particle in that eojeol
  const Allomorphs* a;
  std::string form;
};

// Gold particle positions that can be corrupted, in eojeol coordinates of the sentence text
// rebuilt from the tokens.
void FindParticleSites(const PostEvalSentence& s, std::vector<std::string>* eojeols,
                       std::vector<ParticleSite>* sites) {
  eojeols->clear();
  sites->clear();
  std::string cur;
  std::string prev_tag;
  for (const PostEvalToken& t : s.tokens) {
    const size_t tok_start = cur.size();
    // Last non-punctuation morpheme.
    size_t last = t.morphs.size();
    size_t suffix_bytes = 0;
    while (last > 0 && IsPunctTag(t.tags[last - 1])) {
      suffix_bytes += t.morphs[last - 1].size();
      --last;
    }
    if (last > 0 && t.tags[last - 1].size() >= 2 && t.tags[last - 1][0] == 'J') {
      const std::string& form = t.morphs[last - 1];
      const std::string& host_tag = last >= 2 ? t.tags[last - 2] : prev_tag;
      const Allomorphs* a = FindAllomorphs(form, t.tags[last - 1]);
      if (a != nullptr && IsHostTag(host_tag) && t.form.size() >= form.size() + suffix_bytes &&
          std::string_view(t.form).substr(t.form.size() - suffix_bytes - form.size(),
                                          form.size()) == form) {
        const size_t at = tok_start + t.form.size() - suffix_bytes - form.size();
        // Hangul or digit hosts must take the gold allomorph by the rule (skip gold typos);
        // Latin hosts are trusted.
        const std::string joined = cur + t.form;
        std::string_view host = std::string_view(joined).substr(0, at);
        while (!host.empty()) {
          const char32_t c = LastCodePoint(host);
          if (!(c == ')' || c == ']' || c == '"' || c == '\'' || c == 0x201D || c == 0x2019 ||
                c == 0x300D || c == 0x300F || c == 0x300B))
            break;
          host = host.substr(0, LastCodePointStart(host));
        }
        const char32_t hc = LastCodePoint(host);
        bool ok = !host.empty();
        if (ok && (IsHangulSyllable(hc) || (hc >= '0' && hc <= '9'))) {
          const char sound = HostFinalSound(host);
          const bool vowel_form = a->ro ? sound != 'C' : sound == 'V';
          ok = form == (vowel_form ? a->vowel : a->cons);
        }
        if (ok) sites->push_back(ParticleSite{eojeols->size(), at, a, form});
      }
    }
    cur += t.form;
    prev_tag = t.tags.empty() ? "" : t.tags.back();
    if (t.space_after) {
      eojeols->push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) eojeols->push_back(cur);
}

}  // namespace

Status ParsePostEvalConllu(std::string_view data, std::vector<PostEvalSentence>* out) {
  out->clear();
  PostEvalSentence cur;
  bool open = false;
  size_t line_no = 0;
  for (std::string_view line : platform::SplitFields(data, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (open && !cur.tokens.empty()) out->push_back(std::move(cur));
      cur = PostEvalSentence();
      open = false;
      continue;
    }
    open = true;
    if (line.starts_with("# text = ")) {
      cur.text = std::string(line.substr(9));
      continue;
    }
    if (line[0] == '#') continue;
    const std::vector<std::string_view> f = platform::SplitFields(line, '\t');
    if (f.size() != 10) return Corrupt("CoNLL-U line {}: {} columns, want 10", line_no, f.size());
    if (f[0].find_first_of("-.") != std::string_view::npos) continue;
    PostEvalToken t;
    t.form = std::string(f[1]);
    t.space_after = f[9].find("SpaceAfter=No") == std::string_view::npos;
    for (const std::string_view m : platform::SplitFields(f[2], '+')) t.morphs.emplace_back(m);
    for (const std::string_view m : platform::SplitFields(f[4], '+')) t.tags.emplace_back(m);
    if (t.morphs.size() != t.tags.size()) {  // e.g. a '+' inside a lemma: no morphemes then
      t.morphs.clear();
      t.tags.clear();
    }
    cur.tokens.push_back(std::move(t));
  }
  if (open && !cur.tokens.empty()) out->push_back(std::move(cur));
  for (PostEvalSentence& s : *out) {
    if (s.text.empty()) {
      for (const PostEvalToken& t : s.tokens) s.text += t.form + (t.space_after ? " " : "");
      while (!s.text.empty() && s.text.back() == ' ') s.text.pop_back();
    }
  }
  return Status::Ok();
}

Status ParsePostEvalKlue(std::string_view data, std::vector<PostEvalSentence>* out) {
  out->clear();
  PostEvalSentence cur;
  size_t line_no = 0;
  auto close = [&] {
    if (!cur.tokens.empty()) out->push_back(std::move(cur));
    cur = PostEvalSentence();
  };
  for (std::string_view line : platform::SplitFields(data, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      close();
      continue;
    }
    if (line.starts_with("## ")) {
      const size_t tab = line.find('\t');
      if (tab != std::string_view::npos && line.starts_with("## klue")) {
        close();
        cur.text = std::string(line.substr(tab + 1));
      }
      continue;
    }
    const std::vector<std::string_view> f = platform::SplitFields(line, '\t');
    if (f.size() < 4) return Corrupt("KLUE line {}: {} columns, want >= 4", line_no, f.size());
    PostEvalToken t;
    t.form = std::string(f[1]);
    for (const std::string_view m : platform::SplitFields(f[2], ' ')) t.morphs.emplace_back(m);
    for (const std::string_view m : platform::SplitFields(f[3], '+')) t.tags.emplace_back(m);
    if (t.morphs.size() != t.tags.size()) {
      t.morphs.clear();
      t.tags.clear();
    }
    cur.tokens.push_back(std::move(t));
  }
  close();
  return Status::Ok();
}

Status ParsePostEvalFile(std::string_view data, std::vector<PostEvalSentence>* out) {
  if (data.starts_with("## ") || data.find("\n## klue") != std::string_view::npos) {
    return ParsePostEvalKlue(data, out);
  }
  return ParsePostEvalConllu(data, out);
}

void PostEvalAlignEojeols(const std::vector<std::string>& eojeols,
                          const std::vector<std::string_view>& c, std::vector<size_t>* to,
                          std::vector<uint8_t>* joined) {
  to->assign(eojeols.size(), 0);
  joined->assign(eojeols.size(), 0);
  size_t i = 0, j = 0;
  while (i < eojeols.size() && j < c.size()) {
    if (eojeols[i] == c[j]) {
      (*to)[i++] = j++;
      continue;
    }
    size_t k = i, len = 0;
    while (k < eojeols.size() && len < c[j].size() &&
           c[j].substr(len).starts_with(eojeols[k])) {
      len += eojeols[k].size();
      ++k;
    }
    if (len == c[j].size() && k > i + 1) {
      for (size_t x = i; x < k; ++x) {
        (*to)[x] = j;
        (*joined)[x] = 1;
      }
      i = k;
      ++j;
      continue;
    }
    (*to)[i++] = j++;  // changed in place
  }
  if (i != eojeols.size() || j != c.size()) to->clear();
}

bool PostEvalIsHeldOut(std::string_view sentence_text) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : sentence_text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return (h & 1) != 0;
}

Status ParsePostEvalPlain(std::string_view data, const Analyzer& analyzer,
                          std::vector<PostEvalSentence>* out) {
  out->clear();
  Analysis an;
  size_t line_no = 0;
  for (std::string_view line : platform::SplitFields(data, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t tab = line.rfind('\t');
    if (tab != std::string_view::npos) line.remove_prefix(tab + 1);
    PostEvalSentence s;
    // Spacing marks: U+2581 (E2 96 81) spurious space, U+2594 (E2 96 94) missing space.
    for (size_t i = 0; i < line.size(); ++i) {
      if (line.substr(i, 3) == "\xE2\x96\x81") {
        i += 2;
        continue;
      }
      if (line.substr(i, 3) == "\xE2\x96\x94") {
        s.text += ' ';
        i += 2;
        continue;
      }
      s.text += line[i];
    }
    size_t b = 0, e = s.text.size();
    while (b < e && (s.text[b] == ' ' || s.text[b] == '\t')) ++b;
    while (e > b && (s.text[e - 1] == ' ' || s.text[e - 1] == '\t')) --e;
    s.text = s.text.substr(b, e - b);
    if (s.text.empty() || s.text[0] == '#') continue;
    if (Status st = analyzer.Analyze(s.text, &an); !st.ok()) {
      return Corrupt("plain text line {}: {}", line_no, st.message());
    }
    for (const Eojeol& ej : an.eojeols) {
      PostEvalToken t;
      t.form = s.text.substr(static_cast<size_t>(ej.begin), static_cast<size_t>(ej.end - ej.begin));
      bool surface = true;
      for (uint32_t k = 0; k < ej.morph_count; ++k) {
        const Morpheme& m = an.morphemes[ej.morph_begin + k];
        surface = surface && m.begin >= 0;
        t.morphs.emplace_back(an.Form(m));
        t.tags.emplace_back(TagName(m.tag));
      }
      if (!surface) {  // a contracted form: no particle site is taken from it
        t.morphs.clear();
        t.tags.clear();
      }
      s.tokens.push_back(std::move(t));
    }
    if (!s.tokens.empty()) out->push_back(std::move(s));
  }
  return Status::Ok();
}

Status EvaluatePost(PostProcessor* pp, const std::vector<PostEvalSentence>& all_sentences,
                    const PostEvalOptions& options, PostEvalResult* out) {
  *out = PostEvalResult();
  std::vector<PostEvalSentence> part;
  if (options.part != PostEvalPart::kAll) {
    for (const PostEvalSentence& s : all_sentences) {
      if (PostEvalIsHeldOut(s.text) == (options.part == PostEvalPart::kHeldOut)) part.push_back(s);
    }
  }
  const std::vector<PostEvalSentence>& sentences =
      options.part == PostEvalPart::kAll ? all_sentences : part;
  Rng rng{options.seed};
  std::string got, expected, input;
  std::vector<std::string> eojeols;
  std::vector<ParticleSite> sites;
  auto report = [&](std::string_view kind, bool ok) {
    if (options.on_case && (!ok || !options.report_only_failures)) {
      options.on_case(kind, input, expected, got);
    }
  };
  auto process = [&](const std::string& text, std::string* result) {
    result->clear();
    return pp->Process(text, result);
  };
  // (a) clean text
  size_t chars = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const PostEvalSentence& s : sentences) {
    input = s.text;
    expected = s.text;
    ONDO_RETURN_IF_ERROR(process(input, &got));
    for (const char c : input) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    ++out->sentences;
    const std::vector<std::string_view> a = Words(input), b = Words(got);
    out->eojeols += a.size();
    for (const PostEvalToken& t : s.tokens) {
      for (const std::string& tag : t.tags) out->gold_particles += tag.size() >= 2 && tag[0] == 'J';
    }
    bool by_particle = false, by_repeat = false, by_style = false;
    for (const PostChange& c : pp->changes()) {
      out->clean_changed_particles += c.kind == ChangeKind::kParticle;
      by_particle = by_particle || c.kind == ChangeKind::kParticle;
      by_repeat = by_repeat || c.kind == ChangeKind::kRepeatEojeol ||
                  c.kind == ChangeKind::kRepeatClause || c.kind == ChangeKind::kRepeatSentence;
      by_style = by_style || c.kind == ChangeKind::kPunctuation || c.kind == ChangeKind::kFlood ||
                 c.kind == ChangeKind::kBracket;
    }
    if (got != input) {
      out->clean_changed_by_particles += by_particle;
      out->clean_changed_by_repeats += by_repeat;
      out->clean_changed_by_style += by_style;
    }
    if (got != input) {
      ++out->clean_changed_sentences;
      if (a.size() == b.size()) {
        for (size_t i = 0; i < a.size(); ++i) out->clean_changed_eojeols += a[i] != b[i];
      } else {
        out->clean_changed_eojeols += a.size();
      }
    }
    report("clean", got == input);
  }
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out->chars_per_s = out->seconds > 0 ? static_cast<double>(chars) / out->seconds : 0;

  // (b) corrupted copies
  std::string clean_out;
  std::vector<size_t> to;  // PostEvalAlignEojeols
  std::vector<uint8_t> joined;
  for (const PostEvalSentence& s : sentences) {
    FindParticleSites(s, &eojeols, &sites);
    const std::string text = Join(eojeols);
    ONDO_RETURN_IF_ERROR(process(text, &clean_out));
    // Particles: swap a share of the sites.
    {
      std::vector<std::string> bad = eojeols;
      std::vector<uint8_t> corrupted(eojeols.size(), 0);
      size_t n = 0;
      for (size_t k = sites.size(); k-- > 0;) {  // back to front: offsets stay valid
        const ParticleSite& p = sites[k];
        if (rng.Unit() >= options.particle_swap_rate) continue;
        const std::string other = p.form == p.a->cons ? p.a->vowel : p.a->cons;
        bad[p.eojeol].replace(p.byte, p.form.size(), other);
        corrupted[p.eojeol] = 1;
        ++n;
      }
      if (n > 0) {
        input = Join(bad);
        expected = text;
        ONDO_RETURN_IF_ERROR(process(input, &got));
        const std::vector<std::string_view> w = Words(got);
        const std::vector<std::string_view> c = Words(clean_out);
        // Where each clean eojeol stands in the processed clean text (`to`; `joined` when
        // processing joined it with its neighbours, as the space before a final mark is
        // removed: 커스텀 !! -> 커스텀!!), so that a style change elsewhere in the sentence does
        // not hide the particle sites. Empty when the processed clean text does not map so (a
        // repeat removed): then, as when the output has another number of eojeols than the
        // processed clean text, no site of the sentence counts as fixed.
        PostEvalAlignEojeols(eojeols, c, &to, &joined);
        const bool aligned = !to.empty() && w.size() == c.size();
        for (size_t i = 0; i < eojeols.size(); ++i) {
          if (corrupted[i]) {
            out->particle_errors += 1;
            // Fixed: the output eojeol equals the clean one, or (joined) the output equals the
            // processed clean eojeol, which holds the clean one's bytes unchanged.
            out->particle_fixed +=
                aligned && (joined[i] ? w[to[i]] == c[to[i]] : w[to[i]] == eojeols[i]);
          } else if (!aligned || w[to[i]] != c[to[i]]) {
            ++out->particle_other_changed;
          }
        }
        report("particle", aligned && got == clean_out);
      }
    }
    const size_t m = eojeols.size();
    // Repetition: one of duplicated sentence, duplicated eojeol run, one-eojeol loop.
    {
      std::vector<std::string> rep = eojeols;
      bool made = false;
      const size_t kind = rng.Below(3);
      if (kind == 0) {
        rep.insert(rep.end(), eojeols.begin(), eojeols.end());
        made = true;
      } else if (kind == 1 && m >= 3) {
        const size_t len = 2 + rng.Below(2);
        for (int tries = 0; tries < 8 && !made && len < m; ++tries) {
          const size_t i = rng.Below(m - len + 1);
          bool ok = true;
          for (size_t t = i; t < i + len; ++t)
            ok = ok && !EndsSentence(eojeols[t]) && !HasBracket(eojeols[t]);
          if (!ok) continue;
          // A pair said twice is emphasis the post-processor keeps: a looped pair has 3 copies.
          for (size_t copies = len == 2 ? 2 : 1; copies > 0; --copies) {
            rep.insert(rep.begin() + static_cast<std::ptrdiff_t>(i + len),
                       eojeols.begin() + static_cast<std::ptrdiff_t>(i),
                       eojeols.begin() + static_cast<std::ptrdiff_t>(i + len));
          }
          made = true;
        }
      } else if (kind == 2 && m >= 1) {
        for (int tries = 0; tries < 8 && !made; ++tries) {
          const size_t i = rng.Below(m);
          if (EndsSentence(eojeols[i]) || HasBracket(eojeols[i])) continue;
          const size_t extra = 2 + rng.Below(3);
          rep.insert(rep.begin() + static_cast<std::ptrdiff_t>(i), extra, eojeols[i]);
          made = true;
        }
      }
      if (made) {
        input = Join(rep);
        expected = clean_out;
        ONDO_RETURN_IF_ERROR(process(input, &got));
        ++out->repetitions;
        out->repetitions_removed += got == clean_out;
        report("repetition", got == clean_out);
      }
    }
    // Flood: the last syllable of an eojeol repeated; the expected text keeps max_char_run.
    {
      for (int tries = 0; tries < 8; ++tries) {
        const size_t i = rng.Below(m);
        if (m == 0) break;
        const std::string& w = eojeols[i];
        const char32_t lastc = LastCodePoint(w);
        if (!IsHangulSyllable(lastc) || w.size() < 6) continue;
        const std::string_view tail(w.data() + w.size() - 3, 3);
        if (std::string_view(w.data() + w.size() - 6, 3) == tail) continue;  // already doubled
        std::vector<std::string> fl = eojeols, ex = eojeols;
        const size_t extra = 3 + rng.Below(5);
        for (size_t t = 0; t < extra; ++t) fl[i] += tail;
        for (int t = 1; t < pp->options().max_char_run; ++t) ex[i] += tail;
        input = Join(fl);
        std::string ex_text = Join(ex);
        ONDO_RETURN_IF_ERROR(process(ex_text, &expected));
        ONDO_RETURN_IF_ERROR(process(input, &got));
        ++out->floods;
        out->floods_limited += got == expected;
        report("flood", got == expected);
        break;
      }
    }
    // Punctuation: a space before the final mark, or a doubled mark at an eojeol end.
    {
      std::vector<std::string> pu = eojeols;
      bool made = false;
      if (rng.Below(2) == 0) {
        if (m > 0 && pu[m - 1].size() > 1 && IsSentenceMark(pu[m - 1].back()) &&
            !IsSentenceMark(pu[m - 1][pu[m - 1].size() - 2])) {
          const char mark = pu[m - 1].back();
          pu[m - 1].pop_back();
          pu.push_back(std::string(1, mark));
          made = true;
        }
      } else {
        std::vector<size_t> cand;
        for (size_t i = 0; i < m; ++i) {
          const std::string& w = pu[i];
          if (w.size() > 1 && (w.back() == ',' || w.back() == '!' || w.back() == '?') &&
              !IsSentenceMark(w[w.size() - 2]) && w[w.size() - 2] != ',') {
            cand.push_back(i);
          }
        }
        if (!cand.empty()) {
          const size_t i = cand[rng.Below(cand.size())];
          const char mark = pu[i].back();
          // A loop of marks, 4-6 in all: 2-3 ! or ? and two dots are human style and kept
          // (more dots read as an ellipsis, so an eojeol ending in . is no candidate).
          pu[i].append(3 + rng.Below(3), mark);
          made = true;
        }
      }
      if (made) {
        input = Join(pu);
        expected = clean_out;
        ONDO_RETURN_IF_ERROR(process(input, &got));
        ++out->punct_errors;
        out->punct_fixed += got == clean_out;
        report("punct", got == clean_out);
      }
    }
  }
  return Status::Ok();
}

}  // namespace ondo::korean
