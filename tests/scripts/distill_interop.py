#!/usr/bin/env python3
"""tests/scripts/distill_interop.py: grpo's distillation files meet the Python ecosystem.

1. Every `grpo export` format loads with `datasets.load_dataset("json", ...)`, with the columns TRL and
   open-r1 use.
2. TRL's SFTTrainer runs 2 steps on the `messages` export with a student directory grpo wrote (a
   `grpo sft` checkpoint: config.json, model.safetensors and the tokenizer files).
3. An open-r1-shaped `messages` file (Mixture-of-Thoughts: system + user + assistant with <think>,
   extra columns) trains in `grpo sft`.

Needs datasets, trl and torch from PyPI; without them it exits 77 (skipped) saying so.
usage: tests/scripts/distill_interop.py GRPO_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


try:
    import datasets  # noqa: F401
    import torch  # noqa: F401
    import trl  # noqa: F401
except ImportError as e:
    skip(f"{e.name} is not installed (pip install datasets trl); the interop check needs PyPI")


def grpo(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: grpo {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="grpo-interop-")
    tok = os.path.join(ROOT, "data", "demo-tokenizer")
    # traces of the fixture teacher, then every export format
    write_json(f"{work}/traces.json", {
        "model": os.path.join(ROOT, "tests", "fixtures", "policy", "qwen2"), "tokenizer": tok,
        "dataset": "builtin:arithmetic", "train_size": 16, "eval_size": 4, "num_generations": 2,
        "generation_batch_size": 16, "max_completion_length": 16, "max_prompt_length": 64,
        "output_dir": work, "run_name": "traces", "seed": 1})
    grpo(binary, "traces", f"{work}/traces.json")
    db = f"{work}/traces/rollouts.db"
    want = {"messages": {"messages"}, "prompt-completion": {"prompt", "completion"},
            "openr1": {"problem", "answer", "generations", "correctness_math_verify", "finish_reasons"}}
    for fmt, cols in want.items():
        out = f"{work}/{fmt}.jsonl"
        grpo(binary, "export", "--db", db, "--out", out, "--format", fmt)
        ds = datasets.load_dataset("json", data_files=out, split="train")
        if not cols <= set(ds.column_names) or len(ds) == 0:
            sys.exit(f"FAIL: {fmt}: columns {ds.column_names}, {len(ds)} rows; want {sorted(cols)}")
        print(f"ok: {fmt} export loads with datasets.load_dataset: {len(ds)} rows, columns {ds.column_names}")

    # a student directory grpo wrote: 2 SFT steps of grpo sft on the messages export
    write_json(f"{work}/sft.json", {
        "model": "init:qwen2:tiny", "tokenizer": tok, "sft_dataset": f"{work}/messages.jsonl",
        "dataset": "builtin:arithmetic", "train_size": 16, "eval_size": 4, "sft_steps": 2, "sft_batch_size": 4,
        "max_completion_length": 8, "output_dir": work, "run_name": "student", "seed": 1})
    grpo(binary, "sft", f"{work}/sft.json")
    student = f"{work}/student/checkpoints/step-00000002"

    # TRL's SFTTrainer, 2 steps on the messages export with that student
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer
    tk = AutoTokenizer.from_pretrained(student)
    tk.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    model = AutoModelForCausalLM.from_pretrained(student, dtype=torch.float32)
    ds = datasets.load_dataset("json", data_files=f"{work}/messages.jsonl", split="train")
    args = SFTConfig(output_dir=f"{work}/trl", max_steps=2, per_device_train_batch_size=4, use_cpu=True,
                     report_to=[], save_strategy="no", logging_steps=1, max_length=128)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tk)
    result = trainer.train()
    if result.global_step != 2:
        sys.exit(f"FAIL: TRL ran {result.global_step} steps, want 2")
    print(f"ok: TRL SFTTrainer ran 2 steps on the messages export with grpo's student (loss {result.training_loss:.3f})")

    # an open-r1 Mixture-of-Thoughts-shaped messages file trains in grpo sft
    with open(f"{work}/mot.jsonl", "w") as f:
        for i in range(12):
            a, b = i % 10, (3 * i) % 10
            f.write(json.dumps({
                "messages": [
                    {"role": "system", "content": "Think step by step."},
                    {"role": "user", "content": f"Compute {a}+{b}."},
                    {"role": "assistant", "content": f"<think>\n{a}+{b}={a + b}.\n</think>\n<answer>{a + b}</answer>"}],
                "num_tokens": 20, "source": "math"}) + "\n")
    write_json(f"{work}/mot.json", {
        "model": "init:qwen2:tiny", "tokenizer": tok, "sft_dataset": f"{work}/mot.jsonl", "chat_template": "chatml",
        "dataset": "builtin:arithmetic", "train_size": 16, "eval_size": 4, "sft_steps": 3, "sft_batch_size": 4,
        "max_completion_length": 8, "output_dir": work, "run_name": "mot", "seed": 1})
    out = grpo(binary, "sft", f"{work}/mot.json")
    if "done: 3 SFT steps on 12 rows" not in out:
        sys.exit(f"FAIL: grpo sft on the open-r1-shaped file:\n{out}")
    print("ok: an open-r1-shaped messages file trains in grpo sft")
    subprocess.run(["rm", "-rf", work])
    print("PASS: distillation interop")


if __name__ == "__main__":
    main()
