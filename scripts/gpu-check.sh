#!/usr/bin/env bash
# scripts/gpu-check.sh: the one prepared script for a GPU machine (under 8 minutes on one H200).
# Builds with CUDA when the build dependencies are present there; otherwise uses build-gpu/ made by
# scripts/gpu-prepare.sh and carried over. Then, each step under its own time limit:
#   1. test_cuda: the GPU suite (fixtures in bf16, CPU vs CUDA, the 20-step SFT curve, resident
#      mode), with GRPO_CUDA_SYNC=1 so that a failing kernel is named at its launch;
#   2. test_cuda again under compute-sanitizer memcheck, and one fixture under racecheck, when
#      the toolkit has compute-sanitizer;
#   3. test_policy: the CPU reference suite of the same build;
#   4. bench_cuda: Qwen2.5-0.5B-shaped training at seq 1024 (tokens/s, MFU, GPU memory);
#   5. bench/torch_cuda.py: PyTorch on the same GPU and shapes, when torch is importable.
# Prints a summary. Exit status is non-zero when a step fails or when no GPU is usable.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
summary=()
t_begin=$(date +%s)

have_gpu=0
if nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'; then
  have_gpu=1
else
  echo "gpu: nvidia-smi not available"
fi

B=build-gpu
if pkg-config --exists jansson cunit 2>/dev/null && command -v nvcc >/dev/null; then
  B=build-gpu-here # not build-gpu: a carried cache names another source directory
  echo "== building with CUDA on this machine ($B/)"
  { cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/configure.log" 2>&1 &&
    cmake --build $B -j"$(nproc)" --target test_cuda test_policy bench_cuda >"$OUT/build.log" 2>&1; } ||
    { tail -30 "$OUT/configure.log" "$OUT/build.log"; echo "build FAILED"; exit 1; }
elif [ -x build-gpu/test_cuda ]; then
  echo "== using the carried build-gpu/ (built by scripts/gpu-prepare.sh)"
  export LD_LIBRARY_PATH="$PWD/build-gpu/deps-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "no build dependencies here and no carried build-gpu/: run scripts/gpu-prepare.sh and carry build-gpu"
  exit 1
fi
# The tests find fixtures under the source directory the build was configured in; when this copy
# of the tree lives elsewhere, link that path here (the GPU suite also honours GRPO_SRC).
export GRPO_SRC="$PWD"
src_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' $B/CMakeCache.txt 2>/dev/null)
if [ -n "$src_dir" ] && [ "$src_dir" != "$PWD" ] && [ ! -e "$src_dir" ]; then
  mkdir -p "$(dirname "$src_dir")" && ln -s "$PWD" "$src_dir" && echo "linked $src_dir -> $PWD (fixtures)"
fi
echo "cuda: runtime $(ldd $B/test_cuda | awk '/libcudart/ {print $3}'), cuBLAS $(ldd $B/test_cuda | awk '/libcublas.so/ {print $3}')," \
  "nvcc here: $( (nvcc --version 2>/dev/null || true) | grep -o 'release [0-9.]*' | head -1)"
if ldd $B/test_cuda | grep -q "not found"; then
  echo "missing shared libraries (the CUDA toolkit here must provide cuBLAS of the build's major version):"
  ldd $B/test_cuda | grep "not found"
fi

run() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s)"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > >(tee "$OUT/$name.log") 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  case $rc in
    0) summary+=("$name: PASS (${dt}s)");;
    77) if [ $have_gpu = 1 ]; then summary+=("$name: FAIL (skipped although nvidia-smi sees a GPU: $(grep -m1 SKIP "$OUT/$name.log"))");
        else summary+=("$name: SKIPPED (no GPU)"); fi;;
    124|137) summary+=("$name: FAIL (timed out after ${limit}s)");;
    *) summary+=("$name: FAIL (exit $rc, ${dt}s)");;
  esac
  return 0
}

# limits sum to 435 s, so the whole script stays under 8 minutes with a carried build
run test_cuda 50 env GRPO_CUDA_SYNC=1 $B/test_cuda
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$sanitizer" ]; then
  run test_cuda_memcheck 90 env GRPO_CUDA_SYNC=1 "$sanitizer" --tool memcheck --error-exitcode 9 $B/test_cuda
  # shared-memory races in the attention kernels, on one small fixture (forward and backward)
  run test_cuda_racecheck 45 env GRPO_TEST_FILTER="qwen3 logprobs" "$sanitizer" --tool racecheck \
    --error-exitcode 9 $B/test_cuda
else
  summary+=("test_cuda_memcheck/racecheck: not run (no compute-sanitizer)")
fi
run test_policy_cpu_reference 40 $B/test_policy
run bench_cuda 120 $B/bench_cuda --seq 1024 --batch 16 --steps 5 --warmup 2 --mirror
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  run bench_torch 90 python3 bench/torch_cuda.py --seq 1024 --batch 16 --steps 5 --warmup 2
else
  summary+=("bench_torch: not run (PyTorch with CUDA is not importable here)")
fi

echo "== summary ($(( $(date +%s) - t_begin ))s)"
printf '%s\n' "${summary[@]}"
for f in "$OUT/bench_cuda.log" "$OUT/bench_torch.log"; do
  [ -f "$f" ] && grep -h '^RESULT' "$f"
done
printf '%s\n' "${summary[@]}" | grep -q FAIL && exit 1
[ $have_gpu = 1 ] || exit 1
exit 0
