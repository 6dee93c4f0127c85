// Morpheme analyzer on hand-checked examples: irregular and contracted predicates, the copula,
// particle allomorphs, non-Hangul runs, byte offsets, lenient particles, bad input.
#include "tokenizer/korean/analyzer.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean {
namespace {

class AnalyzerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Status s = Analyzer::Create(&analyzer_);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  static void TearDownTestSuite() { analyzer_.reset(); }

  // "form/TAG+form/TAG" for each eojeol, joined by spaces.
  static std::string Run(const std::string& text, const AnalyzeOptions& o = {}) {
    Analysis a;
    const Status s = analyzer_->Analyze(text, o, &a);
    EXPECT_TRUE(s.ok()) << s.message();
    std::string out;
    for (size_t i = 0; i < a.eojeols.size(); ++i) {
      if (i) out += ' ';
      out += a.Format(i);
    }
    return out;
  }

  // Compares one eojeol's analysis with "form/TAG+..." where a TAG of '*' matches any tag.
  static void Expect(const std::string& word, const std::string& expected,
                     const AnalyzeOptions& o = {}) {
    const std::string got = Run(word, o);
    std::vector<std::string> g, e;
    auto split = [](const std::string& s, std::vector<std::string>* out) {
      size_t start = 0;
      while (true) {
        const size_t p = s.find('+', start);
        out->push_back(s.substr(start, p == std::string::npos ? p : p - start));
        if (p == std::string::npos) break;
        start = p + 1;
      }
    };
    split(got, &g);
    split(expected, &e);
    bool ok = g.size() == e.size();
    for (size_t i = 0; ok && i < e.size(); ++i) {
      if (e[i].ends_with("/*")) {
        ok = g[i].substr(0, g[i].rfind('/')) == e[i].substr(0, e[i].size() - 2);
      } else {
        ok = g[i] == e[i];
      }
    }
    EXPECT_TRUE(ok) << word << ": expected " << expected << ", got " << got;
  }

  static std::unique_ptr<Analyzer> analyzer_;
};

std::unique_ptr<Analyzer> AnalyzerTest::analyzer_;

TEST_F(AnalyzerTest, ExamplesOfTheIssue) {
  Expect("했다", "하/*+았/EP+다/EF");
  Expect("도와", "돕/VV+아/*");
  Expect("갈게", "가/VV+ㄹ게/EF");
  AnalyzeOptions canonical;
  canonical.canonical_endings = true;
  Expect("했다", "하/*+었/EP+다/EF", canonical);
  Expect("도와", "돕/VV+어/*", canonical);
  Expect("봐서", "보/VV+어서/EC", canonical);
}

TEST_F(AnalyzerTest, IrregularPredicates) {
  // ㅂ
  Expect("가까워서", "가깝/VA+어서/EC");
  Expect("도운", "돕/VV+ㄴ/ETM");
  Expect("고마워요", "고맙/VA+어요/EF");
  // ㄷ
  Expect("들으면", "듣/VV+으면/EC");
  Expect("깨달았다", "깨닫/VV+았/EP+다/EF");
  // ㅅ
  Expect("지었다", "짓/VV+었/EP+다/EF");
  Expect("그었다", "긋/VV+었/EP+다/EF");
  // 르
  Expect("불러", "부르/VV+어/*");
  Expect("몰라요", "모르/VV+아요/EF");
  Expect("빨라서", "빠르/VA+아서/EC");
  // ㅎ
  Expect("하얀", "하얗/VA+ㄴ/ETM");
  Expect("까매서", "까맣/VA+아서/EC");
  // ㄹ dropped before ㄴ, ㅂ, ㅅ
  Expect("만드는", "만들/VV+는/ETM");
  Expect("압니다", "알/VV+ㅂ니다/EF");
  Expect("팝니다", "팔/VV+ㅂ니다/EF");
}

