#!/usr/bin/env bash
# bench/trl_grpo_bench.sh: seconds per GRPO step, grpo against TRL's GRPOTrainer, on CPU in fp32,
# one after the other in one run on this machine. A benchmark, never a test.
#
#   GRPO=build-trl/grpo bench/trl_grpo_bench.sh
#   STEPS=12 PROMPTS=8 bench/trl_grpo_bench.sh
#
# Both sides train the same tiny Qwen2 model (`grpo init --preset tiny`, vocab cut to the 1024 ids of
# the committed demo tokenizer, which is copied into the model directory) on the same built-in
# arithmetic prompts (exported with `grpo tasks show`; TRL gets them in the order grpo's data cursor
# drew them, so step s of both sides sees the same PROMPTS prompts), with the same G, generation
# batch, micro-batch, max_completion_length, temperature 1, mu = 1, beta = 0, loss_type dapo,
# scale_rewards group, clip 0.2/0.28, AdamW (lr, betas, eps, no decay, grad clip 1), fp32, THREADS
# threads, and a rule-based accuracy reward (the <answer> tag against the gold number).
# Every completion runs to max_completion_length on both sides: TRL through min_new_tokens, grpo
# through a view of the model directory whose config and tokenizer name no EOS token (grpo train has
# no switch for it); the weights and the tokenizer.json are the same files.
#
# Env: GRPO (grpo binary, relative to the repository root; default build/grpo), PYTHON, STEPS (10),
# WARMUP (2 steps left out of the means), G (8), PROMPTS (16 per step), MB (32 completions per
# micro-batch), LEN (64), LR (1e-5), THREADS (2), SEED (42), WORK (a fresh /tmp directory),
# NICE (e.g. -15: both sides at that nice level; root only; run under setsid so that the session's
# autogroup is raised too), WAIT_IDLE (seconds to wait for an idle machine before each side; 60),
# FROM (a model directory to start both sides from instead of the random `grpo init` one, e.g. the
# demo's last checkpoint runs/demo/checkpoints/step-00000200, whose rewards are not all zero).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GRPO="${GRPO:-build/grpo}"
GRPO="$(cd "$(dirname "$GRPO")" && pwd)/$(basename "$GRPO")"
PYTHON="${PYTHON:-python3}"
STEPS="${STEPS:-10}"
WARMUP="${WARMUP:-2}"
G="${G:-8}"
PROMPTS="${PROMPTS:-16}"
MB="${MB:-32}"
LEN="${LEN:-64}"
LR="${LR:-1e-5}"
THREADS="${THREADS:-2}"
SEED="${SEED:-42}"
WORK="${WORK:-$(mktemp -d /tmp/trl-grpo-bench.XXXXXX)}"
NICE="${NICE:-}"
WAIT_IDLE="${WAIT_IDLE:-60}"
FROM="${FROM:-}"
mkdir -p "$WORK"

[[ -x "$GRPO" ]] || { echo "no grpo binary at $GRPO (set GRPO=...)" >&2; exit 1; }

PRIO=()
if [[ -n "$NICE" ]]; then
    PRIO=(nice -n "$NICE")
    # with autogroup scheduling nice only ranks processes inside one session: raise the session too
    if [[ -w /proc/self/autogroup && "$(ps -o sid= -p $$ | tr -d ' ')" == "$$" ]]; then
        echo "$NICE" >"/proc/$$/autogroup" || echo "(could not raise the session's autogroup)" >&2
    fi
fi

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '== %s\n' "$*"; }
loadavg() { say "load average $(cut -d' ' -f1-3 /proc/loadavg) ($(date -u +%H:%M:%S) UTC) $*"; }

# Busy percent of all CPUs over one second, from /proc/stat.
busy_pct() {
    local a b i total=0
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $((100 - (b[4] - a[4]) * 100 / (total > 0 ? total : 1)))
}

# Waits up to WAIT_IDLE seconds for 3 quiet seconds in a row (< 10% busy); says how it went.
wait_quiet() {
    local quiet=0 waited=0 p=0
    while ((waited < WAIT_IDLE && quiet < 3)); do
        p=$(busy_pct)
        waited=$((waited + 1))
        if ((p < 10)); then quiet=$((quiet + 1)); else quiet=0; fi
    done
    if ((quiet >= 3)); then say "machine quiet after ${waited}s"; else say "machine still busy (${p}% of CPU) after ${waited}s; timings will be noisy"; fi
}

