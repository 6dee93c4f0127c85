// Korean post-processor (post_processor.h): sentence segmentation of a byte stream, then per
// sentence punctuation -> bracket balance -> repetition -> particles -> repeated-sentence check.
#include "tokenizer/korean/post/post_processor.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "tokenizer/korean/hangul.h"

namespace ondo::korean {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Sentence marks handled as runs.
bool IsMark(char32_t c) {
  return c == '.' || c == '!' || c == '?' || c == ',' || c == ';' || c == 0x2026;
}
// A sentence made of marks only (the second "." of "알았는데. . .") is not a repeated sentence.
bool HasWordCharacter(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t c = 0;
    if (!DecodeUtf8(s, &pos, &c)) return true;
    if (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : (c != 0x2026 && c != 0x3002)) {
      return true;
    }
  }
  return false;
}
char32_t MapFullwidth(char32_t c) {
  switch (c) {
    case 0xFF01:
      return '!';
    case 0xFF1F:
      return '?';
    case 0xFF0E:
    case 0x3002:
      return '.';
    case 0xFF0C:
      return ',';
    default:
      return c;
  }
}
bool Floodable(char32_t c) {
  return IsHangulSyllable(c) || IsCompatibilityJamo(c) || (c < 0x80 && std::isalpha(c)) ||
         c == '~' || c == '^';
}
// 가 after 어디론, 언젠, 누군, 뭔, 어딘, 무언 is the ending -ㄴ가 of an indefinite (어디론가
// 'somewhere', 누군가 'someone'), and after 건 (거 + ㄴ), 을랑 the question ending -ㄴ가
// (아물어가는건가, 됐을랑가), not a subject particle. For 인가 see QuestionInga.
size_t PrevCodePoint(std::string_view s, size_t end, char32_t* cp);
bool IndefiniteGa(std::string_view host, std::string_view particle) {
  if (particle != "가") return false;
  for (std::string_view h : {"어디론", "언젠", "누군", "뭔", "어딘", "무언", "을랑"}) {
    if (host.ends_with(h)) return true;
  }
  // 건 = 거 + ㄴ (것은) after a demonstrative or an adnominal ending in ㄴ/ㄹ (그건가, 먹는건가,
  // 할건가), not the end of a noun (슬로건가, 사건가, 1천1백여건가 are 슬로건이 ...).
  if (host.ends_with("건")) {
    const std::string_view before = host.substr(0, host.size() - 3);
    if (before.empty()) return true;
    char32_t c = 0;
    PrevCodePoint(before, before.size(), &c);
    for (const char32_t d : {U'이', U'그', U'저', U'요', U'고'}) {
      if (c == d) return true;
    }
    Syllable sy;
    return DecomposeSyllable(c, &sy) && (sy.t == 4 || sy.t == 8);  // ㄴ, ㄹ
  }
  if (host == "몬") return true;  // 몬가: colloquial 뭔가
  return false;
}
// 인가 ending a sentence or before 보다, 싶다, 아닌가, 모르다 is the copula's question ending
// (인연인가?, 썸인가 봐, 썸인가 아닌가), not 인 + 가 (디자인가 좋다 is a wrong 가).
bool QuestionInga(std::string_view host, std::string_view particle, bool final,
                  std::string_view next_word) {
  if (particle != "가" || !host.ends_with("인")) return false;
  if (final) return true;
  for (std::string_view w : {"봐", "보", "봄", "봤", "싶", "아닌", "모르"}) {
    if (next_word.starts_with(w)) return true;
  }
  return false;
}

// Closing quotes/brackets skipped when looking for a particle's host or a sentence end.
bool IsCloser(char32_t c) {
  return c == ')' || c == ']' || c == '}' || c == '"' || c == '\'' || c == 0x201D || c == 0x2019 ||
         c == 0x300D || c == 0x300F || c == 0x300B || c == 0x3009 || c == '>';
}
// Bracket pairs that are balanced (single quotes are not: ' and ’ double as apostrophes).
int OpenerIndex(char32_t c) {
  switch (c) {
    case '(':
      return 0;
    case '[':
      return 1;
    case '{':
      return 2;
    case 0x201C:
      return 3;  // “
    case 0x300C:
      return 4;  // 「
    case 0x300E:
      return 5;  // 『
    case 0x300A:
      return 6;  // 《
    case 0x3008:
      return 7;  // 〈
    default:
      return -1;
  }
}
int CloserIndex(char32_t c) {
  switch (c) {
    case ')':
      return 0;
    case ']':
      return 1;
    case '}':
      return 2;
    case 0x201D:
      return 3;
    case 0x300D:
      return 4;
    case 0x300F:
      return 5;
    case 0x300B:
      return 6;
    case 0x3009:
      return 7;
    default:
      return -1;
  }
}
constexpr int kQuoteIndex = 8;  // ASCII "

// The text before a ) that opens a sentence as a list or footnote marker: 1) 26) a) RT) 가).
bool ListMarker(std::string_view before) {
  if (before.empty()) return false;
  if (before.size() <= 3) {
    bool alnum = true;
    for (const char c : before) alnum = alnum && std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (alnum) return true;
  }
  size_t pos = 0;
  char32_t c = 0;
  return DecodeUtf8(before, &pos, &c) && pos == before.size() && IsHangulSyllable(c);
}

// Whether only sentence marks, closers and whitespace are in `rest` (the text after a closer).
bool EndsWithMarksOnly(std::string_view rest) {
  size_t pos = 0;
  while (pos < rest.size()) {
    char32_t c = 0;
    if (!DecodeUtf8(rest, &pos, &c)) return false;
    c = MapFullwidth(c);
    if (!(IsMark(c) || IsCloser(c) || c == ' ' || c == '\t')) return false;
  }
  return true;
}

// Whether an opener after `before` (the sentence up to it) opens a quotation or parenthetical
// that may go on past the line: it begins the sentence (after whitespace or other openers), or
// it follows a comma or colon and a space.
bool OpensQuotation(std::string_view before) {
  size_t e = before.size();
  while (e > 0 && (before[e - 1] == ' ' || before[e - 1] == '\t')) --e;
  const bool spaced = e < before.size();
  for (;;) {
    if (e == 0) return true;
    const char c = before[e - 1];
    if (c == '(' || c == '[' || c == '{' || c == '"') {
      --e;
      continue;
    }
    if ((c == ',' || c == ':') && spaced) return true;
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t b = e - 1;
      while (b > 0 && (static_cast<unsigned char>(before[b]) & 0xC0) == 0x80) --b;
      size_t p = b;
      char32_t cp = 0;
      if (DecodeUtf8(before, &p, &cp) && p == e && OpenerIndex(cp) >= 0) {
        e = b;
        continue;
      }
    }
    return false;
  }
}

// Decodes the code point ending at byte `end` (exclusive); returns its start, or end when
// nothing valid is there.
size_t PrevCodePoint(std::string_view s, size_t end, char32_t* cp) {
  if (end == 0) return end;
  size_t start = end - 1;
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
    --start;
  }
  size_t pos = start;
  if (!DecodeUtf8(s, &pos, cp) || pos != end) return end;
  return start;
}

uint64_t Hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h | 1;  // 0 marks an empty history slot
}

// The right allomorph of particle `form` (tag `tag`) after a host ending in `sound`
// ('V' vowel, 'L' ㄹ, 'C' other consonant); empty when the particle has no allomorphs.
// `quoted`: the host is a quotation (never add 이 to 라고 then).
std::string_view RightParticle(std::string_view form, Tag tag, char sound, bool quoted, char* buf) {
  const bool vowel = sound == 'V';
  const bool cons = !vowel;  // L or C
  auto pair = [&](std::string_view c_form, std::string_view v_form) -> std::string_view {
    if (form != c_form && form != v_form) return {};
    return cons ? c_form : v_form;
  };
  switch (tag) {
    case Tag::kJKS:
    case Tag::kJKC:
      return pair("이", "가");
    case Tag::kJKO:
      return pair("을", "를");
    case Tag::kJKV:
      if (form == "아" || form == "야") return pair("아", "야");
      if (form == "여" || form == "이여") return pair("이여", "여");
      return {};
    default:
      break;
  }
  if ((tag == Tag::kJKB || tag == Tag::kJC) && (form == "와" || form == "과")) {
    return pair("과", "와");
  }
  if (tag == Tag::kJX && (form == "은" || form == "는")) return pair("은", "는");
  // 으로 family: 으로 after a consonant other than ㄹ, 로 after a vowel or ㄹ.
  if (tag == Tag::kJKB || tag == Tag::kJX) {
    std::string_view rest;
    if (form.starts_with("으로")) {
      rest = form.substr(6);
    } else if (form.starts_with("로")) {
      rest = form.substr(3);
    } else {
      rest = "-";
    }
    if (rest != "-" && (rest.empty() || rest == "서" || rest == "써" || rest == "부터")) {
      const bool want_eu = sound == 'C';
      size_t n = 0;
      if (want_eu) {
        std::memcpy(buf, "으", 3);
        n = 3;
      }
      std::memcpy(buf + n, "로", 3);
      n += 3;
      std::memcpy(buf + n, rest.data(), rest.size());
      return std::string_view(buf, n + rest.size());
    }
  }
  // 이- family: (이)나 (이)랑 (이)라고 (이)며 (이)라도 (이)야 (이)든지 (이)든 (이)란 (이)야말로
  // (이)나마.
  static constexpr std::string_view kBare[] = {"나",   "랑", "라고", "며",     "라도", "야",
                                               "든지", "든", "란",   "야말로", "나마"};
  std::string_view bare = form;
  if (bare.starts_with("이")) bare.remove_prefix(3);
  bool known = false;
  for (const std::string_view b : kBare) known = known || b == bare;
  if (!known) return {};
  if (tag == Tag::kJKS || tag == Tag::kJKO) return {};
  if (bare == "라고" && tag != Tag::kJKQ) return {};
  if (bare == "야" && tag != Tag::kJX) return {};
  if (vowel) return bare;
  (void)quoted;  // a quoted sentence ends in an ending, which is no particle host
  std::memcpy(buf, "이", 3);
  std::memcpy(buf + 3, bare.data(), bare.size());
  return std::string_view(buf, 3 + bare.size());
}

// Analyzer flags on Hangul hosts that are more often a word than a wrong particle: 과 after
// a noun that names a family or department (고양이과 猫科, 전자과 電子科). (One-syllable hosts:
// OneSyllableHost and PostOptions::short_host_margin.)
bool SuspectHangulFlag(std::string_view in, size_t word_begin, size_t host_end,
                       std::string_view form) {
  size_t hb = host_end;  // start of the Hangul run before the particle
  for (;;) {
    char32_t cp = 0;
    const size_t q = PrevCodePoint(in, hb, &cp);
    if (q == hb || q < word_begin || !IsHangulSyllable(cp)) break;
    hb = q;
  }
  const std::string_view host = in.substr(hb, host_end - hb);
  // A counter after a number is no family name (2개과 -> 2개와).
  if (hb > word_begin && in[hb - 1] >= '0' && in[hb - 1] <= '9') return false;
  if (form == "과") {
    static constexpr std::string_view kKwa[] = {
        "고양이", "개",   "소",   "사슴", "장미", "국화", "전자", "기계", "화학", "수학",
        "미술",   "체육", "간호", "치",   "외",   "내",   "소아", "부인", "안",   "피부",
        "교무",   "학사", "총무", "기획", "비서", "가지", "벼",   "오리", "여우", "노루"};
    for (const std::string_view k : kKwa) {
      if (host == k) return true;
    }
  }
  return false;
}

