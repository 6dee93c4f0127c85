// tokenizer/bpe_trainer + morph_pretokenizer: BPE training (merges derived by hand), morpheme
// cuts never crossed, exact round trip on any valid UTF-8, full Hangul coverage, bad input,
// tokenizer.json written and read back, and the plain file read through the standard Hugging
// Face pipeline (Split + Metaspace) giving the same ids as ondo's own splitter.
#include "tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tokenizer/korean/analyzer.h"
#include "tokenizer/morph_pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

// Hand-written sentences (news, conversation), each used many times as training text.
constexpr const char* kKorean[] = {
    "학교에 갔다.",
    "학교에서 친구를 만났어요.",
    "오늘은 날씨가 정말 좋네요!",
    "저는 커피를 마시고 싶어요.",
    "내일은 비가 온다고 하니까 우산을 챙기세요.",
    "도서관에서 책을 읽었습니다.",
    "서울에서 부산까지 기차로 갔어요.",
    "회의는 오후 3시에 시작합니다.",
    "그 사람은 노래를 불러 주었는데, 목소리가 아름다웠다.",
    "정부는 새로운 정책을 발표했다.",
};

std::string TrainingText(int repeats) {
  std::string s;
  for (int r = 0; r < repeats; ++r) {
    for (const char* line : kKorean) {
      s += line;
      s += '\n';
    }
  }
  s += "Hello world! Mixed 한국어 and English text, 123 456.\n";
  return s;
}

TrainedBpe Train(const BpeTrainerOptions& opt, std::string_view text) {
  std::unique_ptr<BpeTrainer> trainer;
  Status st = BpeTrainer::Create(opt, &trainer);
  EXPECT_TRUE(st.ok()) << st.ToString();
  TrainedBpe bpe;
  if (!st.ok()) return bpe;
  st = trainer->AddText(text);
  EXPECT_TRUE(st.ok()) << st.ToString();
  st = trainer->Train(&bpe);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return bpe;
}

std::unique_ptr<Tokenizer> FromBpe(const TrainedBpe& bpe, bool ondo_key) {
  VocabSpec spec;
  TrainedBpeToVocabSpec(bpe, ondo_key, &spec);
  std::unique_ptr<Tokenizer> tok;
  const Status st = Tokenizer::Create(std::move(spec), &tok);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return tok;
}

std::vector<int32_t> Enc(const Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids;
  const Status st = tok.Encode(text, EncodeOptions{}, &ids);
  EXPECT_TRUE(st.ok()) << st.ToString() << " for '" << text << "'";
  return ids;
}

std::vector<std::string> MergeTexts(const TrainedBpe& bpe) {
  std::vector<std::string> out;
  for (const auto& [a, b] : bpe.merges) {
    out.push_back(bpe.tokens[static_cast<size_t>(a)] + " " + bpe.tokens[static_cast<size_t>(b)]);
  }
  return out;
}

// Shared trained tokenizers (training and the analyzer take a moment).
struct Trained {
  TrainedBpe morph, plain;
  std::unique_ptr<Tokenizer> morph_tok, plain_tok;
};

const Trained& Shared() {
  static Trained* t = [] {
    auto* x = new Trained;
    BpeTrainerOptions opt;
    opt.vocab_size = 12000;  // base alphabet ~11.6 k (all Hangul syllables) + merges
    opt.morph = true;
    x->morph = Train(opt, TrainingText(5));
    opt.morph = false;
    x->plain = Train(opt, TrainingText(5));
    x->morph_tok = FromBpe(x->morph, true);
    x->plain_tok = FromBpe(x->plain, true);
    return x;
  }();
  return *t;
}

// --- Training: merges derived by hand ----------------------------------------------------

TEST(BpeTrainer, HandDerivedMergesSimple) {
  // Pieces: "abc", "▁abc", "▁abd". Pair counts: (a,b) 3, (b,c) 2, (▁,a) 2, (b,d) 1 -> a+b.
  // Then (ab,c) 2, (▁,ab) 2, (ab,d) 1: tie at 2, the smaller left id wins; "▁" is a base
  // character and "ab" a merged token (larger id) -> ▁+ab. Then every pair occurs once: stop.
  BpeTrainerOptions opt;
  opt.morph = false;
  opt.full_hangul = false;
  opt.min_char_count = 1;
  opt.special_tokens = {};
  opt.vocab_size = 1000;
  const TrainedBpe bpe = Train(opt, "abc abc abd");
  EXPECT_EQ(MergeTexts(bpe), (std::vector<std::string>{"a b", "\u2581 ab"}));
  EXPECT_EQ(bpe.tokens.back(), "\u2581ab");
  EXPECT_EQ(bpe.tokens[0], "<0x00>");
  EXPECT_EQ(bpe.tokens[255], "<0xFF>");
}

