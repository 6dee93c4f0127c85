// HostFinalSound: how a non-Hangul particle host ends when read aloud in Korean.
#include <algorithm>
#include <cctype>
#include <string_view>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/post/post_processor.h"

namespace ondo::korean {
namespace {

struct WordSound {
  std::string_view word;  // lower case
  char sound;
};

// Units read after a number (3kg 삼 킬로그램, 5km 오 킬로미터).
constexpr WordSound kUnits[] = {
    {"kg", 'C'},  {"g", 'C'},   {"mg", 'C'}, {"km", 'V'},   {"m", 'V'},   {"cm", 'V'},
    {"mm", 'V'},  {"l", 'V'},   {"ml", 'V'}, {"kcal", 'L'}, {"cal", 'L'}, {"gb", 'V'},
    {"mb", 'V'},  {"kb", 'V'},  {"tb", 'V'}, {"hz", 'V'},   {"khz", 'V'}, {"mhz", 'V'},
    {"ghz", 'V'}, {"w", 'V'},   {"kw", 'V'}, {"kwh", 'V'},  {"v", 'V'},   {"s", 'V'},
    {"ms", 'V'},  {"min", 'C'}, {"h", 'V'},  {"px", 'V'},   {"dpi", 'V'}, {"mah", 'V'},
};

// Common English words and names as written in Korean (구글, 아이폰, 애플 ...).
constexpr WordSound kWords[] = {
    {"google", 'L'},     {"iphone", 'C'},  {"apple", 'L'},     {"samsung", 'C'},
    {"android", 'V'},    {"youtube", 'V'}, {"python", 'C'},    {"java", 'V'},
    {"javascript", 'V'}, {"windows", 'V'}, {"microsoft", 'V'}, {"facebook", 'C'},
    {"twitter", 'V'},    {"netflix", 'V'}, {"linux", 'V'},     {"email", 'L'},
    {"e-mail", 'L'},     {"app", 'C'},     {"web", 'C'},       {"file", 'L'},
    {"game", 'C'},       {"phone", 'C'},   {"computer", 'V'},  {"server", 'V'},
    {"model", 'L'},      {"data", 'V'},    {"program", 'C'},   {"system", 'C'},
    {"chatgpt", 'V'},    {"openai", 'V'},  {"excel", 'L'},     {"word", 'V'},
    {"internet", 'C'},   {"online", 'C'},  {"video", 'V'},     {"blog", 'V'},
    {"code", 'V'},       {"mail", 'L'},    {"home", 'C'},      {"smartphone", 'C'},
    {"laptop", 'C'},     {"github", 'V'},  {"git", 'C'},       {"docker", 'V'},
    {"kakao", 'V'},      {"naver", 'V'},   {"amazon", 'C'},    {"tesla", 'V'},
    {"nvidia", 'V'},     {"intel", 'L'},   {"wifi", 'V'},      {"bluetooth", 'V'},
    {"chrome", 'C'},     {"safari", 'V'},  {"macbook", 'C'},   {"ipad", 'V'},
    {"galaxy", 'V'},     {"claude", 'V'},  {"gemini", 'V'},    {"llama", 'V'},
    {"token", 'C'},      {"bug", 'V'},     {"test", 'V'},      {"chat", 'C'},
    {"robot", 'C'},      {"club", 'C'},    {"music", 'C'},     {"table", 'L'},
    {"style", 'L'},      {"mobile", 'L'},  {"site", 'V'},      {"page", 'V'},
    {"service", 'V'},    {"cloud", 'V'},   {"link", 'V'},      {"book", 'C'},
    {"notebook", 'C'},   {"excel", 'L'},   {"kpop", 'C'},      {"seoul", 'L'},
};

// Korean names of the Latin letters (A 에이, L 엘, M 엠 ...): only L and R end in ㄹ, M and N
// in another consonant; every other letter name ends in a vowel.
char LetterSound(char c) {
  switch (std::toupper(static_cast<unsigned char>(c))) {
    case 'L':
    case 'R':
      return 'L';
    case 'M':
    case 'N':
      return 'C';
    default:
      return 'V';
  }
}

bool IsVowelLetter(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// Spelling rules for an unlisted lower-case English word (loanword transcription, roughly):
// final m/n/ng -> consonant (게임, 라인), l/le -> ㄹ (모델, 애플), a vowel letter or y/w/r -> vowel
// (데이터, 서버), k/p/t/b/ck/ic after one short vowel -> consonant (챗, 웹, 매직), other
// final consonants get an epenthetic 으 -> vowel (테스트, 링크, 박스, 페이지).
char SpellingSound(std::string_view w) {
  const size_t n = w.size();
  const char last = w[n - 1];
  const char prev = n >= 2 ? w[n - 2] : 0;
  const char prev2 = n >= 3 ? w[n - 3] : 0;
  if (last == 'm' || last == 'n') return 'C';
  if (last == 'g' && prev == 'n') return 'C';
  if (last == 'l') return 'L';
  if (last == 'e') {
    if (n == 1) return 'V';
    if (prev == 'm' || prev == 'n') return 'C';  // game, phone, line
    if (prev == 'l') return 'L';                 // table, google
    return 'V';                                  // code, site, page, store, free
  }
  if (IsVowelLetter(last) || last == 'y' || last == 'w' || last == 'r') return 'V';
  if (last == 'c') return IsVowelLetter(prev) ? 'C' : 'V';  // music 뮤직, OPEC 오펙; disc 디스크
  if (last == 'k' && prev == 'c') return 'C';               // click 클릭
  if (last == 'k' || last == 'p' || last == 't' || last == 'b') {
    if (IsVowelLetter(prev)) {
      if (!IsVowelLetter(prev2)) return 'C';                       // chat 챗, web 웹, shop 숍
      if (prev == 'o' && prev2 == 'o' && last == 'k') return 'C';  // book 북
      return 'V';                                                  // boot 부트, seat 시트
    }
    return 'V';  // test 테스트, help 헬프, link 링크
  }
  return 'V';  // s x z d g f v h ... 스 즈 드 그 프 브 치 시
}

// Whether a lower-case word of one vowel letter is one English syllable: an onset of at most
// one consonant or a two-consonant cluster, the vowel, a coda of at most one consonant or a
// common final cluster (jack, dram, spac, nand, punk; not hdmi, cmos, ncsoft).
bool OneSyllable(std::string_view w) {
  size_t v = 0;
  while (v < w.size() && !IsVowelLetter(w[v])) ++v;
  if (v == w.size()) return false;
  const std::string_view onset = w.substr(0, v), coda = w.substr(v + 1);
  static constexpr std::string_view kOnsets[] = {
      "bl", "br", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sc", "sk", "sl", "sm",
      "sn", "sp", "st", "sw", "tr", "tw", "th", "sh", "ch", "wh", "ph", "kn", "wr"};
  static constexpr std::string_view kCodas[] = {
      "ck", "ng", "nk", "nd", "nt", "st", "sk", "sp", "ft", "pt", "lt", "ld", "lk", "lp", "mp",
      "rd", "rk", "rm", "rn", "rt", "rs", "ll", "ss", "sh", "ch", "th", "ct", "ts", "ks", "ps"};
  auto in = [](std::string_view x, const std::string_view* list, size_t n) {
    if (x.size() <= 1) return true;
    for (size_t i = 0; i < n; ++i) {
      if (list[i] == x) return true;
    }
    return false;
  };
  for (const char c : coda) {
    if (IsVowelLetter(c)) return false;
  }
  return in(onset, kOnsets, std::size(kOnsets)) && in(coda, kCodas, std::size(kCodas));
}

char Lookup(const WordSound* table, size_t n, std::string_view lower) {
  for (size_t i = 0; i < n; ++i) {
    if (table[i].word == lower) return table[i].sound;
  }
  return 0;
}

}  // namespace

char HostFinalSound(std::string_view host) {
  if (host.empty()) return 0;
  const char32_t cp = LastCodePoint(host);
  if (cp == 0) return 0;
  if (IsHangulSyllable(cp)) {
    const int t = JongseongIndex(cp);
    return t == kTNone ? 'V' : (t == kTRieul ? 'L' : 'C');
  }
  if (cp >= '0' && cp <= '9') {
    // One digit right after a Latin letter, or after a letter and a hyphen, is read in
    // English (S3 에스쓰리, GPT4 지피티포, GPT-3 지피티쓰리, B-2 비투).
    const size_t n = host.size();
    if ((n >= 2 && std::isalpha(static_cast<unsigned char>(host[n - 2]))) ||
        (n >= 3 && host[n - 2] == '-' && std::isalpha(static_cast<unsigned char>(host[n - 3])))) {
      return (cp == '1' || cp == '7' || cp == '8' || cp == '9') ? 'C' : 'V';  // 원 세븐 에잇 나인
    }
    switch (cp) {  // Sino-Korean: 일 이 삼 사 오 육 칠 팔 구; 0 영 / 십 백 천 만
      case '1':
      case '7':
      case '8':
        return 'L';
      case '2':
      case '4':
      case '5':
      case '9':
        return 'V';
      default:
        return 'C';
    }
  }
  if (cp == '%' || cp == 0x2103 /* ℃ */ || cp == 0x00B0 /* ° */) return 'V';  // 퍼센트, 도
  const bool letter = cp < 0x80 && std::isalpha(static_cast<int>(cp));
  if (!letter) return 0;
  // The Latin word at the end (letters, with - and ' inside).
  size_t b = host.size();
  while (b > 0) {
    const char c = host[b - 1];
    if (std::isalpha(static_cast<unsigned char>(c)) ||
        ((c == '-' || c == '\'') && b < host.size())) {
      --b;
    } else {
      break;
    }
  }
  std::string_view word = host.substr(b);
  while (!word.empty() && !std::isalpha(static_cast<unsigned char>(word.front()))) {
    word.remove_prefix(1);
  }
  if (word.empty() || word.size() > 40) return 0;
  char lower_buf[41];
  for (size_t i = 0; i < word.size(); ++i) {
    lower_buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(word[i])));
  }
  const std::string_view lower(lower_buf, word.size());
  const bool after_digit = b > 0 && host[b - 1] >= '0' && host[b - 1] <= '9';
  if (after_digit) {
    if (const char s = Lookup(kUnits, std::size(kUnits), lower)) return s;
  }
  if (const char s = Lookup(kWords, std::size(kWords), lower)) return s;
  // Acronyms: a single capital, or a word ending in two or more capitals (LLM, API, iOS,
  // ChatGPT), is read by letter names.
  size_t caps = 0;
  while (caps < word.size() &&
         std::isupper(static_cast<unsigned char>(word[word.size() - 1 - caps]))) {
    ++caps;
  }
  // Capitals of 4+ letters that read as a word (NASA, LAHAT, UNESCO, KOSPI: two or more
  // vowels, never two vowels or three consonants in a row) go by spelling instead.
  if (caps == word.size() && word.size() >= 4) {
    int vowels = 0, run_v = 0, run_c = 0;
    bool wordlike = true;
    for (const char c : lower) {
      if (IsVowelLetter(c)) {
        ++vowels;
        run_c = 0;
        wordlike = wordlike && ++run_v < 2;
      } else {
        run_v = 0;
        wordlike = wordlike && ++run_c < 3;
      }
    }
    if (wordlike && vowels >= 2) return SpellingSound(lower);
    // One English syllable in capitals (JACK 잭, DRAM 디램, SPAC 스팩): one vowel letter
    // between an onset and a coda English allows; acronyms (HDMI, CMOS, NCSOFT) do not fit.
    if (vowels == 1 && OneSyllable(lower)) return SpellingSound(lower);
  }
  if (caps >= 2 || (caps == 1 && word.size() == 1)) return LetterSound(word.back());
  if (caps == 1 && word.size() > 1 && word.size() <= 3) return LetterSound(word.back());
  return SpellingSound(lower);
}

}  // namespace ondo::korean
