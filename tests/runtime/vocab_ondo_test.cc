// runtime/vocab_from_gguf: a tokenizer trained by `ondo tokenizer train` stored in GGUF as
// SentencePiece metadata plus tokenizer.ondo.pre_tokenizer and tokenizer.ondo.merges (as
// examples/demo/train_demo.py writes it) encodes exactly as the trained vocabulary does, and
// malformed ondo keys are refused.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/gguf.h"
#include "runtime/vocab_from_gguf.h"
#include "tests/runtime/gguf_writer.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace ondo {
namespace {

using tokenizer::TrainedBpe;

constexpr const char* kText =
    "저는 학교에서 친구들과 점심을 먹었어요.\n오늘 날씨가 정말 좋네요!\n"
    "학교에 갔다. 친구를 만났어요. 점심은 맛있었어요.\n요즘 너무 피곤해\n"
    "커피 한 잔 마시고 싶어요. 학교 친구들이 좋아요.\n";

TrainedBpe TrainSmall() {
  tokenizer::BpeTrainerOptions opt;
  opt.vocab_size = 480;
  opt.full_hangul = false;
  opt.min_char_count = 1;
  opt.special_tokens = {"<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>"};
  std::unique_ptr<tokenizer::BpeTrainer> trainer;
  EXPECT_TRUE(tokenizer::BpeTrainer::Create(opt, &trainer).ok());
  EXPECT_TRUE(trainer->AddText(kText).ok());
  TrainedBpe bpe;
  const Status st = trainer->Train(&bpe);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return bpe;
}

// The GGUF metadata train_demo.py writes for `bpe`; `merges` replaces the flattened merges.
std::vector<uint8_t> WriteGguf(const TrainedBpe& bpe, const std::vector<int32_t>* merges,
                               const std::string& pre = "korean_morph") {
  test::GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddString("tokenizer.ggml.model", "llama");
  w.AddStringArray("tokenizer.ggml.tokens", bpe.tokens);
  std::vector<int32_t> types(bpe.tokens.size(), 1);
  for (int32_t i = 0; i < bpe.n_special; ++i) types[static_cast<size_t>(i)] = 3;
  for (int32_t b = 0; b < 256; ++b) types[static_cast<size_t>(bpe.n_special + b)] = 6;
  w.AddF32Array("tokenizer.ggml.scores", std::vector<float>(bpe.tokens.size(), 0.0f));
  w.AddI32Array("tokenizer.ggml.token_type", types);
  w.AddU32("tokenizer.ggml.bos_token_id", 1);
  w.AddU32("tokenizer.ggml.eos_token_id", 2);
  w.AddBool("tokenizer.ggml.add_bos_token", true);
  w.AddBool("tokenizer.ggml.add_space_prefix", false);
  w.AddString("tokenizer.ondo.pre_tokenizer", pre);
  std::vector<int32_t> flat;
  for (const auto& [a, b] : bpe.merges) flat.insert(flat.end(), {a, b});
  w.AddI32Array("tokenizer.ondo.merges", merges != nullptr ? *merges : flat);
  return w.Build();
}

Status SpecFrom(const std::vector<uint8_t>& file, tokenizer::VocabSpec* spec) {
  std::unique_ptr<runtime::GgufFile> gguf;
  ONDO_RETURN_IF_ERROR(runtime::GgufFile::ParseMetadata(file.data(), file.size(), &gguf));
  return runtime::VocabSpecFromGguf(*gguf, spec);
}

std::vector<int32_t> Encode(const tokenizer::Tokenizer& tok, std::string_view text, bool special) {
  tokenizer::EncodeOptions o;
  o.add_special = special;
  o.parse_special = special;
  std::vector<int32_t> ids;
  EXPECT_TRUE(tok.Encode(text, o, &ids).ok()) << text;
  return ids;
}

TEST(VocabOndoGguf, EncodesAsTheTrainedVocabulary) {
  const TrainedBpe bpe = TrainSmall();
  ASSERT_FALSE(bpe.merges.empty());
  tokenizer::VocabSpec from_gguf, direct;
  ASSERT_TRUE(SpecFrom(WriteGguf(bpe, nullptr), &from_gguf).ok());
  tokenizer::TrainedBpeToVocabSpec(bpe, /*with_ondo_key=*/true, &direct);
  EXPECT_EQ(from_gguf.ondo_pre_tokenizer, "korean_morph");
  EXPECT_EQ(from_gguf.bos_id, 1);
  EXPECT_EQ(from_gguf.eos_id, 2);
  EXPECT_TRUE(from_gguf.add_bos);
  std::unique_ptr<tokenizer::Tokenizer> a, b;
  ASSERT_TRUE(tokenizer::Tokenizer::Create(std::move(from_gguf), &a).ok());
  ASSERT_TRUE(tokenizer::Tokenizer::Create(std::move(direct), &b).ok());
  for (std::string_view text : {"학교에서 친구들과 점심을 먹었어요.", "요즘 너무 피곤해",
                                "unseen 글자 뷁 and émoji 🙂", " 앞 공백\n줄바꿈"}) {
    EXPECT_EQ(Encode(*a, text, false), Encode(*b, text, false)) << text;
  }
  // The chat template's markers are special tokens; BOS comes from add_bos.
  const std::vector<int32_t> chat = Encode(*a, "<|user|>안녕하세요<|assistant|>", true);
  ASSERT_GE(chat.size(), 4u);
  EXPECT_EQ(chat[0], 1);
  EXPECT_EQ(chat[1], 3);
  EXPECT_EQ(chat.back(), 4);
}

TEST(VocabOndoGguf, MalformedKeysAreRefused) {
  const TrainedBpe bpe = TrainSmall();
  tokenizer::VocabSpec spec;
  const std::vector<int32_t> odd = {5, 6, 7};
  EXPECT_FALSE(SpecFrom(WriteGguf(bpe, &odd), &spec).ok());
  const std::vector<int32_t> outside = {5, static_cast<int32_t>(bpe.tokens.size())};
  EXPECT_FALSE(SpecFrom(WriteGguf(bpe, &outside), &spec).ok());
  const std::vector<int32_t> negative = {-1, 5};
  EXPECT_FALSE(SpecFrom(WriteGguf(bpe, &negative), &spec).ok());
  EXPECT_FALSE(SpecFrom(WriteGguf(bpe, nullptr, "klingon_morph"), &spec).ok());
}

}  // namespace
}  // namespace ondo
