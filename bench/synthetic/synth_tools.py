#!/usr/bin/env python3
"""Helpers of run_peers.sh (standard library only): reading GGUF tensor sizes, running one
benchmark while measuring how much CPU other processes took meanwhile, parsing the results of
ondo / llama-bench, and printing the markdown report.

  synth_tools.py file-info FILE TYPE MAKE_LOG           -> one JSON line
  synth_tools.py busy SECONDS                           -> % of all CPUs busy over SECONDS
  synth_tools.py run TIMEOUT OUT ERR -- CMD...           -> one JSON line (rc, wall, others' CPU)
  synth_tools.py parse TOOL TYPE THREADS MODE OUT ERR META_JSON -> one JSON line
  synth_tools.py report RESULTS_JSONL PROMPT GEN REPS   -> markdown on stdout
"""
import json
import os
import re
import resource
import statistics
import struct
import subprocess
import sys
import time

# ggml type id -> (elements per block, bytes per block), as ggml's type_traits.
BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
         8: (32, 34), 20: (32, 18), 10: (256, 84), 11: (256, 110), 12: (256, 144),
         13: (256, 176), 14: (256, 210), 23: (256, 136)}
SCALAR = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q',
          12: 'd'}


def tensor_bytes(path):
    """Sum of the sizes of all tensors listed in a GGUF header."""
    with open(path, 'rb') as f:
        def u(fmt):
            return struct.unpack('<' + fmt, f.read(struct.calcsize(fmt)))[0]

        def s():
            return f.read(u('Q'))

        def skip(t):
            if t == 8:
                s()
            elif t == 9:
                et, n = u('I'), u('Q')
                if et in SCALAR:
                    f.seek(struct.calcsize(SCALAR[et]) * n, 1)
                else:
                    for _ in range(n):
                        skip(et)
            else:
                f.read(struct.calcsize(SCALAR[t]))

        if f.read(4) != b'GGUF':
            raise SystemExit(f'{path} is not a GGUF file')
        u('I')
        n_tensors, n_kv = u('Q'), u('Q')
        for _ in range(n_kv):
            s()
            skip(u('I'))
        total = 0
        for _ in range(n_tensors):
            s()
            n = 1
            for _ in range(u('I')):
                n *= u('Q')
            bs, ts = BLOCK[u('I')]
            u('Q')
            total += n // bs * ts
        return total


def file_info(path, ty, log):
    out = {"kind": "file", "type": ty, "path": path, "file_bytes": os.path.getsize(path),
           "weight_bytes": tensor_bytes(path)}
    if os.path.exists(log):
        text = open(log, errors='replace').read()
        m = re.search(r'wrote .*?, ([0-9.]+) s, (\d+) threads, peak RSS ([0-9.]+) MiB', text)
        if m:
            out.update(make_s=float(m[1]), make_threads=int(m[2]), make_rss_mib=float(m[3]))
        w = re.findall(r'warning: (QuantizeRow\(\w+\)) wrote an all-zero row', text)
        if w:
            out["make_warnings"] = w
    return out


