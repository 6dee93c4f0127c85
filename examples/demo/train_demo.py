#!/usr/bin/python3
"""Trains ondo's embedded demo model, a small Korean chat model, end to end and reproducibly.

  /usr/bin/python3 examples/demo/train_demo.py --ondo build/bin/ondo [--work build/demo-train]

Steps (each prints what it did and how long it took):
  1. data: ChatbotData.csv (songys/Chatbot_data, MIT) shuffled with a fixed seed; the last tenth
     of the rows is held out (never seen by the tokenizer or the model).
  2. tokenizer: `ondo tokenizer train --morph` on the training questions and answers, with the
     chat template's special tokens <|user|> and <|assistant|>.
  3. model: a Llama-architecture transformer (RMSNorm, RoPE as llama.cpp's "normal" layout,
     SwiGLU, grouped-query attention, tied embeddings) trained with torch on one CPU thread for
     a fixed number of steps, on conversations "<s><|user|>Q<|assistant|>A</s>" and, for a
     fifth of the pairs, the plain text "Q\\nA\\n" (so perplexity on plain held-out text means
     something).
  4. export: an F32 GGUF v3 file written by the small writer below (the layout of ggml's
     docs/gguf.md, as llama.cpp's gguf-py writes it), the tokenizer stored as SentencePiece
     metadata plus tokenizer.ondo.pre_tokenizer / tokenizer.ondo.merges (runtime/vocab_from_gguf.cc).
  5. convert: `ondo imatrix` on training text, then `ondo convert --quant q2 --imatrix --single`.
  6. records for the test (tests/examples/demo_model_test.cc): greedy answers of `ondo run` to
     ten held-out prompts chosen by a fixed seed, the F32 model's next-token log-probabilities
     on the first held-out chunk (from torch: an independent truth for the 2-bit model's KL
     divergence, since the F32 file is too big to commit) and `ondo kld`'s figure on it.

Needs Debian's python3-torch and python3-numpy (CPU). Seeds are fixed; on the same machine and
torch build the run is repeatable, and the recorded outputs are always those of the model file
that the run writes.
"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SEED = 20261205
SPECIALS = ["<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>"]  # ids 0..4
PAD, BOS, EOS, USER, ASSISTANT = range(5)

# Model dimensions. Every matrix row (the input dimension) is a multiple of 256, the block of
# the 2-bit type OQ2 and of Q4_K, so no tensor falls back to another type.
CFG = dict(
    vocab=6144,
    dim=256,
    n_layer=6,
    n_head=8,
    n_kv_head=2,  # grouped-query attention: 4 query heads share one KV head
    ffn=768,
    ctx=256,
    rope_base=10000.0,
    norm_eps=1e-5,
)
TRAIN = dict(steps=360, batch=16, seq=256, lr=3e-3, warmup=20, weight_decay=0.05, plain_share=0.2)

MODEL_NAME = "ondo-demo-ko"
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "<|user|>{{ message['content'] }}<|assistant|>{% else %}{{ message['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    log("+ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------------------------------------
# 1. data


def load_pairs(csv_path):
    with open(csv_path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Q", "A", "label"], rows[0]
    pairs = [(q.strip(), a.strip()) for q, a, _ in rows[1:] if q.strip() and a.strip()]
    rng = random.Random(SEED)
    rng.shuffle(pairs)
    n_held = len(pairs) // 10
    return pairs[:-n_held], pairs[-n_held:]


def plain_text(pairs):
    return "".join(f"{q}\n{a}\n" for q, a in pairs)


# ---------------------------------------------------------------------------------------------
# 2. tokenizer


def tokenize_jsonl(ondo, tok_json, texts, work):
    path = os.path.join(work, "texts.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    out = subprocess.run([ondo, "tokenize", "--tokenizer", tok_json, "--jsonl", path], check=True,
                         capture_output=True, text=True).stdout
    ids = [json.loads(line)["ids"] for line in out.splitlines() if line.strip()]
    assert len(ids) == len(texts)
    return ids


def tokens_per_syllable(ondo, tok_json, lines, work):
    """Tokens per Hangul syllable of a tokenizer.json on `lines` (each encoded alone)."""
    ids = tokenize_jsonl(ondo, tok_json, lines, work)
    syllables = sum(1 for line in lines for ch in line if 0xAC00 <= ord(ch) <= 0xD7A3)
    return sum(len(x) for x in ids) / syllables


# ---------------------------------------------------------------------------------------------
# 3. model


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, hd = c["dim"], c["dim"] // c["n_head"]
        self.hd = hd
        self.embd = torch.nn.Parameter(torch.randn(c["vocab"], d) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["n_layer"]):
            L = torch.nn.Module()
            L.attn_norm = torch.nn.Parameter(torch.ones(d))
            L.wq = torch.nn.Linear(d, c["n_head"] * hd, bias=False)
            L.wk = torch.nn.Linear(d, c["n_kv_head"] * hd, bias=False)
            L.wv = torch.nn.Linear(d, c["n_kv_head"] * hd, bias=False)
            L.wo = torch.nn.Linear(c["n_head"] * hd, d, bias=False)
            L.ffn_norm = torch.nn.Parameter(torch.ones(d))
            L.w_gate = torch.nn.Linear(d, c["ffn"], bias=False)
            L.w_up = torch.nn.Linear(d, c["ffn"], bias=False)
            L.w_down = torch.nn.Linear(c["ffn"], d, bias=False)
            for lin in (L.wq, L.wk, L.wv, L.w_gate, L.w_up):
                torch.nn.init.normal_(lin.weight, std=0.02)
            for lin in (L.wo, L.w_down):  # scaled residual projections (GPT-2)
                torch.nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * c["n_layer"]))
            self.layers.append(L)
        self.out_norm = torch.nn.Parameter(torch.ones(d))
        # RoPE, llama.cpp's "normal" layout: pairs (2i, 2i+1) rotate by pos * base^(-2i/hd).
        inv = c["rope_base"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(c["ctx"], dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cos(ang).float(), persistent=False)
        self.register_buffer("sin", torch.sin(ang).float(), persistent=False)

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c["norm_eps"]) * w

    def rope(self, x):  # x: (B, H, T, hd)
        T = x.shape[2]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        cos, sin = self.cos[:T], self.sin[:T]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    def forward(self, ids):
        c, hd = self.c, self.hd
        B, T = ids.shape
        h = self.embd[ids]
        mask = torch.full((T, T), float("-inf")).triu(1)
        group = c["n_head"] // c["n_kv_head"]
        for L in self.layers:
            x = self.rms(h, L.attn_norm)
            q = L.wq(x).view(B, T, c["n_head"], hd).transpose(1, 2)
            k = L.wk(x).view(B, T, c["n_kv_head"], hd).transpose(1, 2)
            v = L.wv(x).view(B, T, c["n_kv_head"], hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            k = k.repeat_interleave(group, dim=1)  # query head j reads KV head j // group
            v = v.repeat_interleave(group, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, c["n_head"] * hd)
            h = h + L.wo(y)
            x = self.rms(h, L.ffn_norm)
            h = h + L.w_down(F.silu(L.w_gate(x)) * L.w_up(x))
        return self.rms(h, self.out_norm) @ self.embd.T


def make_stream(pairs_ids, nl, rng):
    """One epoch: the pairs in a new order, each as a conversation or (plain_share) plain text."""
    order = list(range(len(pairs_ids)))
    rng.shuffle(order)
    out = []
    for i in order:
        q, a = pairs_ids[i]
        if rng.random() < TRAIN["plain_share"]:
            out += q + nl + a + nl
        else:
            out += [BOS, USER] + q + [ASSISTANT] + a + [EOS]
    return out


def train(model, pairs_ids, nl):
    T, B = TRAIN["seq"], TRAIN["batch"]
    rng = random.Random(SEED + 1)
    stream = []
    opt = torch.optim.AdamW(model.parameters(), lr=TRAIN["lr"], betas=(0.9, 0.95),
                            weight_decay=TRAIN["weight_decay"])
    t0 = time.time()
    pos = 0
    for step in range(TRAIN["steps"]):
        need = B * (T + 1)
        while len(stream) - pos < need:
            stream = stream[pos:] + make_stream(pairs_ids, nl, rng)
            pos = 0
        batch = torch.tensor(stream[pos:pos + need], dtype=torch.long).view(B, T + 1)
        pos += need
        warm = TRAIN["warmup"]
        frac = step / TRAIN["steps"]
        lr = TRAIN["lr"] * (min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))))
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == TRAIN["steps"] - 1:
            el = time.time() - t0
            log(f"step {step}/{TRAIN['steps']} loss {loss.item():.3f} lr {lr:.2e} "
                f"{(step + 1) * B * T / el:.0f} tok/s, {el / 60:.1f} min")
    return time.time() - t0


@torch.no_grad()
def heldout_loss(model, held_ids):
    """Mean next-token loss on held-out conversations: all tokens, and the answers (with </s>)."""
    tot = n = tot_a = n_a = 0.0
    for q, a in held_ids:
        seq = [BOS, USER] + q + [ASSISTANT] + a + [EOS]
        seq = seq[:model.c["ctx"]]
        ids = torch.tensor(seq)[None]
        lp = F.log_softmax(model(ids[:, :-1])[0], -1)
        nll = -lp.gather(1, ids[0, 1:, None])[:, 0]
        tot += nll.sum().item()
        n += len(nll)
        start = len(q) + 2  # predictions of the answer tokens (and </s>)
        tot_a += nll[start:].sum().item()
        n_a += len(nll[start:])
    return tot / n, tot_a / n_a


# ---------------------------------------------------------------------------------------------
# 4. GGUF writer (GGUF v3: header, metadata, tensor infos, data aligned to 32 bytes)

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, v):
    if vtype == GGUF_U32:
        return struct.pack("<I", v)
    if vtype == GGUF_I32:
        return struct.pack("<i", v)
    if vtype == GGUF_F32:
        return struct.pack("<f", v)
    if vtype == GGUF_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if vtype == GGUF_STRING:
        return gguf_str(v)
    raise ValueError(vtype)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: [(key, type, value)] (arrays: (key, GGUF_ARRAY, (elem_type, [values])));
    tensors: [(name, float32 ndarray)] with the numpy shape (rows, row length)."""
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, v in kvs:
        out += gguf_str(key) + struct.pack("<I", vtype)
        if vtype == GGUF_ARRAY:
            et, items = v
            out += struct.pack("<IQ", et, len(items))
            if et == GGUF_I32:
                out += np.asarray(items, dtype="<i4").tobytes()
            elif et == GGUF_F32:
                out += np.asarray(items, dtype="<f4").tobytes()
            else:
                for it in items:
                    out += gguf_value(et, it)
        else:
            out += gguf_value(vtype, v)
    offset = 0
    blobs = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        ne = list(reversed(arr.shape))  # ne[0] is the row length
        out += gguf_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        out += struct.pack("<IQ", 0, offset)  # type F32, offset in the data section
        blobs.append(arr.tobytes())
        offset += (len(blobs[-1]) + alignment - 1) // alignment * alignment
    out += b"\0" * (-len(out) % alignment)
    for b in blobs:
        out += b + b"\0" * (-len(b) % alignment)
    with open(path, "wb") as f:
        f.write(out)


