#!/usr/bin/env bash
# bench/distill_bench.sh: distillation throughput against the peers, on CPU.
#   traces: `grpo traces` generated tokens/s on TEACHER (64 prompts x K=4 per chunk, up to 40 new tokens,
#           TEMPERATURE / TOP_P, default 1 / 1: no top-p; R1 samples at 0.6 / 0.95)
#           against transformers `generate` (bench/hf_generate.py, the best of 3) on the same teacher
#           directory and sampling settings, 64 prompts x 4 return sequences x 40 new tokens;
#   sft:    `grpo sft` trained tokens/s against TRL's SFTTrainer (bench/trl_sft_peer.py) on the same student
#           (grpo init qwen2 tiny, vocab 1024, with the demo tokenizer), the same messages rows, 32 rows per
#           step, STEPS steps, 2 threads each.
# Usage: [STEPS=50] [TEMPERATURE=1.0] [TOP_P=1.0] bench/distill_bench.sh TEACHER_DIR [build/grpo]
set -euo pipefail
cd "$(dirname "$0")/.."
TEACHER=$1
GRPO=${2:-build/grpo}
STEPS=${STEPS:-50} TEMPERATURE=${TEMPERATURE:-1.0} TOP_P=${TOP_P:-1.0}
W=$(mktemp -d "${TMPDIR:-/tmp}/grpo-distill-bench-XXXXXX")
trap 'rm -rf "$W"' EXIT
cat >"$W/traces.json" <<JSON
{"model": "$TEACHER", "tokenizer": "$PWD/data/demo-tokenizer", "dataset": "builtin:arithmetic", "train_size": 512,
 "eval_size": 0, "builtin_digits": 1, "num_generations": 4, "generation_batch_size": 256, "max_completion_length": 40,
 "max_prompt_length": 64, "temperature": $TEMPERATURE, "top_p": $TOP_P, "num_threads": 2, "output_dir": "$W", "run_name": "traces"}
JSON
"$GRPO" traces "$W/traces.json" >/dev/null
echo "grpo traces: $(sqlite3 "$W/traces/rollouts.db" "SELECT printf('%.0f tok/s (%.0f tokens in %.2f s sampling)', sum(completion_len_mean * 256) / sum(seconds_sampling), sum(completion_len_mean * 256), sum(seconds_sampling)) FROM steps")"
echo "transformers: $(python3 bench/hf_generate.py --model "$TEACHER" --prompts 64 --prompt-len 20 --n 4 --max-new-tokens 40 --threads 2 --repeat 3 --temperature "$TEMPERATURE" --top-p "$TOP_P")"

"$GRPO" init --arch qwen2 --preset tiny --vocab 1024 --seed 42 --out "$W/student" >/dev/null
cp data/demo-tokenizer/* "$W/student/"
python3 - "$W/rows.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        a, b, c = i % 10, (i * 7) % 10, (i * 3) % 10
        f.write(json.dumps({"messages": [{"role": "user", "content": f"Compute {a}+{b}+{c}."},
            {"role": "assistant", "content": f"<think>{a}+{b}={a+b}. {a+b}+{c}={a+b+c}.</think><answer>{a+b+c}</answer>"}]}) + "\n")
PY
cat >"$W/sft.json" <<JSON
{"model": "$W/student", "tokenizer": "$W/student", "sft_dataset": "$W/rows.jsonl", "chat_template": "chatml",
 "dataset": "builtin:arithmetic", "train_size": 40, "eval_size": 0, "sft_steps": $STEPS, "sft_batch_size": 32,
 "sft_learning_rate": 3e-3, "save_steps": 0, "num_threads": 2, "output_dir": "$W", "run_name": "sft"}
JSON
"$GRPO" sft "$W/sft.json" >/dev/null
echo "grpo sft: $(sqlite3 "$W/sft/rollouts.db" "SELECT printf('%.0f tok/s (%d tokens in %.2f s)', sum(json_extract(metrics_json, '$.tokens')) / sum(seconds_training), sum(json_extract(metrics_json, '$.tokens')), sum(seconds_training)) FROM steps")"
echo "TRL: $(python3 bench/trl_sft_peer.py --model "$W/student" --data "$W/rows.jsonl" --batch 32 --steps "$STEPS" --threads 2 2>/dev/null | tail -n 1)"