def cpu_ticks():
    """(busy, total) jiffies over all CPUs; steal counts as busy (another VM had the core)."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    total = sum(v[:8])  # guest time is already inside user
    return total - idle, total


def busy(seconds):
    b0, t0 = cpu_ticks()
    time.sleep(seconds)
    b1, t1 = cpu_ticks()
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


def run(timeout, out_path, err_path, cmd):
    """Runs cmd; reports the share of all CPUs that other processes used during the run: busy
    time from /proc/stat minus the CPU time of cmd and its descendants (rusage)."""
    hz = os.sysconf('SC_CLK_TCK')
    ncpu = os.cpu_count() or 1
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0, _ = cpu_ticks()
    w0 = time.monotonic()
    with open(out_path, 'w') as out, open(err_path, 'w') as err:
        try:
            rc = subprocess.run(cmd, stdout=out, stderr=err, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = 124
            err.write(f'error: timed out after {timeout} s\n')
    wall = time.monotonic() - w0
    b1, _ = cpu_ticks()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    others = max(0.0, (b1 - b0) / hz - ours)
    return {"rc": rc, "wall_s": round(wall, 1),
            "others_cpu_pct": round(100.0 * others / (wall * ncpu), 1)}


def parse(tool, ty, threads, mode, out_path, err_path, meta):
    r = {"kind": "run", "tool": tool, "type": ty, "threads": int(threads)}
    r.update(json.loads(meta))
    text = open(out_path, errors='replace').read()
    try:
        if tool == 'ondo' and mode == 'bench':
            j = json.loads(text.strip().splitlines()[-1])
            r.update(prompt_tok_s=j["prompt_tok_s"], decode_tok_s=j["decode_tok_s"])
            if "peak_rss_bytes" in j:
                r["peak_rss_bytes"] = j["peak_rss_bytes"]
            if "roofline_fraction" in j:
                r.update(roofline_fraction=j["roofline_fraction"],
                         weights_read_gb_s=j["weights_read_gb_s"])
        elif tool == 'ondo':  # bench_e2e's text
            r["prompt_tok_s"] = float(re.search(r'^pp\d+\s+([0-9.]+) tok/s', text, re.M)[1])
            r["decode_tok_s"] = float(re.search(r'^tg\d+\s+([0-9.]+) tok/s', text, re.M)[1])
            m = re.search(r'^peak RSS\s+([0-9.]+) MiB', text, re.M)
            if m:
                r["peak_rss_bytes"] = int(float(m[1]) * 1048576)
        else:
            for e in json.loads(text):
                # llama-bench lists every repetition: the median, as ondo reports.
                v = statistics.median(e["samples_ts"]) if e.get("samples_ts") else e["avg_ts"]
                if e["n_prompt"] > 0 and e["n_gen"] == 0:
                    r["prompt_tok_s"] = v
                if e["n_gen"] > 0 and e["n_prompt"] == 0:
                    r["decode_tok_s"] = v
        if r.get("rc", 0) != 0:
            raise ValueError(f'exit code {r["rc"]}')
    except Exception as ex:  # failed or refused: keep the line of its error message
        lines = open(err_path, errors='replace').read().strip().splitlines() or [str(ex)]
        r["error"] = next((l for l in lines if 'error' in l.lower()), lines[-1])[:200]
    return r


def report(results, prompt, gen, reps):
    rows = [json.loads(l) for l in open(results) if l.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    bws = [r for r in rows if r["kind"] == "bandwidth"]
    # The roofline per thread count: the highest median measured during the session.
    gbs = {}
    for r in bws:
        for k, v in r["gb_per_s"].items():
            gbs.setdefault(k, []).append(v)
    span = {k: (min(v), max(v)) for k, v in gbs.items()}
    before = {r.get("when"): r["gb_per_s"] for r in bws}  # the last one before / after each run
    gbs = {k: max(v) for k, v in gbs.items()}
    files = {r["type"]: r for r in rows if r["kind"] == "file"}
    runs = {(r["tool"], r["type"], r["threads"]): r for r in rows if r["kind"] == "run"}
    tools = ["ondo", "llama.cpp", "ik_llama.cpp"]

    def f(v, d=1):
        return "-" if v is None else f"{v:.{d}f}"

    def get(tool, ty, t, key):
        r = runs.get((tool, ty, t))
        return None if r is None else r.get(key)

    print(f"Machine: {machine['cpu']}, {machine['cores']} cores, ondo kernels "
          f"{machine.get('isa', '?')}. Read bandwidth ({bws[0]['buffer_bytes'] >> 20} MiB buffer, "
          f"median of {bws[0]['passes']} passes, measured {len(bws)} times: before and after every run): "
          + ", ".join(f"{k} thread{'s' if k != '1' else ''} {gbs[k]:.1f} GB/s (range "
                      f"{span[k][0]:.1f}-{span[k][1]:.1f})" for k in gbs)
          + "; the highest is the roofline.")
    print(f"Workload: prompt {prompt} tokens (one batch) and decode {gen} tokens, median of {reps} "
          "repetitions after a warm-up; Qwen2.5-1.5B shape, random weights (seed 1).\n")
    print("| file | size (MiB) | weights read / token (MiB) | make_synthetic time (s) | "
          "make_synthetic peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for ty, r in files.items():
        print(f"| {ty} | {r['file_bytes'] / 2**20:.1f} | {r['weight_bytes'] / 2**20:.1f} | "
              f"{f(r.get('make_s'))} | {f(r.get('make_rss_mib'))} |")
    print()
    print("| file | size (MiB) | threads | prompt tok/s: ondo / llama.cpp / ik | decode tok/s: "
          "ondo / llama.cpp / ik | ondo/ik prompt | ondo/ik decode | decode roofline: ondo / "
          "llama.cpp / ik | ondo peak RSS (MiB) | others' CPU %: ondo / llama.cpp / ik "
          "| bandwidth just before, after (GB/s): ondo / llama.cpp / ik "
          "| decode roofline paired: ondo / llama.cpp / ik | ondo --roofline (own weights) |")
    print("|---|---:|---:|---|---|---:|---:|---|---:|---|---|---|---|")
    notes = []
    for ty, fr in files.items():
        for t in sorted({k[2] for k in runs if k[1] == ty}):
            pp = [get(x, ty, t, "prompt_tok_s") for x in tools]
            tg = [get(x, ty, t, "decode_tok_s") for x in tools]
            peak = gbs.get(str(t))
            roof = [None if v is None or not peak else fr["weight_bytes"] * v / (peak * 1e9)
                    for v in tg]

            def ratio(a, b):
                return None if a is None or not b else a / b

            rss = get("ondo", ty, t, "peak_rss_bytes")
            others = [get(x, ty, t, "others_cpu_pct") for x in tools]
            near = [before.get(f"before {x} {ty} -t {t}", {}).get(str(t)) for x in tools]
            after = [before.get(f"after {x} {ty} -t {t}", {}).get(str(t)) for x in tools]
            paired = [None if v is None or a is None or b is None else
                      fr["weight_bytes"] * v / (0.5 * (a + b) * 1e9) for v, a, b in zip(tg, near, after)]
            own = get("ondo", ty, t, "roofline_fraction")
            own_bw = get("ondo", ty, t, "weights_read_gb_s")
            print(f"| {ty} | {fr['file_bytes'] / 2**20:.0f} | {t} "
                  f"| {' / '.join(f(v) for v in pp)} | {' / '.join(f(v) for v in tg)} "
                  f"| {f(ratio(pp[0], pp[2]), 2)} | {f(ratio(tg[0], tg[2]), 2)} "
                  f"| {' / '.join('-' if v is None else f'{100 * v:.0f}%' for v in roof)} "
                  f"| {f(None if rss is None else rss / 2**20)} "
                  f"| {' / '.join(f(v, 0) for v in others)} "
                  f"| {' / '.join(f(a, 0) + ', ' + f(b, 0) for a, b in zip(near, after))} "
                  f"| {' / '.join('-' if v is None else f'{100 * v:.0f}%' for v in paired)} "
                  f"| {'-' if own is None else f'{100 * own:.0f}% (read {own_bw:.1f} GB/s)'} |")
            for x in tools:
                r = runs.get((x, ty, t))
                if r and "error" in r:
                    notes.append(f"{x} {ty} -t {t}: {r['error']}")
    for ty, r in files.items():
        if r.get("make_warnings"):
            notes.append(f"{ty}: make_synthetic warned that {', '.join(r['make_warnings'])} wrote "
                         "zeros (quantizer not implemented when the file was made; delete the "
                         "file to regenerate it)")
    print("\nroofline = weights read per token x decode tok/s / highest read bandwidth measured "
          "at that thread count; paired = the same against the mean of the bandwidth measured just before and just after the run; ondo --roofline = the median over the repetitions of each one's fraction against the read rate of the model's own weights by the same threads just before and after it. others' CPU % = share of all cores other processes used during the run "
          "(rows with more than a few % are slowed by them).")
    if notes:
        print("\nNotes:")
        for n in notes:
            print(f"- {n}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ''
    if cmd == 'file-info' and len(argv) == 5:
        print(json.dumps(file_info(argv[2], argv[3], argv[4])))
    elif cmd == 'busy' and len(argv) == 3:
        print(f"{busy(float(argv[2])):.1f}")
    elif cmd == 'run' and len(argv) > 6 and argv[5] == '--':
        print(json.dumps(run(float(argv[2]), argv[3], argv[4], argv[6:])))
    elif cmd == 'parse' and len(argv) == 9:
        print(json.dumps(parse(*argv[2:9])))
    elif cmd == 'report' and len(argv) == 6:
        report(*argv[2:6])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
