#!/usr/bin/env bash
# scripts/test.sh: builds and runs every test: the CUnit suites through ctest (GPU tests skip
# with a message when no GPU is present), the GPU path of the emulated device build (grpo's CUDA
# code on the host emulation), the same suites under AddressSanitizer + UBSan, and
# valgrind's leak check over the policy suite (forward/backward/AdamW parity tests).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
# builds a tree quietly: the warnings are shown, and a failed build stops here with its whole log
build() {
    local dir=$1; shift
    if ! cmake --build "$dir" -j"$JOBS" "$@" >"$dir/build.log" 2>&1; then
        cat "$dir/build.log"; echo "== build of $dir failed"; exit 1
    fi
    grep -E "warning" "$dir/build.log" || true
}

echo "== build (Release) and ctest"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
build build
ctest --test-dir build --output-on-failure

echo "== emulated device build (-DGRPO_CUDA_EMULATE=ON): grpo and the GPU path on the host emulation"
cmake -S . -B build-emu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=OFF -DGRPO_CUDA_EMULATE=ON >/dev/null
build build-emu --target grpo test_cuda_emu test_cuda_gen_emu bench_cuda_gen
ctest --test-dir build-emu --output-on-failure -R '^(cuda_gen_emu_rollout|cuda_gen_emu|train_cuda_emu|bench_cuda_gen_emu|train_data_parallel_cuda_emu|cuda_emu_attention)$'

echo "== AddressSanitizer + UBSan build and ctest"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGRPO_SANITIZE=ON -DGRPO_CUDA=OFF -DGRPO_CUDA_EMU_TEST=OFF >/dev/null
build build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure

echo "== valgrind leak check of the policy suite (forward/backward/AdamW)"
# valgrind has no AVX-512: build without -march=native and keep OpenBLAS on its AVX2 kernels
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Release -DGRPO_NATIVE=OFF -DGRPO_CUDA=OFF >/dev/null
build build-valgrind --target test_policy
OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=2 valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=3 build-valgrind/test_policy >/tmp/grpo-valgrind.log 2>&1 || {
  cat /tmp/grpo-valgrind.log; echo "valgrind: errors or leaks (see above)"; exit 1; }
grep -E "^(Run Summary|  *tests)" /tmp/grpo-valgrind.log || true
echo "valgrind: no leaks, no errors"
echo "== all tests passed"