say "grpo vs TRL GRPOTrainer, $(date -u '+%Y-%m-%d %H:%M:%S') UTC, work dir $WORK"
say "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(uname -sr)"
say "grpo: $GRPO (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
say "settings: steps $STEPS (first $WARMUP left out), G $G, $PROMPTS prompts x G = $((PROMPTS * G)) completions/step, micro-batch $MB, max_completion_length $LEN, lr $LR, threads $THREADS, seed $SEED${NICE:+, nice $NICE}"
loadavg "at the start"

# ---- 1. the model, its no-EOS view for grpo, and the prompts ----
MODEL="$WORK/model"
if [[ -n "$FROM" ]]; then
    # a trained policy (e.g. the demo's checkpoint), so that rewards and advantages are not all zero
    mkdir -p "$MODEL"
    cp "$FROM"/config.json "$FROM"/model.safetensors "$FROM"/tokenizer.json "$FROM"/tokenizer_config.json "$MODEL/"
else
    "$GRPO" init --arch qwen2 --preset tiny --vocab 1024 --seed "$SEED" --out "$MODEL" --force
    cp data/demo-tokenizer/* "$MODEL/"
fi
NOEOS="$WORK/model-noeos"
mkdir -p "$NOEOS"
"$PYTHON" - "$MODEL" "$NOEOS" <<'EOF'
import json, os, sys
src, dst = sys.argv[1:3]
cfg = json.load(open(os.path.join(src, "config.json")))
cfg.pop("eos_token_id", None)
json.dump(cfg, open(os.path.join(dst, "config.json"), "w"), indent=1)
tc = json.load(open(os.path.join(src, "tokenizer_config.json")))
tc["eos_token"] = None
json.dump(tc, open(os.path.join(dst, "tokenizer_config.json"), "w"), indent=1)
for f in ("model.safetensors", "tokenizer.json"):  # the same bytes; no generation_config.json
    if not os.path.exists(os.path.join(dst, f)):
        os.symlink(os.path.join(src, f), os.path.join(dst, f))
EOF
NTRAIN=$((STEPS * PROMPTS))
"$GRPO" tasks show --generate arithmetic --n $((NTRAIN + 1)) --seed "$SEED" --limit 0 >"$WORK/all.jsonl" 2>/dev/null
head -n "$NTRAIN" "$WORK/all.jsonl" >"$WORK/train.jsonl"
tail -n 1 "$WORK/all.jsonl" >"$WORK/eval.jsonl"   # grpo evaluates at start and end: one item, untimed
say "prompts: $NTRAIN training items from 'grpo tasks show --generate arithmetic', e.g. $(head -c 90 "$WORK/train.jsonl")"

# transformers must load the directory, and tokenize as grpo does
P0=$("$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["prompt"])' "$WORK/train.jsonl")
GRPO_IDS=$("$GRPO" tokenize --tokenizer "$MODEL" --text "$P0")
"$PYTHON" - "$MODEL" "$P0" "$GRPO_IDS" <<'EOF'
import json, sys
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
transformers.utils.logging.disable_progress_bar()
d, text, grpo_ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])["ids"]
tok = AutoTokenizer.from_pretrained(d)
m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
ids = tok(text)["input_ids"]
n = sum(p.numel() for p in m.parameters())
print(f"== transformers loads {d}: {type(m).__name__}, {n / 1e6:.3f}M parameters, vocab {m.config.vocab_size}, "
      f"tokenizer {len(tok)} ids; prompt ids {'equal' if ids == grpo_ids else 'DIFFERENT'} to grpo's ({len(ids)} tokens)")
if ids != grpo_ids:
    sys.exit(f"tokenization differs: transformers {ids}, grpo {grpo_ids}")
EOF

# ---- 2. grpo ----
cat >"$WORK/grpo.json" <<EOF
{
 "model": "$NOEOS",
 "dataset": "$WORK/train.jsonl",
 "dataset_format": "custom",
 "prompt_field": "prompt",
 "answer_field": "answer",
 "eval_dataset": "$WORK/eval.jsonl",
 "chat_template": "raw",
 "output_dir": "$WORK/runs",
 "run_name": "grpo",
 "num_generations": $G,
 "generation_batch_size": $((PROMPTS * G)),
 "per_device_train_batch_size": $MB,
 "max_prompt_length": 64,
 "max_completion_length": $LEN,
 "temperature": 1.0,
 "top_p": 1.0,
 "top_k": 0,
 "beta": 0.0,
 "epsilon": 0.2,
 "epsilon_high": 0.28,
 "loss_type": "dapo",
 "scale_rewards": "group",
 "importance_sampling_level": "token",
 "num_iterations": 1,
 "mask_truncated_completions": false,
 "reward_funcs": ["accuracy"],
 "learning_rate": $LR,
 "adam_beta1": 0.9,
 "adam_beta2": 0.999,
 "adam_epsilon": 1e-8,
 "weight_decay": 0.0,
 "max_grad_norm": 1.0,
 "lr_scheduler_type": "constant",
 "warmup_steps": 0,
 "max_steps": $STEPS,
 "save_steps": 100000,
 "eval_steps": 0,
 "logging_steps": 1,
 "num_threads": $THREADS,
 "seed": $SEED,
 "device": "cpu"
}
EOF
wait_quiet
loadavg "before grpo"
say "run: ${PRIO[*]} OMP_NUM_THREADS=$THREADS $GRPO train $WORK/grpo.json"
T0=$(date +%s.%N)
"${PRIO[@]}" env OMP_NUM_THREADS="$THREADS" "$GRPO" train "$WORK/grpo.json" >"$WORK/grpo.log" 2>&1 ||
    { tail -n 20 "$WORK/grpo.log"; exit 1; }
grep -E '^(run|data|step|done)' "$WORK/grpo.log"
say "grpo wall $(elapsed "$T0") s (startup, evaluation and checkpoint included)"
loadavg "after grpo"

# TRL takes the prompts in the order grpo's cursor drew them
"$PYTHON" - "$WORK/runs/grpo/rollouts.db" "$WORK/train.jsonl" "$WORK/trl_train.jsonl" <<'EOF'
import json, sqlite3, sys
db, train, out = sys.argv[1:4]
gold = {}
for line in open(train):
    d = json.loads(line)
    gold[d["prompt"]] = d["answer"]
rows = sqlite3.connect(db).execute(
    "SELECT step, prompt_text FROM rollouts WHERE sample_index = 0 ORDER BY step, rowid").fetchall()
with open(out, "w") as f:
    for step, p in rows:
        f.write(json.dumps({"prompt": p, "answer": gold[p], "grpo_step": step}) + "\n")
EOF

# ---- 3. TRL ----
wait_quiet
loadavg "before TRL"
say "run: ${PRIO[*]} OMP_NUM_THREADS=$THREADS $PYTHON bench/trl_grpo_peer.py --model $MODEL --data $WORK/trl_train.jsonl --steps $STEPS --warmup $WARMUP --num-generations $G --prompts-per-step $PROMPTS --micro-batch $MB --max-completion-length $LEN --lr $LR --threads $THREADS --seed $SEED"
T0=$(date +%s.%N)
"${PRIO[@]}" env OMP_NUM_THREADS="$THREADS" PYTHONWARNINGS=ignore TRANSFORMERS_VERBOSITY=error \
    "$PYTHON" bench/trl_grpo_peer.py --model "$MODEL" --data "$WORK/trl_train.jsonl" --steps "$STEPS" \
    --warmup "$WARMUP" --num-generations "$G" --prompts-per-step "$PROMPTS" --micro-batch "$MB" \
    --max-completion-length "$LEN" --lr "$LR" --threads "$THREADS" --seed "$SEED" --out "$WORK/trl.json" \
    >"$WORK/trl.log" 2>&1 || { tail -n 30 "$WORK/trl.log"; exit 1; }
grep -E '^(trl|GRPOConfig)' "$WORK/trl.log"
say "TRL wall $(elapsed "$T0") s (imports and startup included)"
loadavg "after TRL"

# ---- 4. the comparison ----
"$PYTHON" - "$WORK/runs/grpo/rollouts.db" "$WORK/trl.json" "$WARMUP" <<'EOF'
import json, sqlite3, statistics, sys
from datetime import datetime
db, trl_path, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
rows = con.execute("SELECT step, created_at, seconds_sampling, seconds_scoring, seconds_training, "
                   "completion_len_mean, tokens_per_s_training FROM steps ORDER BY step").fetchall()
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
g = []
for i, (step, at, s, sc, tr, ln, tps) in enumerate(rows):
    g.append({"step": step, "phases": s + sc + tr, "sampling": s, "scoring": sc, "training": tr, "len": ln,
              "tokens": tps * tr,
              "commit": t(at) - t(rows[i - 1][1]) if i else None})
trl = json.load(open(trl_path))
r = trl["steps"]
gs = [x for x in g if x["step"] > warmup]
ts = [x for x in r if x["step"] > warmup]
mean = lambda xs: statistics.fmean(xs)
med = lambda xs: statistics.median(xs)

# same prompts at every step?
grpo_prompts = {}
for step, p in con.execute("SELECT step, prompt_text FROM rollouts WHERE sample_index = 0 ORDER BY step, rowid"):
    grpo_prompts.setdefault(step, []).append(p)
tp = trl["prompts_per_generation"]
same = all(sorted(grpo_prompts.get(i + 1, [])) == sorted(tp[i]) for i in range(len(tp))) and len(tp) == len(grpo_prompts)
print(f"== prompts per step identical on both sides: {'yes' if same else 'NO'} ({len(tp)} TRL generations, {len(grpo_prompts)} grpo steps)")
lens = con.execute("SELECT AVG(length), MIN(length), MAX(length) FROM rollouts").fetchone()
print(f"== completion lengths: grpo mean {lens[0]:.2f} (min {lens[1]}, max {lens[2]}); TRL mean "
      f"{mean([x['completion_len_mean'] for x in r if x.get('completion_len_mean') is not None]):.2f}")
print()
print("per step, seconds: grpo sampling/scoring/training (phases) [commit to commit] | TRL generate/scoring/training (step) [step end to step end]")
for a, b in zip(g, r):
    c = f"{a['commit']:.3f}" if a["commit"] is not None else "-"
    d = f"{b['cycle_s']:.3f}" if b.get("cycle_s") is not None else "-"
    print(f"  step {a['step']:2d}{' (warm-up)' if a['step'] <= warmup else '          '} grpo {a['sampling']:.3f}/{a['scoring']:.4f}/{a['training']:.3f} ({a['phases']:.3f}) [{c}] | "
          f"TRL {b['generate_s']:.3f}/{b['scoring_s']:.4f}/{b['training_s']:.3f} ({b['step_s']:.3f}) [{d}]")
print(f"== tokens per step through the learner (prompt + completion): grpo {mean([x['tokens'] for x in gs]):.0f}, "
      f"TRL {mean([x['tokens'] for x in ts if x.get('tokens')]):.0f} (TRL also computes on its padding)")
print()
gp, gc = [x["phases"] for x in gs], [x["commit"] for x in gs]
tp_, tc = [x["step_s"] for x in ts], [x["cycle_s"] for x in ts if x.get("cycle_s") is not None]
print(f"steady state, steps {warmup + 1}-{len(g)} ({len(gs)} steps each side); mean (median)")
print("| | grpo | TRL GRPOTrainer | TRL / grpo |")
print("| --- | --- | --- | --- |")
def row(name, a, b):
    print(f"| {name} | {mean(a):.3f} s ({med(a):.3f}) | {mean(b):.3f} s ({med(b):.3f}) | **{mean(b) / mean(a):.2f}x** ({med(b) / med(a):.2f}x) |")
row("s/step, whole step (grpo: commit to commit; TRL: step end to step end)", gc, tc)
row("s/step, the step's work (grpo: sampling+scoring+training; TRL: on_step_begin to on_step_end)", gp, tp_)
row("generation", [x["sampling"] for x in gs], [x["generate_s"] for x in ts])
row("scoring (+ TRL's decode, advantages, padding)", [x["scoring"] for x in gs], [x["scoring_s"] for x in ts])
row("training (fwd+bwd of all micro-batches, clip, AdamW)", [x["training"] for x in gs], [x["training_s"] for x in ts])
EOF
