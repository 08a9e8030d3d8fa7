#!/usr/bin/env bash
# tests/scripts/dist_equal.sh: data parallelism (DESIGN: P ranks with global batch B give the same
# update as 1 rank with batch B, within float tolerance). Runs 3 GRPO steps (beta 0.04, mu 2, two
# micro-batches per rank) once as one process and once under `mpirun -np 2`, then checks:
#   - the rollouts (tokens, rewards, advantages) are the same, step by step;
#   - the database of the 2-rank run holds each step and each rollout once;
#   - the final weights agree: logprobs of the two checkpoints within 1e-5.
# And that a batch the ranks cannot share is refused before any work.
# With DEVICE cuda both runs train on the CUDA backend (ctest runs that on the emulated device,
# where a host all-reduce over MPI stands in for NCCL; scripts/gpu-check.sh on two GPUs with NCCL),
# and the 2-rank log must say the gradients went through NCCL.
#   usage: tests/scripts/dist_equal.sh GRPO_BINARY [DEVICE]
# Exit 77 (ctest: skipped) when mpirun is missing.
set -euo pipefail
GRPO=$1
DEVICE=${2:-cpu}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v mpirun >/dev/null; then
  echo "SKIP: mpirun not found (install openmpi-bin; scripts/setup.sh does)"
  exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grpo-dist-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# OpenMPI refuses root unless told; CI runs as root in a container
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cat >"$WORK/train.json" <<JSON
{"model": "$ROOT/tests/fixtures/policy/qwen2", "tokenizer": "$ROOT/data/demo-tokenizer",
 "dataset": "$ROOT/tests/fixtures/tasks/gsm8k.jsonl", "dataset_format": "gsm8k", "eval_size": 1,
 "num_generations": 4, "generation_batch_size": 8, "per_device_train_batch_size": 2,
 "max_completion_length": 12, "max_prompt_length": 200, "learning_rate": 1e-3, "beta": 0.04,
 "num_iterations": 2, "reward_funcs": ["accuracy", "format", "random"], "save_steps": 0,
 "max_steps": 3, "seed": 5, "num_threads": 1, "output_dir": "$WORK"}
JSON
"$GRPO" train "$WORK/train.json" --run_name one --device "$DEVICE" >"$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; exit 1; }
mpirun -np 2 "$GRPO" train "$WORK/train.json" --run_name two --device "$DEVICE" >"$WORK/two.log" 2>&1 || { cat "$WORK/two.log"; exit 1; }
if grep -q "built without MPI" "$WORK/two.log"; then
  echo "SKIP: this grpo was built without MPI"; exit 77
fi
grep -h "data parallel:" "$WORK/two.log" | head -1
if [ "$DEVICE" = cuda ] && ! grep -q "gradients summed with NCCL" "$WORK/two.log"; then
  echo "FAIL: the 2-rank cuda run did not sum its gradients with NCCL:"; grep "data parallel" "$WORK/two.log"; exit 1
fi
grep -q '"ranks":2' <(sqlite3 "$WORK/two/rollouts.db" "SELECT metrics_json FROM steps WHERE step = 1") ||
  { echo "FAIL: the mpirun run did not train with 2 ranks"; cat "$WORK/two.log"; exit 1; }

fail=0
rollouts() {
  sqlite3 "$WORK/$1/rollouts.db" "SELECT step, prompt_id, sample_index, hex(token_ids), reward_total,
    printf('%.6f', advantage), finish_reason FROM rollouts ORDER BY step, prompt_id, sample_index"
}
if ! diff <(rollouts one) <(rollouts two) >"$WORK/diff.txt"; then
  echo "FAIL: rollouts differ between 1 and 2 ranks:"; head -20 "$WORK/diff.txt"; fail=1
fi
counts=$(sqlite3 "$WORK/two/rollouts.db" "SELECT (SELECT count(*) FROM steps), (SELECT count(DISTINCT step) FROM steps), (SELECT count(*) FROM rollouts)")
[ "$counts" = "3|3|24" ] || { echo "FAIL: 2-rank database holds steps|distinct|rollouts = $counts, want 3|3|24"; fail=1; }

ids=1,5,9,33,100,200,300,400,500,17,3,250,999,42,7,64
for r in one two; do
  "$GRPO" score --model "$WORK/$r/checkpoints/step-00000003" --ids "$ids" 2>/dev/null | tr -d '{}[]"a-z: ' | tr ',' '\n' >"$WORK/$r.lp"
done
worst=$(paste -d' ' "$WORK/one.lp" "$WORK/two.lp" | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++} END {if (n < 15) print "missing"; else printf "%.2e", m}')
echo "final weights: max |logprob(1 rank) - logprob(2 ranks)| = $worst over 15 tokens"
awk -v w="$worst" 'BEGIN {exit !(w != "missing" && w + 0 <= 1e-5)}' || { echo "FAIL: over 1e-5"; fail=1; }

# 2 prompts per step cannot be shared by 3 ranks: refused before any work, naming the keys
if mpirun -np 3 "$GRPO" train "$WORK/train.json" --run_name three --device "$DEVICE" >"$WORK/three.log" 2>&1; then
  echo "FAIL: 3 ranks for 2 prompts per step ran"; fail=1
elif ! grep -q "do not divide among 3 ranks" "$WORK/three.log"; then
  echo "FAIL: no clear error for 3 ranks:"; tail -5 "$WORK/three.log"; fail=1
fi
[ ! -e "$WORK/three/rollouts.db" ] || { echo "FAIL: the refused run wrote a database"; fail=1; }

[ $fail -eq 0 ] && echo "PASS: 2 ranks reproduce 1 rank (same rollouts, one database, weights within 1e-5)"
exit $fail