// Whether the host of a particle at host_end is one Hangul syllable (제이, 나은, 적가), not a
// counter after a number (24도이 -> 24도가).
bool OneSyllableHost(std::string_view in, size_t word_begin, size_t host_end) {
  char32_t cp = 0;
  const size_t q = PrevCodePoint(in, host_end, &cp);
  if (q == host_end || q < word_begin || !IsHangulSyllable(cp)) return false;
  if (q == word_begin) return true;
  char32_t before = 0;
  PrevCodePoint(in, q, &before);
  return !IsHangulSyllable(before) && !(before >= '0' && before <= '9');
}

// Whether a host of two or more syllables ends in a syllable without a final consonant whose
// vowel rarely precedes 이 inside a word: ㅡ (아돌프, 수아레스: ㅡ then 이 is written 의), and (issue
// 13, fourth round) ㅣ ㅢ ㅓ ㅕ ㅑ ㅛ ㅠ and the other compound vowels but ㅘ ㅞ (라리이, 가나모리이,
// 성현이이, 아서이, 미도리야이, 자본주의이). Names and words that end in 이 end in ㅏ ㅐ ㅔ ㅗ ㅜ ㅘ ㅞ
// + 이 (뭄바이, 간사이, 세르게이, 클로이, 생선구이, 노르웨이): in the clean text of KLUE, GSD, Kiwi
// (tuning part), the KLUE NLI dev set and the chat corpus, of 54 such eojeols only 기꺼이 (an
// adverb) ends otherwise. Such a host + 이 is not a name ending in 이 and needs no more than the
// usual margin. (ㅜ: PostProcessor::RareBeforeI.)
bool HostVowelRareBeforeI(std::string_view host) {
  char32_t last = 0;
  const size_t q = PrevCodePoint(host, host.size(), &last);
  if (q == 0 || q == host.size()) return false;
  char32_t before = 0;
  if (PrevCodePoint(host, q, &before) == q || !IsHangulSyllable(before)) return false;
  Syllable s;
  if (!DecomposeSyllable(last, &s) || s.t != 0) return false;
  // ㅑ 2, ㅒ 3, ㅓ 4, ㅕ 6, ㅖ 7, ㅙ 10, ㅚ 11, ㅛ 12, ㅝ 14, ㅟ 16, ㅠ 17, ㅡ 18, ㅢ 19, ㅣ 20
  // (jungseong indices); not ㅏ ㅐ ㅔ ㅗ ㅘ ㅜ ㅞ.
  switch (s.v) {
    case 2: case 3: case 4: case 6: case 7: case 10: case 11: case 12: case 14: case 16:
    case 17: case 18: case 19: case 20:
      return true;
    default:
      return false;
  }
}

bool HostTagOk(Tag t) {
  return IsNominalTag(t) || t == Tag::kXSN || t == Tag::kETN || t == Tag::kSN || t == Tag::kSL ||
         t == Tag::kSH || t == Tag::kSW || IsParticleTag(t);
}

}  // namespace

std::string_view ParticleForHost(std::string_view form, Tag tag, char sound, char buf[16]) {
  if (sound != 'V' && sound != 'L' && sound != 'C') return {};
  return RightParticle(form, tag, sound, false, buf);
}

std::string_view ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kPunctuation:
      return "punctuation";
    case ChangeKind::kBracket:
      return "bracket";
    case ChangeKind::kFlood:
      return "flood";
    case ChangeKind::kRepeatSentence:
      return "repeated-sentence";
    case ChangeKind::kRepeatClause:
      return "repeated-clause";
    case ChangeKind::kRepeatEojeol:
      return "repeated-eojeol";
    case ChangeKind::kParticle:
      return "particle";
  }
  return "?";
}

PostProcessor::PostProcessor(const Analyzer* analyzer, const PostOptions& options)
    : analyzer_(analyzer), options_(options) {}
PostProcessor::~PostProcessor() = default;

Status PostProcessor::Create(const Analyzer* analyzer, const PostOptions& options,
                             std::unique_ptr<PostProcessor>* out) {
  if (analyzer == nullptr) return InvalidArgument("post-processor: no analyzer");
  if (options.buffer_capacity < 64 || options.buffer_capacity > (1u << 30)) {
    return InvalidArgument("post-processor: buffer_capacity {} out of range [64, 2^30]",
                           options.buffer_capacity);
  }
  if (options.max_char_run < 1 || options.loop_char_run < options.max_char_run ||
      options.max_eojeol_repeats < 1 || options.sentence_history < 0 ||
      options.sentence_history > 4096) {
    return InvalidArgument(
        "post-processor: max_char_run, max_eojeol_repeats >= 1, loop_char_run >= max_char_run "
        "and sentence_history in [0, 4096] required");
  }
  std::unique_ptr<PostProcessor> p(new PostProcessor(analyzer, options));
  const size_t cap = options.buffer_capacity;
  p->pending_.reserve(cap);
  p->ws_.reserve(cap + 8);
  p->work_a_.reserve(2 * cap + 64);
  p->work_b_.reserve(2 * cap + 64);
  p->spans_.reserve(cap / 2 + 2);
  p->spans2_.reserve(cap / 2 + 2);
  p->keep_.reserve(cap / 2 + 2);
  p->edits_.reserve(cap / 2 + 2);
  p->history_.assign(static_cast<size_t>(options.sentence_history), 0);
  // Warm the analysis buffers with a buffer-sized text.
  std::string warm;
  warm.reserve(cap + 64);
  constexpr std::string_view kWarm = "서울에서 LLM을 사과를 학교로 3kg을 \"책\"을 먹었다. ";
  while (warm.size() + kWarm.size() <= cap) warm += kWarm;
  if (!warm.empty()) {
    ONDO_RETURN_IF_ERROR(
        analyzer->Analyze(warm, AnalyzeOptions{.lenient_particles = true}, &p->analysis_));
    ONDO_RETURN_IF_ERROR(analyzer->Analyze(warm, &p->analysis2_));
  }
  ONDO_RETURN_IF_ERROR(analyzer->Analyze("나이", &p->analysis_host_));  // one word at a time
  p->eojeol_buf_.reserve(2 * cap + 64);
  if (options.spacing) {
    ONDO_RETURN_IF_ERROR(Spacer::Create(analyzer, options.spacing_options, &p->spacer_));
    p->spaced_.reserve(2 * cap + 64);
  }
  *out = std::move(p);
  return Status::Ok();
}

void PostProcessor::Reset() {
  pending_.clear();
  ws_.clear();
  std::fill(history_.begin(), history_.end(), 0);
  history_next_ = 0;
  scan_ = 0;
  depth_ = 0;
  in_quote_ = false;
  dropped_last_ = false;
  changes_.clear();
}

void PostProcessor::Record(ChangeKind kind, std::string_view before, std::string_view after) {
  if (!options_.record_changes) return;
  changes_.push_back(PostChange{kind, std::string(before), std::string(after)});
}

Status PostProcessor::Process(std::string_view text, std::string* out) {
  ONDO_RETURN_IF_ERROR(ValidateUtf8(text));
  Reset();
  Status s = Push(text, out);
  if (s.ok()) s = Finish(out);
  if (!s.ok()) Reset();
  return s;
}

Status PostProcessor::Push(std::string_view chunk, std::string* out) {
  const size_t cap = options_.buffer_capacity;
  while (!chunk.empty()) {
    const size_t n = std::min(chunk.size(), cap - pending_.size());
    pending_.append(chunk.data(), n);
    chunk.remove_prefix(n);
    Status s = Drain(false, out);
    if (s.ok() && pending_.size() == cap) s = Drain(true, out);
    if (!s.ok()) {
      Reset();
      return s;
    }
  }
  return Status::Ok();
}

Status PostProcessor::Finish(std::string* out) {
  Status s = Drain(false, out);
  if (s.ok() && !pending_.empty()) {
    // Everything left is one last sentence (an incomplete UTF-8 tail is an error there).
    const size_t n = pending_.size();
    size_t b = 0;
    while (b < n && IsSpace(pending_[b])) ++b;
    ws_.append(pending_, 0, b);
    size_t e = n;
    while (e > b && IsSpace(pending_[e - 1])) --e;
    if (e > b) s = ProcessSentence(std::string_view(pending_).substr(b, e - b), out);
    if (s.ok()) ws_.append(pending_, e, n - e);
    pending_.clear();
  }
  if (s.ok()) out->append(ws_);
  const std::vector<PostChange> keep = std::move(changes_);
  Reset();
  changes_ = std::move(keep);
  return s;
}

