#!/usr/bin/env python3
"""Builds the Korean morpheme analyzer's shipped data files.

  hunspell_ko_stems.z  stems and their classes from Debian's hunspell-ko (ko.dic + ko.aff)
  klue_stats.z         morpheme / tag statistics learned from KLUE dp dev (CC BY-SA 4.0)

Both are zlib-compressed UTF-8 text behind an 8-byte header ("OKZ1" + little-endian raw size).
The analyzer (tokenizer/korean/lexicon.cc) parses them, generates the conjugated allomorphs of
every stem and builds its trie at Analyzer::Create.

Usage (from the repository root):
  apt-get install -y hunspell-ko
  python3 tokenizer/korean/tools/build_model.py \
      --dic /usr/share/hunspell/ko.dic --aff /usr/share/hunspell/ko.aff \
      --klue ../shared/data/korean/klue/klue-dp-v1.1_dev.tsv --out tokenizer/korean/data

Development only: --holdout K/N leaves out every sentence whose index % N == K from the
statistics and writes them as CoNLL-U (FORM, LEMMA '+'-joined, XPOS) for a held-out check.

Training normalisations (each also documented in tokenizer/korean/README.md):
  * NFC; a morpheme that is a single conjoining jamo is written as compatibility jamo (ㄴ, ㄹ).
  * KLUE's determiner subtags MMD/MMN/MMA become MM (Sejong).
  * Vowel-harmony allomorphs of endings share one entry: an E* morpheme starting with
    아/여 is counted under 어 (아서/여서 -> 어서), 았/였 under 었.
  * NNG directly before XSA whose form is not a noun in hunspell-ko becomes XR (Sejong's root
    tag, e.g. 깨끗/XR+하/XSA; KLUE labels almost no XR).
"""
import argparse
import collections
import os
import struct
import sys
import unicodedata
import zlib

S_BASE, L_COUNT, V_COUNT, T_COUNT = 0xAC00, 19, 21, 28
N_COUNT = V_COUNT * T_COUNT

# Conjoining jongseong (U+11A8..U+11C2) / choseong (U+1100..U+1112) -> compatibility jamo.
COMPAT_T = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
COMPAT_L = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"


def to_compat(s):
    out = []
    for ch in s:
        c = ord(ch)
        if 0x11A8 <= c <= 0x11C2:
            out.append(COMPAT_T[c - 0x11A8])
        elif 0x1100 <= c <= 0x1112:
            out.append(COMPAT_L[c - 0x1100])
        else:
            out.append(ch)
    return "".join(out)


def norm(s):
    return to_compat(unicodedata.normalize("NFC", s))


def canon_ending(form, tag):
    """Vowel-harmony canonical form of an ending (아서/여서 -> 어서, 았/였 -> 었)."""
    if not tag.startswith("E") or not form:
        return form
    first = form[0]
    rest = form[1:]
    if first in ("아", "여"):
        return "어" + rest
    if first in ("았", "였"):
        return "었" + rest
    return form


# ---------------------------------------------------------------- hunspell
NOUN_AF = {10: "NNG", 25: "NNG", 9: "NNB", 24: "NNB",
           21: "NP", 8: "NP", 19: "NP", 20: "NP", 22: "NP", 23: "NP"}
NUM_AF = {11, 12, 13, 14, 15, 16, 17, 18, 26, 27, 28, 29}
ADV_AF = {67}
IRR_FROM_FLAG = {35: "R", 36: "D", 37: "B", 38: "O", 39: "S", 40: "H", 41: "H",
                 42: "E", 43: "L", 44: "U"}
# Derivational endings a hunspell predicate is split on when the rest is a known noun
# (Sejong: 가감하다 = 가감/NNG + 하/XSV).
DERIV_SUFFIXES = ("하다", "되다", "시키다", "스럽다", "롭다", "답다", "받다", "당하다")


def read_aff_aliases(path):
    aliases = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("AF "):
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit() and not aliases:
                    aliases.append(None)  # "AF <count>" header; alias ids are 1-based
                    continue
                aliases.append(set(int(x) for x in parts[1].split(",")))
    return aliases


