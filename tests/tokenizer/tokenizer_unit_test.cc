// tokenizer/: unit tests on small vocabularies built in code (no data files): Unicode tables,
// the regex engine, SPM and byte-level BPE, special tokens, invalid input, streaming decode,
// and tokenizer.json parsing.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/tokenizer/small_vocab.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

using unicode::Category;

std::unique_ptr<Tokenizer> Make(VocabSpec spec) {
  std::unique_ptr<Tokenizer> tok;
  const Status st = Tokenizer::Create(std::move(spec), &tok);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return tok;
}

std::vector<int32_t> Enc(const Tokenizer& tok, std::string_view text, bool add_special = false,
                         bool parse_special = false) {
  std::vector<int32_t> ids;
  EncodeOptions o;
  o.add_special = add_special;
  o.parse_special = parse_special;
  const Status st = tok.Encode(text, o, &ids);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return ids;
}

// Splits text with the regex the way a pre-tokenizer Split(Isolated) does.
std::vector<std::string> Split(const std::string& pattern, const std::string& text) {
  std::unique_ptr<Regex> re;
  const Status st = Regex::Compile(pattern, &re);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!re) return {};
  Workspace ws;
  ws.budget = 1'000'000;
  std::vector<std::pair<size_t, size_t>> m;
  EXPECT_TRUE(RegexFindAll(*re, text, &ws, &m).ok());
  std::vector<std::string> out;
  size_t prev = 0;
  for (auto [b, e] : m) {
    if (b > prev) out.push_back(text.substr(prev, b - prev));
    out.push_back(text.substr(b, e - b));
    prev = e;
  }
  if (prev < text.size()) out.push_back(text.substr(prev));
  return out;
}

// --- Unicode ---------------------------------------------------------------------------------

TEST(Unicode, Categories) {
  EXPECT_EQ(unicode::GetCategory('A'), Category::kLu);
  EXPECT_EQ(unicode::GetCategory('z'), Category::kLl);
  EXPECT_EQ(unicode::GetCategory('7'), Category::kNd);
  EXPECT_EQ(unicode::GetCategory(0xAC00), Category::kLo);   // 가
  EXPECT_EQ(unicode::GetCategory(0x1F600), Category::kSo);  // 😀
  EXPECT_EQ(unicode::GetCategory(0x0301), Category::kMn);
  EXPECT_EQ(unicode::GetCategory(0x3002), Category::kPo);   // 。
  EXPECT_EQ(unicode::GetCategory(0x10FFFF), Category::kCn);
  EXPECT_TRUE(unicode::IsWhitespace(0x3000));
  EXPECT_TRUE(unicode::IsWhitespace(0x85));
  EXPECT_FALSE(unicode::IsWhitespace(0x200B));
  EXPECT_FALSE(unicode::IsWhitespace(0x1C));
  EXPECT_STRNE(unicode::Version(), "");
}