TEST_F(AnalyzerTest, Contractions) {
  Expect("봐요", "보/VV+아요/EF");
  Expect("돼요", "되/VV+어요/EF");
  Expect("마셔", "마시/VV+어/*");
  Expect("가서", "가/VV+아서/EC");
  Expect("했어요", "하/*+았/EP+어요/EF");
  Expect("공부했다", "공부/NNG+하/XSV+았/EP+다/EF");
  // Honorific 시 fused with 었 (가셨다 alone is ambiguous with 가시다 "to fade"; these are not).
  Expect("오셨어요", "오/VV+시/EP+었/EP+어요/EF");
  Expect("하셨습니다", "하/*+시/EP+었/EP+습니다/EF");
  Expect("하여", "하/*+아/EC");
  Expect("되어", "되/VV+어/EC");
}

TEST_F(AnalyzerTest, Copula) {
  Expect("학생이다", "학생/NNG+이/VCP+다/EF");
  Expect("의사다", "의사/NNG+이/VCP+다/EF");
  Expect("의사였다", "의사/NNG+이/VCP+었/EP+다/EF");
  Expect("학생이었다", "학생/NNG+이/VCP+었/EP+다/EF");
  Expect("학생이에요", "학생/NNG+이/VCP+에요/EF");
  Expect("의사예요", "의사/NNG+이/VCP+에요/EF");
}

// Chat forms KLUE's news lacks: the plain-speech copula 야 and vocatives. Analyses as in the
// Sejong guidelines (이야 = 이/VCP + 야/EF; 아/야 after a name = JKV).
TEST_F(AnalyzerTest, CopulaYaAndVocatives) {
  Expect("학생이야", "학생/NNG+이/VCP+야/EF");
  Expect("문제야.", "문제/NNG+이/VCP+야/EF+./SF");
  Expect("뭐야?", "뭐/NP+이/VCP+야/EF+?/SF");
  Expect("아니야", "아니/VCN+야/EF");
  // Sentence-initial, before a comma or a clause: vocative, also after unknown names.
  Expect("민준아, 밥 먹었어?", "민준/NNP+아/JKV+,/SP 밥/NNG 먹/VV+었/EP+어/EF+?/SF");
  Expect("철수야, 고마워", "철수/*+야/JKV+,/SP 고맙/VA+어/*");
  Expect("친구야 놀자", "친구/*+야/JKV 놀/VV+자/EF");
  Expect("너 어디야?", "너/NP 어디/NP+이/VCP+야/EF+?/SF");
  Expect("하지 마요.", "하/VV+지/EC 말/VX+아요/EF+./SF");  // 말 + 아요 with ㄹ dropped
  // Not sentence-initial, or ending the sentence: the copula.
  Expect("그건 문제야.", "그거/NP+ㄴ/JX 문제/NNG+이/VCP+야/EF+./SF");
  // Offsets: 이 and 야 of 학생이야 are surface substrings; the elided 이 of 문제야 is not.
  Analysis a;
  ASSERT_TRUE(analyzer_->Analyze("학생이야 문제야", &a).ok());
  ASSERT_EQ(a.morphemes.size(), 6u);
  EXPECT_EQ(a.morphemes[1].begin, 6);
  EXPECT_EQ(a.morphemes[2].begin, 9);
  EXPECT_EQ(a.morphemes[4].begin, -1);
  EXPECT_EQ(a.morphemes[5].begin, 19);
  // Unknown words are marked.
  ASSERT_TRUE(analyzer_->Analyze("민준아,", &a).ok());
  ASSERT_GE(a.morphemes.size(), 2u);
  EXPECT_TRUE(a.morphemes[0].unknown);
  EXPECT_FALSE(a.morphemes[1].unknown);
}

