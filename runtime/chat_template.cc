// Chat templates: the exact strings of each family's reference (Jinja) template, written out.
#include "runtime/chat_template.h"

#include "runtime/gguf.h"
#include "runtime/model.h"

namespace ondo::runtime {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Llama 3's template applies Jinja's `trim` to each message's content.
std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

Status CheckRole(std::string_view role, ChatFormat format) {
  if (role == "user" || role == "assistant") return Status::Ok();
  if (role == "system") {
    if (format == ChatFormat::kKoMini) {
      return InvalidArgument("the {} chat format has no system role", ChatFormatName(format));
    }
    return Status::Ok();
  }
  return InvalidArgument("unknown chat role '{}' (expected system, user or assistant)", role);
}

}  // namespace

const char* ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kNone: return "none";
    case ChatFormat::kChatMl: return "chatml";
    case ChatFormat::kLlama3: return "llama3";
    case ChatFormat::kKoMini: return "ko-mini";
    case ChatFormat::kGemma: return "gemma";
    case ChatFormat::kExaone: return "exaone";
  }
  return "?";
}

ChatFormat DetectChatFormatFromTemplate(std::string_view t) {
  if (t.empty()) return ChatFormat::kNone;
  if (Contains(t, "<|im_start|>")) return ChatFormat::kChatMl;
  if (Contains(t, "<|start_header_id|>") && Contains(t, "<|eot_id|>")) return ChatFormat::kLlama3;
  if (Contains(t, "<start_of_turn>")) return ChatFormat::kGemma;
  if (Contains(t, "[|system|]") && Contains(t, "[|endofturn|]")) return ChatFormat::kExaone;
  // Phi-3 and Zephyr also use <|user|>/<|assistant|>, but with a newline after the tag and an
  // end marker; ko-mini-a has neither.
  if (Contains(t, "<|user|>") && Contains(t, "<|assistant|>") && !Contains(t, "<|end|>") &&
      !Contains(t, "<|user|>\n") && !Contains(t, "<|user|>\\n")) {
    return ChatFormat::kKoMini;
  }
  return ChatFormat::kNone;
}

ChatFormat DetectChatFormatFromVocab(const tokenizer::Tokenizer& tok) {
  auto has = [&](std::string_view text) { return tok.FindToken(text) >= 0; };
  if (has("<|im_start|>") && has("<|im_end|>")) return ChatFormat::kChatMl;
  if (has("<|start_header_id|>") && has("<|end_header_id|>") && has("<|eot_id|>")) {
    return ChatFormat::kLlama3;
  }
  if (has("<start_of_turn>") && has("<end_of_turn>")) return ChatFormat::kGemma;
  if (has("[|system|]") && has("[|user|]") && has("[|assistant|]") && has("[|endofturn|]")) {
    return ChatFormat::kExaone;
  }
  if (has("<|user|>") && has("<|assistant|>") && !has("<|end|>")) return ChatFormat::kKoMini;
  return ChatFormat::kNone;
}

ChatFormat DetectChatFormat(const Model& model) {
  std::string_view text;
  if (model.gguf().GetString("tokenizer.chat_template", &text).ok() && !text.empty()) {
    return DetectChatFormatFromTemplate(text);
  }
  return DetectChatFormatFromVocab(model.tokenizer());
}

