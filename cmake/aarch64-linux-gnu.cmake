# Cross-compiling for 64-bit ARM Linux (aarch64) with Debian's toolchain:
#   apt-get install g++-aarch64-linux-gnu                  # the compiler
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libfmt-dev:arm64 libzstd-dev:arm64 zlib1g-dev:arm64 \
#     libboost-program-options-dev:arm64 libgtest-dev:arm64  # the libraries (multiarch)
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# When qemu-aarch64 (Debian's qemu-user) is installed, build steps that run a program of the
# build (the Korean analyzer's model compiler) and ctest run it under emulation; QEMU_CPU
# chooses the emulated CPU (max: with the dot-product extension; cortex-a53: without).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(ONDO_CROSS_TRIPLE aarch64-linux-gnu)
find_program(CMAKE_C_COMPILER ${ONDO_CROSS_TRIPLE}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER ${ONDO_CROSS_TRIPLE}-g++ REQUIRED)

# Debian multiarch: the arm64 libraries live in /usr/lib/aarch64-linux-gnu and the headers in
# /usr/include (shared with the host). Search there for libraries and packages, never run
# programs of the target.
set(CMAKE_LIBRARY_ARCHITECTURE ${ONDO_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${ONDO_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${ONDO_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)

find_program(ONDO_QEMU_AARCH64 qemu-aarch64)
if(ONDO_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ONDO_QEMU_AARCH64})
endif()
