#!/usr/bin/env bash
# Quick start on Debian 12: installs the missing packages (as root, or through sudo), builds
# ondo (Release) into build/, and runs ko-mini-a on a Korean prompt when
# ../shared/models/ko-mini-a.f16.gguf exists; otherwise says how to get a model.
# Environment: ONDO_BUILD_DIR (build), ONDO_JOBS (nproc), ONDO_MODEL (the model file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../.ci/deps.sh
. .ci/deps.sh
ondo_install_deps

build=${ONDO_BUILD_DIR:-build}
jobs=${ONDO_JOBS:-$(nproc)}
generator=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"

model=${ONDO_MODEL:-../shared/models/ko-mini-a.f16.gguf}
prompt="요즘 너무 피곤해"
if [ -f "$model" ]; then
  echo "+ $build/bin/ondo run -m $model -p \"$prompt\""
  exec "$build/bin/ondo" run -m "$model" -p "$prompt"
fi
cat <<MSG

ondo is built: $build/bin/ondo. No model at $model, so nothing was run.
To run one, take a GGUF file whose architecture is llama, qwen2, qwen3 or gptneox with
F32, F16, BF16 or Q8_0 weights (for example a Q8_0 GGUF of Qwen2.5-0.5B-Instruct from
Hugging Face), then:
  $build/bin/ondo run -m MODEL.gguf -p "$prompt"
or run this script again with ONDO_MODEL=MODEL.gguf.
MSG
