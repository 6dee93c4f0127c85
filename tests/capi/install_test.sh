#!/bin/sh
# Installs ondo from BUILD_DIR into a temporary prefix, builds examples/c_example against it
# with find_package(ondo) and with pkg-config, checks what libondo exports, and runs both
# builds: without arguments (the installed demo model, also `ondo run` without -m) and on MODEL
# when it exists.
# usage: install_test.sh BUILD_DIR SOURCE_DIR [MODEL]
set -eu
build=$1
src=$2
model=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ondo-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { echo "== $*"; }
die() { echo "install_test: FAILED: $*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "install"; }
[ -f "$prefix/include/ondo.h" ] || die "include/ondo.h not installed"
[ -x "$prefix/bin/ondo" ] || die "bin/ondo not installed"
pc=$(find "$prefix" -name ondo.pc | head -n 1)
[ -n "$pc" ] || die "ondo.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/cmake/ondo/ondoConfig.cmake" ] || die "lib/cmake/ondo/ondoConfig.cmake not installed"
ls "$libdir"/libondo.so* >/dev/null 2>&1 || die "libondo.so not installed"
"$prefix/bin/ondo" --version

step "exported symbols"
bad=$(nm -D --defined-only "$libdir/libondo.so" | awk 'NF == 3 { print $3 }' |
      grep -v -e '^ondo_' -e '^_init$' -e '^_fini$' -e '^_edata$' -e '^_end$' -e '^__bss_start$' || true)
[ -z "$bad" ] || die "libondo.so exports more than ondo_*: $(echo "$bad" | head -n 5 | tr '\n' ' ')"
nm -D --defined-only "$libdir/libondo.so" | grep -c ' ondo_' | sed 's/^/ondo_* functions: /'

step "find_package(ondo)"
cmake -S "$src/examples/c_example" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; die "configure with find_package"; }
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; die "build with find_package"; }

step "pkg-config ondo"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
cflags=$(pkg-config --cflags ondo)
libs=$(pkg-config --libs ondo)
echo "cflags: $cflags  libs: $libs  version: $(pkg-config --modversion ondo)"
# shellcheck disable=SC2086
demo=$(pkg-config --variable=demo_model ondo)
[ -f "$demo" ] || die "demo model not installed at '$demo' (pkg-config --variable=demo_model ondo)"
# shellcheck disable=SC2086
cc -std=c99 -Wall -Wextra -Werror $cflags "-DONDO_DEMO_MODEL=\"$demo\"" "$src/examples/c_example/main.c" \
  -o "$tmp/c_example_pc" $libs || die "build with pkg-config"
cc -std=c99 -Wall -Wextra -Werror $cflags "$src/examples/c_example/main.c" -o "$tmp/c_example_nodemo" $libs ||
  die "build with pkg-config, no demo model"

step "run"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
rc=0
"$tmp/c_example_nodemo" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || die "c_example built without a demo model exited $rc without arguments, want 2 (usage)"
# The installed `ondo run` finds the demo model beside itself (share/ondo), and so does
# c_example built against the installed package (find_package or pkg-config).
"$prefix/bin/ondo" run -p "안녕하세요" --temp 0 -n 32 >"$tmp/out.txt" 2>"$tmp/err.txt" ||
  { cat "$tmp/err.txt"; die "installed ondo run without -m"; }
[ -s "$tmp/out.txt" ] || die "installed ondo run without -m printed nothing"
echo "ondo run (demo model): $(head -c 200 "$tmp/out.txt")"
for exe in "$tmp/cmake-build/c_example" "$tmp/c_example_pc"; do
  "$exe" >"$tmp/out.txt" 2>"$tmp/err.txt" || { cat "$tmp/err.txt"; die "$exe without arguments (demo model)"; }
  [ -s "$tmp/out.txt" ] || die "$exe without arguments printed nothing"
  echo "$(basename "$exe") (demo model): $(head -c 200 "$tmp/out.txt")"
  if [ -n "$model" ] && [ -f "$model" ]; then
    "$exe" "$model" "요즘 너무 피곤해" >"$tmp/out.txt" || die "$exe $model"
    [ -s "$tmp/out.txt" ] || die "$exe printed nothing"
    echo "$(basename "$exe"): $(head -c 200 "$tmp/out.txt")"
  else
    echo "$(basename "$exe"): no model at '$model'; not run on a model"
  fi
done
echo "install_test: OK"