Status ApplyChatTemplate(ChatFormat format, std::span<const ChatMessage> messages,
                         bool add_generation_prompt, std::string* out) {
  out->clear();
  if (format == ChatFormat::kNone) return InvalidArgument("no chat template to apply");
  for (const ChatMessage& m : messages) ONDO_RETURN_IF_ERROR(CheckRole(m.role, format));
  switch (format) {
    case ChatFormat::kChatMl:
      for (const ChatMessage& m : messages) {
        out->append("<|im_start|>").append(m.role).append("\n").append(m.content).append("<|im_end|>\n");
      }
      if (add_generation_prompt) out->append("<|im_start|>assistant\n");
      break;
    case ChatFormat::kLlama3:
      out->append("<|begin_of_text|>");
      for (const ChatMessage& m : messages) {
        out->append("<|start_header_id|>").append(m.role).append("<|end_header_id|>\n\n");
        out->append(Trim(m.content)).append("<|eot_id|>");
      }
      if (add_generation_prompt) out->append("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    case ChatFormat::kKoMini:
      // Trained as "<|user|>QUESTION<|assistant|>ANSWER</s>".
      for (const ChatMessage& m : messages) {
        if (m.role == "user") {
          out->append("<|user|>").append(m.content);
        } else {
          out->append("<|assistant|>").append(m.content).append("</s>");
        }
      }
      if (add_generation_prompt) out->append("<|assistant|>");
      break;
    case ChatFormat::kGemma: {
      // Gemma 3's template: contents trimmed, the assistant is "model", and a system message,
      // which Gemma has no turn for, opens the next user turn untrimmed, followed by a blank
      // line (llama.cpp's LLM_CHAT_TEMPLATE_GEMMA trims it; the Jinja template does not).
      // <bos> is not written: add_bos adds it.
      std::string_view system;
      for (const ChatMessage& m : messages) {
        if (m.role == "system") {
          system = m.content;
          continue;
        }
        const bool user = m.role == "user";
        out->append("<start_of_turn>").append(user ? "user" : "model").append("\n");
        if (user && !system.empty()) {
          out->append(system).append("\n\n");
          system = {};
        }
        out->append(Trim(m.content)).append("<end_of_turn>\n");
      }
      if (add_generation_prompt) out->append("<start_of_turn>model\n");
      break;
    }
    case ChatFormat::kExaone:
      // EXAONE 3.0/3.5 Instruct's template (LGAI-EXAONE's tokenizer_config.json): contents
      // verbatim (llama.cpp's built-in LLM_CHAT_TEMPLATE_EXAONE_3 trims them; the Jinja
      // template does not), an empty system turn when the conversation does not open with
      // one, a user turn ends with a newline, the others with [|endofturn|] and a newline.
      if (messages.empty() || messages[0].role != "system") out->append("[|system|][|endofturn|]\n");
      for (const ChatMessage& m : messages) {
        out->append("[|").append(m.role).append("|]").append(m.content);
        out->append(m.role == "user" ? "\n" : "[|endofturn|]\n");
      }
      if (add_generation_prompt) out->append("[|assistant|]");
      break;
    case ChatFormat::kNone:
      break;
  }
  return Status::Ok();
}

Status CheckUtf8(std::string_view text, std::string_view what) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t min = 0, cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07u;
    } else {
      return InvalidArgument("{} is not valid UTF-8 (bad byte 0x{:02x} at offset {})", what, c, i);
    }
    if (i + len > n) {
      return InvalidArgument("{} is not valid UTF-8 (truncated character at offset {})", what, i);
    }
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        return InvalidArgument("{} is not valid UTF-8 (bad byte 0x{:02x} at offset {})", what,
                               s[i + k], i + k);
      }
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return InvalidArgument("{} is not valid UTF-8 (invalid character at offset {})", what, i);
    }
    i += len;
  }
  return Status::Ok();
}

Status PreparePrompt(const Model& model, std::string_view prompt, const PromptOptions& options,
                     PreparedPrompt* out) {
  *out = PreparedPrompt{};
  ONDO_RETURN_IF_ERROR(CheckUtf8(prompt, "the prompt"));
  ONDO_RETURN_IF_ERROR(CheckUtf8(options.system, "the system message"));
  const tokenizer::Tokenizer& tok = model.tokenizer();

  ChatFormat format = ChatFormat::kNone;
  if (options.mode != PromptMode::kRaw) {
    format = DetectChatFormat(model);
    if (options.mode == PromptMode::kChat && format == ChatFormat::kNone) {
      return Unsupported("the model has no chat template ondo knows (ChatML, Llama 3, Gemma, EXAONE, ko-mini)");
    }
  }
  if (format == ChatFormat::kNone && !options.system.empty()) {
    return InvalidArgument("a system message needs a chat template, and none is applied");
  }

  tokenizer::EncodeOptions enc;
  enc.add_special = true;
  enc.parse_special = true;
  if (format == ChatFormat::kNone) {
    out->text.assign(prompt);
  } else {
    ChatMessage messages[2];
    size_t n = 0;
    if (!options.system.empty()) messages[n++] = ChatMessage{"system", options.system};
    messages[n++] = ChatMessage{"user", prompt};
    ONDO_RETURN_IF_ERROR(ApplyChatTemplate(format, std::span(messages, n), true, &out->text));
    // Llama 3's template writes <|begin_of_text|> itself; do not add a second BOS.
    const int32_t bos = tok.spec().bos_id;
    if (bos >= 0 && bos < tok.n_vocab()) {
      const std::string_view bos_text = tok.TokenText(bos);
      if (!bos_text.empty() && std::string_view(out->text).starts_with(bos_text)) {
        enc.add_special = false;
      }
    }
  }
  out->format = format;
  return tok.Encode(out->text, enc, &out->ids);
}

}  // namespace ondo::runtime
