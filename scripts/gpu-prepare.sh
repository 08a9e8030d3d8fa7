#!/usr/bin/env bash
# scripts/gpu-prepare.sh: run HERE (the build machine) before a GPU session. Builds the CUDA
# configuration into build-gpu/ and copies the shared libraries it needs that a bare GPU machine
# may lack (jansson, CUnit, OpenBLAS) into build-gpu/deps-lib/, so that the device tool can carry
# build-gpu/ and scripts/gpu-check.sh can run it there even when nothing can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DGRPO_NATIVE=OFF >/dev/null
cmake --build build-gpu -j"$(nproc)" 2>&1 | grep -E "warning|error" || true
mkdir -p build-gpu/deps-lib
for bin in build-gpu/test_cuda build-gpu/test_policy build-gpu/grpo; do
  ldd "$bin" | awk '/=>/ {print $3}' | { grep -E 'jansson|cunit|openblas|gfortran|quadmath|gomp' || true; } | while read -r lib; do
    cp -L "$lib" build-gpu/deps-lib/
  done
done
du -sh build-gpu | sed 's/^/gpu-prepare: build-gpu is /'