def export_gguf(model, tok, path):
    c = model.c
    tokens = tok["tokens"]
    types, scores = [], []
    n_special = len(SPECIALS)
    merged_rank = {}
    for r, (a, b) in enumerate(tok["merges"]):
        merged_rank.setdefault(tokens[a] + tokens[b], r)
    for i, t in enumerate(tokens):
        if i < n_special:
            types.append(3)  # control
            scores.append(0.0)
        elif i < n_special + 256:
            types.append(6)  # byte
            scores.append(0.0)
        else:
            types.append(1)  # normal; SentencePiece score = minus the rank of the merge making it
            scores.append(-float(merged_rank[t]) if t in merged_rank else 0.0)
    flat_merges = [x for ab in tok["merges"] for x in ab]
    hd = c["dim"] // c["n_head"]
    kvs = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, MODEL_NAME),
        ("general.license", GGUF_STRING, "MIT"),
        ("general.file_type", GGUF_U32, 0),
        ("llama.context_length", GGUF_U32, c["ctx"]),
        ("llama.embedding_length", GGUF_U32, c["dim"]),
        ("llama.block_count", GGUF_U32, c["n_layer"]),
        ("llama.feed_forward_length", GGUF_U32, c["ffn"]),
        ("llama.attention.head_count", GGUF_U32, c["n_head"]),
        ("llama.attention.head_count_kv", GGUF_U32, c["n_kv_head"]),
        ("llama.rope.dimension_count", GGUF_U32, hd),
        ("llama.rope.freq_base", GGUF_F32, c["rope_base"]),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, c["norm_eps"]),
        ("llama.attention.key_length", GGUF_U32, hd),
        ("llama.attention.value_length", GGUF_U32, hd),
        ("llama.vocab_size", GGUF_U32, len(tokens)),
        ("tokenizer.ggml.model", GGUF_STRING, "llama"),
        ("tokenizer.ggml.pre", GGUF_STRING, "default"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens)),
        ("tokenizer.ggml.scores", GGUF_ARRAY, (GGUF_F32, scores)),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_I32, types)),
        ("tokenizer.ggml.bos_token_id", GGUF_U32, BOS),
        ("tokenizer.ggml.eos_token_id", GGUF_U32, EOS),
        ("tokenizer.ggml.padding_token_id", GGUF_U32, PAD),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
        ("tokenizer.ggml.add_space_prefix", GGUF_BOOL, False),
        ("tokenizer.chat_template", GGUF_STRING, CHAT_TEMPLATE),
        ("tokenizer.ondo.pre_tokenizer", GGUF_STRING, tok["pre"]),
        ("tokenizer.ondo.merges", GGUF_ARRAY, (GGUF_I32, flat_merges)),
    ]

    def w(t):
        return t.detach().float().numpy()

    tensors = [("token_embd.weight", w(model.embd))]
    for i, L in enumerate(model.layers):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", w(L.attn_norm)),
            (p + "attn_q.weight", w(L.wq.weight)),
            (p + "attn_k.weight", w(L.wk.weight)),
            (p + "attn_v.weight", w(L.wv.weight)),
            (p + "attn_output.weight", w(L.wo.weight)),
            (p + "ffn_norm.weight", w(L.ffn_norm)),
            (p + "ffn_gate.weight", w(L.w_gate.weight)),
            (p + "ffn_up.weight", w(L.w_up.weight)),
            (p + "ffn_down.weight", w(L.w_down.weight)),
        ]
    tensors.append(("output_norm.weight", w(model.out_norm)))
    write_gguf(path, kvs, tensors)


