#!/usr/bin/env python3
"""long_generation.py: a long generation in a small sliding context. Runs `ondo run` for
N tokens (default 8000) with --ctx-full slide, samples the process's resident set (VmRSS of
/proc/PID/status) every 0.2 s, and reports the resident set over time (it must stay flat
after the warm-up: the KV cache and scratch are sized at creation, sliding allocates nothing)
and the share of Hangul among the letters (special tokens' text such as <|assistant|>, which
--ignore-eos lets through, left out) of each eighth of the output (it must stay Korean
text, not degenerate into bytes or another script).

    bench/runtime/long_generation.py -m MODEL [-n 8000] [--ctx 512] [--keep 4] [-p PROMPT]

Needs $ONDO_BUILD_DIR/bin/ondo (default build/). Python 3 standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def hangul_share(text):
    text = re.sub(r"<\|[^|<>]*\|>", "", text)  # special tokens printed as text (<|assistant|>)
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if "\uac00" <= c <= "\ud7a3" or "\u3131" <= c <= "\u318e") / len(letters)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-n", type=int, default=8000)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--keep", type=int, default=4)
    ap.add_argument("-p", "--prompt", default="요즘 너무 피곤해")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--out", help="write the generated text here")
    a = ap.parse_args(argv)
    build = os.environ.get("ONDO_BUILD_DIR", os.path.join(ROOT, "build"))
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    cmd = [os.path.join(build, "bin", "ondo"), "run", "-m", a.model, "-p", a.prompt, "-n", str(a.n),
           "--ctx", str(a.ctx), "--ctx-full", "slide", "--keep", str(a.keep), "--ignore-eos", "--loop-stop", "off",
           "--seed", str(a.seed), "-t", str(a.threads)]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            r = rss_kib(p.pid)
            if r is not None:
                samples.append((time.time() - t0, r))
            time.sleep(0.2)

    th = threading.Thread(target=sample)
    th.start()
    out, err = p.communicate()
    done.set()
    th.join()
    text = out.decode("utf-8", "replace")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print("command:", " ".join(cmd))
    print("exit %d, %.1f s; stderr: %s" % (p.returncode, time.time() - t0, err.decode("utf-8", "replace").strip()))
    if samples:
        end = samples[-1][0]
        print("resident set (MiB) at each tenth of the run:")
        for i in range(11):
            t = end * i / 10
            s = min(samples, key=lambda x: abs(x[0] - t))
            print("  %5.1f s  %7.2f" % (s[0], s[1] / 1024))
        after = [r for t, r in samples if t >= end * 0.1]
        if after:
            print("after the first tenth: min %.2f MiB, max %.2f MiB (spread %.2f MiB)" %
                  (min(after) / 1024, max(after) / 1024, (max(after) - min(after)) / 1024))
    print("Hangul share of the letters, per eighth of the output (%d characters):" % len(text))
    n = len(text)
    print("  " + "  ".join("%.3f" % hangul_share(text[n * i // 8:n * (i + 1) // 8]) for i in range(8)))
    print("json:", json.dumps({"samples": len(samples), "chars": n}))


if __name__ == "__main__":
    main(sys.argv[1:])
