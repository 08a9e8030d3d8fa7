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
# one step's time on this machine: the fastest step of the uninterrupted run (sampling, scoring and
# training as it recorded them), at least 20 ms. A kill lands at a random moment within about one
# step after a commit, whatever the machine's speed.
step_ms=$(sqlite3 "$WORK/whole/rollouts.db" \
  "SELECT CAST(min(seconds_sampling + seconds_scoring + seconds_training) * 1000 AS INTEGER) FROM steps")
[ "${step_ms:-0}" -ge 20 ] || step_ms=20
# Each kill lands after the resumed process has committed at least one new step and before the run's
# last: poll the database until its step count grows, then kill at a random moment inside the next
# step (seeded, so a failure can be replayed). A kill that found no progress fails the test. A round
# whose run finished before its kill is not counted and ends the rounds (a step can run faster than
# the fastest one measured); at least three kills must have landed mid-run by then.
RANDOM=20261128
count() { sqlite3 "$WORK/killed/rollouts.db" "SELECT count(*) FROM steps" 2>/dev/null || echo 0; }
prev=0
kills=0
# A round starts only while at least three steps remain: its poll waits for one new step and the kill
# lands within about one more, so a round begun two steps from the end could see the run finish first.
while [ "$kills" -lt "$KILLS" ] && [ "$prev" -lt $((STEPS - 2)) ]; do
  "$GRPO" train "$WORK/train.json" --run_name killed --resume >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do   # up to 60 s for the first new step
    [ "$(count)" -gt "$prev" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  ms=$((RANDOM % step_ms))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  alive=1
  kill -9 "$pid" 2>/dev/null || alive=0
  wait "$pid" 2>/dev/null || true
  now=$(count)
  if [ "$alive" = 0 ] || [ "$now" -ge "$STEPS" ]; then
    echo "round $((kills + 1)): the run finished before its kill ($now steps); not counted, rounds end"
    break
  fi
  kills=$((kills + 1))
  echo "kill $kills: $now steps in the database (was $prev)"
  [ "$now" -gt "$prev" ] || { echo "FAIL: kill $kills landed before any new step was committed"; exit 1; }
  prev=$now
done
[ "$kills" -ge 3 ] || { echo "FAIL: only $kills kills landed mid-run"; exit 1; }
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
echo "PASS: $kills kills, each after a new committed step and before the last; final weights and optimizer state bit-identical; $STEPS steps stored once each"