Status PostProcessor::Drain(bool force_cut, std::string* out) {
  // Consumes [0, cut) of pending_: leading whitespace to ws_, the rest as one sentence.
  auto consume = [&](size_t cut, bool newline) -> Status {
    size_t b = 0;
    while (b < cut && IsSpace(pending_[b])) ++b;
    ws_.append(pending_, 0, b);
    size_t e = cut;
    while (e > b && IsSpace(pending_[e - 1])) --e;
    if (e > b)
      ONDO_RETURN_IF_ERROR(ProcessSentence(std::string_view(pending_).substr(b, e - b), out));
    ws_.append(pending_, e, cut - e);
    if (newline) ws_.push_back('\n');
    const size_t drop = cut + (newline ? 1 : 0);
    pending_.erase(0, drop);
    scan_ = scan_ >= drop ? scan_ - drop : 0;
    if (ws_.size() > options_.buffer_capacity) {  // keep ws_ bounded
      out->append(ws_);
      ws_.clear();
    }
    return Status::Ok();
  };
  size_t i = scan_;
  while (i < pending_.size()) {
    const unsigned char c = static_cast<unsigned char>(pending_[i]);
    if (c == '\n') {
      ONDO_RETURN_IF_ERROR(consume(i, true));
      depth_ = 0;
      in_quote_ = false;
      i = 0;
      continue;
    }
    if (IsSpace(static_cast<char>(c)) && depth_ == 0 && !in_quote_ && i > 0) {
      // A sentence ends at whitespace after . ! ? or … (and closing quotes/brackets).
      size_t p = i;
      char32_t cp = 0;
      for (;;) {
        const size_t q = PrevCodePoint(pending_, p, &cp);
        if (q == p) break;
        p = q;
        if (!IsCloser(cp)) break;
      }
      if (p < i && (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 || cp == 0xFF01 ||
                    cp == 0xFF1F || cp == 0x3002)) {
        ONDO_RETURN_IF_ERROR(consume(i, false));
        i = 0;
        scan_ = 0;
        // Skip the whitespace itself so it is not re-tested as an end.
        while (i < pending_.size() && IsSpace(pending_[i])) ++i;
        continue;
      }
    }
    if (c == '"') {
      in_quote_ = !in_quote_;
    } else if (c < 0x80) {
      if (c == '(' || c == '[' || c == '{') ++depth_;
      if ((c == ')' || c == ']' || c == '}') && depth_ > 0) --depth_;
    } else if (c == 0xE2 || c == 0xE3) {
      // A bracket of three bytes (《 》 「 」 ...): in a stream its bytes may arrive one by
      // one; wait for the whole character so depth_ does not depend on the chunking.
      if (i + 3 > pending_.size()) break;
      size_t pos = i;
      char32_t cp = 0;
      if (DecodeUtf8(pending_, &pos, &cp)) {
        if (OpenerIndex(cp) >= 0) ++depth_;
        if (CloserIndex(cp) >= 0 && depth_ > 0) --depth_;
      }
    }
    ++i;
  }
  scan_ = i;
  if (force_cut && !pending_.empty()) {
    // Buffer full without a sentence end: cut at the last whitespace, else at the last
    // character boundary.
    size_t cut = pending_.size();
    while (cut > 0 && !IsSpace(pending_[cut - 1])) --cut;
    if (cut == 0) {
      cut = pending_.size();
      const size_t start = LastCodePointStart(pending_);
      size_t pos = start;
      char32_t cp = 0;
      if (!DecodeUtf8(pending_, &pos, &cp) && cut - start < 4) cut = start;  // incomplete tail
      if (cut == 0) cut = pending_.size();
    }
    ONDO_RETURN_IF_ERROR(consume(cut, false));
  }
  return Status::Ok();
}

Status PostProcessor::ProcessSentence(std::string_view body, std::string* out) {
  ONDO_RETURN_IF_ERROR(ValidateUtf8(body));
  if (spacer_ != nullptr) {  // spacing first: the other steps read its eojeols
    ONDO_RETURN_IF_ERROR(spacer_->Restore(body, &spaced_));
    body = spaced_;
  }
  std::string& a = work_a_;
  std::string& b = work_b_;
  a.clear();
  if (options_.punctuation) {
    Punctuate(body, &a);
    BalanceBrackets(&a);
  } else {
    a.append(body);
  }
  if (options_.repetition) RemoveRepeats(&a);
  b.clear();
  if (options_.particles) {
    ONDO_RETURN_IF_ERROR(FixParticles(a, &b));
  } else {
    b.append(a);
  }
  if (b.empty()) return Status::Ok();
  if (options_.repetition && !history_.empty() && HasWordCharacter(b)) {
    const uint64_t h = Hash(b);
    if (std::find(history_.begin(), history_.end(), h) != history_.end()) {
      Record(ChangeKind::kRepeatSentence, b, "");
      // Drop it with the spaces before it (newlines stay).
      size_t w = 0;
      for (const char c : ws_) {
        if (c == '\n') ws_[w++] = c;
      }
      ws_.resize(w);
      dropped_last_ = true;
      return Status::Ok();
    }
    history_[history_next_] = h;
    history_next_ = (history_next_ + 1) % history_.size();
  }
  out->append(ws_);
  ws_.clear();
  out->append(b);
  dropped_last_ = false;
  return Status::Ok();
}

void PostProcessor::Punctuate(std::string_view in, std::string* out) {
  size_t pos = 0;
  char32_t prev = 0;  // the code point before `pos` (0 at the start)
  while (pos < in.size()) {
    const size_t start = pos;
    char32_t cp = 0;
    DecodeUtf8(in, &pos, &cp);  // validated by the caller
    cp = MapFullwidth(cp);
    if (!IsMark(cp)) {
      if (Floodable(cp) && cp != prev) {
        // A run of one character [start, end): count it whole, then keep all of it (human
        // style) or cut it to max_char_run (a loop).
        size_t end = pos;
        int n = 1;
        for (;;) {
          size_t p2 = end;
          char32_t c2 = 0;
          if (p2 >= in.size() || !DecodeUtf8(in, &p2, &c2) || c2 != cp) break;
          end = p2;
          ++n;
        }
        // A Hangul syllable repeated inside a word is a loop from max_char_run + 1 copies on
        // (좋다다다다). Runs of a jamo, a Latin letter, ~ or ^, or of
        // a syllable that begins its word (ㅋㅋㅋㅋㅋ, ㅠㅠㅠㅠ, 하하하하하하, 쿵쿵쿵쿵, ~~~~) are human
        // laughter, crying and onomatopoeia: a loop only beyond loop_char_run copies.
        // (Begins its word: at the start or after whitespace; after a bracket, quote or %
        // it still ends a word: 혐의(…)도도도도, 30%는는는는.)
        const bool in_word = IsHangulSyllable(cp) && start > 0 && !IsSpace(in[start - 1]);
        const int limit = in_word ? options_.max_char_run : options_.loop_char_run;
        if (n > limit) {
          const size_t char_len = pos - start;
          const size_t keep = char_len * static_cast<size_t>(options_.max_char_run);
          out->append(in.substr(start, keep));
          Record(ChangeKind::kFlood, in.substr(start, end - start), in.substr(start, keep));
        } else {
          out->append(in.substr(start, end - start));
        }
        pos = end;
        prev = cp;
        continue;
      }
      out->append(in.substr(start, pos - start));
      prev = cp;
      continue;
    }
    prev = 0;
    // A run of marks [start, end).
    size_t end = pos;
    int dots = 0, lead_dots = 0, q = 0, ex = 0, comma = 0, semi = 0;
    int same = 0, longest_same = 0;  // identical ! ? , in a row
    char32_t last_mark = 0;
    bool leading = true, ellipsis_char = false;
    auto count = [&](char32_t m) {
      same = m == last_mark ? same + 1 : 1;
      last_mark = m;
      if (m == '!' || m == '?' || m == ',') longest_same = std::max(longest_same, same);
      if (m == '.' || m == 0x2026) {
        const int d = m == '.' ? 1 : 3;
        dots += d;
        if (leading) lead_dots += d;
        if (m == 0x2026) ellipsis_char = true;
        return;
      }
      leading = false;
      if (m == '?') ++q;
      if (m == '!') ++ex;
      if (m == ',') ++comma;
      if (m == ';') ++semi;
    };
    count(cp);
    for (;;) {
      size_t p2 = end;
      char32_t c2 = 0;
      if (p2 >= in.size() || !DecodeUtf8(in, &p2, &c2)) break;
      c2 = MapFullwidth(c2);
      if (!IsMark(c2)) break;
      count(c2);
      end = p2;
    }
    const std::string_view orig = in.substr(start, end - start);
    // No space before a mark that ends a word (followed by space, end or a closer).
    bool ends_word = end >= in.size() || IsSpace(in[end]);
    if (!ends_word) {
      size_t p2 = end;
      char32_t c2 = 0;
      ends_word = DecodeUtf8(in, &p2, &c2) && IsCloser(c2);
    }
    if (ends_word && !out->empty() && IsSpace(out->back())) {
      size_t e = out->size();
      while (e > 0 && IsSpace((*out)[e - 1])) --e;
      if (e > 0) {
        Record(ChangeKind::kPunctuation, std::string_view(*out).substr(e), "");
        out->resize(e);
      }
    }
    // A loop of marks (issue 13: human style stays as written): 4+ identical ! ? or , in a
    // row (좋다!!!!, 뭐????, 그리고,,,,), more than kMaxMixedMarks ! ? , in all (?!?!?!?!),
    // more than kMaxDots dots (… counts 3), more than loop_char_run ; (;;; is a sweat drop).
    // It collapses to one mark: a run with a ? becomes ?, else ! (after a leading ellipsis:
    // ...?), dots become ..., commas ,. Everything else (.., ......, ,,, ..!, ,!, .!!!, ?!?!,
    // ……., ;;;) is written as it was, fullwidth marks in ASCII.
    constexpr int kLoopSame = 4, kMaxMixedMarks = 6, kMaxDots = 12;
    const bool loop = longest_same >= kLoopSame || q + ex + comma > kMaxMixedMarks ||
                      dots > kMaxDots || semi > options_.loop_char_run;
    const size_t out_begin = out->size();
    if (!loop) {
      size_t p2 = start;
      while (p2 < end) {
        const size_t s2 = p2;
        char32_t c2 = 0;
        DecodeUtf8(in, &p2, &c2);
        const char32_t m = MapFullwidth(c2);
        if (m != c2) {
          out->push_back(static_cast<char>(m));
        } else {
          out->append(in.substr(s2, p2 - s2));
        }
      }
    } else if (q + ex > 0) {
      if (lead_dots >= 3) out->append(ellipsis_char && lead_dots == 3 ? "…" : "...");
      out->append(q > 0 ? "?" : "!");
    } else if (dots > 0) {
      out->append(dots >= 3 ? (ellipsis_char && dots == 3 ? "…" : "...") : ".");
    } else if (comma > 0) {
      out->append(",");
    } else {
      out->append(";");
    }
    if (std::string_view(*out).substr(out_begin) != orig) {
      Record(ChangeKind::kPunctuation, orig, std::string_view(*out).substr(out_begin));
    }
    pos = end;
  }
}