// Chat readings decided by the neighbouring eojeols (the sentence-level search, issue 13 item
// 2): 마 / 마라 after a -지 verb is the auxiliary 말다 with its ㄹ dropped before 아/아라
// (Sejong: 말/VX + 아/EF, 말/VX + 아라/EF); 나 before a predicate is the pronoun 'I' (not 나다 +
// 아 followed by the auxiliary 오다); 놀자 is 놀다 + the propositive 자.
TEST_F(AnalyzerTest, ChatReadingsInContext) {
  Expect("먹지 마", "먹/VV+지/EC 말/VX+아/EF");
  Expect("가지 마라", "가/VV+지/EC 말/VX+아라/EF");
  Expect("나 왔어", "나/NP 오/VV+았/EP+어/EF");
  Expect("놀자", "놀/VV+자/EF");
  Expect("나 왔어.", "나/NP 오/VV+았/EP+어/EF+./SF");
  Expect("늦었으니까 먹지 마.", "늦/VA+었/EP+으니까/EC 먹/VV+지/EC 말/VX+아/EF+./SF");
  Expect("오늘은 놀자!", "오늘/NNG+은/JX 놀/VV+자/EF+!/SF");
}

TEST_F(AnalyzerTest, Particles) {
  Expect("학교에", "학교/NNG+에/JKB");
  Expect("사과를", "사과/NNG+를/JKO");
  Expect("책을", "책/NNG+을/JKO");
  Expect("서울로", "서울/NNP+로/JKB");
  Expect("집으로", "집/NNG+으로/JKB");
  Expect("나는", "나/NP+는/JX");
  Expect("친구와", "친구/NNG+와/*");
}

TEST_F(AnalyzerTest, NonHangul) {
  Expect("2019년", "2019/SN+년/NNB");
  Expect("AI가", "AI/SL+가/JKS");
  Expect("1,000원", "1,000/SN+원/NNB");
  Expect("(서울)", "(/SS+서울/NNP+)/SS");
  Expect("안녕!", "안녕/*+!/SF");
  Expect("漢字", "漢字/SH");
}

TEST_F(AnalyzerTest, OffsetsPointIntoTheText) {
  const std::string text = "학교에 갔다.";
  Analysis a;
  ASSERT_TRUE(analyzer_->Analyze(text, &a).ok());
  ASSERT_EQ(a.eojeols.size(), 2u);
  EXPECT_EQ(a.eojeols[0].begin, 0);
  EXPECT_EQ(a.eojeols[0].end, 9);
  EXPECT_EQ(a.eojeols[1].begin, 10);
  EXPECT_EQ(a.eojeols[1].end, 17);
  ASSERT_EQ(a.Format(1), "가/VV+았/EP+다/EF+./SF");
  const Morpheme* m = &a.morphemes[0];
  EXPECT_EQ(m[0].begin, 0);  // 학교
  EXPECT_EQ(m[0].end, 6);
  EXPECT_EQ(m[1].begin, 6);  // 에
  EXPECT_EQ(m[1].end, 9);
  EXPECT_EQ(m[2].begin, -1);  // 가 of 갔: not a substring
  EXPECT_EQ(m[3].begin, -1);  // 았
  EXPECT_EQ(m[4].begin, 13);  // 다
  EXPECT_EQ(m[4].end, 16);
  EXPECT_EQ(m[5].begin, 16);  // .
  EXPECT_EQ(m[5].end, 17);
}

TEST_F(AnalyzerTest, OffsetsAreSubstringsInOrder) {
  const std::string text =
      "  서울의 2019년 인구는 약 977만 명이었고, 그중 20%가 \"청년\"(19~34세)이라고 "
      "보도했다.\t학교에서 돌아온 아이들은 밥을 먹었어요!";
  Analysis a;
  ASSERT_TRUE(analyzer_->Analyze(text, &a).ok());
  int32_t last_end = 0;
  size_t with_offsets = 0;
  for (const Eojeol& e : a.eojeols) {
    EXPECT_GE(e.begin, last_end);
    EXPECT_GT(e.end, e.begin);
    int32_t pos = e.begin;
    for (uint32_t k = 0; k < e.morph_count; ++k) {
      const Morpheme& m = a.morphemes[e.morph_begin + k];
      if (m.begin < 0) {
        EXPECT_EQ(m.end, -1);
        continue;
      }
      ++with_offsets;
      EXPECT_GE(m.begin, pos);
      EXPECT_LE(m.end, e.end);
      EXPECT_EQ(text.substr(m.begin, m.end - m.begin), a.Form(m));
      pos = m.end;
    }
    last_end = e.end;
  }
  EXPECT_GT(with_offsets, a.morphemes.size() / 2);
}

