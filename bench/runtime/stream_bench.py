#!/usr/bin/env python3
"""stream_bench.py: decoding a model larger than its memory limit, ondo's weight streaming
against plain mmap (ondo without a budget, and llama.cpp / ik_llama.cpp), each run inside a
memory cgroup whose limit is a fraction of the model's size (default 2/3).

    bench/runtime/stream_bench.py MODEL [MODEL ...] [--fraction 0.667] [--peer llama.cpp]

Needs root (it creates memory cgroups, v2 where the memory controller can be delegated, else
v1), $ONDO_BUILD_DIR/bin/ondo (default build/) and, for the peer rows, ../shared/peers/run.
A peer that cannot read the file (.ondo) gets no row. Python 3 standard library only.

Method, for every (tool, model):
  - before each run the model's pages are dropped from the page cache (posix_fadvise
    DONTNEED on every file of the model; nothing else maps them), so every byte a run needs
    comes from storage;
  - the tool decodes N1 and then N2 tokens (two runs); bytes read from storage are the
    difference of this script's /proc/self/io read_bytes around each run (a reaped child's
    I/O is added to its parent's), so per token = (bytes(N2) - bytes(N1)) / (N2 - N1) and
    the load and prompt costs cancel out;
  - tok/s is the tool's own decode figure of the N2 run (ondo run --json decode_tok_s;
    llama-bench tg's avg_ts);
  - ondo "stream" runs with --mem-budget equal to the limit (it plans residency and streams the
    rest); ondo "mmap" runs with a budget far above the limit, so nothing is streamed and the
    kernel pages the mapping in and out as llama.cpp's does.
The non-resident bytes of the stream plan (`ondo run --verbose`) are what one token must read
at least; the table gives the measured bytes per token against them.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_bytes():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def model_files(path):
    if os.path.isdir(path):
        return [os.path.join(path, n) for n in sorted(os.listdir(path))]
    return [path]


def model_bytes(path):
    return sum(os.path.getsize(f) for f in model_files(path))


def drop_cache(path):
    for f in model_files(path):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def own_cgroup(controller):
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller == "" and hid == "0":
                return path
            if controller and controller in ctrls.split(","):
                return path
    return None


def mount_of(fstype, option):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields, rfields = left.split(), right.split()
            if rfields[0] == fstype and (option is None or option in rfields[2].split(",")):
                return fields[4], fields[3]
    return None, None


class Cgroup:
    """A memory cgroup child of this process's own, limited to `limit` bytes."""

    def __init__(self, limit, name):
        self.dir = None
        mnt, root = mount_of("cgroup2", None)
        path = own_cgroup("")
        if mnt and path is not None:
            d = os.path.join(mnt + (path[len(root):] if root != "/" and path.startswith(root) else path), name)
            try:
                os.mkdir(d)
                if os.path.exists(os.path.join(d, "memory.max")):
                    self._write(d, "memory.max", limit)
                    if os.path.exists(os.path.join(d, "memory.swap.max")):
                        self._write(d, "memory.swap.max", 0)
                    self.dir, self.version = d, 2
                    return
                os.rmdir(d)
            except OSError:
                pass
        mnt, root = mount_of("cgroup", "memory")
        path = own_cgroup("memory")
        if mnt and path is not None:
            d = os.path.join(mnt + (path[len(root):] if root != "/" and path.startswith(root) else path), name)
            os.mkdir(d)
            self._write(d, "memory.limit_in_bytes", limit)
            self.dir, self.version = d, 1
            return
        raise SystemExit("stream_bench.py: no memory cgroup can be created here")

    @staticmethod
    def _write(d, name, value):
        with open(os.path.join(d, name), "w") as f:
            f.write(str(value))

    def enter(self):  # in the child, before exec
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write("0")

    def oom_kills(self):
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            with open(os.path.join(self.dir, name)) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def close(self):
        if self.dir:
            for _ in range(50):
                try:
                    os.rmdir(self.dir)
                    return
                except OSError:
                    time.sleep(0.1)


def run_in(cg, cmd, timeout):
    before = read_bytes()
    t0 = time.time()
    p = subprocess.run(cmd, preexec_fn=cg.enter if cg else None, capture_output=True, text=True, timeout=timeout)
    return p, read_bytes() - before, time.time() - t0


def ondo_cmd(build, model, n, budget, threads):
    return [os.path.join(build, "bin", "ondo"), "run", "-m", model, "-p", "The quick brown fox", "--raw",
            "--temp", "0", "-n", str(n), "--ctx", "512", "-t", str(threads), "--json", "--verbose",
            "--mem-budget", str(budget)]


