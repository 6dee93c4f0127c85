// The evaluation metric on a hand-made CoNLL-U sample, and the analyzer's accuracy on UD
// Korean GSD dev (skipped when ../shared is absent).
#include "tokenizer/korean/eval.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace ondo::korean {
namespace {

std::unique_ptr<Analyzer> MakeAnalyzer() {
  std::unique_ptr<Analyzer> a;
  const Status s = Analyzer::Create(&a);
  EXPECT_TRUE(s.ok()) << s.message();
  return a;
}

// Floors set from the measurement in tokenizer/korean/README.md (F1 0.939, tags 0.940) minus a
// margin for small cost changes.
constexpr double kGsdF1Floor = 0.925;
constexpr double kGsdTagFloor = 0.925;

constexpr char kRow[] = "\t_\t_\t_\t_\t_";

std::string Row(int id, const char* form, const char* lemma, const char* xpos) {
  return std::to_string(id) + "\t" + form + "\t" + lemma + "\t_\t" + xpos + kRow + "\n";
}

TEST(KoreanEval, ParsesConllu) {
  const std::string text =
      "# sent_id = 1\n# text = 학교에 갔다\n" + Row(1, "학교에", "학교+에", "NNG+JKB") +
      "2-3\t갔다\t_\t_\t_\t_\t_\t_\t_\t_\n" + Row(2, "갔다", "가+았+다", "VV+EP+EF") + "\n" +
      Row(1, "C++", "C++", "SL") + "\n";
  std::vector<GoldSentence> gold;
  ASSERT_TRUE(ParseConllu(text, &gold).ok());
  ASSERT_EQ(gold.size(), 2u);
  EXPECT_EQ(gold[0].text, "학교에 갔다");
  ASSERT_EQ(gold[0].eojeols.size(), 2u);
  ASSERT_EQ(gold[0].eojeols[1].morphemes.size(), 3u);
  EXPECT_EQ(gold[0].eojeols[1].morphemes[1].form, "았");
  EXPECT_EQ(gold[0].eojeols[1].morphemes[1].tag, "EP");
  ASSERT_EQ(gold[1].eojeols[0].morphemes.size(), 1u);  // '+' inside a lemma: kept whole
  EXPECT_EQ(gold[1].eojeols[0].morphemes[0].form, "C++");
  EXPECT_EQ(ParseConllu("1\t학교\t학교\n", &gold).code(), StatusCode::kCorrupt);
}

TEST(KoreanEval, LcsMetricByHand) {
  auto analyzer = MakeAnalyzer();
  // Gold that agrees with the analysis (학교/NNG+에/JKB, 가/VV+았/EP+다/EF).
  std::vector<GoldSentence> gold;
  ASSERT_TRUE(
      ParseConllu(Row(1, "학교에", "학교+에", "NNG+JKB") + Row(2, "갔다", "가+았+다", "VV+EP+EF"),
                  &gold)
          .ok());
  EvalOptions o;
  o.timing_passes = 1;
  EvalResult r;
  ASSERT_TRUE(Evaluate(*analyzer, gold, o, &r).ok());
  EXPECT_EQ(r.n_pred, 5u);
  EXPECT_EQ(r.n_gold, 5u);
  EXPECT_DOUBLE_EQ(r.f1, 1.0);
  EXPECT_DOUBLE_EQ(r.tag_accuracy, 1.0);
  EXPECT_EQ(r.n_chars, 6u);
  EXPECT_GT(r.chars_per_s, 0.0);
  // Gold that differs: 학+교+에 (LCS 1 of pred 2 / gold 3), 가+었+다 with 다/EC (LCS 2 of 3).
  ASSERT_TRUE(ParseConllu(Row(1, "학교에", "학+교+에", "NNG+NNG+JKB") +
                              Row(2, "갔다", "가+었+다", "VV+EP+EC"),
                          &gold)
                  .ok());
  ASSERT_TRUE(Evaluate(*analyzer, gold, o, &r).ok());
  EXPECT_EQ(r.n_lcs, 3u);
  EXPECT_DOUBLE_EQ(r.precision, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(r.recall, 3.0 / 6.0);
  EXPECT_NEAR(r.f1, 2 * 0.6 * 0.5 / 1.1, 1e-12);
  EXPECT_DOUBLE_EQ(r.tag_accuracy, 2.0 / 3.0);  // 에, 가 agree; 다 EF vs EC does not
  // Canonical endings: 았 and 었 compare equal.
  o.canonical_endings = true;
  ASSERT_TRUE(Evaluate(*analyzer, gold, o, &r).ok());
  EXPECT_EQ(r.n_lcs, 4u);
}

// UD Korean GSD dev: the figures of the hand-over (tokenizer/korean/README.md) with a margin.
TEST(KoreanEval, GsdDev) {
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu";
  std::ifstream in(path, std::ios::binary);
  if (!in) GTEST_SKIP() << path << " not found";
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<GoldSentence> gold;
  ASSERT_TRUE(ParseConllu(ss.str(), &gold).ok());
  ASSERT_GT(gold.size(), 900u);
  auto analyzer = MakeAnalyzer();
  EvalOptions o;
  o.timing_passes = 0;
  EvalResult r;
  ASSERT_TRUE(Evaluate(*analyzer, gold, o, &r).ok());
  EXPECT_GT(r.f1, kGsdF1Floor) << "P " << r.precision << " R " << r.recall;
  EXPECT_GT(r.precision, kGsdF1Floor - 0.01);
  EXPECT_GT(r.recall, kGsdF1Floor - 0.01);
  EXPECT_GT(r.tag_accuracy, kGsdTagFloor);
}

}  // namespace
}  // namespace ondo::korean
