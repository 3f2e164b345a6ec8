#!/usr/bin/env bash
# Builds the CUDA emulator: the kernels of src/main/cuda compiled for the CPU, with a stand-in for the
# CUDA driver, as target/cuda-emulator/libcuda.so.1. With that folder on LD_LIBRARY_PATH, JCuda loads it
# instead of the NVIDIA driver, and the tests tagged gpu run every kernel on the CPU (see README.md).
#
# Usage: cuda-backend/emulator/build.sh [--coverage]     (needs g++ with C++17; CXX=... overrides)
#   --coverage  builds with gcov counters; after the gpu tests have run, coverage.sh lists the kernel
#               lines that no test executed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
backend=$(dirname "$here")
src=$backend/src/main/cuda
ptx=$backend/src/main/resources/dev/ladon/cuda/ptx
out=$backend/target/cuda-emulator
gen=$out/generated
cxx=${CXX:-g++}
command -v "$cxx" >/dev/null || { echo "emulator: $cxx not found (set CXX=...)" >&2; exit 1; }
# No FMA contraction: the kernels' __dmul_rn and friends exist to prevent it on the GPU.
optimise=(-O2 -g)
[ "${1:-}" = "--coverage" ] && optimise=(-O0 --coverage)
flags=(-std=c++17 "${optimise[@]}" -fPIC -ffp-contract=off -Wall -Wextra -Wno-unknown-pragmas -Wno-unused-variable -Wno-unused-parameter
       -Wno-unused-function -I"$here" -I"$src")
rm -rf "$out" && mkdir -p "$gen"

sources=("$here/runtime.cpp")
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  # `extern __shared__ T name[];` (the launch's dynamic shared memory) becomes a pointer to the emulated
  # block's buffer; everything else compiles as it is.
  sed -E 's/extern __shared__ (__align__\([0-9]+\) )?([A-Za-z_0-9 ]*[A-Za-z_0-9]) +([A-Za-z_0-9]+)\[\];/\2* \3 = (\2*)LADON_EMULATED_DYNAMIC_SHARED();/' \
    "$cu" > "$gen/$name.cu.inc"
  kernels=$(sed -n -E 's/^\.visible \.entry ([A-Za-z_0-9]+)\(.*/\1/p' "$ptx/$name.ptx")
  # Each file in a namespace of its own, so that helpers of the same name in two files do not collide;
  # the kernels keep their C names. Each kernel of the file's PTX is registered under its name.
  {
    echo '#include "cuda_emulator.h"'
    echo '#include "kernel_registry.h"'
    echo "namespace ladon_module_$name {"
    echo "#include \"$name.cu.inc\""
    echo "}"
    for k in $kernels; do
      echo "static ladon_emu::KernelRegistration ${k}_entry(\"$k\", &ladon_emu::invoker<&ladon_module_$name::$k>);"
    done
  } > "$gen/$name.cpp"
  sources+=("$gen/$name.cpp")
done

printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -I{} sh -c \
  "$cxx ${flags[*]} -c '{}' -o '$gen/'\$(basename '{}' .cpp).o" || { echo "emulator: compilation failed" >&2; exit 1; }
"$cxx" -shared "${optimise[@]}" -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$gen"/*.o
echo "emulator: $out/libcuda.so.1 ($(cat "$ptx"/*.ptx | grep -c '^\.visible \.entry') kernels)"