TEST(Unicode, StrictUtf8) {
  EXPECT_TRUE(unicode::IsValidUtf8("abc \xea\xb0\x80 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(unicode::IsValidUtf8("\xc0\x80"));          // overlong
  EXPECT_FALSE(unicode::IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(unicode::IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(unicode::IsValidUtf8("\xea\xb0"));          // truncated
  EXPECT_FALSE(unicode::IsValidUtf8("\x80"));
  EXPECT_EQ(unicode::FindInvalidUtf8("ab\xff"), 2u);
}

TEST(Unicode, Normalization) {
  std::string out;
  unicode::Nfc("\xe1\x84\x80\xe1\x85\xa1", &out);  // ᄀ + ᅡ -> 가
  EXPECT_EQ(out, "\xea\xb0\x80");
  out.clear();
  unicode::Nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", &out);  // -> 각
  EXPECT_EQ(out, "\xea\xb0\x81");
  out.clear();
  unicode::Nfc("e\xcc\x81", &out);  // e + acute -> é
  EXPECT_EQ(out, "\xc3\xa9");
  out.clear();
  unicode::Nfd("\xea\xb0\x81", &out);
  EXPECT_EQ(out, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8");
  out.clear();
  // Canonical ordering: dot below (ccc 220) before acute (230), then composition.
  unicode::Nfc("a\xcc\x81\xcc\xa3", &out);
  EXPECT_EQ(out, "\xe1\xba\xa1\xcc\x81");  // ạ + acute
  out.clear();
  unicode::Nfc("\xe2\x84\xa6", &out);  // OHM SIGN -> GREEK CAPITAL OMEGA (singleton)
  EXPECT_EQ(out, "\xce\xa9");
}

TEST(Unicode, ByteLevelMapping) {
  EXPECT_EQ(unicode::ByteToCodepoint('a'), static_cast<uint32_t>('a'));
  EXPECT_EQ(unicode::ByteToCodepoint(' '), 0x120u);  // Ġ
  EXPECT_EQ(unicode::ByteToCodepoint('\n'), 0x10Au);  // Ċ
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(unicode::CodepointToByte(unicode::ByteToCodepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(unicode::CodepointToByte(0x4E00), -1);
}

// --- Regex -----------------------------------------------------------------------------------

const char kQwen2[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

TEST(Regex, PreTokenizerSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Split(kQwen2, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Split(kQwen2, "I'M 123!!"), (V{"I", "'M", " ", "1", "2", "3", "!!"}));
  EXPECT_EQ(Split(kQwen2, "a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(Split(kQwen2, "x \n\n y"), (V{"x", " \n\n", " y"}));
  EXPECT_EQ(Split(kQwen2, "안녕하세요, 세계!"), (V{"안녕하세요", ",", " 세계", "!"}));
  EXPECT_EQ(Split(R"(\p{N}{1,3})", "1234567"), (V{"123", "456", "7"}));
  EXPECT_EQ(Split(R"(\s+$)", "ab  "), (V{"ab", "  "}));
  EXPECT_EQ(Split("a+?", "aaa"), (V{"a", "a", "a"}));
  EXPECT_EQ(Split("(?>a+)b|a", "aaab"), (V{"aaab"}));
  EXPECT_EQ(Split("a++a|b", "aaab"), (V{"aaa", "b"}));
  EXPECT_EQ(Split("(?:ab){1}+", "ababa"), (V{"abab", "a"}));  // Ruby: "{n}+" is not possessive
  EXPECT_EQ(Split(R"([\x{AC00}-\x{D7A3}]+)", "ab가나c"), (V{"ab", "가나", "c"}));
  EXPECT_EQ(Split("(?i)k", "K\xe2\x84\xaa"), (V{"K", "\xe2\x84\xaa"}));  // Kelvin sign folds to k
}

TEST(Regex, RejectsUnsupportedSyntax) {
  std::unique_ptr<Regex> re;
  EXPECT_FALSE(Regex::Compile("(a)\\1", &re).ok());
  EXPECT_FALSE(Regex::Compile("(?<=a)b", &re).ok());
  EXPECT_FALSE(Regex::Compile("(a*)*", &re).ok());  // unbounded repetition of an empty match
  EXPECT_FALSE(Regex::Compile("[a", &re).ok());
  EXPECT_FALSE(Regex::Compile("(a", &re).ok());
  EXPECT_FALSE(Regex::Compile("a)", &re).ok());
  EXPECT_FALSE(Regex::Compile("\\p{Nope}", &re).ok());
  EXPECT_FALSE(Regex::Compile("a{5000}", &re).ok());
  EXPECT_FALSE(Regex::Compile("*a", &re).ok());
  EXPECT_FALSE(Regex::Compile(std::string(200, '('), &re).ok());
}

TEST(Regex, BacktrackingIsBounded) {
  std::unique_ptr<Regex> re;
  ASSERT_TRUE(Regex::Compile("(a|a)*b", &re).ok());
  const std::string text(40, 'a');
  Workspace ws;
  ws.budget = 1'000'000;
  std::vector<std::pair<size_t, size_t>> m;
  EXPECT_FALSE(RegexFindAll(*re, text, &ws, &m).ok());
}

// --- SPM -------------------------------------------------------------------------------------

TEST(Spm, MergesByScoreWithSpacePrefix) {
  auto tok = Make(testing::SmallSpmSpec());
  // "▁hello▁world": ▁hello, then ▁wor + l + d (there is no ▁worl).
  EXPECT_EQ(Enc(*tok, "hello world"), (std::vector<int32_t>{274, 278, 263, 267}));
  EXPECT_EQ(Enc(*tok, "hello world", true), (std::vector<int32_t>{1, 274, 278, 263, 267}));
  EXPECT_EQ(tok->Decode(Enc(*tok, "hello world")), " hello world");
  EXPECT_EQ(tok->Decode(Enc(*tok, "hello world"), true), "hello world");
}

TEST(Spm, ByteFallbackAndSpecialTokens) {
  auto tok = Make(testing::SmallSpmSpec());
  // 'x' is not a piece: byte token <0x78> (id 4 + 0x78).
  EXPECT_EQ(Enc(*tok, "x"), (std::vector<int32_t>{260, 4 + 0x78}));
  // User-defined tokens are always split out; a ▁ goes in front of text after them.
  EXPECT_EQ(Enc(*tok, "<|user|>hello"), (std::vector<int32_t>{3, 274}));
  EXPECT_EQ(Enc(*tok, "hello<|user|>hello"), (std::vector<int32_t>{274, 3, 274}));
  // Control tokens only with parse_special.
  EXPECT_EQ(Enc(*tok, "</s>", false, true), (std::vector<int32_t>{2}));
  EXPECT_NE(Enc(*tok, "</s>", false, false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->Decode({1, 3, 274, 2}), "<|user|> hello");
}

TEST(Spm, EmptyAndInvalidInput) {
  auto tok = Make(testing::SmallSpmSpec());
  EXPECT_TRUE(Enc(*tok, "").empty());
  EXPECT_EQ(Enc(*tok, "", true), (std::vector<int32_t>{1}));
  std::vector<int32_t> ids;
  for (const char* bad : {"\xff", "ab\xea\xb0", "\xc0\xaf", "\xed\xa0\x80"}) {
    ids.clear();
    const Status st = tok->Encode(bad, {}, &ids);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(ids.empty());
  }
}

// --- byte-level BPE --------------------------------------------------------------------------

TEST(Bpe, MergesByRankAfterGpt2Split) {
  auto tok = Make(testing::SmallBpeSpec());
  // "hello the" -> "hello" " the"; in "hello", rank 3 (h e) goes before rank 5 (l l), so
  // "e llo" and "h ello" never apply.
  EXPECT_EQ(Enc(*tok, "hello the"), (std::vector<int32_t>{259, 262, 260}));
  EXPECT_EQ(Enc(*tok, "\xea\xb0\x80"), (std::vector<int32_t>{266}));
  EXPECT_EQ(Enc(*tok, "hello<|endoftext|>", false, true), (std::vector<int32_t>{259, 262, 267}));
  EXPECT_EQ(Enc(*tok, "hello<|endoftext|>", false, false).size(), 2u + 13u);
  EXPECT_EQ(tok->Decode(Enc(*tok, "hello the 가")), "hello the 가");
  EXPECT_TRUE(tok->IsEog(267));
  EXPECT_EQ(tok->Piece(267), "");
  EXPECT_EQ(tok->FindToken("<|endoftext|>"), 267);
  EXPECT_EQ(tok->FindToken("nope"), -1);
}

TEST(Bpe, RoundTripsRandomUtf8) {
  auto tok = Make(testing::SmallBpeSpec());
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      uint32_t cp;
      switch (rng() % 5) {
        case 0: cp = 0x20 + rng() % 0x5F; break;
        case 1: cp = rng() % 0x80; break;
        case 2: cp = 0xAC00 + rng() % 11172; break;
        case 3: cp = 0x1F300 + rng() % 0x300; break;
        default: cp = rng() % 0x110000; break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      unicode::AppendUtf8(cp, &text);
    }
    const auto ids = Enc(*tok, text);
    EXPECT_EQ(tok->Decode(ids), text);
  }
}

// --- streaming -------------------------------------------------------------------------------

TEST(StreamDecoder, EmitsOnlyCompleteCharacters) {
  auto tok = Make(testing::SmallBpeSpec());
  StreamDecoder dec(*tok, false);
  std::string out;
  // 가 = EA B0 80 as three byte tokens, then 😀 = F0 9F 98 80.
  dec.Push(0xEA, &out);
  EXPECT_EQ(out, "");
  dec.Push(0xB0, &out);
  EXPECT_EQ(out, "");
  dec.Push(0x80, &out);
  EXPECT_EQ(out, "\xea\xb0\x80");
  for (int b : {0xF0, 0x9F, 0x98}) {
    dec.Push(b, &out);
    EXPECT_EQ(out, "\xea\xb0\x80");
  }
  dec.Push(0x80, &out);
  EXPECT_EQ(out, "\xea\xb0\x80\xf0\x9f\x98\x80");
  dec.Push(264, &out);  // "hello"
  dec.Push(267, &out);  // control: nothing
  dec.Flush(&out);
  EXPECT_EQ(out, "\xea\xb0\x80\xf0\x9f\x98\x80hello");
}

TEST(StreamDecoder, InvalidSequencesBecomeReplacementCharacters) {
  auto tok = Make(testing::SmallBpeSpec());
  StreamDecoder dec(*tok, false);
  std::string out;
  dec.Push(0xEA, &out);
  dec.Push('a', &out);  // breaks the sequence
  EXPECT_EQ(out, "\xef\xbf\xbd" "a");
  out.clear();
  dec.Push(0xFF, &out);
  EXPECT_EQ(out, "\xef\xbf\xbd");
  out.clear();
  dec.Push(0xED, &out);
  dec.Push(0xA0, &out);  // surrogate range
  EXPECT_EQ(out, "\xef\xbf\xbd\xef\xbf\xbd");
  out.clear();
  dec.Push(0xF0, &out);
  dec.Push(0x9F, &out);
  dec.Flush(&out);
  EXPECT_EQ(out, "\xef\xbf\xbd");
  dec.Push(-5, &out);
  dec.Push(1 << 30, &out);
  EXPECT_EQ(out, "\xef\xbf\xbd");
}

TEST(StreamDecoder, StripsTheFirstLeadingSpace) {
  auto tok = Make(testing::SmallSpmSpec());
  StreamDecoder dec(*tok, true);
  std::string out;
  for (int32_t id : Enc(*tok, "hello world", true)) dec.Push(id, &out);
  dec.Flush(&out);
  EXPECT_EQ(out, "hello world");
  dec.Reset();
  out.clear();
  for (int32_t id : Enc(*tok, "\xea\xb0\x80")) dec.Push(id, &out);
  EXPECT_EQ(out, "\xea\xb0\x80");
}

// --- tokenizer.json --------------------------------------------------------------------------

// A Gemma-like character BPE: Replace(" " -> ▁) normalizer, byte fallback, added tokens.
const char kCharBpeJson[] = R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false},
    {"id": 1, "content": "<bos>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false},
    {"id": 2, "content": "<eot>", "special": true, "lstrip": true, "rstrip": true, "normalized": false, "single_word": false},
    {"id": 3, "content": "\n\n", "special": false, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}
  ],
  "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
  "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<bos>": {"id": "<bos>", "ids": [1], "tokens": ["<bos>"]}}},
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
    "vocab": {"<unk>": 0, "<bos>": 1, "<eot>": 2, "\n\n": 3, "<0x21>": 4, "<0xEC>": 5, "<0x95>": 6, "<0x88>": 7,
              "a": 8, "b": 9, "\u2581": 10, "ab": 11, "\u2581ab": 12},
    "merges": [["a", "b"], ["\u2581", "ab"]]}
})";

TEST(HfJson, CharBpeWithByteFallback) {
  std::unique_ptr<Tokenizer> tok;
  const Status st = Tokenizer::FromHfJsonText(kCharBpeJson, &tok);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tok->spec().kind, VocabKind::kCharBpe);
  EXPECT_TRUE(tok->spec().add_bos);
  EXPECT_EQ(tok->spec().bos_id, 1);
  EXPECT_EQ(Enc(*tok, "ab ab"), (std::vector<int32_t>{11, 12}));
  EXPECT_EQ(Enc(*tok, "ab ab", true), (std::vector<int32_t>{1, 11, 12}));
  // '!' -> <0x21>; '안' (EC 95 88) -> three byte tokens; 'z' has no byte token -> <unk>,
  // consecutive unknowns fused.
  EXPECT_EQ(Enc(*tok, "!\xec\x95\x88zz"), (std::vector<int32_t>{4, 5, 6, 7, 0}));
  // Added tokens: <eot> strips the spaces around it; "\n\n" is matched as text.
  EXPECT_EQ(Enc(*tok, "ab  <eot>  ab", false, true), (std::vector<int32_t>{11, 2, 11}));
  EXPECT_EQ(Enc(*tok, "ab\n\nab"), (std::vector<int32_t>{11, 3, 11}));
  EXPECT_EQ(tok->Decode({11, 12, 4, 5, 6, 7}), "ab ab!\xec\x95\x88");
  EXPECT_EQ(tok->GetTokenType(5), TokenType::kByte);
}

TEST(HfJson, ByteLevelWithConfig) {
  const char json[] = R"({
    "added_tokens": [{"id": 5, "content": "<|im_end|>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\p{N}| ?\\p{L}+"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "\u0120": 2, "1": 3, "\u0120a": 4}, "merges": ["\u0120 a"]}
  })";
  const char config[] = R"({"add_bos_token": false, "eos_token": {"content": "<|im_end|>"}})";
  std::unique_ptr<Tokenizer> tok;
  const Status st = Tokenizer::FromHfJsonText(json, config, &tok);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tok->spec().kind, VocabKind::kBpe);
  EXPECT_EQ(tok->spec().eos_id, 5);
  EXPECT_TRUE(tok->IsEog(5));
  EXPECT_EQ(Enc(*tok, "a a1<|im_end|>", false, true), (std::vector<int32_t>{0, 4, 3, 5}));
  EXPECT_EQ(tok->Decode({0, 4, 3, 5}), "a a1");
}