TEST(BpeTrainer, HandDerivedMergesTies) {
  // Pieces: "cd" 1, "▁ab" 2, "▁cd" 1. Pairs: (c,d) 2, (▁,a) 2, (a,b) 2, (▁,c) 1. Ties go to the
  // smaller left id; base ids follow code points: a < c < ▁ (U+2581) -> a+b first.
  // Then (c,d) 2, (▁,ab) 2 -> c+d (c < ▁). Then (▁,ab) 2 -> ▁+ab; (▁,cd) 1 stays.
  BpeTrainerOptions opt;
  opt.morph = false;
  opt.full_hangul = false;
  opt.min_char_count = 1;
  opt.vocab_size = 1000;
  const TrainedBpe bpe = Train(opt, "cd ab cd ab");
  EXPECT_EQ(MergeTexts(bpe), (std::vector<std::string>{"a b", "c d", "\u2581 ab"}));
  EXPECT_EQ(bpe.n_special, 3);  // <pad> <s> </s>
  EXPECT_EQ(bpe.tokens[1], "<s>");
}

TEST(BpeTrainer, VocabularySizeLimitsMerges) {
  BpeTrainerOptions opt;
  opt.morph = false;
  opt.full_hangul = false;
  opt.min_char_count = 1;
  opt.special_tokens = {};
  opt.vocab_size = 256 + 6 + 94 + 1;  // bytes, ▁ + 5 control spaces, ASCII (a-d): 1 merge
  const TrainedBpe bpe = Train(opt, "cd ab cd ab");
  EXPECT_EQ(MergeTexts(bpe), (std::vector<std::string>{"a b"}));
  EXPECT_EQ(static_cast<int32_t>(bpe.tokens.size()), opt.vocab_size);
}

TEST(BpeTrainer, Deterministic) {
  BpeTrainerOptions opt;
  opt.vocab_size = 11800;
  const TrainedBpe a = Train(opt, TrainingText(3));
  const TrainedBpe b = Train(opt, TrainingText(3));
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.merges, b.merges);
}

TEST(BpeTrainer, VocabularySmallerThanHangulIsAnError) {
  BpeTrainerOptions opt;
  opt.vocab_size = 8000;
  std::unique_ptr<BpeTrainer> trainer;
  ASSERT_TRUE(BpeTrainer::Create(opt, &trainer).ok());
  ASSERT_TRUE(trainer->AddText("학교에 갔다.").ok());
  TrainedBpe bpe;
  const Status st = trainer->Train(&bpe);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("11,172"), std::string::npos) << st.message();
  // With only the syllables seen, 8000 is fine.
  opt.full_hangul = false;
  const TrainedBpe small = Train(opt, TrainingText(2));
  EXPECT_GT(small.merges.size(), 10u);
}

TEST(BpeTrainer, InvalidUtf8IsAnError) {
  std::unique_ptr<BpeTrainer> trainer;
  BpeTrainerOptions opt;
  opt.morph = false;
  ASSERT_TRUE(BpeTrainer::Create(opt, &trainer).ok());
  for (std::string_view bad : {std::string_view("ok \xff"), std::string_view("\xed\xa0\x80"),
                               std::string_view("\xc3"), std::string_view("a\xc0\xafz")}) {
    const Status st = trainer->AddText(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("UTF-8"), std::string::npos);
  }
  std::vector<int32_t> ids;
  const Status st = Shared().morph_tok->Encode("학교\xe0\x80", EncodeOptions{}, &ids);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  opt.vocab_size = 0;
  EXPECT_EQ(BpeTrainer::Create(opt, &trainer).code(), StatusCode::kInvalidArgument);
}

TEST(BpeTrainer, EmptyCorpusGivesBaseAlphabetOnly) {
  BpeTrainerOptions opt;
  opt.morph = false;
  const TrainedBpe bpe = Train(opt, "");
  EXPECT_TRUE(bpe.merges.empty());
  EXPECT_EQ(bpe.tokens.size(), 3u + 256 + 6 + 94 + 11172 + 94);
  auto tok = FromBpe(bpe, true);
  EXPECT_EQ(tok->Decode(Enc(*tok, "빈 말뭉치 ok")), "빈 말뭉치 ok");
}