void PostProcessor::BalanceBrackets(std::string* s) {
  // Stack of open brackets as (kind, byte offset); unmatched ones are deleted.
  struct Open {
    int kind;
    uint32_t at, len;
  };
  constexpr int kMaxDepth = 32;
  Open stack[kMaxDepth];
  int top = 0;
  edits_.clear();
  size_t pos = 0;
  while (pos < s->size()) {
    const size_t start = pos;
    char32_t cp = 0;
    if (!DecodeUtf8(*s, &pos, &cp)) continue;
    int k = -1;
    bool opener = false;
    if (cp == '"') {
      if (top > 0 && stack[top - 1].kind == kQuoteIndex) {
        --top;
        continue;
      }
      k = kQuoteIndex;
      opener = true;
    } else if ((k = OpenerIndex(cp)) >= 0) {
      opener = true;
    } else if ((k = CloserIndex(cp)) >= 0) {
      opener = false;
    } else {
      continue;
    }
    const uint32_t len = static_cast<uint32_t>(pos - start);
    if (opener) {
      if (top < kMaxDepth) stack[top++] = Open{k, static_cast<uint32_t>(start), len};
      continue;
    }
    // A closer: pop to its opener when it is open, else it is unmatched.
    int j = top - 1;
    while (j >= 0 && stack[j].kind != k) --j;
    if (j < 0 && k == 3) continue;  // a lone ” closes a quote begun in an earlier sentence
    if (j < 0 && k == 0 && ListMarker(std::string_view(*s).substr(0, start))) continue;
    // A closer that ends the sentence (only marks and closers follow) closes a bracket
    // opened in an earlier line (a parenthetical or quotation cut into lines: ...ㅋㅋㅋ)).
    if (j < 0 && EndsWithMarksOnly(std::string_view(*s).substr(pos))) continue;
    if (j < 0) {
      edits_.push_back(Edit{static_cast<uint32_t>(start), static_cast<uint32_t>(pos), 0, {}});
    } else {
      for (int x = j + 1; x < top; ++x) {
        edits_.push_back(Edit{stack[x].at, stack[x].at + stack[x].len, 0, {}});
      }
      top = j;
    }
  }
  for (int x = 0; x < top; ++x) {
    // A lone ASCII " right after a word (없다"고) closes a quote begun in an earlier sentence.
    if (stack[x].kind == kQuoteIndex && stack[x].at > 0 && !IsSpace((*s)[stack[x].at - 1])) {
      continue;
    }
    // An opener that begins the sentence, or a quotation after a comma or a colon, opens a
    // quotation or parenthetical that goes on past the line (a quotation of several
    // paragraphs opens each of them: "승상, 지습은 ... 좋습니다. / 끝나자마자, "음, ...).
    if (OpensQuotation(std::string_view(*s).substr(0, stack[x].at))) continue;
    edits_.push_back(Edit{stack[x].at, stack[x].at + stack[x].len, 0, {}});
  }
  if (edits_.empty()) return;
  std::sort(edits_.begin(), edits_.end(),
            [](const Edit& x, const Edit& y) { return x.begin < y.begin; });
  size_t w = 0, r = 0;
  for (const Edit& e : edits_) {
    Record(ChangeKind::kBracket, std::string_view(*s).substr(e.begin, e.end - e.begin), "");
    while (r < e.begin) (*s)[w++] = (*s)[r++];
    r = e.end;
  }
  while (r < s->size()) (*s)[w++] = (*s)[r++];
  s->resize(w);
  // Removing a bracket may leave a double space.
  w = 0;
  for (r = 0; r < s->size(); ++r) {
    if ((*s)[r] == ' ' && w > 0 && (*s)[w - 1] == ' ') continue;
    (*s)[w++] = (*s)[r];
  }
  while (w > 0 && (*s)[w - 1] == ' ') --w;
  r = 0;
  while (r < w && (*s)[r] == ' ') ++r;
  s->resize(w);
  s->erase(0, r);
}

void PostProcessor::RemoveRepeats(std::string* s) {
  // Eojeol spans and their comparison keys (trailing . , ! ? ; … stripped).
  spans_.clear();
  spans2_.clear();
  size_t i = 0;
  const size_t n = s->size();
  while (i < n) {
    while (i < n && IsSpace((*s)[i])) ++i;
    if (i >= n) break;
    const size_t b = i;
    while (i < n && !IsSpace((*s)[i])) ++i;
    spans_.push_back(Span{static_cast<uint32_t>(b), static_cast<uint32_t>(i)});
    size_t ke = i;
    for (;;) {
      char32_t cp = 0;
      const size_t q = PrevCodePoint(*s, ke, &cp);
      if (q == ke || q < b || !IsMark(cp)) break;
      ke = q;
    }
    spans2_.push_back(Span{static_cast<uint32_t>(b), static_cast<uint32_t>(ke)});
  }
  const size_t m = spans_.size();
  if (m < 2) return;
  keep_.assign(m, 1);
  auto key = [&](size_t k) {
    return std::string_view(*s).substr(spans2_[k].begin, spans2_[k].end - spans2_[k].begin);
  };
  auto same_run = [&](size_t x, size_t y, size_t len) {
    for (size_t t = 0; t < len; ++t) {
      if (key(x + t) != key(y + t) || key(x + t).empty()) return false;
    }
    return true;
  };
  bool changed = false;
  size_t k = 0;
  while (k < m) {
    // One eojeol repeated: a loop from max_eojeol_repeats + 1 copies on.
    size_t c = 1;
    while (k + c < m && same_run(k, k + c, 1)) ++c;
    if (c > static_cast<size_t>(options_.max_eojeol_repeats)) {
      for (size_t t = 0; t + 1 < c; ++t) keep_[k + t] = 0;
      Record(ChangeKind::kRepeatEojeol,
             std::string_view(*s).substr(spans_[k].begin, spans_[k + c - 1].end - spans_[k].begin),
             key(k + c - 1));
      changed = true;
      k += c;
      continue;
    }
    // A run of 2..16 eojeols repeated right after itself: keep the last copy.
    bool found = false;
    for (size_t len = 2; len <= 16 && k + 2 * len <= m; ++len) {
      if (!same_run(k, k + len, len)) continue;
      size_t r = 2;
      while (k + (r + 1) * len <= m && same_run(k, k + r * len, len)) ++r;
      // A pair of eojeols said twice is emphasis (한 아이 한 아이, 하나 둘 하나 둘, 먹고 자고
      // 먹고 자고) unless it is a clause ending in a comma (허리가 아파서, 허리가 아파서,).
      if (len == 2 && r == 2 &&
          std::string_view(*s).substr(spans2_[k + 1].end, spans_[k + 1].end - spans2_[k + 1].end)
                  .find(',') == std::string_view::npos) {
        continue;
      }
      for (size_t t = 0; t < (r - 1) * len; ++t) keep_[k + t] = 0;
      const std::string_view last_punct = std::string_view(*s).substr(
          spans2_[k + len - 1].end, spans_[k + len - 1].end - spans2_[k + len - 1].end);
      Record(last_punct == "," ? ChangeKind::kRepeatClause : ChangeKind::kRepeatEojeol,
             std::string_view(*s).substr(spans_[k].begin,
                                         spans_[k + r * len - 1].end - spans_[k].begin),
             std::string_view(*s).substr(
                 spans_[k + (r - 1) * len].begin,
                 spans_[k + r * len - 1].end - spans_[k + (r - 1) * len].begin));
      changed = true;
      k += (r - 1) * len;  // continue from the kept copy
      found = true;
      break;
    }
    if (!found) k += (c == 2 ? 2 : 1);
  }
  if (!changed) return;
  std::string& t = work_b_;
  t.clear();
  bool first = true;
  for (size_t x = 0; x < m; ++x) {
    if (!keep_[x]) continue;
    if (!first) {
      // The whitespace that preceded this eojeol in the original (at least one space).
      size_t wb = spans_[x].begin;
      while (wb > 0 && IsSpace((*s)[wb - 1])) --wb;
      t.append(*s, wb, spans_[x].begin - wb);
    }
    t.append(*s, spans_[x].begin, spans_[x].end - spans_[x].begin);
    first = false;
  }
  s->swap(t);
}

namespace {
// Whether eojeol i + 1 is the bound noun 수, 줄 or 뻔 (alone or with a particle): -을 수 있다,
// -ㄹ 줄 알다, -ㄹ 뻔하다 make the 을/ㄹ before it an adnominal ending (규정지을 수 없어).
bool BeforeBoundNoun(std::string_view in, const Analysis& an, size_t i) {
  if (i + 1 >= an.eojeols.size()) return false;
  const Eojeol& n = an.eojeols[i + 1];
  const std::string_view w = in.substr(n.begin, n.end - n.begin);
  for (std::string_view noun : {"수", "줄", "뻔"}) {
    if (!w.starts_with(noun)) continue;
    const std::string_view rest = w.substr(noun.size());
    if (rest.empty()) return true;
    for (std::string_view tail : {"도", "가", "는", "밖에", "조차", "있", "없", "했", "한"}) {
      if (rest.starts_with(tail)) return true;
    }
  }
  return false;
}

// Whether eojeol i + 1 is a street number (테헤란로 152, 올림픽로 35길): 로 before it ends a
// road name, not a wrong 으로.
bool BeforeStreetNumber(std::string_view in, const Analysis& an, size_t i) {
  if (i + 1 >= an.eojeols.size()) return false;
  const Eojeol& n = an.eojeols[i + 1];
  std::string_view w = in.substr(static_cast<size_t>(n.begin), static_cast<size_t>(n.end - n.begin));
  // A bare number (152, 35-1), possibly + 길 / 번길 / 번지, + 에 / 에서 / 의, and marks; not
  // 1989년, 50%를, 34도.
  size_t k = 0;
  while (k < w.size() && ((w[k] >= '0' && w[k] <= '9') || (k > 0 && w[k] == '-'))) ++k;
  if (k == 0) return false;
  w.remove_prefix(k);
  for (std::string_view t : {"번길", "길", "번지"}) {
    if (w.starts_with(t)) {
      w.remove_prefix(t.size());
      break;
    }
  }
  for (std::string_view t : {"에서", "에", "의"}) {
    if (w.starts_with(t)) {
      w.remove_prefix(t.size());
      break;
    }
  }
  for (const char c : w) {
    if (c != ',' && c != '.' && c != ')') return false;
  }
  return true;
}

// End of the word part of eojeol e: before its trailing marks and closing quotes/brackets.
int32_t LastWordEnd(std::string_view in, const Eojeol& e) {
  size_t end = static_cast<size_t>(e.end);
  while (end > static_cast<size_t>(e.begin)) {
    char32_t c = 0;
    const size_t q = PrevCodePoint(in, end, &c);
    c = MapFullwidth(c);
    if (!(IsMark(c) || IsCloser(c))) break;
    end = q;
  }
  return static_cast<int32_t>(end);
}

// Whether `host` (two or more syllables) stands elsewhere in the sentence (`an`, eojeols other
// than `skip`) as a nominal of its own followed by a particle that is no 이-form (레토는, 리제에게):
// then an eojeol host + 이 is rather host + a wrong 이 than a name ending in 이 (레토이 -> 레토가,
// 리제이 -> 리제가; 뭄바이, 간사이 are never written 뭄바 + particle).
bool HostStandsElsewhere(std::string_view in, const Analysis& an, size_t skip,
                         std::string_view host) {
  if (host.size() < 6) return false;
  for (size_t j = 0; j < an.eojeols.size(); ++j) {
    if (j == skip) continue;
    const Eojeol& x = an.eojeols[j];
    for (uint32_t k = 0; k + 1 < x.morph_count; ++k) {
      const Morpheme& m = an.morphemes[x.morph_begin + k];
      const Morpheme& p = an.morphemes[x.morph_begin + k + 1];
      if (m.begin < 0 || m.end <= m.begin || !IsNominalTag(m.tag) || !IsParticleTag(p.tag) ||
          p.begin != m.end || p.end <= p.begin) {
        continue;
      }
      // The nominal begins the eojeol or follows an opening quote or bracket.
      if (k > 0 && an.morphemes[x.morph_begin + k - 1].tag != Tag::kSS) continue;
      if (in.substr(m.begin, m.end - m.begin) != host) continue;
      if (in.substr(p.begin, p.end - p.begin).starts_with("이")) continue;
      return true;
    }
  }
  return false;
}

// Whether eojeol i of `an` (an analysis of `in`) ends its sentence after byte `from`: it is the
// last one, or only sentence marks and closing quotes/brackets (at least one mark) follow.
bool SentenceFinal(std::string_view in, const Analysis& an, size_t i, int32_t from) {
  if (i + 1 == an.eojeols.size()) return true;
  size_t pos = static_cast<size_t>(from);
  const size_t end = static_cast<size_t>(an.eojeols[i].end);
  bool mark = false;
  while (pos < end) {
    char32_t c = 0;
    if (!DecodeUtf8(in, &pos, &c)) return false;
    c = MapFullwidth(c);
    if (c == '.' || c == '!' || c == '?' || c == 0x2026) {
      mark = true;
    } else if (!IsCloser(c)) {
      return false;
    }
  }
  return mark;
}
}  // namespace

