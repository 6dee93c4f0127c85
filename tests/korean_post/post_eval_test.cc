// Post-processor evaluation on the shared Korean dev text (UD GSD dev, KLUE dp dev): clean
// text nearly untouched, corrupted copies repaired. Floors set from the measurement at
// hand-over (tokenizer/korean/post/README.md); skips when /work/shared is absent.
#include "tokenizer/korean/post/post_eval.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace ondo::korean {
namespace {

// A post-processor that records its changes, over a new analyzer.
void MakeRecordingPost(std::unique_ptr<Analyzer>* analyzer, std::unique_ptr<PostProcessor>* pp) {
  ASSERT_TRUE(Analyzer::Create(analyzer).ok());
  PostOptions o;
  o.record_changes = true;
  ASSERT_TRUE(PostProcessor::Create(analyzer->get(), o, pp).ok());
}

void RunEval(const std::string& path, PostEvalResult* r,
             PostEvalPart part = PostEvalPart::kAll) {
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<PostEvalSentence> sentences;
  ASSERT_TRUE(ParsePostEvalFile(ss.str(), &sentences).ok());
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<PostProcessor> pp;
  MakeRecordingPost(&analyzer, &pp);
  PostEvalOptions o;
  o.part = part;
  ASSERT_TRUE(EvaluatePost(pp.get(), sentences, o, r).ok());
}

double Ratio(size_t a, size_t b) { return b ? static_cast<double>(a) / b : 0; }

TEST(PostEval, GsdDev) {
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  PostEvalResult r;
  RunEval(path, &r);
  EXPECT_EQ(r.sentences, 950u);
  EXPECT_GT(r.gold_particles, 3000u);
  // measured (issue 13): 2 changed sentences of 950, both fixing a typo of the corpus,
  // 1022/1055 fixed (96.9%; 991 before the one-syllable hosts, 1004 before the third round,
  // 1008 before the fourth, 1019 before the fifth, 1020 before the sixth)
  EXPECT_LE(Ratio(r.clean_changed_particles, r.gold_particles), 0.001);
  EXPECT_LE(r.clean_changed_sentences, 3u);
  EXPECT_GE(Ratio(r.particle_fixed, r.particle_errors), 0.96);
  EXPECT_LE(r.particle_other_changed, 1u);
  EXPECT_GE(Ratio(r.repetitions_removed, r.repetitions), 0.98);
  EXPECT_GE(Ratio(r.floods_limited, r.floods), 0.98);
  EXPECT_GE(Ratio(r.punct_fixed, r.punct_errors), 0.98);
}

TEST(PostEval, KlueDpDev) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/data/korean/klue/klue-dp-v1.1_dev.tsv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  PostEvalResult r;
  RunEval(path, &r);
  EXPECT_EQ(r.sentences, 2000u);
  // measured (issue 13): 8 changed sentences of 2000 (7 by particles: typos of the corpus
  // fixed, WSJ은 -> WSJ는; 1 by a triple 너무), 2454/2480 fixed (98.9%; 2407 before the
  // fourth round, 2450 before the fifth, 2451 before the sixth)
  EXPECT_LE(Ratio(r.clean_changed_particles, r.gold_particles), 0.001);
  EXPECT_LE(r.clean_changed_sentences, 10u);
  EXPECT_GE(Ratio(r.particle_fixed, r.particle_errors), 0.985);
  EXPECT_LE(r.particle_other_changed, 1u);
  EXPECT_GE(Ratio(r.repetitions_removed, r.repetitions), 0.98);
  EXPECT_GE(Ratio(r.floods_limited, r.floods), 0.98);
  EXPECT_GE(Ratio(r.punct_fixed, r.punct_errors), 0.98);
}

