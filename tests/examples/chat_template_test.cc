// Chat templates: exact strings per family, detection from template text and vocabularies,
// UTF-8 checking, and prompt preparation on ko-mini-a against llama.cpp's prompt ids.
#include "runtime/chat_template.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {
namespace {

const std::string kShared = ONDO_SHARED_DIR;

std::string Render(ChatFormat f, std::vector<ChatMessage> messages, bool gen = true) {
  std::string out;
  Status s = ApplyChatTemplate(f, messages, gen, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(ChatTemplate, ChatMl) {
  EXPECT_EQ(Render(ChatFormat::kChatMl, {{"user", "안녕?"}}),
            "<|im_start|>user\n안녕?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(Render(ChatFormat::kChatMl, {{"system", "You are helpful."}, {"user", " Hi \n"}}),
            "<|im_start|>system\nYou are helpful.<|im_end|>\n"
            "<|im_start|>user\n Hi \n<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(Render(ChatFormat::kChatMl, {{"user", "a"}, {"assistant", "b"}, {"user", "c"}}, false),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n"
            "<|im_start|>user\nc<|im_end|>\n");
}

TEST(ChatTemplate, Llama3) {
  EXPECT_EQ(Render(ChatFormat::kLlama3, {{"user", "안녕?"}}),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n안녕?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Content is trimmed, as the reference template's `| trim` does.
  EXPECT_EQ(Render(ChatFormat::kLlama3, {{"system", "  Be brief.\n"}, {"user", "\nHi "}}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, KoMini) {
  EXPECT_EQ(Render(ChatFormat::kKoMini, {{"user", "12시 땡!"}}), "<|user|>12시 땡!<|assistant|>");
  EXPECT_EQ(Render(ChatFormat::kKoMini, {{"user", "a"}, {"assistant", "b"}, {"user", "c"}}),
            "<|user|>a<|assistant|>b</s><|user|>c<|assistant|>");
  std::string out;
  const ChatMessage with_system[] = {{"system", "x"}, {"user", "y"}};
  Status s = ApplyChatTemplate(ChatFormat::kKoMini, with_system, true, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("system"), std::string::npos);
}

// Gemma 3's Jinja template rendered by hand (bos_token left to add_bos): roles user/model,
// contents trimmed, the system text (untrimmed) prefixed to the first user turn with a blank line.
TEST(ChatTemplate, Gemma) {
  EXPECT_EQ(Render(ChatFormat::kGemma, {{"user", " 안녕?\n"}}),
            "<start_of_turn>user\n안녕?<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(Render(ChatFormat::kGemma, {{"system", "Be brief. "}, {"user", "a"}, {"assistant", "b"}, {"user", "c"}},
                   false),
            "<start_of_turn>user\nBe brief. \n\na<end_of_turn>\n<start_of_turn>model\nb<end_of_turn>\n"
            "<start_of_turn>user\nc<end_of_turn>\n");
}

// EXAONE 3.5 Instruct's Jinja template (LGAI-EXAONE, tokenizer_config.json) rendered by hand:
//   {% for message in messages %}{% if loop.first and message['role'] != 'system' %}
//   {{ '[|system|][|endofturn|]\n' }}{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}
//   {% if message['role'] == 'user' %}{{ '\n' }}{% else %}{{ '[|endofturn|]\n' }}{% endif %}{% endfor %}
//   {% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}
// Contents are not trimmed; an empty system turn opens a conversation without one.
TEST(ChatTemplate, Exaone) {
  EXPECT_EQ(Render(ChatFormat::kExaone, {{"user", " 안녕?\n"}}),
            "[|system|][|endofturn|]\n[|user|] 안녕?\n\n[|assistant|]");
  EXPECT_EQ(Render(ChatFormat::kExaone, {{"system", "Be brief."}, {"user", "a"}, {"assistant", "b"}, {"user", "c"}},
                   false),
            "[|system|]Be brief.[|endofturn|]\n[|user|]a\n[|assistant|]b[|endofturn|]\n[|user|]c\n");
  const std::string exaone_template =
      "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\\n' }}"
      "{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}{% if message['role'] == 'user' %}"
      "{{ '\\n' }}{% else %}{{ '[|endofturn|]\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
      "{{ '[|assistant|]' }}{% endif %}";
  EXPECT_EQ(DetectChatFormatFromTemplate(exaone_template), ChatFormat::kExaone);
}

TEST(ChatTemplate, Errors) {
  std::string out;
  const ChatMessage user[] = {{"user", "x"}};
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kNone, user, true, &out).code(), StatusCode::kInvalidArgument);
  const ChatMessage bad_role[] = {{"tool", "x"}};
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kChatMl, bad_role, true, &out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_STREQ(ChatFormatName(ChatFormat::kChatMl), "chatml");
  EXPECT_STREQ(ChatFormatName(ChatFormat::kLlama3), "llama3");
  EXPECT_STREQ(ChatFormatName(ChatFormat::kKoMini), "ko-mini");
  EXPECT_STREQ(ChatFormatName(ChatFormat::kGemma), "gemma");
  EXPECT_STREQ(ChatFormatName(ChatFormat::kExaone), "exaone");
  EXPECT_STREQ(ChatFormatName(ChatFormat::kNone), "none");
}

std::string HfChatTemplate(const std::string& family) {
  std::ifstream in(kShared + "/tokenizers/hf/" + family + "/tokenizer_config.json");
  if (!in) return {};
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("chat_template") || !j["chat_template"].is_string()) return {};
  return j["chat_template"].get<std::string>();
}

TEST(ChatTemplate, DetectFromTemplateText) {
  EXPECT_EQ(DetectChatFormatFromTemplate(""), ChatFormat::kNone);
  EXPECT_EQ(DetectChatFormatFromTemplate("{% for m in messages %}<|im_start|>{{ m.role }}"),
            ChatFormat::kChatMl);
  EXPECT_EQ(DetectChatFormatFromTemplate("{{ '<|user|>' + content + '<|assistant|>' }}"),
            ChatFormat::kKoMini);
  // Phi-3 and Zephyr share the tags but not the format.
  EXPECT_EQ(DetectChatFormatFromTemplate(
                "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>'}}"),
            ChatFormat::kNone);
  EXPECT_EQ(DetectChatFormatFromTemplate("{{ '<|user|>\n' + message['content'] + eos_token }}"
                                         "{{ '<|assistant|>\n' }}"),
            ChatFormat::kNone);

  // The templates Hugging Face publishes.
  const std::string qwen3 = HfChatTemplate("qwen3"), llama3 = HfChatTemplate("llama3"),
                    gemma3 = HfChatTemplate("gemma3");
  if (qwen3.empty() || llama3.empty() || gemma3.empty()) GTEST_SKIP() << "no " << kShared << "/tokenizers/hf";
  EXPECT_EQ(DetectChatFormatFromTemplate(qwen3), ChatFormat::kChatMl);
  EXPECT_EQ(DetectChatFormatFromTemplate(llama3), ChatFormat::kLlama3);
  EXPECT_EQ(DetectChatFormatFromTemplate(gemma3), ChatFormat::kGemma);
}

TEST(ChatTemplate, DetectFromVocab) {
  for (auto [family, want] : {std::pair{"qwen3", ChatFormat::kChatMl}, std::pair{"llama3", ChatFormat::kLlama3},
                              std::pair{"gemma3", ChatFormat::kGemma}}) {
    const std::string path = kShared + "/tokenizers/hf/" + family + "/tokenizer.json";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    std::unique_ptr<tokenizer::Tokenizer> tok;
    Status s = tokenizer::Tokenizer::FromHfJsonFile(path, &tok);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(DetectChatFormatFromVocab(*tok), want) << family;
  }
}

TEST(CheckUtf8, AcceptsAndRejects) {
  EXPECT_TRUE(CheckUtf8("", "x").ok());
  EXPECT_TRUE(CheckUtf8("plain ascii", "x").ok());
  EXPECT_TRUE(CheckUtf8("임신 16주차인데 허리가 아파요 😀 é", "x").ok());
  EXPECT_TRUE(CheckUtf8("\xF4\x8F\xBF\xBF", "x").ok());  // U+10FFFF
  for (const char* bad : {"\xFF", "abc\xC3", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "a\x80", "\xE1\x80z"}) {
    Status s = CheckUtf8(bad, "the prompt");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("the prompt is not valid UTF-8"), std::string::npos) << s.message();
  }
  EXPECT_NE(CheckUtf8("ab\xFF", "t").message().find("offset 2"), std::string::npos);
}

class KoMiniPrompt : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = kShared + "/models/ko-mini-a.f16.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    Status s = Model::Load(path, &model_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::unique_ptr<Model> model_;
};

