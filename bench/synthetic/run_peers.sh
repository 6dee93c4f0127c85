#!/usr/bin/env bash
# run_peers.sh: ondo against llama.cpp and ik_llama.cpp on Qwen2.5-1.5B-shaped files with
# random weights (F16, Q8_0, Q4_K_M, Q2_K), prompt 512 / decode 64 at 1 and 2 threads, and
# each decode figure as a fraction of the memory-bandwidth roofline.
#
#   bench/synthetic/run_peers.sh            # from anywhere, after building
#
# Needs, in $ONDO_BUILD_DIR (default build/): bin/ondo, bin/make_synthetic, bin/bench_bandwidth
#   ninja -C build ondo_cli make_synthetic bench_bandwidth
# and python3 (standard library only) for synth_tools.py beside this script.
# Environment:
#   ONDO_BUILD_DIR    build folder (default build, relative to the repository root)
#   ONDO_SYNTH_DIR    where the model files are cached (default $ONDO_BUILD_DIR/synthetic); a
#                     file already there is reused: delete it to regenerate
#   ONDO_SHARED       the shared folder with tokenizers/ and peers/ (default ../shared)
#   SYNTH_TYPES       mixes to run (default "f16 q8_0 q4_k_m q2_k")
#   SYNTH_THREADS     thread counts (default "1 2")
#   SYNTH_TIMEOUT     seconds allowed per benchmark run (default 1200)
#   SYNTH_QUIET_WAIT  seconds to wait before each run for other processes to go quiet
#                     (default 300; 0: do not wait)
#   SYNTH_RETRIES     times a run is repeated when other processes took more than 10% of the
#                     CPUs during it (default 1; the last attempt is reported)
#
# The peers (../shared/peers: unmodified llama.cpp and ik_llama.cpp builds) are measuring
# instruments only; ondo never links or calls them. A peer that is missing is skipped.
#
# Roofline: a decode step reads every weight once. With the tied embedding the output head
# reads the whole token_embd matrix (and the embedding lookup one row of it), so the bytes
# read per token are the sum of all tensor sizes in the file. KV-cache reads (~16 MB per token
# at the ~540 positions of this decode, 0.5% of the F16 weights, 2.3% of Q2_K's) are left out.
# fraction = bytes per token x decode tok/s / read bandwidth with the same thread count (the
# highest of the bench_bandwidth medians measured before each run, see measure_bw). The host's
# bandwidth can change by 1.7x within a minute, so two more figures are reported: the same
# fraction against the mean of the bandwidth measured just before and just after the run
# ("paired"), and ondo's own `bench --roofline`, which reads the model's weights with the same
# threads before and after every decode repetition and pairs each repetition with them.
#
# On a shared machine every run is preceded by a wait (bounded by SYNTH_QUIET_WAIT) for the
# other processes to use less than 15% of the CPUs, a run they disturbed anyway is repeated
# (SYNTH_RETRIES), and the share they used during the run is reported beside each figure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${ONDO_BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
dir=${ONDO_SYNTH_DIR:-$build/synthetic}
shared=${ONDO_SHARED:-$root/../shared}
tokenizer=$shared/tokenizers/hf/qwen3/tokenizer.json
types=${SYNTH_TYPES:-"f16 q8_0 q4_k_m q2_k"}
threads=${SYNTH_THREADS:-"1 2"}
run_timeout=${SYNTH_TIMEOUT:-1200}
quiet_wait=${SYNTH_QUIET_WAIT:-300}
retries=${SYNTH_RETRIES:-1}
tools=$here/synth_tools.py
seed=1
prompt=512 gen=64 reps=3

die() { echo "run_peers.sh: error: $*" >&2; exit 1; }
note() { echo "run_peers.sh: $*" >&2; }

for b in ondo make_synthetic bench_bandwidth; do
  [ -x "$build/bin/$b" ] || die "$build/bin/$b is missing (ninja -C $build ondo_cli make_synthetic bench_bandwidth)"
done
[ -f "$tokenizer" ] || die "the tokenizer $tokenizer is missing (set ONDO_SHARED)"
command -v python3 >/dev/null || die "python3 is needed (synth_tools.py)"
mkdir -p "$dir/logs"
results=$dir/logs/results.jsonl
: > "$results"
max_threads=1
for t in $threads; do if [ "$t" -gt "$max_threads" ]; then max_threads=$t; fi; done

# Waits (at most $quiet_wait s) until other processes use less than 15% of the CPUs.
wait_quiet() {
  local start=$SECONDS b
  while :; do
    b=$(python3 "$tools" busy 2)
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 15 else 1)" "$b"; then return; fi
    if [ $((SECONDS - start)) -ge "$quiet_wait" ]; then
      note "the CPUs are still ${b}% busy after ${quiet_wait} s; measuring anyway"
      return
    fi
    sleep 5
  done
}

# --- machine ---------------------------------------------------------------------------------
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
python3 -c 'import json,sys; print(json.dumps({"kind":"machine","cpu":sys.argv[1],"cores":int(sys.argv[2])}))' \
  "${cpu:-unknown}" "$(nproc)" >> "$results"