Status PostProcessor::FixParticles(const std::string& in, std::string* out) {
  ONDO_RETURN_IF_ERROR(
      analyzer_->Analyze(in, AnalyzeOptions{.lenient_particles = true}, &analysis_));
  edits_.clear();
  const Analysis& an = analysis_;
  for (size_t ei = 0; ei < an.eojeols.size(); ++ei) {
    const Eojeol& e = an.eojeols[ei];
    for (uint32_t k = 1; k < e.morph_count; ++k) {
      const Morpheme& m = an.morphemes[e.morph_begin + k];
      if (!IsParticleTag(m.tag) || m.begin < 0 || m.end <= m.begin) continue;
      // The host: the morpheme before, through closing quotes/brackets.
      uint32_t h = k;
      while (h > 0 && an.morphemes[e.morph_begin + h - 1].tag == Tag::kSS) --h;
      if (h == 0) continue;
      const Morpheme& host = an.morphemes[e.morph_begin + h - 1];
      // A parenthetical attached to its host (김연아(…, 1990년 9월 5일~)는): the host is found
      // through the bracket below, whatever the parenthetical ends in.
      char32_t closer = 0;
      PrevCodePoint(in, static_cast<size_t>(m.begin), &closer);
      if (!HostTagOk(host.tag) && !(h < k && (closer == ')' || closer == ']'))) {
        // A quotation is a nominal: 은/는 이/가 을/를 과/와 (으)로 right after a closing quote
        // take the quoted sentence as their host whatever it ends in ('같다'는, "좋다"를; the
        // analyzer reads 다/EF + '/SS). Not the 이- family: a quoted sentence takes 라고.
        char32_t q = 0;
        PrevCodePoint(in, static_cast<size_t>(m.begin), &q);
        const std::string_view f = std::string_view(in).substr(m.begin, m.end - m.begin);
        const bool pair = f == "은" || f == "는" || f == "이" || f == "가" || f == "을" ||
                          f == "를" || f == "과" || f == "와" || f == "으로" || f == "로";
        if (!(h < k && IsEndingTag(host.tag) && pair &&
              (q == '"' || q == '\'' || q == 0x201D || q == 0x2019 || q == 0x300D ||
               q == 0x300F))) {
          continue;
        }
      }
      // The host's end: through closing quotes (the host is quoted: "사과"를) and past a
      // parenthetical (음식(food)을: the host is 음식, unless the word starts with the bracket).
      size_t host_end = static_cast<size_t>(m.begin);
      bool skipped = false;
      for (;;) {
        char32_t cp = 0;
        const size_t q = PrevCodePoint(in, host_end, &cp);
        if (q == host_end || !IsCloser(cp)) break;
        skipped = true;
        const int kind = CloserIndex(cp);
        if (kind >= 0 && kind <= 2) {  // ) ] }: find the opener in the sentence
          const char open = "([{"[kind], close = static_cast<char>(cp);
          int d = 0;
          size_t o = q;
          bool found = false;
          while (o > 0) {
            --o;
            if (in[o] == close) ++d;
            if (in[o] == open) {
              if (d == 0) {
                found = true;
                break;
              }
              --d;
            }
          }
          if (found && o > 0 && !IsSpace(in[o - 1])) {
            host_end = o;
            continue;
          }
          // A parenthetical of several words (리켄베커 (아돌프 1886~1976)와): the host is the
          // word before it, which this eojeol does not hold; left alone.
          if (!found || o < static_cast<size_t>(e.begin)) {
            host_end = 0;
            break;
          }
        }
        host_end = q;
      }
      if (host_end == 0 || IsSpace(in[host_end - 1])) continue;
      char32_t last = 0;
      PrevCodePoint(in, host_end, &last);
      if (IsHangulSyllable(last) && !m.wrong_allomorph && !skipped) continue;
      const std::string_view host_text = std::string_view(in).substr(0, host_end);
      const char sound = HostFinalSound(host_text);
      if (sound == 0) continue;
      const std::string_view form = std::string_view(in).substr(m.begin, m.end - m.begin);
      char buf[16];
      const std::string_view right = RightParticle(form, m.tag, sound, skipped, buf);
      if (right.empty() || right == form || right.size() > sizeof(Edit::text)) continue;
      if (IsHangulSyllable(last) && !skipped) {
        if (IndefiniteGa(std::string_view(in).substr(e.begin, host_end - e.begin), form)) continue;
        {
          const std::string_view next =
              ei + 1 < an.eojeols.size()
                  ? std::string_view(in).substr(an.eojeols[ei + 1].begin,
                                                an.eojeols[ei + 1].end - an.eojeols[ei + 1].begin)
                  : std::string_view();
          if (QuestionInga(std::string_view(in).substr(e.begin, host_end - e.begin), form,
                           SentenceFinal(in, an, ei, m.end), next)) {
            continue;
          }
        }
        // 와, 나, 가 ending a sentence are the verbs 오다, 나다, 가다 written without a space in
        // chat text (잠와 = 잠 와, 생각나, 여행가!), not particles.
        if (SentenceFinal(in, an, ei, m.end) && (form == "와" || form == "나" || form == "가")) {
          continue;
        }
        // (Only 을: 를 is never an ending, 영향를 줄 -> 영향을 줄.)
        if (form == "을" && BeforeBoundNoun(in, an, ei)) continue;
        if (form == "로" && BeforeStreetNumber(in, an, ei)) continue;
      }
      if (IsHangulSyllable(last) && !skipped && SuspectHangulFlag(in, e.begin, host_end, form)) {
        continue;
      }
      if (IsHangulSyllable(last) && !skipped) {
        // ㄹ + 라고 / 랑 is a verb ending (들을라고, 먹었걸랑, 됐을랑가), not a particle.
        Syllable ls;
        if (DecomposeSyllable(last, &ls) && ls.t == 8 && (form == "라고" || form == "랑")) continue;
        // Precision first: the right form must make the eojeol, read with its neighbours,
        // clearly better than as written (간사이 지방, 오이랑, 정형외과 are words).
        const int32_t wb = ei > 0 ? an.eojeols[ei - 1].begin : e.begin;
        const int32_t we = ei + 1 < an.eojeols.size() ? an.eojeols[ei + 1].end : e.end;
        float c0 = 0, c1 = 0;
        size_t idx = 0;
        ONDO_RETURN_IF_ERROR(ScoreWindow(in, wb, we, static_cast<size_t>(m.begin),
                                         static_cast<size_t>(m.end - m.begin), right, &c0, &c1,
                                         &idx));
        // A compound noun as written (정형/NNG+외과/NNG) needs compound_margin, unless the
        // correction reads its host as one known noun across the compound's cut (물가/NNG+를
        // against 물/NNG+가을/NNG, 카드사/NNG+가 against 카드/NNG+사이/NNG): the ordinary margins.
        if (written_in_noun_ && !corrected_host_spans_compound_ &&
            !(c1 + options_.compound_margin < c0)) {
          continue;
        }
        // 을 read as the adnominal ending of a verb (결정지을 경기: 짓 + 을) stays.
        if (form == "을" && written_adnominal_ && !written_bad_adnominal_ &&
            written_before_noun_) {
          continue;
        }
        // 이 after a vowel: many names end so (뭄바이, 간사이, 엠제이): a larger margin.
        // (Not after the title 씨, which ends no name: 배씨이 -> 배씨가.)
        const std::string_view host_word =
            std::string_view(in).substr(e.begin, host_end - static_cast<size_t>(e.begin));
        bool wide = false;
        if (form == "이" && sound == 'V') {
          ONDO_RETURN_IF_ERROR(WideMarginI(in, &an, ei, host_word, true, &wide));
        }
        float fm = wide ? options_.flagged_margin_i : options_.flagged_margin;
        if (form == "이" && sound == 'V' && OneSyllableHost(in, e.begin, host_end)) {
          bool ok = false;
          ONDO_RETURN_IF_ERROR(ShortHostVowelI(in, e.begin, host_end - 3, host_end, c0, c1, &ok));
          if (!ok) continue;
          fm = -1e9f;  // decided
        } else if (form == "이" && OneSyllableHost(in, e.begin, host_end)) {
          if (options_.short_host_margin < 0) continue;
          fm = std::max(fm, options_.short_host_margin);
        } else if (OneSyllableHost(in, e.begin, host_end) && options_.short_host_margin >= 0) {
          // Other particles after one syllable too (이해가 안가 = 안 가, not 안 + 가), unless
          // the eojeol as written reads as no known word and its host as a noun (값가, 닭가),
          // or the analyzer itself reads it as that host + the particle as written (적/NNB+가/JX:
          // the margin guards words read whole, 국가, 강가, and verb forms, 안가, 모은).
          bool noun = written_particle_ == static_cast<size_t>(m.begin);
          if (written_unknown_ && !noun) ONDO_RETURN_IF_ERROR(HostReadsAsNoun(host_word, &noun));
          if (!noun) fm = std::max(fm, options_.short_host_margin);
        }
        if (!(c1 + fm < c0)) continue;
      }
      Edit ed{static_cast<uint32_t>(m.begin),
              static_cast<uint32_t>(m.end),
              static_cast<uint8_t>(right.size()),
              {}};
      std::memcpy(ed.text, right.data(), right.size());
      edits_.push_back(ed);
      if (options_.record_changes) {
        std::string after(in.substr(e.begin, m.begin - e.begin));
        after.append(right);
        after.append(in, m.end, e.end - m.end);
        Record(ChangeKind::kParticle, std::string_view(in).substr(e.begin, e.end - e.begin), after);
      }
    }
  }
  if (options_.unflagged) {
    // (이 after a vowel needs a larger margin: 뭄바이, 하와이, 차이 are words.)
    // Eojeols without a flagged particle: the analyzer may have read the wrong allomorph as
    // part of a word. Edits stay in text order: rebuild the list merged by eojeol.
    const size_t n_flagged = edits_.size();
    for (size_t ei = 0; ei < an.eojeols.size(); ++ei) {
      const Eojeol& e = an.eojeols[ei];
      // Where the eojeol stands: opening its sentence (the one before ended with a mark),
      // ending it, before the bound noun 수/줄/뻔.
      UnflaggedContext ctx;
      ctx.initial = ei == 0 || SentenceFinal(in, an, ei - 1, LastWordEnd(in, an.eojeols[ei - 1]));
      ctx.final = SentenceFinal(in, an, ei, e.end);
      ctx.before_bound_noun = BeforeBoundNoun(in, an, ei);
      ctx.before_street_number = BeforeStreetNumber(in, an, ei);
      ctx.context_begin = ei > 0 ? an.eojeols[ei - 1].begin : e.begin;
      // Where a vocative can stand: opening the sentence, before a comma, or after a comma, a
      // an adverb or an interjection (그래서 철수아 왔어, 근데 민수아, 엄마, 영희아 밥 먹자).
      ctx.vocative = ctx.initial;
      {
        const std::string_view w = std::string_view(in).substr(e.begin, e.end - e.begin);
        ctx.vocative = ctx.vocative || w.ends_with(",");
      }
      if (ei > 0) {
        const Eojeol& pe = an.eojeols[ei - 1];
        if (!ctx.vocative) {
          const std::string_view pw = std::string_view(in).substr(pe.begin, pe.end - pe.begin);
          bool adverb = pe.morph_count > 0;
          for (uint32_t k = 0; k < pe.morph_count; ++k) {
            const Tag t = an.morphemes[pe.morph_begin + k].tag;
            adverb = adverb && (t == Tag::kMAJ || t == Tag::kMAG || t == Tag::kIC || IsSymbolTag(t));
          }
          ctx.vocative = pw.ends_with(",") || adverb;
        }
        if (pe.morph_count > 0) {
          const Tag t = an.morphemes[pe.morph_begin + pe.morph_count - 1].tag;
          ctx.after_bare_nominal = IsNominalTag(t) || t == Tag::kXSN;
        }
      }
      ctx.context_end = ei + 1 < an.eojeols.size() ? an.eojeols[ei + 1].end : e.end;
      ctx.sentence = &an;
      ctx.index = ei;
      bool has = false;
      for (size_t x = 0; x < n_flagged; ++x) {
        has = has || (edits_[x].begin >= static_cast<uint32_t>(e.begin) &&
                      edits_[x].begin < static_cast<uint32_t>(e.end));
      }
      if (has) continue;
      // A quoted sentence takes 라고 whatever its last sound ("완벽하다."라고, "불쌍해요"라고):
      // 이라고 after a closing quote that follows a sentence mark or 다, 요, 까, 죠 is wrong.
      {
        const std::string_view w = std::string_view(in).substr(e.begin, e.end - e.begin);
        const int32_t we = LastWordEnd(in, e);
        const std::string_view core = std::string_view(in).substr(e.begin, we - e.begin);
        if (core.ends_with("이라고") && core.size() > 9) {
          const size_t q_end = static_cast<size_t>(e.begin) + core.size() - 9;
          char32_t q = 0;
          const size_t q_start = PrevCodePoint(in, q_end, &q);
          char32_t last = 0;
          if (q_start != q_end && IsCloser(q) && q != ')' && q != ']' && q != '}' &&
              PrevCodePoint(in, q_start, &last) != q_start &&
              (last == '.' || last == '!' || last == '?' || last == 0x2026 || last == U'다' ||
               last == U'요' || last == U'까' || last == U'죠')) {
            Edit ed{static_cast<uint32_t>(q_end), static_cast<uint32_t>(q_end + 9), 6, {}};
            std::memcpy(ed.text, "라고", 6);
            edits_.push_back(ed);
            if (options_.record_changes) {
              std::string after(in.substr(e.begin, q_end - e.begin));
              after.append("라고");
              after.append(in, q_end + 9, e.end - (q_end + 9));
              Record(ChangeKind::kParticle, w, after);
            }
            continue;
          }
        }
      }
      bool added = false;
      ONDO_RETURN_IF_ERROR(TryUnflagged(in, e, ctx, &added));
    }
    if (edits_.size() > n_flagged) {
      std::sort(edits_.begin(), edits_.end(),
                [](const Edit& x, const Edit& y) { return x.begin < y.begin; });
    }
  }
  size_t r = 0;
  for (const Edit& ed : edits_) {  // in text order
    out->append(in, r, ed.begin - r);
    out->append(ed.text, ed.len);
    r = ed.end;
  }
  out->append(in, r, in.size() - r);
  return Status::Ok();
}

