#!/usr/bin/env python3
"""bench/torch_cuda.py: the PyTorch peer of bench/bench_cuda.c on the same GPU.

A Qwen2.5-0.5B-shaped model (vocab 151936, hidden 896, 24 layers, 14 heads over 2 kv heads of 64,
MLP 4864, tied embeddings, q/k/v biases), random weights, batch x seq random tokens. One training
step = zero_grad, forward under bf16 autocast (fp32 master weights), mean token cross-entropy,
backward, clip_grad_norm_(1.0), fused AdamW: what bench_cuda times. Same FLOP count and MFU
formula as bench_cuda.c:

    MFU = (6 * N * tokens + 6 * layers * heads * head_dim * batch * seq^2 * steps) / (989e12 * seconds)

--impl transformers uses transformers' Qwen2ForCausalLM (sdpa attention) when it is installed;
--impl plain (the fallback of --impl auto) is a self-contained module with the same math using
torch.nn.functional.scaled_dot_product_attention (flash attention on H100/H200).
Prints a summary and one "RESULT {json}" line.
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001
    print(f"SKIP: PyTorch is not importable here ({e})")
    sys.exit(77)

V, H, I, NH, NKV, HD, THETA, EPS = 151936, 896, 4864, 14, 2, 64, 1e6, 1e-6


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        return (self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS))).to(x.dtype)


def rope(x, cos, sin):  # x: [B, h, T, hd]; rotate-half
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = RMSNorm(H), RMSNorm(H)
        self.q = nn.Linear(H, NH * HD, bias=True)
        self.k = nn.Linear(H, NKV * HD, bias=True)
        self.v = nn.Linear(H, NKV * HD, bias=True)
        self.o = nn.Linear(NH * HD, H, bias=False)
        self.gate = nn.Linear(H, I, bias=False)
        self.up = nn.Linear(H, I, bias=False)
        self.down = nn.Linear(I, H, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.ln1(x)
        q = self.q(h).view(B, T, NH, HD).transpose(1, 2)
        k = self.k(h).view(B, T, NKV, HD).transpose(1, 2)
        v = self.v(h).view(B, T, NKV, HD).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(NH // NKV, dim=1)
        v = v.repeat_interleave(NH // NKV, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(o.transpose(1, 2).reshape(B, T, NH * HD))
        h = self.ln2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Plain(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.embed = nn.Embedding(V, H)
        self.layers = nn.ModuleList(Block() for _ in range(layers))
        self.norm = RMSNorm(H)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        for mod in self.modules():
            if isinstance(mod, nn.Linear) and mod.bias is not None:
                nn.init.zeros_(mod.bias)

    def forward(self, ids):
        T = ids.shape[1]
        inv = 1.0 / (THETA ** (torch.arange(0, HD, 2, device=ids.device, dtype=torch.float32) / HD))
        ang = torch.outer(torch.arange(T, device=ids.device, dtype=torch.float32), inv)
        emb = torch.cat((ang, ang), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed(ids)
        for blk in self.layers:
            x = blk(x, cos, sin)
        return F.linear(self.norm(x), self.embed.weight)  # tied lm_head


def build(impl, layers):
    if impl in ("auto", "transformers"):
        try:
            from transformers import Qwen2Config, Qwen2ForCausalLM

            cfg = Qwen2Config(vocab_size=V, hidden_size=H, intermediate_size=I, num_hidden_layers=layers,
                              num_attention_heads=NH, num_key_value_heads=NKV, max_position_embeddings=32768,
                              rope_theta=THETA, rms_norm_eps=EPS, tie_word_embeddings=True)
            cfg._attn_implementation = "sdpa"
            with torch.device("cuda"):
                model = Qwen2ForCausalLM(cfg)
            return model, "torch-transformers-sdpa"
        except Exception as e:  # noqa: BLE001
            if impl == "transformers":
                raise
            print(f"transformers unavailable ({e}); using the plain PyTorch module")
    with torch.device("cuda"):
        return Plain(layers), "torch-plain-sdpa"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--impl", choices=["auto", "transformers", "plain"], default="auto")
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIP: torch.cuda.is_available() is False")
        sys.exit(77)
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model, name = build(a.impl, a.layers)
    model = model.to(dev)
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-5, betas=(0.9, 0.95), eps=1e-8, fused=True)
    fwd = torch.compile(model) if a.compile else model
    ids = torch.randint(0, V, (a.batch, a.seq), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = fwd(ids)
            logits = out.logits if hasattr(out, "logits") else out
        loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss, gn

    torch.cuda.reset_peak_memory_stats()
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss, gn = step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    tokens = a.batch * a.seq * a.steps
    att = 6.0 * a.layers * NH * HD * a.batch * a.seq * a.seq * a.steps
    flops = 6.0 * n_params * tokens + att
    mfu = flops / (989e12 * secs)
    mem = torch.cuda.max_memory_allocated() / 1048576.0
    print(f"{name}: {a.batch} x {a.seq} tokens/step, {a.steps} steps in {secs:.3f} s: {tokens / secs:.0f} tokens/s, "
          f"{1e3 * secs / a.steps:.1f} ms/step, MFU {100 * mfu:.1f}%; peak memory allocated {mem:.0f} MiB "
          f"(torch {torch.__version__}, {torch.cuda.get_device_name()}), loss {loss.item():.4f}")
    print("RESULT " + json.dumps({"impl": name, "batch": a.batch, "seq": a.seq, "layers": a.layers,
                                  "params": n_params, "steps": a.steps, "seconds": round(secs, 4),
                                  "tokens_per_s": round(tokens / secs, 1), "mfu": round(mfu, 4),
                                  "gpu_mem_peak_mib": round(mem), "final_loss": round(loss.item(), 4),
                                  "torch": torch.__version__}))


if __name__ == "__main__":
    main()
