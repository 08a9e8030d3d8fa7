#!/usr/bin/env bash
# tests/scripts/kill_resume.sh: kill -9 a training run at random moments, 10 times, resuming each
# time; the final weights must equal an uninterrupted run's bit for bit, and the database must hold
# each step exactly once. Uses the tiny HF Qwen2 fixture, the demo tokenizer and GSM8K-format rows.
#   usage: tests/scripts/kill_resume.sh GRPO_BINARY [KILLS]
set -euo pipefail
GRPO=$1
KILLS=${2:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grpo-kill-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STEPS=12
cat >"$WORK/train.json" <<JSON
{"model": "$ROOT/tests/fixtures/policy/qwen2", "tokenizer": "$ROOT/data/demo-tokenizer",
 "dataset": "$ROOT/tests/fixtures/tasks/gsm8k.jsonl", "dataset_format": "gsm8k", "eval_size": 1,
 "num_generations": 4, "generation_batch_size": 8, "per_device_train_batch_size": 4,
 "max_completion_length": 24, "max_prompt_length": 200, "learning_rate": 1e-3, "beta": 0.04,
 "num_iterations": 2, "save_steps": 1, "save_total_limit": 2, "max_steps": $STEPS, "seed": 9,
 "output_dir": "$WORK"}
JSON
"$GRPO" train "$WORK/train.json" --run_name whole >/dev/null
# random kill moments, seeded so a failure can be replayed
RANDOM=20261128
for i in $(seq 1 "$KILLS"); do
  "$GRPO" train "$WORK/train.json" --run_name killed --resume >/dev/null 2>&1 &
  pid=$!
  ms=$((RANDOM % 1800 + 200))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  done_steps=$(sqlite3 "$WORK/killed/rollouts.db" "SELECT count(*) FROM steps" 2>/dev/null || echo 0)
  echo "kill $i: $done_steps steps in the database"
done
"$GRPO" train "$WORK/train.json" --run_name killed --resume >/dev/null
A="$WORK/whole/checkpoints/step-$(printf '%08d' $STEPS)/model.safetensors"
B="$WORK/killed/checkpoints/step-$(printf '%08d' $STEPS)/model.safetensors"
cmp "$A" "$B" || { echo "FAIL: weights differ from the uninterrupted run"; exit 1; }
cmp "${A%model.safetensors}optimizer.safetensors" "${B%model.safetensors}optimizer.safetensors" ||
  { echo "FAIL: optimizer state differs"; exit 1; }
read -r n distinct rollouts <<<"$(sqlite3 -separator ' ' "$WORK/killed/rollouts.db" \
  "SELECT (SELECT count(*) FROM steps), (SELECT count(DISTINCT step) FROM steps), (SELECT count(*) FROM rollouts)")"
[ "$n" = "$STEPS" ] && [ "$distinct" = "$STEPS" ] && [ "$rollouts" = "$((STEPS * 8))" ] ||
  { echo "FAIL: database holds $n step rows ($distinct distinct) and $rollouts rollouts; want $STEPS and $((STEPS * 8))"; exit 1; }
[ "$(sqlite3 "$WORK/killed/rollouts.db" 'PRAGMA integrity_check')" = ok ] || { echo "FAIL: integrity_check"; exit 1; }
echo "PASS: $KILLS kills; final weights and optimizer state bit-identical; $STEPS steps stored once each"
