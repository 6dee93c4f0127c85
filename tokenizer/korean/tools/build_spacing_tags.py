#!/usr/bin/env python3
"""Builds the tag statistics of the Korean spacer (tokenizer/korean/data/spacing_tags.tsv).

For every pair of adjacent morphemes of KLUE dp v1.1 dev (gold segmentation and Sejong tags per
eojeol, the LEMMA and POS columns joined with '+'), counts how often the pair is written with a
space between (the last morpheme of an eojeol, the first of the next one) and how often joined
(two morphemes inside one eojeol), per (left tag, right tag). The spacer
(tokenizer/korean/post/spacing.cc) turns them into costs: -log P(space | tags) for a space
between two eojeols of its lattice, -log P(joined | tags) for two morphemes joined inside one.

Tags are mapped to the analyzer's tag set (tokenizer/korean/tags.h): KLUE's MMD/MMN/MMA are MM;
a tag outside the set (there are a handful) makes the pair uncounted. The first morpheme of a
sentence and the last one are not paired with anything.

Source: KLUE dp v1.1 dev (CC BY-SA 4.0; attribution in tokenizer/korean/data/LICENSE.md). It
is not one of the spacing evaluation files (UD Korean GSD dev, kiwipiepy_bench). Only counts are
shipped. Deterministic: the output is sorted (Python 3 standard library only).

File: '#' comment lines, then one line per pair seen: LEFT<TAB>RIGHT<TAB>spaced<TAB>joined.

Usage (from the repository root):
  python3 tokenizer/korean/tools/build_spacing_tags.py --shared ../shared --out tokenizer/korean/data
"""
import argparse
import os
import sys

TAGS = [
    "NNG", "NNP", "NNB", "NP", "NR", "VV", "VA", "VX", "VCP", "VCN", "MM", "MAG", "MAJ", "IC",
    "JKS", "JKC", "JKG", "JKO", "JKB", "JKV", "JKQ", "JX", "JC", "EP", "EF", "EC", "ETN", "ETM",
    "XPN", "XSN", "XSV", "XSA", "XR", "SF", "SP", "SS", "SE", "SO", "SW", "SL", "SH", "SN", "NA",
]
MAP = {"MMD": "MM", "MMN": "MM", "MMA": "MM"}


def norm(tag):
    tag = MAP.get(tag, tag)
    return tag if tag in TAGS else None


def sentences(path):
    """Per sentence, the list of eojeols, each a list of tags (None for a tag outside the set)."""
    sent = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                if sent:
                    yield sent
                sent = []
                continue
            cols = line.split("\t")
            if len(cols) < 4:
                continue
            sent.append([norm(t) for t in cols[3].split("+") if t])
    if sent:
        yield sent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default="../shared", help="the shared data folder")
    ap.add_argument("--out", default="tokenizer/korean/data", help="output folder")
    args = ap.parse_args()
    path = os.path.join(args.shared, "data", "korean", "klue", "klue-dp-v1.1_dev.tsv")
    counts = {}
    n_sent = 0
    for sent in sentences(path):
        n_sent += 1
        prev = None
        for eojeol in sent:
            for k, tag in enumerate(eojeol):
                if prev is not None and tag is not None and prev[0] is not None:
                    c = counts.setdefault((prev[0], tag), [0, 0])
                    c[0 if k == 0 else 1] += 1
                prev = (tag,)
    total = [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]
    out = os.path.join(args.out, "spacing_tags.tsv")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("# Korean spacer tag statistics: built by tokenizer/korean/tools/build_spacing_tags.py\n")
        f.write("# from KLUE dp v1.1 dev (CC BY-SA 4.0, see LICENSE.md): %d sentences, %d spaced and "
                "%d joined morpheme pairs\n" % (n_sent, total[0], total[1]))
        f.write("# left\tright\tspaced\tjoined\n")
        order = {t: i for i, t in enumerate(TAGS)}
        for (a, b) in sorted(counts, key=lambda p: (order[p[0]], order[p[1]])):
            s, j = counts[(a, b)]
            f.write("%s\t%s\t%d\t%d\n" % (a, b, s, j))
    print("wrote %s: %d pairs, %d sentences, %d spaced, %d joined"
          % (out, len(counts), n_sent, total[0], total[1]), file=sys.stderr)


if __name__ == "__main__":
    main()
