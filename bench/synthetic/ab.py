#!/usr/bin/env python3
"""ab.py: decode (or prompt) speed of two commands on one model file, interleaved, as paired rounds.

The host's memory bandwidth can change by 1.7x within a minute (see run_peers.sh), so two
decode figures taken minutes apart say little about a few percent. This runs A and B
alternately (A B, then B A, ...), each after a wait for the other processes to go quiet, and
reports every round's pair and the median of the per-round ratios B / A.

A command is an ondo binary, possibly behind `env VAR=...` (an experiment switch), run as
`CMD bench -m MODEL -t T --prompt 0 --gen N --reps R --roofline --json`, or a llama-bench
(the last word of the command ends in llama-bench, e.g. `../shared/peers/run ik llama-bench`),
run as `CMD -m MODEL -t T -p 0 -n N -r R -o json`. For ondo the round also shows its
`--roofline` fraction (its decode against the read rate of its own weights, measured around
each repetition) and that read rate. With `--prompt N` the rounds measure prompt processing of
N tokens (one batch, llama-bench's ppN) instead of decode.

  bench/synthetic/ab.py -m build/synthetic/qwen2.5-1.5b-synth.q8_0.gguf -t 2 --rounds 4 \\
      --a 'build/bin/ondo' --b '../shared/peers/run ik llama-bench'

Python 3 standard library only (and synth_tools.py beside it).
"""
import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth_tools  # noqa: E402


def is_llama_bench(cmd):
    return cmd[-1].endswith('llama-bench')


def command(cmd, a):
    gen = 0 if a.prompt > 0 else a.gen
    if is_llama_bench(cmd):
        return cmd + ['-m', a.model, '-t', str(a.threads), '-p', str(a.prompt), '-n', str(gen),
                      '-r', str(a.reps), '-o', 'json']
    return cmd + ['bench', '-m', a.model, '-t', str(a.threads), '--prompt', str(a.prompt),
                  '--gen', str(gen), '--reps', str(a.reps), '--json'] + \
        ([] if a.prompt > 0 else ['--roofline'])


def parse(cmd, text, a):
    """{"tok_s": ..., and for ondo's decode "roofline": ..., "read_gb_s": ...}"""
    if is_llama_bench(cmd):
        rows = json.loads(text)
        if a.prompt > 0:
            rows = [r for r in rows if r.get('n_prompt', 0) == a.prompt and r.get('n_gen', 0) == 0]
        else:
            rows = [r for r in rows if r.get('n_gen', 0) > 0 and r.get('n_prompt', 0) == 0]
        if not rows:
            raise ValueError('no matching row in the llama-bench output')
        return {'tok_s': float(rows[0]['avg_ts'])}
    d = json.loads(text.strip().splitlines()[-1])
    if a.prompt > 0:
        return {'tok_s': float(d['prompt_tok_s'])}
    return {'tok_s': float(d['decode_tok_s']), 'roofline': float(d['roofline_fraction']),
            'read_gb_s': float(d['weights_read_gb_s'])}


def wait_quiet(seconds):
    """Waits (at most `seconds`) until other processes use less than 15% of the CPUs; returns
    the last share seen."""
    start = time.monotonic()
    while True:
        b = synth_tools.busy(2)
        if b < 15 or time.monotonic() - start >= seconds:
            return b
        time.sleep(3)


def run_one(cmd, a, tmp):
    out, err = os.path.join(tmp, 'out'), os.path.join(tmp, 'err')
    meta = synth_tools.run(a.timeout, out, err, command(cmd, a))
    if meta['rc'] != 0:
        with open(err) as f:
            raise RuntimeError(f"{shlex.join(cmd)} failed (exit {meta['rc']}): {f.read().strip()}")
    with open(out) as f:
        r = parse(cmd, f.read(), a)
    r['others_cpu_pct'] = meta['others_cpu_pct']
    return r


def show(r):
    s = f"{r['tok_s']:6.2f} tok/s"
    if 'roofline' in r:
        s += f" ({100 * r['roofline']:.0f}% of {r['read_gb_s']:.1f} GB/s)"
    return s + f" [others {r['others_cpu_pct']:.0f}%]"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('-m', '--model', required=True)
    p.add_argument('-t', '--threads', type=int, default=2)
    p.add_argument('--rounds', type=int, default=4)
    p.add_argument('--gen', type=int, default=64)
    p.add_argument('--prompt', type=int, default=0, help='measure prompt processing of N tokens instead of decode')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--a', required=True, help='command A (shell words)')
    p.add_argument('--b', required=True, help='command B (shell words)')
    p.add_argument('--quiet-wait', type=float, default=60, help='seconds to wait for quiet before each run')
    p.add_argument('--timeout', type=float, default=900)
    a = p.parse_args()
    cmds = {'A': shlex.split(a.a), 'B': shlex.split(a.b)}
    print(f"A: {shlex.join(cmds['A'])}\nB: {shlex.join(cmds['B'])}\n"
          f"{os.path.basename(a.model)}, {a.threads} thread(s), "
          f"{f'prompt {a.prompt}' if a.prompt > 0 else f'decode {a.gen}'} x {a.reps} repetitions per run")
    res = {'A': [], 'B': []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.rounds):
            order = 'AB' if i % 2 == 0 else 'BA'
            for k in order:
                wait_quiet(a.quiet_wait)
                res[k].append(run_one(cmds[k], a, tmp))
            ratio = res['B'][-1]['tok_s'] / res['A'][-1]['tok_s']
            print(f"round {i + 1} ({order}): A {show(res['A'][-1])} | B {show(res['B'][-1])} | B/A {ratio:.3f}",
                  flush=True)
    ratios = [b['tok_s'] / x['tok_s'] for x, b in zip(res['A'], res['B'])]
    for k in 'AB':
        t = [r['tok_s'] for r in res[k]]
        line = f"{k}: median {statistics.median(t):.2f} tok/s (range {min(t):.2f}-{max(t):.2f})"
        if 'roofline' in res[k][0]:
            f = [r['roofline'] for r in res[k]]
            line += f", roofline median {100 * statistics.median(f):.0f}% ({100 * min(f):.0f}-{100 * max(f):.0f}%)"
        print(line)
    print(f"B/A per round: {' '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
