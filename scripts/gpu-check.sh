#!/usr/bin/env bash
# scripts/gpu-check.sh: the one prepared script for a GPU machine (under 8 minutes on one H200).
# Builds with CUDA when the build dependencies are present there; otherwise uses build-gpu/ made by
# scripts/gpu-prepare.sh and carried over. Then, each step under its own time limit, the most
# important first (a step that runs out of time only loses what comes after it):
#   1. test_cuda: the learner suite (fixtures in bf16, CPU vs CUDA, the 20-step SFT curve, resident
#      mode), with GRPO_CUDA_SYNC=1 so that a failing kernel is named at its launch;
#   2. test_cuda_gen: generation on the device: rollout logprobs == learner logprobs bit for bit,
#      tokens identical for decode batches of 1, 4 and 32, the device sampler's chi-square tests;
#   3. cuda_cli: tests/scripts/cuda_emu_train.sh with this build's grpo: score, generate and a
#      3-step train --device cuda against the CPU;
#   4. bench_cuda_gen: Qwen2.5-0.5B shape: decode tok/s at batch 256 and % of the HBM roofline,
#      rollout vs learner max |d|, GRPO steps (generation + learner) tokens/s, GPU memory;
#   5. bench_cuda: learner-only training tokens/s and MFU at seq 1024 on the Qwen2.5-0.5B shape
#      (tensor-core attention, head_dim 64);
#   6. compute-sanitizer memcheck (one learner and one generation test) and racecheck (the
#      attention kernels alone: tensor-core and CUDA-core, forward and backward), when the
#      toolkit has compute-sanitizer;
#   7. bench/torch_cuda.py: PyTorch eager on the same GPU and shapes, when torch is importable;
#      the JSON line gets both MFUs and their ratio (goal: >= 40% and >= 1.5x PyTorch eager);
#   8. when time is left: bench_cuda again with GRPO_CUDA_ATTN=cores (the CUDA-core attention),
#      to show what the tensor cores bring;
#   9. with two or more GPUs (and mpirun, sqlite3, a build made here with NCCL and MPI): two
#      processes, one GPU each, NCCL: tests/scripts/dist_equal.sh on --device cuda (the same
#      rollouts and update as one process); skipped with a message otherwise.
# Prints a summary and one line "GPU_CHECK {json}" (for bench/RESULTS.md). Exit status is non-zero
# when a step fails or when no GPU is usable.
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

n_gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
B=build-gpu
if pkg-config --exists jansson cunit 2>/dev/null && command -v nvcc >/dev/null; then
  B=build-gpu-here # not build-gpu: a carried cache names another source directory
  echo "== building with CUDA on this machine ($B/)"
  # MPI only where the two-GPU NCCL step can run (one GPU: one process, no MPI needed)
  mpi_flag=-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON
  [ "$n_gpus" -ge 2 ] && command -v mpirun >/dev/null && mpi_flag=
  { cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGRPO_CUDA_EMU_TEST=OFF \
      $mpi_flag >"$OUT/configure.log" 2>&1 &&
    cmake --build $B -j"$(nproc)" --target test_cuda test_cuda_gen bench_cuda bench_cuda_gen grpo >"$OUT/build.log" 2>&1; } ||
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
for bin in test_cuda test_cuda_gen bench_cuda_gen grpo; do
  if ldd $B/$bin | grep -q "not found"; then
    echo "$bin: missing shared libraries (the CUDA toolkit here must provide cuBLAS of the build's major version):"
    ldd $B/$bin | grep "not found"
  fi
done

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

# limits sum to 475 s, so the whole script stays under 8 minutes with a carried build
run test_cuda 45 env GRPO_CUDA_SYNC=1 $B/test_cuda
# on a failure, whether the row-invariant wmma GEMM (policy/cuda/gemm_cuda.cu) is the cause
if printf '%s\n' "${summary[@]}" | grep -q '^test_cuda: FAIL'; then
  run test_cuda_with_cublas_forward 45 env GRPO_CUDA_SYNC=1 GRPO_CUDA_GEMM=cublas $B/test_cuda
fi
run test_cuda_gen 45 env GRPO_CUDA_SYNC=1 $B/test_cuda_gen
run cuda_cli 45 tests/scripts/cuda_emu_train.sh $B/grpo
run bench_cuda_gen 110 $B/bench_cuda_gen --rows 256 --prompt-len 128 --new 128 --grpo-steps 2 --grpo-prompts 16 --grpo-new 256
run bench_cuda 60 $B/bench_cuda --seq 1024 --batch 16 --steps 3 --warmup 1 --mirror
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$sanitizer" ]; then
  run memcheck_learner 45 env GRPO_CUDA_SYNC=1 GRPO_TEST_FILTER="qwen3 logprobs" "$sanitizer" --tool memcheck \
    --error-exitcode 9 $B/test_cuda
  run memcheck_generation 45 env GRPO_CUDA_SYNC=1 GRPO_TEST_FILTER="full chain" "$sanitizer" --tool memcheck \
    --error-exitcode 9 $B/test_cuda_gen
  # shared-memory races in the attention kernels (both families, forward and backward, small)
  run racecheck_attention 30 env GRPO_TEST_FILTER="tensor-core attention" "$sanitizer" --tool racecheck \
    --error-exitcode 9 $B/test_cuda
