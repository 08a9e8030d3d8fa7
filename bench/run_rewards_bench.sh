#!/usr/bin/env bash
# bench/run_rewards_bench.sh [BUILD_DIR]: the rewards benchmarks in one run: grpo's math checker and
# math-verify (installed from PyPI into BUILD_DIR/bench-venv) on the same case file, single-thread, then the
# sandbox overhead. Needs a built bench_rewards (cmake --build BUILD_DIR --target bench_rewards).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cases=$root/tests/rewards/math_cases.jsonl
venv=$build/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'math-verify==0.9.0'
fi
echo "== grpo ($(nproc) cores on the machine; math is single-thread)"
taskset -c 0 "$build/bench_rewards" "$cases" "${SANDBOX_RUNS:-30}"
echo "== math-verify $("$venv/bin/pip" show math-verify | awk '/^Version/{print $2}')"
taskset -c 0 "$venv/bin/python" "$root/bench/math_verify_peer.py" "$cases"