def read_hunspell(dic, aff):
    aliases = read_aff_aliases(aff)
    entries = []  # (form, class, irr)
    with open(dic, encoding="utf-8") as f:
        next(f)
        for line in f:
            line = line.strip()
            if not line or "/" not in line:
                continue
            word, _, af = line.partition("/")
            word = norm(word)
            if not af.isdigit() or int(af) >= len(aliases):
                continue
            afn = int(af)
            flags = aliases[afn]
            if 15 in flags and len(flags) == 1:  # FORBIDDENWORD
                continue
            if not all(0xAC00 <= ord(c) <= 0xD7A3 for c in word):
                continue
            if afn in NOUN_AF:
                cls = NOUN_AF[afn]
                if word == "거":
                    cls = "NNB"
                entries.append((word, cls, ""))
            elif afn in NUM_AF:
                entries.append((word, "NR", ""))
            elif afn in ADV_AF:
                entries.append((word, "MAG", ""))
            elif word.endswith("다") and len(word) >= 2 and (flags & set(IRR_FROM_FLAG)):
                is_verb = any(67 <= x <= 76 for x in flags)
                irr = "R"
                for fl, code in IRR_FROM_FLAG.items():
                    if fl in flags:
                        irr = code
                entries.append((word[:-1], "VV" if is_verb else "VA", irr))
    return entries


# ---------------------------------------------------------------- KLUE
def read_klue(path):
    """Yields (sentence_text, [(form, [(morph, tag), ...]), ...])."""
    text = None
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("## klue-dp"):
                if text is not None and words:
                    yield text, words
                text = line.split("\t", 1)[1] if "\t" in line else ""
                words = []
                continue
            if line.startswith("##") or not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 4:
                continue
            morphs = [norm(m) for m in cols[2].split(" ")]
            tags = cols[3].split("+")
            if len(morphs) != len(tags) or any(not m for m in morphs):
                words.append((norm(cols[1]), None))
                continue
            words.append((norm(cols[1]), list(zip(morphs, tags))))
    if text is not None and words:
        yield text, words


PUNCT_TAGS = ("SF", "SP", "SS", "SE", "SO", "SW")


def normalise_klue_word(ms, hun_nouns):
    out = []
    for i, (m, t) in enumerate(ms):
        if t in ("MMD", "MMN", "MMA"):
            t = "MM"
        if t == "NNG" and i + 1 < len(ms) and ms[i + 1][1] == "XSA" and m not in hun_nouns:
            t = "XR"
        # Polite 요 after an ending is part of that ending (네요, 고요, 나요), as in Sejong/GSD.
        if m == "요" and t == "JX" and out and out[-1][1] in ("EF", "EC"):
            pm, pt = out.pop()
            out.append((pm + "요", pt))
            continue
        m = canon_ending(m, t)
        out.append((m, t))
    return out