// --- Morpheme cuts -----------------------------------------------------------------------

TEST(BpeTrainer, MorphNeverMergesAcrossParticle) {
  // 학교에 = 학교 (noun) + 에 (particle); 학교를 = 학교 + 를. Plain BPE learns the whole words,
  // morpheme-aware BPE cannot.
  std::string text;
  for (int i = 0; i < 50; ++i) text += "학교에 학교를 학교에 갔다\n";
  BpeTrainerOptions opt;
  opt.vocab_size = 11800;
  const TrainedBpe morph = Train(opt, text);
  opt.morph = false;
  const TrainedBpe plain = Train(opt, text);
  auto has = [](const TrainedBpe& b, const std::string& t) {
    return std::find(b.tokens.begin(), b.tokens.end(), t) != b.tokens.end();
  };
  EXPECT_TRUE(has(plain, "\u2581학교에"));
  EXPECT_TRUE(has(plain, "\u2581학교를"));
  EXPECT_FALSE(has(morph, "\u2581학교에"));
  EXPECT_FALSE(has(morph, "학교에"));
  EXPECT_FALSE(has(morph, "\u2581학교를"));
  EXPECT_FALSE(has(morph, "교에"));
  EXPECT_TRUE(has(morph, "\u2581학교"));
  EXPECT_TRUE(has(morph, "학교"));
}

TEST(BpeTrainer, MorphTokensNeverCrossAnalyzerCuts) {
  std::unique_ptr<korean::Analyzer> analyzer;
  ASSERT_TRUE(korean::Analyzer::Create(&analyzer).ok());
  const Trained& t = Shared();
  korean::Analysis a;
  size_t checked_cuts = 0;
  for (const char* line : kKorean) {
    const std::string text = line;
    ASSERT_TRUE(analyzer->Analyze(text, &a).ok());
    std::set<size_t> cuts;
    for (const korean::Eojeol& e : a.eojeols) {
      for (uint32_t k = 0; k < e.morph_count; ++k) {
        const korean::Morpheme& m = a.morphemes[e.morph_begin + k];
        if (m.end > e.begin && m.end < e.end) cuts.insert(static_cast<size_t>(m.end));
      }
    }
    checked_cuts += cuts.size();
    const std::vector<int32_t> ids = Enc(*t.morph_tok, text);
    size_t pos = 0;
    for (int32_t id : ids) {
      const size_t len = t.morph_tok->Piece(id).size();
      for (size_t c : cuts) {
        EXPECT_FALSE(c > pos && c < pos + len) << "token '" << t.morph_tok->Piece(id)
                                               << "' crosses the cut at " << c << " in " << text;
      }
      pos += len;
    }
    EXPECT_EQ(pos, text.size());
  }
  EXPECT_GT(checked_cuts, 15u);
  // Every piece the splitter makes lies inside one morpheme span or is whitespace.
  std::unique_ptr<MorphSplitter> splitter;
  ASSERT_TRUE(MorphSplitter::Create(OndoPreTokenizer::kKoreanMorph, &splitter).ok());
  MorphSplitter::Scratch scratch;
  std::vector<PieceSpan> pieces;
  ASSERT_TRUE(splitter->Split("학교에 갔다.", &scratch, &pieces).ok());
  std::vector<std::string> got;
  for (const PieceSpan& p : pieces)
    got.push_back(std::string("학교에 갔다.").substr(p.begin, p.end - p.begin));
  // 학교|에 (noun + particle); 갔다 stays whole (가+았 are contracted, no offsets), then "."
  EXPECT_EQ(got, (std::vector<std::string>{"학교", "에", " 갔다", "."}));
}

TEST(MorphSplitter, WhitespacePieces) {
  std::unique_ptr<MorphSplitter> splitter;
  ASSERT_TRUE(MorphSplitter::Create(OndoPreTokenizer::kWhitespace, &splitter).ok());
  MorphSplitter::Scratch scratch;
  std::vector<PieceSpan> pieces;
  const std::string text = "  a b\n\n c \t";
  ASSERT_TRUE(splitter->Split(text, &scratch, &pieces).ok());
  std::vector<std::string> got;
  for (const PieceSpan& p : pieces) got.push_back(text.substr(p.begin, p.end - p.begin));
  EXPECT_EQ(got, (std::vector<std::string>{" ", " a", " b", "\n\n", " c", " ", "\t"}));
}

// --- Round trip and coverage -------------------------------------------------------------

