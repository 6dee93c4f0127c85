# Sourced by examples/quickstart.sh and .ci/run: installs the Debian 12 packages ondo needs
# that are missing (apt-get update first). Does nothing when all are present.
ONDO_DEBIAN_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libfmt-dev libboost-dev libboost-program-options-dev libzstd-dev zlib1g-dev
  libgtest-dev libbenchmark-dev nlohmann-json3-dev
  clang libclang-rt-14-dev  # libFuzzer and the sanitizers for the fuzz run of the tests
  # The aarch64 cross build and its emulated tests (cmake/aarch64-linux-gnu.cmake): Debian's
  # cross compiler, qemu-user, and the arm64 libraries (multiarch: dpkg --add-architecture).
  g++-aarch64-linux-gnu qemu-user
  libfmt-dev:arm64 libzstd-dev:arm64 zlib1g-dev:arm64 libboost-dev:arm64
  libboost-program-options-dev:arm64 libgtest-dev:arm64
)

ondo_install_deps() {
  local missing=() pkg
  for pkg in "${ONDO_DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "ondo: installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "ondo: error: not root and no sudo; install as root: apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  if printf '%s\n' "${missing[@]}" | grep -q ':arm64$' &&
      ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${sudo[@]}" dpkg --add-architecture arm64
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}
