#!/usr/bin/env bash
# scripts/gpu-check.sh: the one prepared script for a GPU machine (under 8 minutes on one H200).
# Builds with CUDA when the build dependencies are present there; otherwise uses build-gpu/ made by
# scripts/gpu-prepare.sh and carried over. Runs the GPU test suite and the GPU benchmarks and prints
# a summary. Exit status is non-zero when a GPU test fails or when no GPU is visible.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
summary=()

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' || echo "gpu: nvidia-smi not available"

if pkg-config --exists jansson cunit 2>/dev/null; then
  echo "== building with CUDA on this machine (build-gpu/)"
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON >"$OUT/configure.log" 2>&1 &&
    cmake --build build-gpu -j"$(nproc)" >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; echo "build FAILED"; exit 1; }
elif [ -x build-gpu/test_cuda ]; then
  echo "== using the carried build-gpu/ (built by scripts/gpu-prepare.sh)"
  export LD_LIBRARY_PATH="$PWD/build-gpu/deps-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "no build dependencies here and no carried build-gpu/: run scripts/gpu-prepare.sh and carry build-gpu"
  exit 1
fi

run() { # name, command...
  local name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  case $rc in 0) summary+=("$name: PASS");; 77) summary+=("$name: SKIPPED (no GPU)");; *) summary+=("$name: FAIL (exit $rc)");; esac
  return 0
}

run test_cuda build-gpu/test_cuda
run test_policy_cpu_reference build-gpu/test_policy
# GPU benchmarks: none yet (the CUDA forward/backward is the CUDA issue's work).

echo "== summary"
printf '%s\n' "${summary[@]}"
printf '%s\n' "${summary[@]}" | grep -qv PASS && exit 1
exit 0