else
  summary+=("memcheck/racecheck: not run (no compute-sanitizer)")
fi
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  run bench_torch 50 python3 bench/torch_cuda.py --seq 1024 --batch 16 --steps 3 --warmup 1
else
  summary+=("bench_torch: not run (PyTorch with CUDA is not importable here)")
fi
left() { echo $(( 470 - ($(date +%s) - t_begin) )); } # seconds left of the 8 minutes, with a margin
if [ "$(left)" -ge 45 ]; then
  run bench_cuda_attn_cores 40 env GRPO_CUDA_ATTN=cores $B/bench_cuda --seq 1024 --batch 16 --steps 2 --warmup 1
else
  summary+=("bench_cuda_attn_cores: not run (out of time)")
fi
# two processes, one GPU each, gradients through NCCL
if [ "$n_gpus" -lt 2 ]; then
  summary+=("nccl_2gpu: SKIPPED (this machine has $n_gpus GPU; two processes with NCCL need 2 or more)")
  echo "== nccl_2gpu: skipped: $n_gpus GPU here, the two-process NCCL run needs 2 or more"
elif ! command -v mpirun >/dev/null || ! command -v sqlite3 >/dev/null; then
  summary+=("nccl_2gpu: SKIPPED (no mpirun or no sqlite3 shell here)")
elif ! ldd $B/grpo | grep -q libnccl || ! ldd $B/grpo | grep -q libmpi; then
  summary+=("nccl_2gpu: SKIPPED ($B/grpo was built without NCCL or MPI: the carried build-gpu has neither)")
elif [ "$(left)" -lt 50 ]; then
  summary+=("nccl_2gpu: not run (out of time)")
else
  run nccl_2gpu 45 env NCCL_DEBUG=WARN tests/scripts/dist_equal.sh $B/grpo cuda
fi

echo "== summary ($(( $(date +%s) - t_begin ))s)"
printf '%s\n' "${summary[@]}"
for f in "$OUT/bench_cuda_gen.log" "$OUT/bench_cuda.log" "$OUT/bench_torch.log" "$OUT/bench_cuda_attn_cores.log"; do
  [ -f "$f" ] && grep -h '^RESULT' "$f"
done
# one JSON line: each step's outcome and the numbers the issues ask for (null when not measured)
field() { # file key: the value of "key": in the file's RESULT line
  local v; v=$([ -f "$1" ] && grep -h '^RESULT' "$1" | grep -o "\"$2\": *[^,}]*" | head -1 | cut -d: -f2 | tr -d ' ')
  echo "${v:-null}"
}
steps_json=$(printf '%s\n' "${summary[@]}" | sed -n 's/^\([a-z0-9_/]*\): \([A-Z]*\).*/"\1":"\2"/p' | paste -sd, -)
mfu=$(field "$OUT/bench_cuda.log" mfu) torch_mfu=$(field "$OUT/bench_torch.log" mfu)
mfu_ratio=$(awk -v a="$mfu" -v b="$torch_mfu" 'BEGIN {if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.3f", a / b}')
gen_bits=$(grep -o '[0-9]* of [0-9]* completions differ in some bit' "$OUT/test_cuda_gen.log" 2>/dev/null |
  awk '{s += $1} END {print NR ? s : "null"}')
echo "GPU_CHECK {\"seconds\":$(( $(date +%s) - t_begin )),\"gpu\":\"$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)\"," \
  "\"steps\":{$steps_json},\"rollout_vs_learner_completions_differ_test\":$gen_bits," \
  "\"rollout_vs_learner_max_abs_05b\":$(field "$OUT/bench_cuda_gen.log" rollout_vs_learner_max_abs)," \
  "\"rollout_vs_learner_bits_differ_05b\":$(field "$OUT/bench_cuda_gen.log" rollout_vs_learner_bits_differ)," \
  "\"decode_tok_s_b256\":$(field "$OUT/bench_cuda_gen.log" decode_tok_s)," \
  "\"decode_hbm_roofline_pct\":$(field "$OUT/bench_cuda_gen.log" decode_roofline_pct)," \
  "\"grpo_tokens_per_s_05b\":$(field "$OUT/bench_cuda_gen.log" grpo_tokens_per_s)," \
  "\"train_tokens_per_s_05b\":$(field "$OUT/bench_cuda.log" tokens_per_s),\"train_mfu\":$mfu," \
  "\"torch_tokens_per_s_05b\":$(field "$OUT/bench_torch.log" tokens_per_s),\"torch_eager_mfu\":$torch_mfu," \
  "\"train_mfu_over_torch_eager\":$mfu_ratio,\"train_mfu_attn_cores\":$(field "$OUT/bench_cuda_attn_cores.log" mfu)," \
  "\"peak_gpu_mem_mib\":$(field "$OUT/bench_cuda_gen.log" gpu_mem_used_mib),\"train_gpu_mem_mib\":$(field "$OUT/bench_cuda.log" gpu_mem_used_mib)}" | tr -d '\n'
echo
printf '%s\n' "${summary[@]}" | grep -q FAIL && exit 1
[ $have_gpu = 1 ] || exit 1
exit 0