// The (b) count finds a corrupted eojeol in the output through the processed clean text,
// whose eojeols may join clean ones (the space before a mark removed) or change in place.
TEST(PostEval, AlignEojeols) {
  std::vector<size_t> to;
  std::vector<uint8_t> joined;
  const std::vector<std::string> clean = {"구천이랑", "티케밈이랑", "커스텀", "!!"};
  PostEvalAlignEojeols(clean, {"구천이랑", "티케밈이랑", "커스텀!!"}, &to, &joined);
  EXPECT_EQ(to, (std::vector<size_t>{0, 1, 2, 2}));
  EXPECT_EQ(joined, (std::vector<uint8_t>{0, 0, 1, 1}));
  // Unchanged: the identity.
  PostEvalAlignEojeols(clean, {"구천이랑", "티케밈이랑", "커스텀", "!!"}, &to, &joined);
  EXPECT_EQ(to, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(joined, (std::vector<uint8_t>{0, 0, 0, 0}));
  // A particle changed in place, then a comma joined.
  const std::vector<std::string> clean2 = {"Bilbe을", "읽고", ",", "갔다."};
  PostEvalAlignEojeols(clean2, {"Bilbe를", "읽고,", "갔다."}, &to, &joined);
  EXPECT_EQ(to, (std::vector<size_t>{0, 1, 1, 2}));
  EXPECT_EQ(joined, (std::vector<uint8_t>{0, 1, 1, 0}));
  // A repeat removed: no mapping.
  PostEvalAlignEojeols({"너무", "너무", "너무", "좋다"}, {"너무", "좋다"}, &to, &joined);
  EXPECT_TRUE(to.empty());
}

// Human chat text (../shared/data/korean/chatbot, songys/Chatbot_data, MIT): questions and
// answers written by people, often without spaces (잠와, 생각나, 수학여행가!). A particle
// change there is either a real typo or a broken sentence. Measured: 5 changes in 23,646
// lines: 4 real typos (친구을 -> 친구를, 헤어짐는 -> 헤어짐은, 오늘나 어제이나 -> 오늘이나 어제나)
// and 이빠이 -> 이빠가 (a Japanese loan: wrong); before the chat guards there were 65, ~60 of
// them wrong.
TEST(PostEval, ChatbotCorpusNearlyUntouched) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/data/korean/chatbot/ChatbotData.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string csv = ss.str();
  // RFC 4180 fields: Q, A, label per record; quoted fields may hold commas and newlines.
  std::vector<std::string> texts;
  {
    std::string field;
    int column = 0;
    bool quoted = false, header = true;
    for (size_t i = 0; i < csv.size(); ++i) {
      const char c = csv[i];
      if (quoted) {
        if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field.push_back(c == '\n' ? ' ' : c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',' || c == '\n') {
        if (!header && column < 2) texts.push_back(field);
        field.clear();
        column = c == ',' ? column + 1 : 0;
        if (c == '\n') header = false;
      } else if (c != '\r') {
        field.push_back(c);
      }
    }
  }
  ASSERT_GT(texts.size(), 20000u);
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<PostProcessor> pp;
  MakeRecordingPost(&analyzer, &pp);
  size_t particles = 0, sentences_dropped = 0;
  std::string out;
  for (const std::string& t : texts) {
    out.clear();
    ASSERT_TRUE(pp->Process(t, &out).ok()) << t;
    for (const PostChange& c : pp->changes()) {
      particles += c.kind == ChangeKind::kParticle;
      sentences_dropped += c.kind == ChangeKind::kRepeatSentence;
    }
    pp->Reset();
  }
  EXPECT_LE(particles, 10u);
  EXPECT_LE(sentences_dropped, 2u);
}

// The held-out split: FNV-1a 64 of the sentence text, odd -> held out (values computed with
// an independent implementation of FNV-1a).
TEST(PostEval, SplitByHash) {
  EXPECT_TRUE(PostEvalIsHeldOut(""));  // the FNV offset basis is odd
  EXPECT_FALSE(PostEvalIsHeldOut("a"));
  EXPECT_TRUE(PostEvalIsHeldOut("사과를 먹었다."));
  EXPECT_FALSE(PostEvalIsHeldOut("나는 학교에 간다."));
  const std::string path = std::string(ONDO_SHARED_DIR) + "/data/korean/klue/klue-dp-v1.1_dev.tsv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  PostEvalResult tune, held;
  RunEval(path, &tune, PostEvalPart::kTune);
  RunEval(path, &held, PostEvalPart::kHeldOut);
  EXPECT_EQ(tune.sentences + held.sentences, 2000u);
  EXPECT_GT(tune.sentences, 900u);
  EXPECT_GT(held.sentences, 900u);
}

// Non-news clean text never tuned on: the held-out half of the Kiwi benchmark sets
// (bab2min/kiwipiepy benchmark/, LGPL-2.1-or-later; read from ../shared, not shipped).
// Particle sites come from the analyzer's reading (no gold). Measured (issue 13): 7 of 1017
// sentences changed by particles (6 typos fixed, 토로을 -> 토로를 unclear; see the post README),
// 7 by style (4 spaces before a final mark, ???? and a run of 16 !, a space before a comma),
// 1178/1224 fixed (96.2%; 1148 before the fourth round, 1170 before the fifth, 1171 before the
// sixth; 1174 with the sixth round's rules counted the old way, before PostEvalAlignEojeols).
TEST(PostEval, KiwiHeldOut) {
  const std::string dir = std::string(ONDO_SHARED_DIR) + "/data/korean/kiwipiepy_bench";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<PostProcessor> pp;
  MakeRecordingPost(&analyzer, &pp);
  std::vector<PostEvalSentence> all;
  for (const char* f : {"disambiguate/distant.txt", "disambiguate/irregular_verbs.txt",
                        "disambiguate/nouns.txt", "disambiguate/verb_vs_adj.txt",
                        "sentence_split/blogs.txt", "sentence_split/blogs_ko.txt",
                        "sentence_split/etn.txt", "sentence_split/nested.txt",
                        "sentence_split/sample.txt", "sentence_split/tweets.txt",
                        "sentence_split/v_ending.txt", "sentence_split/wikipedia.txt",
                        "space/written.txt"}) {
    std::ifstream in(dir + "/" + f, std::ios::binary);
    ASSERT_TRUE(in) << f;
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<PostEvalSentence> s;
    ASSERT_TRUE(ParsePostEvalPlain(ss.str(), *analyzer, &s).ok()) << f;
    for (PostEvalSentence& x : s) all.push_back(std::move(x));
  }
  PostEvalOptions o;
  o.part = PostEvalPart::kHeldOut;
  PostEvalResult r;
  ASSERT_TRUE(EvaluatePost(pp.get(), all, o, &r).ok());
  EXPECT_GT(r.sentences, 900u);
  EXPECT_LE(Ratio(r.clean_changed_by_particles, r.sentences), 0.008);
  EXPECT_LE(Ratio(r.clean_changed_by_style, r.sentences), 0.008);  // 23 before issue 13 item 1
  EXPECT_EQ(r.clean_changed_by_repeats, 0u);
  EXPECT_GE(Ratio(r.particle_fixed, r.particle_errors), 0.96);
}

// The plain-text reader: spacing marks resolved, the text after the last TAB, tokens from the
// analyzer.
TEST(PostEval, PlainReader) {
  std::unique_ptr<Analyzer> analyzer;
  ASSERT_TRUE(Analyzer::Create(&analyzer).ok());
  std::vector<PostEvalSentence> s;
  ASSERT_TRUE(ParsePostEvalPlain("사과/NNG\t사과를 먹었다.\n\n학\u2581교에\u2594갔다.\n", *analyzer, &s)
                  .ok());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].text, "사과를 먹었다.");
  ASSERT_EQ(s[0].tokens.size(), 2u);
  EXPECT_EQ(s[0].tokens[0].form, "사과를");
  EXPECT_EQ(s[1].text, "학교에 갔다.");
  EXPECT_FALSE(ParsePostEvalPlain("\xff\n", *analyzer, &s).ok());
}

TEST(PostEval, ParsersRejectMalformedLines) {
  std::vector<PostEvalSentence> s;
  EXPECT_FALSE(ParsePostEvalConllu("# text = a\n1\tx\n\n", &s).ok());
  EXPECT_FALSE(ParsePostEvalKlue("## klue-x\ta\n1\tx\n\n", &s).ok());
  ASSERT_TRUE(
      ParsePostEvalKlue("## klue-x\t사과를 먹었다.\n1\t사과를\t사과 를\tNNG+JKO\t2\tNP_OBJ\n"
                        "2\t먹었다.\t먹 었 다 .\tVV+EP+EF+SF\t0\tVP\n\n",
                        &s)
          .ok());
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].text, "사과를 먹었다.");
  EXPECT_EQ(s[0].tokens[0].tags[1], "JKO");
}

}  // namespace
}  // namespace ondo::korean
