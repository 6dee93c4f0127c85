#!/usr/bin/env bash
# Parity of tokenizers trained by `ondo tokenizer train` with the JavaScript port of Hugging
# Face tokenizers (@lenml/tokenizers 3.x, a dependency-free fork of transformers.js'
# tokenizers), an implementation independent of ondo's:
#   1. plain BPE written without the "ondo" key: ondo and JS give the same ids and both decode
#      back to the text;
#   2. morpheme-aware BPE (with the "ondo" key, which JS ignores): JS decodes ondo's ids back
#      to the exact text (the decoder in the file describes ondo's output).
# Usage: parity.sh ONDO_BINARY [SHARED_DIR]
# Needs node and @lenml/tokenizers (NODE_PATH, e.g. `npm install --ignore-scripts
# @lenml/tokenizers` in DIR, then NODE_PATH=DIR/node_modules); exits 77 (skipped) without them.
set -euo pipefail
ondo=$1
shared=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "SKIP: no node"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
node -e 'require.resolve("@lenml/tokenizers")' 2>/dev/null ||
  { echo "SKIP: @lenml/tokenizers not found (set NODE_PATH)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Texts: hand-written Korean, mixed scripts, whitespace runs, random valid UTF-8 (fixed seed).
python3 - "$tmp" <<'PY'
import json, random, sys
tmp = sys.argv[1]
texts = ["학교에 갔다.", "학교에서 친구를 만났어요.", "오늘은 날씨가 정말 좋네요!",
         "  두 칸  공백 ", "줄\n바꿈\r\n과\t탭", "Mixed 한국어 English 日本語 русский",
         "emoji 😀👍🏽 🇰🇷", "compatibility jamo ㅋㅋㅋ ㅠㅠ", "nbsp\u00a0and\u3000space",
         "<s> not special </s>", "<0x41> text", " ", "\n\n", "숫자 123,456.78원"]
rng = random.Random(2024)
ranges = [(0x20, 0x20), (0x09, 0x0D), (0x21, 0x7E), (0xAC00, 0xD7A3), (0x3131, 0x318E),
          (0x4E00, 0x9FFF), (0x0080, 0x07FF), (0x0800, 0xD7FF), (0xE000, 0xFFFD),
          (0x10000, 0x10FFFF), (0x1F600, 0x1F64F), (0x00A0, 0x00A0)]
for _ in range(400):
    s = []
    for _ in range(rng.randrange(30)):
        lo, hi = rng.choice(ranges)
        cp = rng.randint(lo, hi)
        if cp == 0x2581 or 0xD800 <= cp <= 0xDFFF or cp in (0xFFFE, 0xFFFF):
            cp = 0x61
        s.append(chr(cp))
    texts.append("".join(s))
with open(f"{tmp}/texts.jsonl", "w", encoding="utf-8") as f:
    for t in texts:
        f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
with open(f"{tmp}/corpus.txt", "w", encoding="utf-8", newline="") as f:
    for t in texts[:14] * 20:
        f.write(t + "\n")
PY
corpus=("$tmp/corpus.txt")
if [[ -n "$shared" && -f "$shared/data/korean/chatbot/ChatbotData.csv" ]]; then
  corpus+=("$shared/data/korean/chatbot/ChatbotData.csv")
fi

compare() {  # $1 tokenizer.json, $2 mode (ids | decode)
  # --special: Hugging Face matches special-token text in the input by default.
  "$ondo" tokenize --special --tokenizer "$1" --jsonl "$tmp/texts.jsonl" > "$tmp/ondo.jsonl"
  node "$here/encode.mjs" "$1" < "$tmp/texts.jsonl" > "$tmp/js.jsonl"
  python3 - "$tmp/ondo.jsonl" "$tmp/js.jsonl" "$2" "$1" <<'PY'
import json, sys
ondo = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
js = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
mode = sys.argv[3]
assert len(ondo) == len(js), (len(ondo), len(js))
bad = 0
for o, j in zip(ondo, js):
    if mode == "ids" and (o["ids"] != j["ids"] or j["decoded"] != o["text"]):
        bad += 1
        print("ids differ:", json.dumps(o["text"], ensure_ascii=False), o["ids"], j["ids"])
    if mode == "decode" and j["decoded"] != o["text"]:
        bad += 1
        print("decode differs:", json.dumps(o["text"], ensure_ascii=False))
print(f"{sys.argv[4]}: {len(ondo)} texts, {bad} mismatches ({mode})")
sys.exit(1 if bad else 0)
PY
}

"$ondo" tokenizer train --vocab 12500 "${corpus[@]}" --no-ondo-key -o "$tmp/plain.json" 2>/dev/null
compare "$tmp/plain.json" ids
"$ondo" tokenizer train --hangul seen --vocab 3000 "${corpus[@]}" --no-ondo-key -o "$tmp/small.json" 2>/dev/null
compare "$tmp/small.json" ids
"$ondo" tokenizer train --morph --vocab 12500 "${corpus[@]}" -o "$tmp/morph.json" 2>/dev/null
# JS ignores the "ondo" key: its ids differ (no morpheme cuts), but it must decode ondo's ids.
"$ondo" tokenize --tokenizer "$tmp/morph.json" --jsonl "$tmp/texts.jsonl" > "$tmp/ondo.jsonl"
node - "$tmp/morph.json" "$tmp/ondo.jsonl" <<'JS'
const { readFileSync } = require("node:fs");
const { TokenizerLoader } = require("@lenml/tokenizers");
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(process.argv[2], "utf8")), tokenizerConfig: {} });
let bad = 0, n = 0;
for (const line of readFileSync(process.argv[3], "utf8").split("\n")) {
  if (!line.trim()) continue;
  const { text, ids } = JSON.parse(line);
  ++n;
  const dec = ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
  if (dec !== text) { ++bad; console.log("decode differs:", JSON.stringify(text)); }
}
console.log(`morph.json: ${n} texts, ${bad} mismatches (JS decodes ondo's ids)`);
process.exit(bad ? 1 : 0);
JS
echo "PASS"
