#!/usr/bin/env bash
# Runs every test of ondo and prints a final line "N passed, N failed":
#   1. the Release build (build/): configure if needed, build, ctest;
#   2. an ASan/UBSan build of the tests (build-asan/, -O1, no benchmarks): build, ctest;
#   3. a clang libFuzzer build (build-fuzz/): each build-fuzz/bin/fuzz_* runs for
#      ONDO_FUZZ_SECONDS (20) on its seed corpus tests/fuzz/corpus/<name>/;
#   4. an aarch64 cross build (build-arm64/, cmake/aarch64-linux-gnu.cmake) whose kernel,
#      golden and command-line tests run under qemu-aarch64 twice: -cpu max (NEON + dot
#      product: both ARM kernel sets) and -cpu cortex-a53 (NEON without it).
# Environment: ONDO_JOBS (default: nproc), ONDO_BUILD_DIR, ONDO_ASAN_DIR, ONDO_FUZZ_DIR,
# ONDO_ARM_DIR, ONDO_FUZZ_SECONDS, ONDO_SKIP_ASAN=1, ONDO_SKIP_FUZZ=1, ONDO_SKIP_ARM=1.
# Exit status 0 when nothing failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${ONDO_JOBS:-$(nproc)}
build=${ONDO_BUILD_DIR:-build}
asan=${ONDO_ASAN_DIR:-build-asan}
fuzz=${ONDO_FUZZ_DIR:-build-fuzz}
arm=${ONDO_ARM_DIR:-build-arm64}
fuzz_seconds=${ONDO_FUZZ_SECONDS:-20}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

passed=0
failed=0
failures=()

section() { printf '\n===== %s (at %d min %02d s) =====\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

# configure_and_build DIR LABEL CMAKE_ARGS... [-- BUILD_ARGS...]: returns non-zero (and counts
# a failure) when the configuration or the build fails.
configure_and_build() {
  local dir=$1 label=$2
  shift 2
  local config=() build_args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do config+=("$1"); shift; done
  if [ $# -gt 0 ]; then shift; build_args=("$@"); fi
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    if ! cmake -S . -B "$dir" "${generator[@]}" "${config[@]}"; then
      failed=$((failed + 1)); failures+=("configure $label"); return 1
    fi
  fi
  if ! cmake --build "$dir" -j "$jobs" "${build_args[@]}"; then
    failed=$((failed + 1)); failures+=("build $label"); return 1
  fi
}

# run_ctest DIR LABEL: adds ctest's pass/fail counts to the totals.
run_ctest() {
  local dir=$1 label=$2 log rc=0
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -j "$jobs" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -n "$line" ]; then
    local nfail ntotal
    nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    ntotal=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + ntotal - nfail))
    failed=$((failed + nfail))
    [ "$nfail" -eq 0 ] || failures+=("$nfail ctest test(s) in $label")
  elif grep -q 'No tests were found' "$log"; then
    echo "($label: no tests)"
  else
    failed=$((failed + 1)); failures+=("ctest $label (exit $rc)")
  fi
  rm -f "$log"
}

# Independent truth for tokenizers trained by `ondo tokenizer train`: the JavaScript port of the
# Hugging Face tokenizers (npm @lenml/tokenizers, no dependencies, no install scripts), used by
# the ctest tokenizer_hf_js_parity. Without node, npm or the registry that test skips.
if [ -z "${NODE_PATH:-}" ] && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  mkdir -p "$build/hfjs"
  if timeout 180 npm install --prefix "$build/hfjs" --no-audit --no-fund --ignore-scripts \
      @lenml/tokenizers@3.7.2 >"$build/hfjs/npm.log" 2>&1; then
    NODE_PATH="$(cd "$build/hfjs" && pwd)/node_modules"
    export NODE_PATH
  else
    echo "(npm install @lenml/tokenizers failed, see $build/hfjs/npm.log: tokenizer_hf_js_parity will skip)"
  fi
fi

section "Release build and tests ($build)"
if configure_and_build "$build" Release -DCMAKE_BUILD_TYPE=Release; then
  run_ctest "$build" Release
fi

