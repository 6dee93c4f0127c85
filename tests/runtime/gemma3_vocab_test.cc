// Gemma 3 end to end with its real tokenizer: ../shared/tokenizers/hf/gemma3/tokenizer.json
// written as GGUF SentencePiece metadata ("llama": tokens, scores, token types, no space
// prefix) into a small gemma3 GGUF by the test writer, loaded with Model::Load, tokenizes the
// Korean strings of korean.jsonl exactly as the Hugging Face ids there, and the model runs.
// The scores and token types are runtime/hf_import's conversion of such a tokenizer.json
// (CharBpeSpmScores: minus the rank of the first merge making each token). The chat
// template is detected from the vocabulary and applied. Skips when the shared data is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/chat_template.h"
#include "runtime/hf_import.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {
namespace {

const std::string kDir = std::string(ONDO_SHARED_DIR) + "/tokenizers/hf/gemma3/";

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

// Replaces the synthetic vocabulary of *w by `spec`'s, as SentencePiece GGUF metadata.
void WriteSpmVocab(const tokenizer::VocabSpec& spec, test::GgufWriter* w) {
  for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                        "tokenizer.ggml.token_type", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"}) {
    w->RemoveKey(k);
  }
  const std::vector<std::string>& tokens = spec.tokens;
  std::vector<int32_t> types = spec.token_types;
  std::vector<float> scores;
  CharBpeSpmScores(spec, tokens, tokens.size(), &types, &scores);  // as hf_import converts it
  w->AddString("tokenizer.ggml.model", "llama");
  w->AddString("tokenizer.ggml.pre", "default");
  w->AddStringArray("tokenizer.ggml.tokens", tokens);
  w->AddF32Array("tokenizer.ggml.scores", scores);
  w->AddI32Array("tokenizer.ggml.token_type", types);
  w->AddBool("tokenizer.ggml.add_space_prefix", false);  // Gemma's normalizer adds no ▁
  w->AddU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(spec.bos_id));
  w->AddU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(spec.eos_id));
  w->AddU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(spec.unk_id));
  w->AddBool("tokenizer.ggml.add_bos_token", true);
  w->AddBool("tokenizer.ggml.add_eos_token", false);
}

TEST(Gemma3Vocab, KoreanIdsEqualHuggingFaceFromGguf) {
  std::string json, config;
  if (!ReadFile(kDir + "tokenizer.json", &json) || !std::filesystem::exists(kDir + "korean.jsonl")) {
    GTEST_SKIP() << "no " << kDir;
  }
  ReadFile(kDir + "tokenizer_config.json", &config);
  tokenizer::VocabSpec spec;
  ASSERT_TRUE(tokenizer::VocabSpecFromHfJson(json, config, &spec).ok());
  ASSERT_EQ(spec.kind, tokenizer::VocabKind::kCharBpe);
  ASSERT_TRUE(spec.byte_fallback);
  ASSERT_EQ(spec.token_types.size(), spec.tokens.size());
  ASSERT_GE(spec.unk_id, 0);
  ASSERT_GE(spec.bos_id, 0);

  // A small gemma3 model (n_embd 32, 6 layers) whose token_embd has a row per token.
  test::RefConfig c = test::SmallLlama(32, 64, 6);
  c.arch = test::RefArch::kGemma3;
  c.sliding_window = 4;
  c.tied_output = true;
  test::GgufWriter w;
  test::SyntheticSpec sspec;
  sspec.config = c;
  sspec.weight_type = test::GgmlType::kF16;
  test::RefModel ref;
  test::BuildSyntheticModel(sspec, &w, &ref);
  WriteSpmVocab(spec, &w);
  const int64_t n_vocab = static_cast<int64_t>(spec.tokens.size());
  ASSERT_TRUE(w.RemoveTensor("token_embd.weight"));
  std::vector<float> embd(static_cast<size_t>(n_vocab * c.n_embd));
  for (size_t i = 0; i < embd.size(); ++i) embd[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  w.AddTensor("token_embd.weight", {c.n_embd, n_vocab}, test::GgmlType::kF16, embd);
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_gemma3_vocab");
  ASSERT_TRUE(w.WriteFile(path));
  std::unique_ptr<Model> model;
  const Status s = Model::Load(path, &model);
  std::remove(path.c_str());
  ASSERT_TRUE(s.ok()) << s.ToString();
  const tokenizer::Tokenizer& tok = model->tokenizer();
  EXPECT_EQ(tok.spec().kind, tokenizer::VocabKind::kSpm);
  EXPECT_EQ(model->config().n_vocab, n_vocab);

  std::ifstream f(kDir + "korean.jsonl");
  tokenizer::EncodeOptions opts;
  opts.parse_special = true;
  int n = 0, pass = 0, shown = 0;
  std::vector<int32_t> first;
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    const std::string text = j["text"].get<std::string>();
    const std::vector<int32_t> want = j["ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got;
    const Status st = tok.Encode(text, opts, &got);
    ++n;
    if (st.ok() && got == want) {
      ++pass;
      if (first.empty()) first = got;
    } else if (shown++ < 5) {
      ADD_FAILURE() << "line " << n << " '" << text << "': " << st.ToString();
    }
  }
  std::printf("[ gemma3 vocab ] GGUF (SentencePiece metadata) korean.jsonl %d/%d\n", pass, n);
  EXPECT_GT(n, 0);
  EXPECT_EQ(pass, n);

  // The Gemma chat format from the vocabulary: <bos> (add_bos), then the turn tokens as ids.
  EXPECT_EQ(DetectChatFormat(*model), ChatFormat::kGemma);
  PreparedPrompt prompt;
  ASSERT_TRUE(PreparePrompt(*model, "안녕하세요?", PromptOptions{}, &prompt).ok());
  EXPECT_EQ(prompt.format, ChatFormat::kGemma);
  EXPECT_EQ(prompt.text, "<start_of_turn>user\n안녕하세요?<end_of_turn>\n<start_of_turn>model\n");
  const int32_t sot = tok.FindToken("<start_of_turn>"), eot = tok.FindToken("<end_of_turn>");
  ASSERT_GE(sot, 0);
  ASSERT_GE(eot, 0);
  EXPECT_TRUE(tok.IsEog(eot));
  ASSERT_GE(prompt.ids.size(), 4u);
  EXPECT_EQ(prompt.ids[0], spec.bos_id);
  EXPECT_EQ(prompt.ids[1], sot);
  EXPECT_EQ(std::count(prompt.ids.begin(), prompt.ids.end(), sot), 2);
  EXPECT_EQ(std::count(prompt.ids.begin(), prompt.ids.end(), eot), 1);

  // And the model runs on them.
  SessionOptions so;
  so.n_ctx = 64;
  so.n_threads = 2;
  std::unique_ptr<Session> session;
  ASSERT_TRUE(Session::Create(*model, so, &session).ok());
  if (first.size() > 32) first.resize(32);
  ASSERT_TRUE(session->Prefill(first).ok());
}

}  // namespace
}  // namespace ondo::runtime
