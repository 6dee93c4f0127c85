#!/usr/bin/env python3
"""Builds the spacing model (tokenizer/korean/data/spacing_model.bin) of the Korean spacer.

A logistic regression that gives, for the boundary between two characters of a line written
without spaces, the log-odds of a space there. Features: the character n-grams around the
boundary (left 1-3 characters, right 1-3, and the pairs 1+1, 2+1, 1+2, 2+2), hashed (FNV-1a
32 of the type byte, the left characters' UTF-8, '|', the right characters' UTF-8) into 2^bits
weights. Characters are mapped as SpacingModel::MapChar does (digits -> '0', Latin -> 'a',
Han -> one symbol, ...), the line padded with '^' before and '$' after.

Training text (correctly spaced, no overlap with the evaluation sets UD Korean GSD and
kiwipiepy_bench):
  * KLUE dp v1.1 dev sentences and KLUE NLI v1.1 dev premises and hypotheses (CC BY-SA 4.0),
  * Chatbot_data by songys (github songys/Chatbot_data), questions and answers (MIT).
The model file is derived from them and carries CC BY-SA 4.0 (see data/LICENSE.md).

Training: AdaGrad, a fixed number of epochs over the boundaries in a fixed shuffled order
(random.Random(1)), L2; weights of buckets seen fewer than --min-count times are zeroed, the
rest quantized to int8 (scale = the clip / 127). Python 3 standard library only.

File (uncompressed, so that the library uses the embedded table in place): "OSPM", version 1
(u8), bits (u8), 2 reserved bytes, scale (f32 LE), bias (f32 LE), 2^bits int8 weights.
(SpacingModel::Create also reads it inside an "OKZ1" zlib wrapper, as --compress writes.)

Usage (from the repository root):
  python3 tokenizer/korean/tools/build_spacing.py --shared ../shared --out tokenizer/korean/data
  python3 tokenizer/korean/tools/build_spacing.py --shared ../shared --out tokenizer/korean/data \
      --scores 나는밥을먹고학교에갔다     # the model's log-odds, as SpacingModel::Scores gives them
  python3 tokenizer/korean/tools/build_spacing.py --shared ../shared --out /tmp/m \
      --extra deb_ko.txt [--extra-weight W] [--bits 20]   # more text (extract_deb_text.py)

--extra adds sentences after the default ones (without it the build is the same, byte for
byte). Measured with Debian's Korean software documentation (README, "Spacing restoration"):
no gain on the tuning part at the same share of clean eojeols changed, so the shipped model
does not use it.
"""
import argparse
import csv
import json
import math
import os
import random
import struct
import sys
import unicodedata
import zlib

