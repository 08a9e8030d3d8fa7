#!/usr/bin/env bash
# tests/scripts/run_hash.sh: a fingerprint of one fixed short run: SFT, three GRPO steps with a KL
# reference and two iterations, evaluations, a checkpoint. It hashes what the run computed (every
# rollout row, every step's metrics except wall times and speeds, every eval value, the final
# checkpoint's weights and optimizer state), so two builds that print the same line computed the
# same run bit for bit (the random reward, a hash of the completion, gives every group spread, so the
# updates are not zero). Restructuring the train loop must not change it (tests/fixtures/grpo/run_hash.txt).
#   usage: run_hash.sh PATH/TO/grpo [WORKDIR]        prints: sha256  cpu-model [isa]
#          run_hash.sh --check PATH/TO/grpo           compares with the recorded hash (exit 77 on another CPU)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
grpo=${1:?usage: run_hash.sh [--check] PATH/TO/grpo [WORKDIR]}
work=${2:-$(mktemp -d)}
mkdir -p "$work" || exit 1
# The key is the CPU's model name and its widest vector ISA: a virtual machine's model name alone
# ("AMD EPYC") covers CPUs with and without AVX-512, whose kernels (ours and OpenBLAS's) round apart.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n1)
case " $flags " in
    *" avx512f "*) isa=avx512 ;;
    *" avx2 "*) isa=avx2 ;;
    *) isa=other ;;
esac
cpu="$cpu [$isa]"

rm -rf "$work/runs"
OMP_NUM_THREADS=2 "$grpo" demo --sft_size 0 --dynamic_sampling false --weight_decay 0 --sft_weight_decay 0 --sft_lr_scheduler_type constant --sft_steps 30 --max_steps 3 --eval_size 16 --eval_steps 2 --save_steps 3 \
    --generation_batch_size 64 --per_device_train_batch_size 64 --beta 0.04 --num_iterations 2 --reward_funcs accuracy,format,random --reward_weights [1,0.5,1] \
    --num_threads 2 --output_dir "$work/runs" --run_name hash >"$work/hash.log" 2>&1 ||
    { cat "$work/hash.log" >&2; echo "run_hash: the run failed" >&2; exit 1; }
db=$work/runs/hash/rollouts.db
ckpt=$(sed -n 's/^checkpoint: //p' "$work/hash.log")
[ -f "$db" ] && [ -d "$ckpt" ] || { echo "run_hash: no database or checkpoint" >&2; exit 1; }
hash=$({
    sqlite3 "$db" "SELECT step, prompt_id, sample_index, prompt_text, completion_text, token_ids, logprobs,
                          rewards_json, reward_total, advantage, length, finish_reason
                   FROM rollouts ORDER BY step, prompt_id, sample_index"
    sqlite3 "$db" "SELECT step, reward_mean, reward_std, accuracy, kl, loss, clip_frac_low, clip_frac_high, entropy,
                          completion_len_mean, completion_len_max, truncated_frac, zero_std_frac
                   FROM steps ORDER BY step"
    sqlite3 "$db" "SELECT step, name, split, metric, value, n FROM evals ORDER BY step, name, metric"
    (cd "$ckpt" && find . -type f \( -name '*.safetensors' -o -name '*.bin' \) | sort | xargs sha256sum)
} | sha256sum | cut -d' ' -f1)
if [ $check = 0 ]; then
    echo "$hash  $cpu"
    exit 0
fi
ref=$root/tests/fixtures/grpo/run_hash.txt
want=$(grep -F "  $cpu" "$ref" | head -n1 | cut -d' ' -f1)
if [ -z "$want" ]; then
    echo "run_hash: SKIPPED: no hash recorded for this CPU ($cpu) in $ref; rounding differs between CPUs," \
         "so record one with an unchanged tree: tests/scripts/run_hash.sh build/grpo" >&2
    exit 77
fi
[ "$hash" = "$want" ] || { echo "run_hash: FAIL: $hash differs from the recorded $want ($cpu)" >&2; exit 1; }
echo "run_hash: $hash, as recorded for $cpu"