Status PostProcessor::TryUnflagged(std::string_view in, const Eojeol& e,
                                   const UnflaggedContext& ctx, bool* added) {
  *added = false;
  struct Cand {
    std::string_view form;
    Tag tag;
  };
  static constexpr Cand kCands[] = {{"으로서", Tag::kJKB}, {"로서", Tag::kJKB},
                                    {"으로써", Tag::kJKB}, {"로써", Tag::kJKB},
                                    {"으로", Tag::kJKB}, {"로", Tag::kJKB},  {"을", Tag::kJKO},
                                    {"를", Tag::kJKO},   {"은", Tag::kJX},   {"는", Tag::kJX},
                                    {"가", Tag::kJKS},   {"이", Tag::kJKS},  {"과", Tag::kJKB},
                                    {"와", Tag::kJKB},   {"이나", Tag::kJX}, {"나", Tag::kJX},
                                    {"이랑", Tag::kJKB}, {"랑", Tag::kJKB},  {"이란", Tag::kJX},
                                    {"란", Tag::kJX},    {"라고", Tag::kJKQ},
                                    {"며", Tag::kJC},    {"아", Tag::kJKV},  {"야", Tag::kJKV}};
  std::string_view w = in.substr(e.begin, e.end - e.begin);
  size_t core = w.size();
  for (;;) {
    char32_t cp = 0;
    const size_t q = PrevCodePoint(w, core, &cp);
    // Marks and closing quotes/brackets ((윤 회장가) -> 회장이)).
    if (q == core || !(IsMark(cp) || IsCloser(MapFullwidth(cp)))) break;
    core = q;
  }
  const std::string_view wc = w.substr(0, core);
  for (const Cand& c : kCands) {
    if (!wc.ends_with(c.form)) continue;
    if (c.form == "을" && ctx.before_bound_noun) continue;
    if (c.form == "로" && ctx.before_street_number) continue;
    // Names transliterated from -ia (소피아, 인디아, 마리아) are not vocatives of 소피, 인디.
    if (c.form == "아" && c.tag == Tag::kJKV) {
      char32_t prev = 0;
      PrevCodePoint(wc, wc.size() - c.form.size(), &prev);
      Syllable ps;
      if (!DecomposeSyllable(prev, &ps) || ps.v == 20) continue;  // ㅣ
    }
    // Hosts of one syllable only before 과/와/(이)랑, or the bound noun 것 (것가 -> 것이): 모은,
    // 들를, 있나 are verbs ...
    // ... or a counter after a number (7명가 -> 7명이, 94종가).
    const std::string_view h0 = wc.substr(0, wc.size() - c.form.size());
    const bool counter = h0.size() >= 4 && h0[h0.size() - 4] >= '0' && h0[h0.size() - 4] <= '9';
    const bool short_ok = c.form == "과" || c.form == "와" || c.form.ends_with("랑") ||
                          h0 == "것" || counter;
    if (wc.size() < c.form.size() + 3) continue;
    const bool short_host =
        !short_ok && (wc.size() < c.form.size() + 6 ||
                      (c.form == "이" &&
                       OneSyllableHost(in, e.begin, e.begin + wc.size() - c.form.size())));
    // (Never a vocative: 하아 is an interjection. 이 after a vowel: ShortHostVowelI.)
    if (short_host && (options_.short_host_margin < 0 || c.tag == Tag::kJKV)) continue;
    const std::string_view host = wc.substr(0, wc.size() - c.form.size());
    char32_t last = 0;
    PrevCodePoint(host, host.size(), &last);
    if (!IsHangulSyllable(last)) return Status::Ok();
    const char sound = HostFinalSound(host);
    if (IndefiniteGa(host, c.form)) return Status::Ok();
    std::string_view next = in.substr(static_cast<size_t>(e.end),
                                      static_cast<size_t>(ctx.context_end - e.end));
    while (!next.empty() && IsSpace(next.front())) next.remove_prefix(1);
    if (QuestionInga(host, c.form, ctx.final, next)) {
      return Status::Ok();
    }
    if (ctx.final && (c.form == "와" || c.form == "나" || c.form == "가")) return Status::Ok();
    // ㄹ + 라고 / 며 is a verb ending (갈라고, 살며), not a particle.
    if (sound == 'L' && (c.form == "라고" || c.form == "며" || c.form == "랑")) return Status::Ok();
    char buf[16];
    const std::string_view right = RightParticle(c.form, c.tag, sound, false, buf);
    if (right.empty() || right == c.form) return Status::Ok();
    if (SuspectHangulFlag(in, e.begin, e.begin + host.size(), c.form)) return Status::Ok();
    const bool vocative = c.tag == Tag::kJKV;
    if (vocative && !ctx.vocative) continue;
    // Costs of the window (previous eojeol, this one, next one) as written and with host +
    // right particle, read without lenient particles: with its neighbours a vocative reads as
    // one (alone, 영희야 reads as the copula) and a compound noun as a noun.
    const size_t at = static_cast<size_t>(e.begin) + host.size();
    float c0 = 0, c1 = 0;
    size_t idx = 0;
    // A vocative is read from its own eojeol on (as the analyzer reads one opening a sentence).
    ONDO_RETURN_IF_ERROR(ScoreWindow(in, vocative ? e.begin : ctx.context_begin, ctx.context_end,
                                     at, c.form.size(), right, &c0, &c1, &idx));
    if (written_last_ == Tag::kNA) return Status::Ok();
    if (written_in_noun_ && !corrected_host_spans_compound_ &&
        !(c1 + options_.compound_margin < c0)) {
      return Status::Ok();  // (as for flagged particles)
    }
    // The word as written already reads as host + a fitting particle elsewhere (오이/NNG+랑).
    if (written_particle_ > at) return Status::Ok();
    if (c.form == "을" && written_adnominal_ && !written_bad_adnominal_ && written_before_noun_) {
      return Status::Ok();
    }
    // 는 where the analyzer reads the word as written as a predicate (the verb ending -는) is
    // judged like any candidate (fourth round; it used to be left alone): in unspaced chat text
    // (트집잡는, 얼어죽는) the correction reads as a verb form too, which is no nominal + particle
    // (below), while 예술인들는, 추경안는 read as host + 은. An adnominal ending before a verb or
    // adjective, which it cannot modify, is no reading at all (집는 깨끗하고 -> 집은 깨끗하고).
    const bool etm_impossible =
        written_last_ == Tag::kETM && (written_next_stem_ || written_bad_adnominal_);
    if (idx >= analysis2_.eojeols.size()) return Status::Ok();
    const Eojeol& e1 = analysis2_.eojeols[idx];
    const int32_t host_end_w =
        static_cast<int32_t>(at - static_cast<size_t>(vocative ? e.begin : ctx.context_begin));
    uint32_t n_word = e1.morph_count;  // without trailing marks
    while (n_word > 0 && IsSymbolTag(analysis2_.morphemes[e1.morph_begin + n_word - 1].tag)) {
      --n_word;
    }
    if (n_word < 2) return Status::Ok();
    const Morpheme& p = analysis2_.morphemes[e1.morph_begin + n_word - 1];
    const Morpheme& h = analysis2_.morphemes[e1.morph_begin + n_word - 2];
    // Host + particle, or for (이)라고 / (이)며 host + copula 이 + ending (the analyzer's reading
    // of 책이라고, 책이며).
    bool ok = IsParticleTag(p.tag) && p.begin == host_end_w &&
              (IsNominalTag(h.tag) || h.tag == Tag::kXSN || h.tag == Tag::kETN);
    if (!ok && right.starts_with("이") && n_word >= 3 && h.tag == Tag::kVCP &&
        h.begin == host_end_w && p.tag == Tag::kEC) {
      const Morpheme& n = analysis2_.morphemes[e1.morph_begin + n_word - 3];
      ok = IsNominalTag(n.tag) && n.end == host_end_w;
    }
    // A vocative must read as one (JKV) with its neighbours.
    if (vocative && p.tag != Tag::kJKV) ok = false;
    if (!ok) return Status::Ok();
    // (Also 이나, 이랑, 이라고, 이며 after a vowel: 간사이랑, 엠제이나 are names + 랑, 나.)
    bool wide = false;
    if (c.form.starts_with("이")) {
      ONDO_RETURN_IF_ERROR(WideMarginI(in, ctx.sentence, ctx.index, host, c.form == "이", &wide));
    }
    float margin = wide ? options_.unflagged_margin_i : options_.unflagged_margin;
    // 로서, 로써 after a consonant other than ㄹ: no word ends so (none in KLUE, GSD, Kiwi, the
    // KLUE NLI dev set or the chat corpus), the particle is 으로서, 으로써 — where the corrected
    // eojeol reads as a nominal + that particle (above), whatever the scores (연대기반로서, read as
    // an unknown word, -> 연대기반으로서).
    if ((c.form == "로서" || c.form == "로써") && sound == 'C') margin = -1e9f;
    if (short_host && c.form == "이" && sound == 'V') {
      bool short_ok = false;
      ONDO_RETURN_IF_ERROR(ShortHostVowelI(in, e.begin, at - 3, at, c0, c1, &short_ok));
      if (!short_ok) return Status::Ok();
      margin = -1e9f;  // decided
    } else if (short_host && (h0 == "나" || h0 == "저" || h0 == "그") &&
               (c.form == "은" || c.form == "을") && corrected_host_tag_ == Tag::kNP &&
               !ctx.initial && !written_unknown_ && !(h0 == "그" && ctx.after_bare_nominal)) {
      // 나은, 저을 ... read as 낫다, 젓다 forms: the pronoun + 는, 를 when it reads so and the
      // window wins by short_host_margin_i (있었지만, 나은 잠바와 -> 나는; 더 나은 사람, where 나는
      // reads as a verb, and 나을 것이다, where the verb wins, stay). Not opening a sentence,
      // where an adjective may stand without a comparison (나은 선택이다).
      // The same for 그은, 그을 read as forms of 긋다 (또한 그을 기념하기 -> 그를; 직접 그은 선이다,
      // where the window wins by 2.4, stays), but not after a bare nominal, which may be the
      // verb's object without its particle (밑줄 그은 부분): there the ordinary one-syllable
      // margins (결국 그은 3월 -> 그는, 결국 read as a noun). Only where the analyzer reads the
      // word as the verb form (not as an unknown word: 태어난 그은, -> 그는, by the margins below).
      margin = -1e9f;
      if (!(c1 + options_.short_host_margin_i < c0)) return Status::Ok();
    } else if (short_host) {
      bool noun = written_particle_ == at;  // (as for flagged particles: 적/NNB+가/JX)
      if (written_unknown_ && c.form != "이" && !noun) {
        ONDO_RETURN_IF_ERROR(HostReadsAsNoun(host, &noun));
      }
      if (!noun) margin = std::max(margin, options_.short_host_margin);
    }
    // The eojeol itself (read with its neighbours as context) and the whole window must both
    // score better; a vocative (read as JKV where one may stand) when either does: after
    // 영희야 the next eojeol 안녕 scores a little worse, after 민수야 너 better.
    // A one-syllable host right after an adnominal ending is a (bound) noun, whose particle the
    // window judges (절망한 자은 -> 자는: 자은 alone reads as a verb form).
    const bool eojeol_better = corrected_eojeol_cost_ + margin < written_eojeol_cost_ ||
                               (short_host && (written_after_adnominal_ || etm_impossible) &&
                                !vocative);
    // The word as written read as a vowel stem + 은/을 (우리을: 우리 + 을), which is no form
    // (a vowel stem takes ㄴ/ㄹ): the written window's cost is that of a misreading, the eojeol
    // alone decides (측에서 우리을 보호해 -> 우리를).
    const bool window_better =
        c1 + margin < c0 || (written_bad_adnominal_ && written_last_ == Tag::kETM && !vocative);
    if (vocative ? !(eojeol_better || window_better) : !(eojeol_better && window_better)) {
      return Status::Ok();
    }
    const uint32_t b = static_cast<uint32_t>(e.begin + host.size());
    Edit ed{b, static_cast<uint32_t>(b + c.form.size()), static_cast<uint8_t>(right.size()), {}};
    std::memcpy(ed.text, right.data(), right.size());
    edits_.push_back(ed);
    *added = true;
    if (options_.record_changes) {
      std::string after(host);
      after.append(right);
      after.append(w.substr(core));
      Record(ChangeKind::kParticle, w, after);
    }
    return Status::Ok();
  }
  return Status::Ok();
}

