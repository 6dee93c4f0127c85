// Chat templates and prompt preparation: renders a conversation in the format a model was
// trained on (ChatML, Llama 3, Gemma, EXAONE, ko-mini-a), detects that format from the GGUF
// `tokenizer.chat_template` text or the vocabulary, and turns a user prompt into token ids the
// way both `ondo run` and the C API do it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"
#include "tokenizer/tokenizer.h"

namespace ondo::runtime {

class Model;

enum class ChatFormat {
  kNone,    // no known template: the prompt is used as it is
  kChatMl,  // Qwen: <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
  kLlama3,  // <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ...
  kKoMini,  // ko-mini-a: <|user|>content<|assistant|> (no system role; BOS from add_bos)
  kGemma,   // Gemma 3: <start_of_turn>user\ncontent<end_of_turn>\n ... <start_of_turn>model\n
            // (no system role: the system text opens the first user turn; BOS from add_bos)
  kExaone,  // EXAONE 3.0/3.5: [|system|]text[|endofturn|]\n[|user|]text\n[|assistant|]text[|endofturn|]\n
            // ... [|assistant|] (an empty system turn first when there is none)
};
const char* ChatFormatName(ChatFormat format);

// Detects the format from a Jinja chat template's text (GGUF tokenizer.chat_template).
// kNone when the text is empty or not one of the known families.
ChatFormat DetectChatFormatFromTemplate(std::string_view template_text);
// Detects the format from the special tokens a vocabulary has.
ChatFormat DetectChatFormatFromVocab(const tokenizer::Tokenizer& tok);
// The template text when the GGUF has one, otherwise the vocabulary.
ChatFormat DetectChatFormat(const Model& model);

struct ChatMessage {
  std::string_view role;     // "system", "user" or "assistant"
  std::string_view content;
};

// Renders `messages` and, when add_generation_prompt, the header of the assistant's turn.
// InvalidArgument for kNone, an unknown role, or a system message in a format without one.
Status ApplyChatTemplate(ChatFormat format, std::span<const ChatMessage> messages,
                         bool add_generation_prompt, std::string* out);

// OK when `text` is well-formed UTF-8; otherwise InvalidArgument naming `what` and the
// offset of the first bad byte.
Status CheckUtf8(std::string_view text, std::string_view what);

enum class PromptMode {
  kAuto,  // the chat template when the model has one, else the text as it is
  kChat,  // the chat template; InvalidArgument when the model has none
  kRaw,   // the text as it is
};

struct PromptOptions {
  PromptMode mode = PromptMode::kAuto;
  std::string_view system;  // system message (chat only); empty: none
};

struct PreparedPrompt {
  ChatFormat format = ChatFormat::kNone;  // the template applied (kNone: none)
  std::string text;                       // the text that was tokenized
  std::vector<int32_t> ids;
};

// Validates the prompt's UTF-8, applies the template per `options`, and tokenizes the result as
// llama.cpp does: special tokens in the text are parsed, and BOS is added when the vocabulary
// says add_bos (unless the rendered template already starts with the BOS token's text).
Status PreparePrompt(const Model& model, std::string_view prompt, const PromptOptions& options,
                     PreparedPrompt* out);

}  // namespace ondo::runtime