TEST_F(AnalyzerTest, DecomposedInputGivesTheSameAnalysis) {
  std::string nfd;
  ASSERT_TRUE(HangulToNfd("학교에 갔다", &nfd).ok());
  EXPECT_EQ(Run(nfd), "학교/NNG+에/JKB 가/VV+았/EP+다/EF");
  Analysis a;
  ASSERT_TRUE(analyzer_->Analyze(nfd, &a).ok());
  EXPECT_EQ(a.morphemes[0].begin, -1);  // 학교 is not written as such (NFD)
}

TEST_F(AnalyzerTest, LenientParticles) {
  AnalyzeOptions lenient;
  lenient.lenient_particles = true;
  struct Case {
    const char* text;
    const char* host;
    const char* particle;
    bool wrong;
  };
  const Case cases[] = {
      {"사과을", "사과", "을", true},     {"책를", "책", "를", true},
      {"서울으로", "서울", "으로", true}, {"사과를", "사과", "를", false},
      {"책을", "책", "을", false},        {"서울로", "서울", "로", false},
  };
  for (const Case& c : cases) {
    Analysis a;
    ASSERT_TRUE(analyzer_->Analyze(c.text, lenient, &a).ok());
    ASSERT_EQ(a.morphemes.size(), 2u) << c.text << ": " << a.Format(0);
    EXPECT_EQ(a.Form(a.morphemes[0]), c.host) << c.text;
    EXPECT_EQ(a.Form(a.morphemes[1]), c.particle) << c.text;
    EXPECT_TRUE(IsParticleTag(a.morphemes[1].tag)) << c.text;
    EXPECT_EQ(a.morphemes[1].wrong_allomorph, c.wrong) << c.text;
  }
  // Without the option no morpheme is ever flagged, and 을 is no object particle after 사과.
  Analysis a;
  ASSERT_TRUE(analyzer_->Analyze("사과을 책를", &a).ok());
  for (const Morpheme& m : a.morphemes) EXPECT_FALSE(m.wrong_allomorph);
  EXPECT_NE(a.Format(0), "사과/NNG+을/JKO");
}

TEST_F(AnalyzerTest, BadAndEmptyInput) {
  Analysis a;
  const Status bad = analyzer_->Analyze("학교\xEA\xB0", &a);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(analyzer_->Analyze("\xC0\x80", &a).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(analyzer_->Analyze("", &a).ok());
  EXPECT_TRUE(a.eojeols.empty());
  ASSERT_TRUE(analyzer_->Analyze(" \t\n\u3000 ", &a).ok());
  EXPECT_TRUE(a.eojeols.empty());
  // Results are replaced, not appended.
  ASSERT_TRUE(analyzer_->Analyze("학교에 간다", &a).ok());
  ASSERT_TRUE(analyzer_->Analyze("밥", &a).ok());
  EXPECT_EQ(a.eojeols.size(), 1u);
  EXPECT_EQ(a.morphemes.size(), 1u);
  // A long eojeol of unknown syllables, jamo and symbols still gets an analysis.
  std::string junk;
  for (int i = 0; i < 200; ++i) junk += "뷁ㅋ@";
  ASSERT_TRUE(analyzer_->Analyze(junk, &a).ok());
  EXPECT_EQ(a.eojeols.size(), 1u);
  EXPECT_GT(a.morphemes.size(), 0u);
}

TEST_F(AnalyzerTest, ThreadsShareOneAnalyzer) {
  const std::string text = "학교에서 돌아온 아이들은 밥을 먹었어요. 내일은 도서관에 갈게요.";
  const std::string expected = Run(text);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Analysis a;
      for (int i = 0; i < 50; ++i) {
        if (!analyzer_->Analyze(text, &a).ok()) return;
      }
      std::string out;
      for (size_t i = 0; i < a.eojeols.size(); ++i) {
        if (i) out += ' ';
        out += a.Format(i);
      }
      results[t] = out;
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& r : results) EXPECT_EQ(r, expected);
  EXPECT_GT(analyzer_->MemoryBytes(), 1u << 20);
  EXPECT_LT(analyzer_->MemoryBytes(), 64u << 20);
}