def pack(text):
    raw = text.encode("utf-8")
    return b"OKZ1" + struct.pack("<I", len(raw)) + zlib.compress(raw, 9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dic", default="/usr/share/hunspell/ko.dic")
    ap.add_argument("--aff", default="/usr/share/hunspell/ko.aff")
    ap.add_argument("--klue", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--holdout", default="", help="K/N: leave out sentences with index %% N == K")
    ap.add_argument("--holdout-conllu", default="", help="where to write the held-out sentences")
    args = ap.parse_args()

    hun = read_hunspell(args.dic, args.aff)
    hun_nouns = {w for w, c, _ in hun if c in ("NNG", "NNB", "NP")}
    hun_advs = {w for w, c, _ in hun if c == "MAG"}

    hold_k, hold_n = -1, 0
    if args.holdout:
        hold_k, hold_n = (int(x) for x in args.holdout.split("/"))

    emis = collections.Counter()
    trans = collections.Counter()
    lex = collections.Counter()
    cross = collections.Counter()
    held = []
    klue_nouns = set()
    for si, (text, words) in enumerate(read_klue(args.klue)):
        if hold_n and si % hold_n == hold_k:
            held.append((text, words))
            continue
        prev_last = "BOS"
        tok_open, tok_last = False, None
        for form, ms in words:
            if ms is None:
                prev_last = "UNK"
                continue
            ms = normalise_klue_word(ms, hun_nouns)
            # Punctuation splits an eojeol into separate tokens for the transition statistics
            # (흘렸다. -> 흘렸다 + .), as the analyzer scores it and as UD tokenises it.
            prev = "BOS"
            for m, t in ms:
                emis[(m, t)] += 1
                if t in PUNCT_TAGS:
                    if prev != "BOS":
                        trans[(prev, "EOS")] += 1
                    trans[("BOS", t)] += 1
                    trans[(t, "EOS")] += 1
                    prev = "BOS"
                    continue
                trans[(prev, t)] += 1
                if t[0] in "JEX" or t in ("VCP", "VCN", "VX"):
                    lex[(prev, m, t)] += 1
                if t in ("NNG", "NNP"):
                    klue_nouns.add(m)
                prev = t
            if prev != "BOS":
                trans[(prev, "EOS")] += 1
            # Token-to-token transitions across eojeols and punctuation (X lines): the first
            # tag of each token given the last tag of the token before (BOS/EOS = sentence).
            for m, t in ms:
                if t in PUNCT_TAGS:
                    if tok_open:
                        prev_last = tok_last
                        tok_open = False
                    cross[(prev_last, t)] += 1
                    prev_last = t
                    continue
                if not tok_open:
                    cross[(prev_last, t)] += 1
                    tok_open = True
                tok_last = t
            if tok_open:
                prev_last = tok_last
                tok_open = False
        cross[(prev_last, "EOS")] += 1

    # hunspell stems, with derived predicates split when the rest is a known noun/adverb.
    nouns = hun_nouns | klue_nouns
    stems = set()
    for w, c, irr in hun:
        if c in ("VV", "VA"):
            full = w + "다"
            split = False
            for suf in DERIV_SUFFIXES:
                x = full[: -len(suf)]
                if full.endswith(suf) and len(x) >= 2:
                    if x in nouns or x in hun_advs:
                        split = True
                    elif c == "VA" and suf in ("하다", "스럽다", "롭다"):
                        stems.add((x, "XR", ""))
                        split = True
                    break
            if split:
                continue
        stems.add((w, c, irr))

    os.makedirs(args.out, exist_ok=True)
    lines = ["ondo-korean-hunspell-stems 1"]
    for w, c, irr in sorted(stems):
        lines.append(f"{w}\t{c}\t{irr}" if irr else f"{w}\t{c}")
    with open(os.path.join(args.out, "hunspell_ko_stems.z"), "wb") as f:
        f.write(pack("\n".join(lines) + "\n"))

    lines = ["ondo-korean-klue-stats 1"]
    for (m, t), c in sorted(emis.items()):
        lines.append(f"E\t{m}\t{t}\t{c}")
    for (a, b), c in sorted(trans.items()):
        lines.append(f"T\t{a}\t{b}\t{c}")
    for (p, m, t), c in sorted(lex.items()):
        lines.append(f"L\t{p}\t{m}\t{t}\t{c}")
    for (a, b), c in sorted(cross.items()):
        lines.append(f"X\t{a}\t{b}\t{c}")
    with open(os.path.join(args.out, "klue_stats.z"), "wb") as f:
        f.write(pack("\n".join(lines) + "\n"))

    if args.holdout_conllu:
        with open(args.holdout_conllu, "w", encoding="utf-8") as f:
            for si, (text, words) in enumerate(held):
                f.write(f"# sent_id = klue-{si}\n# text = {text}\n")
                for i, (form, ms) in enumerate(words):
                    if ms is None:
                        lem, pos = form, "NA"
                    else:
                        ms = normalise_klue_word(ms, hun_nouns)
                        lem = "+".join(m for m, _ in ms)
                        pos = "+".join(t for _, t in ms)
                    f.write(f"{i+1}\t{form}\t{lem}\t_\t{pos}\t_\t0\t_\t_\t_\n")
                f.write("\n")
    print(f"stems {len(stems)} (hunspell entries {len(hun)}), emissions {len(emis)}, "
          f"transitions {len(trans)}, held-out sentences {len(held)}", file=sys.stderr)


if __name__ == "__main__":
    main()
