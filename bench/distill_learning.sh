#!/usr/bin/env bash
# bench/distill_learning.sh: does distillation work? For each seed: `grpo demo distill` (teacher, traces
# filtered by correctness, student SFT, on-policy distillation), the same pipeline with every trace kept
# (--unfiltered, reusing that seed's teacher), and GRPO on the student from the same SFT checkpoint as
# the on-policy run, both evaluated every EVAL steps. Prints one table row per seed and the per-step
# accuracy of on-policy distillation against GRPO. Held-out: the demo's 200 problems, greedy.
# Usage: bench/distill_learning.sh [build/grpo] [SEEDS (default "1 2 3")] [OUT (default runs/bench-distill)]
set -euo pipefail
cd "$(dirname "$0")/.."
GRPO=${1:-build/grpo}
SEEDS=${2:-1 2 3}
OUT=${3:-runs/bench-distill}
STEPS=${STEPS:-40}   # on-policy / GRPO student steps
EVAL=${EVAL:-10}
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d['$1'])"; }
evals() { sqlite3 "$1" "SELECT group_concat(printf('%d:%.3f', step, value), ' ') FROM (SELECT step, value FROM evals WHERE metric = 'accuracy_greedy' ORDER BY step)"; }
printf '%-5s %-8s %-10s %-12s %-12s %-12s %-9s %s\n' seed teacher sft_filt sft_unfilt onpolicy ratio params seconds
for s in $SEEDS; do
  d="$OUT/seed$s"
  t0=$(date +%s)
  line=$("$GRPO" demo distill --seed "$s" --output_dir "$d" --distill_steps "$STEPS" | tail -n 1)
  t1=$(date +%s)
  teacher=$(ls -d "$d"/distill-teacher/checkpoints/step-* | tail -n 1)
  un=$("$GRPO" demo distill --seed "$s" --output_dir "$d-unfiltered" --teacher "$teacher" --unfiltered --distill_steps 0 | tail -n 1)
  ta=$(echo "$line" | json teacher_accuracy); sa=$(echo "$line" | json student_sft_accuracy)
  oa=$(echo "$line" | json student_accuracy); ua=$(echo "$un" | json student_sft_accuracy)
  tp=$(echo "$line" | json teacher_params); sp=$(echo "$line" | json student_params)
  ratio=$(python3 -c "print(f'{max($sa, $oa) / max($ta, 1e-9):.3f}')")
  printf '%-5s %-8s %-10s %-12s %-12s %-12s %-9s %s\n' "$s" "$ta" "$sa" "$ua" "$oa" "$ratio" "$sp/$tp" "$((t1 - t0))"
  # per-step curves from the same SFT start: on-policy distillation against GRPO on the student
  sft=$(ls -d "$d"/distill-student/checkpoints/step-* | tail -n 1)
  "$GRPO" demo --seed "$s" --output_dir "$d" --run_name curve-onpolicy --model "$sft" --sft_steps 0 --max_steps "$STEPS" \
    --eval_steps "$EVAL" --teacher_model "$teacher" --distill on_policy >/dev/null
  "$GRPO" demo --seed "$s" --output_dir "$d" --run_name curve-grpo --model "$sft" --sft_steps 0 --max_steps "$STEPS" \
    --eval_steps "$EVAL" >/dev/null
  echo "  seed $s on-policy: $(evals "$d/curve-onpolicy/rollouts.db")"
  echo "  seed $s GRPO:      $(evals "$d/curve-grpo/rollouts.db")"
done
