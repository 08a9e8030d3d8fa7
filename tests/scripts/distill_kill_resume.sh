#!/usr/bin/env bash
# tests/scripts/distill_kill_resume.sh: kill -9 `grpo traces` and `grpo sft` at random moments, resuming
# each time. The traces database must hold every (prompt, sample) exactly once, with the tokens of an
# uninterrupted run; the SFT weights and optimizer state must equal an uninterrupted run's bit for bit.
#   usage: tests/scripts/distill_kill_resume.sh GRPO_BINARY [KILLS]
set -euo pipefail
GRPO=$1
KILLS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grpo-distill-kill-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PROMPTS=400 K=4
cat >"$WORK/traces.json" <<JSON
{"model": "$ROOT/tests/fixtures/policy/qwen2", "tokenizer": "$ROOT/data/demo-tokenizer",
 "dataset": "builtin:arithmetic", "train_size": $PROMPTS, "eval_size": 0, "num_generations": $K,
 "generation_batch_size": 32, "max_completion_length": 24, "max_prompt_length": 64, "temperature": 0.6,
 "top_p": 0.95, "num_threads": 1, "output_dir": "$WORK", "seed": 4}
JSON
RANDOM=20261203
# kills at random moments, then one resume to the end
# Kills come at random fractions of the uninterrupted run's wall time (WHOLE_MS, timed just before), so
# they land mid-run on a fast machine as on a slow one. A kill that came after the run had finished proves nothing: LANDED counts those that ended a live run
# (exit status 137), and the check fails unless at least one of them did.
kill_and_resume() { # CMD... : runs CMD with --resume KILLS times, killing each with SIGKILL
  LANDED=0
  for i in $(seq 1 "$KILLS"); do
    "$@" --resume >/dev/null 2>&1 &
    pid=$!
    ms=$((WHOLE_MS * (RANDOM % 50 + 10) / 100)) # 10-59% of an uninterrupted run's wall time
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    st=0
    wait "$pid" 2>/dev/null || st=$?
    [ "$st" = 137 ] && LANDED=$((LANDED + 1))
  done
  [ "$LANDED" -ge 1 ] || { echo "FAIL: none of the $KILLS kills of $2 came before the run finished"; exit 1; }
  "$@" --resume >/dev/null
}

# whole_run CMD...: runs CMD uninterrupted, its wall time in WHOLE_MS
whole_run() { local t0; t0=$(date +%s%N); "$@" >/dev/null; WHOLE_MS=$((($(date +%s%N) - t0) / 1000000)); }
whole_run "$GRPO" traces "$WORK/traces.json" --run_name whole
kill_and_resume "$GRPO" traces "$WORK/traces.json" --run_name killed
tokens() { sqlite3 "$1" "SELECT prompt_id, sample_index, token_ids FROM rollouts ORDER BY prompt_id, sample_index"; }
read -r n distinct kind <<<"$(sqlite3 -separator ' ' "$WORK/killed/rollouts.db" \
  "SELECT count(*), count(DISTINCT prompt_id || '/' || sample_index), (SELECT kind FROM runs) FROM rollouts")"
[ "$n" = $((PROMPTS * K)) ] && [ "$distinct" = "$n" ] && [ "$kind" = traces ] ||
  { echo "FAIL: traces database holds $n rollouts ($distinct distinct, kind $kind); want $((PROMPTS * K))"; exit 1; }
cmp <(tokens "$WORK/whole/rollouts.db") <(tokens "$WORK/killed/rollouts.db") ||
  { echo "FAIL: resumed traces differ from the uninterrupted run's"; exit 1; }
[ "$(sqlite3 "$WORK/killed/rollouts.db" 'PRAGMA integrity_check')" = ok ] || { echo "FAIL: integrity_check"; exit 1; }
echo "traces: $LANDED of $KILLS kills mid-run; $n (prompt, sample) pairs stored once each, tokens equal to an uninterrupted run"

# SFT on the traces' prompts with worked answers, killed and resumed
python3 - "$WORK/rows.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(400):
        a, b, c = i % 10, (i * 7) % 10, (i * 3) % 10
        f.write(json.dumps({"messages": [{"role": "user", "content": f"Compute {a}+{b}+{c}."},
            {"role": "assistant", "content": f"<think>{a}+{b}={a+b}. {a+b}+{c}={a+b+c}.</think><answer>{a+b+c}</answer>"}]}) + "\n")
PY
STEPS=60
cat >"$WORK/sft.json" <<JSON
{"model": "init:qwen2:tiny", "tokenizer": "$ROOT/data/demo-tokenizer", "sft_dataset": "$WORK/rows.jsonl",
 "dataset": "builtin:arithmetic", "train_size": 40, "eval_size": 0, "sft_steps": $STEPS, "sft_tokens_per_batch": 512,
 "sft_learning_rate": 3e-3, "lr_scheduler_type": "cosine", "warmup_steps": 5, "save_steps": 3, "save_total_limit": 2,
 "num_threads": 1, "output_dir": "$WORK", "seed": 4}
JSON
whole_run "$GRPO" sft "$WORK/sft.json" --run_name sft_whole
kill_and_resume "$GRPO" sft "$WORK/sft.json" --run_name sft_killed
SFT_LANDED=$LANDED
A="$WORK/sft_whole/checkpoints/step-$(printf '%08d' $STEPS)"
B="$WORK/sft_killed/checkpoints/step-$(printf '%08d' $STEPS)"
cmp "$A/model.safetensors" "$B/model.safetensors" || { echo "FAIL: SFT weights differ from the uninterrupted run"; exit 1; }
cmp "$A/optimizer.safetensors" "$B/optimizer.safetensors" || { echo "FAIL: SFT optimizer state differs"; exit 1; }
read -r n distinct <<<"$(sqlite3 -separator ' ' "$WORK/sft_killed/rollouts.db" "SELECT count(*), count(DISTINCT step) FROM steps")"
[ "$n" = "$STEPS" ] && [ "$distinct" = "$STEPS" ] || { echo "FAIL: SFT database holds $n steps ($distinct distinct)"; exit 1; }
echo "PASS: traces and sft killed $KILLS times each (sft: $SFT_LANDED mid-run); traces stored once, SFT weights and optimizer bit-identical"