TEST(HfJson, RejectsBadFiles) {
  std::unique_ptr<Tokenizer> tok;
  EXPECT_EQ(Tokenizer::FromHfJsonText("{", &tok).code(), StatusCode::kCorrupt);
  EXPECT_EQ(Tokenizer::FromHfJsonText("[]", &tok).code(), StatusCode::kCorrupt);
  EXPECT_EQ(Tokenizer::FromHfJsonText(R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})", &tok)
                .code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(Tokenizer::FromHfJsonText(R"({"model": {"type": "BPE", "vocab": {"a": 2000000}, "merges": []}})",
                                      &tok)
                .code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(Tokenizer::FromHfJsonText(R"({"model": {"type": "BPE", "vocab": {"a": "x"}}})", &tok).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(Tokenizer::FromHfJsonText(
                R"j({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<=a)"}, "behavior": "Isolated"},
                    "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})j",
                &tok)
                .code(),
            StatusCode::kUnsupported);
}

TEST(PreTokenizerRegexes, KnowsLlamaCppFamilies) {
  std::vector<std::string> r;
  for (const char* pre : {"default", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
                          "deepseek-v3", "falcon", "mpt", "starcoder", "refact", "command-r",
                          "gpt-2", "tekken", "chameleon", "poro-chat", "viking", "smollm"}) {
    ASSERT_TRUE(PreTokenizerRegexes(pre, &r).ok()) << pre;
    for (const std::string& pattern : r) {
      std::unique_ptr<Regex> re;
      const Status st = Regex::Compile(pattern, &re);
      EXPECT_TRUE(st.ok()) << pre << ": " << st.ToString();
    }
  }
  EXPECT_EQ(PreTokenizerRegexes("no-such-family", &r).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ondo::tokenizer