// Random mixtures of syllables, conjoining and compatibility jamo, digits, Latin, symbols,
// emoji and spaces: every call succeeds and the offsets stay consistent (run under ASan too).
TEST_F(AnalyzerTest, RandomTextKeepsInvariants) {
  std::mt19937 rng(1234);
  const char32_t pool[] = {U'가', U'힣',  U'한',  U'국',   U'어',  U'을', U'를', U'ㄱ',
                           U'ㅏ', 0x1100, 0x1161, 0x11A8,  U'0',   U'9',  U'a',  U'Z',
                           U'.',  U',',   U'~',   U'(',    U')',   U'"',  U'%',  U' ',
                           U' ',  U'\t',  0x3000, 0x1F600, 0x4E00, U'-'};
  Analysis a;
  AnalyzeOptions lenient;
  lenient.lenient_particles = true;
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int len = static_cast<int>(rng() % 60);
    for (int i = 0; i < len; ++i) {
      char32_t c = pool[rng() % (sizeof(pool) / sizeof(pool[0]))];
      if (rng() % 3 == 0) c = 0xAC00 + rng() % 11172;  // any syllable
      AppendUtf8(c, &text);
    }
    ASSERT_TRUE(analyzer_->Analyze(text, iter % 2 ? lenient : AnalyzeOptions{}, &a).ok()) << text;
    for (const Eojeol& e : a.eojeols) {
      ASSERT_GE(e.begin, 0);
      ASSERT_LE(static_cast<size_t>(e.end), text.size());
      ASSERT_GT(e.morph_count, 0u);
      for (uint32_t k = 0; k < e.morph_count; ++k) {
        const Morpheme& m = a.morphemes[e.morph_begin + k];
        ASSERT_FALSE(a.Form(m).empty());
        if (m.begin >= 0) {
          ASSERT_GE(m.begin, e.begin);
          ASSERT_LE(m.end, e.end);
          ASSERT_EQ(text.substr(m.begin, m.end - m.begin), a.Form(m));
        }
      }
    }
  }
}