def load_tokenizer_json(path):
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    vocab = j["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    for a in j["added_tokens"]:
        tokens[a["id"]] = a["content"]
    assert all(t is not None for t in tokens)
    index = {t: i for i, t in enumerate(tokens)}
    merges = []
    for m in j["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        merges.append((index[a], index[b]))
    assert tokens[:len(SPECIALS)] == SPECIALS, tokens[:len(SPECIALS)]
    return {"tokens": tokens, "merges": merges, "pre": j["ondo"]["pre_tokenizer"]}


# ---------------------------------------------------------------------------------------------
# 6. records


def ondo_json(ondo, args):
    out = subprocess.run([ondo] + args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ondo", default=os.path.join(REPO, "build", "bin", "ondo"))
    ap.add_argument("--work", default=os.path.join(REPO, "build", "demo-train"))
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "korean", "chatbot", "ChatbotData.csv"))
    ap.add_argument("--out", default=HERE, help="where the model and the records go")
    ap.add_argument("--steps", type=int, default=TRAIN["steps"])
    ap.add_argument("--compare-tokenizer", default=os.path.join(
        REPO, "..", "shared", "tokenizers", "hf", "qwen3", "tokenizer.json"),
        help="a tokenizer.json to compare tokens per Hangul syllable with (skipped when absent)")
    args = ap.parse_args()
    TRAIN["steps"] = args.steps
    ondo = os.path.abspath(args.ondo)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)  # repeatable, and polite on a shared 2-core machine
    torch.manual_seed(SEED)
    t_all = time.time()

    # 1. data
    train_pairs, held_pairs = load_pairs(args.data)
    log(f"data: {len(train_pairs)} training pairs, {len(held_pairs)} held out")
    train_txt = os.path.join(work, "train.txt")
    held_txt = os.path.join(work, "heldout.txt")
    with open(train_txt, "w", encoding="utf-8") as f:
        f.write(plain_text(train_pairs))
    with open(held_txt, "w", encoding="utf-8") as f:
        f.write(plain_text(held_pairs))

    # 2. tokenizer
    tok_json = os.path.join(work, "tokenizer.json")
    cmd = [ondo, "tokenizer", "train", "--morph", "--vocab", str(CFG["vocab"]), "--hangul", "seen",
           train_txt, "-o", tok_json]
    for s in SPECIALS[3:]:
        cmd += ["--special", s]
    run(cmd)
    tok = load_tokenizer_json(tok_json)
    CFG["vocab"] = len(tok["tokens"])
    texts = [t for qa in train_pairs + held_pairs for t in qa] + ["\n"]
    ids = tokenize_jsonl(ondo, tok_json, texts, work)
    nl = ids[-1]
    pairs_ids = [(ids[2 * i], ids[2 * i + 1]) for i in range(len(train_pairs))]
    off = 2 * len(train_pairs)
    held_ids = [(ids[off + 2 * i], ids[off + 2 * i + 1]) for i in range(len(held_pairs))]
    n_tok = sum(len(q) + len(a) + 3 for q, a in pairs_ids)
    log(f"tokenizer: {CFG['vocab']} tokens, newline = {nl}; {n_tok} training tokens per epoch")
    held_lines = [t for qa in held_pairs for t in qa]
    tps = {"ondo-demo-ko": tokens_per_syllable(ondo, tok_json, held_lines, work)}
    if os.path.exists(args.compare_tokenizer):  # Qwen3's tokenizer.json, when ../shared has it
        tps["qwen3"] = tokens_per_syllable(ondo, args.compare_tokenizer, held_lines, work)
    log("tokens per Hangul syllable on the held-out lines: " +
        ", ".join(f"{k} {v:.3f}" for k, v in tps.items()))

    # 3. model
    model = Llama(CFG)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters, {CFG}")
    train_s = train(model, pairs_ids, nl)
    model.eval()
    loss_all, loss_ans = heldout_loss(model, held_ids)
    log(f"training: {train_s / 60:.1f} min; held-out loss {loss_all:.4f} (ppl {math.exp(loss_all):.2f}), "
        f"answers {loss_ans:.4f} (ppl {math.exp(loss_ans):.2f})")

    # 4. export
    f32 = os.path.join(work, MODEL_NAME + ".f32.gguf")
    export_gguf(model, tok, f32)
    log(f"wrote {f32} ({os.path.getsize(f32)} bytes)")
    # The GGUF's tokenizer must give the ids the model was trained on.
    for i in range(0, len(held_pairs), max(1, len(held_pairs) // 50)):
        got = subprocess.run([ondo, "tokenize", "-m", f32, "-p", held_pairs[i][1]], check=True,
                             capture_output=True, text=True).stdout.split()
        assert [int(x) for x in got] == held_ids[i][1], (held_pairs[i][1], got, held_ids[i][1])

    # 5. imatrix and 2-bit conversion
    imat = os.path.join(work, MODEL_NAME + ".imatrix")
    run([ondo, "imatrix", "-m", f32, "-f", train_txt, "-o", imat, "--ctx", "256", "--chunks", "64", "-t", "1"])
    q2 = os.path.join(work, MODEL_NAME + ".ondo")
    if os.path.exists(q2):
        os.remove(q2)
    run([ondo, "convert", f32, "-o", q2, "--quant", "q2", "--imatrix", imat, "--single", "-t", "1"])
    size = os.path.getsize(q2)
    log(f"wrote {q2} ({size} bytes)")
    assert size <= 8_000_000

    # Held-out perplexity (plain text) of both, and the KL divergence between them.
    ppl_f32 = ondo_json(ondo, ["perplexity", "-m", f32, "-f", held_txt, "-c", "256", "-t", "1", "--json"])
    ppl_q2 = ondo_json(ondo, ["perplexity", "-m", q2, "-f", held_txt, "-c", "256", "-t", "1", "--json"])
    kld = ondo_json(ondo, ["kld", "-m", q2, "--ref", f32, "-f", held_txt, "-c", "256", "-t", "1", "--json"])
    log(f"held-out ppl F32 {ppl_f32['ppl']:.3f}, q2 {ppl_q2['ppl']:.3f}, KLD {kld['kld_mean']:.5f}")

    # 6. records
    out = os.path.abspath(args.out)
    shutil.copyfile(q2, os.path.join(out, MODEL_NAME + ".ondo"))
    # (a) KL truth: the first held-out chunk of 256 tokens (as `ondo kld` cuts it), torch F32
    # log-probabilities at the positions it scores, f16, zlib-compressed.
    with open(held_txt, encoding="utf-8") as f:
        head = f.read()[:20000]  # far more than one chunk
    chunk_txt = os.path.join(work, "kld_chunk.txt")
    with open(chunk_txt, "w", encoding="utf-8") as f:
        f.write(head)
    ctx = 256
    chunk = [int(x) for x in subprocess.run([ondo, "tokenize", "-m", f32, "--bos", "-p", head], check=True,
                                            capture_output=True, text=True).stdout.split()][:ctx]
    assert chunk[0] == BOS and len(chunk) == ctx
    with torch.no_grad():
        lp = F.log_softmax(model(torch.tensor(chunk)[None])[0].double(), -1)
    first = ctx // 2
    scored = lp[first:ctx - 1].float().numpy().astype("<f2")  # predictions of tokens first+1..ctx-1
    # `ondo kld` on the same chunk (its first 256 tokens are `chunk`): the figure to hold.
    kld_chunk = ondo_json(ondo, ["kld", "-m", q2, "--ref", f32, "-f", chunk_txt, "-c", str(ctx), "--chunks", "1", "-t", "1", "--json"])
    header = struct.pack("<4sIIII", b"OKLD", 1, len(chunk), first, CFG["vocab"])
    blob = header + np.asarray(chunk, dtype="<i4").tobytes() + scored.tobytes()
    with open(os.path.join(out, "kld_ref.bin.z"), "wb") as f:
        f.write(zlib.compress(blob, 9))
    # (b) greedy answers to ten held-out prompts chosen by a fixed seed.
    prompts = [held_pairs[i][0] for i in random.Random(SEED + 2).sample(range(len(held_pairs)), 10)]
    runs = []
    for p in prompts:
        r = ondo_json(ondo, ["run", "-m", q2, "-p", p, "--temp", "0", "-n", "64", "-t", "1", "--json"])
        runs.append({"prompt": p, "ids": r["ids"], "text": r["text"], "finish_reason": r["finish_reason"]})
        log(f"  {p} -> {r['text']} [{r['finish_reason']}]")
    record = {
        "model": MODEL_NAME + ".ondo",
        "bytes": size,
        "parameters": n_params,
        "config": CFG,
        "train": TRAIN,
        "train_minutes": round(train_s / 60, 1),
        "heldout_loss_f32": round(loss_all, 4),
        "heldout_answer_loss_f32": round(loss_ans, 4),
        "heldout_ppl_plain": {"f32": ppl_f32["ppl"], "q2": ppl_q2["ppl"], "n_tokens": ppl_f32["n_tokens"]},
        "heldout_kld_q2": kld["kld_mean"],
        "kld_chunk": {"kld_mean": kld_chunk["kld_mean"], "ctx": ctx, "first_scored": first},
        "greedy": runs,
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False, indent=1)
        f.write("\n")
    log(f"done in {(time.time() - t_all) / 60:.1f} min")


if __name__ == "__main__":
    main()
