#!/usr/bin/env bash
# Quick start on Debian 12: installs the missing packages (as root, or through sudo), builds
# ondo (Release) into build/, and answers a Korean prompt with the embedded demo model
# (examples/demo/ondo-demo-ko.ondo, the default of `ondo run`), or with ONDO_MODEL when set.
# Needs nothing outside the repository.
# Environment: ONDO_BUILD_DIR (build), ONDO_JOBS (nproc), ONDO_MODEL (another model file).
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

prompt="안녕하세요"
if [ -n "${ONDO_MODEL:-}" ]; then
  echo "+ $build/bin/ondo run -m $ONDO_MODEL -p \"$prompt\""
  exec "$build/bin/ondo" run -m "$ONDO_MODEL" -p "$prompt"
fi
echo "+ $build/bin/ondo run -p \"$prompt\"   # the embedded demo model"
exec "$build/bin/ondo" run -p "$prompt"
