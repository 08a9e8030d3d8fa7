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
# no MPI: the GPU machine may lack Open MPI's libraries, and gpu-check runs one process
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DGRPO_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DGRPO_CUDA_EMU_TEST=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON >/dev/null
BINS="test_cuda test_cuda_gen test_policy bench_cuda bench_cuda_gen grpo"
# shellcheck disable=SC2086
cmake --build build-gpu -j"$(nproc)" --target $BINS 2>&1 | grep -E "warning|error" || true
mkdir -p build-gpu/deps-lib
for bin in $BINS; do
  ldd "build-gpu/$bin" | awk '/=>/ {print $3}' |
    { grep -E 'jansson|cunit|openblas|gfortran|quadmath|gomp|libcudart|sqlite3|utf8proc|pcre2' || true; } | while read -r lib; do
    cp -L "$lib" build-gpu/deps-lib/
  done
done
# what the device tool carries must stay under 64 MiB: drop the object files
find build-gpu/CMakeFiles -name '*.o' -delete 2>/dev/null || true
rm -f build-gpu/*.a
echo "gpu-prepare: needs from the GPU machine: $(ldd build-gpu/test_cuda | awk '/cublas/ {print $1}' | tr '\n' ' ')"
du -sh build-gpu | sed 's/^/gpu-prepare: build-gpu is /'