Status PostProcessor::HostReadsAsNoun(std::string_view host, bool* noun) {
  ONDO_RETURN_IF_ERROR(analyzer_->Analyze(host, &analysis_host_));
  *noun = analysis_host_.eojeols.size() == 1 && analysis_host_.eojeols[0].morph_count == 1 &&
          IsNominalTag(analysis_host_.morphemes[analysis_host_.eojeols[0].morph_begin].tag);
  return Status::Ok();
}

Status PostProcessor::RareBeforeI(std::string_view host, bool* rare) {
  *rare = HostVowelRareBeforeI(host);
  if (*rare) return Status::Ok();
  // ㅜ + 이 inside a word: only in words of the lexicon (구이 in 생선구이, 누이, 부이, 추이) and in
  // names with 루이, 후이 (장루이; Chinese 리루이, 왕후이); else a host in ㅜ + the particle
  // (연수이, 박동수이, 민수이 -> 가).
  char32_t last = 0;
  const size_t q = PrevCodePoint(host, host.size(), &last);
  if (q == 0 || q == host.size()) return Status::Ok();
  char32_t before = 0;
  if (PrevCodePoint(host, q, &before) == q || !IsHangulSyllable(before)) return Status::Ok();
  Syllable sy;
  if (!DecomposeSyllable(last, &sy) || sy.t != 0 || sy.v != 13 || last == U'루' ||
      last == U'후') {
    return Status::Ok();
  }
  bool word = false;
  ONDO_RETURN_IF_ERROR(LastSyllableIWord(host, &word));
  *rare = !word;
  return Status::Ok();
}

Status PostProcessor::LastSyllableIWord(std::string_view host, bool* word) {
  *word = false;
  char32_t last = 0;
  const size_t q = PrevCodePoint(host, host.size(), &last);
  if (q == host.size() || !IsHangulSyllable(last)) return Status::Ok();
  char tail[6];
  std::memcpy(tail, host.data() + q, 3);
  std::memcpy(tail + 3, "이", 3);
  ONDO_RETURN_IF_ERROR(analyzer_->Analyze(std::string_view(tail, 6), &analysis_host_));
  *word = analysis_host_.eojeols.size() == 1 && analysis_host_.eojeols[0].morph_count == 1 &&
          !analysis_host_.morphemes[analysis_host_.eojeols[0].morph_begin].unknown;
  return Status::Ok();
}

Status PostProcessor::WideMarginI(std::string_view in, const Analysis* sentence, size_t index,
                                  std::string_view host, bool plain, bool* wide) {
  *wide = false;
  bool rare = false;
  ONDO_RETURN_IF_ERROR(RareBeforeI(host, &rare));
  if (rare) return Status::Ok();
  if (plain && written_i_pronoun_) {
    bool word = false;
    ONDO_RETURN_IF_ERROR(LastSyllableIWord(host, &word));
    if (!word) return Status::Ok();
  }
  *wide = !host.ends_with("씨") && !written_i_determiner_ &&
          !(sentence != nullptr && HostStandsElsewhere(in, *sentence, index, host));
  return Status::Ok();
}

Status PostProcessor::FrequentWord(std::string_view word, bool* frequent) {
  ONDO_RETURN_IF_ERROR(analyzer_->Analyze(word, &analysis_host_));
  *frequent = false;
  if (analysis_host_.eojeols.size() != 1 || analysis_host_.eojeols[0].morph_count != 1) {
    return Status::Ok();
  }
  const Morpheme& m = analysis_host_.morphemes[analysis_host_.eojeols[0].morph_begin];
  *frequent = (IsNominalTag(m.tag) || m.tag == Tag::kMAG) && !m.unknown &&
              analysis_host_.eojeols[0].cost < options_.frequent_word_cost;
  return Status::Ok();
}

