#!/usr/bin/env python3
"""bench/trl_sft_peer.py: the peer for `grpo sft`'s tokens/s: TRL's SFTTrainer on CPU, the same student
directory (from_pretrained), the same messages JSONL, the same rows per step and steps, fp32, no
packing. Tokens/s = the tokens TRL trained on (its num_tokens) / train_runtime. Prints one JSON line."""
import argparse
import json
import time

import datasets
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tk = AutoTokenizer.from_pretrained(a.model)
    tk.chat_template = CHATML
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    ds = datasets.load_dataset("json", data_files=a.data, split="train")
    args = SFTConfig(output_dir="/tmp/trl-sft-bench", max_steps=a.steps, per_device_train_batch_size=a.batch,
                     use_cpu=True, report_to=[], save_strategy="no", logging_steps=a.steps, max_length=256,
                     learning_rate=3e-3, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tk)
    t0 = time.time()
    out = trainer.train()
    wall = time.time() - t0
    tokens = trainer.state.num_input_tokens_seen or sum(h.get("num_tokens", 0) for h in trainer.state.log_history[-2:-1])
    print(json.dumps({"peer": "trl.SFTTrainer", "steps": out.global_step, "tokens": tokens,
                      "train_runtime": out.metrics["train_runtime"], "wall": wall,
                      "tokens_per_s": tokens / out.metrics["train_runtime"]}))


if __name__ == "__main__":
    main()