// llama.cpp's ids for "<|user|>12시 땡!<|assistant|>" (ko-mini-a.f16.ref.json).
const std::vector<int32_t> kPromptIds = {1, 3, 2905, 2977, 3003, 2936, 2905, 3841, 3137, 4};

TEST_F(KoMiniPrompt, DetectsKoMiniFromVocab) {
  EXPECT_EQ(DetectChatFormat(*model_), ChatFormat::kKoMini);
}

TEST_F(KoMiniPrompt, TemplateAndRawGiveReferenceIds) {
  PreparedPrompt p;
  PromptOptions auto_mode;
  ASSERT_TRUE(PreparePrompt(*model_, "12시 땡!", auto_mode, &p).ok());
  EXPECT_EQ(p.format, ChatFormat::kKoMini);
  EXPECT_EQ(p.text, "<|user|>12시 땡!<|assistant|>");
  EXPECT_EQ(p.ids, kPromptIds);

  PromptOptions chat;
  chat.mode = PromptMode::kChat;
  ASSERT_TRUE(PreparePrompt(*model_, "12시 땡!", chat, &p).ok());
  EXPECT_EQ(p.ids, kPromptIds);

  PromptOptions raw;
  raw.mode = PromptMode::kRaw;
  ASSERT_TRUE(PreparePrompt(*model_, "<|user|>12시 땡!<|assistant|>", raw, &p).ok());
  EXPECT_EQ(p.format, ChatFormat::kNone);
  EXPECT_EQ(p.ids, kPromptIds);
}

TEST_F(KoMiniPrompt, Errors) {
  PreparedPrompt p;
  PromptOptions with_system;
  with_system.system = "be nice";
  EXPECT_EQ(PreparePrompt(*model_, "hi", with_system, &p).code(), StatusCode::kInvalidArgument);
  PromptOptions raw_system;
  raw_system.mode = PromptMode::kRaw;
  raw_system.system = "be nice";
  EXPECT_EQ(PreparePrompt(*model_, "hi", raw_system, &p).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PreparePrompt(*model_, "bad \xFF", PromptOptions{}, &p).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ondo::runtime
