// EXAONE's tokenizer from GGUF metadata: byte-level BPE (tokenizer.ggml.model "gpt2") with the
// "exaone" pre-tokenizer (llama.cpp's LLAMA_VOCAB_PRE_TYPE_EXAONE: every digit split off by
// \p{N}, then GPT-2's regex). No EXAONE vocabulary is shared here, so the test builds one: the
// 256 byte symbols, EXAONE's special tokens ([|system|], [|user|], [|assistant|],
// [|endofturn|]) and merges that make whole Korean and English words and digit pairs. The ids
// llama.cpp gives a Korean + English + digits chat prompt with this vocabulary (in a small
// exaone model written by this test) are recorded in tests/runtime/data/exaone_vocab.txt, with
// how they were produced; ondo must give the same. The digit-pair merges are there to make the
// pre-tokenizer visible: with GPT-2's pre-tokenizer (no digit split) the ids differ.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/chat_template.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {
namespace {

using tokenizer::TokenType;

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + n, as
// UTF-8.
std::string ByteSymbol(uint8_t b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
      const uint32_t cp = printable ? static_cast<uint32_t>(c) : static_cast<uint32_t>(256 + n++);
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      t[static_cast<size_t>(c)] = s;
    }
    return t;
  }();
  return table[b];
}

struct TestVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
};

// Special tokens first (EXAONE 3.5 has [PAD] 0, [BOS] 1, [|endofturn|] as EOS), then the byte
// symbols, then one token per merge: each word of kWords is merged left to right, symbol by
// symbol (a merge is added once; later words reuse it).
TestVocab BuildVocab() {
  TestVocab v;
  auto add = [&](const std::string& t, TokenType type) {
    v.tokens.push_back(t);
    v.types.push_back(static_cast<int32_t>(type));
  };
  add("[PAD]", TokenType::kControl);
  add("[BOS]", TokenType::kControl);
  add("[|endofturn|]", TokenType::kControl);
  add("[UNK]", TokenType::kUnknown);
  add("[|system|]", TokenType::kControl);
  add("[|user|]", TokenType::kControl);
  add("[|assistant|]", TokenType::kControl);
  for (int b = 0; b < 256; ++b) add(ByteSymbol(static_cast<uint8_t>(b)), TokenType::kNormal);
  const char* kWords[] = {"안녕", "하세요", " 한국어", "한국", " 모델", "입니다", "는", "년", "월에", " 공개된",
                          " The", " model", "'s", " version", " scored", "12", " 12", "2024", " 2024", "35",
                          "3.5", " EXAONE", "EXA", "ONE", " 7", "95", "%.", "!", "\n", "B"};
  std::vector<std::string> known(v.tokens.begin(), v.tokens.end());
  for (const char* word : kWords) {
    std::vector<std::string> syms;
    for (unsigned char c : std::string(word)) syms.push_back(ByteSymbol(c));
    std::string cur = syms[0];
    for (size_t i = 1; i < syms.size(); ++i) {
      const std::string merged = cur + syms[i];
      const std::string rule = cur + " " + syms[i];
      bool have = false;
      for (const std::string& m : v.merges) have = have || m == rule;
      if (!have) {
        v.merges.push_back(rule);
        bool tok = false;
        for (const std::string& t : v.tokens) tok = tok || t == merged;
        if (!tok) add(merged, TokenType::kNormal);
      }
      cur = merged;
    }
  }
  return v;
}

// A small exaone model (the synthetic builder's weights) carrying `vocab` with pre-tokenizer
// `pre`, token_embd and output resized to the vocabulary.
void BuildModel(const TestVocab& vocab, const std::string& pre, test::GgufWriter* w) {
  test::RefConfig c = test::SmallLlama(32, 64, 2);
  c.arch = test::RefArch::kExaone;
  c.tied_output = false;  // the llama.cpp build here requires output.weight for exaone
  test::SyntheticSpec spec;
  spec.config = c;
  spec.weight_type = test::GgmlType::kF32;
  test::RefModel ref;
  test::BuildSyntheticModel(spec, w, &ref);
  for (const char* k : {"ondo.test.u8", "ondo.test.i8", "ondo.test.u16", "ondo.test.i16", "ondo.test.i32",
                        "ondo.test.u64", "ondo.test.i64", "ondo.test.f64", "ondo.test.u8_array", "ondo.test.nested",
                        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                        "tokenizer.ggml.token_type", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                        "tokenizer.ggml.add_space_prefix"}) {
    w->RemoveKey(k);
  }
  w->AddString("tokenizer.ggml.model", "gpt2");
  w->AddString("tokenizer.ggml.pre", pre);
  w->AddStringArray("tokenizer.ggml.tokens", vocab.tokens);
  w->AddI32Array("tokenizer.ggml.token_type", vocab.types);
  w->AddStringArray("tokenizer.ggml.merges", vocab.merges);
  w->AddU32("tokenizer.ggml.bos_token_id", 1);
  w->AddU32("tokenizer.ggml.eos_token_id", 2);
  w->AddU32("tokenizer.ggml.unknown_token_id", 3);
  w->AddU32("tokenizer.ggml.padding_token_id", 0);
  w->AddBool("tokenizer.ggml.add_bos_token", true);
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
  EXPECT_TRUE(w->RemoveTensor("token_embd.weight"));
  std::vector<float> embd(static_cast<size_t>(n_vocab * c.n_embd));
  for (size_t i = 0; i < embd.size(); ++i) embd[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  w->AddTensor("token_embd.weight", {c.n_embd, n_vocab}, test::GgmlType::kF32, embd);
  EXPECT_TRUE(w->RemoveTensor("output.weight"));
  for (size_t i = 0; i < embd.size(); ++i) embd[i] = static_cast<float>((i * 40503u) % 1000) / 1000.0f - 0.5f;
  w->AddTensor("output.weight", {c.n_embd, n_vocab}, test::GgmlType::kF32, embd);
}

std::unique_ptr<Model> LoadModel(const std::string& pre) {
  test::GgufWriter w;
  BuildModel(BuildVocab(), pre, &w);
  if (const char* dir = std::getenv("ONDO_WRITE_PEER_MODELS"); dir != nullptr && pre == "exaone") {
    EXPECT_TRUE(w.WriteFile(std::string(dir) + "/exaone_vocab.gguf"));
  }
  const std::string path = test::UniqueTempPath(::testing::TempDir(), "ondo_exaone_vocab_" + pre);
  EXPECT_TRUE(w.WriteFile(path));
  std::unique_ptr<Model> model;
  const Status s = Model::Load(path, &model);
  std::remove(path.c_str());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return model;
}

// The prompt of the recorded run: EXAONE's chat format around Korean, English and numbers.
const std::string kPrompt =
    "[|system|][|endofturn|]\n[|user|]안녕하세요! EXAONE 3.5는 2024년 12월에 공개된 한국어 모델입니다. "
    "The model's 7.8B version scored 95%.\n[|assistant|]";

// "ids: 1 2 3" lines of the data file; '#' starts a comment line.
std::vector<int32_t> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag != "ids:") continue;
    for (int32_t id; ls >> id;) ids.push_back(id);
  }
  return ids;
}

