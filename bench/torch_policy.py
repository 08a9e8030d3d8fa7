#!/usr/bin/env python3
"""bench/torch_policy.py: the PyTorch peer of bench/bench_policy.c.

transformers' Qwen2ForCausalLM with the same shapes, random init, fp32, the same batch and thread
count; times the same two phases and prints the same JSON line with "impl": "torch".

(a) forward: under torch.inference_mode, per-token logprobs as grpo computes them:
        logp = log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:])
(b) forward+backward: model.train() (dropout is 0), model.zero_grad() (set_to_none, torch's
    default), the same logp with autograd, loss = -logp.mean(), loss.backward(). This is the
    gradient grpo's bench takes (dL/dlogp = -1/ntargets); the built-in `labels=` path
    (cross_entropy on shifted logits) computes the same loss, --loss builtin times it instead.

Both attention implementations, "eager" and "sdpa", are timed on the same weights; each
metric reports the faster one and names it ("fwd_attn", "fwdbwd_attn"). Per-implementation
numbers are in "by_attn". Progress goes to stderr. A benchmark, never a test.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

# The shapes of bench/bench_policy.c's --config values (policy_config_preset(QWEN2, "tiny") and
# Qwen/Qwen2.5-0.5B's config.json).
CONFIGS = {
    "tiny": dict(vocab_size=2048, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                 rms_norm_eps=1e-6, rope_theta=10000.0),
    "qwen2.5-0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                         rms_norm_eps=1e-6, rope_theta=1000000.0),
}


def fwd_flop(c, B, T):
    """Model FLOPs of one forward, counted as bench_fwd_flop in bench/bench_policy.c."""
    H, F, V, L = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
    hd = H // c["num_attention_heads"]
    Q, KV = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    per_tok_layer = H * Q + 2 * H * KV + Q * H + 3 * H * F
    N = B * T
    return 2.0 * N * (L * per_tok_layer + H * V) + 2.0 * L * B * Q * T * T


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build(name, seed):
    c = dict(CONFIGS[name])
    theta = c.pop("rope_theta")
    cfg = Qwen2Config(**c, rope_parameters={"rope_type": "default", "rope_theta": theta}, tie_word_embeddings=True,
                      attention_dropout=0.0, use_cache=False, dtype="float32")
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg).to(torch.float32)
    return model


def token_logprobs(model, ids):
    """Per-token logprobs of ids[:, 1:] given the prefix: [B, T-1]."""
    logits = model(input_ids=ids, use_cache=False).logits
    return torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)


def time_phase(label, fn, warmup, iters):
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        if i >= warmup:
            times.append(dt)
        log(f"  {label} {'warmup' if i < warmup else 'iter  '} {i + 1 if i < warmup else i - warmup + 1}: {dt:.3f}s")
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--attn", default="eager,sdpa", help="comma-separated attention implementations to time")
    ap.add_argument("--only", default="all", choices=["all", "fwd", "fwdbwd"])
    ap.add_argument("--loss", default="logp", choices=["logp", "builtin"],
                    help="fwd+bwd loss: -mean(log_softmax+gather) as grpo, or the built-in labels= path")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()

    t0 = time.perf_counter()
    model = build(a.config, a.seed)
    n_params = sum(p.numel() for p in model.parameters())  # tied lm_head counts once
    log(f"torch_policy: {a.config}, {n_params / 1e6:.1f}M parameters, init {time.perf_counter() - t0:.1f}s; "
        f"batch {a.batch} x seq {a.seq}, {threads} threads, torch {torch.__version__}, "
        f"transformers {transformers.__version__}")
    g = torch.Generator().manual_seed(a.seed ^ 0x70C5)
    ids = torch.randint(0, CONFIGS[a.config]["vocab_size"], (a.batch, a.seq), generator=g)
    N = a.batch * a.seq

    def fwd():
        with torch.inference_mode():
            return token_logprobs(model, ids)

    def fwdbwd():
        model.zero_grad(set_to_none=True)
        if a.loss == "builtin":
            loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        else:
            loss = -token_logprobs(model, ids).mean()
        loss.backward()

    by_attn = {}
    loss_val = None
    for impl in [s for s in a.attn.split(",") if s]:
        model.set_attn_implementation(impl)
        r = {}
        if a.only != "fwdbwd":
            model.eval()
            r["fwd_s"], r["fwd_min_s"] = time_phase(f"fwd    {impl:5s}", fwd, a.warmup, a.iters)
            loss_val = float(-fwd().mean())
        if a.only != "fwd":
            model.train()
            r["fwdbwd_s"], r["fwdbwd_min_s"] = time_phase(f"fwdbwd {impl:5s}", fwdbwd, a.warmup, a.iters)
            model.zero_grad(set_to_none=True)
        by_attn[impl] = r

    flop = fwd_flop(CONFIGS[a.config], a.batch, a.seq)
    out = {"impl": "torch", "config": a.config, "batch": a.batch, "seq": a.seq, "threads": threads,
           "warmup": a.warmup, "iters": a.iters, "params": n_params}
    for phase in ("fwd", "fwdbwd"):
        got = [(r[phase + "_s"], impl) for impl, r in by_attn.items() if phase + "_s" in r]
        s, impl = min(got) if got else (0.0, None)
        out[phase + "_s"] = round(s, 6)
        # the fastest single iteration of either implementation
        out[phase + "_min_s"] = round(min(r[phase + "_min_s"] for r in by_attn.values() if phase + "_min_s" in r),
                                      6) if impl else 0.0
        out[phase + "_attn"] = impl
        out[phase + "_tok_s"] = round(N / s, 2) if s else 0.0
    out["fwd_gflop"] = round(flop / 1e9, 3)
    out["fwd_gflop_s"] = round(flop / out["fwd_s"] / 1e9, 2) if out["fwd_s"] else 0.0
    out["fwdbwd_gflop_s"] = round(3 * flop / out["fwdbwd_s"] / 1e9, 2) if out["fwdbwd_s"] else 0.0
    out["loss"] = round(loss_val, 6) if loss_val is not None else None
    out["loss_kind"] = a.loss
    out["by_attn"] = {impl: {k: round(v, 6) for k, v in r.items()} for impl, r in by_attn.items()}
    out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