TEST(AnalyzerData, CorruptDataIsAnError) {
  std::unique_ptr<Analyzer> a;
  EXPECT_EQ(Analyzer::CreateFromData("junk", "junk", {}, &a).code(), StatusCode::kCorrupt);
  const std::string_view stems = detail::EmbeddedStemsBlob();
  const std::string_view stats = detail::EmbeddedStatsBlob();
  EXPECT_EQ(Analyzer::CreateFromData(stems.substr(0, stems.size() / 2), stats, {}, &a).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(Analyzer::CreateFromData(stems, stats.substr(0, 20), {}, &a).code(),
            StatusCode::kCorrupt);
  // Swapped blobs: valid zlib, wrong content.
  EXPECT_EQ(Analyzer::CreateFromData(stats, stems, {}, &a).code(), StatusCode::kCorrupt);
  EXPECT_EQ(Analyzer::CreateWithParams({{"no_such_parameter", 1.0f}}, &a).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(Analyzer::CreateFromData(stems, stats, {{"unk_base", 5.0f}}, &a).ok());
}

// The compiled model the library embeds (built once at build time) must analyse exactly like
// a model generated from the data at run time (an independent path through ModelBuilder).
TEST(CompiledModel, AnalysesLikeTheModelBuiltFromData) {
  ASSERT_FALSE(detail::EmbeddedCompiledModel().empty()) << "the build embeds no compiled model";
  std::unique_ptr<Analyzer> loaded, built;
  ASSERT_TRUE(Analyzer::Create(&loaded).ok());
  ASSERT_TRUE(Analyzer::CreateWithParams({}, &built).ok());
  // Same tables; loaded ones have no spare capacity.
  EXPECT_LE(loaded->MemoryBytes(), built->MemoryBytes());
  EXPECT_GT(loaded->MemoryBytes(), built->MemoryBytes() / 2);
  std::string text =
      "나는 어제 친구와 함께 서울로 여행을 갔다. 도와주셔서 감사합니다! 민준아, 밥 먹었어? "
      "그건 문제야. 3kg를 샀는데 LLM이 답했다. 사과을 먹었다. 아름다운 하늘을 보았고 갈게요.";
  // Plus random syllables: unknown words and odd sequences.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    AppendUtf8(static_cast<char32_t>(0xAC00 + rng() % 11172), &text);
    if (rng() % 4 == 0) text += ' ';
  }
  for (bool lenient : {false, true}) {
    AnalyzeOptions o;
    o.lenient_particles = lenient;
    Analysis a, b;
    ASSERT_TRUE(loaded->Analyze(text, o, &a).ok());
    ASSERT_TRUE(built->Analyze(text, o, &b).ok());
    ASSERT_EQ(a.eojeols.size(), b.eojeols.size());
    for (size_t i = 0; i < a.eojeols.size(); ++i) {
      ASSERT_EQ(a.Format(i), b.Format(i)) << "eojeol " << i;
      ASSERT_EQ(a.eojeols[i].cost, b.eojeols[i].cost) << "eojeol " << i;
    }
  }
}

TEST(CompiledModel, CorruptBlobsAreErrors) {
  detail::Model m;
  ASSERT_TRUE(m.Build(detail::EmbeddedStemsBlob(), detail::EmbeddedStatsBlob(), {}).ok());
  std::string blob;
  ASSERT_TRUE(m.Serialize(&blob).ok());
  std::unique_ptr<Analyzer> a;
  ASSERT_TRUE(Analyzer::CreateFromCompiled(blob, &a).ok());
  EXPECT_EQ(Analyzer::CreateFromCompiled("", &a).code(), StatusCode::kCorrupt);
  EXPECT_EQ(Analyzer::CreateFromCompiled(detail::EmbeddedStemsBlob(), &a).code(),
            StatusCode::kCorrupt);
  // Truncated anywhere: header, inside the stream, just before its end.
  for (size_t n :
       {size_t{3}, size_t{31}, size_t{32}, size_t{100}, blob.size() / 2, blob.size() - 1}) {
    EXPECT_EQ(Analyzer::CreateFromCompiled(std::string_view(blob).substr(0, n), &a).code(),
              StatusCode::kCorrupt)
        << n;
  }
  // Header fields: version, layout, an absurd payload size.
  for (size_t at : {size_t{4}, size_t{12}, size_t{18}, size_t{27}}) {
    std::string bad = blob;
    bad[at] = static_cast<char>(bad[at] ^ 0x55);
    EXPECT_EQ(Analyzer::CreateFromCompiled(bad, &a).code(), StatusCode::kCorrupt) << at;
  }
  // Flipped bytes in the compressed tables: zlib, size or CRC checks catch each.
  std::mt19937 rng(11);
  for (int i = 0; i < 40; ++i) {
    std::string bad = blob;
    const size_t at = 32 + rng() % (blob.size() - 32);
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    EXPECT_EQ(Analyzer::CreateFromCompiled(bad, &a).code(), StatusCode::kCorrupt) << at;
  }
  // Trailing garbage after the stream.
  EXPECT_EQ(Analyzer::CreateFromCompiled(blob + "x", &a).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace ondo::korean