TYPES = [(1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (2, 1), (1, 2), (3, 0), (0, 3), (2, 2)]
PAD = 3
SPACES = set(" \t\v\f\r\n\u00a0\u1680\u202f\u205f\u3000") | {chr(x) for x in range(0x2000, 0x200B)}


def map_char(ch):
    c = ord(ch)
    if 0xAC00 <= c <= 0xD7A3 or 0x3131 <= c <= 0x318E or 0x1100 <= c <= 0x11FF:
        return ch
    if 0x30 <= c <= 0x39 or 0xFF10 <= c <= 0xFF19:
        return "0"
    if (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0xFF21 <= c <= 0xFF3A
            or 0xFF41 <= c <= 0xFF5A):
        return "a"
    if 0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF:
        return "\u6f22"
    if c < 0x80:
        return ch
    return "\u00b7"


def split(sentence):
    """Characters without spaces and, per character, whether a space precedes it."""
    chars, space, pending = [], [], False
    for ch in sentence:
        if ch in SPACES:
            pending = bool(chars)
            continue
        chars.append(ch)
        space.append(1 if pending else 0)
        pending = False
    return chars, space


def fnv(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def features(padded, k, mask):
    """Hashed features of the boundary before character k (padded has PAD marks each side)."""
    p = k + PAD
    out = []
    for t, (left, right) in enumerate(TYPES):
        s = "".join(padded[p - left:p]) + "|" + "".join(padded[p:p + right])
        out.append(fnv(bytes([t + 1]) + s.encode("utf-8")) & mask)
    return out


def pad(chars):
    return ["^"] * PAD + [map_char(c) for c in chars] + ["$"] * PAD


def extra_files(paths):
    """The files of --extra: each file as given, the *.txt files of each folder in name order."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            out += [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith(".txt")]
        else:
            out.append(path)
    return out


def training_sentences(shared, chat_questions=True, extra=()):
    """The training sentences: the default sets, then the lines of the extra files (one sentence
    a line, as extract_deb_text.py writes them); each sentence once, NFC."""
    korean = os.path.join(shared, "data", "korean")
    out, seen = [], set()

    def add(s):
        s = unicodedata.normalize("NFC", s.strip())
        if s and s not in seen:
            seen.add(s)
            out.append(s)

    with open(os.path.join(korean, "klue", "klue-dp-v1.1_dev.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## klue-dp"):
                add(line.rstrip("\n").split("\t", 1)[1])
    with open(os.path.join(korean, "klue", "klue-nli-v1.1_dev.json"), encoding="utf-8") as f:
        for e in json.load(f):
            add(e["premise"])
            add(e["hypothesis"])
    with open(os.path.join(korean, "chatbot", "ChatbotData.csv"), encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            for s in row[:2] if chat_questions else row[1:2]:
                add(s)
    n_default = len(out)
    for path in extra_files(extra):
        with open(path, encoding="utf-8") as f:
            for line in f:
                add(line)
    return out, n_default


def train(sentences, bits, epochs, l2, lr, min_count, n_default=None, extra_weight=1.0):
    """Sentences from n_default on (the --extra text) weigh extra_weight in the loss."""
    mask = (1 << bits) - 1
    data, count = [], [0] * (1 << bits)
    for n, s in enumerate(sentences):
        chars, space = split(s)
        padded = pad(chars)
        weight = 1.0 if n_default is None or n < n_default else extra_weight
        for k in range(1, len(chars)):
            f = features(padded, k, mask)
            for i in f:
                count[i] += 1
            data.append((f, space[k], weight))
    w = [0.0] * (1 << bits)
    g2 = [1e-6] * (1 << bits)
    bias, gb = 0.0, 1e-6
    rng = random.Random(1)
    for epoch in range(epochs):
        rng.shuffle(data)
        loss = 0.0
        for f, y, weight in data:
            z = bias + sum(w[i] for i in f)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            loss -= math.log(max(1e-12, p if y else 1.0 - p))
            g = (p - y) * weight  # exact for weight 1.0: the default build is unchanged
            gb += g * g
            bias -= lr * g / math.sqrt(gb)
            for i in f:
                gi = g + l2 * w[i]
                g2[i] += gi * gi
                w[i] -= lr * gi / math.sqrt(g2[i])
        print("epoch %d: log loss %.4f over %d boundaries" % (epoch, loss / len(data), len(data)),
              file=sys.stderr)
    for i in range(len(w)):
        if count[i] < min_count:
            w[i] = 0.0
    return bias, w


def quantize(w, clip):
    scale = clip / 127.0
    q = bytearray(len(w))
    for i, x in enumerate(w):
        v = int(round(max(-clip, min(clip, x)) / scale))
        q[i] = v & 0xFF
    return scale, bytes(q)


def scores(path, text):
    """The log-odds of a space before each character of text (spaces left out) under the model
    file at path, computed here independently of the C++ code (tests compare the two)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:4] == b"OKZ1":
        raw = zlib.decompress(raw[8:])
    bits = raw[5]
    scale, bias = struct.unpack("<ff", raw[8:16])
    w = [b - 256 if b > 127 else b for b in raw[16:]]
    chars, _ = split(text)
    padded = pad(chars)
    out = [0.0]
    for k in range(1, len(chars)):
        out.append(bias + scale * sum(w[i] for i in features(padded, k, (1 << bits) - 1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", required=True, help="the shared data folder (../shared)")
    ap.add_argument("--out", required=True, help="output folder (tokenizer/korean/data)")
    ap.add_argument("--bits", type=int, default=18)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--l2", type=float, default=1e-6)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--clip", type=float, default=4.0)
    ap.add_argument("--compress", action="store_true",
                    help="write spacing_model.z (zlib) instead of spacing_model.bin")
    ap.add_argument("--no-chat-questions", action="store_true",
                    help="leave out the chatbot questions (their spacing is loose)")
    ap.add_argument("--extra", action="append", default=[], metavar="FILE_OR_DIR",
                    help="more training text, one sentence a line (a file, or a folder whose "
                    "*.txt files are read in name order); may be repeated")
    ap.add_argument("--extra-weight", type=float, default=1.0,
                    help="weight in the loss of a boundary of the --extra text")
    ap.add_argument("--scores", metavar="TEXT",
                    help="print the log-odds of the model in --out for TEXT and exit")
    args = ap.parse_args()
    if args.scores is not None:
        name = "spacing_model.z" if args.compress else "spacing_model.bin"
        print(" ".join("%.6f" % x for x in scores(os.path.join(args.out, name), args.scores)))
        return
    sentences, n_default = training_sentences(args.shared, not args.no_chat_questions, args.extra)
    print("%d training sentences (%d extra)" % (len(sentences), len(sentences) - n_default),
          file=sys.stderr)
    bias, w = train(sentences, args.bits, args.epochs, args.l2, args.lr, args.min_count,
                    n_default, args.extra_weight)
    scale, q = quantize(w, args.clip)
    raw = b"OSPM" + bytes([1, args.bits, 0, 0]) + struct.pack("<ff", scale, bias) + q
    if args.compress:
        blob = b"OKZ1" + struct.pack("<I", len(raw)) + zlib.compress(raw, 9)
        path = os.path.join(args.out, "spacing_model.z")
    else:
        blob = raw
        path = os.path.join(args.out, "spacing_model.bin")
    with open(path, "wb") as f:
        f.write(blob)
    used = sum(1 for b in q if b)
    print("%s: %d bytes (%d of %d weights non-zero), bias %.3f" %
          (path, len(blob), used, len(q), bias), file=sys.stderr)


if __name__ == "__main__":
    main()