TEST(BpeTrainer, RoundTripFixedCases) {
  const Trained& t = Shared();
  const std::vector<std::string> cases = {
      "",
      " ",
      "   ",
      "\n",
      "\n\n\t \r\n",
      " 앞 공백",
      "뒤 공백 ",
      "여러   칸의    공백",
      "줄\n바꿈\r\n과\t탭",
      "학교에 갔다. 도와 주세요! 갈게.",
      "Mixed 한국어 English 日本語 中文 русский العربية",
      "emoji 😀👍🏽 🇰🇷 family 👨‍👩‍👧",
      "literal \u2581 and \u2581\u2581 metaspace ▁x",
      "<s> not special </s> <pad>",
      "<0x41> looks like a byte token",
      "NFD \u1112\u1161\u11ab \u1100\u1173\u11af",  // 한글 in conjoining jamo
      "compatibility jamo ㅋㅋㅋ ㅠㅠ ㄱㄴㄷ",
      "nbsp\u00a0and ideographic\u3000space",
      "\u200bzero width\ufeff",
      "combining e\u0301",
      "\x01\x02 control \x7f",
      std::string("nul\0inside", 10),
  };
  for (const auto* tok : {t.morph_tok.get(), t.plain_tok.get()}) {
    for (const std::string& c : cases) EXPECT_EQ(tok->Decode(Enc(*tok, c)), c);
  }
  EXPECT_TRUE(Enc(*t.morph_tok, "").empty());
}

std::string RandomUtf8(std::mt19937& rng, size_t n_chars) {
  // Code point pools weighted towards the interesting cases.
  static const std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x20},        {0x09, 0x0D},       {0x21, 0x7E},     {0x00, 0x1F},
      {0xAC00, 0xD7A3},    {0x3131, 0x318E},   {0x1100, 0x11FF}, {0x2581, 0x2581},
      {0x4E00, 0x9FFF},    {0x0080, 0x07FF},   {0x0800, 0xD7FF}, {0xE000, 0xFFFF},
      {0x10000, 0x10FFFF}, {0x1F600, 0x1F64F}, {0x3000, 0x3000}, {0x00A0, 0x00A0},
  };
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    const auto& [lo, hi] = kRanges[rng() % (sizeof(kRanges) / sizeof(kRanges[0]))];
    const uint32_t cp = lo + static_cast<uint32_t>(rng() % (hi - lo + 1));
    unicode::AppendUtf8(cp, &s);
  }
  return s;
}

TEST(BpeTrainer, RoundTripRandomUtf8) {
  const Trained& t = Shared();
  std::mt19937 rng(12345);
  for (int i = 0; i < 1500; ++i) {
    const std::string s = RandomUtf8(rng, rng() % 40);
    ASSERT_TRUE(unicode::IsValidUtf8(s));
    EXPECT_EQ(t.morph_tok->Decode(Enc(*t.morph_tok, s)), s) << "case " << i;
    EXPECT_EQ(t.plain_tok->Decode(Enc(*t.plain_tok, s)), s) << "case " << i;
  }
}

TEST(BpeTrainer, StreamDecoderRoundTrip) {
  const Trained& t = Shared();
  const std::string text = "스트리밍 😀 디코딩 \u2581 끝\n";
  StreamDecoder dec(*t.morph_tok, false);
  std::string out;
  for (int32_t id : Enc(*t.morph_tok, text)) dec.Push(id, &out);
  dec.Flush(&out);
  EXPECT_EQ(out, text);
}

TEST(BpeTrainer, HangulSyllablesNeverFallBackToBytes) {
  const Trained& t = Shared();
  const int32_t first_byte = t.morph.n_special, end_byte = t.morph.n_special + 256;
  std::string text;
  int64_t n = 0;
  for (uint32_t cp = 0xAC00; cp <= 0xD7A3; ++cp) {
    unicode::AppendUtf8(cp, &text);
    if (++n % 7 == 0) text += ' ';
  }
  for (const auto* tok : {t.morph_tok.get(), t.plain_tok.get()}) {
    const std::vector<int32_t> ids = Enc(*tok, text);
    for (int32_t id : ids) ASSERT_FALSE(id >= first_byte && id < end_byte) << "byte token " << id;
    EXPECT_EQ(tok->Decode(ids), text);
  }
  // Compatibility jamo too; an emoji (not in the tiny corpus) does fall back to 4 bytes.
  for (int32_t id : Enc(*t.morph_tok, "ㄱㅏㅎㅣㆎ"))
    EXPECT_FALSE(id >= first_byte && id < end_byte);
  const std::vector<int32_t> emoji = Enc(*t.morph_tok, "😀");
  ASSERT_EQ(emoji.size(), 4u);
  for (int32_t id : emoji) EXPECT_TRUE(id >= first_byte && id < end_byte);
  // A literal U+2581 is never the space token.
  const std::vector<int32_t> meta = Enc(*t.morph_tok, "\u2581");
  EXPECT_EQ(meta, (std::vector<int32_t>{first_byte + 0xE2, first_byte + 0x96, first_byte + 0x81}));
}

