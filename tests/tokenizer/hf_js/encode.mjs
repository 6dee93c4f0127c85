// Encodes texts with the JavaScript port of Hugging Face tokenizers (@lenml/tokenizers, a
// dependency-free fork of transformers.js' tokenizers) as an independent reference for ondo.
//   node encode.mjs TOKENIZER.json < texts.jsonl > ids.jsonl
// Input lines: {"text": ...}; output lines: {"text": ..., "ids": [...], "decoded": ...}.
// Needs NODE_PATH (or a node_modules beside it) with @lenml/tokenizers installed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { TokenizerLoader } = require("@lenml/tokenizers");

const tokenizerJSON = JSON.parse(readFileSync(process.argv[2], "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: {} });
const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "");
const out = [];
for (const line of lines) {
  const { text } = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const decoded = ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  out.push(JSON.stringify({ text, ids, decoded }));
}
process.stdout.write(out.join("\n") + "\n");