if [ "${ONDO_SKIP_ASAN:-0}" != 1 ]; then
  section "ASan/UBSan build and tests ($asan)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  if configure_and_build "$asan" ASan -DCMAKE_BUILD_TYPE=Debug -DONDO_SANITIZE=ON \
      -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DONDO_BUILD_BENCH=OFF; then
    run_ctest "$asan" ASan
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "${ONDO_SKIP_FUZZ:-0}" != 1 ]; then
  section "fuzz build and a ${fuzz_seconds} s run per target ($fuzz)"
  if ! command -v clang++ >/dev/null 2>&1; then
    echo "clang++ not found: fuzzing skipped (apt-get install clang libclang-rt-14-dev)"
    failed=$((failed + 1)); failures+=("fuzz: no clang++")
  elif configure_and_build "$fuzz" fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONDO_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DONDO_BUILD_TESTS=OFF \
      -DONDO_BUILD_BENCH=OFF -DONDO_BUILD_EXAMPLES=OFF; then
    shopt -s nullglob
    targets=("$fuzz"/bin/fuzz_*)
    shopt -u nullglob
    [ ${#targets[@]} -gt 0 ] || echo "(no fuzz targets built)"
    for exe in "${targets[@]}"; do
      [ -x "$exe" ] || continue
      name=$(basename "$exe")
      seeds=()
      for d in "tests/fuzz/corpus/$name" "tests/fuzz/corpus/${name#fuzz_}"; do
        if [ -d "$d" ]; then seeds+=("$d"); fi
      done
      # New inputs go to a scratch corpus; the seed corpus in the tree is only read.
      work="$fuzz/corpus-run/$name"
      mkdir -p "$work" "$fuzz/artifacts"
      echo "-- $name for ${fuzz_seconds} s on ${seeds[*]:-no seed corpus}"
      if "$exe" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
          -artifact_prefix="$fuzz/artifacts/$name-" "$work" "${seeds[@]}" >"$fuzz/$name.log" 2>&1; then
        passed=$((passed + 1))
        grep -E '^(stat::number_of_executed_runs|Done)' "$fuzz/$name.log" || true
      else
        failed=$((failed + 1)); failures+=("fuzz $name")
        tail -n 40 "$fuzz/$name.log"
      fi
    done
  fi
fi

# run_emulated LABEL CPU EXE [ARGS...]: runs a GoogleTest binary of the aarch64 build under
# qemu-aarch64 with that CPU model and adds its pass/fail counts to the totals.
run_emulated() {
  local label=$1 cpu=$2 exe=$3 log rc=0
  shift 3
  log=$(mktemp)
  echo "-- $label: qemu-aarch64 -cpu $cpu $(basename "$exe") $*"
  QEMU_CPU=$cpu timeout 1500 qemu-aarch64 "$exe" --gtest_brief=1 "$@" >"$log" 2>&1 || rc=$?
  local np nf
  np=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -n 1)
  nf=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' "$log" | tail -n 1)
  np=${np:-0}; nf=${nf:-0}
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$log" | grep -vE '^\[  SKIPPED \] [^0-9]' || true
  passed=$((passed + np)); failed=$((failed + nf))
  if [ "$nf" -ne 0 ] || [ "$rc" -ne 0 ] || [ "$np" -eq 0 ]; then
    [ "$nf" -ne 0 ] || failed=$((failed + 1))
    failures+=("$label (exit $rc, $nf failed)")
    tail -n 60 "$log"
  fi
  rm -f "$log"
}

if [ "${ONDO_SKIP_ARM:-0}" != 1 ]; then
  section "aarch64 cross build and emulated tests ($arm)"
  if ! command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
    echo "aarch64-linux-gnu-g++ or qemu-aarch64 not found (.ci/deps.sh installs them)"
    failed=$((failed + 1)); failures+=("aarch64: no cross compiler or qemu-user")
  elif configure_and_build "$arm" aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
      -DCMAKE_BUILD_TYPE=Release -DONDO_BUILD_BENCH=OFF -- --target kernels_test golden_test \
      examples_test ondo_cli ondo_static ondo_c_example_static; then
    for cpu in max cortex-a53; do
      run_emulated "aarch64 kernels ($cpu)" "$cpu" "$arm/bin/kernels_test"
      run_emulated "aarch64 golden ($cpu)" "$cpu" "$arm/bin/golden_test"
      # The command line's behaviour; bench/perplexity/kld (EvalCli*) are checked against
      # independent computations in the native build and take too long emulated.
      run_emulated "aarch64 command line ($cpu)" "$cpu" "$arm/bin/examples_test" \
        --gtest_filter='-EvalCli*'
      # The statically linked C example (libondo.a) runs the embedded demo model.
      if QEMU_CPU=$cpu timeout 600 qemu-aarch64 "$arm/bin/c_example_static" >/dev/null 2>&1; then
        passed=$((passed + 1))
      else
        failed=$((failed + 1)); failures+=("aarch64 c_example_static ($cpu)")
      fi
    done
    ls -l "$arm/lib/libondo.a" "$arm/bin/c_example_static" 2>/dev/null || true
  fi
fi

section "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
