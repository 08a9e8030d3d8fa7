#!/usr/bin/env bash
# scripts/fuzz.sh: builds the libFuzzer targets in build-fuzz/ with clang (ASan + UBSan) and runs
# each one for FUZZ_SECONDS (default 60) from its seed corpus tests/fuzz/corpus/<target>/.
#   usage: scripts/fuzz.sh [target ...]        (default: safetensors config; targets: every tests/fuzz/fuzz_NAME.c)
# New inputs go to build-fuzz/corpus/<target>/ (the seed corpus is only read), crash inputs to
# build-fuzz/artifacts/<target>/. Prints libFuzzer's exec counts; exits non-zero on a crash.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
secs=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ]; then targets=("$@"); else targets=(safetensors config); fi

for t in "${targets[@]}"; do
    if [ ! -f "$root/tests/fuzz/fuzz_$t.c" ]; then
        echo "fuzz.sh: no fuzz target '$t' (tests/fuzz/fuzz_$t.c does not exist)" >&2
        exit 2
    fi
done

mkdir -p "$build"
echo "== configure ($build)"
if ! CC=clang cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
        -DGRPO_FUZZ=ON -DGRPO_CUDA=OFF \
        -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -g -O1" >"$build/configure.log" 2>&1; then
    tail -n 30 "$build/configure.log" >&2
    echo "fuzz.sh: cmake configure failed (full log: $build/configure.log)" >&2
    exit 2
fi

# Any UBSan report is a failure, not a warning to scroll past.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

failed=0
for t in "${targets[@]}"; do
    echo "== build fuzz_$t"
    if ! cmake --build "$build" --target "fuzz_$t" -j "$(nproc)" >"$build/build_$t.log" 2>&1; then
        tail -n 30 "$build/build_$t.log" >&2
        echo "fuzz.sh: build of fuzz_$t failed (full log: $build/build_$t.log)" >&2
        exit 2
    fi
    corpus=$build/corpus/$t
    artifacts=$build/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "$root/tests/fuzz/corpus/$t" ] && seeds=("$root/tests/fuzz/corpus/$t")
    dict=()
    [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
    log=$build/fuzz_$t.log
    echo "== run fuzz_$t for ${secs}s (log: $log)"
    "$build/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$artifacts/" ${dict[@]+"${dict[@]}"} \
        "$corpus" ${seeds[@]+"${seeds[@]}"} >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec' "$log"
    if [ $rc -ne 0 ]; then
        echo "fuzz.sh: fuzz_$t FAILED (exit $rc); last lines of $log:" >&2
        tail -n 60 "$log" >&2
        failed=1
    else
        echo "fuzz.sh: fuzz_$t ok"
    fi
done
exit $failed
