#!/usr/bin/env bash
# bench/demo_learning.sh: does the demo's GRPO phase learn? Runs `grpo demo` (SFT cold start, then
# GRPO on built-in arithmetic) for seeds 1, 2 and 3, and once more with the reward replaced by a
# random one (the control), and prints held-out greedy accuracy before and after GRPO for each.
# Usage: bench/demo_learning.sh [build/grpo] [extra demo args...]
set -euo pipefail
cd "$(dirname "$0")/.."
GRPO=${1:-build/grpo}
shift || true
printf '%-10s %-6s %-10s %-10s %-8s %s\n' run seed before after gain seconds
for run in seed1 seed2 seed3 control; do
  seed=${run#seed}
  extra=()
  if [ "$run" = control ]; then seed=1; extra=(--reward_funcs random); fi
  t0=$(date +%s)
  line=$("$GRPO" demo --seed "$seed" --run_name "learn-$run" "${extra[@]}" "$@" | tail -n 1)
  t1=$(date +%s)
  before=$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy_before"])')
  after=$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy_after"])')
  gain=$(python3 -c "print(f'{$after-$before:+.3f}')")
  printf '%-10s %-6s %-10s %-10s %-8s %s\n' "$run" "$seed" "$before" "$after" "$gain" "$((t1 - t0))"
done