def peer_cmd(shared, peer, model, n, threads):
    return [os.path.join(shared, "peers", "run"), peer, "llama-bench", "-m", model, "-t", str(threads), "-p", "0",
            "-n", str(n), "-r", "1", "-o", "json"]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--fraction", type=float, default=2 / 3)
    ap.add_argument("--peer", action="append", default=None, help="llama.cpp and/or ik (default: llama.cpp)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n1", type=int, default=8)
    ap.add_argument("--n2", type=int, default=24)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--json", help="write the results here too")
    a = ap.parse_args(argv)
    build = os.environ.get("ONDO_BUILD_DIR", os.path.join(ROOT, "build"))
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    shared = os.environ.get("ONDO_SHARED", os.path.join(ROOT, "..", "shared"))
    peers = a.peer or ["llama.cpp"]
    rows = []
    for model in a.models:
        size = model_bytes(model)
        limit = int(size * a.fraction)
        tools = [("ondo stream", "stream"), ("ondo mmap", "mmap")]
        if not os.path.isdir(model) and not model.endswith(".ondo"):
            tools += [(p + " mmap", p) for p in peers]
        for label, kind in tools:
            res = {"model": os.path.basename(model.rstrip("/")), "bytes": size, "limit": limit, "tool": label}
            runs = []
            for n in (a.n1, a.n2):
                cg = Cgroup(limit, "ondo-stream-bench-%d-%d" % (os.getpid(), len(rows) * 2 + len(runs)))
                try:
                    drop_cache(model)
                    if kind in ("stream", "mmap"):
                        budget = limit if kind == "stream" else 1 << 40
                        cmd = ondo_cmd(build, model, n, budget, a.threads)
                    else:
                        cmd = peer_cmd(shared, kind, model, n, a.threads)
                    p, nbytes, secs = run_in(cg, cmd, a.timeout)
                    runs.append((p, nbytes, secs, cg.oom_kills()))
                finally:
                    cg.close()
            (p1, b1, _, _), (p2, b2, s2, oom) = runs
            res["exit"] = p2.returncode
            res["oom_kills"] = oom
            n_tokens = a.n2 - a.n1
            if kind in ("stream", "mmap"):  # the end token may come early: count what was decoded
                try:
                    n_tokens = (len(json.loads(p2.stdout.strip().splitlines()[-1])["ids"]) -
                                len(json.loads(p1.stdout.strip().splitlines()[-1])["ids"]))
                except (ValueError, IndexError, KeyError):
                    pass
            res["bytes_per_token"] = (b2 - b1) / max(1, n_tokens)
            res["wall_s"] = s2
            if kind in ("stream", "mmap"):
                try:
                    j = json.loads(p2.stdout.strip().splitlines()[-1])
                    res["tok_s"] = j["decode_tok_s"]
                    res["peak_rss"] = j["peak_rss_bytes"]
                except (ValueError, IndexError, KeyError):
                    res["error"] = p2.stderr.strip()[-300:]
                r = re.search(r"weights\s+(\d+) bytes", p2.stderr)
                if kind == "stream":
                    res["plan"] = "\n".join(l for l in p2.stderr.splitlines() if l.startswith("  "))
                    if r:
                        res["non_resident"] = size - int(r.group(1))
            else:
                try:
                    j = json.loads(p2.stdout)
                    res["tok_s"] = [t for t in j if t.get("n_gen", 0) > 0][-1]["avg_ts"]
                except (ValueError, IndexError, KeyError):
                    res["error"] = p2.stderr.strip()[-300:]
            rows.append(res)
            print(json.dumps({k: v for k, v in res.items() if k != "plan"}), file=sys.stderr)
    print("| model | bytes | limit | tool | decode tok/s | bytes read per token | non-resident (plan) | peak RSS | OOM kills |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        nr = next((x.get("non_resident") for x in rows if x["model"] == r["model"] and "non_resident" in x), None)
        print("| %s | %d | %d | %s | %s | %.1f MB | %s | %s | %s |" % (
            r["model"], r["bytes"], r["limit"], r["tool"],
            "%.2f" % r["tok_s"] if "tok_s" in r else "error: " + r.get("error", "?")[:80],
            r["bytes_per_token"] / 1e6, "%.1f MB" % (nr / 1e6) if nr else "-",
            "%.1f MB" % (r["peak_rss"] / 1e6) if r.get("peak_rss") else "-", r["oom_kills"]))
    for r in rows:
        if "plan" in r:
            print("\nstream plan for %s (limit %d):\n%s" % (r["model"], r["limit"], r["plan"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