Status PostProcessor::ShortHostVowelI(std::string_view in, size_t word_begin, size_t host_begin,
                                      size_t host_end, float c0, float c1, bool* ok) {
  *ok = false;
  if (options_.short_host_margin < 0 || options_.short_host_margin_i < 0) return Status::Ok();
  const std::string_view host = in.substr(host_begin, host_end - host_begin);
  // Only a host that begins its word, after opening quotes at most: not a reading given in
  // brackets (day(데이 바이 데이)); the title 씨 anywhere (박향순(67·여)씨이).
  for (size_t p = word_begin; p < host_begin && host != "씨";) {
    char32_t c = 0;
    if (!DecodeUtf8(in, &p, &c)) return Status::Ok();
    if (c != '"' && c != '\'' && c != 0x201C && c != 0x2018) return Status::Ok();
  }
  const float m = options_.short_host_margin_i;
  const bool window = c1 + m < c0;
  const bool eojeol = corrected_eojeol_cost_ + m < written_eojeol_cost_;
  // The pronouns 나, 저, 너 take 가 as 내, 제, 네 (내가, 제가, 네가; 너가 in speech): 내이, 제이,
  // 네이, 너이 are otherwise only rare words (내이 inner ear, 제이 J; none of them stands alone in
  // the clean text of KLUE, GSD, Kiwi (tuning part), KLUE NLI dev or the chat corpus). Where the
  // next eojeol does not begin with a nominal — a predicate, an adverb, a determiner: where a
  // subject stands (내이 속한 -> 내가 속한, 너이 안 -> 너가 안) — corrected whatever the
  // scores; before a nominal (내이 질환, 제이 씨) by the margin, as the title 씨 (씨이 말했다).
  if (host == "내" || host == "제" || host == "네" || host == "너" || host == "씨") {
    *ok = (host != "씨" && corrected_known_host_ && !corrected_next_noun_) ||
          (host != "너" && window && eojeol);
    return Status::Ok();
  }
  // 그 takes 가 (그가); 그이 (that person) is a word, so only before a predicate or a determiner
  // and by the margin: 그이 가르친, 그이 어느 날 -> 그가 ..., while 그이 말이, 그이 얼굴을, 그이
  // 역시 stay.
  if (host == "그") {
    *ok = corrected_known_host_ && (corrected_next_predicate_ || corrected_next_determiner_) &&
          window;
    return Status::Ok();
  }
  // Interjections (야이, 에이, 어이, 아이고) and frequent words (나이, 차이, 아이, 사이) stay.
  for (const std::string_view ij : {"아", "야", "어", "에", "오", "우", "으", "이", "여", "예"}) {
    if (host == ij) return Status::Ok();
  }
  if (!corrected_known_host_ || !window) return Status::Ok();
  if (!eojeol && !written_after_adnominal_) return Status::Ok();
  bool frequent = false;
  ONDO_RETURN_IF_ERROR(FrequentWord(in.substr(host_begin, host_end - host_begin + 3), &frequent));
  *ok = !frequent;
  return Status::Ok();
}

Status PostProcessor::ScoreWindow(std::string_view in, int32_t begin, int32_t end, size_t at,
                                  size_t len, std::string_view right, float* written,
                                  float* corrected, size_t* index) {
  const size_t b = static_cast<size_t>(begin), e = static_cast<size_t>(end);
  const std::string_view window = in.substr(b, e - b);
  ONDO_RETURN_IF_ERROR(analyzer_->Analyze(window, &analysis2_));
  *written = 0;
  written_last_ = Tag::kNA;
  written_in_noun_ = false;
  written_particle_ = 0;
  written_before_noun_ = false;
  written_adnominal_ = false;
  written_unknown_ = false;
  written_after_adnominal_ = false;
  written_next_stem_ = false;
  written_i_determiner_ = false;
  written_i_pronoun_ = false;
  written_bad_adnominal_ = false;
  corrected_known_host_ = false;
  corrected_host_tag_ = Tag::kNA;
  corrected_host_spans_compound_ = false;
  written_noun_begin_ = 0;
  corrected_next_predicate_ = false;
  corrected_next_noun_ = false;
  corrected_next_determiner_ = false;
  const int32_t rel = static_cast<int32_t>(at - b);
  for (size_t xi = 0; xi < analysis2_.eojeols.size(); ++xi) {
    const Eojeol& x = analysis2_.eojeols[xi];
    *written += x.cost;
    // The eojeol before ends in an adnominal ending, no mark after it (요구할 때이, 절망한 자은).
    if (xi + 1 < analysis2_.eojeols.size() && x.morph_count > 0) {
      const Eojeol& nx = analysis2_.eojeols[xi + 1];
      if (rel >= nx.begin && rel < nx.end) {
        written_after_adnominal_ =
            analysis2_.morphemes[x.morph_begin + x.morph_count - 1].tag == Tag::kETM;
      }
    }
    if (rel >= x.begin && rel < x.end) written_eojeol_cost_ = x.cost;
    if (xi > 0 && rel >= analysis2_.eojeols[xi - 1].begin && rel < analysis2_.eojeols[xi - 1].end &&
        x.morph_count > 0) {
      const Tag t0 = analysis2_.morphemes[x.morph_begin].tag;
      written_next_stem_ = t0 == Tag::kVV || t0 == Tag::kVA || t0 == Tag::kVX ||
                           t0 == Tag::kVCN || t0 == Tag::kXR;
      written_before_noun_ = IsNominalTag(analysis2_.morphemes[x.morph_begin].tag);
      for (uint32_t k = 0; k < x.morph_count; ++k) {  // 수립하다 is a verb
        const Tag t = analysis2_.morphemes[x.morph_begin + k].tag;
        if (t == Tag::kXSV || t == Tag::kXSA) written_before_noun_ = false;
      }
    }
    if (rel < x.begin || rel >= x.end) continue;
    for (uint32_t k = 0; k < x.morph_count; ++k) {
      const Morpheme& m = analysis2_.morphemes[x.morph_begin + k];
      bool last_word = true;  // only marks follow
      for (uint32_t j = k + 1; j < x.morph_count; ++j) {
        last_word = last_word && IsSymbolTag(analysis2_.morphemes[x.morph_begin + j].tag);
      }
      // (Not after 이 read alone as the pronoun: 우버/NNP+이/NP+나 is host + a wrong 이나.)
      if (IsParticleTag(m.tag) && m.begin > x.begin && last_word && k > 0 &&
          IsNominalTag(analysis2_.morphemes[x.morph_begin + k - 1].tag) &&
          analysis2_.morphemes[x.morph_begin + k - 1].begin < rel) {
        written_particle_ = b + static_cast<size_t>(m.begin);
      }
      // The particle's syllable read inside a word the lexicon does not have (값가/NNP).
      if (m.begin >= 0 && m.begin <= rel && m.end > rel && m.unknown) written_unknown_ = true;
      // A compound noun: nominal + a known noun that covers the particle's syllable
      // (정형/NNG+외과/NNG, 신생/NNG+국가/NNG), not one word (음악가 is also 음악 + 가).
      // (Not after a number: 404만/NR+원로/NNG is 404만 원 + a wrong 로.)
      if (k > 0 && m.begin >= 0 && m.begin < rel && m.end > rel && IsNominalTag(m.tag) &&
          !m.unknown && IsNominalTag(analysis2_.morphemes[x.morph_begin + k - 1].tag) &&
          analysis2_.morphemes[x.morph_begin + k - 1].tag != Tag::kNR) {
        written_in_noun_ = true;
        written_noun_begin_ = m.begin;
      }
    }
    for (uint32_t k = x.morph_count; k-- > 0;) {
      const Morpheme& m = analysis2_.morphemes[x.morph_begin + k];
      if (!IsSymbolTag(m.tag)) {
        written_last_ = m.tag;
        written_i_determiner_ = m.tag == Tag::kMM && k > 0 && m.begin == rel;
        written_i_pronoun_ = m.tag == Tag::kNP && k > 0 && m.begin == rel;
        // An adnominal ending counts only after a verb or adjective stem (짓 + 을), not
        // after the copula (관계 + 이 + 을 is a misreading of 관계을).
        // Only an ending written as such (짓 + 을), not ㄹ inside the stem's syllable (공모을 read
        // as 공 + 모으 + ㄹ: 을 there is no ending of 모으다, whose form is 모을 only by the ㄹ).
        if (m.tag == Tag::kETM && k > 0 && m.begin >= 0) {
          const Morpheme& st = analysis2_.morphemes[x.morph_begin + k - 1];
          written_adnominal_ = st.tag == Tag::kVV || st.tag == Tag::kVA;
          // 은/을 right after a stem ending in a vowel (비 + 은, 글 + 자 + 을): no form (a vowel
          // stem takes ㄴ/ㄹ: 빈, 잘) but for the ㅅ-irregular stems, which the analyzer writes
          // without their ㅅ (결정지을: 지 = 짓; 나은, 그은, 이은, 부은, 저은: 낫다, 긋다, 잇다,
          // 붓다, 젓다; 잣다 is too rare to count).
          char32_t v = 0;
          Syllable sy;
          written_bad_adnominal_ =
              written_adnominal_ && st.begin >= 0 && st.end == m.begin &&
              PrevCodePoint(window, static_cast<size_t>(st.end), &v) !=
                  static_cast<size_t>(st.end) &&
              DecomposeSyllable(v, &sy) && sy.t == 0 && v != U'지' && v != U'나' &&
              v != U'그' && v != U'이' && v != U'부' && v != U'저';
        }
        break;
      }
    }
  }
  eojeol_buf_.assign(window.substr(0, at - b));
  eojeol_buf_.append(right);
  eojeol_buf_.append(window.substr(at - b + len));
  ONDO_RETURN_IF_ERROR(analyzer_->Analyze(eojeol_buf_, &analysis2_));
  *corrected = 0;
  *index = analysis2_.eojeols.size();
  for (size_t i = 0; i < analysis2_.eojeols.size(); ++i) {
    const Eojeol& x = analysis2_.eojeols[i];
    *corrected += x.cost;
    if (rel >= x.begin && rel < x.end) {
      *index = i;
      corrected_eojeol_cost_ = x.cost;
    }
  }
  if (*index < analysis2_.eojeols.size()) {
    // The corrected eojeol: a known nominal, then the particle at the edit (marks may follow).
    const Eojeol& x = analysis2_.eojeols[*index];
    for (uint32_t k = 1; k < x.morph_count; ++k) {
      const Morpheme& p = analysis2_.morphemes[x.morph_begin + k];
      const Morpheme& h = analysis2_.morphemes[x.morph_begin + k - 1];
      if (p.begin != rel || !IsParticleTag(p.tag)) continue;
      bool marks_only = true;
      for (uint32_t j = k + 1; j < x.morph_count; ++j) {
        marks_only = marks_only && IsSymbolTag(analysis2_.morphemes[x.morph_begin + j].tag);
      }
      corrected_known_host_ = marks_only && IsNominalTag(h.tag) && !h.unknown;
      if (corrected_known_host_) corrected_host_tag_ = h.tag;
      corrected_host_spans_compound_ = corrected_known_host_ && written_in_noun_ &&
                                       h.begin >= 0 && h.begin < written_noun_begin_;
    }
    // The eojeol after it begins with a predicate (가르친, 속한: a noun + 하다) or an adverb.
    if (*index + 1 < analysis2_.eojeols.size()) {
      const Eojeol& nx = analysis2_.eojeols[*index + 1];
      if (nx.morph_count > 0) {
        const Tag t0 = analysis2_.morphemes[nx.morph_begin].tag;
        const Tag t1 =
            nx.morph_count > 1 ? analysis2_.morphemes[nx.morph_begin + 1].tag : Tag::kNA;
        corrected_next_predicate_ =
            t0 == Tag::kVV || t0 == Tag::kVA || t0 == Tag::kVX || t0 == Tag::kVCN ||
            ((IsNominalTag(t0) || t0 == Tag::kXR) && (t1 == Tag::kXSV || t1 == Tag::kXSA));
        corrected_next_noun_ = (IsNominalTag(t0) || t0 == Tag::kXPN || t0 == Tag::kSN ||
                                t0 == Tag::kSL || t0 == Tag::kSH) &&
                               !corrected_next_predicate_;
        corrected_next_determiner_ = t0 == Tag::kMM;
      }
    }
  }
  return Status::Ok();
}

}  // namespace ondo::korean