std::vector<int32_t> Encode(const Model& model, const std::string& text) {
  tokenizer::EncodeOptions enc;
  enc.add_special = true;
  enc.parse_special = true;
  std::vector<int32_t> ids;
  EXPECT_TRUE(model.tokenizer().Encode(text, enc, &ids).ok());
  return ids;
}

TEST(ExaoneVocab, IdsEqualLlamaCpp) {
  std::unique_ptr<Model> model = LoadModel("exaone");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().arch, Arch::kExaone);
  EXPECT_EQ(model->tokenizer().spec().pre, "exaone");
  const std::string data = std::string(ONDO_TESTS_DIR) + "/data/exaone_vocab.txt";
  const std::vector<int32_t> want = ReadIds(data);
  ASSERT_FALSE(want.empty()) << data;
  const std::vector<int32_t> got = Encode(*model, kPrompt);
  EXPECT_EQ(got, want);
  // Digits one by one: "2024" is four tokens though the vocabulary has it whole.
  const tokenizer::Tokenizer& tok = model->tokenizer();
  EXPECT_GE(tok.FindToken(ByteSymbol('2') + "024"), 0);
  for (int32_t id : got) EXPECT_NE(tok.TokenText(id), ByteSymbol('2') + "024");
  // Round trip (control tokens decode to nothing).
  std::string plain = kPrompt;
  for (const std::string t : {"[|system|]", "[|endofturn|]", "[|user|]", "[|assistant|]"}) {
    for (size_t at; (at = plain.find(t)) != std::string::npos;) plain.erase(at, t.size());
  }
  EXPECT_EQ(tok.Decode(got), plain);

  // The pre-tokenizer decides: GPT-2's (no digit split) uses the digit merges.
  std::unique_ptr<Model> gpt2 = LoadModel("gpt-2");
  ASSERT_NE(gpt2, nullptr);
  EXPECT_NE(Encode(*gpt2, kPrompt), want);
}

// The chat format is found from the vocabulary's special tokens, renders as EXAONE 3.5's
// template (an empty system turn first), its special tokens are single ids, and
// [|endofturn|] ends generation.
TEST(ExaoneVocab, ChatTemplateAndEndOfTurn) {
  std::unique_ptr<Model> model = LoadModel("exaone");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(DetectChatFormat(*model), ChatFormat::kExaone);
  PreparedPrompt p;
  ASSERT_TRUE(PreparePrompt(*model, "안녕하세요! EXAONE 3.5는 2024년 12월에 공개된 한국어 모델입니다. "
                                    "The model's 7.8B version scored 95%.",
                            PromptOptions{}, &p)
                  .ok());
  EXPECT_EQ(p.format, ChatFormat::kExaone);
  EXPECT_EQ(p.text, kPrompt);
  EXPECT_EQ(p.ids, Encode(*model, kPrompt));
  const tokenizer::Tokenizer& tok = model->tokenizer();
  EXPECT_EQ(p.ids[1], tok.FindToken("[|system|]"));
  EXPECT_EQ(p.ids[2], tok.FindToken("[|endofturn|]"));
  EXPECT_TRUE(tok.IsEog(tok.FindToken("[|endofturn|]")));
  // The model runs on the prompt.
  SessionOptions o;
  o.n_ctx = 128;
  o.n_threads = 2;
  std::unique_ptr<Session> s;
  ASSERT_TRUE(Session::Create(*model, o, &s).ok());
  EXPECT_TRUE(s->Prefill(p.ids).ok());
}

}  // namespace
}  // namespace ondo::runtime
