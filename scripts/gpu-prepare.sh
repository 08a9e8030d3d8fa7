#!/usr/bin/env bash
# scripts/gpu-prepare.sh: run HERE (the build machine) before a GPU session. Builds the CUDA
# configuration into build-gpu/ (sm_90 only: the H200; this halves the fat binaries) and copies
# the shared libraries a bare GPU machine may lack (jansson, CUnit, OpenBLAS, the CUDA runtime)
# into build-gpu/deps-lib/, so that the device tool can carry build-gpu/ and scripts/gpu-check.sh
# can run it there even when nothing can be installed. cuBLAS is too large to carry (hundreds of
# MiB): the GPU machine's CUDA toolkit must provide libcublas of the same major version
# (gpu-check.sh lists any library that is not found).
set -euo pipefail
cd "$(dirname "$0")/.."
# no MPI and no NCCL: the GPU machine may lack Open MPI's libraries and libnccl (hundreds of MiB,
# too large to carry), and this build runs one process (gpu-check's two-GPU NCCL step needs a
# build made on the GPU machine)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DGRPO_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DGRPO_CUDA_EMU_TEST=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DGRPO_NCCL=OFF >/dev/null
BINS="test_cuda test_cuda_gen test_policy bench_cuda bench_cuda_gen grpo"
# shellcheck disable=SC2086
log=$(mktemp)
if ! cmake --build build-gpu -j"$(nproc)" --target $BINS >"$log" 2>&1; then
  grep -E "error" "$log" | head -40 || tail -40 "$log"
  echo "gpu-prepare: the CUDA build failed (the whole log: $log)"
  exit 1
fi
grep -E "warning" "$log" || true
rm -f "$log"
mkdir -p build-gpu/deps-lib
for bin in $BINS; do
  ldd "build-gpu/$bin" | awk '/=>/ {print $3}' |
    { grep -E 'jansson|cunit|openblas|gfortran|quadmath|gomp|libcudart|sqlite3|utf8proc|pcre2' || true; } | while read -r lib; do
    cp -L "$lib" build-gpu/deps-lib/
  done
done
# what the device tool carries must stay under 64 MiB (OpenBLAS alone is ~35): drop the object
# files and CMake's own files of every module's folder (gpu-check reads only CMakeCache.txt and the
# executables, which all sit in build-gpu/ itself), strip the binaries' debug info
find build-gpu -name CMakeFiles -type d -prune -exec rm -rf {} +
find build-gpu -name '*.a' -delete
for bin in $BINS; do strip --strip-debug "build-gpu/$bin"; done
echo "gpu-prepare: needs from the GPU machine: $(ldd build-gpu/test_cuda | awk '/cublas/ {print $1}' | tr '\n' ' ')"
du -sh build-gpu | sed 's/^/gpu-prepare: build-gpu is /'
kib=$(du -sk build-gpu | cut -f1)
[ "$kib" -lt $((64 * 1024)) ] || { echo "gpu-prepare: build-gpu is over the 64 MiB the device tool carries"; exit 1; }
