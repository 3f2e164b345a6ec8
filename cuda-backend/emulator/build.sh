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
# No FMA contraction: the kernels' __dmul_rn and friends exist to prevent it on the GPU. No strict
# aliasing: kernels read float arrays through float4 pointers, as CUDA allows.
optimise=(-O2 -g)
[ "${1:-}" = "--coverage" ] && optimise=(-O0 --coverage)
flags=(-std=c++17 "${optimise[@]}" -fPIC -ffp-contract=off -fno-strict-aliasing -Wall -Wextra -Wno-unknown-pragmas -Wno-unused-variable -Wno-unused-parameter
       -Wno-unused-function -I"$here" -I"$src")
rm -rf "$out" && mkdir -p "$gen"

runtime=(blocks tensor_cores driver)
sources=()
for r in "${runtime[@]}"; do sources+=("$here/$r.cpp"); done
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  perl "$here/rewrite.pl" "$cu" > "$gen/$name.cu.inc"
  kernels=$(gzip -dc "$ptx/$name.ptx.gz" | sed -n -E 's/^\.visible \.entry ([A-Za-z_0-9]+)\(.*/\1/p')
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

# All files at once, in the background; then wait for each.
pids=()
for source in "${sources[@]}"; do
  "$cxx" "${flags[@]}" -c "$source" -o "$gen/$(basename "$source" .cpp).o" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || { echo "emulator: compilation failed" >&2; exit 1; }; done
"$cxx" -shared "${optimise[@]}" -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$gen"/*.o
# The emulator's own checks (selftest.cpp): shuffles, barriers, the launch failures, the mma instructions.
runtime_objects=()
for r in "${runtime[@]}"; do runtime_objects+=("$gen/$r.o"); done
"$cxx" "${flags[@]}" -o "$out/selftest" "$here/selftest.cpp" "${runtime_objects[@]}"
"$out/selftest" > "$out/selftest.log" 2>&1 || { cat "$out/selftest.log" >&2; echo "emulator: selftest failed" >&2; exit 1; }
echo "emulator: $out/libcuda.so.1 ($(gzip -dc "$ptx"/*.ptx.gz | grep -c '^\.visible \.entry') kernels)"
