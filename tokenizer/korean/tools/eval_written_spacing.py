#!/usr/bin/env python3
"""Measures the spacer on real spacing errors: kiwipiepy_bench/space/written.txt.

Each line of that file is human text with its spacing errors marked: U+2594 (▔) where a space
is missing (written joined, the correct text has a space), U+2581 (▁) where a space is
spurious (written apart, the correct text has none). The text as written goes through
`ondo post --spacing on` (all lines in one call, extra arguments passed on, e.g. cost flags),
and every boundary between two characters of the lines whose characters the post-processor
keeps is compared with the correction: wrong boundaries fixed (missing spaces added, spurious
ones removed) and right boundaries changed. Measurement only: nothing is tuned on this file.
Python 3 standard library only.

Usage (from the repository root, after building):
  python3 tokenizer/korean/tools/eval_written_spacing.py --ondo build/bin/ondo \
      --file ../shared/data/korean/kiwipiepy_bench/space/written.txt [-- ONDO_POST_FLAGS...]
"""
import argparse
import subprocess
import sys

MISSING, SPURIOUS = "\u2594", "\u2581"


def split(s):
    """Characters without whitespace and, per character, whether whitespace precedes it."""
    chars, space, pending = [], [], False
    for ch in s:
        if ch.isspace():
            pending = bool(chars)
            continue
        chars.append(ch)
        space.append(pending)
        pending = False
    return chars, space


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ondo", default="build/bin/ondo")
    ap.add_argument("--file", default="../shared/data/korean/kiwipiepy_bench/space/written.txt")
    ap.add_argument("flags", nargs="*", help="more flags for ondo post (after --)")
    args = ap.parse_args()
    with open(args.file, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    written = [l.replace(MISSING, "").replace(SPURIOUS, " ") for l in lines]
    gold = [l.replace(MISSING, " ").replace(SPURIOUS, "") for l in lines]
    run = subprocess.run([args.ondo, "post", "--spacing", "on"] + args.flags,
                         input="\n".join(written) + "\n", capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("ondo post failed: " + run.stderr)
    out = run.stdout.split("\n")
    kept = miss = miss_fixed = spur = spur_fixed = right = right_changed = 0
    for w, g, o in zip(written, gold, out):
        cw, sw = split(w)
        cg, sg = split(g)
        co, so = split(o)
        if cw != co or cw != cg:
            continue
        kept += 1
        for k in range(1, len(cw)):
            if sg[k] and not sw[k]:
                miss += 1
                miss_fixed += so[k]
            elif sw[k] and not sg[k]:
                spur += 1
                spur_fixed += not so[k]
            else:
                right += 1
                right_changed += so[k] != sw[k]
    wrong = miss + spur
    print("lines %d, kept %d; wrong boundaries %d, fixed %d (%.1f%%): missing %d / %d, "
          "spurious %d / %d; right boundaries %d, changed %d"
          % (len(lines), kept, wrong, miss_fixed + spur_fixed,
             100.0 * (miss_fixed + spur_fixed) / max(wrong, 1), miss_fixed, miss, spur_fixed,
             spur, right, right_changed))


if __name__ == "__main__":
    main()