# --- files -----------------------------------------------------------------------------------
for ty in $types; do
  f=$dir/qwen2.5-1.5b-synth.$ty.gguf
  log=$dir/logs/make.$ty.log
  if [ -f "$f" ]; then
    note "reusing $f"
  else
    note "writing $f"
    "$build/bin/make_synthetic" --tokenizer "$tokenizer" --type "$ty" --seed "$seed" -o "$f" 2> "$log" \
      || { cat "$log" >&2; die "make_synthetic --type $ty failed"; }
  fi
  python3 "$tools" file-info "$f" "$ty" "$log" >> "$results"
done

# --- bandwidth -------------------------------------------------------------------------------
# measure_bw WHEN: the read bandwidth at 1..max threads (1 GiB buffer, median of 7 passes, ~2 s).
# On a virtual machine it moves with the neighbours' load (33 to 57 GB/s at 2 threads within
# an hour on the machine this was written on), so it is measured before every benchmark and
# the report takes, per thread count, the highest median seen as the roofline.
measure_bw() {
  local meta
  meta=$(python3 "$tools" run 300 "$dir/logs/bandwidth.out" "$dir/logs/bandwidth.err" -- \
         "$build/bin/bench_bandwidth" -t "$max_threads" --passes 7 --json)
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); d.update(json.loads(sys.argv[2]));
d.update(kind="bandwidth", when=sys.argv[3]); print(json.dumps(d))' "$dir/logs/bandwidth.out" "$meta" "$1" \
    >> "$results" || die "bench_bandwidth failed: $(cat "$dir/logs/bandwidth.err")"
}
note "measuring read bandwidth (1 GiB buffer, 1..$max_threads threads)"
wait_quiet
measure_bw start

# --- benchmarks ------------------------------------------------------------------------------
ondo_mode=none
if "$build/bin/ondo" bench --help >/dev/null 2>&1; then
  ondo_mode=bench
elif [ -x "$build/bin/bench_e2e" ]; then
  ondo_mode=e2e
  note "'ondo bench' is not built; using bench_e2e for ondo's figures"
else
  note "neither 'ondo bench' nor bench_e2e is built: ondo is skipped"
fi
peers=""
for p in llama.cpp ik_llama.cpp; do
  if [ -x "$shared/peers/run" ] && "$shared/peers/run" "$p" llama-bench --help >/dev/null 2>&1; then
    peers="$peers $p"
  else
    note "peer $p is missing under $shared/peers: skipped"
  fi
done

# bench_one TOOL TYPE FILE THREADS: runs one benchmark and records its prompt / decode tok/s.
bench_one() {
  local tool=$1 ty=$2 f=$3 t=$4 base meta
  base=$dir/logs/$tool.$ty.t$t
  local cmd
  case $tool in
    ondo)
      if [ $ondo_mode = bench ]; then
        cmd=("$build/bin/ondo" bench -m "$f" -t "$t" --prompt $prompt --gen $gen --reps $reps --json)
        if [ "$gen" -gt 0 ]; then cmd+=(--roofline); fi
      else
        cmd=("$build/bin/bench_e2e" "$f" --threads "$t" --prompt-tokens $prompt --decode-tokens $gen
             --reps $reps --ctx $((prompt + gen)))
      fi ;;
    *) cmd=("$shared/peers/run" "$tool" llama-bench -m "$f" -t "$t" -p $prompt -n $gen -r $reps -o json) ;;
  esac
  local attempt=0
  while :; do
    wait_quiet
    measure_bw "before $tool $ty -t $t"
    note "$tool  $ty  $t thread(s)"
    meta=$(python3 "$tools" run "$run_timeout" "$base.out" "$base.err" -- "${cmd[@]}")
    attempt=$((attempt + 1))
    # Other processes took more than 10% of the CPUs meanwhile: measure again (bounded).
    if [ $attempt -gt "$retries" ] || python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["others_cpu_pct"] <= 10 else 1)' "$meta"; then
      break
    fi
    note "other processes used the CPUs during that run: measuring again"
  done
  measure_bw "after $tool $ty -t $t"
  python3 "$tools" parse "$tool" "$ty" "$t" "$ondo_mode" "$base.out" "$base.err" "$meta" >> "$results"
}

for ty in $types; do
  f=$dir/qwen2.5-1.5b-synth.$ty.gguf
  for t in $threads; do
    if [ $ondo_mode != none ]; then bench_one ondo "$ty" "$f" "$t"; fi
    for p in $peers; do bench_one "$p" "$ty" "$f" "$t"; done
  done
done

measure_bw end

# --- report ----------------------------------------------------------------------------------
isa=$(sed -n 's/.*"isa":"\([^"]*\)".*/\1/p' "$dir"/logs/ondo.*.out 2>/dev/null | head -1)
python3 - "$results" "${isa:-?}" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if r["kind"] == "machine": r["isa"] = sys.argv[2]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
EOF
python3 "$tools" report "$results" $prompt $gen $reps | tee "$dir/report.md"
note "results in $results, table in $dir/report.md"