// --- tokenizer.json ----------------------------------------------------------------------

TEST(BpeTrainer, WrittenJsonLoadsWithSameIds) {
  const Trained& t = Shared();
  for (const TrainedBpe* bpe : {&t.morph, &t.plain}) {
    const std::string json = TrainedBpeToHfJson(*bpe, true);
    std::unique_ptr<Tokenizer> loaded;
    const Status st = Tokenizer::FromHfJsonText(json, &loaded);
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto direct = FromBpe(*bpe, true);
    EXPECT_EQ(loaded->spec().ondo_pre_tokenizer, OndoPreTokenizerName(bpe->pre));
    EXPECT_EQ(loaded->n_vocab(), static_cast<int32_t>(bpe->tokens.size()));
    std::mt19937 rng(7);
    std::vector<std::string> texts(std::begin(kKorean), std::end(kKorean));
    texts.push_back(" 공백  두 칸\n\n그리고 😀 \u2581 끝 ");
    for (int i = 0; i < 200; ++i) texts.push_back(RandomUtf8(rng, rng() % 30));
    for (const std::string& s : texts) {
      EXPECT_EQ(Enc(*loaded, s), Enc(*direct, s)) << s;
    }
    // Special tokens are loaded as such and matched only with parse_special.
    std::vector<int32_t> ids;
    EncodeOptions o;
    o.parse_special = true;
    ASSERT_TRUE(loaded->Encode("<s>안녕</s>", o, &ids).ok());
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
  }
}

TEST(BpeTrainer, PlainFileThroughHfPipelineMatchesOndoSplitter) {
  // Without the "ondo" key the loader runs the file's standard Hugging Face pre-tokenizer
  // (Split on control whitespace, Metaspace never/split). For plain BPE that must give the
  // same ids as ondo's own splitter on any text without a literal U+2581.
  const Trained& t = Shared();
  const std::string json = TrainedBpeToHfJson(t.plain, false);
  EXPECT_EQ(json.find("\"ondo\""), std::string::npos);
  std::unique_ptr<Tokenizer> hf;
  ASSERT_TRUE(Tokenizer::FromHfJsonText(json, &hf).ok());
  EXPECT_TRUE(hf->spec().ondo_pre_tokenizer.empty());
  std::mt19937 rng(99);
  std::vector<std::string> texts(std::begin(kKorean), std::end(kKorean));
  texts.push_back("  lead\t\ttabs \n trail  ");
  for (int i = 0; i < 300; ++i) {
    const std::string s = RandomUtf8(rng, rng() % 30);
    std::string clean;  // literal U+2581 -> 'x'
    for (size_t p = 0; p < s.size();) {
      if (s.compare(p, 3, "\u2581") == 0) {
        clean += 'x';
        p += 3;
      } else {
        clean += s[p++];
      }
    }
    texts.push_back(clean);
  }
  for (const std::string& s : texts) {
    EXPECT_EQ(Enc(*hf, s), Enc(*t.plain_tok, s)) << s;
    EXPECT_EQ(hf->Decode(Enc(*hf, s)), s);
  }
}

TEST(BpeTrainer, OndoKeyErrors) {
  const Trained& t = Shared();
  std::string json = TrainedBpeToHfJson(t.plain, true);
  std::unique_ptr<Tokenizer> tok;
  std::string bad = json;
  bad.replace(bad.find("\"whitespace\""), 12, "\"klingon\"");
  EXPECT_EQ(Tokenizer::FromHfJsonText(bad, &tok).code(), StatusCode::kUnsupported);
  bad = json;
  const size_t v = bad.rfind("\"version\": 1");
  ASSERT_NE(v, std::string::npos);
  bad.replace(v, 12, "\"version\": 2");
  EXPECT_EQ(Tokenizer::FromHfJsonText(bad, &tok).code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace ondo::tokenizer
