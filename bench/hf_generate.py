#!/usr/bin/env python3
"""bench/hf_generate.py: the peer for bench_generate: transformers `generate` on CPU with the same
weights (from_pretrained on a directory written by `grpo init`), the same prompts, num_return_sequences
= G, the same max_new_tokens (min_new_tokens too, so EOS never ends a completion early), sampling on,
KV cache on. With --repeat R the timed generate call runs R times and the fastest is reported.
Prints one JSON line."""
import argparse, json, time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation=a.attn)
    model.eval()
    V = model.config.vocab_size
    ids = torch.tensor([[3 + (i * 7919 + t * 104729) % (V - 3) for t in range(a.prompt_len)] for i in range(a.prompts)])
    mask = torch.ones_like(ids)
    torch.manual_seed(1)
    kw = dict(do_sample=True, temperature=a.temperature, top_k=0, top_p=a.top_p, num_return_sequences=a.n,
              max_new_tokens=a.max_new_tokens, min_new_tokens=a.max_new_tokens, use_cache=True,
              pad_token_id=0)
    with torch.inference_mode():
        model.generate(ids[:1], attention_mask=mask[:1], **{**kw, "max_new_tokens": 2, "min_new_tokens": 2})  # warm-up
        dt = None
        for _ in range(max(1, a.repeat)):
            t0 = time.perf_counter()
            out = model.generate(ids, attention_mask=mask, **kw)
            d = time.perf_counter() - t0
            dt = d if dt is None else min(dt, d)
    gen = (out.shape[1] - a.prompt_len) * out.shape[0]
    print(json.dumps({"impl": "transformers", "attn": a.attn, "prompts": a.prompts, "prompt_len": a.prompt_len,
                      "n": a.n, "max_new_tokens": a.max_new_tokens, "temperature": a.temperature, "top_p": a.top_p, "threads": torch.get_num_threads(), "repeat": max(1, a.repeat),
                      "seconds": round(dt, 3), "generated_tokens": gen, "tok_s": round(gen / dt, 1),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
