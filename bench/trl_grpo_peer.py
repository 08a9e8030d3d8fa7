#!/usr/bin/env python3
"""bench/trl_grpo_peer.py: the TRL side of bench/trl_grpo_bench.sh.

Runs TRL's GRPOTrainer on CPU in fp32 for a few steps on a JSONL of {prompt, answer} rows (taken in
file order, no shuffling) and times every optimizer step. One TRL optimizer step is set up to be one
GRPO step of grpo: a generation batch of P prompts x G completions is sampled once, scored, and
consumed by one optimizer step that accumulates its micro-batches (steps_per_generation ==
gradient_accumulation_steps, num_iterations 1, so TRL computes no separate old-logprob pass).

Timing, per optimizer step:
  step       on_step_begin -> on_step_end (generation, scoring, forward/backward of every
             micro-batch, clip, AdamW)
  cycle      on_step_end -> next on_step_end (the step plus the trainer's logging and data loading)
  generate   time inside GRPOTrainer._generate_single_turn (transformers generate + EOS masking)
  gen_score  time inside GRPOTrainer._generate_and_score_completions (generate, decode, rewards,
             advantages, padding); scoring = gen_score - generate; training = step - gen_score

Writes one JSON object (settings, per-step rows, steady-state means) to --out and prints a summary.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF model directory (config, safetensors, tokenizer)")
    p.add_argument("--data", required=True, help="JSONL with prompt and answer fields, used in file order")
    p.add_argument("--steps", type=int, default=8, help="GRPO (optimizer) steps")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the steady-state mean")
    p.add_argument("--num-generations", type=int, default=8, help="G")
    p.add_argument("--prompts-per-step", type=int, default=16, help="prompts per generation batch")
    p.add_argument("--micro-batch", type=int, default=32, help="per_device_train_batch_size (completions)")
    p.add_argument("--max-completion-length", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--allow-eos", action="store_true",
                   help="let completions stop at EOS (default: min_new_tokens = max_completion_length)")
    p.add_argument("--out", default="", help="write the results as JSON here")
    return p.parse_args()


# ---- reward: rule-based accuracy (negligible cost: a regex and a float compare per completion) ----

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.S)


def extract_answer(text):
    """The last <answer>...</answer>, else None (like grpo's accuracy reward, whose default
    fallback is none: a bare number elsewhere in the text does not count)."""
    tagged = ANSWER_RE.findall(text)
    return tagged[-1].strip() if tagged else None


def same_number(pred, gold):
    if pred is None:
        return False
    try:
        return abs(float(pred.replace(",", "")) - float(gold)) < 1e-9
    except ValueError:
        return pred.strip() == gold.strip()


def accuracy_reward(completions, answer, **kwargs):
    return [1.0 if same_number(extract_answer(c), a) else 0.0 for c, a in zip(completions, answer)]


# ---- the run ----

def main():
    a = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    import datasets
    import transformers
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    G, P, L = a.num_generations, a.prompts_per_step, a.max_completion_length
    N = P * G
    if N % a.micro_batch:
        sys.exit(f"prompts-per-step x G ({N}) must be a multiple of --micro-batch ({a.micro_batch})")
    accum = N // a.micro_batch

    rows = []
    with open(a.data) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                rows.append({"prompt": d["prompt"], "answer": str(d["answer"])})
    need = a.steps * P
    if len(rows) < need:
        sys.exit(f"{a.data}: {len(rows)} prompts, {need} needed for {a.steps} steps of {P}")
    train = datasets.Dataset.from_list(rows[:need])

    transformers.utils.logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    print(f"trl {trl.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, "
          f"datasets {datasets.__version__}; model {type(model).__name__} "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, dtype {model.dtype}, "
          f"attn {model.config._attn_implementation}; eos {tok.eos_token!r} ({tok.eos_token_id}), "
          f"pad {tok.pad_token!r}", flush=True)

    gen_kwargs = None if a.allow_eos else {"min_new_tokens": L}
    outdir = tempfile.mkdtemp(prefix="trl-grpo-bench-")
    cfg = GRPOConfig(
        output_dir=outdir,
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=a.seed,
        max_steps=a.steps,
        per_device_train_batch_size=a.micro_batch,
        gradient_accumulation_steps=accum,  # steps_per_generation defaults to this: one generation per step
        num_generations=G,
        max_completion_length=L,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        generation_kwargs=gen_kwargs,
        num_iterations=1,
        beta=0.0,
        epsilon=0.2,
        epsilon_high=0.28,
        loss_type="dapo",
        scale_rewards="group",
        importance_sampling_level="token",
        mask_truncated_completions=False,
        learning_rate=a.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        shuffle_dataset=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        log_completions=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )

    T = {"generate": [], "gen_score": [], "prompts": []}

    class TimedGRPOTrainer(GRPOTrainer):
        def _generate_single_turn(self, *args, **kwargs):
            t0 = time.perf_counter()
            out = super()._generate_single_turn(*args, **kwargs)
            T["generate"].append(time.perf_counter() - t0)
            return out

        def _generate_and_score_completions(self, inputs, *args, **kwargs):
            seen = []
            for x in inputs:  # G copies of each prompt, in order
                if not seen or seen[-1] != x["prompt"]:
                    seen.append(x["prompt"])
            T["prompts"].append(seen)
            t0 = time.perf_counter()
            out = super()._generate_and_score_completions(inputs, *args, **kwargs)
            T["gen_score"].append(time.perf_counter() - t0)
            return out

    steps = []

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.t_begin = None
            self.t_last_end = None
            self.gen_mark = 0

        def on_step_begin(self, args, state, control, **kw):
            self.t_begin = time.perf_counter()
            self.gen_mark = len(T["generate"])

        def on_step_end(self, args, state, control, **kw):
            t = time.perf_counter()
            gen = sum(T["generate"][self.gen_mark:])
            gs = sum(T["gen_score"][self.gen_mark:])
            steps.append({"step": state.global_step, "step_s": t - self.t_begin,
                          "cycle_s": None if self.t_last_end is None else t - self.t_last_end,
                          "generate_s": gen, "scoring_s": gs - gen, "training_s": t - self.t_begin - gs,
                          "threads": torch.get_num_threads()})
            self.t_last_end = t

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and steps and "completions/mean_length" in logs:
                steps[-1]["completion_len_mean"] = logs["completions/mean_length"]
                steps[-1]["reward_mean"] = logs.get("reward")
                steps[-1]["num_tokens_total"] = logs.get("num_tokens")  # cumulative prompt + completion tokens

    transformers.utils.logging.disable_progress_bar()
    trainer = TimedGRPOTrainer(model=model, reward_funcs=accuracy_reward, args=cfg, train_dataset=train,
                               processing_class=tok, callbacks=[StepTimer()])
    print(f"GRPOConfig: generation_batch_size {cfg.generation_batch_size}, steps_per_generation "
          f"{cfg.steps_per_generation}, gradient_accumulation_steps {cfg.gradient_accumulation_steps}, "
          f"per_device_train_batch_size {cfg.per_device_train_batch_size}, optim {cfg.optim}, "
          f"generation_kwargs {cfg.generation_kwargs}, device {cfg.device}, torch threads "
          f"{torch.get_num_threads()}", flush=True)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0

    for s in steps:
        print("trl step %d: %.3fs (generate %.3f, scoring %.3f, training %.3f) len %.1f threads %d" % (
            s["step"], s["step_s"], s["generate_s"], s["scoring_s"], s["training_s"],
            s.get("completion_len_mean", float("nan")), s["threads"]), flush=True)
    prev = 0
    for s in steps:  # tokens of each step's sequences (prompt + completion, padding not counted)
        tot = s.get("num_tokens_total")
        s["tokens"] = None if tot is None else tot - prev
        prev = tot if tot is not None else prev
    steady = [s for s in steps if s["step"] > a.warmup]
    if not steady:
        sys.exit("no steps after the warm-up")

    def mean(key):
        v = [s[key] for s in steady if s.get(key) is not None]
        return statistics.fmean(v) if v else None

    summary = {k: mean(k) for k in ("step_s", "cycle_s", "generate_s", "scoring_s", "training_s",
                                    "completion_len_mean", "tokens")}
    summary["step_s_median"] = statistics.median(s["step_s"] for s in steady)
    summary["steady_steps"] = len(steady)
    result = {"side": "trl", "versions": {"trl": trl.__version__, "transformers": transformers.__version__,
                                          "torch": torch.__version__},
              "settings": {"G": G, "prompts_per_step": P, "completions_per_step": N,
                           "micro_batch": a.micro_batch, "accumulation": accum, "max_completion_length": L,
                           "lr": a.lr, "threads": a.threads, "allow_eos": a.allow_eos, "optim": str(cfg.optim)},
              "wall_s": wall, "steps": steps, "steady": summary, "prompts_per_generation": T["prompts"]}
    print("trl steady state (steps %d-%d): %.3f s/step (median %.3f), cycle %.3f s; generate %.3f, scoring %.3f, "
          "training %.3f; mean completion length %.2f" % (
              a.warmup + 1, a.steps, summary["step_s"], summary["step_s_median"], summary["cycle_s"] or float("nan"),
              summary["generate_s"], summary["scoring_s"], summary["training_s"],
              summary["completion_len_mean"] or float("nan")), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
